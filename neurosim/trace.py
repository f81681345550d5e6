"""Activation traces: the first stage of the pipeline.

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
MODELS = ("egru", "lstm", "synthetic")
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
        return replace(self, tokens=self.tokens[start:stop], layers=tuple(layers))

    def activity(self) -> np.ndarray:
        """Fraction of units emitting an event, per layer, float [L]."""
        return np.array([layer.events.mean() for layer in self.layers])

    def measured_weight_sparsity(self) -> float:
        """Fraction of zero recurrent-layer weights (input and recurrent matrices)."""
        nnz = sum(int(m.sum()) for layer in self.layers for m in (layer.w_in_mask, layer.w_rec_mask))
        size = sum(m.size for layer in self.layers for m in (layer.w_in_mask, layer.w_rec_mask))
        return 1.0 - nnz / size


# ----------------------------------------------------------------------------- counting


def synops_per_step(trace: Trace) -> np.ndarray:
    """Synaptic operations of every layer at every step, int64 [L, T].

    The formula of the trace format: the input fan-out of every active input
    unit at t (layer 0's input, the embedding, is active at every step) plus
    the recurrent fan-out of every event of the layer at t-1. This is the
    independent count that the engines must reproduce exactly.
    """
    T = trace.n_tokens
    out = np.zeros((len(trace.layers), T), dtype=np.int64)
    for l, layer in enumerate(trace.layers):
        if l == 0:
            out[l] += int(layer.in_fanout.sum())
        else:
            prev = trace.layers[l - 1].events
            out[l] += prev.astype(np.int64) @ layer.in_fanout
        rec = layer.events[:-1].astype(np.int64) @ layer.rec_fanout
        out[l, 1:] += rec
    return out


def dense_macs_per_token(trace: Trace) -> int:
    """MACs per token of the dense recurrent layers (every weight, every step)."""
    return int(sum(layer.w_in_mask.size + layer.w_rec_mask.size for layer in trace.layers))


def summary(trace: Trace) -> dict:
    """Sizes, measured activity and weight sparsity, and ops per token."""
    synops = synops_per_step(trace)
    dense = dense_macs_per_token(trace)
    activity = trace.activity()
    units = np.array(trace.hidden_sizes)
    mean_activity = float((activity * units).sum() / units.sum())
    return {
        "name": trace.name,
        "model": trace.meta["model"],
        "dataset": trace.meta["dataset"],
        "split": trace.meta["split"],
        "tokens": trace.n_tokens,
        "vocab_size": trace.meta["vocab_size"],
        "input_size": trace.input_size,
        "hidden_sizes": trace.hidden_sizes,
        "gates": trace.gates,
        "perplexity": trace.meta.get("perplexity"),
        "weight_sparsity": trace.measured_weight_sparsity(),
        "activity_per_layer": [float(a) for a in activity],
        "activity_sparsity": 1.0 - mean_activity,
        "dense_macs_per_token": dense,
        "synaptic_ops_per_token": float(synops.sum() / trace.n_tokens),
        "synaptic_ops_per_token_by_layer": [float(x) for x in synops.mean(axis=1)],
        "effective_to_dense_ratio": float(synops.sum() / trace.n_tokens / dense),
    }


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
    if meta["model"] not in MODELS:
        raise TraceError(f"meta.model: is {meta['model']!r}, allowed: {list(MODELS)}")
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
    return Trace(meta=meta, tokens=all_tokens[:T], layers=tuple(layers), readout_w_mask=readout, name=path.stem)


def save_trace(trace: Trace, path: str | os.PathLike) -> Path:
    """Write ``trace`` in the trace format (compressed ``.npz``) and return the path."""
    meta = _check_meta(dict(trace.meta))
    if meta["hidden_sizes"] != trace.hidden_sizes:
        raise TraceError(f"meta.hidden_sizes: is {meta['hidden_sizes']}, but the layers have {trace.hidden_sizes}")
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path


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


# ----------------------------------------------------------------------------- synthetic


def _random_mask(rng: np.random.Generator, rows: int, cols: int, density: float) -> np.ndarray:
    """A mask with exactly round(density * rows * cols) nonzeros at random places."""
    n = rows * cols
    nnz = round(density * n)
    flat = np.zeros(n, dtype=bool)
    flat[rng.choice(n, size=nnz, replace=False)] = True
    return flat.reshape(rows, cols)


def synthetic(
    hidden_sizes: list[int] | tuple[int, ...] = (256, 256),
    input_size: int = 128,
    activity: float = 0.15,
    weight_sparsity: float = 0.9,
    tokens: int = 256,
    gates: int = 3,
    seed: int = 0,
    vocab_size: int = 10000,
    values: bool = False,
) -> Trace:
    """A random trace with a given activity and weight sparsity.

    Every layer's events are independent Bernoulli(``activity``) draws; every
    weight matrix has exactly ``round((1 - weight_sparsity) * size)`` nonzeros.

    Examples
    --------
    >>> t = synthetic([64], input_size=32, activity=0.2, weight_sparsity=0.5, tokens=10)
    >>> t.layers[0].events.shape
    (10, 64)
    """
    if not 0.0 <= activity <= 1.0:
        raise TraceError(f"activity: is {activity}, allowed: a fraction in [0, 1]")
    if not 0.0 <= weight_sparsity <= 1.0:
        raise TraceError(f"weight_sparsity: is {weight_sparsity}, allowed: a fraction in [0, 1]")
    if tokens < 1:
        raise TraceError(f"tokens: is {tokens}, allowed: an integer >= 1")
    if gates < 1:
        raise TraceError(f"gates: is {gates}, allowed: an integer >= 1")
    if input_size < 1 or not hidden_sizes or any(h < 1 for h in hidden_sizes):
        raise TraceError(f"sizes: input_size={input_size}, hidden_sizes={list(hidden_sizes)}, allowed: integers >= 1")
    rng = np.random.default_rng(seed)
    layers = []
    prev = input_size
    density = 1.0 - weight_sparsity
    for H in hidden_sizes:
        w_in = _random_mask(rng, prev, gates * H, density)
        w_rec = _random_mask(rng, H, gates * H, density)
        events = np.empty((tokens, H), dtype=bool)
        for a in range(0, tokens, 8192):  # in chunks: long traces stay small in memory
            b = min(tokens, a + 8192)
            events[a:b] = rng.random((b - a, H), dtype=np.float32) < activity
        vals = rng.standard_normal(int(events.sum())).astype(np.float16) if values else None
        layers.append(LayerTrace(events=events, w_in_mask=w_in, w_rec_mask=w_rec, values=vals))
        prev = H
    meta = {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "model": "synthetic",
        "dataset": "synthetic",
        "split": "none",
        "vocab_size": int(vocab_size),
        "input_size": int(input_size),
        "hidden_sizes": [int(h) for h in hidden_sizes],
        "gates": int(gates),
        "weight_sparsity": float(weight_sparsity),
        "perplexity": None,
        "seed": int(seed),
        "source": f"neurosim.trace.synthetic(activity={activity}, weight_sparsity={weight_sparsity}, seed={seed})",
    }
    tok = rng.integers(0, vocab_size, size=tokens, dtype=np.int32)
    name = f"synthetic_a{activity:g}_w{weight_sparsity:g}_s{seed}"
    return Trace(meta=meta, tokens=tok, layers=tuple(layers), name=name)
