"""Random traces with a given activity and weight sparsity."""

from __future__ import annotations

import numpy as np

from neurosim.trace.types import TRACE_FORMAT, TRACE_VERSION, LayerTrace, Trace, TraceError


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
