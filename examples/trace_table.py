"""The table of shipped traces in traces/README.md, from the traces' meta.

Usage (from the repository root)::

    python examples/trace_table.py               # traces/*.npz
    python examples/trace_table.py --traces DIR

Columns: recipe (``ladder``: issue-14 recipe, ``meta.recipe.schedule == "plateau"``; ``old``: the
earlier runs), epochs, weight sparsity, activity sparsity (full split, and per layer where the meta has
it), test perplexity (full split), trace tokens, effective MACs per token of the recurrent layers
(over the trace tokens), validation curve end (last / best validation perplexity, ladder traces),
training wall time of the run that wrote the checkpoint (for old traces: the last fine-tune only) and file size.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import neurosim
from neurosim.trace import synops_per_step

ROOT = Path(__file__).resolve().parent.parent


def row(path: Path) -> str:
    trace = neurosim.load_trace(path)
    m = trace.meta
    rec = m.get("recipe") or {}
    ladder = rec.get("schedule") == "plateau"
    tr = m.get("training") or {}
    per_layer = m.get("activity_sparsity_per_layer")
    act = f"{m['activity_sparsity']:.3f}"
    if per_layer and m["model"] == "egru":
        act += " (" + ", ".join(f"{a:.3f}" for a in per_layer) + ")"
    eff = float(synops_per_step(trace).sum() / trace.n_tokens)
    curve = f"{tr.get('last_val_ppl')} / {tr.get('best_val_ppl')}" if tr else "n/a"
    wall = float(m.get("train_wall_s") or tr.get("train_wall_s") or 0.0) / 60
    pruning = rec.get("pruning", "magnitude") if m["weight_sparsity"] > 0 else "-"
    return (f"| `{path.name}` | {m['model']} | {'ladder' if ladder else 'old'} | {pruning} | {m.get('epochs')} | "
            f"{m['weight_sparsity']:.3f} | {act} | {m['perplexity']:.1f} | {trace.n_tokens:,} | {eff:,.0f} | "
            f"{curve} | {wall:.1f} | {path.stat().st_size / 1024:,.0f} |")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=Path, default=ROOT / "traces")
    args = p.parse_args(argv)
    print("| trace | model | recipe | pruning | epochs | weight sparsity | activity sparsity, full split (per layer) "
          "| test ppl (full split) | trace tokens | effective MACs/token | val ppl last / best | train wall of the last run (min) "
          "| size (KB) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for path in sorted(args.traces.glob("*.npz")):
        print(row(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
