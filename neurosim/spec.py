"""YAML specs: ``base:`` inheritance, ``key.path=value`` overrides, and
validation into frozen pydantic models with one-line errors.

Shared by the architecture specs (``neurosim.arch``), the GPU specs
(``neurosim.gpu``) and the sweep specs (``neurosim.sweep``).

Reading is defensive: a file is at most ``limits.MAX_SPEC_BYTES``, UTF-8,
free of duplicate keys, nested at most ``MAX_YAML_DEPTH`` levels and at most
``MAX_YAML_NODES`` values after alias expansion. Numbers are strictly numbers
(no booleans, no quoted strings; an integer is accepted where a float is
expected) and finite. Every error is one line naming the file, the key path,
the value (shortened) and what is allowed.
"""

from __future__ import annotations

import codecs
import copy
import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn, TypeVar

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from neurosim import limits
from neurosim.limits import describe

M = TypeVar("M", bound=BaseModel)


class SpecError(ValueError):
    """A spec file, override or value is invalid; the one-line message names the key path."""


class Frozen(BaseModel):
    """Base of every spec model: immutable, unknown keys rejected, strict finite numbers."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


# ----------------------------------------------------------------------------- number types


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (``np.bool_`` becomes a bool, which is refused)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    return value


def _exact_int(value: Any) -> Any:
    """A literal integer stays an integer: ``True`` and ``1.0`` are not ``1``."""
    value = _plain(value)
    if isinstance(value, bool) or not isinstance(value, int):
        # a ValueError, not a TypeError: pydantic reports only the former as a validation error
        raise ValueError(f"allowed: an integer, unquoted (got a {type(value).__name__})")  # noqa: TRY004
    return value


def _bound(low: str | None, high: str | None):
    """An after-validator checking the named limits of :mod:`neurosim.limits`."""

    def check(value):
        if low is not None and value < getattr(limits, low):
            raise ValueError(f"allowed: >= {describe(low)}")
        if high is not None and value > getattr(limits, high):
            raise ValueError(f"allowed: <= {describe(high)}")
        return value

    return AfterValidator(check)


def int_in(ge: int | None = None, le: int | str = "MAX_SPEC_INT"):
    """A strict integer ``>= ge`` and ``<= le``; a string ``le`` names a limit of :mod:`neurosim.limits`."""
    if isinstance(le, str):
        return Annotated[int, BeforeValidator(_plain), Field(ge=ge), _bound(None, le)]
    return Annotated[int, BeforeValidator(_plain), Field(ge=ge, le=le)]


def float_in(ge: float | str | None = None, gt: float | None = None, le: float | str = "MAX_SPEC_FLOAT"):
    """A strict finite float (an int is accepted) within bounds; a string bound names a limit."""
    named_low = ge if isinstance(ge, str) else None
    named_high = le if isinstance(le, str) else None
    field = Field(ge=None if named_low else ge, gt=gt, le=None if named_high else le)
    return Annotated[float, BeforeValidator(_plain), field, _bound(named_low, named_high)]


Version = Annotated[Literal[1], BeforeValidator(_exact_int)]
Int = int_in()
NonNegInt = int_in(0)
PositiveInt = int_in(1)
NonNegFloat = float_in(0.0)
PositiveFloat = float_in(gt=0.0)
EnergyPj = float_in(0.0, le="MAX_ENERGY_PJ")
PowerW = float_in(0.0, le="MAX_POWER_W")
ClockHz = float_in("MIN_CLOCK_HZ", le="MAX_CLOCK_HZ")


# ----------------------------------------------------------------------------- reading YAML

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecLoader(_Base):
    """Safe YAML with YAML 1.2 floats: ``1e9`` is a number, as in JSON (YAML 1.1 makes it a string)."""


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)

_MERGE = "tag:yaml.org,2002:merge"


def short_repr(value: Any, width: int = 80) -> str:
    """``repr`` of a value cut to ``width`` characters."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 (a repr that fails must not hide the real error)
        text = f"<{type(value).__name__}>"
    return short_text(text, width)


def short_text(text: str, width: int = 80) -> str:
    """``text`` on one line, cut to ``width`` characters (a key path, a value's repr)."""
    text = str(text).replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 3] + "..."


