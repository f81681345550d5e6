"""Activity sparsity x weight sparsity in hardware terms.

The sparse-RNN papers count synaptic operations: with a fraction ``a`` of
silent units and a fraction ``w`` of pruned weights, an EGRU needs ``(1-a)(1-w)``
of the dense model's operations. This script sweeps ``a`` and ``w`` with
synthetic traces of the shipped model's sizes (plus the shipped PTB traces when
present) on ``loihi_like`` and ``spinnaker2_like`` and measures, per metric,
``measured / dense`` against ``(1-a)(1-w)``.

Writes ``docs/figures/sparsity_*.png`` and prints the ratio table.

    python examples/sparsity_sweep.py                 # about a minute on 2 cores (100 points)
    python examples/sparsity_sweep.py --tokens 64 --arch my_chip.yaml
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from neurosim.analysis import heatmap
from neurosim.sweep import recost, sweep

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_SIZES = ([512, 512], 256)  # 2 layers x 512 units, input 256, when no shipped trace is there
METRICS = {
    "synops": "synaptic_ops_per_token",
    "cycles": "cycles_per_token",
    "energy": "energy_pj_per_token",
    "packets": "packets_per_token",
    "flit_hops": "flit_hops_per_token",
}
COMPONENT_PREFIX = "energy_breakdown_pj_per_token."


def model_sizes(trace_path: Path) -> tuple[list[int], int, str]:
    """Hidden sizes and input size of the shipped model, read from a trace's meta, else the default."""
    if trace_path.is_file():
        with np.load(trace_path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"][()]))
        return list(meta["hidden_sizes"]), int(meta["input_size"]), f"meta of {trace_path.name}"
    return DEFAULT_SIZES[0], DEFAULT_SIZES[1], f"default ({trace_path.name} not present)"


def build_spec(args) -> tuple[dict, str]:
    spec = yaml.safe_load(Path(args.spec).read_text())
    hidden, inp, source = model_sizes(REPO / "traces" / "ptb_egru90.npz")
    synth = spec["traces"][0]["synthetic"]
    synth["hidden_sizes"], synth["input_size"] = hidden, inp
    spec["options"]["tokens"] = args.tokens
    if args.arch:
        spec["arch"] = [str(Path(a).resolve()) for a in args.arch]
    return spec, f"hidden sizes {hidden}, input {inp} ({source})"


def what_if_static(df: pd.DataFrame, root: Path, static_w: float) -> pd.DataFrame:
    """Add ``energy_static_pj_per_token``: the energy re-costed with ``static_w`` watts of static power."""
    df = df.copy()
    df["energy_static_pj_per_token"] = np.nan
    for arch_file, part in df[df["status"] == "ok"].groupby("arch_file"):
        costed = recost(part, root / arch_file, {"static_power_w": static_w})
        df.loc[part.index, "energy_static_pj_per_token"] = costed["energy_pj_per_token"].to_numpy()
    return df


def ratio_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per point: a, w, (1-a)(1-w) and measured / dense for every metric, dense = a = w = 0 on the same chip."""
    ok = df[df["status"] == "ok"].copy()
    synth = ok["trace.kind"] == "synthetic"
    ok["a"] = np.where(synth, 1.0 - ok.get("trace.activity", np.nan), ok["meta.activity_sparsity"])
    ok["w"] = np.where(synth, ok.get("trace.weight_sparsity", np.nan), ok["meta.measured_weight_sparsity"])
    ok["(1-a)(1-w)"] = (1 - ok["a"]) * (1 - ok["w"])
    ok["label"] = np.where(synth, "synthetic", ok["trace"])
    ok["mapping"] = np.where(ok["option.min_cores"] > 1, "spread>=" + ok["option.min_cores"].astype(str), "packed")
    rows = []
    for (arch, _), part in ok.groupby(["arch", "option.min_cores"], sort=False):
        dense = part[(part["trace.kind"] == "synthetic") & (part["a"] == 0) & (part["w"] == 0)]
        if dense.empty:
            continue
        d = dense.iloc[0]
        same_size = part["meta.dense_macs_per_token"] == d["meta.dense_macs_per_token"]
        part = part[same_size].copy()
        for name, col in METRICS.items():
            part[name] = part[col] / d[col] if d[col] else np.nan
        if "energy_static_pj_per_token" in part:
            part["energy_static_what_if"] = part["energy_static_pj_per_token"] / d["energy_static_pj_per_token"]
        for col in [c for c in part.columns if c.startswith(COMPONENT_PREFIX)]:
            part["share." + col[len(COMPONENT_PREFIX):]] = part[col] / part["energy_pj_per_token"]
        part["cores_used"] = part["meta.cores_used"]
        rows.append(part)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def figures(table: pd.DataFrame, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    written = []
    archs = list(dict.fromkeys(table["arch"]))
    mappings = sorted(set(table["mapping"]), key=lambda m: m != "packed")
    fig, axes = plt.subplots(len(mappings), len(archs), figsize=(5.2 * len(archs), 4.2 * len(mappings)),
                             squeeze=False, sharex=True, sharey=True)
    markers = {"synops": "o", "cycles": "s", "energy": "^", "packets": "v"}
    for row, mapping in enumerate(mappings):
        for ax, arch in zip(axes[row], archs):
            part = table[(table["arch"] == arch) & (table["mapping"] == mapping)]
            syn = part[part["label"] == "synthetic"]
            real = part[part["label"] != "synthetic"]
            p = np.array([1e-3, 1.0])
            ax.plot(p, p, "k--", lw=1, label="(1-a)(1-w)")
            for k, (name, marker) in enumerate(markers.items()):
                ax.scatter(syn["(1-a)(1-w)"], syn[name], marker=marker, s=22, color=f"C{k}", label=name, alpha=0.85)
                if len(real):
                    ax.scatter(real["(1-a)(1-w)"], real[name], marker="*", s=140, color=f"C{k}", edgecolors="k")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(f"{arch}, {mapping} mapping" + (" (stars: trained traces)" if len(real) else ""), fontsize=10)
            ax.grid(True, which="both", alpha=0.25)
            if row == len(mappings) - 1:
                ax.set_xlabel("(1-a)(1-w): the papers' predicted fraction")
        axes[row][0].set_ylabel("measured / dense (a = w = 0)")
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    path = out / "sparsity_ratios.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)

    for arch in archs:
        syn = table[(table["arch"] == arch) & (table["label"] == "synthetic")]
        path = out / f"sparsity_energy_{arch}.png"
        heatmap(syn[syn["mapping"] == "packed"], "a", "w", "energy_pj_per_token", path, log=True, fmt="{:.3g}",
                title=f"{arch}: energy per token (pJ), activity sparsity a x weight sparsity w")
        written.append(path)
        for mapping in mappings:
            path = out / f"sparsity_cycles_{arch}_{mapping.split('>=')[0]}.png"
            heatmap(syn[syn["mapping"] == mapping], "a", "w", "cycles", path, log=True, fmt="{:.2g}", cmap="magma",
                    title=f"{arch}, {mapping}: cycles / dense cycles (vs (1-a)(1-w))")
            written.append(path)

    diag = table[(table["label"] == "synthetic") & np.isclose(table["a"], table["w"]) & (table["mapping"] == "packed")]
    shares = [c for c in table.columns if c.startswith("share.")]
    shares = [c for c in shares if (diag[c] > 0.01).any()]
    fig, axes = plt.subplots(1, len(archs), figsize=(5.2 * len(archs), 4.0), squeeze=False, sharey=True)
    for ax, arch in zip(axes[0], archs):
        part = diag[diag["arch"] == arch].sort_values("a")
        bottom = np.zeros(len(part))
        labels = [f"{a:g}" for a in part["a"]]
        for k, col in enumerate(shares):
            ax.bar(labels, part[col], bottom=bottom, color=f"C{k}", label=col[len("share."):])
            bottom += part[col].to_numpy()
        ax.set_title(arch, fontsize=10)
        ax.set_xlabel("a = w")
    axes[0][0].set_ylabel("share of the point's energy")
    axes[0][-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path = out / "sparsity_breakdown.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default=str(HERE / "sparsity_sweep.yaml"))
    parser.add_argument("--out", default=str(REPO / "runs" / "sparsity_sweep.parquet"), help="results parquet")
    parser.add_argument("--figures", default=str(REPO / "docs" / "figures"))
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--arch", action="append", help="architecture YAML(s) instead of the spec's")
    parser.add_argument("--static-w", type=float,
                        help="what-if: re-cost (no re-simulation) with this static power, watts")
    args = parser.parse_args(argv)

    spec, sizes = build_spec(args)
    print(f"model: {sizes}; tokens {args.tokens}", file=sys.stderr)
    df = sweep(spec, args.out, workers=args.workers, root=Path(args.spec).resolve().parent)
    errors = df[df["status"] != "ok"]
    for _, row in errors.iterrows():
        print(f"error at {row['arch_file']} {row.get('trace.activity')} {row.get('trace.weight_sparsity')}: "
              f"{row['error']}", file=sys.stderr)
    if args.static_w is not None:
        df = what_if_static(df, Path(args.spec).resolve().parent, args.static_w)
    table = ratio_table(df)
    if table.empty:
        print("no dense reference point ran; nothing to compare", file=sys.stderr)
        return 1
    for path in figures(table, Path(args.figures)):
        print(f"wrote {path}", file=sys.stderr)

    cols = ["arch", "mapping", "label", "a", "w", "(1-a)(1-w)", *METRICS, "cores_used"]
    if "energy_static_what_if" in table:
        cols.insert(-1, "energy_static_what_if")
    view = table[cols].sort_values(["arch", "mapping", "label", "(1-a)(1-w)"], ascending=[True, True, False, False])
    pd.set_option("display.width", 200)
    print("measured / dense per metric (dense: a = w = 0 on the same chip)")
    print(view.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    share_cols = [c for c in table.columns if c.startswith("share.") and (table[c] > 0.005).any()]
    sparse = table[(table["label"] == "synthetic") & (table["a"] >= 0.899) & (table["w"] >= 0.899)]
    print("\nenergy shares at a, w >= 0.9")
    print(sparse[["arch", "mapping", "a", "w", *share_cols]].to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
