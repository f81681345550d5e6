"""Public API and CLI: required report keys, energy = counts x table, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import TINY_ARCH, make_arch

import neurosim
from neurosim.cli import main
from neurosim.costing import energy_breakdown_pj
from neurosim.mapping import map_network
from neurosim.network import build_network
from neurosim.trace import save_trace, summary, synthetic

REQUIRED_KEYS = {
    "tokens", "cycles_per_token", "latency_s_per_token", "synaptic_ops_per_token", "packets_per_token",
    "flit_hops_per_token", "memory_bytes_per_token", "energy_pj_per_token", "energy_breakdown_pj_per_token",
    "core_utilization",
}


@pytest.fixture
def files(tmp_path):
    arch = tmp_path / "tiny.yaml"
    arch.write_text(yaml.safe_dump(TINY_ARCH))
    trace = save_trace(synthetic([24, 16], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=12, seed=3),
                       tmp_path / "t.npz")
    return arch, trace


def test_energy_is_counts_times_table(files):
    """Total energy = sum over actions of count x pJ, plus static power x time, computed by hand."""
    arch_path, trace_path = files
    r = neurosim.run(arch_path, trace_path)
    c, e, T = r.counts, TINY_ARCH["energy_pj"], r.tokens
    seconds = c["total_cycles"] / TINY_ARCH["clock_hz"]
    by_hand = (
        c["synops"] * e["synop"] + c["synapse_bytes"] * e["synapse_read_per_byte"]
        + c["updates_active"] * e["neuron_update_active"] + c["updates_inactive"] * e["neuron_update_inactive"]
        + (c["updates_active"] + c["updates_inactive"]) * 2 * 16 / 8 * e["state_access_per_byte"]
        + c["packets_injected"] * e["spike_out"] + c["packets_sent"] * 4 * e["axon_read_per_byte"]
        + c["flit_hops_x"] * e["hop_x_per_flit"] + c["flit_hops_y"] * e["hop_y_per_flit"]
        + c["barriers"] * e["barrier"] + TINY_ARCH["static_power_w"] * seconds * 1e12
    )
    assert r.energy_pj_per_token == pytest.approx(by_hand / T, rel=1e-12)
    assert sum(r.energy_breakdown_pj_per_token.values()) == pytest.approx(r.energy_pj_per_token)


def test_recosting_counts_equals_rerun(files):
    """Energy from cached counts under new constants equals a fresh run with those constants."""
    arch_path, trace_path = files
    r = neurosim.run(arch_path, trace_path)
    fresh = neurosim.run(arch_path, trace_path, overrides=["energy_pj.synop=7.5", "static_power_w=0.3"])
    recost = energy_breakdown_pj({k: int(v) for k, v in r.counts.items()},
                                 make_arch(energy_pj={**TINY_ARCH["energy_pj"], "synop": 7.5}, static_power_w=0.3))
    assert sum(recost.values()) / r.tokens == pytest.approx(fresh.energy_pj_per_token)


def test_result_has_the_report_keys_and_frames(files):
    arch_path, trace_path = files
    r = neurosim.run(arch_path, trace_path, tokens=8)
    d = r.to_dict()
    assert REQUIRED_KEYS <= set(d)
    assert d["tokens"] == 8
    assert set(d["core_utilization"]) == {"min", "mean", "max"}
    df = r.to_dataframe()
    assert isinstance(df, pd.DataFrame) and len(df) == 1
    assert "energy_breakdown_pj_per_token.synapse" in df.columns
    assert r.synaptic_ops_per_token == pytest.approx(summary(neurosim.load_trace(trace_path, 8))["synaptic_ops_per_token"])


def test_cli_run_json(files, capsys):
    arch_path, trace_path = files
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--format", "json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert REQUIRED_KEYS <= set(out)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet", ".txt"])
def test_cli_run_writes_files(files, tmp_path, suffix):
    arch_path, trace_path = files
    out = tmp_path / f"report{suffix}"
    fmt = {".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "table"}[suffix]
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--out", str(out), "--format", fmt,
                 "--quiet"]) == 0
    assert out.stat().st_size > 0
    if suffix == ".parquet":
        assert pd.read_parquet(out).loc[0, "tokens"] == 12


def test_cli_table_and_trace_info(files, capsys):
    arch_path, trace_path = files
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--quiet"]) == 0
    assert "energy per token by component" in capsys.readouterr().out
    assert main(["trace", "info", str(trace_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 12


def test_cli_validate(files, capsys):
    arch_path, _ = files
    assert main(["validate", str(arch_path)]) == 0
    assert "valid" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["validate", "{arch}", "--set", "noc.multicast=flood"], "noc.multicast: got 'flood'"),
        (["run", "--arch", "{arch}", "--trace", "{tmp}/missing.npz"], "no such file"),
        (["run", "--arch", "{tmp}/none.yaml", "--trace", "{trace}"], "none.yaml: no such file"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--policy", "zigzag"], "mapping policy: got 'zigzag'"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--batch", "4"], "batch: got 4"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--engine", "fpga"], "engine: got 'fpga'"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--backend", "fpga"], "engine: got 'fpga'"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--check", "2"], "check: got 2 windows with engine"),
        (["run", "--arch", "{arch}", "--trace", "{trace}", "--engine", "bound", "--check", "9", "--window", "8"],
         "window: got 8 x check 9"),
        (["run", "--arch", "{root}/arch_specs/gpu_a100.yaml", "--trace", "{trace}", "--sample", "2"], "is a GPU spec"),
    ],
)
def test_cli_errors_are_one_line(files, tmp_path, capsys, argv, message):
    """Bad input exits 2 with one line naming the field and the bad value."""
    arch_path, trace_path = files
    root = Path(__file__).resolve().parent.parent
    argv = [a.format(arch=arch_path, trace=trace_path, tmp=tmp_path, root=root) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err
    assert len(err.splitlines()) == 1


def test_bad_yaml_syntax_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\ncores: [unclosed\n")
    assert main(["validate", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_sampling_interval_covers_the_full_run():
    """95% intervals from sampled windows cover the full-run value on a stationary trace."""
    trace = synthetic([32, 24], input_size=12, activity=0.2, weight_sparsity=0.7, tokens=400, seed=11)
    arch = make_arch()
    full = neurosim.run(arch, trace)
    sampled = neurosim.run(arch, trace, sample=8, window=20, seed=1)
    for name in ("cycles_per_token", "energy_pj_per_token", "synaptic_ops_per_token"):
        low, high = sampled.intervals[name]
        assert low <= getattr(full, name) <= high, name
        assert high > low
    threaded = neurosim.run(arch, trace, sample=8, window=20, seed=1, threads=2)  # windows on two threads
    assert threaded.counts == sampled.counts and threaded.intervals == sampled.intervals
    assert threaded.meta["sample_window_counts"] == sampled.meta["sample_window_counts"]


def test_api_accepts_objects_and_paths(files):
    arch_path, trace_path = files
    a = neurosim.run(arch_path, trace_path)
    b = neurosim.run(neurosim.load_arch(arch_path), neurosim.load_trace(trace_path))
    assert a.counts == b.counts
    assert np.isclose(a.energy_pj_per_token, b.energy_pj_per_token)


@pytest.mark.parametrize("threads", [1, 2])
def test_streaming_from_disk_equals_in_memory(tmp_path, threads):
    """Events read from the file chunk by chunk give exactly the in-memory run."""
    trace = synthetic([24, 16, 8], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=37, seed=4)
    path = save_trace(trace, tmp_path / "long.npz")
    arch = make_arch()
    whole = neurosim.run(arch, path)
    streamed = neurosim.run(arch, path, stream=True, chunk_steps=5, threads=threads)
    assert streamed.counts == whole.counts
    assert streamed.energy_pj_per_token == pytest.approx(whole.energy_pj_per_token)
    assert streamed.latency_s_per_token == pytest.approx(whole.latency_s_per_token)
    assert streamed.meta["activity_sparsity"] == pytest.approx(whole.meta["activity_sparsity"])
    assert neurosim.run(arch, path, stream=True, tokens=20).counts == neurosim.run(arch, path, tokens=20).counts


def test_event_stream_reads_forward_windows(tmp_path):
    from neurosim.engine.build import fired_matrix
    from neurosim.trace import EventStream

    trace = synthetic([13, 9], input_size=4, activity=0.4, tokens=30, seed=2)
    path = save_trace(trace, tmp_path / "t.npz")
    with EventStream(path, trace.hidden_sizes, trace.n_tokens) as stream:
        for first, stop in [(0, 5), (3, 11), (9, 9), (9, 30)]:
            np.testing.assert_array_equal(stream.read(first, stop), fired_matrix(trace, first, stop))
        with pytest.raises(Exception, match="before the kept rows"):
            stream.read(2, 30)


def test_cli_run_uses_every_usable_core_by_default(tmp_path, monkeypatch, capsys):
    """Without --threads the CLI replays on every usable core; the report equals a one-thread run."""
    import neurosim.api
    import neurosim.cli.run

    arch = tmp_path / "tiny.yaml"
    arch.write_text(yaml.safe_dump(TINY_ARCH))
    trace = save_trace(synthetic([12, 8], input_size=6, activity=0.3, weight_sparsity=0.6, tokens=1100, seed=4),
                       tmp_path / "long.npz")  # > 1024 steps: the threaded run is chunked
    seen = []
    real_run = neurosim.api.run

    def spy(*args, **kwargs):
        seen.append(kwargs["threads"])
        return real_run(*args, **kwargs)

    monkeypatch.setattr(neurosim.api, "run", spy)
    monkeypatch.setattr(neurosim.cli.run, "usable_cores", lambda: 3)
    argv = ["run", "--arch", str(arch), "--trace", str(trace), "--format", "json", "--quiet"]
    assert main(argv) == 0
    default = json.loads(capsys.readouterr().out)
    assert main(argv + ["--threads", "1"]) == 0
    single = json.loads(capsys.readouterr().out)
    assert seen == [3, 1]
    for report in (default, single):  # wall-clock seconds differ between runs; everything else must not
        report["meta"].pop("build_s")
        report["meta"].pop("simulate_s")
    assert default == single


def test_bound_engine_through_the_api_and_cli(tmp_path, capsys):
    """--engine bound: counts as the exact run's (no wait cycles), cycles at most the exact ones, the same
    result streamed from disk, sampling works, and the table says the times are lower bounds."""
    trace = synthetic([24, 16, 8], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=60, seed=4)
    path = save_trace(trace, tmp_path / "t.npz")
    arch = make_arch()
    exact = neurosim.run(arch, trace)
    bound = neurosim.run(arch, trace, engine="bound")
    assert "link_wait_cycles" not in bound.counts and "core_wait_cycles" not in bound.counts
    assert bound.synaptic_ops_per_token == exact.synaptic_ops_per_token
    assert bound.memory_bytes_per_token == exact.memory_bytes_per_token
    assert bound.cycles_per_token <= exact.cycles_per_token and bound.meta["engine"] == "bound"
    streamed = neurosim.run(arch, path, engine="bound", stream=True, chunk_steps=7)
    assert streamed.counts == bound.counts
    threaded = neurosim.run(arch, trace, engine="bound", chunk_steps=9, threads=2)
    assert threaded.counts == bound.counts and threaded.cycles_per_token == bound.cycles_per_token
    sampled = neurosim.run(arch, trace, engine="bound", sample=3, window=10)
    assert sampled.intervals["cycles_per_token"][0] <= sampled.cycles_per_token
    checked = neurosim.run(arch, trace, engine="bound", check=3, window=10, seed=2)
    assert checked.counts == bound.counts and checked.meta["bound_check_windows"] == 3
    assert neurosim.run(arch, trace, engine="bound", check=3, window=10, seed=2, threads=2).meta[
        "bound_check_cycles_fraction"] == checked.meta["bound_check_cycles_fraction"]
    # the check's windows replayed here by hand: bound cycles / exact cycles
    L, n = len(trace.layers), 10
    ratio = []
    for backend in ("bound", "numba"):
        ratio.append(sum(neurosim.engine.simulate(trace, build_network(trace), map_network(build_network(trace), arch),
                                                  arch, backend=backend, token_begin=max(0, a - L + 1),
                                                  token_end=a + n, steps=(a, a + n)).counts["total_cycles"]
                         for a in checked.meta["bound_check_starts"]))
    assert checked.meta["bound_check_cycles_fraction"] == pytest.approx(ratio[0] / ratio[1], rel=1e-12)
    assert 0.5 < checked.meta["bound_check_worst_window_fraction"] <= checked.meta["bound_check_cycles_fraction"] <= 1
    with pytest.raises(neurosim.engine.EngineError, match="check: got 2 windows with engine 'numba'"):
        neurosim.run(arch, trace, check=2)
    with pytest.raises(neurosim.engine.EngineError, match="without --sample or --check"):
        neurosim.run(arch, path, engine="bound", stream=True, check=2)
    arch_path = tmp_path / "tiny.yaml"
    arch_path.write_text(yaml.safe_dump(TINY_ARCH))
    assert main(["run", "--arch", str(arch_path), "--trace", str(path), "--engine", "bound", "--quiet", "--check",
                 "2", "--window", "8"]) == 0
    out = capsys.readouterr().out
    assert "lower bounds" in out and "checked on 2 windows of 8 tokens" in out
