"""neurosim's link model against BookSim2 (a standard cycle-level NoC simulator): packet latency against load.

The same open-loop experiment on both: an 8x8 mesh, one core per router, dimension-order routing, every
node injecting packets of F flits by a Bernoulli process at ``rate`` flits per node per cycle (one trial
per cycle, probability ``rate / F``), destinations ``uniform`` (any node, itself included), ``bitcomp``
(the node with every address bit flipped) or ``hotspot`` (one of the 8 diagonal nodes, at random: fan-in
onto few cores, whose ejection links saturate at 0.125 flits/node/cycle). Latency is BookSim's "Packet latency average": from the cycle a
packet is created to the cycle its tail leaves the network, source queueing included.

- **BookSim2** (``--booksim``: the binary built from github.com/booksim/booksim2, ``src/``, ``make``; needs
  bison and flex): an input-queued router (``iq``) with 4 virtual channels of 8 flits, separable
  allocators, routing 0 + VC allocation 1 + switch allocation 1 cycle, wormhole flow control with credits;
  ``benchmarks/specs/booksim_mesh88.cfg``. Warm-up and measurement as BookSim decides (``sim_type =
  latency``).
- **neurosim**: ``loihi_like`` reshaped to the same mesh (64 cores, 8 x 8, one core per router, per-hop
  and local latencies below, no receive cost). The traffic is a trace: ``U`` always-active input units on
  every core, one per cycle (``cores.spike_cycles = 1``, no send cost), each wired with probability
  ``rate / F`` to one unit on its destination core; every packet's latency is the engine's own route
  latency (the sum of its links' costs, ``build_arrays().route_info``) plus the cycles it waited at links
  (counter ``link_wait_cycles``), averaged over the packets of ``--steps`` timesteps. The ``link load`` column is
  the busiest link's flits per cycle of the spike phases (``Result.busiest_link_flits_per_cycle`` of a run),
  which says where on the curve a real workload sits.

The two free constants, the per-hop and local link latencies, are fitted to BookSim's zero-load latency of
1-flit packets on the two traffic patterns (mean 5.25 and 8 hops), then held: everything else (multi-flit
packets, every load) is predicted. The store-and-forward rows show the link model the engine had before
issue 12 (a hop costs the whole packet). Prints one table row per point and, last, one JSON object.

    PYTHONPATH=. python benchmarks/noc_vs_booksim.py --booksim /path/to/booksim2/src/booksim
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "benchmarks" / "specs" / "booksim_mesh88.cfg"
K = 8  # mesh radix
NODES = K * K
HOTSPOTS = tuple(range(0, NODES, K + 1))  # the 8 nodes of the diagonal: fan-in, as into a layer's cores
BOOKSIM_TRAFFIC = {"uniform": "uniform", "bitcomp": "bitcomp",
                   "hotspot": "hotspot({{" + ",".join(map(str, HOTSPOTS)) + "}})"}  # {{list}}: one parameter, a list


def booksim_latency(binary: str, traffic: str, flits: int, rate: float, workdir: Path) -> float | None:
    """BookSim's average packet latency, or None when it reports the network unstable (saturated)."""
    config = workdir / f"{traffic}.cfg"  # a pattern with a node list does not survive BookSim's command-line parser
    config.write_text(CONFIG.read_text() + f"traffic = {BOOKSIM_TRAFFIC[traffic]};\n")
    out = subprocess.run([binary, str(config), f"packet_size={flits}",
                          f"injection_rate={rate}"], check=False, capture_output=True, text=True, cwd=workdir,
                         timeout=1800)
    text = out.stdout + out.stderr
    found = re.findall(r"Packet latency average = ([0-9.]+)", text)
    if "Simulation unstable" in text:  # its exit status is not a guide: 255 after a normal run too
        return None
    if not found:
        raise RuntimeError(f"booksim printed no packet latency for {traffic}, {flits} flits, rate {rate}: "
                           f"{text[-300:]}")
    return float(found[-1])


