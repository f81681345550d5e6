"""Engine speed and memory, measured in one run (not a unit test).

Prints, on the same synthetic paper-size EGRU (3 layers 1350/1350/750, input
750, 90% weight sparsity, 15% activity) on arch_specs/loihi_like.yaml:

- Numba compile time (first call, from the on-disk cache when warm) apart from simulation time;
- events/s and simulated tokens/s of the Numba engine at several trace lengths (linearity);
- Numba engine / SimPy reference speed on a small trace (same result checked);
- Numba engine / a vectorised numpy pass that only counts synaptic operations per
  destination core (the floor of any trace replay): its per-core tables are built
  before the clock starts, like the engine's arrays; it reads and converts the events;
  BLAS gets the engine's threads; best of 3; it must count exactly the engine's synops;
- the time of a full PTB test set (82,430 tokens), replayed in chunks of 4,096 timesteps;
- the ``bound`` backend (no packet replay, cycles a lower bound) on the same tokens: its time,
  its ratio to the floor and its cycles as a fraction of the exact engine's;
- peak resident memory of that workload;
- the issue-12 timing rules (send and spike costs, a shared core, wormhole, received updates) on against
  off on the same network and spikes, best of 3 alternated: the per-event cost of the new mechanisms;
- ms per token of the same network and spikes on the other shipped chips: spinnaker2_like
  (in-network multicast trees) and truenorth_like (64 x 64 mesh, ~27 links per packet).

The last line is one JSON object with the keys ``numba_vs_simpy_speedup``,
``engine_vs_count_floor_ratio``, ``full_ptb_paper_size_s``, ``peak_rss_mib``,
``events_per_s``. ``--quick`` runs a reduced version (under a minute): the full
PTB time is then extrapolated from the measured per-token time and marked so.

    python benchmarks/bench_engine.py [--quick] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PTB_TEST_TOKENS = 82_430
PAPER = {"hidden_sizes": [1350, 1350, 750], "input_size": 750, "activity": 0.15, "weight_sparsity": 0.9, "gates": 3}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_model() -> str:
    """The processor, as the OS names it: per-event costs differ by ~30% between the VMs we get."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def _timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="reduced version, under a minute")
    parser.add_argument("--threads", type=int, default=1,
                        help="threads of the engine and of numpy's BLAS in the floor (default 1: one core each)")
    args = parser.parse_args(argv)
    print(f"machine: {cpu_model()}, {os.cpu_count()} CPUs; engine threads: {args.threads}")
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before numpy loads: the floor gets the engine's cores

    import numpy as np

    from neurosim.arch import load_arch
    from neurosim.engine import WAIT_COUNTERS, build_arrays, simulate
    from neurosim.mapping import map_network
    from neurosim.network import build_network
    from neurosim.trace import synthetic

    arch = load_arch(ROOT / "arch_specs" / "loihi_like.yaml")

    # -- compile (or cache load) time, apart from simulation
    tiny = synthetic([16, 8], input_size=4, tokens=4, seed=0)
    net = build_network(tiny)
    _, compile_s = _timed(simulate, tiny, net, map_network(net, arch), arch)
    print(f"numba compile/cache-load time: {compile_s:.2f} s (first call, not counted below)")

    # -- Numba vs SimPy on a small trace
    small = synthetic([96, 64], input_size=32, activity=0.15, weight_sparsity=0.9, tokens=24, seed=1)
    net = build_network(small)
    mapping = map_network(net, arch, min_cores=16)
    arrays = build_arrays(net, mapping, arch)
    ref, simpy_s = _timed(simulate, small, net, mapping, arch, backend="simpy")
    reps = 20
    fast, numba_s = _timed(lambda: [simulate(small, net, mapping, arch, arrays=arrays) for _ in range(reps)])
    numba_s /= reps
    assert fast[0].counts == ref.counts, "numba and simpy disagree"
    speedup = simpy_s / numba_s
    print(f"small trace (2 layers 96/64, 24 tokens, 16 cores): simpy {simpy_s:.3f} s, numba {numba_s * 1e3:.2f} ms "
          f"-> numba is {speedup:,.0f}x faster (identical counters)")

    # -- paper-size EGRU: linear in events, floor ratio
    lengths = [1000, 2000] if args.quick else [1000, 10_000, PTB_TEST_TOKENS]
    trace = synthetic(tokens=max(lengths), seed=2, **PAPER)
    net = build_network(trace)
    mapping, map_s = _timed(map_network, net, arch)
    arrays, build_s = _timed(build_arrays, net, mapping, arch)
    print(f"paper-size EGRU: {net.n_units} units on {mapping.cores_used} cores; mapping {map_s:.2f} s, "
          f"array build {build_s:.2f} s")
    print(f"  routes: {arrays.out_core.size:,} destination entries share {np.unique(arrays.entry_table[:, 0]).size:,} "
          f"(source core, destination core) pair routes, {arrays.route_hop.nbytes / 1e3:,.0f} KB "
          f"(one copy per entry would be {arrays.route_info.shape[0] * arrays.route_hop.itemsize / 1e6:.1f} MB)")
    per_token = {}
    events_per_s = 0.0
    for T in lengths:
        run, sim_s = _timed(simulate, trace, net, mapping, arch, arrays=arrays, token_end=T, chunk_steps=4096,
                            threads=args.threads)
        n_events = run.counts["spikes"]
        events_per_s = n_events / sim_s
        per_token[T] = sim_s / T
        print(f"  {T:>6} tokens: {sim_s:7.2f} s  {T / sim_s:9,.0f} tokens/s  {events_per_s:12,.0f} events/s  "
              f"{run.counts['packets_sent'] / sim_s:12,.0f} packets/s  ({sim_s / T * 1e3:.3f} ms/token)")
    T_floor = lengths[-1]
    c, flits = run.counts, arch.noc.flits_per_packet
    traversals = (c["flits_local"] + c["flit_hops_x"] + c["flit_hops_y"]) / flits
    # one calendar event at the far end of every link of a route but the ejection link
    print(f"  per token: {c['spikes'] / T_floor:,.0f} presynaptic events, {c['packets_sent'] / T_floor:,.0f} packets, "
          f"{c['synops'] / T_floor:,.0f} synops, {traversals / T_floor:,.0f} link traversals, "
          f"{(traversals - c['packets_sent']) / T_floor:,.0f} calendar events; "
          f"{per_token[T_floor] * 1e9 * T_floor / (traversals - c['packets_sent']):.1f} ns per calendar event")

    # -- the floor: synaptic operations per destination core with numpy only. Like the engine's
    #    arrays, the per-core fan-out tables are built before the clock starts; the timed pass
    #    reads the events of every token and counts (best of 3, on the engine's number of threads).
    offs = net.layer_offsets
    used_cores = np.unique(mapping.unit_core)
    fan_out = []  # (projection, [n_pre, used cores] synapses of each presynaptic unit on each core)
    for proj in net.projections:
        col_core = np.tile(mapping.unit_core[offs[proj.post_layer] : offs[proj.post_layer + 1]], net.gates)
        onehot = np.zeros((col_core.size, used_cores.size), dtype=np.float32)
        onehot[np.arange(col_core.size), np.searchsorted(used_cores, col_core)] = 1.0
        fan_out.append((proj, proj.mask.astype(np.float32) @ onehot))

    def count_floor():
        total = np.zeros(used_cores.size, dtype=np.float64)
        for proj, per_core in fan_out:
            l = proj.post_layer
            if proj.kind == 0:
                pre = (np.ones((T_floor, net.input_size), np.float32) if l == 0
                       else trace.layers[l - 1].events[:T_floor].astype(np.float32))
            else:
                pre = trace.layers[l].events[: T_floor - 1].astype(np.float32)
            total += (pre @ per_core).sum(axis=0, dtype=np.float64)
        return total

    floor_s = float("inf")
    for _ in range(3):
        floor, s = _timed(count_floor)
        floor_s = min(floor_s, s)
    assert int(floor.sum()) == run.counts["synops"], "the floor and the engine count different synops"
    engine_s = per_token[T_floor] * T_floor
    ratio = engine_s / floor_s
    print(f"count-only numpy floor ({T_floor} tokens, synops per core, same synops as the engine): "
          f"{floor_s:.2f} s -> engine/floor = {ratio:.1f}x")

    # -- the bound backend (no packet replay; cycles a lower bound) on the same tokens, against the same floor
    bound_arrays, bound_build_s = _timed(build_arrays, net, mapping, arch, bound=True)
    simulate(trace, net, mapping, arch, arrays=bound_arrays, token_end=10, backend="bound")  # compile / cache load
    bound_run, bound_s = _timed(simulate, trace, net, mapping, arch, arrays=bound_arrays, token_end=T_floor,
                                chunk_steps=4096, threads=args.threads, backend="bound")
    bound_fraction = bound_run.counts["total_cycles"] / run.counts["total_cycles"]
    print(f"bound backend ({T_floor} tokens; tables {bound_build_s:.2f} s): {bound_s:.2f} s "
          f"({bound_s / T_floor * 1e3:.3f} ms/token) -> bound/floor = {bound_s / floor_s:.1f}x, "
          f"{engine_s / bound_s:.1f}x faster than the exact engine; its cycles are {bound_fraction:.5f} of the "
          f"exact ones (a lower bound; counts identical but the wait cycles)")
    assert all(bound_run.counts[k] == v for k, v in run.counts.items()
               if k not in (*WAIT_COUNTERS, "spike_phase_cycles", "total_cycles"))
    rss = peak_rss_mib()  # the paper-size workload: its trace, tables, runs and floor

    # -- the issue-12 timing rules off (no send or spike cost, store-and-forward, no received-update cost)
    #    against on (loihi_calibrated's SANA-FE 2.2.9 values on this chip), same network and spikes,
    #    alternated and best of 3 each: the per-event cost of the new mechanisms
    off = load_arch(ROOT / "arch_specs" / "loihi_like.yaml", ["noc.switching=store_and_forward"])
    on = load_arch(ROOT / "arch_specs" / "loihi_like.yaml", [
        "cores.send_cycles_per_message=10", "cores.spike_cycles=60", "cores.neuron_update_cycles_received=19",
        "noc.switching=wormhole", "cores.send_receive=shared"])
    T_rules = 500 if args.quick else 2000
    rule_arrays = {name: build_arrays(net, mapping, chip) for name, chip in (("off", off), ("on", on))}
    best = {"off": float("inf"), "on": float("inf")}
    for _ in range(5):  # CPU time of this process (less sensitive to other jobs than wall time), best of 5
        for name, chip in (("off", off), ("on", on)):
            t0 = time.process_time()
            simulate(trace, net, mapping, chip, arrays=rule_arrays[name], token_end=T_rules)
            best[name] = min(best[name], time.process_time() - t0)
    rules_ratio = best["on"] / best["off"]
    print(f"issue-12 rules on vs off ({T_rules} tokens, CPU time, best of 5, alternated): {best['on']:.2f} s vs "
          f"{best['off']:.2f} s -> {rules_ratio:.3f}x the time per event (same events)")

    # -- the other shipped chips, same network and spikes: in-network multicast (spinnaker2_like) and
    #    a 64 x 64 mesh with one core per router, where a packet crosses ~27 links (truenorth_like)
    ms_per_token = {"loihi_like": round(per_token[T_floor] * 1e3, 3)}
    for spec, T in (("spinnaker2_like", 1000 if args.quick else 10_000), ("truenorth_like", 50 if args.quick else 500)):
        chip = load_arch(ROOT / "arch_specs" / f"{spec}.yaml")
        chip_mapping = map_network(net, chip)
        chip_arrays, chip_build_s = _timed(build_arrays, net, chip_mapping, chip)
        chip_run, sim_s = _timed(simulate, trace, net, chip_mapping, chip, arrays=chip_arrays, token_end=T,
                                 chunk_steps=4096, threads=args.threads)
        c = chip_run.counts
        edges = (c["flits_local"] + c["flit_hops_x"] + c["flit_hops_y"]) / chip.noc.flits_per_packet
        ms_per_token[spec] = round(sim_s / T * 1e3, 3)
        print(f"{spec} ({chip.noc.multicast} multicast, {chip_mapping.cores_used} cores, array build "
              f"{chip_build_s:.2f} s): {T} tokens in {sim_s:.2f} s = {sim_s / T * 1e3:.3f} ms/token; per token "
              f"{c['packets_injected'] / T:,.0f} packets injected, {edges / T:,.0f} link traversals "
              f"({sim_s / edges * 1e9:.1f} ns each)")

    if PTB_TEST_TOKENS in per_token:
        full_s = per_token[PTB_TEST_TOKENS] * PTB_TEST_TOKENS
        print(f"full PTB test set (82,430 tokens), paper-size EGRU on loihi_like: {full_s:.1f} s (measured)")
    else:
        full_s = per_token[max(per_token)] * PTB_TEST_TOKENS
        print(f"full PTB test set (82,430 tokens): {full_s:.1f} s (EXTRAPOLATED from {max(per_token)} tokens, --quick)")
    print(f"peak RSS: {rss:.0f} MiB after the loihi_like runs and the floor ({peak_rss_mib():.0f} MiB after the "
          f"other chips)")
    print(json.dumps({
        "numba_vs_simpy_speedup": round(speedup, 1),
        "engine_vs_count_floor_ratio": round(ratio, 2),
        "full_ptb_paper_size_s": round(full_s, 1),
        "peak_rss_mib": round(rss, 1),
        "events_per_s": round(events_per_s, 1),
        "compile_s": round(compile_s, 2),
        "ms_per_token_by_chip": ms_per_token,
        "bound_backend_vs_count_floor_ratio": round(bound_s / floor_s, 2),
        "bound_backend_s": round(bound_s, 2),
        "bound_backend_cycles_fraction_of_exact": round(bound_fraction, 6),
        "new_rules_on_vs_off_ratio": round(rules_ratio, 3),
        "quick": bool(args.quick),
        "cpu": cpu_model(),
    }))
    del floor
    return 0


if __name__ == "__main__":
    sys.exit(main())
