"""The trace file format: the :class:`Trace` object, loading with checks, saving.

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
every member goes through one checked reader, and the rules on the arrays are
reusable functions (:func:`check_meta`, :func:`check_packed`, :func:`check_tokens`,
:func:`check_values`, :func:`check_weight_sparsity`, :func:`validate_arrays`) that
any other way of building a :class:`Trace` can call. Every failure is one line:
``FILE: MEMBER: what is wrong, allowed: ...``.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from neurosim.spec import short_repr, short_text, shown_path

TRACE_FORMAT = "neurosim-trace"
TRACE_VERSION = 1
MODELS = ("egru", "lstm", "synthetic")  # the project's own model names; meta.model may be any name
GATES_BY_MODEL = {"egru": 3, "lstm": 4}
META_KEYS = (
    "format",
    "version",
    "model",
    "dataset",
    "split",
    "vocab_size",
    "input_size",
    "hidden_sizes",
    "gates",
    "weight_sparsity",
    "perplexity",
    "seed",
    "source",
)

class TraceError(ValueError):
    """A trace file or trace object breaks the trace format."""


@dataclass(frozen=True)
class LayerTrace:
    """Events and connectivity of one recurrent layer.

    Attributes
    ----------
    events : bool ndarray [T, H]
        ``events[t, j]`` is True when unit ``j`` emitted an output event at step t.
    w_in_mask : bool ndarray [in, gates*H]
        Nonzero pattern of the input weights, one fan-out row per presynaptic unit.
    w_rec_mask : bool ndarray [H, gates*H]
        Nonzero pattern of the recurrent weights.
    values : float16 ndarray [n_events] or None
        Values of the events in row-major order of ``events``.
    """

    events: np.ndarray
    w_in_mask: np.ndarray
    w_rec_mask: np.ndarray
    values: np.ndarray | None = None

    @property
    def hidden_size(self) -> int:
        return int(self.w_rec_mask.shape[0])

    @property
    def input_size(self) -> int:
        return int(self.w_in_mask.shape[0])

    @property
    def in_fanout(self) -> np.ndarray:
        """Synapses per presynaptic input unit, int64 [in]."""
        return self.w_in_mask.sum(axis=1, dtype=np.int64)

    @property
    def rec_fanout(self) -> np.ndarray:
        """Synapses per presynaptic recurrent unit, int64 [H]."""
        return self.w_rec_mask.sum(axis=1, dtype=np.int64)


@dataclass(frozen=True)
class Trace:
    """A whole trace: meta data, tokens and one :class:`LayerTrace` per layer."""

    meta: dict
    tokens: np.ndarray
    layers: tuple[LayerTrace, ...]
    readout_w_mask: np.ndarray | None = None
    name: str = field(default="trace", compare=False)
    input_events: np.ndarray | None = None  # bool [T, input_size]; None: the dense input, active at every step

    @classmethod
    def from_arrays(cls, *args, **kwargs) -> Trace:
        """A checked trace from unpacked arrays: see :func:`neurosim.trace.arrays.trace_from_arrays`."""
        from neurosim.trace.arrays import trace_from_arrays

        return trace_from_arrays(*args, **kwargs)

    @property
    def n_tokens(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def hidden_sizes(self) -> list[int]:
        return [layer.hidden_size for layer in self.layers]

    @property
    def input_size(self) -> int:
        return int(self.meta["input_size"])

    @property
    def gates(self) -> int:
        return int(self.meta["gates"])

    def window(self, start: int, stop: int) -> Trace:
        """The steps ``start <= t < stop`` as a trace of their own.

        The recurrent synops of the first step of a window use the events of
        step ``start - 1``, which a window does not hold; callers that need
        exact continuity use :func:`neurosim.engine.simulate` with ``first_step``.
        """
        if not 0 <= start < stop <= self.n_tokens:
            raise TraceError(f"window [{start}, {stop}) is outside the trace's 0..{self.n_tokens} steps")
        layers = []
        for layer in self.layers:
            values = None
            if layer.values is not None:
                counts = layer.events.sum(axis=1)
                offsets = np.concatenate([[0], np.cumsum(counts)])
                values = layer.values[offsets[start] : offsets[stop]]
            layers.append(replace(layer, events=layer.events[start:stop], values=values))
        input_events = None if self.input_events is None else self.input_events[start:stop]
        return replace(self, tokens=self.tokens[start:stop], layers=tuple(layers), input_events=input_events)

    def activity(self) -> np.ndarray:
        """Fraction of units emitting an event, per layer, float [L]."""
        return np.array([layer.events.mean() for layer in self.layers])

    def measured_weight_sparsity(self) -> float:
        """Fraction of zero recurrent-layer weights (input and recurrent matrices)."""
        nnz = sum(int(m.sum()) for layer in self.layers for m in (layer.w_in_mask, layer.w_rec_mask))
        size = sum(m.size for layer in self.layers for m in (layer.w_in_mask, layer.w_rec_mask))
        return 1.0 - nnz / size


# ----------------------------------------------------------------------------- limits and checks

MAX_VOCAB_SIZE = 2**24  # token ids and readout units (the largest real vocabularies are ~2**18)
MAX_UNITS = 2**24  # input_size and every hidden size
MAX_GATES = 64
MAX_LAYERS = 64
MAX_META_BYTES = 1 << 20  # the meta JSON
WEIGHT_SPARSITY_TOLERANCE = 0.01  # |meta.weight_sparsity - measured|, plus half a weight of rounding per mask
DEFLATE_MAX_RATIO = 1032  # deflate cannot expand data more than this: a member declaring more is lying
NPY_MAX_HEADER_BYTES = 10_000  # numpy's own default limit on an .npy header


def _packed_width(n: int) -> int:
    return (n + 7) // 8


def _int_meta(meta: dict, key: str, high: int, where: str) -> int:
    value = meta[key]
    if type(value) is not int or not 1 <= value <= high:
        raise TraceError(f"{where}meta.{key}: is {short_repr(value)}, allowed: an integer in [1, {high}]")
    return value


def _number(value) -> bool:
    """A real, finite number: not a bool, not NaN or inf."""
    return type(value) in (int, float) and math.isfinite(value)


def check_meta(meta: object, where: str = "") -> dict:
    """Check a trace's ``meta`` mapping; return it, or raise a one-line :class:`TraceError` naming the key.

    Integers are real integers (not booleans, not floats) within :data:`MAX_VOCAB_SIZE`,
    :data:`MAX_UNITS`, :data:`MAX_GATES` and :data:`MAX_LAYERS`; numbers are finite.
    ``where`` prefixes the message (the file name and ``": "``).
    """
    if not isinstance(meta, dict):
        raise TraceError(f"{where}meta: is {type(meta).__name__}, allowed: a JSON object")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise TraceError(f"{where}meta: missing keys {missing}; required: {list(META_KEYS)}")
    if meta["format"] != TRACE_FORMAT:
        raise TraceError(f"{where}meta.format: is {short_repr(meta['format'])}, allowed: {TRACE_FORMAT!r}")
    if type(meta["version"]) is not int or meta["version"] != TRACE_VERSION:
        raise TraceError(f"{where}meta.version: is {short_repr(meta['version'])}, allowed: {TRACE_VERSION}")
    if not isinstance(meta["model"], str) or not meta["model"] or len(meta["model"]) > 200:
        raise TraceError(f"{where}meta.model: is {short_repr(meta['model'])}, allowed: a non-empty name of at most "
                         "200 characters (with meta.gates explicit)")
    for key in ("dataset", "split"):
        if not isinstance(meta[key], str):
            raise TraceError(f"{where}meta.{key}: is {short_repr(meta[key])}, allowed: a string")
    if meta["source"] is not None and not isinstance(meta["source"], str):
        raise TraceError(f"{where}meta.source: is {short_repr(meta['source'])}, allowed: a string or null")
    if meta["seed"] is not None and type(meta["seed"]) is not int:
        raise TraceError(f"{where}meta.seed: is {short_repr(meta['seed'])}, allowed: an integer or null")
    _int_meta(meta, "vocab_size", MAX_VOCAB_SIZE, where)
    _int_meta(meta, "input_size", MAX_UNITS, where)
    _int_meta(meta, "gates", MAX_GATES, where)
    expected_gates = GATES_BY_MODEL.get(meta["model"])
    if expected_gates is not None and meta["gates"] != expected_gates:
        raise TraceError(f"{where}meta.gates: is {meta['gates']} for model {meta['model']!r}, allowed: {expected_gates}")
    sizes = meta["hidden_sizes"]
    if (not isinstance(sizes, list) or not 1 <= len(sizes) <= MAX_LAYERS
            or not all(type(h) is int and 1 <= h <= MAX_UNITS for h in sizes)):
        raise TraceError(f"{where}meta.hidden_sizes: is {short_repr(sizes)}, allowed: a list of 1 to {MAX_LAYERS} "
                         f"integers in [1, {MAX_UNITS}]")
    ws = meta["weight_sparsity"]
    if not _number(ws) or not 0.0 <= ws <= 1.0:
        raise TraceError(f"{where}meta.weight_sparsity: is {short_repr(ws)}, allowed: a number in [0, 1]")
    ppl = meta["perplexity"]
    if ppl is not None and (not _number(ppl) or ppl <= 0):
        raise TraceError(f"{where}meta.perplexity: is {short_repr(ppl)}, allowed: a positive finite number or null")
    return meta


_check_meta = check_meta  # the old private name


def check_packed(name: str, packed: np.ndarray, rows: int, cols: int, where: str = "") -> None:
    """Check a bit-packed member (``np.packbits(mask, axis=1)``): uint8, ``[rows, ceil(cols/8)]``, padding bits 0."""
    if packed.dtype != np.uint8:
        raise TraceError(f"{where}{name}: dtype is {packed.dtype}, allowed: uint8 (np.packbits)")
    if packed.shape != (rows, _packed_width(cols)):
        raise TraceError(f"{where}{name}: shape is {packed.shape}, expected ({rows}, {_packed_width(cols)}) "
                         f"for {rows}x{cols} bits")
    check_padding(name, packed, cols, where)


def check_padding(name: str, packed: np.ndarray, cols: int, where: str = "", first_row: int = 0) -> None:
    """The bits after ``cols`` in each row's last byte must be 0 (``np.packbits`` writes them so)."""
    pad = -cols % 8
    if pad and packed.shape[0]:
        bad = np.flatnonzero(packed[:, -1] & np.uint8((1 << pad) - 1))
        if bad.size:
            raise TraceError(f"{where}{name}: padding bits set in row {first_row + int(bad[0])} ({bad.size} rows); "
                             f"allowed: the last {pad} bits of each row are 0 ({cols} bits per row)")