def destinations(traffic: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Destination node of each of ``n`` packets from every node: int64 [NODES, n]."""
    if traffic == "uniform":
        return rng.integers(0, NODES, size=(NODES, n))
    if traffic == "bitcomp":
        return np.repeat((~np.arange(NODES) & (NODES - 1))[:, None], n, axis=1)
    if traffic == "hotspot":
        return np.asarray(HOTSPOTS)[rng.integers(0, len(HOTSPOTS), size=(NODES, n))]
    raise ValueError(f"traffic: got {traffic!r}; allowed: {sorted(BOOKSIM_TRAFFIC)}")


def mesh_arch(flits: int, hop_latency: int, local_latency: int, switching: str):
    """loihi_like reshaped to BookSim's mesh: 64 single-core routers, F-flit packets, no receive cost."""
    from neurosim.arch import load_arch

    return load_arch("loihi_like", [
        f"cores.count={NODES}", "cores.cores_per_router=1", f"noc.mesh_x={K}", f"noc.mesh_y={K}",
        "cores.neurons_per_core=1000000", "cores.synapse_memory_bytes=1000000000",
        "cores.spike_cycles=1", "cores.send_cycles_per_message=0", "cores.synapse_overhead_cycles=0",
        "cores.synops_per_cycle=1", "cores.send_receive=separate",
        "noc.packet_header_bits=32", "noc.payload_bits=0", f"noc.flit_bits={32 // flits}",
        f"noc.hop_x_latency_cycles={hop_latency}", f"noc.hop_y_latency_cycles={hop_latency}",
        f"noc.local_latency_cycles={local_latency}", f"noc.switching={switching}",
    ])


def neurosim_latency(traffic: str, flits: int, rate: float, hop_latency: int, local_latency: int,
                     switching: str = "wormhole", cycles: int = 4000, steps: int = 2, seed: int = 0) -> float:
    """Mean packet latency (cycles) of the experiment on neurosim's exact engine."""
    return neurosim_point(traffic, flits, rate, hop_latency, local_latency, switching, cycles, steps, seed)[0]


def neurosim_point(traffic: str, flits: int, rate: float, hop_latency: int, local_latency: int,
                   switching: str = "wormhole", cycles: int = 4000, steps: int = 2,
                   seed: int = 0) -> tuple[float, float]:
    """Mean packet latency (cycles) and the busiest link's flits per cycle of the spike phases."""
    from neurosim.engine import build_arrays, simulate
    from neurosim.mapping import Mapping, core_totals
    from neurosim.network import build_network
    from neurosim.trace import Trace

    arch = mesh_arch(flits, hop_latency, local_latency, switching)
    if arch.noc.flits_per_packet != flits:
        raise ValueError(f"flits: the spec gives {arch.noc.flits_per_packet} flits per packet, wanted {flits}")
    rng = np.random.default_rng(seed)
    sends = rng.random((NODES, cycles)) < rate / flits  # one Bernoulli trial per node per cycle
    dest = destinations(traffic, rng, cycles)
    w_in = np.zeros((NODES * cycles, NODES), dtype=bool)
    rows = np.flatnonzero(sends.ravel())
    w_in[rows, dest.ravel()[rows]] = True
    trace = Trace.from_arrays([np.zeros((steps, NODES), dtype=bool)], [w_in], [np.zeros((NODES, NODES), dtype=bool)],
                              gates=1, model="synthetic", dataset=f"noc_{traffic}", seed=seed,
                              source="benchmarks/noc_vs_booksim.py")
    network = build_network(trace)
    # input unit i on node i // cycles (the order of its core's trials), hidden unit j on node j
    unit_core = np.concatenate([np.repeat(np.arange(NODES), cycles), np.arange(NODES)]).astype(np.int64)
    compartments, syn_bytes = core_totals(network, arch, unit_core)
    mapping = Mapping("explicit", unit_core, NODES, compartments, syn_bytes)
    arrays = build_arrays(network, mapping, arch)
    route_cycles = np.add.reduceat(arrays.route_info[:, 1].astype(np.int64), arrays.route_ptr[:-1])
    run = simulate(trace, network, mapping, arch, arrays=arrays)
    packets = run.counts["packets_sent"]
    if packets != steps * route_cycles.shape[0]:
        raise AssertionError(f"engine sent {packets} packets, the trace wires {route_cycles.shape[0]} per step")
    load = float(run.link_flits.max() / run.counts["spike_phase_cycles"])
    return float(route_cycles.mean() + run.counts["link_wait_cycles"] / packets), load


def fit_link_latencies(zero_load: dict[str, float]) -> tuple[int, int]:
    """Per-hop and local latencies that give 1-flit wormhole packets BookSim's zero-load latencies.

    neurosim's zero-load latency of a 1-flit packet over d mesh hops is ``2 (1 + local) + d (1 + hop)``
    (injection link, d mesh links, ejection link); the patterns' mean hops are 5.25 (uniform, itself
    included) and 8 (bitcomp).
    """
    d_u, d_b = 2 * (K * K - 1) / (3 * K), float(K)
    per_hop = (zero_load["bitcomp"] - zero_load["uniform"]) / (d_b - d_u)
    at_zero = zero_load["uniform"] - per_hop * d_u
    return max(0, round(per_hop - 1)), max(0, round((at_zero - 2) / 2))


def shipped_link_load(tokens: int = 500) -> dict[str, float]:
    """Flits per cycle of the busiest link, over the spike phases of the shipped ptb_egru90 on two chips."""
    import neurosim

    load = {}
    for arch in ("loihi_like", "spinnaker2_like"):
        r = neurosim.run(ROOT / "arch_specs" / f"{arch}.yaml", "ptb_egru90", tokens=tokens)
        load[arch] = r.busiest_link_flits_per_cycle
    return load


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--booksim", default=shutil.which("booksim"), help="the BookSim2 binary (default: booksim on PATH)")
    p.add_argument("--rates", default="0.02,0.1,0.2,0.3,0.4", help="flits per node per cycle")
    p.add_argument("--flits", default="1,4", help="flits per packet")
    p.add_argument("--traffic", default="uniform,bitcomp,hotspot")
    p.add_argument("--hotspot-rates", default="0.02,0.05,0.08,0.1,0.12",
                   help="rates of the hotspot pattern (its 8 targets saturate their ejection links at 0.125)")
    p.add_argument("--cycles", type=int, default=4000, help="neurosim: injection cycles per timestep")
    p.add_argument("--steps", type=int, default=2, help="neurosim: timesteps (fresh draws of the same trace)")
    args = p.parse_args(argv)
    try:
        rates = [float(r) for r in args.rates.split(",")]
        hot_rates = [float(r) for r in args.hotspot_rates.split(",")]
        flit_sizes = [int(f) for f in args.flits.split(",")]
    except ValueError as exc:
        p.error(f"--rates, --hotspot-rates, --flits: comma-separated numbers ({exc})")
    patterns = args.traffic.split(",")
    if unknown := sorted(set(patterns) - set(BOOKSIM_TRAFFIC)):
        p.error(f"--traffic: unknown patterns {unknown}; allowed: {sorted(BOOKSIM_TRAFFIC)}")
    if bad := [r for r in rates + hot_rates if not 0 < r <= 1]:
        p.error(f"--rates / --hotspot-rates: {bad} out of range; allowed: flits per node per cycle in (0, 1]")
    if bad := [f for f in flit_sizes if f not in (1, 2, 4, 8, 16, 32)]:
        p.error(f"--flits: {bad}; allowed: 1, 2, 4, 8, 16, 32 (a 32-bit packet in flits of 32 / F bits)")
    if args.cycles < 1 or args.steps < 1:
        p.error(f"--cycles {args.cycles}, --steps {args.steps}: allowed: integers >= 1")

    if not args.booksim or not Path(args.booksim).is_file():
        print("noc_vs_booksim: no BookSim2 binary (--booksim PATH); build it from github.com/booksim/booksim2: "
              "cd src && make (needs bison and flex)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        zero = {t: booksim_latency(args.booksim, t, 1, 0.002, work) for t in ("uniform", "bitcomp")}
        hop, local = fit_link_latencies(zero)
        print(f"BookSim2 zero-load, 1 flit, rate 0.002: uniform {zero['uniform']:.2f}, bitcomp {zero['bitcomp']:.2f} "
              f"cycles -> neurosim hop latency {hop} (+1 head cycle), local {local} (+1)")
        print(f"{'traffic':<8} {'flits':>5} {'rate':>5} {'booksim':>8} {'wormhole':>9} {'ratio':>6} "
              f"{'store&fwd':>9} {'ratio':>6} {'link load':>9}")
        rows = []
        for traffic in patterns:
            for flits in flit_sizes:
                for rate in (hot_rates if traffic == "hotspot" else rates):
                    b = booksim_latency(args.booksim, traffic, flits, rate, work)
                    w, load = neurosim_point(traffic, flits, rate, hop, local, "wormhole", args.cycles, args.steps)
                    s = neurosim_latency(traffic, flits, rate, hop, local, "store_and_forward", args.cycles,
                                         args.steps)
                    rw = w / b if b else None
                    rs = s / b if b else None
                    shown = f"{b:8.2f}" if b else f"{'unstable':>8}"
                    print(f"{traffic:<8} {flits:5d} {rate:5.2f} {shown} {w:9.2f} "
                          f"{(f'{rw:6.3f}' if rw else '     -')} {s:9.2f} {(f'{rs:6.3f}' if rs else '     -')} "
                          f"{load:9.3f}")
                    rows.append({"traffic": traffic, "flits": flits, "rate": rate, "booksim": b, "wormhole": w,
                                 "store_and_forward": s, "busiest_link_flits_per_cycle": load})
    load = shipped_link_load()
    print("for scale, ptb_egru90 (500 tokens, readout on the chip): busiest link "
          + ", ".join(f"{a} {v:.4f}" for a, v in load.items()) + " flits per cycle of the spike phases")
    stable = [r for r in rows if r["booksim"]]
    worst = max(stable, key=lambda r: abs(r["wormhole"] / r["booksim"] - 1))
    summary = {"hop_latency_cycles": hop, "local_latency_cycles": local,
               "wormhole_ratio_min": round(min(r["wormhole"] / r["booksim"] for r in stable), 3),
               "wormhole_ratio_max": round(max(r["wormhole"] / r["booksim"] for r in stable), 3),
               "store_and_forward_ratio_max": round(max(r["store_and_forward"] / r["booksim"] for r in stable), 3),
               "worst_point": worst,
               "shipped_busiest_link_flits_per_cycle": load, "points": rows}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
