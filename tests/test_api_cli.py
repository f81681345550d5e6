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


def test_energy_is_counts_times_table(files):
    """Total energy = sum over actions of count x pJ, plus static power x time, computed by hand."""
    arch_path, trace_path = files
    r = neurosim.run(arch_path, trace_path)
    c, e, T = r.counts, TINY_ARCH["energy_pj"], r.tokens
    seconds = c["total_cycles"] / TINY_ARCH["clock_hz"]
    by_hand = (
        c["synops"] * e["synop"] + c["synapse_bytes"] * e["synapse_read_per_byte"]
        + c["updates_active"] * e["neuron_update_active"]
        + (c["updates_received"] + c["updates_inactive"]) * e["neuron_update_inactive"]  # received: inactive's pJ
        + (c["updates_active"] + c["updates_received"] + c["updates_inactive"]) * 2 * 16 / 8 * e["state_access_per_byte"]
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
    assert df.to_dict("records") == [r.to_flat_dict()]
    assert df.loc[0, "energy_breakdown_pj_per_token.synapse"] == r.energy_breakdown_pj_per_token["synapse"]
    assert r.synaptic_ops_per_token == pytest.approx(summary(neurosim.load_trace(trace_path, 8))["synaptic_ops_per_token"])


def test_cli_run_json(files, capsys):
    arch_path, trace_path = files
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--format", "json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert REQUIRED_KEYS <= set(out)


@pytest.mark.parametrize("suffix", [".json", ".csv", ".parquet", ".txt"])
def test_cli_run_writes_files(files, tmp_path, suffix):
    """--out writes the report in the format of --format; read back, it holds the run's figures."""
    arch_path, trace_path = files
    out = tmp_path / f"report{suffix}"
    fmt = {".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "table"}[suffix]
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--out", str(out), "--format", fmt,
                 "--quiet", "--threads", "1"]) == 0
    r = neurosim.run(arch_path, trace_path)
    if suffix == ".json":
        assert json.loads(out.read_text())["synaptic_ops_per_token"] == r.synaptic_ops_per_token
    elif suffix == ".txt":
        assert out.read_text().startswith("neurosim report: trace t on tiny (chip), 12 tokens\n")
    else:
        row = (pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)).iloc[0]
        assert row["tokens"] == 12 and row["cycles_per_token"] == pytest.approx(r.cycles_per_token, rel=1e-12)


