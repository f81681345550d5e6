"""The seed figure from the shipped traces: perplexity vs effective MACs/token, and vs energy/token.

Usage (from the repository root)::

    python examples/seed_figure.py                      # traces/*.npz, first 2,048 tokens simulated
    python examples/seed_figure.py --tokens all         # every token of every trace (minutes)
    python examples/seed_figure.py --traces traces --out docs/figures/seed_figure --dataset all

Writes ``<out>.png`` (two panels), ``<out>.csv`` (one row per trace and target; ``status`` is
"does not fit" where the target cannot hold the model, its figures left empty) and
``<out>.md`` (the table and the matched-perplexity pairs), and prints the markdown.

- Perplexity: ``meta.perplexity`` of each trace (full test split, batch 1).
- Effective MACs per token (the papers' axis, Mukherji et al. 2023/2024): the trace's synaptic
  operations of the recurrent layers per token over the simulated tokens
  (``neurosim.trace.synops_per_step``), plus the dense decoder (``meta.decoder_macs_per_token``),
  shown as a second marker set so both conventions are visible.
- Energy per token: ``neurosim.run`` on ``loihi_like`` and ``spinnaker2_like`` (event engine,
  batch 1) and ``gpu_h100`` (analytic GPU model, batch 1), over the same tokens.
- Matched pairs: every (EGRU, LSTM) pair of the same dataset whose perplexities differ by at
  most ``--match`` (default 5%), with energy and latency per token on each target.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import neurosim
from neurosim.mapping import MappingError
from neurosim.trace import synops_per_step

ROOT = Path(__file__).resolve().parent.parent
TARGETS = ("loihi_like", "spinnaker2_like", "gpu_h100")


def rows_for(trace_path: Path, tokens: int | None, arch_dir: Path) -> list[dict]:
    """One row per target for one trace."""
    trace = neurosim.load_trace(trace_path)
    n = trace.n_tokens if tokens is None else min(tokens, trace.n_tokens)
    if n < trace.n_tokens:
        trace = trace.window(0, n)
    meta = trace.meta
    rec_macs = float(synops_per_step(trace).sum() / trace.n_tokens)
    dec = float(meta.get("decoder_macs_per_token", meta["hidden_sizes"][-1] * meta["vocab_size"]))
    base = {
        "trace": trace_path.stem,
        "model": meta["model"],
        "dataset": meta["dataset"],
        "pruning": (meta.get("recipe") or {}).get("pruning", "magnitude"),
        "weight_sparsity": float(meta["weight_sparsity"]),
        "activity_sparsity": float(meta.get("activity_sparsity", np.nan)),
        "perplexity": meta["perplexity"],
        "epochs": meta.get("epochs"),
        "trace_tokens": int(trace.n_tokens),
        "effective_macs_per_token": rec_macs,
        "effective_macs_per_token_with_decoder": rec_macs + dec,
    }
    out = []
    for target in TARGETS:
        try:
            r = neurosim.run(arch_dir / f"{target}.yaml", trace)
        except MappingError as e:  # e.g. a dense LSTM with its decoder does not fit spinnaker2_like's synapse memory
            print(f"{trace_path.stem} on {target}: does not fit ({str(e).split(';')[0]}); left blank", file=sys.stderr)
            out.append({**base, "target": target, "status": "does not fit", "energy_pj_per_token": np.nan,
                        "latency_s_per_token": np.nan, "cycles_per_token": np.nan})
            continue
        out.append({
            **base,
            "target": target,
            "status": "ok",
            "energy_pj_per_token": r.energy_pj_per_token,
            "latency_s_per_token": r.latency_s_per_token,
            "cycles_per_token": r.cycles_per_token,
        })
    return out


def markdown(df: pd.DataFrame) -> str:
    """A markdown table of ``df`` (floats to 4 significant digits; a figure of a model that does not fit the
    target, NaN in the CSV, is written as such)."""
    def cell(v):
        if isinstance(v, float) and np.isnan(v):
            return "does not fit"
        if isinstance(v, float):
            return f"{v:,.4g}"
        return str(v)

    cols = [str(c) for c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def matched_pairs(df: pd.DataFrame, tol: float) -> pd.DataFrame:
    """EGRU/LSTM pairs of one dataset within ``tol`` relative perplexity, with each target's figures."""
    one = df.drop_duplicates("trace")
    pairs = []
    for _, e in one[one.model == "egru"].iterrows():
        for _, l in one[(one.model == "lstm") & (one.dataset == e.dataset)].iterrows():
            gap = abs(e.perplexity - l.perplexity) / min(e.perplexity, l.perplexity)
            if gap <= tol:
                for target in TARGETS:
                    fe = df[(df.trace == e.trace) & (df.target == target)].iloc[0]
                    fl = df[(df.trace == l.trace) & (df.target == target)].iloc[0]
                    pairs.append({
                        "egru": e.trace, "lstm": l.trace, "ppl_egru": e.perplexity, "ppl_lstm": l.perplexity,
                        "ppl_gap": gap, "target": target,
                        "energy_pj_egru": fe.energy_pj_per_token, "energy_pj_lstm": fl.energy_pj_per_token,
                        "latency_s_egru": fe.latency_s_per_token, "latency_s_lstm": fl.latency_s_per_token,
                    })
    return pd.DataFrame(pairs)


