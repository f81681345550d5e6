"""Design-space sweeps: many (architecture x trace) points, run in parallel, resumable.

A sweep spec (YAML, see ``docs/sweeps.md``) names base architectures, traces
(files or synthetic generators) and axes over architecture key paths. Stages:

    spec -> points -> groups (same simulation) -> tasks -> rows -> parquet

Points that differ only in energy constants (``energy_pj.*``,
``static_power_w``) form one group: the group is simulated once and the other
points are re-costed from its action counts (``recosted`` is True in their
rows). Finished rows are written as parquet part files next to the output
(``OUT.parts/``) while the sweep runs and consolidated into ``OUT`` at the end,
so an interrupted sweep loses nothing and a rerun skips points already done.

Examples
--------
>>> df = sweep("examples/sweep_small.yaml", "results.parquet", workers=2)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import glob
import hashlib
import itertools
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError, model_validator

from neurosim.api import sampled_energy_interval
from neurosim.arch import ChipArch, arch_from_dict
from neurosim.energy import energy_breakdown_pj
from neurosim.spec import Frozen, SpecError, apply_overrides, load_with_base, parse_override, read_yaml, validate

SWEEP_VERSION = 1
ENERGY_KEYS = ("energy_pj", "static_power_w")  # the only keys a re-costing may change
STATUS_OK, STATUS_ERROR = "ok", "error"
TIMING_COLUMNS = ("elapsed_s", "meta.build_s", "meta.simulate_s")  # differ between otherwise identical runs

PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


# ----------------------------------------------------------------------------- spec models


class RandomParam(Frozen):
    """One randomly drawn key: ``{low, high}`` (``log``, ``integer``) or ``{choices: [...]}``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RandomParam:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            if not self.choices:
                raise ValueError("choices: empty; allowed: a non-empty list")
            return self
        if self.low is None or self.high is None:
            raise ValueError("allowed: {low: X, high: Y} (optionally log, integer) or {choices: [...]}")
        if self.high < self.low:
            raise ValueError(f"high={self.high} < low={self.low}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: low={self.low}; allowed: low > 0")
        return self


class RandomAxes(Frozen):
    """``n`` points drawn with ``seed``, each key drawn independently."""

    n: PositiveInt
    seed: int = 0
    params: dict[str, RandomParam]


class Axes(Frozen):
    """Architecture axes; the point set is grid x random x points (an absent kind counts once)."""

    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    random: RandomAxes | None = None
    points: list[dict[str, Any]] = Field(default_factory=list)


class SyntheticTrace(Frozen):
    """A random trace (:func:`neurosim.trace.synthetic`); a list in a field is a grid over it."""

    hidden_sizes: list[PositiveInt] | list[list[PositiveInt]] = Field(default_factory=lambda: [512, 512])
    input_size: PositiveInt | list[PositiveInt] = 256
    activity: Fraction | list[Fraction] = 0.15
    weight_sparsity: Fraction | list[Fraction] = 0.9
    tokens: PositiveInt | None = None  # default: options.tokens, else 256
    gates: PositiveInt = 3
    seed: int | list[int] = 0


class TraceEntry(Frozen):
    """``{file: PATH_OR_GLOB}`` or ``{synthetic: {...}}``."""

    file: str | None = None
    optional: bool = False  # a missing file (or a glob matching nothing) is skipped
    synthetic: SyntheticTrace | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TraceEntry:
        if (self.file is None) == (self.synthetic is None):
            raise ValueError("allowed: exactly one of file or synthetic")
        return self


