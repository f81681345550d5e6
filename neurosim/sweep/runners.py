"""Running a sweep: each group simulated once (its other points re-costed), on local processes or a Dask cluster."""

from __future__ import annotations

import json
import sys
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
from neurosim.sweep.store import STATUS_ERROR, STATUS_OK, _PartWriter, consolidate, read_results


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


def _run_local(groups, workers, record):
    if workers <= 1:
        for g in groups:
            record(g, run_group(g))
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # forkserver: workers start from a clean process, not a fork of one running threads (tqdm, Dask)
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context(method))
    try:
        futures = {pool.submit(run_group, g): g for g in groups}
        for fut in as_completed(futures):
            g = futures[fut]
            try:
                rows = fut.result()
            except Exception as exc:  # noqa: BLE001 -- the worker process died
                rows = _error_rows(g, exc)
            record(g, rows)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


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

    Returns
    -------
    One row per point: ``point_id``, ``sim_id``, ``arch_file``, ``arch.<key>``
    for each swept key, ``trace.<param>``, ``option.<name>``, every
    :meth:`Result.to_flat_dict` column, ``status``, ``error``, ``recosted``,
    ``arch_sig`` and ``elapsed_s``.
    """
    sw = spec if isinstance(spec, Sweep) else load_sweep(spec, root)
    out = Path(out)
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
    finally:
        writer.flush()
        if bar is not None:
            bar.close()
    return consolidate(out, order)
