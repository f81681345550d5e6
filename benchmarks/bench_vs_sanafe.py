"""neurosim vs SANA-FE: wall time per simulated timestep, same network, same spikes (not a unit test).

SANA-FE (Boyle et al., IEEE TCAD 2025, ``pip install sanafe``) is an optional
dependency of this benchmark only; neurosim never imports it.

What runs, in one process:

1. One synthetic trace (``neurosim.trace.synthetic``, ``gates=1`` so every unit
   is one compartment, i.e. a plain spiking network): input units, then
   recurrent layers with sparse input and recurrent weight masks, and Bernoulli
   event matrices ``events[T, H]``.
2. neurosim replays it on ``arch_specs/loihi_like.yaml`` (Numba engine, warmed
   on a tiny trace first; timed by ``result.meta["simulate_s"]``, which excludes
   mapping and array building). Pipelined mode: ``T + L - 1`` timesteps.
3. SANA-FE simulates the same network on its own bundled Loihi description
   (``sanafe/examples/loihi.yaml``, its ``input`` soma units cut to the number
   the placement needs per core, nothing else changed): one neuron group per population, one
   sparse connection per nonzero mask entry (input->layer 0, layer l-1->layer l,
   layer l->layer l), every neuron placed on the core neurosim's mapping chose.
   Spikes are not left to neuron dynamics: every neuron uses SANA-FE's ``input``
   soma model with a per-timestep spike train copied from the trace, shifted
   as neurosim's pipeline schedules it (input units fire at steps ``0..T-1``,
   layer ``l``'s unit ``j`` fires at step ``t + l`` when ``events[t, j]``), over
   the same ``T + L - 1`` timesteps (synapse weights 0, see ``WEIGHT``). Timed
   around ``chip.sim`` only (network building and ``chip.load`` excluded), with
   SANA-FE's ``detailed`` timing model (its default) and ``simple`` (its fastest).

Both are timed ``--repeats`` times (median reported), single-threaded by
default, interleaved. The synaptic-op counts of both are printed as a sanity check: SANA-FE
counts every synapse a spike reaches; neurosim does not count the recurrent
fan-out of the last token's events (no later token consumes it), so the
expected difference is printed too.

The last line is one JSON object with the keys ``neurosim_s_per_step``,
``sanafe_s_per_step``, ``neurosim_vs_sanafe_speedup``, ``synops_neurosim``,
``synops_sanafe`` (and a few more).

    pip install sanafe   # optional, never a dependency of neurosim
    python benchmarks/bench_vs_sanafe.py [--tokens 200] [--repeats 3] [--timing-models detailed simple]

Exit status 2 when ``sanafe`` cannot be imported.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# SANA-FE's input soma model refuses synaptic current ("Current sent to input
# neuron"), so the forced-spike neurons get weight-0 synapses: every synapse is
# still looked up and counted, the current it adds is 0.
WEIGHT = 0.0


def _sanafe_arch(sanafe, per_core: int, tmp: Path):
    """SANA-FE's bundled Loihi description with its ``input`` soma units cut to ``per_core`` per core.

    The bundled file declares 1024 ``loihi_inputs`` units on every one of its 128
    cores; unused units still cost SANA-FE time each step, so only as many as
    the placement needs are kept (favours SANA-FE). Nothing else is changed.
    """
    from importlib.resources import files

    import yaml

    spec = yaml.safe_load(files("sanafe.examples").joinpath("loihi.yaml").read_text())
    core = spec["architecture"]["tile"][0]["core"][0]
    name = None
    for soma in core["soma"]:
        if soma["attributes"]["model"] == "input":
            name = soma["name"].split("[")[0]
            soma["name"] = f"{name}[0..{per_core - 1}]"
    path = tmp / "loihi_sanafe.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return sanafe.load_arch(str(path)), name


def _build_sanafe(sanafe, trace, unit_core, steps, synapse_hw, tmp):
    """SANA-FE network of ``trace`` with forced spike trains, placed as ``unit_core``."""
    import numpy as np

    arch, soma_name = _sanafe_arch(sanafe, int(np.bincount(unit_core).max()), tmp)
    cores = arch.cores()
    if int(unit_core.max()) >= len(cores):
        raise SystemExit(f"mapping uses {int(unit_core.max()) + 1} cores; SANA-FE's loihi.yaml has {len(cores)}")
    T = trace.n_tokens
    net = sanafe.Network()
    groups = [
        net.create_neuron_group("input", trace.input_size, default_synapse_hw_name=synapse_hw,
                                soma_hw_name=f"{soma_name}[0]")
    ]
    for l, layer in enumerate(trace.layers):
        groups.append(net.create_neuron_group(f"layer{l}", layer.events.shape[1], default_synapse_hw_name=synapse_hw,
                                              soma_hw_name=f"{soma_name}[0]"))

    # spike trains: population p (0 = input, l + 1 = layer l) fires token t at step t + l
    trains = [np.zeros((steps, trace.input_size), dtype=np.int8)]
    trains[0][:T] = 1
    for l, layer in enumerate(trace.layers):
        tr = np.zeros((steps, layer.events.shape[1]), dtype=np.int8)
        tr[l : l + T] = layer.events
        trains.append(tr)

    # SANA-FE's input model keeps its spike train in the soma unit, so every
    # neuron of a core gets its own loihi_inputs[k] unit
    next_soma = np.zeros(len(cores), dtype=np.int64)
    g = 0
    for p, group in enumerate(groups):
        train = trains[p]
        for j, neuron in enumerate(group):
            c = int(unit_core[g])
            neuron.set_attributes(soma_hw_name=f"{soma_name}[{int(next_soma[c])}]",
                                  model_attributes={"spikes": train[:, j].tolist()})
            neuron.map_to_core(cores[c])
            next_soma[c] += 1
            g += 1

    def connect(src, dst, mask):
        pre, post = np.nonzero(mask)
        pairs = list(zip(pre.tolist(), post.tolist()))
        src.connect_neurons_sparse(dst, {"weight": [WEIGHT] * len(pairs)}, pairs)

    for l, layer in enumerate(trace.layers):
        connect(groups[l], groups[l + 1], layer.w_in_mask)  # groups[l] is input (l=0) or layer l-1
        connect(groups[l + 1], groups[l + 1], layer.w_rec_mask)
    return net, arch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256], help="layer sizes (default 256 256)")
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--activity", type=float, default=0.15)
    parser.add_argument("--weight-sparsity", type=float, default=0.9)
    parser.add_argument("--tokens", type=int, default=200)
    parser.add_argument("--min-cores", type=int, default=16, help="spread the network over this many cores")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timing-models", nargs="+", default=["detailed", "simple"],
                        choices=["simple", "detailed", "cycle"],
                        help="SANA-FE timing models to time; the first is the headline (default: detailed simple; "
                             "'cycle' takes minutes)")
    parser.add_argument("--threads", type=int, default=1, help="SANA-FE processing threads (neurosim: 1)")
    parser.add_argument("--synapse-hw", default="loihi_sparse_synapse", help="SANA-FE synapse unit")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    try:
        import sanafe
    except ImportError:
        print("bench_vs_sanafe: SANA-FE is not installed; run `pip install sanafe` to use this optional benchmark")
        return 2

    from importlib.metadata import version

    import neurosim
    from neurosim.arch import load_arch
    from neurosim.mapping import map_network
    from neurosim.network import build_network
    from neurosim.trace import synthetic

    sanafe_version, neurosim_version = version("sanafe"), version("neurosim")
    arch_path = ROOT / "arch_specs" / "loihi_like.yaml"
    trace = synthetic(args.hidden, input_size=args.input_size, activity=args.activity,
                      weight_sparsity=args.weight_sparsity, tokens=args.tokens, gates=1, seed=args.seed)
    L, T = len(args.hidden), args.tokens
    steps = T + L - 1
    print(f"network: input {args.input_size}, layers {args.hidden}, gates 1, weight sparsity {args.weight_sparsity}, "
          f"activity {args.activity}, {T} tokens -> {steps} pipelined timesteps; "
          f"measured activity {[round(float(la.events.mean()), 4) for la in trace.layers]}")

    # --- build both (not timed) ---
    tiny = synthetic([8], input_size=4, activity=0.5, weight_sparsity=0.5, tokens=4, gates=1, seed=1)
    neurosim.run(arch_path, tiny)  # warms the Numba cache; excluded
    mapping = map_network(build_network(trace), load_arch(arch_path), min_cores=args.min_cores)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        net, sf_arch = _build_sanafe(sanafe, trace, mapping.unit_core, steps, args.synapse_hw, Path(tmp))
    sf_build = time.perf_counter() - t0

    def run_sanafe(model):
        chip = sanafe.SpikingChip(sf_arch)  # a fresh chip each time: reset() does not rewind input spike trains
        chip.load(net)
        t0 = time.perf_counter()
        out = chip.sim(steps, timing_model=model, processing_threads=args.threads)
        return time.perf_counter() - t0, out

    # --- timed runs, interleaved so that load on a shared machine hits both alike ---
    models = list(dict.fromkeys(args.timing_models))
    ns_times, sf_times, res, outs = [], {m: [] for m in models}, None, {}
    for _ in range(args.repeats):
        res = neurosim.run(arch_path, trace, min_cores=args.min_cores)
        ns_times.append(res.meta["simulate_s"])
        for m in models:
            dt, outs[m] = run_sanafe(m)
            sf_times[m].append(dt)

    ns_step = statistics.median(ns_times) / steps
    synops_ns = int(res.counts["synops"])
    print(f"neurosim {neurosim_version}: arch_specs/loihi_like.yaml, {mapping.cores_used} cores (min_cores "
          f"{args.min_cores}, contiguous), 1 thread, build {res.meta['build_s']:.3f} s, simulate_s "
          f"{[round(t, 4) for t in ns_times]} -> {ns_step * 1e6:.1f} us/step; synops {synops_ns}, "
          f"packets {int(res.counts['packets_injected'])}")
    sf_step = {}
    for m in models:
        out = outs[m]
        sf_step[m] = statistics.median(sf_times[m]) / steps
        print(f"sanafe {sanafe_version} ({m} timing model): bundled loihi.yaml (input somas trimmed), same placement, "
              f"{args.threads} thread(s), build {sf_build:.2f} s, sim {[round(t, 4) for t in sf_times[m]]} -> "
              f"{sf_step[m] * 1e6:.1f} us/step; synops {int(out['spikes'])}, packets {int(out['packets_sent'])}, "
              f"fired {int(out['neurons_fired'])}")

    # sanity check: SANA-FE fires exactly the trace's events and reaches the same synapses
    main_model = models[0]
    synops_sf = int(outs[main_model]["spikes"])
    last_rec = sum(int(la.w_rec_mask[la.events[-1]].sum()) for la in trace.layers)
    events = T * args.input_size + sum(int(la.events.sum()) for la in trace.layers)
    print(f"check: SANA-FE fired {int(outs[main_model]['neurons_fired'])} spikes, trace has {events} "
          f"(input units every token + layer events); synops SANA-FE - neurosim = {synops_sf - synops_ns}, "
          f"expected {last_rec} (recurrent fan-out of the last token's events, which neurosim does not count)")

    for m in models:
        sp = sf_step[m] / ns_step
        print(f"neurosim {ns_step * 1e6:.1f} us/step vs SANA-FE {m} {sf_step[m] * 1e6:.1f} us/step: "
              f"neurosim {sp:.1f}x {'faster' if sp >= 1 else 'slower'}")
    summary = {
        "neurosim_s_per_step": ns_step,
        "sanafe_s_per_step": sf_step[main_model],
        "neurosim_vs_sanafe_speedup": sf_step[main_model] / ns_step,
        "synops_neurosim": synops_ns,
        "synops_sanafe": synops_sf,
        "synops_expected_difference": last_rec,
        "steps": steps,
        "sanafe_timing_model": main_model,
        "sanafe_threads": args.threads,
    }
    for m in models[1:]:
        summary[f"sanafe_{m}_s_per_step"] = sf_step[m]
        summary[f"neurosim_vs_sanafe_{m}_speedup"] = sf_step[m] / ns_step
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
