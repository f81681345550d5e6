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


ROOT = EXAMPLES.parent
TRACES = ROOT / "traces"


def test_trace_table_is_the_table_in_traces_readme(capsys):
    """examples/trace_table.py on the shipped traces prints, row for row, the table in traces/README.md."""
    assert _main("trace_table.py")([]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| `")]
    assert len(rows) == len(list(TRACES.glob("*.npz")))
    readme = [line for line in (TRACES / "README.md").read_text().splitlines() if line.startswith("| `")]
    missing = [r for r in rows if r not in readme]
    assert not missing, f"traces/README.md is stale; rerun examples/trace_table.py: {missing}"


def test_training_curves_from_the_shipped_traces(tmp_path, capsys):
    """examples/training_curves.py: one row per ladder trace; the best validation it finds on the curve is the
    one the export recorded, at the checkpoint the trace came from; the old traces are listed as without a curve."""
    import neurosim

    example = runpy.run_path(str(EXAMPLES / "training_curves.py"), run_name="example")
    out = tmp_path / "curves"
    assert example["main"](["--out", str(out)]) == 0
    assert out.with_suffix(".png").stat().st_size > 0
    text = out.with_suffix(".md").read_text()
    assert capsys.readouterr().out.strip() == text.strip()
    for path in sorted(TRACES.glob("*.npz")):
        meta = neurosim.load_trace(path, tokens=1).meta
        curve = example["curve_of"](meta)
        if curve is None:
            assert (meta.get("recipe") or {}).get("schedule") != "plateau"
            assert f"`{path.stem}`" in text.splitlines()[-1]  # the "without a validation curve" line
            continue
        row = example["summary"](path.stem, meta, curve)
        training = meta["training"]
        assert row["best_val_ppl"] == training["best_val_ppl"]
        assert row["best_epoch"] == training.get("exported_epoch", training["epochs_done"])
        assert row["lr_cuts"] == training["lr_cuts"] and f"| `{path.stem}` |" in text


def test_seed_figure_on_a_matched_pair(tmp_path, capsys):
    """examples/seed_figure.py on an EGRU and an LSTM of matched perplexity (4 tokens each): one row per trace
    and target with finite, positive figures, and the pair found."""
    import neurosim

    traces = tmp_path / "traces"
    traces.mkdir()
    for name in ("ptb_egru95", "ptb_lstm0_small"):
        (traces / f"{name}.npz").symlink_to(TRACES / f"{name}.npz")
    out = tmp_path / "seed"
    assert _main("seed_figure.py")(["--traces", str(traces), "--tokens", "4", "--out", str(out)]) == 0
    df = pd.read_csv(out.with_suffix(".csv"))
    assert len(df) == 6 and (df["status"] == "ok").all() and (df["trace_tokens"] == 4).all()
    assert (df["energy_pj_per_token"] > 0).all() and (df["latency_s_per_token"] > 0).all()
    for name, g in df.groupby("trace"):
        assert (g["perplexity"] == neurosim.load_trace(traces / f"{name}.npz", tokens=1).meta["perplexity"]).all()
    text = out.with_suffix(".md").read_text()
    assert "| ptb_egru95 | ptb_lstm0_small |" in text and "nan" not in text
    assert capsys.readouterr().out.strip() == text.strip()


def test_checked_in_seed_figure_matches_the_shipped_traces():
    """docs/figures/seed_figure.csv covers every shipped PTB trace, at the perplexity its file holds now."""
    import neurosim

    df = pd.read_csv(ROOT / "docs" / "figures" / "seed_figure.csv")
    shipped = {p.stem: neurosim.load_trace(p, tokens=1).meta for p in TRACES.glob("*.npz")}
    ptb = {n for n, m in shipped.items() if m["dataset"] == "ptb"}
    assert set(df["trace"]) == ptb, "docs/figures/seed_figure.* is stale; rerun examples/seed_figure.py"
    for name, g in df.groupby("trace"):
        assert g["perplexity"].iloc[0] == pytest.approx(shipped[name]["perplexity"], rel=1e-12), name


def test_compare_pruning_on_the_shipped_pair(capsys):
    """examples/compare_pruning.py (4 tokens): the units it finds without fan-out are those the export recorded,
    NeuroPrune's layer-1 fan-out is more concentrated (hubs) than magnitude pruning's, and the table is printed."""
    import neurosim

    example = runpy.run_path(str(EXAMPLES / "compare_pruning.py"), run_name="example")
    pair = [TRACES / "ptb_egru90.npz", TRACES / "ptb_egru90_neuroprune.npz"]
    rows = [example["describe"](path, 4, ROOT / "arch_specs") for path in pair]
    for path, row in zip(pair, rows):
        assert row["units_removed"] == neurosim.load_trace(path, tokens=1).meta["units_without_fanout"]
        for chip in ("loihi_like", "spinnaker2_like"):
            assert 0 < row[chip]["latency_cycles_mean"] <= row[chip]["latency_cycles_p99"]
            assert row[chip]["cores_used"] > 0 and row[chip]["energy_pj_per_token"] > 0
            alone = row[f"{chip}_recurrent"]  # without the decoder: fewer cores, packets and joules
            assert 0 < alone["cores_used"] < row[chip]["cores_used"]
            assert 0 < alone["packets_per_token"] < row[chip]["packets_per_token"]
            assert 0 < alone["energy_pj_per_token"] < row[chip]["energy_pj_per_token"]
    assert rows[1]["fanout"][1]["gini"] > rows[0]["fanout"][1]["gini"]
    assert example["main"](["--traces", *map(str, pair), "--tokens", "4"]) == 0
    assert "| units removed per layer | 98, 10 | 128, 150 |" in capsys.readouterr().out


def test_threshold_census_of_the_headline_egru():
    """examples/threshold_census.py on ptb_egru90 with its shipped small checkpoint: the negative thresholds it
    counts are the checkpoint's, each layer's event shares add up (rate x units of both groups), and a
    checkpoint that is not the trace's is refused."""
    import numpy as np

    from neurosim.models.train import load_checkpoint
    from neurosim.trace import load_trace

    example = runpy.run_path(str(EXAMPLES / "threshold_census.py"), run_name="example")
    ckpt = ROOT / "checkpoints" / "ptb_egru90.pt"
    rows = example["census"](TRACES / "ptb_egru90.npz", ckpt, 512)
    state = load_checkpoint(ckpt)["model_state"]
    for r in rows:
        theta = state[f"layers.{r['layer']}.theta"].float()
        assert r["negative"] == int((theta < 0).sum()) > 0 and r["theta_min"] == pytest.approx(float(theta.min()))
        neg_events = r["rate_negative"] * r["negative"]
        all_events = neg_events + r["rate_other"] * (r["units"] - r["negative"])
        assert r["event_share_negative"] == pytest.approx(neg_events / all_events, rel=1e-9)
    # the busiest tenth and the silent units, counted again from the trace's events
    trace = load_trace(TRACES / "ptb_egru90.npz", tokens=512)
    for r, layer in zip(rows, trace.layers):
        per_unit = np.sort(layer.events.sum(axis=0))[::-1]
        assert r["event_share_top_tenth"] == pytest.approx(per_unit[: r["units"] // 10].sum() / per_unit.sum())
        assert r["event_share_top_tenth"] >= 0.1 and r["silent"] == int((per_unit == 0).sum())
    with pytest.raises(ValueError, match="exported"):
        example["census"](TRACES / "ptb_egru95.npz", ckpt, 16)