def _unpack(name: str, packed: np.ndarray, shape: tuple[int, int], where: str = "") -> np.ndarray:
    rows, cols = shape
    check_packed(name, packed, rows, cols, where)
    return np.unpackbits(packed, axis=1, count=cols).astype(bool)


def check_tokens(tokens: np.ndarray, vocab_size: int, where: str = "", any_int: bool = False) -> None:
    """Token ids: int32 ``[T]`` (any integer dtype with ``any_int``), ``T >= 1``, every id in ``[0, vocab_size)``."""
    int_ok = tokens.dtype.kind in "iu" if any_int else tokens.dtype == np.int32
    if not int_ok or tokens.ndim != 1:
        raise TraceError(f"{where}tokens: dtype {tokens.dtype} shape {tokens.shape}, allowed: int32 [T]")
    if tokens.shape[0] < 1:
        raise TraceError(f"{where}tokens: empty; a trace needs at least one step")
    bad = np.flatnonzero((tokens < 0) | (tokens >= vocab_size))
    if bad.size:
        raise TraceError(f"{where}tokens: id {int(tokens[bad[0]])} at step {int(bad[0])} ({bad.size} bad ids); "
                         f"allowed: 0 <= id < meta.vocab_size = {vocab_size}")


def check_values(name: str, values: np.ndarray, n_events: int | None, where: str = "") -> None:
    """Event values: float16 ``[n_events]``, finite."""
    if values.dtype != np.float16 or values.ndim != 1:
        raise TraceError(f"{where}{name}: dtype {values.dtype} shape {values.shape}, allowed: float16 [n_events]")
    if n_events is not None and values.shape[0] != n_events:
        raise TraceError(f"{where}{name}: holds {values.shape[0]} values for {n_events} events; allowed: one per event")
    _check_finite(name, values, where)


