"""The trace object: :class:`Trace`, :class:`LayerTrace`, :class:`TraceError` and the format's names.

A :class:`Trace` holds the tokens of a language-model run, which units of every
recurrent layer emitted an output event at every step, and the nonzero pattern
of the layers' weights (gate-major columns: column ``g*H + j`` is gate ``g`` of
unit ``j``). The file that stores it is :mod:`neurosim.trace.format`; the rules
a trace must satisfy are :mod:`neurosim.trace.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

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
