"""Reading a trace file's events forward in windows of steps, without loading them whole."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from neurosim.trace.format import TraceError, _packed_width


class EventStream:
    """The events of a trace file, read forward in row windows without loading them whole.

    The ``.npz`` members ``layer{l}_events.npy`` are read straight from the zip
    archive, decompressing as they go, so memory holds one window at a time.
    ``read(first, stop)`` returns the fired matrix (uint8 ``[stop-first, sum(H)]``,
    layers side by side) of steps ``first <= t < stop``; windows must move forward
    (``first`` may reach back into the previous window, ``stop`` only grows).
    """

    def __init__(self, path: str | os.PathLike, hidden_sizes: list[int], n_tokens: int):
        from numpy.lib import format as npformat

        self.path = Path(path)
        self.hidden_sizes = list(hidden_sizes)
        self.n_tokens = n_tokens
        self._zip = zipfile.ZipFile(self.path)
        self._files = []
        for l, H in enumerate(self.hidden_sizes):
            f = self._zip.open(f"layer{l}_events.npy")
            version = npformat.read_magic(f)
            read_header = npformat.read_array_header_1_0 if version == (1, 0) else npformat.read_array_header_2_0
            shape, fortran, dtype = read_header(f)
            if dtype != np.uint8 or fortran or len(shape) != 2 or shape[1] != _packed_width(H):
                raise TraceError(f"layer{l}_events: dtype {dtype} shape {shape}, expected uint8 [T, {_packed_width(H)}]")
            self._files.append(f)
        self._buf = np.zeros((0, sum(self.hidden_sizes)), dtype=np.uint8)
        self._buf_first = 0

    def _read_rows(self, n: int) -> np.ndarray:
        parts = []
        for f, H in zip(self._files, self.hidden_sizes):
            width = _packed_width(H)
            raw = f.read(n * width)
            if len(raw) != n * width:
                raise TraceError(f"{self.path.name}: events end before step {self.n_tokens}")
            packed = np.frombuffer(raw, dtype=np.uint8).reshape(n, width)
            parts.append(np.unpackbits(packed, axis=1, count=H))
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
        for f in self._files:
            f.close()
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