def _line(mark) -> str:
    return f"line {mark.line + 1}: " if mark is not None else ""


def _check_nodes(root: yaml.Node, where: str) -> None:
    """Refuse duplicate keys, recursive aliases, deep nesting and alias expansion past the limits.

    Walks the composed node graph once: a node shared through aliases is measured once
    (``memo``), so an alias bomb costs its text size, not its expansion.
    """
    memo: dict[int, tuple[int, int]] = {}  # node id -> (values in it and below, levels below it)
    on_path: set[int] = set()
    aliases = 0

    def fail(node_or_mark, path: str, problem: str, limit: str | None = None) -> NoReturn:
        mark = getattr(node_or_mark, "start_mark", node_or_mark)
        allowed = f"; allowed: <= {describe(limit)}" if limit else ""
        raise SpecError(f"{where}{_line(mark)}{short_text(path or '(top level)')}: {problem}{allowed}")

    def walk(node: yaml.Node, path: str, depth: int) -> tuple[int, int]:
        nonlocal aliases
        key = id(node)
        if key in on_path:
            fail(node, path, "an alias refers to its own anchor (a recursive structure); allowed: nested values")
        if key in memo:
            aliases += 1
            if aliases > limits.MAX_YAML_ALIASES:
                fail(node, path, f"more than {limits.MAX_YAML_ALIASES} alias references (*name)", "MAX_YAML_ALIASES")
            size, height = memo[key]
        else:
            if depth > limits.MAX_YAML_DEPTH:
                fail(node, path, f"nested deeper than {limits.MAX_YAML_DEPTH} levels", "MAX_YAML_DEPTH")
            on_path.add(key)
            size, height = 1, 0
            for child, sub in children(node, path):
                s, h = walk(sub, child, depth + 1)
                size, height = size + s, max(height, h + 1)
            on_path.discard(key)
            memo[key] = (size, height)
        if depth + height > limits.MAX_YAML_DEPTH:
            fail(node, path, f"nested deeper than {limits.MAX_YAML_DEPTH} levels (through an alias)", "MAX_YAML_DEPTH")
        if size > limits.MAX_YAML_NODES:
            fail(node, path, f"expands to more than {limits.MAX_YAML_NODES} values (aliases?)", "MAX_YAML_NODES")
        return size, height

    def children(node: yaml.Node, path: str):
        """(key path, node) of every key and value under ``node``; a repeated key is an error."""
        if isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                yield f"{path}.{i}" if path else str(i), v
        elif isinstance(node, yaml.MappingNode):
            seen: dict[tuple, Any] = {}
            for k, v in node.value:
                name = "<<" if k.tag == _MERGE else k.value if isinstance(k, yaml.ScalarNode) else "?"
                child = f"{path}.{name}" if path else name
                if isinstance(k, yaml.ScalarNode) and k.tag != _MERGE:
                    if (k.tag, name) in seen:
                        first = seen[(k.tag, name)].line + 1
                        fail(k, child, f"duplicate key (first at line {first}); allowed: each key once per mapping")
                    seen[(k.tag, name)] = k.start_mark
                yield child, k
                yield child, v

    walk(root, "", 0)


def parse_yaml(text: str, where: str = "") -> Any:
    """Parse one YAML document with the checks of :func:`_check_nodes`; ``where`` prefixes errors."""
    loader = SpecLoader(text)
    try:
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_nodes(node, where)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        raise SpecError(f"{where}{_line(mark)}not valid YAML ({problem})") from None
    except yaml.YAMLError as exc:
        first = (str(exc).splitlines() or ["syntax error"])[0]
        raise SpecError(f"{where}not valid YAML ({first})") from None
    except RecursionError:
        raise SpecError(f"{where}nested too deeply to read; allowed: <= {describe('MAX_YAML_DEPTH')}") from None


