"""Running a sweep: each group simulated once (its other points re-costed), on local processes or a Dask cluster."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from neurosim.arch import arch_from_dict
from neurosim.costing import recost
from neurosim.spec import SpecError, apply_overrides, load_with_base
from neurosim.sweep.plan import ENERGY_KEYS, Point, Sweep, _digest, _full_arch_data, groups, load_sweep
from neurosim.sweep.store import STATUS_ERROR, STATUS_OK, _PartWriter, consolidate, read_results, remove_stale_temp

PR_SET_PDEATHSIG = 1  # prctl option (linux/prctl.h): a signal for this process when its parent ends
WATCHDOG_INTERVAL_S = 0.5


class SweepLocked(SpecError):
    """Another sweep holds the lock on the same output (``OUT.lock``)."""


class SweepInterrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM stopped a sweep; the finished rows were written. ``status`` is 128 + the signal."""

    def __init__(self, signum: int, out: Path):
        name = signal.Signals(signum).name
        super().__init__(f"sweep stopped by {name}; finished rows are in {out}, rerun the same command to resume")
        self.status = 128 + signum


@lru_cache(maxsize=4)
def _cached_trace(key: str):
    from neurosim.trace import load_trace, synthetic

    t = json.loads(key)
    if t["kind"] == "file":
        return load_trace(t["path"], t["tokens"])
    return synthetic(t["hidden_sizes"], input_size=t["input_size"], activity=t["activity"],
                     weight_sparsity=t["weight_sparsity"], tokens=t["tokens"], gates=t["gates"], seed=t["seed"])


@lru_cache(maxsize=16)
def _cached_base(path: str) -> str:
    return json.dumps(_full_arch_data(load_with_base(path), f"{Path(path).name}: "))


def _load_point_arch(point: Point):
    data = apply_overrides(json.loads(_cached_base(point.arch_path)), point.overrides)
    return arch_from_dict(data, where=f"{point.arch_file}: ")


def arch_signature(arch) -> str:
    """Hash of everything in the architecture that re-costing cannot change (all but energy, name, description)."""
    data = arch.model_dump(mode="json")
    for key in (*ENERGY_KEYS, "name", "description"):
        data.pop(key, None)
    return _digest(data)


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def run_group(points: list[Point]) -> list[dict]:
    """Simulate the group's first point and re-cost the others from its counts; one row per point.

    Never raises for a bad point: its row has ``status`` ``error`` and the message.
    """
    from neurosim.api import run, target_of

    rows = []
    base_result, base_error = None, None
    for i, point in enumerate(points):
        t0 = time.perf_counter()
        row = point.columns()
        try:
            if base_error is not None:
                raise base_error
            arch = _load_point_arch(point)
            recosted = base_result is not None and target_of(arch) == "chip"
            if recosted:
                result = recost(base_result, arch)
            else:
                trace = _cached_trace(json.dumps(point.trace, sort_keys=True))
                opts = point.options
                chip = {}  # GPU points are modelled whole, analytically: no engine options
                if target_of(arch) == "chip":
                    chip = {key: opts[key] for key in ("sample", "check") if opts.get(key)}
                    if chip:
                        chip.update(window=opts["window"], seed=opts["sample_seed"])
                    chip["engine"] = opts["engine"]
                result = run(arch, trace, tokens=point.trace["tokens"], policy=opts["policy"],
                             min_cores=opts["min_cores"], readout=opts.get("readout", "chip"), **chip)
                if i == 0:
                    base_result = result
            row.update(result.to_flat_dict())
            row.update(status=STATUS_OK, error=None, recosted=recosted, arch_sig=arch_signature(arch))
        except Exception as exc:  # noqa: BLE001 -- a bad point is a result, not the end of the sweep
            if i == 0:
                base_error = exc
            row.update(status=STATUS_ERROR, error=_one_line(exc), recosted=False)
        row["elapsed_s"] = time.perf_counter() - t0
        rows.append(row)
    return rows


def _error_rows(group: list[Point], exc: BaseException) -> list[dict]:
    return [{**p.columns(), "status": STATUS_ERROR, "error": _one_line(exc), "recosted": False, "elapsed_s": 0.0}
            for p in group]


def _alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not yet reaped, counts as ended)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def _watch_parent(pid: int) -> None:
    while _alive(pid):
        time.sleep(WATCHDOG_INTERVAL_S)
    os._exit(1)


