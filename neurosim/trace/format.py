"""The trace file format: loading with checks, saving.

A trace is one ``.npz`` file (``numpy.savez_compressed``) holding the tokens
of a language-model run, which units of every recurrent layer emitted an
output event at every step, and the sparse connectivity of the layers.

Keys (a public contract; see the README):

- ``meta``: 0-d string array holding JSON (``format``, ``version``, ``model``,
  ``dataset``, ``split``, ``vocab_size``, ``input_size``, ``hidden_sizes``,
  ``gates``, ``weight_sparsity``, ``perplexity``, ``seed``, ``source``).
- ``tokens``: int32 ``[T]``.
- ``layer{l}_events``: uint8 ``[T, ceil(H_l/8)]``, ``np.packbits(mask, axis=1)``.
- ``layer{l}_values`` (optional): float16 values of the events, row-major.
- ``layer{l}_w_in_mask``: uint8 ``[in_l, ceil(gates*H_l/8)]``.
- ``layer{l}_w_rec_mask``: uint8 ``[H_l, ceil(gates*H_l/8)]``.
- ``readout_w_mask`` (optional): uint8 ``[H_last, ceil(vocab_size/8)]``.
- ``input_events`` (optional): uint8 ``[T, ceil(input_size/8)]``, which input units
  of layer 0 carry an event at each step (recorded sensor spikes); absent, the
  input is the dense embedding, every input unit active at every step.

``meta.model`` is any non-empty name; ``gates`` is explicit (the names in
``GATES_BY_MODEL`` must have their gates). Build a trace from unpacked arrays
with :meth:`Trace.from_arrays` (:mod:`neurosim.trace.arrays`).

Weight-mask columns are gate-major (column ``g*H + j`` is gate ``g`` of unit
``j``), as in PyTorch's stacked ``weight_ih``/``weight_hh`` transposed, so the
postsynaptic unit of column ``c`` is ``c % H``.

Loading is defensive (:func:`load_trace`, :class:`~neurosim.trace.EventStream`):
every member goes through one checked reader (:class:`_Member`), and the rules on
the arrays are the reusable functions of :mod:`neurosim.trace.checks`. Every failure
is one line: ``FILE: MEMBER: what is wrong, allowed: ...``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from neurosim.spec import short_repr, short_text, shown_path
from neurosim.trace.checks import (
    MAX_META_BYTES,
    _check_finite,
    _packed_width,
    check_meta,
    check_padding,
    check_tokens,
    check_values,
    check_weight_sparsity,
    validate_trace,
)
from neurosim.trace.types import LayerTrace, Trace, TraceError

DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this: a member declaring more is lying
NPY_MAX_HEADER_BYTES = 10_000  # numpy's own default limit on an .npy header


# ----------------------------------------------------------------------------- reading members


def _open_archive(path: Path) -> zipfile.ZipFile:
    """The trace's zip archive, or a one-line TraceError saying what the file is instead."""
    shown = shown_path(path)
    try:
        if not path.is_file():  # a folder, a device or a FIFO (which would block) is never opened
            what = "is a folder" if path.is_dir() else "not a regular file" if path.exists() else "no such file"
            raise TraceError(f"trace {shown}: {what}; allowed: an .npz trace file or a shipped name")
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise TraceError(f"{shown}: cannot read ({exc.strerror or exc})") from None
    allowed = "allowed: an .npz archive written by save_trace (numpy.savez_compressed)"
    if head.startswith(b"\x93NUMPY"):
        raise TraceError(f"{shown}: a plain .npy array, not an .npz archive; {allowed}")
    if head[:1] == b"\x80":
        raise TraceError(f"{shown}: a Python pickle, not an .npz archive (pickles are never loaded); {allowed}")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError) as exc:
        raise TraceError(f"{shown}: not a readable .npz archive ({short_text(str(exc), 80)}); {allowed}") from None
    names = Counter(i.filename for i in zf.infolist())
    if names and names.most_common(1)[0][1] > 1:
        dup = names.most_common(1)[0][0]
        zf.close()
        raise TraceError(f"{shown}: member {short_text(dup, 60)!r} appears twice; allowed: each member once")
    return zf