_BOMS = (
    (codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"),
    (codecs.BOM_UTF16_LE, "UTF-16"), (codecs.BOM_UTF16_BE, "UTF-16"),
)


def shown_path(path: str | Path, width: int = 100) -> str:
    """A path for an error message: its last ``width`` characters (the file name stays whole)."""
    text = str(path).replace("\n", "\\n")
    return text if len(text) <= width else "..." + text[-(width - 3):]


def read_text(path: str | Path) -> str:
    """The UTF-8 text of a spec file, or a :class:`SpecError` naming the file and what is wrong."""
    path = Path(path)
    shown = shown_path(path)
    try:
        if not path.exists():
            raise SpecError(f"{shown}: no such file")
        if path.is_dir():
            raise SpecError(f"{shown}: is a directory; allowed: a YAML file")
        if not path.is_file():
            raise SpecError(f"{shown}: not a regular file; allowed: a YAML file")
        if path.stat().st_size > limits.MAX_SPEC_BYTES:
            raise SpecError(f"{shown}: {path.stat().st_size} bytes; allowed: <= {describe('MAX_SPEC_BYTES')} bytes")
        with path.open("rb") as fh:
            raw = fh.read(limits.MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    if len(raw) > limits.MAX_SPEC_BYTES:
        raise SpecError(f"{shown}: more than {limits.MAX_SPEC_BYTES} bytes; allowed: <= {describe('MAX_SPEC_BYTES')}")
    for bom, name in _BOMS:
        if raw.startswith(bom):
            raise SpecError(f"{shown}: encoded as {name}; allowed: UTF-8 text (re-save the file as UTF-8)")
    if b"\x00" in raw:
        offset = raw.index(b"\x00")
        raise SpecError(f"{shown}: NUL byte at offset {offset} (a binary file, or UTF-16 text); allowed: UTF-8 text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        byte = raw[exc.start]
        raise SpecError(f"{shown}: line {line}: byte 0x{byte:02x} is not UTF-8; allowed: UTF-8 text") from None


def read_yaml(path: str | Path) -> dict:
    """A spec file's top-level mapping (see :func:`read_text` and :func:`parse_yaml` for the checks)."""
    shown = shown_path(path)
    data = parse_yaml(read_text(path), where=f"{shown}: ")
    if data is None:
        raise SpecError(f"{shown}: empty; allowed: a mapping of keys")
    if not isinstance(data, dict):
        raise SpecError(f"{shown}: top level is {type(data).__name__}, allowed: a mapping of keys")
    return data


# ----------------------------------------------------------------------------- base: and overrides


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
    """Read a YAML spec, resolving ``base: other.yaml`` (relative to the file) recursively.

    An error in a base file says which file's ``base:`` led to it.
    """
    path = Path(path).resolve() if _seen else Path(path)
    if path.resolve() in _seen:
        chain = short_text(" -> ".join(p.name for p in (*_seen, path.resolve())), 160)
        raise SpecError(f"{shown_path(_seen[-1].name)}: base: circular inheritance {chain}; allowed: a chain that ends")
    data = read_yaml(path)
    base = data.pop("base", None)
    if base is None:
        return data
    if not isinstance(base, str) or not base.strip():
        raise SpecError(f"{shown_path(path.name)}: base: got {short_repr(base)}; allowed: a path to another YAML spec")
    base_path = (path.resolve().parent / base).resolve()
    try:
        parent = load_with_base(base_path, (*_seen, path.resolve()))
    except SpecError as exc:
        if str(exc).startswith(f"{shown_path(path.name)}: base: "):  # already names this file's base
            raise
        raise SpecError(f"{shown_path(path.name)}: base: {short_repr(base)}: {exc}") from None
    return deep_merge(parent, data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"noc.hop_latency_cycles=3"`` -> (["noc", "hop_latency_cycles"], 3); the value is parsed as YAML."""
    if not isinstance(text, str):
        raise SpecError(f"--set {short_repr(text)}: allowed: a string key.path=value")
    if "=" not in text:
        raise SpecError(f"--set {short_repr(text)}: allowed form is key.path=value")
    key, _, raw = text.partition("=")
    parts = [p.strip() for p in key.strip().split(".")]
    if not all(parts):
        raise SpecError(f"--set {short_repr(text)}: empty part in key path {short_repr(key)}")
    try:
        value = parse_yaml(raw, where=f"--set {parts[-1]}: ")
    except SpecError:
        value = raw
    return parts, value


def set_path(data: dict, parts: list[str], value: Any) -> dict:
    """A copy of ``data`` with ``value`` at the key path; the path's parents must exist."""
    out = copy.deepcopy(data)
    node = out
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part) if isinstance(node, dict) else None
        if not isinstance(nxt, dict):
            where = short_text(".".join(parts[: i + 1]))
            known = sorted(map(str, node)) if isinstance(node, dict) else []
            raise SpecError(f"{where}: not a section of the spec; known keys here: {known}")
        node = nxt
    node[parts[-1]] = value
    return out


def apply_overrides(data: dict, overrides: list[str] | dict | None) -> dict:
    """Apply ``key.path=value`` strings (or a ``{"key.path": value}`` mapping)."""
    if not overrides:
        return data
    if isinstance(overrides, str):
        overrides = [overrides]
    items = overrides.items() if isinstance(overrides, dict) else (parse_override(o) for o in overrides)
    for parts, value in items:
        if isinstance(parts, str):
            parts = parts.split(".")
        if not isinstance(parts, (list, tuple)) or not parts or not all(isinstance(p, str) and p for p in parts):
            raise SpecError(f"override {short_repr(parts)}: allowed: a key path 'section.key' (a string)")
        data = set_path(data, list(parts), value)
    return data


# ----------------------------------------------------------------------------- validation

# what is allowed, in place of pydantic's message, for the type errors
_ALLOWED = {
    "int_type": "allowed: an integer, unquoted",
    "float_type": "allowed: a number, unquoted",
    "finite_number": "allowed: a finite number (not .inf or .nan)",
    "string_type": "allowed: a string",
    "bool_type": "allowed: true or false",
    "dict_type": "allowed: a mapping of keys",
    "model_type": "allowed: a mapping of keys",
    "model_attributes_type": "allowed: a mapping of keys",
    "list_type": "allowed: a list",
}


def _article(noun: str) -> str:
    return f"an {noun}" if noun[:1] in "aeiou" else f"a {noun}"


def describe_error(exc: ValidationError, err: dict, where: str) -> str:
    """One pydantic error of ``exc`` as ``WHERE key.path: got VALUE (a TYPE); allowed: ...``, on one line."""
    loc = err["loc"]
    path = short_text(".".join(str(p) for p in loc))
    msg = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    shown = "" if isinstance(value, dict) or err["type"] == "missing" else f"got {short_repr(value)}; "
    if err["type"] == "extra_forbidden":
        msg = "unknown key"
        model = _model_for_loc(exc, loc[:-1])
        if model is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            keys = ", ".join(sorted(model.model_fields))
            if len(keys) > 100:  # a long section: the start of the list, the closest match says the rest
                keys = keys[:100].rsplit(", ", 1)[0] + f", ... ({len(model.model_fields)} keys)"
            msg += f"; allowed keys: {keys}"
            msg += f"; did you mean {close[0]!r}?" if close else ""
    elif err["type"] in _ALLOWED:
        kind = type(value).__name__
        shown = f"got {short_repr(value)}" + ("; " if err["type"] == "finite_number" else f" ({_article(kind)}); ")
        msg = _ALLOWED[err["type"]]
    if not path and err["type"] == "value_error":  # a joint check: its message names the keys
        return f"{where}{msg}".replace("\n", " ")
    return f"{where}{path or '(top level)'}: {shown}{msg}".replace("\n", " ")


def format_validation_error(exc: ValidationError, where: str = "") -> str:
    """One line: the first problem as ``key.path: got VALUE; MESSAGE``, then the paths of any others.

    A bad value is shown before a missing key (it is the likelier typo).
    """
    errors = sorted(exc.errors(), key=lambda e: e["type"] == "missing")
    if not errors:
        return f"{where}invalid spec"
    line = describe_error(exc, errors[0], where)
    more = [short_text(".".join(str(p) for p in e["loc"]) or "(top level)", 40) for e in errors[1:]]
    if more:
        shown = ", ".join(more[:3]) + (", ..." if len(more) > 3 else "")
        line += f" (and {len(more)} more: {shown})"
    return line


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
    """Build a frozen ``model`` from ``data`` or raise :class:`SpecError` naming the first bad key."""
    _MODEL_REGISTRY[model.__name__] = model
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SpecError(format_validation_error(exc, where)) from None
