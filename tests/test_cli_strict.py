"""The command line under hostile use: one-line errors, output paths checked first, a closed stdout, bad flag mixes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import neurosim.api
from neurosim.cli import main
from neurosim.report import ReportError, write
from neurosim.sampling import confidence_interval
from neurosim.trace import synthetic

ROOT = Path(__file__).resolve().parent.parent


def _err_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


@pytest.mark.parametrize("argv, message", [
    (["run", "--arch", "a"], "the following arguments are required: --trace (see neurosim run --help)"),
    (["run", "--arch", "a", "--trace", "t", "--tokens", "ten"], "argument --tokens: invalid int value: 'ten'"),
    (["run", "--arch", "a", "--trace", "t", "--format", "xml"], "argument --format: invalid choice: 'xml'"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
    (["trace", "info"], "(see neurosim trace info --help)"),
])
def test_argparse_errors_are_one_line_with_a_help_hint(capsys, argv, message):
    """Argument errors print one line and a --help hint, not the usage block; exit status 2."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = _err_line(capsys)
    assert message in err and "--help" in err and "usage:" not in err


@pytest.mark.parametrize("extra, message", [
    (["--sample", "0"], "sample: got 0; allowed: an integer >= 2"),
    (["--sample", "1"], "sample: got 1; allowed: an integer >= 2"),
    (["--window", "4"], "window: got 4 without sample or check"),
    (["--seed", "3"], "seed: got 3 without sample or check"),
    (["--sample", "2", "--window", "4", "--chunk-steps", "2"], "chunk_steps: replays a full run in chunks"),
    (["--chunk-steps", "0"], "chunk_steps: got 0; allowed: an integer >= 1"),
    (["--threads", "0"], "threads: got 0; allowed: an integer >= 1"),
    (["--min-cores", "0"], "min_cores: got 0; allowed: an integer >= 1"),
    (["--tokens", str(10**12)], "tokens: asked for 1000000000000, the trace holds 12"),
    (["--tokens", "0"], "tokens: got 0; allowed: an integer >= 1"),
    (["--format", "parquet"], "--format parquet: needs --out FILE.parquet"),
])
def test_flag_values_and_mixes_that_mean_nothing_are_refused(files, capsys, extra, message):
    """--sample 0, --window or --seed without --sample, --tokens beyond the trace...: one line, status 2."""
    arch, trace = files
    assert main(["run", "--arch", str(arch), "--trace", str(trace), "--quiet", *extra]) == 2
    assert message in _err_line(capsys)


def test_chunk_steps_with_a_gpu_spec_is_refused(files, capsys):
    """--chunk-steps means nothing to the analytic GPU model."""
    _, trace = files
    argv = ["run", "--arch", str(ROOT / "arch_specs" / "gpu_a100.yaml"), "--trace", str(trace), "--chunk-steps", "4"]
    assert main(argv) == 2
    assert "chunk_steps: got 4; a100_sxm4_80gb is a GPU spec" in _err_line(capsys)


def test_api_refuses_tokens_beyond_an_in_memory_trace(files):
    """An in-memory trace is not silently trimmed either."""
    arch, _ = files
    trace = synthetic([24, 16], input_size=10, tokens=12, seed=3)
    with pytest.raises(ValueError, match="tokens: got 13, the trace .* holds 12"):
        neurosim.api.run(str(arch), trace, tokens=13)


def _out_cases(tmp_path):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file.txt").write_text("x")
    return [
        (tmp_path / "folder", "is a folder"),
        (tmp_path / "file.txt" / "r.json", "file.txt is not a folder"),
        (tmp_path / "file.txt" / "deeper" / "r.json", "file.txt is not a folder"),
        (Path("/dev/null/r.json"), "/dev/null is not a folder"),
        (tmp_path / ("x" * 300 + ".json"), "name too long"),
    ]


