"""Magnitude pruning vs NeuroPrune on event cores: topology, cores, energy, cycles and tail latency.

Usage (from the repository root)::

    python examples/compare_pruning.py                                   # the two shipped PTB EGRU90 traces
    python examples/compare_pruning.py --traces traces/ptb_egru90.npz traces/ptb_egru90_neuroprune.npz --tokens all

For each trace it prints (and writes to ``--out`` as markdown):

- perplexity (``meta.perplexity``), weight and activity sparsity;
- units removed: units of each layer with no outgoing synapse left in the recurrent matrices
  (the top layer's count ignores the dense decoder, which is not pruned);
- fan-out distribution of the units of each layer (synapses a unit's event drives in its own
  recurrent matrix plus the next layer's input matrix): mean, max, coefficient of variation,
  Gini coefficient and the share of all synapses held by the top 10% of units (hubs);
- on ``loihi_like`` and ``spinnaker2_like``: cores used by the mapping, packets, energy (pJ), cycles and
  mean latency (cycles) per token, and the 99th percentile of the per-token latency; and the same chips
  with the recurrent layers alone (``readout="none"``: no decoder, whose dense synapses set most of the
  cores and traffic of the full runs): cores, packets and energy per token, where only the pruning differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import neurosim

ROOT = Path(__file__).resolve().parent.parent
CHIPS = ("loihi_like", "spinnaker2_like")


def gini(x: np.ndarray) -> float:
    """Gini coefficient of non-negative values (0: all equal, -> 1: one unit holds everything)."""
    x = np.sort(np.asarray(x, dtype=float))
    if x.sum() == 0:
        return 0.0
    n = x.size
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def unit_fanout(trace) -> list[np.ndarray]:
    """Per layer, each unit's outgoing synapses (own recurrent matrix + next layer's input matrix)."""
    out = []
    for l, layer in enumerate(trace.layers):
        f = layer.rec_fanout.copy()
        if l + 1 < len(trace.layers):
            f += trace.layers[l + 1].in_fanout
        out.append(f)
    return out


def describe(path: Path, tokens: int | None, arch_dir: Path) -> dict:
    trace = neurosim.load_trace(path)
    if tokens is not None and tokens < trace.n_tokens:
        trace = trace.window(0, tokens)
    meta = trace.meta
    row = {
        "trace": path.stem,
        "pruning": (meta.get("recipe") or {}).get("pruning", "magnitude"),
        "perplexity": meta["perplexity"],
        "weight_sparsity": meta["weight_sparsity"],
        "activity_sparsity_per_layer": [round(1 - float(l.events.mean()), 4) for l in trace.layers],
        "tokens": trace.n_tokens,
    }
    fan = unit_fanout(trace)
    row["units_removed"] = [int((f == 0).sum()) for f in fan]
    row["fanout"] = [
        {
            "mean": float(f.mean()),
            "max": int(f.max()),
            "cv": float(f.std() / f.mean()) if f.mean() > 0 else 0.0,
            "gini": gini(f),
            "top10_share": float(np.sort(f)[::-1][: max(1, f.size // 10)].sum() / max(1, f.sum())),
        }
        for f in fan
    ]
    for chip in CHIPS:
        r = neurosim.run(arch_dir / f"{chip}.yaml", trace)
        lat = r.arrays["token_latency_cycles"]  # a token's first layer to its last layer's update
        row[chip] = {
            "cores_used": int(r.meta["cores_used"]),
            "energy_pj_per_token": r.energy_pj_per_token,
            "cycles_per_token": r.cycles_per_token,
            "latency_cycles_mean": float(lat.mean()),
            "latency_cycles_p99": float(np.percentile(lat, 99)),
            "packets_per_token": r.packets_per_token,
        }
        alone = neurosim.run(arch_dir / f"{chip}.yaml", trace, readout="none")
        row[f"{chip}_recurrent"] = {
            "cores_used": int(alone.meta["cores_used"]),
            "packets_per_token": alone.packets_per_token,
            "energy_pj_per_token": alone.energy_pj_per_token,
        }
    return row


def table(rows: list[dict]) -> str:
    names = [r["trace"] for r in rows]
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---|" * len(rows)]

    def add(label, fn):
        lines.append(f"| {label} | " + " | ".join(fn(r) for r in rows) + " |")

    add("pruning", lambda r: r["pruning"])
    add("test perplexity", lambda r: f"{r['perplexity']:.1f}")
    add("weight sparsity", lambda r: f"{r['weight_sparsity']:.3f}")
    add("activity sparsity per layer", lambda r: ", ".join(f"{a:.3f}" for a in r["activity_sparsity_per_layer"]))
    add("units removed per layer", lambda r: ", ".join(str(u) for u in r["units_removed"]))
    for key, fmt in (("mean", "{:.0f}"), ("max", "{}"), ("cv", "{:.2f}"), ("gini", "{:.3f}"), ("top10_share", "{:.3f}")):
        add(f"fan-out {key} per layer", lambda r, k=key, f=fmt: ", ".join(f.format(x[k]) for x in r["fanout"]))
    for chip in CHIPS:
        add(f"{chip}: cores used", lambda r, c=chip: str(r[c]["cores_used"]))
        add(f"{chip}: packets/token", lambda r, c=chip: f"{r[c]['packets_per_token']:,.0f}")
        add(f"{chip}: energy pJ/token", lambda r, c=chip: f"{r[c]['energy_pj_per_token']:,.0f}")
        add(f"{chip}: cycles/token", lambda r, c=chip: f"{r[c]['cycles_per_token']:,.0f}")
        add(f"{chip}: latency cycles/token, mean", lambda r, c=chip: f"{r[c]['latency_cycles_mean']:,.0f}")
        add(f"{chip}: latency cycles/token, p99", lambda r, c=chip: f"{r[c]['latency_cycles_p99']:,.0f}")
    for chip in CHIPS:
        k = f"{chip}_recurrent"
        add(f"{chip}, recurrent layers alone: cores used", lambda r, k=k: str(r[k]["cores_used"]))
        add(f"{chip}, recurrent layers alone: packets/token", lambda r, k=k: f"{r[k]['packets_per_token']:,.0f}")
        add(f"{chip}, recurrent layers alone: energy pJ/token", lambda r, k=k: f"{r[k]['energy_pj_per_token']:,.0f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=Path, nargs="+",
                   default=[ROOT / "traces" / "ptb_egru90.npz", ROOT / "traces" / "ptb_egru90_neuroprune.npz"])
    p.add_argument("--tokens", default="2048", help="tokens simulated per trace, or 'all'")
    p.add_argument("--arch-dir", type=Path, default=ROOT / "arch_specs")
    p.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = p.parse_args(argv)
    missing = [str(t) for t in args.traces if not t.is_file()]
    if missing:
        p.error(f"--traces: no such file {missing}")
    tokens = None if args.tokens == "all" else int(args.tokens)
    rows = [describe(t, tokens, args.arch_dir) for t in args.traces]
    text = f"Simulated tokens per trace: {rows[0]['tokens']}\n\n" + table(rows) + "\n"
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
