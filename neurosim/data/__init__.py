"""The architecture specs and traces shipped inside the package, found by name.

``resolve_arch("loihi_like")`` and ``resolve_trace("ptb_egru90")`` give the
path of a shipped file; a path that exists always wins over a shipped name, so
``--arch my_chip.yaml`` and ``--arch loihi_like`` both work from any folder.

>>> resolve_arch("loihi_like").name
'loihi_like.yaml'
"""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).parent
ARCH_DIR = DATA / "arch_specs"
TRACE_DIR = DATA / "traces"
ARCH_SUFFIXES = (".yaml", ".yml")
TRACE_SUFFIX = ".npz"


def arch_names() -> list[str]:
    """Names of the shipped architecture specs (file stems), sorted."""
    return sorted(p.stem for p in ARCH_DIR.iterdir() if p.suffix in ARCH_SUFFIXES)


def trace_names() -> list[str]:
    """Names of the shipped traces (file stems), sorted."""
    return sorted(p.stem for p in TRACE_DIR.glob(f"*{TRACE_SUFFIX}"))


def _shipped(value: str | os.PathLike, folder: Path, suffixes: tuple[str, ...]) -> Path | None:
    path = Path(value)
    if path.parent not in (Path("."), Path(folder.name)):  # a bare name, or e.g. arch_specs/NAME.yaml
        return None
    stem = path.stem if path.suffix in suffixes else path.name
    for suffix in suffixes:
        shipped = folder / f"{stem}{suffix}"
        if shipped.is_file():
            return shipped
    return None


def shipped_arch(name: str | os.PathLike) -> Path | None:
    """The shipped spec called ``name`` (``loihi_like``, ``loihi_like.yaml``), or None."""
    return _shipped(name, ARCH_DIR, ARCH_SUFFIXES)


def shipped_trace(name: str | os.PathLike) -> Path | None:
    """The shipped trace called ``name`` (``ptb_egru90``, ``ptb_egru90.npz``), or None."""
    return _shipped(name, TRACE_DIR, (TRACE_SUFFIX,))


def _resolve(value, shipped, names: list[str], what: str, error: type) -> Path:
    path = Path(value)
    if path.exists():
        return path
    found = shipped(value)
    if found is not None:
        return found
    if path.suffix or len(path.parts) > 1:  # a path, not a name: the loader says "no such file"
        return path
    shown = str(value) if len(str(value)) <= 100 else str(value)[:48] + "..." + str(value)[-48:]
    raise error(f"{what} {shown}: no such file, nor a shipped {what} name; shipped: {', '.join(names)}")


def resolve_arch(value: str | os.PathLike, error: type[Exception] = FileNotFoundError) -> Path:
    """The path of an architecture spec: ``value`` itself when it exists, else the shipped spec of that name.

    Raises
    ------
    ``error`` (FileNotFoundError by default) listing the shipped names when neither exists.
    """
    return _resolve(value, shipped_arch, arch_names(), "arch", error)


def resolve_trace(value: str | os.PathLike, error: type[Exception] = FileNotFoundError) -> Path:
    """The path of a trace: ``value`` itself when it exists, else the shipped trace of that name.

    Raises
    ------
    ``error`` (FileNotFoundError by default) listing the shipped names when neither exists.
    """
    return _resolve(value, shipped_trace, trace_names(), "trace", error)
