"""The rules a trace obeys, as reusable checks: each failure one :class:`TraceError` line naming the member.

:func:`check_meta`, :func:`check_packed`, :func:`check_tokens`, :func:`check_values`,
:func:`check_weight_sparsity` and :func:`validate_arrays` serve the file reader
(:mod:`neurosim.trace.format`), the streaming reader (:mod:`neurosim.trace.stream`)
and every other way of building a :class:`Trace` (:mod:`neurosim.trace.arrays`).
Messages read ``FILE: MEMBER: what is wrong, allowed: ...`` (``where`` is the prefix).
"""

from __future__ import annotations

import math

import numpy as np

from neurosim.spec import short_repr
from neurosim.trace.types import GATES_BY_MODEL, META_KEYS, TRACE_FORMAT, TRACE_VERSION, Trace, TraceError

MAX_VOCAB_SIZE = 2**24  # token ids and readout units (the largest real vocabularies are ~2**18)
MAX_UNITS = 2**24  # input_size and every hidden size
MAX_GATES = 64
MAX_LAYERS = 64
MAX_META_BYTES = 1 << 20  # the meta JSON
WEIGHT_SPARSITY_TOLERANCE = 0.01  # |meta.weight_sparsity - measured|, plus half a weight of rounding per mask


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
