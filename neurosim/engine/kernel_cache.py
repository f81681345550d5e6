"""Keep Numba's on-disk cache of the engine's kernels in step with their sources.

Numba keys a cached function on the modification time and size of *its own* file only. A kernel
that calls a kernel of another file (``simulate_steps`` calls ``unicast_phase``, inlined into its
machine code) is therefore loaded stale from the cache after the callee's file changes: the old
callee runs, silently. :func:`drop_stale_kernels` keeps a digest of every source file of the
engine package beside the cache and deletes the package's cache entries when the digest differs,
so the next call compiles afresh. An installed wheel never changes its files, so this costs one
digest of ~100 KB at import; it matters in a working tree, where a benchmark or a test could
otherwise measure yesterday's kernel.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

STAMP_NAME = "neurosim-kernel-sources.sha256"


def sources_digest(package_dir: Path) -> str:
    """SHA-256 over the names and bytes of the package's ``*.py`` files, in name order."""
    h = hashlib.sha256()
    for path in sorted(package_dir.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def drop_stale_kernels(package_dir: Path) -> bool:
    """Delete the package's Numba cache files (``__pycache__/*.nbi|nbc``) when its sources changed.

    Returns True when it deleted (or found nothing to keep), False when the cache was current or
    the cache folder cannot be written (then Numba caches elsewhere and this cannot help).
    """
    cache_dir = package_dir / "__pycache__"
    stamp = cache_dir / STAMP_NAME
    digest = sources_digest(package_dir)
    if _stamp(stamp) == digest:
        return False
    from filelock import FileLock

    try:
        cache_dir.mkdir(exist_ok=True)
        # processes starting together (sweep workers) drop once: the second finds the new stamp
        with FileLock(str(cache_dir / (STAMP_NAME + ".lock")), timeout=60):
            if _stamp(stamp) == digest:
                return False
            for path in list(cache_dir.glob("*.nbi")) + list(cache_dir.glob("*.nbc")):
                path.unlink(missing_ok=True)
            stamp.write_text(digest)
    except OSError:
        return False
    return True


def _stamp(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


drop_stale_kernels(Path(__file__).parent)
