"""Analysis helpers: Pareto front against a hand-made frame and a brute-force oracle, plots written."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.image import imread

from neurosim.analysis import heatmap, pareto_front, plot


def brute_front(x: np.ndarray, y: np.ndarray) -> set[int]:
    """Indices no other point dominates (both minimised), by checking every pair."""
    keep = set()
    for i in range(len(x)):
        dominated = any(
            x[j] <= x[i] and y[j] <= y[i] and (x[j] < x[i] or y[j] < y[i]) for j in range(len(x)) if j != i
        )
        if not dominated:
            keep.add(i)
    return keep


def test_pareto_front_hand_made():
    """The non-dominated rows of a small frame, sorted by x; dominated, tied-worse and NaN rows are dropped."""
    df = pd.DataFrame({
        "energy": [5.0, 1.0, 3.0, 2.0, 4.0, 3.0, np.nan, 1.0],
        "cycles": [1.0, 9.0, 3.0, 5.0, 1.0, 4.0, 0.0, 9.5],
        "name": list("abcdefgh"),
    })
    front = pareto_front(df, "energy", "cycles")
    assert front["name"].tolist() == ["b", "d", "c", "e"]
    assert front.index.tolist() == [1, 3, 2, 4]


def test_pareto_front_maximise_and_duplicates():
    """Maximising a column flips its direction; identical front points are all kept."""
    df = pd.DataFrame({"acc": [0.9, 0.8, 0.9, 0.95, 0.7], "energy": [3.0, 1.0, 3.0, 5.0, 2.0]})
    front = pareto_front(df, "acc", "energy", minimize=(False, True))
    assert sorted(front.index.tolist()) == [0, 1, 2, 3]
    assert front["acc"].tolist() == [0.95, 0.9, 0.9, 0.8]


def test_pareto_front_matches_brute_force():
    """On random integer grids (many ties) the front equals the pairwise definition."""
    rng = np.random.default_rng(0)
    for _ in range(20):
        x, y = rng.integers(0, 6, 30).astype(float), rng.integers(0, 6, 30).astype(float)
        front = pareto_front(pd.DataFrame({"x": x, "y": y}), "x", "y")
        assert set(front.index) == brute_front(x, y)


def test_pareto_front_unknown_column():
    """A missing column is named along with the known ones."""
    with pytest.raises(ValueError, match=r"\['nope'\].*known columns"):
        pareto_front(pd.DataFrame({"a": [1]}), "a", "nope")


def test_heatmap_and_plot_write_files(tmp_path):
    """heatmap returns the (y x x) grid of the value and writes a PNG; plot writes a PNG with the front."""
    df = pd.DataFrame([{"a": a, "w": w, "e": (1 - a) * (1 - w), "arch": arch}
                       for a in (0.0, 0.5, 0.9) for w in (0.0, 0.9) for arch in ("p", "q")])
    grid = heatmap(df, "a", "w", "e", tmp_path / "h.png")
    assert grid.shape == (2, 3) and grid.loc[0.9, 0.5] == pytest.approx(0.05)
    assert imread(tmp_path / "h.png").shape[:2] == (360, 660)  # (0.7 x 2 + 1.6, 1.1 x 3 + 2.2) inches at 120 dpi
    out = plot(df, "a", "e", hue="arch", out=tmp_path / "s.png", pareto=True, logy=False)
    assert imread(out).shape[:2] == (528, 768)  # 6.4 x 4.4 inches at 120 dpi