def plot(df: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.8))
    one = df.drop_duplicates("trace")
    style = {"egru": ("o", "tab:green"), "lstm": ("s", "tab:purple")}
    for model, g in one.groupby("model"):
        marker, color = style.get(model, ("x", "k"))
        ax1.scatter(g.effective_macs_per_token, g.perplexity, marker=marker, color=color,
                    label=f"{model.upper()} (recurrent layers)")
        ax1.scatter(g.effective_macs_per_token_with_decoder, g.perplexity, marker=marker, facecolors="none",
                    edgecolors=color, label=f"{model.upper()} (+ dense decoder)")
        for _, r in g.iterrows():
            ax1.annotate(r.trace.replace("ptb_", "").replace("wt2_", "wt2 "), (r.effective_macs_per_token, r.perplexity),
                         fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax1.set_xscale("log")
    ax1.set_xlabel("effective MACs per token")
    ax1.set_ylabel("test perplexity (full split)")
    ax1.set_title("perplexity vs effective MACs (the papers' axis)")
    ax1.legend(fontsize=7)
    colors = {"loihi_like": "tab:blue", "spinnaker2_like": "tab:orange", "gpu_h100": "tab:red"}
    for (model, target), g in df.groupby(["model", "target"]):
        marker, _ = style.get(model, ("x", "k"))
        ax2.scatter(g.energy_pj_per_token, g.perplexity, marker=marker, color=colors[target],
                    label=f"{model.upper()} on {target}")
    ax2.set_xscale("log")
    ax2.set_xlabel("energy per token (pJ, batch 1)")
    ax2.set_ylabel("test perplexity (full split)")
    ax2.set_title("perplexity vs energy per token")
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=130)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--traces", type=Path, default=ROOT / "traces", help="folder of trace .npz files")
    p.add_argument("--arch-dir", type=Path, default=ROOT / "arch_specs")
    p.add_argument("--tokens", default="2048", help="tokens simulated per trace, or 'all'")
    p.add_argument("--dataset", default="ptb", help="only traces of this dataset (meta.dataset), or 'all'")
    p.add_argument("--match", type=float, default=0.05, help="relative perplexity gap of a matched pair")
    p.add_argument("--out", type=Path, default=ROOT / "docs" / "figures" / "seed_figure")
    args = p.parse_args(argv)
    tokens = None if args.tokens == "all" else int(args.tokens)
    paths = sorted(args.traces.glob("*.npz"))
    if not paths:
        p.error(f"--traces: no .npz files in {args.traces}")
    rows = []
    for path in paths:
        if args.dataset != "all" and neurosim.load_trace(path, tokens=1).meta["dataset"] != args.dataset:
            continue
        rows.extend(rows_for(path, tokens, args.arch_dir))
    df = pd.DataFrame(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out.with_suffix(".csv"), index=False)
    plot(df, args.out.with_suffix(".png"))
    wide = df.pivot_table(index=["trace", "perplexity", "weight_sparsity", "activity_sparsity",
                                 "effective_macs_per_token"], columns="target", values="energy_pj_per_token")
    text = [f"# Seed figure data ({'all' if tokens is None else tokens} tokens per trace simulated)", "",
            "Energy per token (pJ, batch 1):", "", markdown(wide.reset_index()), ""]
    pairs = matched_pairs(df, args.match)
    if pairs.empty:
        text.append(f"No EGRU/LSTM pair within {args.match:.0%} perplexity among these traces.")
    else:
        text += [f"Matched pairs (perplexity within {args.match:.0%}):", "",
                 markdown(pairs)]
    out = "\n".join(text) + "\n"
    args.out.with_suffix(".md").write_text(out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