class Options(Frozen):
    """Run options; a list in ``policy`` or ``min_cores`` is a grid over it.

    ``sample: K`` simulates K windows of ``window`` tokens per point on a chip
    (as ``neurosim run --sample``) and adds 95% intervals (``ci95_low.*``,
    ``ci95_high.*`` columns); ``tokens`` then bounds the part of each trace the
    windows are drawn from (default: all of it). GPU points are modelled whole.
    ``check: K`` (with ``backend: bound``) also replays K windows of ``window`` tokens
    exactly per point and records the bound's gap (``meta.bound_check_*`` columns).
    """

    tokens: PositiveInt | None = None
    policy: Literal["contiguous", "balanced"] | list[Literal["contiguous", "balanced"]] = "contiguous"
    min_cores: PositiveInt | list[PositiveInt] = 1
    backend: Literal["numba", "simpy", "bound"] = "numba"
    sample: Annotated[int, Field(ge=2)] | None = None
    window: PositiveInt = 256
    sample_seed: int = 0
    check: PositiveInt | None = None  # with backend bound: replay this many windows exactly (meta.bound_check_*)


class SweepSpec(Frozen):
    """A whole sweep: base architectures x traces x axes, with run options."""

    version: Literal[1]
    name: str = "sweep"
    description: str = ""
    arch: str | Annotated[list[str], Field(min_length=1)]
    traces: Annotated[list[TraceEntry], Field(min_length=1)]
    axes: Axes = Axes()
    options: Options = Options()


# ----------------------------------------------------------------------------- points


@dataclass(frozen=True)
class Point:
    """One (architecture, overrides, trace, options) to simulate or re-cost."""

    index: int
    point_id: str
    sim_id: str  # equal for points that differ only in energy constants
    arch_file: str  # as written in the spec
    arch_path: str  # resolved, absolute
    overrides: dict  # {"key.path": value}
    trace: dict  # trace parameters (kind "file" or "synthetic")
    options: dict

    def columns(self) -> dict:
        """The point's parameters as row columns."""
        row = {"point_id": self.point_id, "sim_id": self.sim_id, "arch_file": self.arch_file}
        row.update({f"arch.{k}": _scalar(v) for k, v in self.overrides.items()})
        row.update({f"trace.{k}": _scalar(v) for k, v in self.trace.items()})
        row.update({f"option.{k}": _scalar(v) for k, v in self.options.items()})
        return row


@dataclass
class Sweep:
    """A validated spec with its resolved architectures and planned points."""

    spec: SweepSpec
    root: Path
    arch_data: dict[str, dict] = field(default_factory=dict)  # arch_file -> resolved base spec mapping
    points: list[Point] = field(default_factory=list)

    @property
    def axis_keys(self) -> list[str]:
        keys: dict[str, None] = {}
        for p in self.points:
            keys.update(dict.fromkeys(p.overrides))
        return list(keys)


def _scalar(value):
    """Parquet-friendly: lists and mappings become JSON text."""
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    if isinstance(value, np.generic):
        return value.item()
    return value


