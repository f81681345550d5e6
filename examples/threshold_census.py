"""Which EGRU units have negative thresholds, and how many of a trace's events they emit.

An EGRU unit with a negative threshold fires whenever its state is above it and, at every event, adds
``|theta|`` to its state (``c = c_hat - theta * e``): it becomes an always-on unit whose state and output
grow step after step. EvNN's EGRU clamps thresholds to [0, 1]; ``neurosim train`` does since 2026-12-01
(``--thr-clamp``, the default); the PTB ladder of that day was trained without it.

Usage (from the repository root)::

    python examples/threshold_census.py                                  # traces with a checkpoint in checkpoints/
    python examples/threshold_census.py --runs-dir /work/runs/ladder     # every EGRU trace whose run folder is there

For each trace and recurrent layer it prints: units, units with theta < 0, the share of the layer's
events (over the trace's tokens) that those units emit, the event rate of both groups, the share of
the events that the busiest tenth of the units emit, and the units that never fire. The
checkpoint must be the one the trace was exported from: ``<runs-dir>/<trace>/export/best.pt`` (the pair
``train_ladder.py --export`` copied), else ``<runs-dir>/<trace>/best.pt``, else ``checkpoints/<trace>.pt``;
its validation perplexity is checked against the trace's ``meta.training``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def checkpoint_for(name: str, runs_dir: Path | None) -> Path | None:
    """The checkpoint a trace was exported from, or None when none is at hand."""
    candidates = []
    if runs_dir is not None:
        candidates += [runs_dir / name / "export" / "best.pt", runs_dir / name / "best.pt"]
    candidates.append(ROOT / "checkpoints" / f"{name}.pt")
    return next((p for p in candidates if p.is_file()), None)


def census(trace_path: Path, ckpt_path: Path, tokens: int | None = None) -> list[dict]:
    """Per recurrent layer: units, negative thresholds, their share of the events and both groups' rates."""
    from neurosim.models.train import load_checkpoint
    from neurosim.trace import load_trace

    trace = load_trace(trace_path, tokens=tokens)
    ckpt = load_checkpoint(ckpt_path)
    best = (trace.meta.get("training") or {}).get("best_val_ppl")
    history = ckpt.get("history") or []
    got = min((row["val_ppl"] for row in history), default=None)
    if best is not None and got is not None and abs(got - best) > 0.01:
        raise ValueError(f"{ckpt_path}: best validation perplexity {got}, but {trace_path.name} was exported "
                         f"from a checkpoint with {best}; allowed: the checkpoint the trace came from")
    state = ckpt["model_state"]
    rows = []
    for l, layer in enumerate(trace.layers):
        theta = state[f"layers.{l}.theta"].float().numpy()
        if theta.shape[0] != layer.hidden_size:
            raise ValueError(f"{ckpt_path}: layer {l} has {theta.shape[0]} thresholds, the trace "
                             f"{layer.hidden_size} units; allowed: the checkpoint of this trace")
        neg = theta < 0
        events = layer.events
        total = int(events.sum())
        rate = events.mean(axis=0)
        top = np.argsort(-rate, kind="stable")[: max(1, theta.size // 10)]  # the busiest tenth of the units
        rows.append({
            "trace": trace_path.stem, "layer": l, "units": int(theta.size), "negative": int(neg.sum()),
            "theta_min": float(theta.min()),
            "event_share_negative": float(events[:, neg].sum() / total) if total else 0.0,
            "rate_negative": float(rate[neg].mean()) if neg.any() else 0.0,
            "rate_other": float(rate[~neg].mean()) if (~neg).any() else 0.0,
            "event_share_top_tenth": float(events[:, top].sum() / total) if total else 0.0,
            "silent": int((rate == 0).sum()),
        })
    return rows


def table(rows: list[dict]) -> str:
    head = ("| trace | layer | units | theta < 0 | min theta | their share of the events | event rate, theta < 0 "
            "| event rate, the others | busiest tenth of the units: share of the events | silent units |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| `{r['trace']}` | {r['layer']} | {r['units']} | {r['negative']} | {r['theta_min']:.2f} | "
                     f"{r['event_share_negative']:.1%} | {r['rate_negative']:.3f} | {r['rate_other']:.3f} | "
                     f"{r['event_share_top_tenth']:.1%} | {r['silent']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", default=str(ROOT / "traces"), help="folder of traces (default: the shipped ones)")
    p.add_argument("--runs-dir", default=None, help="ladder run folders holding each trace's checkpoint")
    p.add_argument("--tokens", type=int, default=8192, help="trace tokens to count (default 8192)")
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from neurosim.trace import load_trace

    runs = Path(args.runs_dir) if args.runs_dir else None
    rows, skipped = [], []
    for path in sorted(Path(args.traces).glob("*.npz")):
        if load_trace(path, tokens=1).meta.get("model") != "egru":
            continue
        ckpt = checkpoint_for(path.stem, runs)
        if ckpt is None:
            skipped.append(path.stem)
            continue
        rows.extend(census(path, ckpt, args.tokens))
    print(table(rows))
    if skipped:
        print(f"\nNo checkpoint at hand for: {', '.join(skipped)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
