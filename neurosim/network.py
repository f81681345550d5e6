"""The network stage: a trace's layers as populations and projections.

Units are numbered globally: first the ``input_size`` input units (the dense
embedding, active at every step), then the units of layer 0, layer 1, ...
Every recurrent-layer unit holds ``gates`` compartments; an input unit one.

Each presynaptic unit has at most two outgoing projections: ``ff`` (to the
next layer's input weights) and ``rec`` (to its own layer's recurrent
weights). Input units have ``ff`` only; the last layer's units ``rec`` only
(the readout is not simulated).
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

    @property
    def n_layers(self) -> int:
        return len(self.hidden_sizes)

    @property
    def layer_offsets(self) -> np.ndarray:
        """Global index of the first unit of each layer, int64 [L+1] (last = total units)."""
        return self.input_size + np.concatenate([[0], np.cumsum(self.hidden_sizes)]).astype(np.int64)

    @property
    def n_event_layers(self) -> int:
        """Layers whose units fire (all of them; a readout population would come after)."""
        return len(self.hidden_sizes)

    def layer_gates(self) -> np.ndarray:
        """Compartments per unit of each layer, int64 [L]."""
        return np.full(self.n_layers, self.gates, dtype=np.int64)

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
        out = np.full(self.n_units, self.gates, dtype=np.int64)
        out[: self.input_size] = 1
        return out

    def fan_in(self) -> np.ndarray:
        """Incoming synapses of every global unit (all gates, all projections), int64 [n_units]."""
        out = np.zeros(self.n_units, dtype=np.int64)
        offs = self.layer_offsets
        for proj in self.projections:
            H = self.hidden_sizes[proj.post_layer]
            per_col = proj.mask.sum(axis=0, dtype=np.int64)
            out[offs[proj.post_layer] : offs[proj.post_layer + 1]] += per_col.reshape(self.gates, H).sum(axis=0)
        return out


def build_network(trace: Trace) -> Network:
    """Populations and projections of ``trace`` (connectivity only; events stay in the trace)."""
    hidden = tuple(trace.hidden_sizes)
    offsets = trace.input_size + np.concatenate([[0], np.cumsum(hidden)])
    projections = []
    for l, layer in enumerate(trace.layers):
        pre_offset = 0 if l == 0 else int(offsets[l - 1])
        projections.append(Projection(FF, pre_offset, l, layer.w_in_mask))
        projections.append(Projection(REC, int(offsets[l]), l, layer.w_rec_mask))
    return Network(input_size=trace.input_size, hidden_sizes=hidden, gates=trace.gates, projections=tuple(projections))