def _digest(obj) -> str:
    text = json.dumps(obj, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def is_energy_key(path: str) -> bool:
    """True for keys a re-costing may change: ``energy_pj``, ``energy_pj.*`` and ``static_power_w``."""
    return path.split(".")[0] in ENERGY_KEYS


def _check_path(path: str, data: dict, where: str) -> None:
    """Raise a one-line :class:`SpecError` unless ``path`` names a key of the architecture mapping."""
    node: Any = data
    parts = path.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            parent = ".".join(parts[:i]) or "(top level)"
            known = sorted(node) if isinstance(node, dict) else []
            if isinstance(node, dict):
                what = f"unknown key {part!r} under {parent}"
            else:
                what = f"'{parts[i - 1]}' is a value, not a section"
            raise SpecError(f"{where}{path}: {what}; known keys: {known}")
        node = node[part]


def _arch_model(data: dict):
    if data.get("kind", "neuromorphic") == "gpu":
        from neurosim.gpu import GpuArch

        return GpuArch
    return ChipArch


def _check_value(path: str, value, data: dict, where: str) -> None:
    """Reject a value that is wrong for its key on its own (type, range); joint constraints are checked per point."""
    try:
        _arch_model(data).model_validate(apply_overrides(data, {path: value}))
    except ValidationError as exc:
        want = tuple(path.split("."))
        for err in exc.errors():
            if tuple(str(p) for p in err["loc"]) == want:
                raise SpecError(f"{where}{path}: got {value!r}; {err['msg']}") from None


def _axis_points(axes: Axes) -> list[dict]:
    """The architecture override dicts: product of grid, random draws and explicit points."""
    grid = [dict(zip(axes.grid, combo)) for combo in itertools.product(*axes.grid.values())] if axes.grid else [{}]
    drawn = [{}]
    if axes.random is not None:
        rng = np.random.default_rng(axes.random.seed)
        drawn = []
        for _ in range(axes.random.n):
            point = {}
            for key, p in axes.random.params.items():
                if p.choices is not None:
                    point[key] = _scalar(p.choices[int(rng.integers(len(p.choices)))])
                    continue
                if p.log:
                    v = math.exp(rng.uniform(math.log(p.low), math.log(p.high)))
                else:
                    v = float(rng.uniform(p.low, p.high))
                point[key] = round(v) if p.integer else v
            drawn.append(point)
    explicit = [dict(p) for p in axes.points] or [{}]
    return [{**g, **d, **e} for g in grid for d in drawn for e in explicit]


def _as_list(value) -> list:
    return list(value) if isinstance(value, list) else [value]


def _trace_points(entry: TraceEntry, root: Path, tokens: int | None, where: str) -> list[dict]:
    if entry.file is not None:
        pattern = entry.file
        full = str(root / pattern)
        if any(c in pattern for c in "*?["):
            files = sorted(glob.glob(full))
            rel = [str(Path(pattern).parent / Path(f).name) for f in files]
        else:
            files, rel = ([full], [pattern]) if Path(full).is_file() else ([], [])
        if not files and not entry.optional:
            raise SpecError(f"{where}file: {pattern!r} matches no file under {root}; set optional: true to skip it")
        return [{"kind": "file", "file": r, "path": str(Path(f).resolve()), "tokens": tokens}
                for r, f in zip(rel, files)]
    s = entry.synthetic
    sizes = s.hidden_sizes if s.hidden_sizes and isinstance(s.hidden_sizes[0], list) else [s.hidden_sizes]
    out = []
    for hs, inp, act, ws, seed in itertools.product(
        sizes, _as_list(s.input_size), _as_list(s.activity), _as_list(s.weight_sparsity), _as_list(s.seed)
    ):
        out.append({
            "kind": "synthetic", "hidden_sizes": list(hs), "input_size": inp, "activity": float(act),
            "weight_sparsity": float(ws), "tokens": s.tokens or tokens or 256, "gates": s.gates, "seed": seed,
        })
    return out


def load_sweep(spec: str | Path | dict, root: str | Path | None = None) -> Sweep:
    """Validate a sweep spec (a YAML path or a mapping) and plan its points.

    Every axis key path is checked against every base architecture before
    anything runs; a bad path fails with one line naming it and the known keys.

    Parameters
    ----------
    spec : path of the sweep YAML, or the mapping itself.
    root : folder that relative paths in the spec start from (default: the
        YAML's folder, or the current folder for a mapping).
    """
    if isinstance(spec, (str, Path)):
        where = f"{Path(spec).name}: "
        data = read_yaml(spec)
        root = Path(spec).resolve().parent if root is None else Path(root)
    else:
        where, data, root = "", copy.deepcopy(spec), Path(root or ".").resolve()
    version = data.get("version")
    if version != SWEEP_VERSION:
        raise SpecError(f"{where}version: got {version!r}; allowed: {SWEEP_VERSION}")
    sw = Sweep(spec=validate(SweepSpec, data, where), root=root)

    for arch_file in _as_list(sw.spec.arch):
        path = root / arch_file
        # the validated spec's full mapping: keys left at their defaults are sweepable too
        sw.arch_data[arch_file] = _full_arch_data(load_with_base(path), f"{where}arch {arch_file}: ")

    axis_points = _axis_points(sw.spec.axes)
    keys = dict.fromkeys(k for p in axis_points for k in p)
    for arch_file, base in sw.arch_data.items():
        at = f"{where}axes ({arch_file}): "
        for key in keys:
            _check_path(key, base, at)
        values: dict[str, list] = {}
        for p in axis_points:
            for k, v in p.items():
                if not any(v == seen for seen in values.setdefault(k, [])):
                    values[k].append(v)
        for k, vs in values.items():
            for v in vs[:64]:  # a handful of distinct values is enough to catch wrong types and ranges
                _check_value(k, v, base, at)

    opts = sw.spec.options
    traces = [t for i, e in enumerate(sw.spec.traces)
              for t in _trace_points(e, root, opts.tokens, f"{where}traces.{i}.")]
    sampling = {"sample": opts.sample, "window": opts.window, "sample_seed": opts.sample_seed} if opts.sample else {}
    if opts.sample and opts.backend == "simpy":
        raise SpecError(f"{where}options.sample: needs backend numba or bound; got backend 'simpy'")
    if opts.check:
        if opts.backend != "bound":
            raise SpecError(f"{where}options.check: needs backend bound; got backend {opts.backend!r}")
        sampling.update(check=opts.check, window=opts.window, sample_seed=opts.sample_seed)
    run_opts = [
        {"policy": pol, "min_cores": mc, "backend": opts.backend, **sampling}
        for pol in _as_list(opts.policy)
        for mc in _as_list(opts.min_cores)
    ]
    for trace in traces:
        trace_key = {k: v for k, v in trace.items() if k != "path"}
        for arch_file in sw.arch_data:
            energy_too = _arch_model(sw.arch_data[arch_file]) is ChipArch
            for overrides in axis_points:
                for ro in run_opts:
                    sim_over = {k: v for k, v in overrides.items() if not (energy_too and is_energy_key(k))}
                    params = {"arch": arch_file, "trace": trace_key, "options": ro}
                    sw.points.append(Point(
                        index=len(sw.points),
                        point_id=_digest({**params, "set": overrides}),
                        sim_id=_digest({**params, "set": sim_over}),
                        arch_file=arch_file,
                        arch_path=str((root / arch_file).resolve()),
                        overrides=dict(overrides),
                        trace=dict(trace),
                        options=dict(ro),
                    ))
    ids = [p.point_id for p in sw.points]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{where}the spec lists the same point more than once "
                        "(check repeated trace entries or axis values)")
    return sw


