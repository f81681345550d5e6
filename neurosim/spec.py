"""YAML specs: ``base:`` inheritance, ``key.path=value`` overrides, and
validation into frozen pydantic models with one-line errors.

Shared by the architecture specs (``neurosim.arch``), the GPU specs
(``neurosim.gpu``) and the sweep specs (``neurosim.sweep``).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class SpecError(ValueError):
    """A spec file, override or value is invalid; the message names the key path."""


class Frozen(BaseModel):
    """Base of every spec model: immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise SpecError(f"{path}: top level is {type(data).__name__}, allowed: a mapping of keys")
    return data


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``: mappings merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_with_base(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict:
    """Read a YAML spec, resolving ``base: other.yaml`` (relative to the file) recursively."""
    path = Path(path).resolve()
    if path in _seen:
        chain = " -> ".join(p.name for p in (*_seen, path))
        raise SpecError(f"base: circular inheritance {chain}")
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise SpecError(f"{path.name}: base is {base!r}, allowed: a path to another YAML spec")
    base_path = (path.parent / base).resolve()
    return deep_merge(load_with_base(base_path, (*_seen, path)), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"noc.hop_latency_cycles=3"`` -> (["noc", "hop_latency_cycles"], 3); the value is parsed as YAML."""
    if "=" not in text:
        raise SpecError(f"--set {text!r}: allowed form is key.path=value")
    key, _, raw = text.partition("=")
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise SpecError(f"--set {text!r}: empty part in key path {key!r}")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        value = raw
    return parts, value


def set_path(data: dict, parts: list[str], value: Any) -> dict:
    """A copy of ``data`` with ``value`` at the key path; the path's parents must exist."""
    out = copy.deepcopy(data)
    node = out
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            where = ".".join(parts[: i + 1])
            known = sorted(node) if isinstance(node, dict) else []
            raise SpecError(f"{where}: not a section of the spec; known keys here: {known}")
        node = nxt
    node[parts[-1]] = value
    return out


def apply_overrides(data: dict, overrides: list[str] | dict | None) -> dict:
    """Apply ``key.path=value`` strings (or a ``{"key.path": value}`` mapping)."""
    if not overrides:
        return data
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for parts, value in items:
        if isinstance(parts, str):
            parts = parts.split(".")
        data = set_path(data, list(parts), value)
    return data


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    """One line per problem: ``key.path: got VALUE; MESSAGE``."""
    lines = []
    for err in exc.errors():
        path = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
            model = _model_for_loc(exc, err["loc"][:-1])
            if model is not None:
                msg += f"; allowed keys: {sorted(model.model_fields)}"
        value = err.get("input")
        shown = "" if isinstance(value, dict) else f"got {value!r}; "
        lines.append(f"{where}{path}: {shown}{msg}")
    return "\n".join(lines)


_MODEL_REGISTRY: dict[str, type[BaseModel]] = {}


def _model_for_loc(exc: ValidationError, loc: tuple) -> type[BaseModel] | None:
    model = _MODEL_REGISTRY.get(exc.title)
    for part in loc:
        if model is None:
            return None
        field = model.model_fields.get(str(part))
        if field is None:
            return None
        ann = field.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return model


def validate(model: type[M], data: dict, where: str = "") -> M:
    """Build a frozen ``model`` from ``data`` or raise :class:`SpecError` naming each bad key."""
    _MODEL_REGISTRY[model.__name__] = model
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, where)) from None
