"""Every example script runs; the GPU-vs-chips example reproduces the output checked in beside it."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def _main(name: str):
    return runpy.run_path(str(EXAMPLES / name), run_name="example")["main"]


def test_gpu_vs_neuromorphic_reproduces_its_checked_in_output(tmp_path, capsys):
    """examples/gpu_vs_neuromorphic.py (512 tokens, its default) prints and writes what is checked in beside it."""
    assert _main("gpu_vs_neuromorphic.py")(["--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "gpu_vs_neuromorphic.txt").read_text() == (EXAMPLES / "gpu_vs_neuromorphic.txt").read_text()
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "gpu_vs_neuromorphic.csv"),
                                  pd.read_csv(EXAMPLES / "gpu_vs_neuromorphic.csv"), rtol=1e-12)
    assert capsys.readouterr().out.startswith((EXAMPLES / "gpu_vs_neuromorphic.txt").read_text().splitlines()[0])


@pytest.mark.slow
def test_sparsity_sweep_runs_on_a_few_tokens(tmp_path, capsys, monkeypatch):
    """examples/sparsity_sweep.py on 4 tokens: every point ok, the ratio table printed, every figure written."""
    monkeypatch.setattr(sys, "argv", ["sparsity_sweep.py"])
    out, figures = tmp_path / "s.parquet", tmp_path / "figures"
    assert _main("sparsity_sweep.py")(["--tokens", "4", "--workers", "1", "--out", str(out),
                                       "--figures", str(figures)]) == 0
    df = pd.read_parquet(out)
    assert (df["status"] == "ok").all() and set(df["arch"]) == {"loihi_like", "spinnaker2_like"}
    assert "measured / dense per metric" in capsys.readouterr().out
    assert {p.name for p in figures.glob("*.png")} >= {"sparsity_ratios.png", "sparsity_breakdown.png",
                                                         "sparsity_energy_loihi_like.png"}


def test_sweep_small_spec_plans_its_documented_points():
    """examples/sweep_small.yaml: 24 points in 12 simulations, as its header says."""
    from neurosim.sweep import groups, load_sweep

    sw = load_sweep(EXAMPLES / "sweep_small.yaml")
    assert (len(sw.points), len(groups(sw.points))) == (24, 12)


def test_sweep_small_points_differ(tmp_path):
    """examples/sweep_small.yaml (on 16 tokens) moves the result: spreading changes cycles and energy, the flit
    width matters once packets leave their router, and every point is distinct."""
    import yaml

    from neurosim.sweep import sweep

    spec = yaml.safe_load((EXAMPLES / "sweep_small.yaml").read_text())
    spec["options"]["tokens"] = 16
    for t in spec["traces"]:
        t["synthetic"]["tokens"] = 16
    df = sweep(spec, tmp_path / "small.parquet", progress=False, root=EXAMPLES)
    assert (df["status"] == "ok").all() and len(df) == 24
    by = df.groupby(["trace", "option.min_cores", "arch.noc.flit_bits"])["cycles_per_token"].first()
    for trace in df["trace"].unique():
        cycles = by[trace]
        assert cycles[1, 8] == pytest.approx(cycles[1, 32], rel=1e-3)  # packed: no flit crosses a mesh link
        assert cycles[64, 8] > 1.2 * cycles[64, 32]  # spread: narrow flits hold the links longer
        assert cycles[16, 32] < cycles[1, 32]  # spread over more cores: shorter steps
    assert df["flit_hops_per_token"][df["option.min_cores"] > 1].gt(0).all()
    assert len(df[["cycles_per_token", "energy_pj_per_token"]].drop_duplicates()) == 24
