"""Traces from unpacked arrays: :func:`trace_from_arrays` and the checks :func:`save_trace` runs first.

Every message names the array in its unpacked shape (``layer 1 w_in_mask``,
``[in, gates*H]``), what was given and what is expected, so a mistake is
caught where it is made rather than when the file is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from neurosim.trace.checks import check_meta
from neurosim.trace.types import GATES_BY_MODEL, TRACE_FORMAT, TRACE_VERSION, LayerTrace, Trace, TraceError


def _as_bool(name: str, array, kind: str) -> np.ndarray:
    """``array`` as a bool matrix; refuse values other than 0/1 (``kind`` says what the array holds)."""
    a = np.asarray(array.detach().cpu().numpy() if hasattr(array, "detach") else array)
    if a.dtype == bool:
        return a
    if a.dtype.kind not in "biuf":
        raise TraceError(f"{name}: dtype {a.dtype}; expected bool (or 0/1 numbers) {kind}")
    if a.size and not np.isin(a, (0, 1)).all():
        hint = "; pass `activations != 0` as events and the activations as values" if "events" in name else (
            "; pass `weight != 0` for a mask")
        raise TraceError(f"{name}: holds values other than 0 and 1 (e.g. {a[~np.isin(a, (0, 1))].flat[0].item()!r}); "
                         f"expected bool {kind}{hint}")
    return a.astype(bool)


def _check_shape(name: str, a: np.ndarray, expected: tuple, labels: str, hint: str = "") -> None:
    """Refuse ``a`` unless its shape is ``expected``; ``labels`` spells the expected shape (``H_0=16, gates*H_1=12``)."""
    if a.shape == tuple(expected):
        return
    tip = ""
    if a.ndim == 2 and a.shape == tuple(expected)[::-1] and hint:
        tip = f": {hint}"
    elif a.ndim != len(expected):
        tip = f": expected a {len(expected)}-d array"
    raise TraceError(f"{name}: shape {a.shape}; expected ({labels}){tip}")


def check_trace(trace: Trace) -> None:
    """Check ``trace`` against the trace format, in unpacked shapes; raise :class:`TraceError` naming the array.

    Everything :func:`neurosim.trace.load_trace` checks of a file, checked on the
    object: meta, tokens, every layer's events, masks and values, the readout mask
    and the input events.
    """
    meta = check_meta(dict(trace.meta))
    try:
        json.dumps(meta)
    except (TypeError, ValueError) as exc:
        raise TraceError(f"meta: not JSON-serialisable ({exc}); use plain numbers, strings, lists and dicts") from None
    if not trace.layers:
        raise TraceError("layers: none; a trace needs at least one recurrent layer")
    sizes = meta["hidden_sizes"]
    if len(sizes) != len(trace.layers):
        raise TraceError(f"meta.hidden_sizes: is {sizes} ({len(sizes)} layers), but the trace has "
                         f"{len(trace.layers)} layers")
    tokens = np.asarray(trace.tokens)
    if tokens.ndim != 1 or tokens.shape[0] < 1 or tokens.dtype.kind not in "iu":
        raise TraceError(f"tokens: dtype {tokens.dtype} shape {tokens.shape}; expected integers [T >= 1]")
    if tokens.min() < 0 or tokens.max() >= meta["vocab_size"] or tokens.max() >= 2**31:
        raise TraceError(f"tokens: range [{tokens.min()}, {tokens.max()}]; expected ids in [0, vocab_size="
                         f"{meta['vocab_size']})")
    T = int(tokens.shape[0])
    G = meta["gates"]
    prev, prev_label = meta["input_size"], "input_size"
    for l, layer in enumerate(trace.layers):
        H = sizes[l]
        w_in = _as_bool(f"layer {l} w_in_mask", layer.w_in_mask, f"[{prev_label}, gates*H_{l}]")
        _check_shape(f"layer {l} w_in_mask", w_in, (prev, G * H), f"{prev_label}={prev}, gates*H_{l}={G * H}",
                     "did you pass torch's weight_ih untransposed? (the mask is weight_ih.T != 0)")
        w_rec = _as_bool(f"layer {l} w_rec_mask", layer.w_rec_mask, f"[H_{l}, gates*H_{l}]")
        _check_shape(f"layer {l} w_rec_mask", w_rec, (H, G * H), f"H_{l}={H}, gates*H_{l}={G * H}",
                     "did you pass torch's weight_hh untransposed? (the mask is weight_hh.T != 0)")
        events = _as_bool(f"layer {l} events", layer.events, f"[T, H_{l}]")
        _check_shape(f"layer {l} events", events, (T, H), f"T={T}, H_{l}={H}", "did you pass [H, T]?")
        if layer.values is not None:
            values = np.asarray(layer.values)
            n = int(events.sum())
            if values.ndim != 1 or values.shape[0] != n:
                raise TraceError(f"layer {l} values: shape {values.shape}; expected ({n},), one value per event "
                                 "in row-major order of events")
            if values.dtype != np.float16 or not np.isfinite(values).all():
                raise TraceError(f"layer {l} values: dtype {values.dtype}; expected finite float16")
        prev, prev_label = H, f"H_{l}"
    if trace.readout_w_mask is not None:
        r = _as_bool("readout_w_mask", trace.readout_w_mask, "[H_last, vocab_size]")
        _check_shape("readout_w_mask", r, (prev, meta["vocab_size"]),
                     f"H_last={prev}, vocab_size={meta['vocab_size']}",
                     "did you pass the decoder's weight untransposed? (the mask is weight.T != 0)")
    if trace.input_events is not None:
        e = _as_bool("input_events", trace.input_events, "[T, input_size]")
        _check_shape("input_events", e, (T, meta["input_size"]), f"T={T}, input_size={meta['input_size']}",
                     "did you pass [input_size, T]?")


def _values_of(l: int, values, events: np.ndarray) -> np.ndarray | None:
    """Layer ``l``'s values as the format holds them: float16 ``[n_events]``; a dense ``[T, H]`` array is read at
    the events."""
    if values is None:
        return None
    v = np.asarray(values.detach().cpu().numpy() if hasattr(values, "detach") else values)
    if v.ndim == 2:
        _check_shape(f"layer {l} values", v, events.shape, f"T={events.shape[0]}, H_{l}={events.shape[1]}")
        v = v[events]
    with np.errstate(over="ignore"):
        out = v.astype(np.float16)
    if not np.isfinite(out).all():
        raise TraceError(f"layer {l} values: not finite as float16 (largest |value| {np.abs(v).max():g}; "
                         "float16 holds up to 65504)")
    return out


def trace_from_arrays(
    events: Sequence,
    w_in_masks: Sequence,
    w_rec_masks: Sequence,
    *,
    gates: int,
    model: str = "custom",
    values: Sequence | None = None,
    readout_mask=None,
    tokens=None,
    input_events=None,
    vocab_size: int | None = None,
    dataset: str = "custom",
    split: str = "none",
    perplexity: float | None = None,
    seed: int = 0,
    source: str = "",
    name: str = "trace",
    meta: dict | None = None,
) -> Trace:
    """A checked :class:`~neurosim.trace.Trace` from unpacked arrays, one entry per recurrent layer.

    Parameters
    ----------
    events : per layer, bool ``[T, H_l]``: unit ``j`` emitted an output event at step ``t``.
    w_in_masks : per layer, bool ``[in_l, gates*H_l]`` (``in_0`` the input size, ``in_l = H_{l-1}``), the
        nonzero pattern of the input weights; columns gate-major (``g*H + j``), i.e. torch's
        ``(weight_ih != 0).T``.
    w_rec_masks : per layer, bool ``[H_l, gates*H_l]``, torch's ``(weight_hh != 0).T``.
    gates : compartments per unit (LSTM 4, GRU/EGRU 3, RNN and spiking layers 1).
    model : any name; ``egru`` and ``lstm`` must have their gates (3 and 4).
    values : per layer None, float ``[n_events]`` (row-major order of events) or a dense ``[T, H_l]`` array read
        at the events; stored as float16.
    readout_mask : bool ``[H_last, vocab_size]``, the decoder's nonzero pattern (``(decoder.weight != 0).T``).
    tokens : int ``[T]`` token ids (default zeros: a model with no tokens).
    input_events : bool ``[T, in_0]``: which input units carry an event at each step (sensor spikes). None: the
        input is dense, every input unit active at every step.
    vocab_size : default the readout's columns, else ``max(tokens) + 1``.
    dataset, split, perplexity, seed, source, name : provenance, stored in ``meta``.
    meta : more keys for ``meta`` (they must be JSON-serialisable).

    Raises
    ------
    TraceError naming the array, the shape given and the shape expected.

    Examples
    --------
    >>> import numpy as np
    >>> ev = np.zeros((5, 4), bool); ev[::2, 1] = True
    >>> t = trace_from_arrays([ev], [np.ones((3, 4), bool)], [np.eye(4, dtype=bool)], gates=1, model="rnn")
    >>> t.hidden_sizes, t.input_size, t.n_tokens
    ([4], 3, 5)
    """
    if isinstance(gates, bool) or not isinstance(gates, (int, np.integer)) or gates < 1:
        raise TraceError(f"gates: is {gates!r}; expected an integer >= 1 (LSTM 4, GRU/EGRU 3, RNN/spiking 1)")
    gates = int(gates)
    if not isinstance(model, str) or not model:
        raise TraceError(f"model: is {model!r}; expected a non-empty name")
    if model in GATES_BY_MODEL and GATES_BY_MODEL[model] != gates:
        raise TraceError(f"gates: is {gates} for model {model!r}, which has {GATES_BY_MODEL[model]}")
    n = len(events)
    if n < 1:
        raise TraceError("events: no layers; expected one [T, H] array per recurrent layer")
    for what, seq in (("w_in_masks", w_in_masks), ("w_rec_masks", w_rec_masks)) + (
            (("values", values),) if values is not None else ()):
        if len(seq) != n:
            raise TraceError(f"{what}: {len(seq)} entries for {n} layers of events; expected one per layer")
    layers = []
    for l in range(n):
        ev = _as_bool(f"layer {l} events", events[l], f"[T, H_{l}]")
        if ev.ndim != 2:
            raise TraceError(f"layer {l} events: shape {ev.shape}; expected (T, H_{l})")
        layers.append(LayerTrace(
            events=ev,
            w_in_mask=_as_bool(f"layer {l} w_in_mask", w_in_masks[l], f"[in, gates*H_{l}]"),
            w_rec_mask=_as_bool(f"layer {l} w_rec_mask", w_rec_masks[l], f"[H_{l}, gates*H_{l}]"),
            values=_values_of(l, None if values is None else values[l], ev),
        ))
    hidden = []
    for layer in layers:  # H from the recurrent mask when it is square per gate, else from the events
        rec = layer.w_rec_mask
        ok = rec.ndim == 2 and rec.shape[1] == gates * rec.shape[0]
        hidden.append(int(rec.shape[0]) if ok else int(layer.events.shape[1]))
    ev0 = layers[0].events
    T = int(ev0.shape[1] if ev0.shape[1] != hidden[0] and ev0.shape[0] == hidden[0] else ev0.shape[0])
    if tokens is None:
        tok = np.zeros(T, dtype=np.int32)
    else:
        tok = np.asarray(tokens.detach().cpu().numpy() if hasattr(tokens, "detach") else tokens).reshape(-1)
        if tok.dtype.kind not in "iu":
            raise TraceError(f"tokens: dtype {tok.dtype}; expected integer ids [T]")
        if tok.shape[0] != T:
            raise TraceError(f"tokens: {tok.shape[0]} ids; expected T={T}, one per step of layer 0's events")
    readout = None if readout_mask is None else _as_bool("readout_w_mask", readout_mask, "[H_last, vocab_size]")
    if vocab_size is None:
        if readout is not None and readout.ndim == 2:
            vocab_size = int(readout.shape[1])
        else:
            vocab_size = int(tok.max()) + 1 if tok.size else 1
    in_ev = None if input_events is None else _as_bool("input_events", input_events, "[T, input_size]")
    w_in0 = layers[0].w_in_mask
    input_size = int(w_in0.shape[0]) if w_in0.ndim == 2 else 0
    nnz = sum(int(m.sum()) for layer in layers for m in (layer.w_in_mask, layer.w_rec_mask))
    size = sum(m.size for layer in layers for m in (layer.w_in_mask, layer.w_rec_mask))
    full_meta = {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "model": model,
        "dataset": dataset,
        "split": split,
        "vocab_size": int(vocab_size),
        "input_size": input_size,
        "hidden_sizes": hidden,
        "gates": gates,
        "weight_sparsity": 1.0 - nnz / size if size else 0.0,
        "perplexity": None if perplexity is None else float(perplexity),
        "seed": int(seed),
        "source": source,
        "has_readout": readout is not None,
        "input": "events" if in_ev is not None else "dense",
    }
    full_meta.update(meta or {})
    trace = Trace(meta=full_meta, tokens=tok.astype(np.int32) if tok.max(initial=0) < 2**31 else tok,
                  layers=tuple(layers), readout_w_mask=readout, name=name, input_events=in_ev)
    check_trace(trace)
    return trace


__all__ = ["check_trace", "trace_from_arrays"]
