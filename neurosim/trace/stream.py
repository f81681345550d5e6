"""Reading a trace file's events forward in windows of steps, without loading them whole."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from neurosim.spec import shown_path
from neurosim.trace.checks import _packed_width, check_padding
from neurosim.trace.format import _Member, _open_archive
from neurosim.trace.types import TraceError


class EventStream:
    """The events of a trace file, read forward in row windows without loading them whole.

    The ``.npz`` members ``layer{l}_events.npy`` are read straight from the zip
    archive, decompressing as they go, so memory holds one window at a time.
    ``read(first, stop)`` returns the fired matrix (uint8 ``[stop-first, sum(H)]``,
    layers side by side) of steps ``first <= t < stop``; windows must move forward
    (``first`` may reach back into the previous window, ``stop`` only grows).

    The members go through the same checked reader as :func:`~neurosim.trace.load_trace`:
    headers against member sizes, dtype and shape, padding bits of every row read, and
    zip, CRC and decompression errors, each a one-line :class:`TraceError`.
    """

    def __init__(self, path: str | os.PathLike, hidden_sizes: list[int], n_tokens: int):
        self.path = Path(path)
        self.hidden_sizes = list(hidden_sizes)
        self.n_tokens = n_tokens
        self._where = f"{shown_path(self.path)}: "
        self._zip = _open_archive(self.path)
        self._members: list[_Member] = []
        try:
            for l, H in enumerate(self.hidden_sizes):
                width = _packed_width(H)
                member = _Member(self._zip, f"layer{l}_events", self._where)
                self._members.append(member)
                if (member.dtype != np.uint8 or member.fortran or len(member.shape) != 2
                        or member.shape[1] != width or member.shape[0] < n_tokens):
                    raise member.error(f"dtype {member.dtype} shape {member.shape}, allowed: uint8 "
                                       f"[T >= {n_tokens}, {width}] in C order")
        except BaseException:
            self.close()
            raise
        self._rows_read = 0
        self._buf = np.zeros((0, sum(self.hidden_sizes)), dtype=np.uint8)
        self._buf_first = 0

    def _read_rows(self, n: int) -> np.ndarray:
        parts = []
        for l, (member, H) in enumerate(zip(self._members, self.hidden_sizes)):
            width = _packed_width(H)
            packed = np.frombuffer(member.read_bytes(n * width), dtype=np.uint8).reshape(n, width)
            check_padding(f"layer{l}_events", packed, H, self._where, self._rows_read)
            parts.append(np.unpackbits(packed, axis=1, count=H))
        self._rows_read += n
        return np.concatenate(parts, axis=1)

    def read(self, first: int, stop: int) -> np.ndarray:
        if not 0 <= first <= stop <= self.n_tokens:
            raise TraceError(f"stream window [{first}, {stop}) outside 0..{self.n_tokens}")
        if first < self._buf_first:
            raise TraceError(f"stream window starts at {first}, before the kept rows from {self._buf_first}")
        buf_stop = self._buf_first + self._buf.shape[0]
        if stop > buf_stop:
            self._buf = np.concatenate([self._buf, self._read_rows(stop - buf_stop)], axis=0)
        out = np.ascontiguousarray(self._buf[first - self._buf_first : stop - self._buf_first])
        self._buf = self._buf[first - self._buf_first :]  # keep only what later windows may reach back to
        self._buf_first = first
        return out

    def close(self) -> None:
        for member in self._members:
            member.close()
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