def test_bad_out_paths_fail_before_the_run(files, tmp_path, capsys, monkeypatch):
    """--out that is a folder, lies under a file or /dev/null, or is too long: one line, before any simulation."""
    arch, trace = files

    def no_run(*a, **k):
        raise AssertionError("the run started before --out was checked")

    monkeypatch.setattr(neurosim.api, "run", no_run)
    for out, message in _out_cases(tmp_path):
        assert main(["run", "--arch", str(arch), "--trace", str(trace), "--out", str(out)]) == 2
        err = _err_line(capsys)
        assert message in err.lower() and "--out" in err, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_unwritable_out_folder_fails_before_the_run(files, tmp_path, capsys):
    arch, trace = files
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert main(["run", "--arch", str(arch), "--trace", str(trace), "--out", str(locked / "r.json")]) == 2
    assert "permission denied" in _err_line(capsys)


def test_out_in_a_missing_folder_is_created(files, tmp_path, capsys):
    """A missing folder on the way is created, as before."""
    arch, trace = files
    out = tmp_path / "new" / "deeper" / "r.json"
    assert main(["run", "--arch", str(arch), "--trace", str(trace), "--out", str(out), "--quiet"]) == 0
    assert out.is_file()


def test_other_commands_check_their_outputs(files, tmp_path, capsys):
    """trace synthetic, compare and sweep check --out (and --plot) the same way."""
    arch, trace = files
    (tmp_path / "f").write_text("x")
    bad = str(tmp_path / "f" / "x.npz")
    assert main(["trace", "synthetic", "--out", bad]) == 2
    assert "is not a folder" in _err_line(capsys)
    assert main(["compare", "--trace", str(trace), "--arch", str(arch), "--plot", str(tmp_path / "f" / "p.png")]) == 2
    assert "--plot" in _err_line(capsys)
    spec = tmp_path / "s.yaml"
    spec.write_text("version: 1\n")
    assert main(["sweep", str(spec), "--out", str(tmp_path)]) == 2
    assert "is a folder" in _err_line(capsys)


def test_report_write_os_error_is_one_line(files, tmp_path):
    """report.write turns an OSError into a one-line ReportError naming the path."""
    arch, trace = files
    result = neurosim.api.run(str(arch), str(trace))
    (tmp_path / "f").write_text("x")
    with pytest.raises(ReportError) as err:
        write([result], tmp_path / "f" / "r.json")
    assert "\n" not in str(err.value) and "cannot write the report" in str(err.value)


def test_closed_stdout_ends_quietly(files):
    """neurosim run ... | head -1 : the reader goes away; no traceback, status 0 or 141."""
    arch, trace = files
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "neurosim", "run", "--arch", str(arch), "--trace", str(trace), "--format", "json",
            "--quiet"]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # closed before the report is written: the write meets a broken pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) in (0, 141), err
    assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
    shell = subprocess.run(" ".join(f"'{a}'" for a in argv) + " | head -1", shell=True, capture_output=True,
                           text=True, env=env, timeout=120, check=False)
    assert shell.stdout.strip() == "{" and "Traceback" not in shell.stderr, shell.stderr


@pytest.fixture
def results(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"point_id": ["a", "b"], "status": ["ok", "ok"], "arch": ["x", "y"],
                  "cycles_per_token": [1.0, 2.0], "energy_pj_per_token": [3.0, 1.0]}).to_parquet(path)
    return path


@pytest.mark.parametrize("query, message", [
    ("cycles_per_token <", "syntax error"),
    ("nope > 1", "--query 'nope > 1'"),
    ("arch ==", "syntax error"),
    ("1", "does not select rows"),
])
def test_plot_query_errors_are_one_line(results, capsys, query, message):
    """A --query with a syntax error or an undefined name is one line naming --query."""
    argv = ["plot", str(results), "--x", "cycles_per_token", "--y", "energy_pj_per_token", "--query", query]
    assert main(argv) == 2
    err = _err_line(capsys)
    assert message in err and "--query" in err, err


def test_confidence_interval_of_a_nonnegative_figure_starts_at_zero():
    """A wide interval on few windows is clipped at 0 for figures that cannot be negative (the default)."""
    assert confidence_interval([0.0, 0.0, 100.0], 10.0)[0] == 0.0
    assert confidence_interval([0.0, 0.0, 100.0], 10.0, nonnegative=False)[0] < 0
    low, high = confidence_interval([5.0, 5.0], 5.0)
    assert low == high == 5.0
