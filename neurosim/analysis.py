"""Analysis of sweep results: Pareto fronts, scatter plots and heat maps.

Works on the results table of :func:`neurosim.sweep.sweep` (one row per
point), or on any frame with the named columns.
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


def _save(fig, path) -> Path:
    """Lay out, write (creating the folder) and close a figure; its path."""
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
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