def test_cli_table_and_trace_info(files, capsys):
    arch_path, trace_path = files
    assert main(["run", "--arch", str(arch_path), "--trace", str(trace_path), "--quiet"]) == 0
    assert "energy per token by component" in capsys.readouterr().out
    assert main(["trace", "info", str(trace_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 12


def test_cli_validate(files, capsys):
    """validate prints what the spec describes: cores, mesh, capacities, flits per packet and the barrier."""
    arch_path, _ = files
    assert main(["validate", str(arch_path)]) == 0
    assert capsys.readouterr().out == (
        f"{arch_path}: valid (tiny: 8 cores on a 2x2 mesh, 64 compartments and 8192 synapse bytes per core, "
        "2 flit(s) per packet, barrier 9 cycles)\n")


def test_cli_validate_dump_is_the_resolved_spec(files, capsys):
    """validate --dump --set prints the spec with defaults filled in and the override applied, as JSON."""
    arch_path, _ = files
    assert main(["validate", str(arch_path), "--set", "noc.flit_bits=64", "--dump"]) == 0
    out = capsys.readouterr().out
    dumped = json.loads(out[out.index("\n") + 1:])
    assert "1 flit(s) per packet" in out.splitlines()[0]
    assert dumped["noc"]["flit_bits"] == 64 and dumped["noc"]["routing"] == "xy"  # the override; a default
    assert dumped == neurosim.load_arch(arch_path, ["noc.flit_bits=64"]).model_dump(mode="json")


def test_cli_run_set_overrides_the_spec(files, capsys):
    """run --set changes the architecture: doubling the synop energy adds synops x 2 pJ per token, nothing else."""
    arch_path, trace_path = files
    base = ["run", "--arch", str(arch_path), "--trace", str(trace_path), "--format", "json", "--quiet"]
    assert main(base) == 0
    before = json.loads(capsys.readouterr().out)
    assert main(base + ["--set", "energy_pj.synop=4.0"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert after["energy_pj_per_token"] - before["energy_pj_per_token"] == pytest.approx(
        before["synaptic_ops_per_token"] * 2.0, rel=1e-12)
    assert after["cycles_per_token"] == before["cycles_per_token"] and after["counts"] == before["counts"]


def test_cli_trace_synthetic_writes_the_asked_trace(tmp_path, capsys):
    """trace synthetic writes a trace of the asked sizes and sparsity, equal to neurosim.synthetic's."""
    out = tmp_path / "s.npz"
    assert main(["trace", "synthetic", "--out", str(out), "--hidden-sizes", "20,12", "--input-size", "6",
                 "--activity", "0.25", "--weight-sparsity", "0.5", "--tokens", "30", "--gates", "4",
                 "--seed", "7"]) == 0
    assert capsys.readouterr().out == f"wrote {out}\n"
    got, expected = neurosim.load_trace(out), synthetic([20, 12], input_size=6, activity=0.25, weight_sparsity=0.5,
                                                        tokens=30, gates=4, seed=7)
    assert got.hidden_sizes == [20, 12] and got.gates == 4 and got.n_tokens == 30
    assert got.measured_weight_sparsity() == pytest.approx(0.5, abs=1e-3)
    for a, b in zip(got.layers, expected.layers):
        assert np.array_equal(a.events, b.events) and np.array_equal(a.w_rec_mask, b.w_rec_mask)
    assert main(["trace", "synthetic", "--out", str(out), "--hidden-sizes", "20,x"]) == 2
    assert "--hidden-sizes: got '20,x'" in capsys.readouterr().err


def _silent_trace():
    """Two one-unit layers (one gate each) without any synapse, and fixed events: no packet is ever sent."""
    from dataclasses import replace

    t = synthetic([1, 1], input_size=1, activity=0.0, weight_sparsity=1.0, tokens=4, gates=1, seed=0)
    events = (np.array([[1], [0], [1], [1]], bool), np.array([[0], [1], [1], [0]], bool))
    return replace(t, layers=tuple(replace(layer, events=e) for layer, e in zip(t.layers, events)))


@pytest.mark.parametrize(
    "pipeline, cycles_per_token, latency_cycles",
    [
        # steps: barrier 5 + 1 x 1 router in use = 6, plus the update of the active layers on the one core
        # (3 cycles a unit that fired, 1 one that did not); no packets, so no spike phase.
        # pipelined: step s runs layer 0 on token s and layer 1 on token s - 1:
        #   [6+3, 6+1+1, 6+3+3, 6+3+3, 6+1] = [9, 8, 12, 12, 7]: 48 cycles / 4 tokens;
        #   a token's latency is two consecutive steps: (17 + 20 + 24 + 19) / 4 = 20.
        ("pipelined", 48 / 4, 20.0),
        # sequential: token t takes steps 2t (layer 0) and 2t + 1 (layer 1):
        #   [9, 7, 7, 9, 9, 9, 9, 7] = 66 cycles / 4 tokens, and the latency is the same.
        ("sequential", 66 / 4, 66 / 4),
    ],
)
def test_chip_latency_per_token_by_hand(pipeline, cycles_per_token, latency_cycles):
    """Cycles and latency per token of a tiny chip on a hand-computed case, pipelined and sequential."""
    arch = make_arch(pipeline=pipeline)
    r = neurosim.run(arch, _silent_trace())
    assert r.packets_per_token == 0 and r.cycles_per_token == cycles_per_token
    assert r.latency_s_per_token == pytest.approx(latency_cycles * 1e-9, rel=1e-12)
    assert r.time_s_per_token == pytest.approx(cycles_per_token * 1e-9, rel=1e-12)


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
