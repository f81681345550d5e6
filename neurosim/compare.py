"""Compare architectures on traces: one table and one figure (energy, latency and throughput panels).

Every (trace, architecture, batch) gives one :class:`~neurosim.result.Result`;
the table holds one row per result. Batch applies to GPU specs only; an
event-driven chip runs one stream, so it gives one row with ``batch = 1``
whatever batches were asked for.

Every run goes through :func:`neurosim.api.run`, which decides the target
(chip or GPU) of each spec.

Examples
--------
>>> df = compare(["traces/egru.npz"], ["arch_specs/gpu_a100.yaml"], [1, 64])  # doctest: +SKIP
>>> plot_compare(df, "compare.png")  # doctest: +SKIP
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
    "spec",
    "target",
    "batch",
    "energy_uj_per_token",
    "static_share",
    "cycles_per_token",
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


def spec_label(arch) -> str:
    """A target's label: its spec file name without ``.yaml`` (a shipped name as given), or a loaded spec's name."""
    return Path(arch).stem if isinstance(arch, (str, os.PathLike)) else arch.name


def _check_batches(batches: list[int]) -> list[int]:
    if not batches:
        raise ValueError("batches: got []; allowed: a non-empty list of integers >= 1")
    for b in batches:
        if isinstance(b, bool) or not isinstance(b, int) or b < 1:
            raise ValueError(f"batches: got {b!r}; allowed: integers >= 1")
    return list(dict.fromkeys(batches))


# ----------------------------------------------------------------------------- table


def result_row(result: Result, batch: int, spec: str | None = None) -> dict:
    """One table row: headline figures, energy by component and bytes by memory level.

    ``spec`` labels the target (default: the spec's name); ``static_share`` is the static
    energy's share of the energy per token.
    """
    meta = result.meta
    total = result.energy_pj_per_token
    row = {
        "trace": result.trace,
        "spec": spec or result.arch,
        "arch": result.arch,
        "target": result.target,
        "batch": int(batch),
        "model": meta.get("model"),
        "tokens": result.tokens,
        "perplexity": meta.get("perplexity"),
        "energy_pj_per_token": result.energy_pj_per_token,
        "energy_uj_per_token": result.energy_pj_per_token * 1e-6,
        "dynamic_energy_uj_per_token": result.dynamic_energy_pj_per_token * 1e-6,
        "static_energy_uj_per_token": result.static_energy_pj_per_token * 1e-6,
        "static_share": result.static_energy_pj_per_token / total if total > 0 else 0.0,
        "cycles_per_token": result.cycles_per_token,
        "latency_s_per_token": result.latency_s_per_token,
        "latency_us_per_token": result.latency_s_per_token * 1e6,
        "latency_us_p99": None if result.latency_s_p99 is None else result.latency_s_p99 * 1e6,
        "power_w_mean": result.power_w_mean,
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
    :data:`SUMMARY_COLUMNS` and more (see :func:`result_row`); ``spec`` names each
    target by its spec file (:func:`spec_label`), ``arch`` by the spec's ``name``; the energy
    breakdown is in ``energy_pj.<component>`` columns (0 where a target has
    no such component) and bytes by level in ``bytes.<level>`` columns.
    """
    batches = _check_batches(batches)
    loaded_traces = _load_traces(traces, tokens)
    loaded_archs = _load_archs(archs)
    gpu_options = dict(gpu_options or {})
    labels = [spec_label(a) for a in archs]
    jobs = [(trace, arch, label, b) for trace in loaded_traces for arch, label in zip(loaded_archs, labels)
            for b in (batches if target_of(arch) == "gpu" else [1])]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc="comparing", unit="run", leave=False)
    rows = []
    for trace, arch, label, b in jobs:
        options = gpu_options if target_of(arch) == "gpu" else {}
        rows.append(result_row(run(arch, trace, tokens=tokens, batch=b, **options), b, label))
    df = pd.DataFrame(rows)
    filled = [c for c in df.columns if c.startswith((ENERGY_PREFIX, BYTES_PREFIX))]
    df[filled] = df[filled].fillna(0.0)
    return df


def energy_components(df: pd.DataFrame) -> list[str]:
    """Energy components present in a :func:`compare` table, in column order."""
    return [c[len(ENERGY_PREFIX) :] for c in df.columns if c.startswith(ENERGY_PREFIX)]


# ----------------------------------------------------------------------------- plot


STATIC_COLOR = "0.62"
#: figure size (inches) and resolution of :func:`plot_compare`: print quality
FIGSIZE_IN, DPI = (10.0, 6.0), 200


def _bar_labels(df: pd.DataFrame) -> list[str]:
    several = df["trace"].nunique() > 1
    return [f"{r.spec}" + (f" b={r.batch}" if r.target == "gpu" else "") + (f", {r.trace}" if several else "")
            for r in df.itertuples()]


def _num(v: float) -> str:
    """A bar's value: whole numbers with thousands separators from 100 up, 3 significant digits below."""
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"


def _annotate(ax, xs, tops, texts, fontsize=6.5) -> None:
    """A value above every bar: on a linear axis the small bars stay readable."""
    for x, top, text in zip(xs, tops, texts):
        ax.annotate(text, (x, top), xytext=(0, 2), textcoords="offset points", ha="center", va="bottom",
                    fontsize=fontsize)


