"""How close do simple lower bounds come to the exact spike phase? (not a unit test)

The event engine replays every packet with contention on every link and core
queue. This script asks how much of that matters for the *length* of a timestep:
the ``bound`` backend (:func:`neurosim.engine.bound.bound_steps`) computes, per
timestep and from the spikes alone (no packet replay), five lower bounds of the
spike phase; their maximum is compared with the exact engine's spike phase on the
same trace, and the numpy twin (:mod:`neurosim.engine.bound_reference`) says
which bound binds.

- sends: a core's send work (spike generation per spiking unit, send cycles per message);
- core work: a core cannot finish before its first packet can arrive (the least
  uncontended route latency into it; with a shared processor, nor before its sends
  end) plus all of its synapse cycles;
- injection: a core's packets leave one after another (``flits`` cycles each);
  the last one still has to cross a route out of the core and be processed;
- ejection: likewise, into each core (the last packet arrives ``flits`` cycles after the one before);
- links: every mesh link carries its packets one after another.

Scenarios: the paper-size EGRU (3 layers 1350/1350/750, 90% weight sparsity, 15%
activity) on loihi_like packed (46 cores) and spread (128 cores), on
spinnaker2_like (multicast trees: one injection per spike), on truenorth_like,
and on a what-if Loihi whose cores are 50x faster (so the NoC becomes the
bottleneck). Each line prints the exact spike phase per step, the bound as a
fraction of it (and of whole steps, with the worst step), how many steps each
bound binds, and the time each backend took.

    python benchmarks/bound_vs_exact.py [--tokens 200]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PAPER = {"hidden_sizes": [1350, 1350, 750], "input_size": 750, "activity": 0.15, "weight_sparsity": 0.9, "gates": 3}
SCENARIOS = (  # name, spec, overrides, min_cores, tokens divisor (truenorth is slow)
    ("loihi_like packed", "loihi_like", [], 1, 1),
    ("loihi_like spread over 128 cores", "loihi_like", [], 128, 1),
    ("spinnaker2_like (multicast)", "spinnaker2_like", [], 1, 1),
    ("truenorth_like", "truenorth_like", [], 1, 10),
    ("loihi_like, cores 50x faster (what-if)", "loihi_like", ["cores.synops_per_cycle=7.142857142857143"], 1, 1),
    ("loihi_calibrated packed (send costs, SANA-FE 2.2.9)", "loihi_calibrated", [], 1, 1),
    ("loihi_calibrated spread over 128 cores", "loihi_calibrated", [], 128, 1),
    ("loihi2_like (graded, 2 flits, wormhole)", "loihi2_like", [], 1, 1),
    ("spinnaker2_like, store-and-forward, 4 flits (what-if)", "spinnaker2_like",
     ["noc.switching=store_and_forward", "noc.flit_bits=20"], 1, 1),
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args(argv)

    from neurosim.arch import load_arch
    from neurosim.engine import build_arrays, simulate
    from neurosim.engine.bound_reference import BOUNDS, bound_components
    from neurosim.engine.build import fired_matrix
    from neurosim.mapping import map_network
    from neurosim.network import build_network
    from neurosim.trace import synthetic

    trace = synthetic(tokens=args.tokens, seed=2, **PAPER)
    net = build_network(trace)
    fired = fired_matrix(trace)
    for name, spec, overrides, min_cores, divisor in SCENARIOS:
        arch = load_arch(ROOT / "arch_specs" / f"{spec}.yaml", overrides)
        tokens = max(2, args.tokens // divisor)
        mapping = map_network(net, arch, min_cores=min_cores)
        arrays = build_arrays(net, mapping, arch, bound=True)
        exact = simulate(trace, net, mapping, arch, arrays=arrays, token_end=tokens)
        bound = simulate(trace, net, mapping, arch, arrays=arrays, token_end=tokens, backend="bound")
        spike_exact = exact.counts["spike_phase_cycles"]
        spike_bound = bound.counts["spike_phase_cycles"]
        per_step = bound.step_cycles / exact.step_cycles
        which = bound_components(arrays, arch, fired[:tokens], tokens).argmax(axis=0)
        binding = np.bincount(which, minlength=len(BOUNDS))
        print(f"{name}: {mapping.cores_used} cores, {tokens} tokens: exact spike phase "
              f"{spike_exact / exact.step_cycles.size:,.0f} cycles/step, bound {spike_bound / spike_exact:.4f} of it; "
              f"whole steps {bound.counts['total_cycles'] / exact.counts['total_cycles']:.4f} "
              f"(worst step {per_step.min():.4f}); binding: "
              + ", ".join(f"{BOUNDS[i]} {binding[i]}" for i in np.flatnonzero(binding))
              + f" steps; link wait {exact.counts['link_wait_cycles'] / max(exact.counts['packets_sent'], 1):,.0f} "
              f"cycles/packet; exact {exact.simulate_s:.2f} s, bound {bound.simulate_s:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