def _check_finite(name: str, values: np.ndarray, where: str, offset: int = 0) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise TraceError(f"{where}{name}: value {values[bad[0]]} at index {offset + int(bad[0])} ({bad.size} "
                         "non-finite); allowed: finite numbers")


def check_weight_sparsity(meta: dict, masks: list[np.ndarray], where: str = "") -> None:
    """``meta.weight_sparsity`` must match the recurrent layers' masks.

    Allowed gap: :data:`WEIGHT_SPARSITY_TOLERANCE` plus half a weight per mask
    (a mask of ``n`` weights holds a whole number of nonzeros).
    """
    size = sum(m.size for m in masks)
    if not size:
        return
    measured = 1.0 - sum(int(np.count_nonzero(m)) for m in masks) / size
    tolerance = WEIGHT_SPARSITY_TOLERANCE + 0.5 * len(masks) / size
    if abs(measured - meta["weight_sparsity"]) > tolerance:
        raise TraceError(f"{where}meta.weight_sparsity: is {meta['weight_sparsity']:.6g}, but the layer masks are "
                         f"{measured:.6g} zero; allowed: within {tolerance:.3g} of the masks")


def validate_arrays(meta: dict, tokens: np.ndarray, layers, readout_w_mask: np.ndarray | None = None,
                    where: str = "") -> dict:
    """Check unpacked trace arrays against each other and the format; return the checked meta.

    ``layers`` is a sequence of :class:`LayerTrace` (or objects with ``events``, ``w_in_mask``,
    ``w_rec_mask`` and ``values``; ``events`` may be None). Masks and events are 2-D bool
    arrays of the shapes that ``meta`` implies. Every failure is a one-line
    :class:`TraceError` naming the array and the rule; ``where`` prefixes it.
    """
    meta = check_meta(meta, where)
    tokens = np.asarray(tokens)
    check_tokens(tokens, meta["vocab_size"], where, any_int=True)
    if len(layers) != len(meta["hidden_sizes"]):
        raise TraceError(f"{where}meta.hidden_sizes: lists {len(meta['hidden_sizes'])} layers, the trace has "
                         f"{len(layers)}; allowed: one size per layer")
    gates, prev, T = meta["gates"], meta["input_size"], int(tokens.shape[0])
    masks = []
    for l, (layer, H) in enumerate(zip(layers, meta["hidden_sizes"])):
        for key, array, shape in (("w_in_mask", layer.w_in_mask, (prev, gates * H)),
                                  ("w_rec_mask", layer.w_rec_mask, (H, gates * H)),
                                  ("events", layer.events, (T, H))):
            if array is None and key == "events":
                continue
            _check_bool(f"layer{l}_{key}", array, shape, where)
        masks += [layer.w_in_mask, layer.w_rec_mask]
        if layer.values is not None:
            n_events = None if layer.events is None else int(np.count_nonzero(layer.events))
            check_values(f"layer{l}_values", np.asarray(layer.values), n_events, where)
        prev = H
    if readout_w_mask is not None:
        _check_bool("readout_w_mask", readout_w_mask, (prev, meta["vocab_size"]), where)
    check_weight_sparsity(meta, masks, where)
    return meta


def _check_bool(name: str, array, shape: tuple[int, int], where: str) -> None:
    if not isinstance(array, np.ndarray) or array.dtype != np.bool_:
        kind = array.dtype if isinstance(array, np.ndarray) else type(array).__name__
        raise TraceError(f"{where}{name}: dtype is {kind}, allowed: bool")
    if array.shape != shape:
        raise TraceError(f"{where}{name}: shape is {array.shape}, allowed: {shape} (from meta)")


def validate_trace(trace: Trace) -> Trace:
    """Check a :class:`Trace` object with :func:`validate_arrays`; return it unchanged."""
    validate_arrays(trace.meta, trace.tokens, trace.layers, trace.readout_w_mask, where=f"trace {trace.name}: ")
    return trace


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
