"""Validation curves of the ladder models, from the shipped traces' meta: did each run stop improving?

Usage (from the repository root)::

    python examples/training_curves.py                    # traces/*.npz -> docs/figures/training_curves.{png,md}
    python examples/training_curves.py --traces DIR --out PATH

Reads ``meta.training`` of every trace trained with the ladder recipe (``meta.recipe.schedule ==
"plateau"``; older traces carry no curve and are listed as such): the full-validation perplexity every
half epoch, the learning rate and the weight sparsity at each validation. Writes ``<out>.png`` (one panel
per model family: validation perplexity against epoch, a marker at each validation after which the learning
rate was cut and a star at the checkpoint the trace was exported from) and ``<out>.md`` (one row per trace),
and prints the markdown. Columns of the table:

- ``validations``, ``epochs``: points on the curve and the last one's epoch;
- ``lr cuts``: how often the plateau schedule cut the learning rate (the run ends at the validation
  that would make a fourth);
- ``converged``: the run ended by its schedule (not by the session or the epoch budget);
- ``best val ppl (epoch)``: the lowest validation perplexity once the weights reached their final
  sparsity, the checkpoint the trace was exported from;
- ``last-epoch gain``: how much the best validation perplexity improved over the last epoch of the
  curve (best before it / best at its end - 1): near 0 when the run had stopped improving;
- ``test ppl``: ``meta.perplexity`` (full test split).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

import neurosim

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("epoch", "val_ppl", "activity_sparsity", "weight_sparsity", "lr")


def curve_of(meta: dict) -> np.ndarray | None:
    """The validation curve ``[n, 5]`` (:data:`COLUMNS`) of a ladder trace, or None for a trace without one."""
    training = meta.get("training") or {}
    if (meta.get("recipe") or {}).get("schedule") != "plateau" or not training.get("curve"):
        return None
    columns = tuple(training.get("curve_columns", ()))
    if columns != COLUMNS:
        raise ValueError(f"meta.training.curve_columns: is {list(columns)}, expected {list(COLUMNS)}")
    return np.asarray(training["curve"], dtype=np.float64)


def cut_points(meta: dict, curve: np.ndarray) -> np.ndarray:
    """Rows of the validations after which the schedule cut the learning rate. A row's ``lr`` is the rate
    its half epoch was trained at, so a cut shows in the next row; a cut at the last validation shows only in
    ``meta.training.lr_cuts``."""
    rows = np.flatnonzero(np.diff(curve[:, 4]) < 0)
    if int((meta.get("training") or {}).get("lr_cuts") or 0) > rows.size:
        rows = np.append(rows, curve.shape[0] - 1)
    return rows


def summary(name: str, meta: dict, curve: np.ndarray) -> dict:
    """One table row: where the curve ended, computed from the curve (the cuts: :func:`cut_points`)."""
    epoch, val, weight = curve[:, 0], curve[:, 1], curve[:, 3]
    final = weight >= weight[-1] - 1e-3  # validations at the final sparsity (the only ones that select best.pt)
    best = int(np.flatnonzero(final)[np.argmin(val[final])])
    before = epoch <= epoch[-1] - 1.0
    gain = float(val[before].min() / val.min() - 1.0) if before.any() else float("nan")
    return {
        "trace": name,
        "model": meta["model"],
        "weight_sparsity": float(meta["weight_sparsity"]),
        "validations": int(curve.shape[0]),
        "epochs": float(epoch[-1]),
        "lr_cuts": int(cut_points(meta, curve).size),
        "converged": bool((meta.get("training") or {}).get("converged")),
        "best_val_ppl": float(val[best]),
        "best_epoch": float(epoch[best]),
        "last_epoch_gain": gain,
        "test_ppl": float(meta["perplexity"]),
    }


def markdown(rows: list[dict], without: list[str]) -> str:
    header = ("| trace | weight sparsity | validations | epochs | lr cuts | converged | best val ppl (epoch) "
              "| last-epoch gain | test ppl |")
    lines = [header, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        gain = "n/a (under one epoch)" if np.isnan(r["last_epoch_gain"]) else f"{r['last_epoch_gain']:.1%}"
        lines.append(f"| `{r['trace']}` | {r['weight_sparsity']:.2f} | {r['validations']} | {r['epochs']:.1f} | "
                     f"{r['lr_cuts']} | {'yes' if r['converged'] else 'no'} | {r['best_val_ppl']:.2f} "
                     f"({r['best_epoch']:.1f}) | {gain} | {r['test_ppl']:.1f} |")
    if without:
        lines += ["", "Without a validation curve (not trained with the ladder recipe): "
                  + ", ".join(f"`{n}`" for n in without) + "."]
    return "\n".join(lines)


def plot(curves: dict[str, tuple[dict, np.ndarray]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    families = sorted({meta["model"] for meta, _ in curves.values()})
    fig, axes = plt.subplots(1, len(families), figsize=(6 * len(families), 4.5), squeeze=False)
    for ax, family in zip(axes[0], families):
        for name, (meta, c) in curves.items():
            if meta["model"] != family:
                continue
            (line,) = ax.plot(c[:, 0], c[:, 1], marker=".", label=f"{name} (w={meta['weight_sparsity']:.2f})")
            cuts = cut_points(meta, c)
            ax.scatter(c[cuts, 0], c[cuts, 1], marker="v", color=line.get_color(), s=30)
            r = summary(name, meta, c)
            ax.scatter([r["best_epoch"]], [r["best_val_ppl"]], marker="*", color=line.get_color(), s=90)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation perplexity (full split)")
        ax.set_title(f"{family.upper()}: v = learning rate cut after it, * = exported checkpoint")
        ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=Path, default=ROOT / "traces", help="folder of trace .npz files")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "training_curves")
    args = p.parse_args(argv)
    paths = sorted(args.traces.glob("*.npz"))
    if not paths:
        p.error(f"--traces: no .npz files in {args.traces}")
    curves, without = {}, []
    for path in paths:
        meta = neurosim.load_trace(path, tokens=1).meta
        try:
            c = curve_of(meta)
        except ValueError as e:
            p.error(f"{path}: {e}")
        if c is None:
            without.append(path.stem)
        else:
            curves[path.stem] = (meta, c)
    rows = [summary(name, meta, c) for name, (meta, c) in curves.items()]
    text = markdown(rows, without) + "\n"
    if curves:
        plot(curves, args.out.with_suffix(".png"))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
