"""Compare architectures on traces: one table and one energy bar chart.

Every (trace, architecture, batch) gives one :class:`~neurosim.result.Result`;
the table holds one row per result. Batch applies to GPU specs only; an
event-driven chip runs one stream, so it gives one row with ``batch = 1``
whatever batches were asked for.

Every run goes through :func:`neurosim.api.run`, which decides the target
(chip or GPU) of each spec.

Examples
--------
>>> df = compare(["traces/egru.npz"], ["arch_specs/gpu_a100.yaml"], [1, 64])  # doctest: +SKIP
>>> plot_energy(df, "energy.png")  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import pandas as pd

from neurosim.api import run, target_of
from neurosim.result import Result
from neurosim.trace import Trace, load_trace

TABLE_SUFFIXES = (".csv", ".parquet")
PLOT_SUFFIXES = (".png", ".svg")
ENERGY_PREFIX = "energy_pj."
BYTES_PREFIX = "bytes."
SUMMARY_COLUMNS = [
    "trace",
    "arch",
    "backend",
    "batch",
    "energy_uj_per_token",
    "latency_us_per_token",
    "tokens_per_s",
    "memory_bytes_per_token",
    "perplexity",
]


# ----------------------------------------------------------------------------- inputs


def _load_traces(traces: list, tokens: int | None) -> list[Trace]:
    out = []
    for t in traces:
        if isinstance(t, Trace):
            out.append(t if tokens is None else t.window(0, min(tokens, t.n_tokens)))
        else:
            out.append(load_trace(t, tokens=tokens))
    return out


def _load_archs(archs: list) -> list:
    from neurosim.arch import load_arch

    return [load_arch(a) if isinstance(a, (str, os.PathLike)) else a for a in archs]


def _check_batches(batches: list[int]) -> list[int]:
    if not batches:
        raise ValueError("batches: got []; allowed: a non-empty list of integers >= 1")
    for b in batches:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batches: got {b!r}; allowed: integers >= 1")
    return list(dict.fromkeys(batches))


# ----------------------------------------------------------------------------- table


def result_row(result: Result, batch: int) -> dict:
    """One table row: headline figures, energy by component and bytes by memory level."""
    meta = result.meta
    row = {
        "trace": result.trace,
        "arch": result.arch,
        "backend": result.backend,
        "batch": int(batch),
        "model": meta.get("model"),
        "tokens": result.tokens,
        "perplexity": meta.get("perplexity"),
        "energy_pj_per_token": result.energy_pj_per_token,
        "energy_uj_per_token": result.energy_pj_per_token * 1e-6,
        "latency_s_per_token": result.latency_s_per_token,
        "latency_us_per_token": result.latency_s_per_token * 1e6,
        "time_s_per_token": result.time_s_per_token,
        "tokens_per_s": result.tokens_per_s,
        "memory_bytes_per_token": float(sum(result.memory_bytes_per_token.values())),
        "synaptic_ops_per_token": result.synaptic_ops_per_token,
        "utilization_mean": result.core_utilization.get("mean"),
        "bound": meta.get("bound"),
        "precision": meta.get("precision"),
        "weight_format": meta.get("weight_format"),
        "kernel": meta.get("kernel"),
    }
    for component, value in result.energy_breakdown_pj_per_token.items():
        row[ENERGY_PREFIX + component] = value
    for level, value in result.memory_bytes_per_token.items():
        row[BYTES_PREFIX + level] = value
    return row


def compare(
    traces: list,
    archs: list,
    batches: list[int],
    tokens: int | None = None,
    *,
    gpu_options: dict | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Run every trace on every architecture (GPU specs at every batch).

    Parameters
    ----------
    traces : trace paths or :class:`~neurosim.trace.Trace` objects.
    archs : spec paths or loaded specs (``GpuArch`` or a neuromorphic ``ChipArch``).
    batches : batch sizes for GPU specs; event-driven chips always run batch 1.
    tokens : use only the first ``tokens`` steps of each trace.
    gpu_options : keyword options for :func:`neurosim.gpu.simulate_gpu`
        (``precision``, ``weight_format``, ``kernel``, ``include_readout``, ...).
    progress : show a progress bar over the (trace, arch, batch) runs.

    Returns
    -------
    DataFrame, one row per (trace, arch, batch), in input order. Columns:
    :data:`SUMMARY_COLUMNS` and more (see :func:`result_row`); the energy
    breakdown is in ``energy_pj.<component>`` columns (0 where a backend has
    no such component) and bytes by level in ``bytes.<level>`` columns.
    """
    batches = _check_batches(batches)
    loaded_traces = _load_traces(traces, tokens)
    loaded_archs = _load_archs(archs)
    gpu_options = dict(gpu_options or {})
    jobs = [(trace, arch, b) for trace in loaded_traces for arch in loaded_archs
            for b in (batches if target_of(arch) == "gpu" else [1])]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="comparing", unit="run", leave=False)
    rows = []
    for trace, arch, b in jobs:
        options = gpu_options if target_of(arch) == "gpu" else {}
        rows.append(result_row(run(arch, trace, tokens=tokens, batch=b, **options), b))
    df = pd.DataFrame(rows)
    filled = [c for c in df.columns if c.startswith((ENERGY_PREFIX, BYTES_PREFIX))]
    df[filled] = df[filled].fillna(0.0)
    return df