def plot_compare(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Three panels on linear axes, one bar per row of a :func:`compare` table; writes PNG or SVG.

    - energy per token, stacked by component (only the components nonzero somewhere), static
      power in grey on top, so static and dynamic stand apart; a target whose spec has no static
      power says so above its bar;
    - latency per token (mean; the p99 marked where the run has it);
    - tokens per second.

    Every bar carries its value (a linear axis makes small bars thin); bars are labelled by spec
    file name (GPU bars with their batch). The figure is 10 x 6 in at 200 dpi.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise ValueError(f"plot: got suffix {path.suffix!r} in {str(path)!r}; allowed: {list(PLOT_SUFFIXES)}")
    if df.empty:
        raise ValueError("plot: the table has no rows to draw")
    df = df.reset_index(drop=True)
    filled = [c for c in df.columns if c.startswith(ENERGY_PREFIX)]
    df[filled] = df[filled].fillna(0.0)  # tables concatenated from several compare() calls
    xs = list(range(len(df)))
    labels = _bar_labels(df)
    dynamic = [c for c in energy_components(df) if c != "static" and (df[ENERGY_PREFIX + c] > 0).any()]
    palette = [plt.get_cmap("tab10")(i) for i in range(10) if i != 7]  # no grey: grey is static's
    palette += [plt.get_cmap("tab20b")(i) for i in range(20)]
    colors = {c: palette[i % len(palette)] for i, c in enumerate(dynamic)}
    fig, (ax_e, ax_l, ax_t) = plt.subplots(1, 3, figsize=FIGSIZE_IN, gridspec_kw={"width_ratios": [1.6, 1, 1]})

    bottom = [0.0] * len(df)
    for comp in dynamic:
        values = (df[ENERGY_PREFIX + comp].to_numpy(dtype=float) * 1e-6).tolist()
        ax_e.bar(xs, values, 0.7, bottom=bottom, color=colors[comp], edgecolor="black", linewidth=0.3)
        bottom = [b + v for b, v in zip(bottom, values)]
    static = (df.get(ENERGY_PREFIX + "static", pd.Series(0.0, index=df.index)).to_numpy(dtype=float) * 1e-6).tolist()
    ax_e.bar(xs, static, 0.7, bottom=bottom, color=STATIC_COLOR, hatch="//", edgecolor="black", linewidth=0.3)
    tops = [b + s for b, s in zip(bottom, static)]
    _annotate(ax_e, xs, tops, [_num(t) + ("\n(no static\npower)" if s == 0 else f"\n({100 * s / t:.0f}% static)")
                               if t > 0 else "0" for t, s in zip(tops, static)])
    ax_e.set_ylabel("energy per token (uJ)")
    ax_e.set_title("Energy per token", fontsize=10)
    handles = [Patch(facecolor=colors[c], edgecolor="black", linewidth=0.3, label=c) for c in dynamic]
    if any(v > 0 for v in static):
        handles.append(Patch(facecolor=STATIC_COLOR, hatch="//", edgecolor="black", linewidth=0.3,
                             label="static (power x time)"))
    ax_e.legend(handles=handles, fontsize=7, loc="upper right", title="component", title_fontsize=7)

    lat = df["latency_us_per_token"].to_numpy(dtype=float)
    ax_l.bar(xs, lat, 0.7, color="C0", edgecolor="black", linewidth=0.3)
    p99 = df["latency_us_p99"].to_numpy(dtype=float) if "latency_us_p99" in df else [float("nan")] * len(df)
    has_p99 = [x for x, v in zip(xs, p99) if not math.isnan(v)]
    if has_p99:
        ax_l.scatter(has_p99, [p99[x] for x in has_p99], marker="_", s=250, color="black", zorder=3, label="p99")
        ax_l.legend(fontsize=7, loc="upper right")
    _annotate(ax_l, xs, [a if math.isnan(b) else max(a, b) for a, b in zip(lat, p99)], [_num(v) for v in lat])
    ax_l.set_ylabel("latency per token (us), mean")
    ax_l.set_title("Latency", fontsize=10)

    tps = df["tokens_per_s"].to_numpy(dtype=float)
    ax_t.bar(xs, tps, 0.7, color="C2", edgecolor="black", linewidth=0.3)
    _annotate(ax_t, xs, tps, [_num(v) for v in tps])
    ax_t.set_ylabel("tokens per second")
    ax_t.set_title("Throughput", fontsize=10)

    from matplotlib.ticker import EngFormatter

    ax_t.yaxis.set_major_formatter(EngFormatter())
    for ax in (ax_e, ax_l, ax_t):
        ax.set_xticks(xs, labels, rotation=40, ha="right", rotation_mode="anchor", fontsize=7)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.18)  # room for the values above the bars
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    title = ", ".join(dict.fromkeys(df["trace"]))
    fig.suptitle(f"neurosim compare: {title}", fontsize=11)
    if any(v == 0 for v in static):
        fig.text(0.01, 0.005, "Targets marked 'no static power' have none in their spec: their energy is the counted "
                 "actions only, while the others include static power x time.", fontsize=7, color="0.3")
    fig.tight_layout(rect=(0, 0.025, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


#: the earlier name of :func:`plot_compare`
plot_energy = plot_compare


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

    formatters = {c: fmt for c in cols}
    formatters["static_share"] = lambda x: "-" if math.isnan(x) else f"{100 * x:.1f}%"
    return df[cols].to_string(index=False, formatters=formatters)


__all__ = [
    "compare",
    "energy_components",
    "format_table",
    "plot_compare",
    "plot_energy",
    "result_row",
    "spec_label",
    "write_table",
]
