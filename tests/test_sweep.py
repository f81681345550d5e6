"""Sweeps: spec validation, resume, local/Dask equality, bad points, re-costing without re-simulation."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY_ARCH
from matplotlib.image import imread

import neurosim
from neurosim.cli import main
from neurosim.spec import SpecError
from neurosim.sweep import TIMING_COLUMNS, load_sweep, parts_dir, read_results, recost, sweep
from neurosim.trace import synthetic

SYNTH = {"hidden_sizes": [24, 16], "input_size": 10, "activity": [0.2, 0.5], "weight_sparsity": 0.6, "tokens": 10,
         "seed": 3}


@pytest.fixture
def arch_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_ARCH))
    return path


def make_spec(arch_yaml, **axes) -> dict:
    grid = axes or {"noc.flit_bits": [16, 32], "energy_pj.synop": [1.0, 2.5]}
    return {
        "version": 1,
        "name": "test",
        "arch": arch_yaml.name,
        "traces": [{"synthetic": copy.deepcopy(SYNTH)}],
        "axes": {"grid": grid},
        "options": {"tokens": 10},
    }


def comparable(df: pd.DataFrame) -> pd.DataFrame:
    """The table without the wall-clock columns, which differ between runs."""
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df]).reset_index(drop=True)


def test_plan_ids_stable_and_grouped(arch_yaml):
    """Point ids are stable hashes; energy-only variants share a simulation id."""
    a = load_sweep(make_spec(arch_yaml), root=arch_yaml.parent)
    b = load_sweep(make_spec(arch_yaml), root=arch_yaml.parent)
    assert [p.point_id for p in a.points] == [p.point_id for p in b.points]
    assert len(a.points) == 2 * 2 * 2 and len({p.point_id for p in a.points}) == 8
    assert len({p.sim_id for p in a.points}) == 4  # 2 activities x 2 flit widths


def test_resume_after_interrupt_gives_same_table(arch_yaml, tmp_path):
    """A sweep interrupted after its first group, then rerun, equals an uninterrupted sweep and skips done points."""
    spec = make_spec(arch_yaml)
    full = sweep(spec, tmp_path / "full.parquet", progress=False, root=arch_yaml.parent)
    assert len(full) == 8 and (full["status"] == "ok").all()

    out = tmp_path / "resumed.parquet"

    def interrupt(rows):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sweep(spec, out, progress=False, on_rows=interrupt, root=arch_yaml.parent)
    assert not out.exists() and any(parts_dir(out).glob("part-*.parquet"))
    saved = read_results(out)
    assert len(saved) == 2  # the first group: one simulation, one re-costing

    seen = []
    resumed = sweep(spec, out, progress=False, on_rows=seen.extend, root=arch_yaml.parent)
    assert len(seen) == 6 and not {r["point_id"] for r in seen} & set(saved["point_id"])
    assert not parts_dir(out).exists()
    pd.testing.assert_frame_equal(comparable(resumed), comparable(full))
    pd.testing.assert_frame_equal(comparable(pd.read_parquet(out)), comparable(full))

    again = []
    sweep(spec, out, progress=False, on_rows=again.extend, root=arch_yaml.parent)
    assert again == []  # everything done: nothing runs


def test_dask_and_local_processes_match_in_process(arch_yaml, tmp_path):
    """The same sweep on a Dask LocalCluster and on 2 local processes gives the rows of an in-process run."""
    distributed = pytest.importorskip("dask.distributed")
    spec = make_spec(arch_yaml)
    base = sweep(spec, tmp_path / "inproc.parquet", workers=1, progress=False, root=arch_yaml.parent)
    with distributed.LocalCluster(processes=False, n_workers=1, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        dask_df = sweep(spec, tmp_path / "dask.parquet", scheduler=cluster.scheduler_address, progress=False,
                        root=arch_yaml.parent)
    pd.testing.assert_frame_equal(comparable(dask_df), comparable(base))
    local = sweep(spec, tmp_path / "local.parquet", workers=2, progress=False, root=arch_yaml.parent)
    pd.testing.assert_frame_equal(comparable(local), comparable(base))


def test_bad_point_is_recorded_not_fatal(arch_yaml, tmp_path):
    """A point whose network does not fit (MappingError) is a row with its error; the other points run."""
    spec = make_spec(arch_yaml, **{"cores.synapse_memory_bytes": [8192, 64]})
    df = sweep(spec, tmp_path / "r.parquet", progress=False, root=arch_yaml.parent)
    bad = df[df["arch.cores.synapse_memory_bytes"] == 64]
    good = df[df["arch.cores.synapse_memory_bytes"] == 8192]
    assert len(bad) == 2 and (bad["status"] == "error").all()
    assert bad["error"].str.startswith("MappingError: ").all() and not bad["error"].str.contains("\n").any()
    assert bad["cycles_per_token"].isna().all()
    assert (good["status"] == "ok").all() and good["error"].isna().all()


def test_recosted_energy_equals_fresh_simulation(arch_yaml, tmp_path):
    """Points differing only in energy constants are re-costed, and equal a fresh simulation of each."""
    spec = make_spec(arch_yaml, **{"energy_pj.synop": [1.0, 7.5], "static_power_w": [0.0, 0.05],
                                   "energy_pj.hop_x_per_flit": [0.7, 3.0]})
    spec["traces"][0]["synthetic"]["activity"] = 0.4
    df = sweep(spec, tmp_path / "r.parquet", progress=False, root=arch_yaml.parent)
    assert len(df) == 8 and df["recosted"].sum() == 7 and df["sim_id"].nunique() == 1
    trace = synthetic(SYNTH["hidden_sizes"], input_size=10, activity=0.4, weight_sparsity=0.6, tokens=10, seed=3)
    for _, row in df.iterrows():
        over = {k: row[f"arch.{k}"] for k in ("energy_pj.synop", "static_power_w", "energy_pj.hop_x_per_flit")}
        fresh = neurosim.run(arch_yaml, trace, overrides=over)
        assert row["energy_pj_per_token"] == pytest.approx(fresh.energy_pj_per_token, rel=1e-12)
        for k, v in fresh.energy_breakdown_pj_per_token.items():
            assert row[f"energy_breakdown_pj_per_token.{k}"] == pytest.approx(v, rel=1e-12, abs=1e-12)
        assert row["cycles_per_token"] == fresh.cycles_per_token


def test_recost_helper_on_a_results_table(arch_yaml, tmp_path):
    """recost() of a stored table equals a fresh simulation; a non-energy change is refused."""
    df = sweep(make_spec(arch_yaml, **{"noc.flit_bits": [16]}), tmp_path / "r.parquet", progress=False,
               root=arch_yaml.parent)
    cheap = recost(df, arch_yaml, ["energy_pj.synop=0.25", "static_power_w=0.2"])
    assert cheap["recosted"].all() and (cheap["arch.energy_pj.synop"] == 0.25).all()
    for _, row in cheap.iterrows():
        trace = synthetic(SYNTH["hidden_sizes"], input_size=10, activity=row["trace.activity"], weight_sparsity=0.6,
                          tokens=10, seed=3)
        fresh = neurosim.run(arch_yaml, trace, overrides=["energy_pj.synop=0.25", "static_power_w=0.2",
                                                          "noc.flit_bits=16"])
        assert row["energy_pj_per_token"] == pytest.approx(fresh.energy_pj_per_token, rel=1e-12)
        assert row["energy_j_per_token"] == pytest.approx(fresh.energy_pj_per_token * 1e-12, rel=1e-12)
    with pytest.raises(SpecError, match="re-costing"):
        recost(df, arch_yaml, ["cores.synops_per_cycle=2"])


def test_bad_axis_path_one_line_error(arch_yaml):
    """A misspelt axis key fails before running, in one line naming the path and the known keys."""
    with pytest.raises(SpecError) as err:
        load_sweep(make_spec(arch_yaml, **{"noc.flitbits": [16]}), root=arch_yaml.parent)
    msg = str(err.value)
    assert "\n" not in msg and "noc.flitbits" in msg and "flit_bits" in msg and "known keys" in msg
    with pytest.raises(SpecError, match="energy_pj.synapse: .*known keys"):
        load_sweep(make_spec(arch_yaml, **{"energy_pj.synapse": [1.0]}), root=arch_yaml.parent)


def test_bad_values_and_keys_fail_with_path(arch_yaml):
    """Wrong axis values, unknown spec keys and a missing trace file name the offending key."""
    with pytest.raises(SpecError, match=r"noc.flit_bits: got 0"):
        load_sweep(make_spec(arch_yaml, **{"noc.flit_bits": [16, 0]}), root=arch_yaml.parent)
    spec = make_spec(arch_yaml)
    spec["optoins"] = {}
    with pytest.raises(SpecError, match="optoins: unknown key"):
        load_sweep(spec, root=arch_yaml.parent)
    spec = make_spec(arch_yaml)
    spec["traces"][0]["synthetic"]["activity"] = [0.2, 1.5]
    with pytest.raises(SpecError, match="traces.0.synthetic.activity"):
        load_sweep(spec, root=arch_yaml.parent)
    spec = make_spec(arch_yaml)
    spec["traces"].append({"file": "nope/*.npz"})
    with pytest.raises(SpecError, match="nope"):
        load_sweep(spec, root=arch_yaml.parent)
    spec["traces"][1]["optional"] = True
    assert len(load_sweep(spec, root=arch_yaml.parent).points) == 8


def test_random_and_explicit_points(arch_yaml):
    """Random axes are reproducible from their seed and within range; explicit points multiply the set."""
    spec = make_spec(arch_yaml)
    spec["axes"] = {
        "random": {"n": 5, "seed": 7, "params": {"energy_pj.synop": {"low": 0.5, "high": 50, "log": True},
                                                  "noc.multicast": {"choices": ["source", "network"]}}},
        "points": [{"noc.flit_bits": 16}, {"noc.flit_bits": 64, "cores.synops_per_cycle": 2.0}],
    }
    a, b = (load_sweep(spec, root=arch_yaml.parent) for _ in range(2))
    assert [p.overrides for p in a.points] == [p.overrides for p in b.points]
    assert len(a.points) == 2 * 5 * 2
    synop = np.array([p.overrides["energy_pj.synop"] for p in a.points])
    assert ((synop >= 0.5) & (synop <= 50)).all()
    assert {p.overrides["noc.multicast"] for p in a.points} <= {"source", "network"}


def test_cli_sweep_then_plot(arch_yaml, tmp_path, capsys):
    """neurosim sweep writes the table; neurosim plot draws it with its Pareto front."""
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(make_spec(arch_yaml)))
    out = tmp_path / "r.parquet"
    assert main(["sweep", str(spec_path), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert len(pd.read_parquet(out)) == 8
    png = tmp_path / "p.png"
    assert main(["plot", str(out), "--x", "cycles_per_token", "--y", "energy_pj_per_token",
                 "--hue", "arch.noc.flit_bits", "--pareto", "--out", str(png)]) == 0
    assert imread(png).shape[:2] == (528, 768)
    assert "point_id" in capsys.readouterr().out
    assert main(["sweep", str(spec_path), "--dry-run"]) == 0
    bad = make_spec(arch_yaml, **{"noc.bogus": [1]})
    spec_path.write_text(yaml.safe_dump(bad))
    assert main(["sweep", str(spec_path), "--out", str(out), "--quiet"]) == 2
    assert "noc.bogus" in capsys.readouterr().err


def test_sampled_sweep_matches_sampled_runs_and_recosts(arch_yaml, tmp_path):
    """options.sample: each point is a sampled run with 95% interval columns, equal to neurosim.run(sample=...);
    energy-only points are re-costed from the windows' counts, in the sweep and on a stored table, and equal a
    fresh sampled run, intervals included."""
    spec = make_spec(arch_yaml, **{"energy_pj.synop": [1.0, 6.0], "static_power_w": [0.0, 0.05]})
    spec["traces"][0]["synthetic"].update(activity=0.3, tokens=120)
    spec["options"] = {"sample": 4, "window": 12, "sample_seed": 5}
    df = sweep(spec, tmp_path / "s.parquet", progress=False, root=arch_yaml.parent)
    assert len(df) == 4 and (df["status"] == "ok").all() and df["recosted"].sum() == 3
    assert (df["tokens"] == 4 * 12).all() and (df["option.sample"] == 4).all()
    trace = synthetic(SYNTH["hidden_sizes"], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=120, seed=3)
    for _, row in df.iterrows():
        over = {k: row[f"arch.{k}"] for k in ("energy_pj.synop", "static_power_w")}
        fresh = neurosim.run(arch_yaml, trace, overrides=over, sample=4, window=12, seed=5)
        assert row["cycles_per_token"] == fresh.cycles_per_token
        for name, (low, high) in fresh.intervals.items():
            assert low <= row[name] <= high
            assert row[f"ci95_low.{name}"] == pytest.approx(low, rel=1e-12)
            assert row[f"ci95_high.{name}"] == pytest.approx(high, rel=1e-12)
    cheap = recost(df, arch_yaml, ["energy_pj.synop=0.25", "static_power_w=0.2"])
    fresh = neurosim.run(arch_yaml, trace, overrides=["energy_pj.synop=0.25", "static_power_w=0.2"], sample=4,
                         window=12, seed=5)
    low, high = fresh.intervals["energy_pj_per_token"]
    assert high > low
    for _, row in cheap.iterrows():
        assert row["energy_pj_per_token"] == pytest.approx(fresh.energy_pj_per_token, rel=1e-12)
        assert row["ci95_low.energy_pj_per_token"] == pytest.approx(low, rel=1e-12)
        assert row["ci95_high.energy_pj_per_token"] == pytest.approx(high, rel=1e-12)


def test_sampled_sweep_options_are_checked(arch_yaml):
    spec = make_spec(arch_yaml)
    spec["options"] = {"sample": 1}
    with pytest.raises(SpecError, match="options.sample"):
        load_sweep(spec, root=arch_yaml.parent)
    spec["options"] = {"sample": 3, "engine": "simpy"}
    with pytest.raises(SpecError, match="options.sample: needs engine numba or bound"):
        load_sweep(spec, root=arch_yaml.parent)
    spec["options"] = {"check": 2}
    with pytest.raises(SpecError, match="options.check: needs engine bound; got engine 'numba'"):
        load_sweep(spec, root=arch_yaml.parent)
    spec["options"] = {"backend": "bound"}  # the old name of engine
    assert {p.options["engine"] for p in load_sweep(spec, root=arch_yaml.parent).points} == {"bound"}


def test_bound_sweep_with_a_check(arch_yaml, tmp_path):
    """engine bound in a sweep: counts as the exact sweep's, cycles at most, and each simulated point's gap to
    the exact engine recorded from its check windows (equal to neurosim.run's)."""
    spec = make_spec(arch_yaml, **{"noc.flit_bits": [16, 32]})
    spec["traces"][0]["synthetic"].update(activity=0.3, tokens=60)
    exact = sweep(spec, tmp_path / "exact.parquet", progress=False, root=arch_yaml.parent)
    spec["options"] = {"engine": "bound", "check": 2, "window": 10, "sample_seed": 1}
    bound = sweep(spec, tmp_path / "bound.parquet", progress=False, root=arch_yaml.parent)
    assert (bound["status"] == "ok").all() and len(bound) == len(exact) == 2
    assert (bound["synaptic_ops_per_token"].to_numpy() == exact["synaptic_ops_per_token"].to_numpy()).all()
    assert (bound["cycles_per_token"].to_numpy() <= exact["cycles_per_token"].to_numpy()).all()
    trace = synthetic(SYNTH["hidden_sizes"], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=60, seed=3)
    for _, row in bound.iterrows():
        fresh = neurosim.run(arch_yaml, trace, overrides={"noc.flit_bits": row["arch.noc.flit_bits"]},
                             engine="bound", check=2, window=10, seed=1)
        assert row["meta.bound_check_cycles_fraction"] == fresh.meta["bound_check_cycles_fraction"] <= 1.0


def test_sweep_spec_names_shipped_specs_and_traces(tmp_path):
    """A sweep spec may name shipped specs and traces; a file beside the spec wins over a shipped name."""
    spec = {"version": 1, "arch": ["loihi_like", "gpu_h100"], "traces": [{"file": "ptb_egru90"}],
            "options": {"tokens": 8}}
    sw = load_sweep(spec, root=tmp_path)
    assert sorted(Path(p.arch_path).name for p in sw.points) == ["gpu_h100.yaml", "loihi_like.yaml"]
    assert {Path(p.trace["path"]).name for p in sw.points} == {"ptb_egru90.npz"}
    (tmp_path / "loihi_like").write_text(yaml.safe_dump(TINY_ARCH))  # a file of that name beside the spec
    sw = load_sweep({**spec, "arch": "loihi_like"}, root=tmp_path)
    assert {Path(p.arch_path) for p in sw.points} == {(tmp_path / "loihi_like").resolve()}