def energy_components(df: pd.DataFrame) -> list[str]:
    """Energy components present in a :func:`compare` table, in column order."""
    return [c[len(ENERGY_PREFIX) :] for c in df.columns if c.startswith(ENERGY_PREFIX)]


# ----------------------------------------------------------------------------- plot


def plot_energy(df: pd.DataFrame, path: str | os.PathLike, log: bool | None = None) -> Path:
    """Grouped, stacked bar chart of energy per token; writes PNG or SVG.

    One group per trace, one bar per (arch, batch) in the group, each bar
    stacked by energy component. ``log``: logarithmic y axis (None: when the
    bar totals span more than a factor of 100); on a log axis the lowest
    segments of a stack can fall below the axis, read the table for them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"plot: got suffix {path.suffix!r} in {str(path)!r}; allowed: {list(PLOT_SUFFIXES)}")
    if df.empty:
        raise ValueError("plot: the table has no rows to draw")
    components = energy_components(df)
    traces = list(dict.fromkeys(df["trace"]))
    bars = list(dict.fromkeys(zip(df["arch"], df["batch"], df["backend"])))
    labels = [f"{a} (b={b})" if be == "gpu" else a for a, b, be in bars]
    totals = df["energy_pj_per_token"].to_numpy(dtype=float) * 1e-6
    positive = totals[totals > 0]
    if log is None:
        log = positive.size > 0 and positive.max() / positive.min() > 100

    from matplotlib.patches import Patch

    colors = plt.get_cmap("tab10" if len(components) <= 10 else "tab20")
    fig, axes = plt.subplots(
        1,
        len(traces),
        sharey=True,
        squeeze=False,
        figsize=(max(6.0, 1.5 + 0.45 * len(traces) * len(bars) + 0.6 * len(traces)), 4.8),
    )
    for ax, trace in zip(axes[0], traces):
        for i, (arch, batch, backend) in enumerate(bars):
            sel = df[
                (df["trace"] == trace) & (df["arch"] == arch) & (df["batch"] == batch) & (df["backend"] == backend)
            ]
            if sel.empty:
                continue
            row = sel.iloc[0]
            bottom = 0.0
            for c, comp in enumerate(components):
                value = float(row[ENERGY_PREFIX + comp]) * 1e-6
                if value > 0:
                    ax.bar(i, value, 0.7, bottom=bottom, color=colors(c), edgecolor="black", linewidth=0.4)
                    bottom += value
        ax.set_xticks(range(len(bars)))
        ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=7)
        ax.set_title(trace, fontsize=8)
        if log:
            ax.set_yscale("log")
    if log:
        axes[0][0].set_ylim(bottom=positive.min() / 30)  # every bar's top well above the axis
    axes[0][0].set_ylabel("energy per token (uJ)")
    fig.suptitle("Energy per token by component", fontsize=10)
    handles = [Patch(facecolor=colors(c), edgecolor="black", label=comp) for c, comp in enumerate(components)]
    axes[0][-1].legend(handles=handles, fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- output


def write_table(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the table as CSV or Parquet, chosen by the suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in TABLE_SUFFIXES:
        raise ValueError(f"out: got suffix {path.suffix!r} in {str(path)!r}; allowed: {list(TABLE_SUFFIXES)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        df.to_csv(path, index=False)
    else:
        df.to_parquet(path, index=False)
    return path


def format_table(df: pd.DataFrame) -> str:
    """The summary columns as aligned text."""
    cols = [c for c in SUMMARY_COLUMNS if c in df.columns]

    def fmt(x):
        if isinstance(x, float):
            return "-" if math.isnan(x) else f"{x:.4g}"
        return str(x)

    return df[cols].to_string(index=False, formatters={c: fmt for c in cols})


__all__ = [
    "compare",
    "energy_components",
    "format_table",
    "plot_energy",
    "result_row",
    "write_table",
]