# ----------------------------------------------------------------------------- running one group


@lru_cache(maxsize=4)
def _cached_trace(key: str):
    from neurosim.trace import load_trace, synthetic

    t = json.loads(key)
    if t["kind"] == "file":
        return load_trace(t["path"], t["tokens"])
    return synthetic(t["hidden_sizes"], input_size=t["input_size"], activity=t["activity"],
                     weight_sparsity=t["weight_sparsity"], tokens=t["tokens"], gates=t["gates"], seed=t["seed"])


def _full_arch_data(data: dict, where: str = "") -> dict:
    return arch_from_dict(data, where=where).model_dump(mode="json")


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


def recost_result(result, arch):
    """``result`` with its energy recomputed from its action counts on ``arch`` (a :class:`ChipArch`)."""
    energy = energy_breakdown_pj(result.counts, arch)
    per_tok = 1.0 / result.tokens
    total = sum(energy.values()) * per_tok
    intervals = dict(result.intervals)
    if "energy_pj_per_token" in intervals:  # a sampled run: its windows' counts re-costed
        intervals["energy_pj_per_token"] = sampled_energy_interval(
            result.meta["sample_window_counts"], result.meta["sample_window_tokens"], arch, total)
    return replace(
        result,
        arch=arch.name,
        energy_pj_per_token=total,
        energy_breakdown_pj_per_token={k: v * per_tok for k, v in energy.items()},
        intervals=intervals,
    )


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def run_group(points: list[Point]) -> list[dict]:
    """Simulate the group's first point and re-cost the others from its counts; one row per point.

    Never raises for a bad point: its row has ``status`` ``error`` and the message.
    """
    from neurosim.api import run

    rows = []
    base_result, base_error = None, None
    for i, point in enumerate(points):
        t0 = time.perf_counter()
        row = point.columns()
        try:
            if base_error is not None:
                raise base_error
            arch = _load_point_arch(point)
            recosted = base_result is not None and isinstance(arch, ChipArch)
            if recosted:
                result = recost_result(base_result, arch)
            else:
                trace = _cached_trace(json.dumps(point.trace, sort_keys=True))
                opts = point.options
                engine = {}  # GPU points are modelled whole, analytically: no engine options
                if isinstance(arch, ChipArch):
                    engine = {key: opts[key] for key in ("sample", "check") if opts.get(key)}
                    if engine:
                        engine.update(window=opts["window"], seed=opts["sample_seed"])
                    engine["engine"] = opts["backend"]
                result = run(arch, trace, tokens=point.trace["tokens"], policy=opts["policy"],
                             min_cores=opts["min_cores"], **engine)
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