class _Member:
    """One ``.npy`` member of a trace archive, its header checked against its size before any data is read.

    Every zip or decompression failure (bad CRC, truncated data, garbage) and every
    mismatch becomes a one-line :class:`TraceError` naming the file and the member.
    """

    def __init__(self, zf: zipfile.ZipFile, key: str, where: str):
        self.key, self.where = key, where
        try:
            info = zf.getinfo(f"{key}.npy")
        except KeyError:
            raise self.error("missing from the archive") from None
        if info.flag_bits & 0x1:
            raise self.error("encrypted; allowed: a plain .npz member")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise self.error(f"declares {info.file_size} bytes but stores {info.compress_size}")
        if info.compress_type == zipfile.ZIP_DEFLATED and info.file_size > DEFLATE_MAX_RATIO * info.compress_size + 1024:
            raise self.error(f"declares {info.file_size} bytes from {info.compress_size} compressed bytes "
                             "(more than deflate can hold)")
        self.file = None
        try:
            self.file = zf.open(info)
            version = npformat.read_magic(self.file)
            if version == (1, 0):
                shape, fortran, dtype = npformat.read_array_header_1_0(self.file, max_header_size=NPY_MAX_HEADER_BYTES)
            elif version == (2, 0):
                shape, fortran, dtype = npformat.read_array_header_2_0(self.file, max_header_size=NPY_MAX_HEADER_BYTES)
            else:
                raise ValueError(f"npy format version {version}; allowed: 1.0 or 2.0")
            header_bytes = self.file.tell()
        except Exception as exc:  # noqa: BLE001 -- whatever a broken member raises is a TraceError
            self.close()
            broken = isinstance(exc, (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError))
            rule = "cannot be read" if broken else "not a readable .npy array"
            raise self.error(f"{rule} ({_exc_text(exc)})") from None
        if dtype.hasobject:
            self.close()
            raise self.error("holds Python objects (a pickle); allowed: numeric arrays (pickles are never loaded)")
        self.shape, self.fortran, self.dtype = tuple(int(n) for n in shape), bool(fortran), dtype
        self.count = math.prod(self.shape)
        self.nbytes = self.count * dtype.itemsize
        held = info.file_size - header_bytes
        if self.nbytes != held:
            self.close()
            raise self.error(f"header claims {dtype} {self.shape} ({self.nbytes} bytes), the member holds {held} bytes")

    def error(self, rule: str) -> TraceError:
        return TraceError(f"{self.where}{self.key}: {rule}")

    def expect(self, dtype, ndim: int | None = None, shape: tuple | None = None, what: str = "") -> _Member:
        """Check the header's dtype and shape (before reading); ``what`` describes the allowed form."""
        if (self.dtype != np.dtype(dtype) or (ndim is not None and len(self.shape) != ndim)
                or (shape is not None and self.shape != tuple(shape))):
            self.close()
            allowed = what or f"{np.dtype(dtype)} {tuple(shape) if shape is not None else f'{ndim}-d'}"
            raise self.error(f"dtype {self.dtype} shape {self.shape}, allowed: {allowed}")
        return self

    def read_bytes(self, n: int) -> bytes:
        """The next ``n`` data bytes."""
        try:
            raw = self.file.read(n)
        except MemoryError:
            raise self.error(f"{n} bytes do not fit in memory") from None
        except Exception as exc:  # noqa: BLE001 -- bad CRC, zlib errors, truncated data
            raise self.error(f"cannot be read ({_exc_text(exc)})") from None
        if len(raw) != n:
            raise self.error(f"ends after {len(raw)} of {n} bytes")
        return raw

    def check_end(self) -> None:
        """Nothing after the data; reaching the end checks the member's CRC."""
        try:
            extra = self.file.read(1)
        except Exception as exc:  # noqa: BLE001 -- a bad CRC shows here
            raise self.error(f"cannot be read ({_exc_text(exc)})") from None
        if extra:
            raise self.error("holds more data than its header says")

    def read(self) -> np.ndarray:
        """The whole array (its size already checked against the member)."""
        with self:
            raw = self.read_bytes(self.nbytes)
            self.check_end()
            try:
                order = "F" if self.fortran else "C"
                return np.frombuffer(raw, dtype=self.dtype).reshape(self.shape, order=order).copy(order="C")
            except MemoryError:
                raise self.error(f"{self.nbytes} bytes do not fit in memory") from None

    def chunks(self, items: int = 1 << 20):
        """The data as 1-d arrays of at most ``items`` items, read forward, then the end checked."""
        with self:
            for start in range(0, self.count, items):
                n = min(items, self.count - start)
                yield start, np.frombuffer(self.read_bytes(n * self.dtype.itemsize), dtype=self.dtype)
            self.check_end()

    def close(self) -> None:
        if self.file is not None:
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _exc_text(exc: BaseException) -> str:
    return short_text(f"{type(exc).__name__}: {' '.join(str(exc).split())}", 120)


