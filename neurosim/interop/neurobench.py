"""The NeuroBench 2.x metrics of a trace (and of a run on it), by NeuroBench's names and definitions.

NeuroBench (``neurobench.metrics``) defines, per evaluated sample:

- ``Footprint``: bytes of the model's parameters and buffers;
- ``ConnectionSparsity``: zero weights / all weights of the connection layers;
- ``ActivationSparsity``: zero activations / all activations of the neuron layers, over every step;
- ``SynapticOperations``: ``Effective_MACs`` (nonzero weight x nonzero input, for layers whose input is not
  binary), ``Effective_ACs`` (the same for binary, spiking inputs) and ``Dense`` (every weight at every step),
  each summed over the steps of a sample and averaged over samples.

From a trace: the connection layers are every layer's input and recurrent weights and the readout (decoder)
when there is one; the neuron layers are the recurrent layers (their events); an input is binary when it is
layer 0's recorded ``input_events`` or the events of a layer without graded values. Where this differs from
the ``neurobench`` package by definition (biases, neuron parameters, pointwise ops of gated cells, an output
neuron layer, the embedding) is listed in ``docs/byom.md``.
"""

from __future__ import annotations

import os

import numpy as np

from neurosim.trace.types import Trace


def _graded(trace: Trace) -> list[bool]:
    """Per layer: whether its events carry graded (non-binary) values to the synapses they reach.

    ``meta.graded_events`` (a list, as :func:`neurosim.record` writes) says so; without it, a layer with values
    or of a gated model (gates > 1) is graded.
    """
    meta = trace.meta.get("graded_events")
    if isinstance(meta, list) and len(meta) == len(trace.layers):
        return [bool(g) for g in meta]
    return [layer.values is not None or trace.gates > 1 for layer in trace.layers]  # gated cells: real outputs


def synaptic_operations(trace: Trace, readout: bool | None = None) -> dict[str, int]:
    """NeuroBench's SynapticOperations of the whole trace (one sample): ``Effective_MACs``, ``Effective_ACs``,
    ``Dense``, as integers.

    ``readout``: count the decoder (default: when the trace has a ``readout_w_mask``).
    """
    from neurosim.trace.stats import synops_per_step

    readout = trace.readout_w_mask is not None if readout is None else readout
    T = trace.n_tokens
    graded = _graded(trace)
    per_layer = synops_per_step(trace)
    macs = acs = 0
    for l, layer in enumerate(trace.layers):
        ff_ops = int(per_layer[l].sum())
        rec = int((layer.events[:-1].astype(np.int64) @ layer.rec_fanout).sum())
        ff_ops -= rec
        ff_binary = trace.input_events is not None if l == 0 else not graded[l - 1]
        if ff_binary:
            acs += ff_ops
        else:
            macs += ff_ops
        if graded[l]:
            macs += rec
        else:
            acs += rec
    dense = sum(layer.w_in_mask.size + layer.w_rec_mask.size for layer in trace.layers)
    if readout:
        from neurosim.network import readout_mask

        mask = readout_mask(trace)
        ops = int((trace.layers[-1].events.astype(np.int64) @ mask.sum(axis=1, dtype=np.int64)).sum())
        if graded[-1]:
            macs += ops
        else:
            acs += ops
        dense += mask.size
    return {"Effective_MACs": macs, "Effective_ACs": acs, "Dense": dense * T}


def neurobench_metrics(trace, result=None, *, samples: int = 1, bytes_per_weight: int = 4,
                       readout: bool | None = None) -> dict:
    """NeuroBench 2.x metrics of ``trace``, by NeuroBench's names.

    Parameters
    ----------
    trace : a :class:`~neurosim.trace.Trace`, or a path or shipped name.
    result : a :class:`~neurosim.result.Result` of a run on ``trace``: the metrics then cover its steps and
        readout scope, and ``neurosim`` holds the run's own figures per sample beside them.
    samples : how many NeuroBench samples the trace's steps make (per-sample figures divide by it).
    bytes_per_weight : bytes of one stored weight for ``Footprint`` (4: float32, as a torch model holds them).
    readout : count the decoder (default: the run's scope, else whether the trace has a ``readout_w_mask``).

    Returns
    -------
    dict with ``Footprint`` (bytes), ``ConnectionSparsity``, ``ActivationSparsity``, ``SynapticOperations``
    (``Effective_MACs``, ``Effective_ACs``, ``Dense`` per sample), and with ``result`` a ``neurosim`` dict.

    Examples
    --------
    >>> from neurosim.trace import synthetic
    >>> m = neurobench_metrics(synthetic([32], input_size=8, tokens=10, activity=0.25))
    >>> sorted(m)
    ['ActivationSparsity', 'ConnectionSparsity', 'Footprint', 'SynapticOperations']
    """
    if isinstance(trace, (str, os.PathLike)):
        from neurosim.trace import load_trace

        trace = load_trace(trace, None if result is None else result.tokens)
    if samples < 1:
        raise ValueError(f"samples: is {samples}; allowed: an integer >= 1")
    if result is not None:
        if result.tokens < trace.n_tokens:
            trace = trace.window(0, result.tokens)
        if readout is None:
            readout = result.meta.get("readout") == "chip" and int(result.meta.get("readout_units", 0)) > 0
    readout = trace.readout_w_mask is not None if readout is None else bool(readout)
    masks = [m for layer in trace.layers for m in (layer.w_in_mask, layer.w_rec_mask)]
    ops = synaptic_operations(trace, readout)
    if readout:
        from neurosim.network import readout_mask

        masks.append(readout_mask(trace))
    weights = sum(m.size for m in masks)
    nonzero = sum(int(m.sum()) for m in masks)
    events = sum(int(layer.events.sum()) for layer in trace.layers)
    unit_steps = sum(layer.events.size for layer in trace.layers)
    out = {
        "Footprint": int(weights * bytes_per_weight),
        "ConnectionSparsity": 1.0 - nonzero / weights,
        "ActivationSparsity": 1.0 - events / unit_steps,
        "SynapticOperations": {k: v / samples for k, v in ops.items()},
    }
    if result is not None:
        out["neurosim"] = {
            "arch": result.arch,
            "tokens": result.tokens,
            "synaptic_ops_per_sample": result.synaptic_ops_per_token * result.tokens / samples,
            "energy_pj_per_sample": result.energy_pj_per_token * result.tokens / samples,
            "readout": readout,
        }
    return out


__all__ = ["neurobench_metrics", "synaptic_operations"]
