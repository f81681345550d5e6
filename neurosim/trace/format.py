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
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

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


# ----------------------------------------------------------------------------- file format


def _packed_width(n: int) -> int:
    return (n + 7) // 8


def _unpack(name: str, packed: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    rows, cols = shape
    if packed.dtype != np.uint8:
        raise TraceError(f"{name}: dtype is {packed.dtype}, allowed: uint8 (np.packbits)")
    if packed.shape != (rows, _packed_width(cols)):
        raise TraceError(f"{name}: shape is {packed.shape}, expected ({rows}, {_packed_width(cols)}) for {rows}x{cols} bits")
    return np.unpackbits(packed, axis=1, count=cols).astype(bool)


def _check_meta(meta: object) -> dict:
    if not isinstance(meta, dict):
        raise TraceError(f"meta: is {type(meta).__name__}, allowed: a JSON object")
    missing = [k for k in META_KEYS if k not in meta]
    if missing:
        raise TraceError(f"meta: missing keys {missing}; required: {list(META_KEYS)}")
    if meta["format"] != TRACE_FORMAT:
        raise TraceError(f"meta.format: is {meta['format']!r}, allowed: {TRACE_FORMAT!r}")
    if meta["version"] != TRACE_VERSION:
        raise TraceError(f"meta.version: is {meta['version']!r}, allowed: {TRACE_VERSION}")
    if not isinstance(meta["model"], str) or not meta["model"]:
        raise TraceError(f"meta.model: is {meta['model']!r}, allowed: a non-empty name (with meta.gates explicit)")
    for key in ("vocab_size", "input_size", "gates"):
        if not isinstance(meta[key], int) or meta[key] < 1:
            raise TraceError(f"meta.{key}: is {meta[key]!r}, allowed: an integer >= 1")
    expected_gates = GATES_BY_MODEL.get(meta["model"])
    if expected_gates is not None and meta["gates"] != expected_gates:
        raise TraceError(f"meta.gates: is {meta['gates']} for model {meta['model']!r}, allowed: {expected_gates}")
    sizes = meta["hidden_sizes"]
    if not isinstance(sizes, list) or not sizes or not all(isinstance(h, int) and h >= 1 for h in sizes):
        raise TraceError(f"meta.hidden_sizes: is {sizes!r}, allowed: a non-empty list of integers >= 1")
    ws = meta["weight_sparsity"]
    if not isinstance(ws, (int, float)) or not 0.0 <= ws <= 1.0:
        raise TraceError(f"meta.weight_sparsity: is {ws!r}, allowed: a number in [0, 1]")
    ppl = meta["perplexity"]
    if ppl is not None and (not isinstance(ppl, (int, float)) or ppl <= 0):
        raise TraceError(f"meta.perplexity: is {ppl!r}, allowed: a positive number or null")
    return meta


def read_meta(path: str | os.PathLike) -> dict:
    """The checked ``meta`` of a trace file (or shipped name), without reading its arrays."""
    from neurosim.data import resolve_trace

    path = resolve_trace(path, TraceError)
    try:
        with np.load(path, allow_pickle=False) as npz:
            return _check_meta(json.loads(str(npz["meta"][()])))
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise TraceError(f"trace {path}: no readable meta ({exc})") from None


def load_trace(path: str | os.PathLike, tokens: int | None = None, events: bool = True) -> Trace:
    """Load and check a trace file.

    Parameters
    ----------
    path : path of the ``.npz`` file, or the name of a shipped trace (``"ptb_egru90"``).
    tokens : keep only the first ``tokens`` steps (None: all).
    events : False loads meta, tokens and connectivity only (``LayerTrace.events``
        is None); stream the events with :class:`EventStream`.

    Raises
    ------
    TraceError naming the offending key when the file breaks the format.
    """
    from neurosim.data import resolve_trace

    path = resolve_trace(path, TraceError)
    if not path.is_file():
        raise TraceError(f"trace {path}: no such file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise TraceError(f"trace {str(path)!r}: not a readable .npz archive ({exc})") from None
    with npz:
        files = set(npz.files)
        for key in ("meta", "tokens"):
            if key not in files:
                raise TraceError(f"{key}: missing from {path.name}; a trace needs 'meta', 'tokens' and layer arrays")
        try:
            meta = json.loads(str(npz["meta"][()]))
        except (json.JSONDecodeError, TypeError) as exc:
            raise TraceError(f"meta: not a JSON string ({exc})") from None
        meta = _check_meta(meta)
        all_tokens = npz["tokens"]
        if all_tokens.dtype != np.int32 or all_tokens.ndim != 1:
            raise TraceError(f"tokens: dtype {all_tokens.dtype} shape {all_tokens.shape}, allowed: int32 [T]")
        T_file = int(all_tokens.shape[0])
        if T_file < 1:
            raise TraceError("tokens: empty; a trace needs at least one step")
        if tokens is not None and not 1 <= tokens:
            raise TraceError(f"tokens: asked for {tokens}, allowed: >= 1")
        T = T_file if tokens is None else min(tokens, T_file)
        with_events = events
        gates = meta["gates"]
        layers = []
        prev = meta["input_size"]
        for l, H in enumerate(meta["hidden_sizes"]):
            for suffix in ("events", "w_in_mask", "w_rec_mask"):
                if f"layer{l}_{suffix}" not in files:
                    raise TraceError(f"layer{l}_{suffix}: missing; meta.hidden_sizes lists {len(meta['hidden_sizes'])} layers")
            w_in = _unpack(f"layer{l}_w_in_mask", npz[f"layer{l}_w_in_mask"], (prev, gates * H))
            w_rec = _unpack(f"layer{l}_w_rec_mask", npz[f"layer{l}_w_rec_mask"], (H, gates * H))
            values = None
            if not with_events:
                layers.append(LayerTrace(events=None, w_in_mask=w_in, w_rec_mask=w_rec))
                prev = H
                continue
            events = _unpack(f"layer{l}_events", npz[f"layer{l}_events"], (T_file, H))[:T]
            if f"layer{l}_values" in files:
                values = npz[f"layer{l}_values"]
                n_file = int(np.unpackbits(npz[f"layer{l}_events"]).sum()) if T == T_file else None
                if values.dtype != np.float16 or values.ndim != 1:
                    raise TraceError(f"layer{l}_values: dtype {values.dtype} shape {values.shape}, allowed: float16 [n_events]")
                if n_file is not None and values.shape[0] != n_file:
                    raise TraceError(f"layer{l}_values: holds {values.shape[0]} values for {n_file} events")
                values = values[: int(events.sum())]
            layers.append(LayerTrace(events=events, w_in_mask=w_in, w_rec_mask=w_rec, values=values))
            prev = H
        readout = None
        if "readout_w_mask" in files:
            readout = _unpack("readout_w_mask", npz["readout_w_mask"], (prev, meta["vocab_size"]))
        input_events = None
        if with_events and "input_events" in files:
            input_events = _unpack("input_events", npz["input_events"], (T_file, meta["input_size"]))[:T]
    return Trace(meta=meta, tokens=all_tokens[:T], layers=tuple(layers), readout_w_mask=readout, name=path.stem,
                 input_events=input_events)


def save_trace(trace: Trace, path: str | os.PathLike) -> Path:
    """Write ``trace`` in the trace format (compressed ``.npz``) and return the path.

    The trace is checked first (:func:`neurosim.trace.arrays.check_trace`): a file
    that :func:`load_trace` would refuse is never written.
    """
    from neurosim.trace.arrays import check_trace

    check_trace(trace)
    meta = _check_meta(dict(trace.meta))
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