def _read_meta(zf: zipfile.ZipFile, where: str) -> dict:
    member = _Member(zf, "meta", where)
    if member.dtype.kind != "U" or member.shape != () or member.nbytes > MAX_META_BYTES * 4:
        member.close()
        raise member.error(f"dtype {member.dtype} shape {member.shape}, allowed: a 0-d string of at most "
                           f"{MAX_META_BYTES} characters holding JSON")

    def no_constant(name):
        raise ValueError(f"{name} is not a finite number")

    text = str(member.read()[()])
    try:
        meta = json.loads(text, parse_constant=no_constant)
    except (ValueError, RecursionError) as exc:
        raise TraceError(f"{where}meta: not valid JSON ({short_text(str(exc), 80)}); allowed: a JSON object") from None
    return check_meta(meta, where)


# ----------------------------------------------------------------------------- file format


def read_meta(path: str | os.PathLike) -> dict:
    """The checked ``meta`` of a trace file (or shipped name), without reading its arrays."""
    from neurosim.data import resolve_trace

    path = resolve_trace(path, TraceError)
    with _open_archive(path) as zf:
        return _read_meta(zf, f"{shown_path(path)}: ")


def _check_tokens_arg(tokens, T_file: int, where: str) -> int:
    if tokens is None:
        return T_file
    if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or not 1 <= tokens <= T_file:
        raise TraceError(f"{where}tokens: asked for {short_repr(tokens)}, the trace holds {T_file}; "
                         f"allowed: an integer in [1, {T_file}]")
    return int(tokens)


