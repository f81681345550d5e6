"""Output paths checked before a command does any work: one line naming the flag, the path and the problem.

Imports only the standard library, so that the checks cost nothing at start-up.
"""

from __future__ import annotations

import os
from pathlib import Path


class OutputPathError(ValueError):
    """An output path that cannot be written (a folder, under a file, in a folder that cannot be written)."""


def _shown(path: str | os.PathLike, width: int = 100) -> str:
    text = str(path).replace("\n", "\\n")
    return text if len(text) <= width else "..." + text[-(width - 3):]


def check_output(path: str | os.PathLike | None, flag: str = "--out", folder_ok: bool = False) -> None:
    """Raise :class:`OutputPathError` unless ``path`` can be written as a file.

    Refused: an empty path, an existing folder (unless ``folder_ok``), a path under a
    regular file or a device (``/dev/null/x``), an existing file that is not writable,
    a path whose nearest existing folder is not writable, a name too long for the file
    system. Missing folders on the way are fine: the writers create them.
    """
    if path is None:
        return
    shown = _shown(path)
    if not str(path).strip():
        raise OutputPathError(f"{flag}: empty path; allowed: a file path")
    if "\x00" in str(path):
        raise OutputPathError(f"{flag} {shown!r}: holds a NUL byte; allowed: a file path")
    p = Path(path)
    try:
        if p.is_dir() and not folder_ok:
            raise OutputPathError(f"{flag} {shown}: is a folder; allowed: a file path (e.g. {shown}/out.json)")
        if p.exists() or p.is_symlink():
            if not os.access(p, os.W_OK) and not folder_ok:
                raise OutputPathError(f"{flag} {shown}: not writable (permission denied)")
            if p.exists():
                return
        anc = p.absolute().parent
        while not anc.exists() and anc != anc.parent:
            anc = anc.parent
        if not anc.is_dir():
            raise OutputPathError(f"{flag} {shown}: {_shown(anc)} is not a folder (a file or a device); "
                                  "allowed: a path inside a folder")
        if not os.access(anc, os.W_OK | os.X_OK):
            raise OutputPathError(f"{flag} {shown}: cannot write in folder {_shown(anc)} (permission denied)")
        if len(p.name.encode()) > os.pathconf(anc, "PC_NAME_MAX"):
            raise OutputPathError(f"{flag} {shown}: file name longer than the file system allows")
    except OSError as exc:
        raise OutputPathError(f"{flag} {shown}: {exc.strerror or exc}") from None