def _worker_init(parent_pid: int) -> None:
    """Worker start-up: end with the sweep's process, leave Ctrl-C to it.

    On Linux the kernel kills the worker when its parent ends (``prctl(PR_SET_PDEATHSIG)``;
    the parent of a forkserver worker is the fork server, which ends with the sweep); a
    watchdog thread polling the sweep's pid does the same everywhere, SIGKILL included.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops the workers on Ctrl-C
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not _alive(parent_pid):
        os._exit(1)
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="neurosim-parent-watchdog", daemon=True).start()


def _stop_workers(pool) -> None:
    """Terminate the pool's processes now (a running group is abandoned; its rows were never recorded)."""
    for proc in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            proc.terminate()
    for proc in list(getattr(pool, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            proc.join(2.0)
            if proc.is_alive():
                proc.kill()


def _run_local(groups, workers, record):
    if workers <= 1:
        for g in groups:
            record(g, run_group(g))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver: workers start from a clean process, not a fork of one running threads (tqdm, Dask)
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=multiprocessing.get_context(method),
                               initializer=_worker_init, initargs=(os.getpid(),))
    finished = False
    try:
        futures = {pool.submit(run_group, g): g for g in groups}
        for fut in as_completed(futures):
            g = futures[fut]
            try:
                rows = fut.result()
            except Exception as exc:  # noqa: BLE001 -- the worker process died
                rows = _error_rows(g, exc)
            record(g, rows)
        finished = True
    finally:
        if not finished:  # interrupted or failed: do not wait for the running groups
            _stop_workers(pool)
        pool.shutdown(wait=finished, cancel_futures=True)


@contextlib.contextmanager
def _signals_interrupt(out: Path):
    """While a sweep runs in the main thread, SIGINT and SIGTERM raise :class:`SweepInterrupted` (once)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise SweepInterrupted(signum, out)

    old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


@contextlib.contextmanager
def _locked(out: Path):
    """Hold ``OUT.lock`` (a :class:`filelock.FileLock`) for the whole sweep; a second sweep on OUT fails at once."""
    from filelock import FileLock, Timeout

    lock_path = out.with_name(out.name + ".lock")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(lock_path))
        lock.acquire(timeout=0)
    except Timeout:
        raise SweepLocked(f"{out}: another neurosim sweep is writing it (it holds {lock_path}); wait for it to "
                          "finish, or give another --out") from None
    except OSError as exc:
        raise SpecError(f"{out}: cannot lock {lock_path} ({exc.strerror or exc})") from None
    try:
        yield
    finally:
        lock.release()


def _run_dask(groups, scheduler, record):
    try:
        from dask.distributed import Client, as_completed
    except ImportError:
        raise SpecError("--scheduler: needs Dask distributed; install the extra: "
                        "pip install 'neurosim[dist]'") from None
    if isinstance(scheduler, Client):
        client = scheduler
    else:
        try:
            client = Client(scheduler, timeout=30)
        except (OSError, TimeoutError) as exc:
            raise SpecError(f"--scheduler {scheduler}: cannot connect ({_one_line(exc)})") from None
    try:
        futures = client.map(run_group, groups, pure=False)
        index = {f.key: g for f, g in zip(futures, groups)}
        try:
            for fut in as_completed(futures):
                g = index[fut.key]
                try:
                    rows = fut.result()
                except Exception as exc:  # noqa: BLE001 -- the task was lost on the cluster
                    rows = _error_rows(g, exc)
                record(g, rows)
        finally:
            client.cancel(futures)
    finally:
        if client is not scheduler:
            client.close()


def sweep(
    spec: str | Path | dict | Sweep,
    out: str | Path,
    *,
    workers: int = 1,
    scheduler=None,
    retry_errors: bool = False,
    progress: bool = True,
    on_rows: Callable[[list[dict]], None] | None = None,
    root: str | Path | None = None,
) -> pd.DataFrame:
    """Run every point of a sweep not already in ``out`` and return the whole results table.

    Parameters
    ----------
    spec : sweep YAML path, mapping, or a :class:`Sweep` from :func:`load_sweep`.
    out : results parquet file; part files go to ``OUT.parts/`` until the end.
    workers : local processes (1: run in this process).
    scheduler : a Dask scheduler address (or a ``dask.distributed.Client``);
        the groups then run on that cluster instead of local processes.
    retry_errors : run again the points whose stored row is an error.
    on_rows : called in this process with each finished group's rows after
        they are recorded (a hook for progress or tests).

    The sweep holds ``OUT.lock`` (a :class:`filelock.FileLock`) while it runs: a
    second sweep on the same ``out`` raises :class:`SweepLocked` at once. Run from
    the main thread, SIGINT and SIGTERM stop it within seconds: the workers are
    terminated, the finished rows are written to ``out`` and :class:`SweepInterrupted`
    is raised. Workers end when this process ends, even by SIGKILL.

    Returns
    -------
    One row per point: ``point_id``, ``sim_id``, ``arch_file``, ``arch.<key>``
    for each swept key, ``trace.<param>``, ``option.<name>``, every
    :meth:`Result.to_flat_dict` column, ``status``, ``error``, ``recosted``,
    ``arch_sig`` and ``elapsed_s``.
    """
    sw = spec if isinstance(spec, Sweep) else load_sweep(spec, root)
    out = Path(out)
    with _locked(out), _signals_interrupt(out):
        return _sweep_locked(sw, out, workers, scheduler, retry_errors, progress, on_rows)


def _sweep_locked(sw: Sweep, out: Path, workers, scheduler, retry_errors, progress, on_rows) -> pd.DataFrame:
    remove_stale_temp(out)  # left by a sweep killed while writing; no other sweep writes here (the lock)
    done = read_results(out)
    if not done.empty:
        keep = done["status"] == STATUS_OK if retry_errors else np.ones(len(done), bool)
        finished = set(done.loc[keep, "point_id"])
    else:
        finished = set()
    todo = [p for p in sw.points if p.point_id not in finished]
    todo_groups = groups(todo)
    order = [p.point_id for p in sw.points]
    writer = _PartWriter(out)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="point", desc=sw.spec.name, file=sys.stderr)

    def record(group, rows):
        writer.add(rows)
        if bar is not None:
            bar.update(len(rows))
            n_err = sum(r["status"] != STATUS_OK for r in rows)
            if n_err:
                bar.set_postfix_str(f"last error: {rows[-1].get('error', '')[:60]}", refresh=False)
        if on_rows is not None:
            on_rows(rows)

    try:
        if todo_groups:
            if scheduler is not None:
                _run_dask(todo_groups, scheduler, record)
            else:
                _run_local(todo_groups, workers, record)
        writer.flush()
        return consolidate(out, order)  # a signal that lands in here is handled below: consolidated again
    except SweepInterrupted:
        writer.flush()
        consolidate(out, order)  # what is finished, in OUT; a rerun resumes from it
        raise
    finally:
        writer.flush()  # rows finished before any other exception stay in the part files (a rerun resumes)
        if bar is not None:
            bar.close()
