"""Planning a sweep: the spec's points (architecture overrides x traces x options), checked before anything runs.

Points that differ only in energy constants share a ``sim_id``: :func:`groups` puts
them in one group, simulated once and re-costed for the others.
"""

from __future__ import annotations

import copy
import glob
import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from neurosim.arch import ChipArch, arch_from_dict
from neurosim.data import shipped_arch, shipped_trace
from neurosim.spec import SpecError, apply_overrides, load_with_base, read_yaml, validate
from neurosim.sweep.spec import SWEEP_VERSION, Axes, SweepSpec, TraceEntry

ENERGY_KEYS = ("energy_pj", "static_power_w")  # the only keys a re-costing may change


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
            path = Path(full) if Path(full).is_file() else shipped_trace(pattern)  # a file, or a shipped name
            files, rel = ([str(path)], [pattern]) if path is not None else ([], [])
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


def _arch_path(root: Path, arch_file: str) -> Path:
    """``root / arch_file`` when it exists, else the shipped spec of that name (``loihi_like``)."""
    path = root / arch_file
    return path if path.exists() else (shipped_arch(arch_file) or path)


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
        path = _arch_path(root, arch_file)
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
    if opts.sample and opts.engine == "simpy":
        raise SpecError(f"{where}options.sample: needs engine numba or bound; got engine 'simpy'")
    if opts.check:
        if opts.engine != "bound":
            raise SpecError(f"{where}options.check: needs engine bound; got engine {opts.engine!r}")
        sampling.update(check=opts.check, window=opts.window, sample_seed=opts.sample_seed)
    if opts.readout != "chip":  # the default stays out of the options, so points keep their ids
        sampling["readout"] = opts.readout
    run_opts = [
        {"policy": pol, "min_cores": mc, "engine": opts.engine, **sampling}
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
                        arch_path=str(_arch_path(root, arch_file).resolve()),
                        overrides=dict(overrides),
                        trace=dict(trace),
                        options=dict(ro),
                    ))
    ids = [p.point_id for p in sw.points]
    if len(set(ids)) != len(ids):
        raise SpecError(f"{where}the spec lists the same point more than once "
                        "(check repeated trace entries or axis values)")
    return sw


def _full_arch_data(data: dict, where: str = "") -> dict:
    return arch_from_dict(data, where=where).model_dump(mode="json")


def groups(points: list[Point]) -> list[list[Point]]:
    """The points in groups of one simulation each (equal ``sim_id``), in first-seen order."""
    by_sim: dict[str, list[Point]] = {}
    for p in points:
        by_sim.setdefault(p.sim_id, []).append(p)
    return list(by_sim.values())