def load_trace(path: str | os.PathLike, tokens: int | None = None, events: bool = True) -> Trace:
    """Load and check a trace file.

    Every member is read through one checked reader: zip and CRC errors, pickled or
    garbage members, headers that claim more data than the member holds, dtypes and
    shapes, padding bits, non-finite values, token ids outside ``[0, vocab_size)`` and
    a ``meta`` that contradicts the arrays all fail with one line naming the file,
    the member and the rule, before any oversized array is allocated.

    Parameters
    ----------
    path : path of the ``.npz`` file, or the name of a shipped trace (``"ptb_egru90"``).
    tokens : keep only the first ``tokens`` steps (None: all); more than the trace holds is an error.
    events : False loads meta, tokens and connectivity only (``LayerTrace.events``
        is None); stream the events with :class:`EventStream`. The events' headers
        and the values are still checked.

    Raises
    ------
    TraceError naming the offending member when the file breaks the format.
    """
    from neurosim.data import resolve_trace

    path = resolve_trace(path, TraceError)
    where = f"{shown_path(path)}: "
    with _open_archive(path) as zf:
        files = {n[:-4] for n in zf.namelist() if n.endswith(".npy")}
        for key in ("meta", "tokens"):
            if key not in files:
                raise TraceError(f"{where}{key}: missing; a trace needs 'meta', 'tokens' and layer arrays")
        meta = _read_meta(zf, where)
        all_tokens = _Member(zf, "tokens", where).expect(np.int32, 1, what="int32 [T]").read()
        check_tokens(all_tokens, meta["vocab_size"], where)
        T_file = int(all_tokens.shape[0])
        T = _check_tokens_arg(tokens, T_file, where)
        gates = meta["gates"]
        layers, masks = [], []
        prev = meta["input_size"]
        for l, H in enumerate(meta["hidden_sizes"]):
            for suffix in ("events", "w_in_mask", "w_rec_mask"):
                if f"layer{l}_{suffix}" not in files:
                    raise TraceError(f"{where}layer{l}_{suffix}: missing; meta.hidden_sizes lists "
                                     f"{len(meta['hidden_sizes'])} layers")
            w_in = _read_packed(zf, f"layer{l}_w_in_mask", prev, gates * H, where)
            w_rec = _read_packed(zf, f"layer{l}_w_rec_mask", H, gates * H, where)
            masks += [w_in, w_rec]
            key = f"layer{l}_values"
            if not events:
                _packed_member(zf, f"layer{l}_events", T_file, H, where).close()
                if key in files:
                    member = _Member(zf, key, where).expect(np.float16, 1, what="float16 [n_events]")
                    for start, chunk in member.chunks():
                        _check_finite(key, chunk, where, start)
                layers.append(LayerTrace(events=None, w_in_mask=w_in, w_rec_mask=w_rec))
                prev = H
                continue
            layer_events = _read_packed(zf, f"layer{l}_events", T_file, H, where)
            values = None
            if key in files:
                values = _Member(zf, key, where).expect(np.float16, 1, what="float16 [n_events]").read()
                check_values(key, values, int(np.count_nonzero(layer_events)), where)
                values = values[: int(np.count_nonzero(layer_events[:T]))]
            layers.append(LayerTrace(events=layer_events[:T], w_in_mask=w_in, w_rec_mask=w_rec, values=values))
            prev = H
        readout = None
        if "readout_w_mask" in files:
            readout = _read_packed(zf, "readout_w_mask", prev, meta["vocab_size"], where)
        input_events = None
        if events and "input_events" in files:
            input_events = _read_packed(zf, "input_events", T_file, meta["input_size"], where)[:T]
        check_weight_sparsity(meta, masks, where)
    return Trace(meta=meta, tokens=all_tokens[:T], layers=tuple(layers), readout_w_mask=readout, name=path.stem,
                 input_events=input_events)


def _packed_member(zf: zipfile.ZipFile, key: str, rows: int, cols: int, where: str) -> _Member:
    width = _packed_width(cols)
    return _Member(zf, key, where).expect(np.uint8, shape=(rows, width),
                                          what=f"uint8 ({rows}, {width}) for {rows}x{cols} bits (np.packbits)")


def _read_packed(zf: zipfile.ZipFile, key: str, rows: int, cols: int, where: str) -> np.ndarray:
    packed = _packed_member(zf, key, rows, cols, where).read()
    check_padding(key, packed, cols, where)
    return np.unpackbits(packed, axis=1, count=cols).astype(bool)


def save_trace(trace: Trace, path: str | os.PathLike) -> Path:
    """Write ``trace`` in the trace format (compressed ``.npz``) and return the path.

    The trace is checked first (:func:`neurosim.trace.arrays.check_trace`, :func:`validate_trace`): a file
    that :func:`load_trace` would refuse is never written.
    """
    from neurosim.trace.arrays import check_trace

    check_trace(trace)
    validate_trace(trace)
    meta = dict(trace.meta)
    arrays: dict[str, np.ndarray] = {
        "meta": np.array(json.dumps(meta, sort_keys=True)),
        "tokens": np.asarray(trace.tokens, dtype=np.int32),
    }
    for l, layer in enumerate(trace.layers):
        arrays[f"layer{l}_events"] = np.packbits(layer.events.astype(bool), axis=1)
        arrays[f"layer{l}_w_in_mask"] = np.packbits(layer.w_in_mask.astype(bool), axis=1)
        arrays[f"layer{l}_w_rec_mask"] = np.packbits(layer.w_rec_mask.astype(bool), axis=1)
        if layer.values is not None:
            arrays[f"layer{l}_values"] = np.asarray(layer.values, dtype=np.float16)
    if trace.readout_w_mask is not None:
        arrays["readout_w_mask"] = np.packbits(trace.readout_w_mask.astype(bool), axis=1)
    if trace.input_events is not None:
        arrays["input_events"] = np.packbits(trace.input_events.astype(bool), axis=1)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path
