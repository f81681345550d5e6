"""Analysis: Pareto fronts, scatter plots and heat maps of sweep results; the figures of one run.

The sweep functions work on the results table of :func:`neurosim.sweep.sweep`
(one row per point), or on any frame with the named columns; :func:`plot_run`
and its parts draw the arrays of one chip :class:`~neurosim.result.Result`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def _matplotlib():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _require(df: pd.DataFrame, *columns: str | None) -> None:
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        known = sorted(df.columns)
        raise ValueError(f"columns {missing}: not in the results; known columns: {known}")


def pareto_front(df: pd.DataFrame, x: str, y: str, minimize: tuple[bool, bool] = (True, True)) -> pd.DataFrame:
    """The rows of ``df`` that no other row dominates in (``x``, ``y``), sorted by ``x``.

    A row dominates another when it is at least as good in both columns and
    strictly better in one; rows with a missing ``x`` or ``y`` are ignored.
    Identical rows on the front are all kept.

    Examples
    --------
    >>> df = pd.DataFrame({"e": [1, 2, 3, 2], "c": [3, 1, 2, 3]})
    >>> pareto_front(df, "e", "c")["e"].tolist()
    [1, 2]
    """
    _require(df, x, y)
    sub = df.dropna(subset=[x, y])
    xs = sub[x].to_numpy(dtype=float) * (1.0 if minimize[0] else -1.0)
    ys = sub[y].to_numpy(dtype=float) * (1.0 if minimize[1] else -1.0)
    order = np.lexsort((ys, xs))  # by x, then y: both minimised now
    keep = np.zeros(len(sub), dtype=bool)
    best_before = np.inf  # lowest y among rows with a strictly smaller x
    i = 0
    while i < len(order):
        j = i
        while j < len(order) and xs[order[j]] == xs[order[i]]:
            j += 1
        tie = order[i:j]
        y_min = ys[tie].min()  # rows at this x with a higher y are dominated by the lowest one
        if y_min < best_before:
            keep[tie[ys[tie] == y_min]] = True
        best_before = min(best_before, y_min)
        i = j
    front = sub.iloc[np.flatnonzero(keep)]
    return front.sort_values([x, y], ascending=[minimize[0], minimize[1]], kind="stable")


def plot(
    df: pd.DataFrame,
    x: str,
    y: str,
    *,
    hue: str | None = None,
    out: str | Path = "plot.png",
    pareto: bool = False,
    minimize: tuple[bool, bool] = (True, True),
    logx: bool = False,
    logy: bool = False,
    title: str | None = None,
) -> Path:
    """Scatter ``y`` over ``x`` (coloured by ``hue``), optionally with the Pareto front; writes ``out``."""
    _require(df, x, y, hue)
    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    if hue is None:
        ax.scatter(df[x], df[y], s=18, alpha=0.8)
    elif pd.api.types.is_numeric_dtype(df[hue]) and df[hue].nunique() > 8:
        sc = ax.scatter(df[x], df[y], c=df[hue], s=18, cmap="viridis")
        fig.colorbar(sc, ax=ax, label=hue)
    else:
        for value, part in df.groupby(hue, sort=True, dropna=False):
            ax.scatter(part[x], part[y], s=18, alpha=0.8, label=f"{value}")
        ax.legend(title=hue, fontsize="small")
    if pareto and len(df):
        front = pareto_front(df, x, y, minimize)
        ax.plot(front[x], front[y], "k-", lw=1.2, drawstyle="steps-post" if minimize == (True, True) else "default",
                label="Pareto front", zorder=3)
        ax.scatter(front[x], front[y], s=40, facecolors="none", edgecolors="k", zorder=4)
    ax.set_xscale("log" if logx else "linear")
    ax.set_yscale("log" if logy else "linear")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    if title:
        ax.set_title(title)
    ax.grid(True, alpha=0.3)
    return _save(fig, out)


def _save(fig, path, dpi: int = 120):
    """Lay out, write (creating the folder) and close a figure; its path (or a file object, written as PNG)."""
    fig.tight_layout()
    if hasattr(path, "write"):
        fig.savefig(path, dpi=dpi, format="png")
    else:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    _matplotlib().close(fig)
    return path


def heatmap(
    df: pd.DataFrame,
    x: str,
    y: str,
    value: str,
    path: str | Path,
    *,
    agg: str = "mean",
    title: str | None = None,
    fmt: str = "{:.3g}",
    log: bool = False,
    cmap: str = "viridis",
) -> pd.DataFrame:
    """A heat map of ``value`` over (``x``, ``y``), e.g. energy per token over activity x weight sparsity.

    Rows sharing an (``x``, ``y``) cell are combined with ``agg``. Writes the
    image to ``path`` and returns the grid (``y`` down, ``x`` across).
    """
    _require(df, x, y, value)
    grid = df.pivot_table(index=y, columns=x, values=value, aggfunc=agg).sort_index().sort_index(axis=1)
    plt = _matplotlib()
    from matplotlib.colors import LogNorm

    fig, ax = plt.subplots(figsize=(1.1 * grid.shape[1] + 2.2, 0.7 * grid.shape[0] + 1.6))
    data = grid.to_numpy(dtype=float)
    norm = LogNorm(vmin=np.nanmin(data[data > 0]), vmax=np.nanmax(data)) if log and (data > 0).any() else None
    im = ax.imshow(data, origin="lower", aspect="auto", cmap=cmap, norm=norm)
    ax.set_xticks(range(grid.shape[1]), [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    finite = data[np.isfinite(data)]
    mid = np.sqrt(finite.min() * finite.max()) if log and finite.size and finite.min() > 0 else (
        (finite.min() + finite.max()) / 2 if finite.size else 0)
    for (r, c), v in np.ndenumerate(data):
        if np.isfinite(v):
            ax.text(c, r, fmt.format(v), ha="center", va="center", fontsize=8, color="w" if v < mid else "k")
    fig.colorbar(im, ax=ax, label=value)
    ax.set_title(title or value, fontsize=10)
    _save(fig, path)
    return grid


# ----------------------------------------------------------------------------- inside one run

#: The figures of :func:`plot_run`, in order: file stem and what it shows.
RUN_PLOTS = {
    "power": "power over time (energy of each timestep over its time)",
    "latency": "distribution of the token latency, with p50 / p95 / p99",
    "core_load": "busy cycles of each router's cores on the mesh",
    "link_load": "flits on each mesh link, between the routers",
}


def _mesh(result) -> tuple[int, int, int]:
    m = result.meta
    missing = [k for k in ("mesh_x", "mesh_y", "cores_per_router") if k not in m]
    if missing:
        raise ValueError(f"{result.arch} on {result.trace}: meta {missing} missing; the mesh plots need a chip run")
    return int(m["mesh_x"]), int(m["mesh_y"]), int(m["cores_per_router"])


def _need(result, name: str):
    a = result.arrays.get(name)
    if a is None:
        raise ValueError(f"{result.arch} on {result.trace}: no {name!r} array in the result (a chip run keeps it; "
                         "sweeps and GPU runs do not)")
    return a


def plot_power(result, path) -> Path:
    """Power of every timestep (W) over time (ms), with the mean; the static floor where there is one."""
    plt = _matplotlib()
    cycles = _need(result, "step_cycles").astype(np.float64)
    cycle_s = float(result.meta.get("cycle_s", result.time_s_per_token / max(result.cycles_per_token, 1e-300)))
    t_ms = np.concatenate([[0.0], np.cumsum(cycles)]) * cycle_s * 1e3
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    energy = result.arrays.get("step_energy_pj")
    if energy is not None:
        step_s = cycles * cycle_s
        power = np.divide(energy.astype(np.float64) * 1e-12, step_s, out=np.zeros_like(step_s), where=step_s > 0)
        ax.stairs(power, t_ms, color="C0", lw=0.8, label="per timestep")
        ax.set_ylabel("power (W)")
        static = result.static_energy_pj_per_token * 1e-12 / result.time_s_per_token
        if static > 0:
            ax.axhline(static, color="0.4", ls=":", lw=1, label=f"static {static:.3g} W")
        if result.power_w_mean is not None:
            ax.axhline(result.power_w_mean, color="C3", ls="--", lw=1, label=f"mean {result.power_w_mean:.3g} W")
        ax.set_ylim(0, (power.max() if power.size else 1.0) * 1.3)  # room for the legend above the trace
        ax.legend(fontsize=7, loc="upper right", ncol=3)
        ax.set_title(f"Power over time: {result.trace} on {result.arch}", fontsize=9)
    else:  # no per-step energies (an engine without per-step counts): the step times instead
        ax.stairs(cycles, t_ms, color="C0", lw=0.8)
        ax.set_ylabel("cycles per timestep")
        ax.set_title(f"Cycles per timestep (no per-step energies): {result.trace} on {result.arch}", fontsize=9)
    windows = int(result.meta.get("sample_windows") or 0)
    if windows > 1 and cycles.size % windows == 0:  # a sampled run: its windows joined end to end
        for k in range(1, windows):
            ax.axvline(t_ms[k * cycles.size // windows], color="0.3", lw=0.6, ls="-.")
        ax.set_title(ax.get_title() + f" ({windows} sampled windows, joined)", fontsize=9)
    ax.set_xlabel("time (ms)")
    ax.set_xlim(t_ms[0], t_ms[-1])
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def plot_latency(result, path) -> Path:
    """Histogram of the token latency (us) with its p50, p95 and p99 marked."""
    plt = _matplotlib()
    cycle_s = float(result.meta.get("cycle_s", 0.0)) or result.latency_s_per_token / max(result.cycles_per_token, 1)
    lat_us = _need(result, "token_latency_cycles").astype(np.float64) * cycle_s * 1e6
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    ax.hist(lat_us, bins=min(60, max(10, lat_us.size // 4)), color="C0", alpha=0.8)
    for q, style in ((50, "-"), (95, "--"), (99, ":")):
        v = getattr(result, f"latency_s_p{q}")
        if v is not None:
            ax.axvline(v * 1e6, color="C3", ls=style, lw=1.2, label=f"p{q} {v * 1e6:,.1f} us")
    ax.set_xlabel("token latency (us)")
    ax.set_ylabel("tokens")
    ax.legend(fontsize=7)
    ax.set_title(f"Token latency, {lat_us.size} tokens: {result.trace} on {result.arch}", fontsize=9)
    ax.grid(True, alpha=0.3)
    return _save(fig, path)


def router_load(result) -> np.ndarray:
    """Busy cycles per router (its cores summed), float [mesh_y, mesh_x] (row y, column x)."""
    mx, my, cpr = _mesh(result)
    busy = _need(result, "core_busy_cycles").astype(np.float64)
    per_router = np.zeros(mx * my)
    np.add.at(per_router, np.arange(busy.size) // cpr, busy)
    return per_router.reshape(my, mx)


def mesh_link_flits(result) -> np.ndarray:
    """Flits per mesh link, int64 [mesh_y, mesh_x, 4] (directions EAST, WEST, NORTH, SOUTH of
    :mod:`neurosim.engine.layout`), from the ``link_flits`` array."""
    mx, my, _ = _mesh(result)
    flits = _need(result, "link_flits")
    n_cores = _need(result, "core_busy_cycles").size
    return np.asarray(flits[2 * n_cores: 2 * n_cores + 4 * mx * my], dtype=np.int64).reshape(my, mx, 4)


def plot_core_load(result, path) -> Path:
    """Heat map of the mesh: each router's cores' busy cycles per token (x across, y up)."""
    plt = _matplotlib()
    load = router_load(result) / result.tokens
    my, mx = load.shape
    fig, ax = plt.subplots(figsize=(min(9.0, 1.2 + 0.55 * mx + 1.4), min(8.0, 1.2 + 0.55 * my)))
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.93")  # idle routers: light grey, not a small load
    im = ax.imshow(np.ma.masked_equal(load, 0), origin="lower", cmap=cmap, vmin=0, vmax=max(load.max(), 1e-12))
    if mx * my <= 256:
        ax.set_xticks(range(mx))
        ax.set_yticks(range(my))
    ax.set_xlabel("router x")
    ax.set_ylabel("router y")
    fig.colorbar(im, ax=ax, label="busy cycles per token (router's cores)")
    used = int((load > 0).sum())
    ax.set_title(f"Core load: {used}/{mx * my} routers busy (grey: idle)", fontsize=9)
    return _save(fig, path)


def plot_link_load(result, path) -> Path:
    """The mesh with its links drawn between routers, width and colour by flits per token."""
    plt = _matplotlib()
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    flits = mesh_link_flits(result) / result.tokens
    my, mx, _ = flits.shape
    load = router_load(result) / result.tokens
    fig, ax = plt.subplots(figsize=(min(11.0, 2.6 + 0.9 * mx), min(9.0, 1.5 + 0.9 * my)))
    off = 0.12  # the two directions of a link side by side
    segments, values = [], []
    step = {0: (1, 0), 1: (-1, 0), 2: (0, 1), 3: (0, -1)}  # EAST, WEST, NORTH, SOUTH
    for y in range(my):
        for x in range(mx):
            for d, (dx, dy) in step.items():
                xb, yb = x + dx, y + dy
                if not (0 <= xb < mx and 0 <= yb < my):
                    continue
                side = off if d in (0, 2) else -off
                ox, oy = (0, side) if dx else (side, 0)
                segments.append([(x + 0.18 * dx + ox, y + 0.18 * dy + oy), (xb - 0.18 * dx + ox, yb - 0.18 * dy + oy)])
                values.append(flits[y, x, d])
    values = np.asarray(values, dtype=np.float64)
    top = values.max() if values.size and values.max() > 0 else 1.0
    norm = Normalize(0, top)
    cmap = plt.get_cmap("viridis")
    shown = values > 0
    ax.add_collection(LineCollection([s for s, k in zip(segments, shown) if not k], colors="0.85", linewidths=0.5))
    if shown.any():
        ax.add_collection(LineCollection([s for s, k in zip(segments, shown) if k], colors=cmap(norm(values[shown])),
                                         linewidths=1.2 + 4.5 * values[shown] / top))
    gx, gy = np.meshgrid(range(mx), range(my))
    busy = load > 0
    ax.scatter(gx[busy], gy[busy], s=60, marker="s", color="0.25", zorder=3, label="router with busy cores")
    ax.scatter(gx[~busy], gy[~busy], s=40, marker="s", facecolors="white", edgecolors="0.5", zorder=3,
               label="idle router")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.12), ncol=2, frameon=False)
    ax.set_xlim(-0.6, mx - 0.4)
    ax.set_ylim(-0.6, my - 0.4)
    ax.set_aspect("equal")
    ax.set_xticks(range(mx))
    ax.set_yticks(range(my))
    ax.set_xlabel("router x")
    ax.set_ylabel("router y")
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="flits per token")
    total = values.sum()
    ax.set_title(f"Link load: {int(shown.sum())} of {values.size} mesh links used, {total:,.1f} flits per token"
                 + ("" if total else " (all traffic inside one router)"), fontsize=9)
    return _save(fig, path)


def plot_run(result, out_dir) -> list[Path]:
    """Every figure of :data:`RUN_PLOTS` that ``result`` has the arrays for, as PNGs in ``out_dir``."""
    out_dir = Path(out_dir)
    makers = {"power": plot_power, "latency": plot_latency, "core_load": plot_core_load,
              "link_load": plot_link_load}
    written = []
    for name, make in makers.items():
        if name == "link_load" and "link_flits" not in result.arrays:
            continue
        written.append(make(result, out_dir / f"{name}.png"))
    return written
