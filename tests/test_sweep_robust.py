"""Sweeps under hostile use: killed and interrupted runs, two sweeps on one output, malformed specs."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import TINY_ARCH
from filelock import FileLock

from neurosim.cli import main
from neurosim.spec import SpecError
from neurosim.sweep import load_sweep, parts_dir, read_results, sweep

ROOT = Path(__file__).resolve().parent.parent
SYNTH = {"hidden_sizes": [24, 16], "input_size": 10, "activity": 0.3, "weight_sparsity": 0.6, "tokens": 10, "seed": 3}


@pytest.fixture
def arch_yaml(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY_ARCH))
    return path


def make_spec(arch_yaml, seeds: int = 1, tokens: int = 10, **changes) -> dict:
    spec = {"version": 1, "name": "robust", "arch": arch_yaml.name,
            "traces": [{"synthetic": {**SYNTH, "seed": list(range(seeds)), "tokens": tokens}}],
            "axes": {"grid": {"noc.flit_bits": [16, 32]}}}
    spec.update(changes)
    return spec


def _write_spec(arch_yaml, spec) -> Path:
    path = arch_yaml.parent / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _ppid(pid: int) -> int | None:
    try:
        return int(Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def _descendants(pid: int) -> set[int]:
    """Every live process under ``pid`` (read from /proc, no psutil)."""
    parents = {int(d.name): _ppid(int(d.name)) for d in Path("/proc").iterdir() if d.name.isdigit()}
    out, todo = set(), [pid]
    while todo:
        kids = {c for c, p in parents.items() if p == todo[-1]}
        todo.pop()
        todo += list(kids - out)
        out |= kids
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        os.kill(pid, 0)
        return Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return False


def _start_sweep(spec_path: Path, out: Path, workers: int = 2) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "neurosim", "sweep", str(spec_path), "--out", str(out),
                             "--workers", str(workers), "--quiet"], env=env, stderr=subprocess.PIPE, text=True)


def _wait_for(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.05)
    return False


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@linux_only
def test_sigkill_of_the_sweep_leaves_no_worker(arch_yaml, tmp_path):
    """kill -9 of a running neurosim sweep: its workers (and the fork server) are gone within 10 s."""
    proc = _start_sweep(_write_spec(arch_yaml, make_spec(arch_yaml, seeds=30, tokens=100)), tmp_path / "o.parquet")
    try:
        assert _wait_for(lambda: len(_descendants(proc.pid)) >= 3, 60), "the workers never started"
        children = _descendants(proc.pid)
        proc.kill()
        proc.wait()
        assert _wait_for(lambda: not any(_running(c) for c in children), 10), \
            f"still running: {[c for c in children if _running(c)]}"
    finally:
        proc.kill()
        proc.stderr.close()


@linux_only
def test_sigterm_keeps_finished_rows_and_resume_loses_nothing(arch_yaml, tmp_path):
    """SIGTERM: exit within seconds with 143, finished rows in OUT, no part files; a rerun completes every point once."""
    spec = make_spec(arch_yaml, seeds=60, tokens=100)
    spec_path = _write_spec(arch_yaml, spec)
    out = tmp_path / "o.parquet"
    proc = _start_sweep(spec_path, out)
    try:
        started = _wait_for(lambda: any(parts_dir(out).glob("part-*.parquet")) or proc.poll() is not None, 90)
        assert started
        children = _descendants(proc.pid)
        proc.send_signal(signal.SIGTERM)
        status = proc.wait(timeout=30)  # seconds in practice; margin for a loaded machine
        err = proc.stderr.read()
    finally:
        proc.kill()
        proc.stderr.close()
    assert "Traceback" not in err, err
    assert status in (0, 143), err
    assert _wait_for(lambda: not any(_running(c) for c in children), 20)
    assert not parts_dir(out).exists() and not list(tmp_path.glob(".*.tmp"))
    kept = pd.read_parquet(out)
    assert kept["point_id"].is_unique and len(kept) >= 1
    if status == 143:
        assert "stopped by SIGTERM" in err
    df = sweep(load_sweep(spec_path), out, workers=1, progress=False)
    ids = {p.point_id for p in load_sweep(spec_path).points}
    assert set(df["point_id"]) == ids and df["point_id"].is_unique
    assert (df["status"] == "ok").all()


def test_a_second_sweep_on_the_same_out_fails_in_one_line(arch_yaml, tmp_path, capsys):
    """While one sweep holds OUT.lock, another on the same --out fails at once, naming the lock."""
    spec_path = _write_spec(arch_yaml, make_spec(arch_yaml))
    out = tmp_path / "o.parquet"
    with FileLock(str(out) + ".lock"):
        assert main(["sweep", str(spec_path), "--out", str(out), "--quiet", "--workers", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "o.parquet.lock" in err and "another neurosim sweep" in err
    assert not out.exists() and not parts_dir(out).exists()
    assert main(["sweep", str(spec_path), "--out", str(out), "--quiet", "--workers", "1"]) == 0


def test_two_concurrent_sweeps_never_crash_or_leave_parts(arch_yaml, tmp_path):
    """Two processes on one --out: each finishes or refuses in one line; the table is whole, no part files left."""
    spec_path = _write_spec(arch_yaml, make_spec(arch_yaml, seeds=3))
    out = tmp_path / "o.parquet"
    procs = [_start_sweep(spec_path, out, workers=1) for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]
    for p in procs:
        p.stderr.close()
    for status, err in results:
        assert "Traceback" not in err, err
        assert status == 0 or (status == 2 and "holds" in err and len(err.strip().splitlines()) == 1), err
    assert any(status == 0 for status, _ in results)
    df = pd.read_parquet(out)
    assert len(df) == 6 and df["point_id"].is_unique
    assert not parts_dir(out).exists()


def test_stale_temp_files_are_removed_on_start(arch_yaml, tmp_path):
    """Temporary files of a sweep killed mid-write are removed by the next sweep on that output."""
    out = tmp_path / "o.parquet"
    parts_dir(out).mkdir()
    stale = [parts_dir(out) / ".part-1-2-000000.parquet.99.tmp", tmp_path / ".o.parquet.99.tmp"]
    for p in stale:
        p.write_bytes(b"half a file")
    sweep(make_spec(arch_yaml), out, workers=1, progress=False, root=tmp_path)
    assert not any(p.exists() for p in stale) and not parts_dir(out).exists()
    assert len(read_results(out)) == 2


@pytest.mark.parametrize("change, message", [
    ({"version": True}, "version: got True; allowed: 1 (an integer)"),
    ({"version": 1.0}, "version: got 1.0; allowed: 1"),
    ({"version": "1"}, "version: got '1'; allowed: 1"),
    ({"axes": {"grid": {"noc.flit_bits": [True]}}}, "noc.flit_bits: got True (a bool); allowed: an integer"),
    ({"axes": {"grid": {"clock_hz": [float("inf")]}}}, "clock_hz: got inf; allowed: a finite number"),
    ({"axes": {"grid": {"noc.flit_bits": ["16"]}}}, "noc.flit_bits: got '16' (a str); allowed: an integer"),
    ({"traces": [{"file": "x" * 5000}]}, "traces.0.file: got 'xxx"),
    ({"traces": [{"file": "a\x00b.npz"}]}, "embedded NUL byte"),
    ({"arch": "y" * 5000}, "arch: got 'yyy"),
    ({"axes": {"grid": {"noc.flit_bits": list(range(16, 16 + 1000)), "energy_pj.synop": [1.0 + i for i in range(1001)]}}},
     "axes: 1001000 points; allowed: <= 1000000"),
    ({"axes": {"random": {"n": 10**9, "params": {"energy_pj.synop": {"low": 1.0, "high": 2.0}}}}},
     "axes: 1000000000 points"),
])
def test_bad_sweep_specs_fail_in_one_line(arch_yaml, change, message):
    """Strict version, axis values in the spec's wording, over-long or NUL paths, too many points: one line."""
    spec = copy.deepcopy(make_spec(arch_yaml))
    spec.update(change)
    with pytest.raises(SpecError) as err:
        load_sweep(spec, root=arch_yaml.parent)
    msg = str(err.value)
    assert "\n" not in msg and len(msg) <= 300, msg
    assert message in msg, msg


def test_sigint_during_a_sweep_is_a_sweep_interrupted_with_status_130(arch_yaml, tmp_path):
    """Ctrl-C in the sweep's process raises SweepInterrupted (a KeyboardInterrupt) after writing the finished rows."""
    from neurosim.sweep import SweepInterrupted

    out = tmp_path / "o.parquet"
    before = signal.getsignal(signal.SIGINT)  # the default, or SIG_IGN when the tests run in the background

    def interrupt(rows):
        os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(SweepInterrupted) as exc:
        sweep(make_spec(arch_yaml, seeds=2), out, workers=1, progress=False, root=tmp_path, on_rows=interrupt)
    assert exc.value.status == 130 and "rerun the same command to resume" in str(exc.value)
    assert len(pd.read_parquet(out)) >= 1 and not parts_dir(out).exists()
    assert signal.getsignal(signal.SIGINT) is before  # the sweep puts back the handler it found
