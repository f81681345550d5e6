"""Numba's cache knows one file per function; the engine drops its cache when any source changes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from neurosim.engine.kernel_cache import STAMP_NAME, drop_stale_kernels, sources_digest


def _package(tmp_path: Path, callee_value: int) -> Path:
    pkg = tmp_path / "kpkg"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "callee.py").write_text(textwrap.dedent(f"""
        from numba import njit

        @njit(cache=True)
        def value():
            return {callee_value}
    """))
    if not (pkg / "caller.py").exists():
        (pkg / "caller.py").write_text(textwrap.dedent("""
            from numba import njit
            from kpkg.callee import value

            @njit(cache=True)
            def twice():
                return 2 * value()
        """))
    return pkg


def _run(tmp_path: Path, drop: bool) -> int:
    code = ("from pathlib import Path; import kpkg; "
            + ("from neurosim.engine.kernel_cache import drop_stale_kernels; "
               "drop_stale_kernels(Path(kpkg.__file__).parent); " if drop else "")
            + "from kpkg.caller import twice; print(twice())")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": f"{tmp_path}:{Path(__file__).resolve().parent.parent}",
                              "PATH": "/usr/bin:/bin"})
    return int(out.stdout.strip())


def test_numba_loads_a_stale_caller_and_the_stamp_prevents_it(tmp_path):
    _package(tmp_path, 1)
    assert _run(tmp_path, drop=False) == 2
    _package(tmp_path, 5)  # the callee's file changes, the caller's does not
    assert _run(tmp_path, drop=False) == 2  # Numba's own cache: the old callee, silently
    assert _run(tmp_path, drop=True) == 10  # with the digest check: compiled afresh


def test_drop_only_when_sources_change(tmp_path):
    pkg = tmp_path / "p"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    entry = pkg / "__pycache__" / "a.f-1.py311.nbi"
    entry.write_text("")
    assert drop_stale_kernels(pkg)
    assert not entry.exists()
    assert (pkg / "__pycache__" / STAMP_NAME).read_text() == sources_digest(pkg)
    entry.write_text("")
    assert not drop_stale_kernels(pkg)  # unchanged sources: the cache is kept
    assert entry.exists()
    (pkg / "a.py").write_text("x = 2\n")
    assert drop_stale_kernels(pkg)
    assert not entry.exists()
    (pkg / "b.py").write_text("")  # a new file changes the digest too
    assert sources_digest(pkg) != (pkg / "__pycache__" / STAMP_NAME).read_text()


def test_the_engine_package_is_stamped():
    from neurosim import engine

    pkg = Path(engine.__file__).parent
    stamp = pkg / "__pycache__" / STAMP_NAME
    if stamp.exists():  # absent only where the package folder is read-only
        assert stamp.read_text() == sources_digest(pkg)
