"""The network stage: a trace's layers as populations and projections.

Units are numbered globally: first the ``input_size`` input units (the dense
embedding, active at every step), then the units of layer 0, layer 1, ...
Every recurrent-layer unit holds ``gates`` compartments; an input unit one.

Each presynaptic unit has at most two outgoing projections: ``ff`` (to the
next layer's input weights) and ``rec`` (to its own layer's recurrent
weights). Input units have ``ff`` only. With a readout (``readout_size > 0``),
the decoder is one more population after the recurrent layers: one
compartment per output unit (the vocabulary), fed by the last layer's events
through the ``ff`` projection of the decoder mask, never firing; without
one, the last layer's units send ``rec`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.trace import Trace

FF, REC = 0, 1
PROJECTION_NAMES = ("ff", "rec")


@dataclass(frozen=True)
class Projection:
    """A weight mask from one population to a recurrent layer.

    ``mask`` is bool ``[n_pre, gates*H_post]`` with gate-major columns.
    """

    kind: int  # FF or REC
    pre_offset: int  # global index of the first presynaptic unit
    post_layer: int
    mask: np.ndarray

    @property
    def n_pre(self) -> int:
        return int(self.mask.shape[0])


@dataclass(frozen=True)
class Network:
    """Populations (input + layers) and their projections, sizes only."""

    input_size: int
    hidden_sizes: tuple[int, ...]
    gates: int
    projections: tuple[Projection, ...]
    readout_size: int = 0  # output units of the simulated decoder (0: no readout)
    input_encoding: str = "embedding"  # see INPUT_ENCODINGS

    @property
    def dense_input(self) -> bool:
        """Whether every input unit sends at every step (the embedding) rather than only those with an event."""
        return self.input_encoding == "embedding"

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """Units of every population after the input: the recurrent layers, then the readout if any."""
        return self.hidden_sizes + ((self.readout_size,) if self.readout_size else ())

    @property
    def n_layers(self) -> int:
        """Populations after the input (pipeline stages): recurrent layers, plus the readout."""
        return len(self.layer_sizes)

    @property
    def n_event_layers(self) -> int:
        """Recurrent layers, whose units fire; the readout after them never does."""
        return len(self.hidden_sizes)

    @property
    def layer_offsets(self) -> np.ndarray:
        """Global index of the first unit of each layer, int64 [L+1] (last = total units)."""
        return self.input_size + np.concatenate([[0], np.cumsum(self.layer_sizes)]).astype(np.int64)

    def layer_gates(self) -> np.ndarray:
        """Compartments per unit of each layer, int64 [L]: ``gates``, and 1 for the readout."""
        gates = np.full(self.n_layers, self.gates, dtype=np.int64)
        gates[self.n_event_layers:] = 1
        return gates

    @property
    def n_units(self) -> int:
        return int(self.layer_offsets[-1])

    def unit_layer(self) -> np.ndarray:
        """Layer of every global unit (-1 for input units), int64 [n_units]."""
        out = np.full(self.n_units, -1, dtype=np.int64)
        offs = self.layer_offsets
        for l in range(self.n_layers):
            out[offs[l] : offs[l + 1]] = l
        return out

    def unit_compartments(self) -> np.ndarray:
        """Compartments (neuron slots) each global unit needs, int64 [n_units]."""
        out = np.ones(self.n_units, dtype=np.int64)
        if not self.dense_input:  # token or recorded events: axons from off the chip, no compartment
            out[: self.input_size] = 0
        out[self.input_size:] = np.repeat(self.layer_gates(), self.layer_sizes)
        return out

    def fan_in(self) -> np.ndarray:
        """Incoming synapses of every global unit (all gates, all projections), int64 [n_units]."""
        out = np.zeros(self.n_units, dtype=np.int64)
        offs = self.layer_offsets
        gates = self.layer_gates()
        for proj in self.projections:
            H = self.layer_sizes[proj.post_layer]
            per_col = proj.mask.sum(axis=0, dtype=np.int64)
            out[offs[proj.post_layer] : offs[proj.post_layer + 1]] += per_col.reshape(gates[proj.post_layer],
                                                                                      H).sum(axis=0)
        return out


READOUTS = ("chip", "none")
#: what layer 0 receives: ``embedding`` every input unit (the dense embedding) at every step; ``token`` one
#: event per token, from one input unit per vocabulary word whose synapses are the embedding folded into
#: layer 0's input weights; ``events`` the trace's recorded input events (``Trace.input_events``)
INPUT_ENCODINGS = ("embedding", "token", "events")


def folded_input_mask(trace: Trace) -> np.ndarray:
    """bool [vocab_size, gates*H_0]: the embedding (dense) times layer 0's input weights, per word: a column
    is nonzero wherever any input weight of it is."""
    cols = trace.layers[0].w_in_mask.any(axis=0)
    return np.broadcast_to(cols, (int(trace.meta["vocab_size"]), cols.shape[0])).copy()


def has_readout(trace: Trace) -> bool:
    """Whether the trace's model has a decoder: a language model's does (its ``readout_w_mask`` or a dense
    one); a synthetic trace has none unless it carries a ``readout_w_mask``."""
    return trace.readout_w_mask is not None or trace.meta.get("model") != "synthetic"


def readout_mask(trace: Trace) -> np.ndarray:
    """The decoder's nonzero pattern, bool [H_last, vocab_size]: the trace's, or dense when it has none."""
    if trace.readout_w_mask is not None:
        return trace.readout_w_mask
    return np.ones((trace.hidden_sizes[-1], int(trace.meta["vocab_size"])), dtype=bool)


def build_network(trace: Trace, readout: str = "none", input_encoding: str = "embedding") -> Network:
    """Populations and projections of ``trace`` (connectivity only; events stay in the trace).

    ``readout="chip"`` adds the decoder (:func:`readout_mask`) as a population fed by the last layer,
    when the trace's model has one (:func:`has_readout`). ``input_encoding`` chooses what layer 0
    receives (:data:`INPUT_ENCODINGS`).
    """
    if readout not in READOUTS:
        raise ValueError(f"readout: got {readout!r}; allowed: {list(READOUTS)}")
    if input_encoding not in INPUT_ENCODINGS:
        raise ValueError(f"input encoding: got {input_encoding!r}; allowed: {list(INPUT_ENCODINGS)}")
    if input_encoding == "events" and getattr(trace, "input_events", None) is None:
        raise ValueError("input encoding 'events': the trace records no input events (Trace.input_events); "
                         "allowed: 'embedding' or 'token' for this trace")
    hidden = tuple(trace.hidden_sizes)
    in_mask = folded_input_mask(trace) if input_encoding == "token" else trace.layers[0].w_in_mask
    input_size = int(in_mask.shape[0])
    offsets = input_size + np.concatenate([[0], np.cumsum(hidden)])
    projections = []
    for l, layer in enumerate(trace.layers):
        pre_offset = 0 if l == 0 else int(offsets[l - 1])
        projections.append(Projection(FF, pre_offset, l, in_mask if l == 0 else layer.w_in_mask))
        projections.append(Projection(REC, int(offsets[l]), l, layer.w_rec_mask))
    readout_size = 0
    if readout == "chip" and has_readout(trace):
        mask = readout_mask(trace)
        readout_size = int(mask.shape[1])
        projections.append(Projection(FF, int(offsets[-2]), len(hidden), mask))
    return Network(input_size=input_size, hidden_sizes=hidden, gates=trace.gates,
                   projections=tuple(projections), readout_size=readout_size, input_encoding=input_encoding)


def input_matrix(trace: Trace, encoding: str, input_size: int, first: int, stop: int) -> np.ndarray:
    """uint8 [stop - first, input_size]: which input units send for tokens ``first <= t < stop`` under
    ``encoding`` (empty [rows, 0] with the dense embedding, where all of them always do)."""
    rows = stop - first
    if encoding == "embedding":
        return np.zeros((rows, 0), dtype=np.uint8)
    if encoding == "token":
        out = np.zeros((rows, input_size), dtype=np.uint8)
        out[np.arange(rows), np.asarray(trace.tokens[first:stop], dtype=np.int64)] = 1
        return out
    return np.ascontiguousarray(trace.input_events[first:stop], dtype=np.uint8)
