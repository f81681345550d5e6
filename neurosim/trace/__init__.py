"""Activation traces: the first stage of the pipeline.

- :mod:`~neurosim.trace.types`: :class:`Trace`, :class:`LayerTrace`, :class:`TraceError`, the format's names;
- :mod:`~neurosim.trace.checks`: the rules a trace obeys (:func:`check_meta`, :func:`validate_arrays`, ...);
- :mod:`~neurosim.trace.format`: the ``.npz`` file, :func:`load_trace`, :func:`read_meta`, :func:`save_trace`;
- :mod:`~neurosim.trace.arrays`: :func:`trace_from_arrays` (``Trace.from_arrays``), :func:`check_trace`;
- :mod:`~neurosim.trace.stats`: synaptic operations per step, dense MACs, :func:`summary`;
- :mod:`~neurosim.trace.stream`: :class:`EventStream`, events read forward from disk;
- :mod:`~neurosim.trace.synthetic`: :func:`synthetic` random traces.
"""

from neurosim.trace.arrays import check_trace, trace_from_arrays
from neurosim.trace.checks import check_meta, validate_arrays, validate_trace
from neurosim.trace.format import load_trace, read_meta, save_trace
from neurosim.trace.stats import dense_macs_per_token, summary, synops_per_step
from neurosim.trace.stream import EventStream
from neurosim.trace.synthetic import synthetic
from neurosim.trace.types import (
    GATES_BY_MODEL,
    META_KEYS,
    MODELS,
    TRACE_FORMAT,
    TRACE_VERSION,
    LayerTrace,
    Trace,
    TraceError,
)

__all__ = [
    "GATES_BY_MODEL",
    "META_KEYS",
    "MODELS",
    "TRACE_FORMAT",
    "TRACE_VERSION",
    "EventStream",
    "LayerTrace",
    "Trace",
    "TraceError",
    "check_meta",
    "check_trace",
    "dense_macs_per_token",
    "load_trace",
    "read_meta",
    "save_trace",
    "summary",
    "synops_per_step",
    "synthetic",
    "trace_from_arrays",
    "validate_arrays",
    "validate_trace",
]