# ----------------------------------------------------------------------------- storage


def parts_dir(out: str | Path) -> Path:
    """Folder of the part files written while a sweep runs: ``OUT.parts/``."""
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    _parquet_safe(df).to_parquet(tmp, index=False)
    os.replace(tmp, path)


def _parquet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """Object columns that mix types (e.g. a number and a word along one axis) become text."""
    out = df.copy()
    for col in out.columns[out.dtypes == object]:
        kinds = {type(v) for v in out[col] if v is not None and not (isinstance(v, float) and math.isnan(v))}
        if len(kinds) > 1 and not kinds <= {int, float, bool, np.int64, np.float64}:
            out[col] = [None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v) for v in out[col]]
    return out


class _PartWriter:
    """Buffers finished rows and writes them as parquet part files (each written atomically)."""

    def __init__(self, out: Path, flush_s: float = 2.0, flush_rows: int = 256):
        self.folder = parts_dir(out)
        self.flush_s, self.flush_rows = flush_s, flush_rows
        self.pending: list[dict] = []
        self.last = time.monotonic()
        self.seq = 0

    def add(self, rows: list[dict]) -> None:
        self.pending.extend(rows)
        if len(self.pending) >= self.flush_rows or time.monotonic() - self.last >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.folder.mkdir(parents=True, exist_ok=True)
            name = f"part-{time.time_ns():020d}-{os.getpid()}-{self.seq:06d}.parquet"
            _atomic_parquet(pd.DataFrame(self.pending), self.folder / name)
            self.seq += 1
            self.pending = []
        self.last = time.monotonic()


def read_results(out: str | Path) -> pd.DataFrame:
    """The rows of ``OUT`` and of any part files not yet consolidated; the last row of a point wins."""
    out = Path(out)
    frames = []
    if out.is_file():
        frames.append(pd.read_parquet(out))
    folder = parts_dir(out)
    if folder.is_dir():
        frames.extend(pd.read_parquet(p) for p in sorted(folder.glob("part-*.parquet")))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    return df.drop_duplicates("point_id", keep="last").reset_index(drop=True)


