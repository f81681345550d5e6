"""neurosim's loihi_calibrated vs SANA-FE 2.2.9's Loihi: simulated time and energy per step (not a unit test).

The same network, spikes and placement as ``bench_vs_sanafe.py`` (forced spike
trains through SANA-FE's ``input`` soma model, whose access, update and spike
costs are 0), run for their *answers* instead of their speed: SANA-FE's
simulated time per timestep (``sim_time``, ``detailed`` timing model) and energy
(synapse + network), against neurosim on ``arch_specs/loihi_calibrated.yaml``
with its neuron-update costs set to 0 for the comparison (so both charge the
same things) and static power 0. Both specs carry SANA-FE 2.2.9's constants
(33.6 pJ / 4.7 ns sparse synapse, 16 ns per received message, 111 pJ / 5.1 ns
per sent message sent in order from its core, the barrier table by tiles in
use); what differs is the engines' timing models.

    pip install sanafe   # optional, never a dependency of neurosim
    python benchmarks/sanafe_physics.py [--tokens 20] [--min-cores 1 16 64]

Exit status 2 when ``sanafe`` cannot be imported. The last line is one JSON
object: per scenario the two step times, their ratio, and the two energies.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ZERO_SOMA = [  # SANA-FE's input somas cost nothing: no update, no spike generation; so neurosim's here
    "cores.neuron_update_cycles_active=0",
    "cores.neuron_update_cycles_inactive=0",
    "cores.neuron_update_cycles_received=0",
    "cores.spike_cycles=0",
    "energy_pj.neuron_update_active=0",
    "energy_pj.neuron_update_inactive=0",
    "energy_pj.neuron_update_received=0",
    "energy_pj.spike_generation=0",
    "static_power_w=0",
]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--activity", type=float, default=0.15)
    parser.add_argument("--weight-sparsity", type=float, default=0.9)
    parser.add_argument("--tokens", type=int, default=20)
    parser.add_argument("--min-cores", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--timing-model", default="detailed", choices=["detailed", "simple", "cycle"],
                        help="SANA-FE's timing model (cycle: its BookSim2 build, where the package has one)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import sanafe
    except ImportError:
        print("sanafe is not installed (pip install sanafe); this comparison needs it", file=sys.stderr)
        return 2
    import bench_vs_sanafe as bvs

    import neurosim
    from neurosim.arch import load_arch
    from neurosim.mapping import map_network
    from neurosim.network import build_network
    from neurosim.trace import synthetic

    arch_path = ROOT / "arch_specs" / "loihi_calibrated.yaml"
    arch = load_arch(arch_path, ZERO_SOMA)
    trace = synthetic(args.hidden, input_size=args.input_size, activity=args.activity,
                      weight_sparsity=args.weight_sparsity, tokens=args.tokens, gates=1, seed=0)
    steps = trace.n_tokens + len(trace.layers) - 1
    out: dict = {}
    print(f"network: input {args.input_size}, layers {args.hidden}, activity {args.activity}, weight sparsity "
          f"{args.weight_sparsity}, {args.tokens} tokens = {steps} steps; neurosim {arch_path.name} with "
          f"zero soma costs vs sanafe {getattr(sanafe, '__version__', '?')} bundled loihi.yaml ({args.timing_model})")
    print(f"{'min_cores':>9} {'cores':>5} {'tiles':>5} {'neurosim us/step':>17} {'sanafe us/step':>15} "
          f"{'ns/sf':>6} {'neurosim nJ/step':>17} {'sanafe nJ/step':>15} {'ns/sf':>6}")
    for min_cores in args.min_cores:
        mapping = map_network(build_network(trace), arch, min_cores=min_cores)
        r = neurosim.run(arch, trace, min_cores=min_cores)
        with tempfile.TemporaryDirectory() as tmp:
            net, sf_arch = bvs._build_sanafe(sanafe, trace, mapping.unit_core, steps, "loihi_sparse_synapse",
                                             Path(tmp))
        chip = sanafe.SpikingChip(sf_arch)
        chip.load(net)
        sf = chip.sim(steps, timing_model=args.timing_model)
        ns_step_s = r.counts["total_cycles"] * arch.cycle_s / steps
        sf_step_s = sf["sim_time"] / steps
        ns_e = sum(v for k, v in r.energy_breakdown_pj_per_token.items() if k != "static") * r.tokens / steps * 1e-3
        sf_e = (sf["energy"]["synapse"] + sf["energy"]["network"]) / steps * 1e9
        tiles = len({int(c) // arch.cores.cores_per_router for c in set(mapping.unit_core.tolist())})
        print(f"{min_cores:>9} {mapping.cores_used:>5} {tiles:>5} {ns_step_s * 1e6:17.3f} {sf_step_s * 1e6:15.3f} "
              f"{ns_step_s / sf_step_s:6.3f} {ns_e:17.2f} {sf_e:15.2f} {ns_e / sf_e:6.3f}")
        out[f"min_cores_{min_cores}"] = {"cores": mapping.cores_used, "tiles": tiles,
                                         "neurosim_s_per_step": ns_step_s, "sanafe_s_per_step": sf_step_s,
                                         "time_ratio": ns_step_s / sf_step_s, "neurosim_nj_per_step": ns_e,
                                         "sanafe_nj_per_step": sf_e, "energy_ratio": ns_e / sf_e}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
