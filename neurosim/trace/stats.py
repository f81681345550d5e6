"""What a trace asks of the hardware, counted from the trace alone: synaptic operations, dense MACs, a summary."""

from __future__ import annotations

import numpy as np

from neurosim.trace.types import Trace


def synops_per_step(trace: Trace) -> np.ndarray:
    """Synaptic operations of every layer at every step, int64 [L, T].

    The formula of the trace format: the input fan-out of every active input
    unit at t plus the recurrent fan-out of every event of the layer at t-1.
    Layer 0's input units are all active at every step (the dense embedding),
    or, when the trace has ``input_events``, those with an event at t. This is
    the independent count that the engines must reproduce exactly.
    """
    T = trace.n_tokens
    out = np.zeros((len(trace.layers), T), dtype=np.int64)
    for l, layer in enumerate(trace.layers):
        if l == 0 and trace.input_events is not None:
            out[l] += trace.input_events.astype(np.int64) @ layer.in_fanout
        elif l == 0:
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
        "input": "dense" if trace.input_events is None else "events",
        "input_activity": 1.0 if trace.input_events is None else float(trace.input_events.mean()),
        "dense_macs_per_token": dense,
        "synaptic_ops_per_token": float(synops.sum() / trace.n_tokens),
        "synaptic_ops_per_token_by_layer": [float(x) for x in synops.mean(axis=1)],
        "effective_to_dense_ratio": float(synops.sum() / trace.n_tokens / dense),
    }