def consolidate(out: str | Path, order: list[str] | None = None) -> pd.DataFrame:
    """Merge ``OUT`` and its part files into ``OUT`` (atomically), then remove the parts.

    ``order`` (point ids) sorts the rows; rows of other points follow in their stored order.
    """
    out = Path(out)
    df = read_results(out)
    if df.empty:
        return df
    if order is not None:
        rank = {pid: i for i, pid in enumerate(order)}
        key = df["point_id"].map(rank).fillna(len(rank)).to_numpy()
        df = df.iloc[np.argsort(key, kind="stable")].reset_index(drop=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    _atomic_parquet(df, out)
    folder = parts_dir(out)
    if folder.is_dir():
        for p in folder.glob("part-*.parquet"):
            p.unlink()
        try:
            folder.rmdir()
        except OSError:
            pass
    return df


# ----------------------------------------------------------------------------- the runner


def groups(points: list[Point]) -> list[list[Point]]:
    """The points in groups of one simulation each (equal ``sim_id``), in first-seen order."""
    by_sim: dict[str, list[Point]] = {}
    for p in points:
        by_sim.setdefault(p.sim_id, []).append(p)
    return list(by_sim.values())


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


def recost(df: pd.DataFrame, arch_path: str | Path, overrides: list[str] | dict | None = None) -> pd.DataFrame:
    """Re-cost the ``ok`` rows of a results table on another energy table, without re-simulating.

    ``arch_path`` (with ``overrides``) may differ from the rows' architectures
    only in ``energy_pj.*``, ``static_power_w``, ``name`` and ``description``;
    rows simulated on a different architecture raise :class:`SpecError`.
    Returns a copy with the energy columns recomputed and ``recosted`` True.

    Examples
    --------
    >>> cheap = recost(df, "arch_specs/loihi_like.yaml", ["energy_pj.synop=10"])  # doctest: +SKIP
    """
    from neurosim.arch import load_arch

    arch = load_arch(arch_path, overrides)
    if not isinstance(arch, ChipArch):
        raise SpecError(f"{Path(arch_path).name}: kind {arch.kind}; re-costing needs a neuromorphic architecture")
    out = df.copy()
    ok = (out["status"] == STATUS_OK).to_numpy() if "status" in out else np.ones(len(out), bool)
    if "arch_sig" in out:
        sig = arch_signature(arch)
        bad = ok & (out["arch_sig"].to_numpy() != sig)
        if bad.any():
            raise SpecError(
                f"{Path(arch_path).name}: differs from {int(bad.sum())} row(s)' architecture in keys other than "
                f"{list(ENERGY_KEYS)}; those rows need a new simulation, not a re-costing"
            )
    count_cols = [c for c in out.columns if c.startswith("counts.")]
    for i in np.flatnonzero(ok):
        counts = {c[len("counts."):]: float(out.iat[i, out.columns.get_loc(c)]) for c in count_cols}
        per_tok = 1.0 / float(out.iat[i, out.columns.get_loc("tokens")])
        energy = energy_breakdown_pj(counts, arch)
        total = sum(energy.values()) * per_tok
        out.iloc[i, out.columns.get_loc("energy_pj_per_token")] = total
        if "energy_j_per_token" in out:
            out.iloc[i, out.columns.get_loc("energy_j_per_token")] = total * 1e-12
        for k, v in energy.items():
            col = f"energy_breakdown_pj_per_token.{k}"
            if col in out:
                out.iloc[i, out.columns.get_loc(col)] = v * per_tok
        if "ci95_low.energy_pj_per_token" in out and isinstance(out.iat[i, out.columns.get_loc(
                "meta.sample_window_counts")], str):  # a sampled row: its windows' counts re-costed
            low, high = sampled_energy_interval(
                json.loads(out.iat[i, out.columns.get_loc("meta.sample_window_counts")]),
                int(out.iat[i, out.columns.get_loc("meta.sample_window_tokens")]), arch, total)
            out.iloc[i, out.columns.get_loc("ci95_low.energy_pj_per_token")] = low
            out.iloc[i, out.columns.get_loc("ci95_high.energy_pj_per_token")] = high
    out.loc[ok, "arch"] = arch.name
    out.loc[ok, "recosted"] = True
    if overrides:
        items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
        for parts, value in items:
            key = parts if isinstance(parts, str) else ".".join(parts)
            out.loc[ok, f"arch.{key}"] = _scalar(value)
    return out
