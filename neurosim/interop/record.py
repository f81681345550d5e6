"""``neurosim.record(module, inputs)``: a trace from a PyTorch model, recorded by forward hooks.

Recognised recurrent layers, wherever they sit in ``module``:

- ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (any ``num_layers``, unidirectional, no ``proj_size``): gates 4 / 3 / 1;
  each of their layers becomes a trace layer;
- ``torch.nn.LSTMCell`` / ``GRUCell`` / ``RNNCell``: one layer each, one call per step;
- neurosim's own :class:`~neurosim.models.egru.EGRU` and :class:`~neurosim.models.lstm.LSTM` layers;
- spiking layers: snnTorch neurons (``snntorch.SpikingNeuron``) and any module listed in ``spiking``; a unit
  whose output is nonzero emits an event; the layer's input weights are those of the ``nn.Linear`` whose
  output it receives, its recurrent weights those of its ``recurrent`` submodule (snnTorch ``RLeaky`` /
  ``RSynaptic``), none otherwise (gates 1).

Masks are the nonzero weights (pruned weights, zeros, are absent synapses), transposed to the trace layout
``[in, gates*H]``. Events are the units whose output is nonzero: a dense RNN (tanh, LSTM, GRU) has every unit
nonzero at every step, so its events are all ones (activity sparsity 0) and only weight sparsity saves work.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurosim.trace.arrays import trace_from_arrays
from neurosim.trace.types import Trace, TraceError

GATES = {"LSTM": 4, "GRU": 3, "RNN": 1}


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy()


def _mask(weight) -> np.ndarray:
    """torch ``[out, in]`` weight -> the trace's ``[in, out]`` nonzero mask."""
    return (_np(weight) != 0).T.copy()


def _one_stream(name: str, t, batch_dim: int | None):
    """``t`` without its batch dimension (which must be 1); ``batch_dim`` None: unbatched."""
    if batch_dim is None:
        return t
    if t.shape[batch_dim] != 1:
        raise TraceError(f"record: {name} has a batch of {t.shape[batch_dim]}; a trace is one stream: "
                         "record with batch size 1")
    return t.select(batch_dim, 0)


@dataclass
class _Layer:
    """What one recurrent layer recorded: per-call outputs [T_call, H], its masks and its first input."""

    where: str
    gates: int
    kind: str
    w_in: np.ndarray | None = None
    w_rec: np.ndarray | None = None
    outputs: list = field(default_factory=list)
    events: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # layer input per call [T_call, in] (for input events)
    first_call: int = -1

    def add(self, order: int, out, inp, events=None) -> None:
        if self.first_call < 0:
            self.first_call = order
        out = _np(out).reshape(-1, out.shape[-1])
        self.outputs.append(out)
        self.events.append(out != 0 if events is None else (_np(events).reshape(out.shape) != 0))
        if inp is not None:
            self.inputs.append(_np(inp).reshape(out.shape[0], -1))


class _Recording:
    """The hooks of one :func:`record` call and what they saw."""

    def __init__(self, module, spiking: tuple):
        from torch import nn

        self.calls = 0
        self.layers: list[_Layer] = []
        self.handles = []
        self.linear_calls: list[tuple[int, object]] = []  # (order, nn.Linear) of linears outside the layers
        self.latest: dict[int, tuple] = {}  # id(linear) -> (linear, its latest output)
        self.last_input: dict[int, object] = {}  # id(linear) -> its latest input
        self.spiking_inputs: set[int] = set()  # ids of linears feeding a spiking layer
        self.embedding = None
        own = _own_layer_types()
        spiking_types = tuple(spiking) + _snntorch_neuron_types()
        claimed: set[int] = set()
        for name, m in module.named_modules():
            if id(m) in claimed:
                continue
            where = name or type(module).__name__
            if isinstance(m, nn.RNNBase):
                self._hook_rnn(m, where)
            elif isinstance(m, nn.RNNCellBase):
                self._hook_cell(m, where)
            elif own and isinstance(m, own):
                self._hook_own(m, where)
            elif spiking_types and isinstance(m, spiking_types):
                self._hook_spiking(m, where)
            elif isinstance(m, nn.Linear):
                self._hook_linear(m)
                continue
            elif isinstance(m, nn.Embedding) and self.embedding is None:
                self.embedding = m
                continue
            else:
                continue
            claimed.update(id(c) for c in m.modules())
        if not self.layers:
            raise TraceError(f"record: no recurrent layer in {type(module).__name__}; recognised: nn.LSTM, nn.GRU, "
                             "nn.RNN, LSTMCell/GRUCell/RNNCell, neurosim EGRU/LSTM, snnTorch neurons (or pass "
                             "spiking=(YourNeuron,))")

    def tick(self) -> int:
        self.calls += 1
        return self.calls

    def close(self) -> None:
        for h in self.handles:
            h.remove()

    # ------------------------------------------------------------------ hooks per layer kind

    def _hook_rnn(self, m, where: str) -> None:
        import torch

        kind = "LSTM" if isinstance(m, torch.nn.LSTM) else "GRU" if isinstance(m, torch.nn.GRU) else "RNN"
        if m.bidirectional or getattr(m, "proj_size", 0):
            raise TraceError(f"record: {where} is bidirectional or has proj_size; a trace holds unidirectional "
                             "layers without projections")
        gates = GATES[kind]
        layers = [_Layer(f"{where} layer {k}", gates, kind.lower()) for k in range(m.num_layers)]
        self.layers.extend(layers)

        def hook(mod, args, kwargs, output):
            order = self.tick()
            x = args[0]
            if not isinstance(x, torch.Tensor):
                raise TraceError(f"record: {where} got a {type(x).__name__}; record takes padded tensors, "
                                 "not PackedSequence")
            hx = args[1] if len(args) > 1 else kwargs.get("hx")
            batched = x.dim() == 3
            x1 = _one_stream(f"{where}'s input", x, (0 if mod.batch_first else 1) if batched else None)
            h = x1
            for k, layer in enumerate(layers):
                w_ih, w_hh = getattr(mod, f"weight_ih_l{k}"), getattr(mod, f"weight_hh_l{k}")
                b = (getattr(mod, f"bias_ih_l{k}"), getattr(mod, f"bias_hh_l{k}")) if mod.bias else (None, None)
                layer.w_in, layer.w_rec = _mask(w_ih), _mask(w_hh)
                h0 = None
                if hx is not None:
                    h0 = tuple(s[k] for s in hx) if isinstance(hx, tuple) else hx[k]
                    if batched:
                        h0 = tuple(s[0] for s in h0) if isinstance(h0, tuple) else h0[0]
                out = _run_layer(kind, mod, h, h0, w_ih, w_hh, *b)
                layer.add(order, out, h)
                h = out
            y = output[0]
            y1 = _one_stream(f"{where}'s output", y, (0 if mod.batch_first else 1) if batched else None)
            if not torch.allclose(h, y1, atol=1e-5, rtol=1e-4):
                raise TraceError(f"record: {where}: replaying its layers one by one does not give its output "
                                 "(dropout in a model that is not in eval mode?)")

        self.handles.append(m.register_forward_hook(hook, with_kwargs=True))

    def _hook_cell(self, m, where: str) -> None:
        from torch import nn

        kind = "lstm" if isinstance(m, nn.LSTMCell) else "gru" if isinstance(m, nn.GRUCell) else "rnn"
        layer = _Layer(where, {"lstm": 4, "gru": 3, "rnn": 1}[kind], kind)
        self.layers.append(layer)

        def hook(mod, args, output):
            order = self.tick()
            h = output[0] if isinstance(output, tuple) else output
            x = args[0]
            if x.dim() == 2:
                x, h = _one_stream(f"{where}'s input", x, 0), _one_stream(f"{where}'s output", h, 0)
            layer.w_in, layer.w_rec = _mask(mod.weight_ih), _mask(mod.weight_hh)
            layer.add(order, h[None], x[None])

        self.handles.append(m.register_forward_hook(hook))

    def _hook_own(self, m, where: str) -> None:
        gates = int(m.weight_ih.shape[0] // m.weight_hh.shape[1])
        layer = _Layer(where, gates, "egru" if gates == 3 else "lstm")
        self.layers.append(layer)

        def hook(mod, args, output):
            order = self.tick()
            y, _, e = output
            x = args[0]
            layer.w_in, layer.w_rec = _mask(mod.weight_ih), _mask(mod.weight_hh)
            layer.add(order, _one_stream(f"{where}'s output", y, 1), _one_stream(f"{where}'s input", x, 1),
                      events=_one_stream(f"{where}'s events", e, 1))

        self.handles.append(m.register_forward_hook(hook))

    def _hook_spiking(self, m, where: str) -> None:
        layer = _Layer(where, 1, "rsnn")
        layer.feed = None
        self.layers.append(layer)

        def pre(mod, args):
            if not args:
                raise TraceError(f"record: {where} was called without an input current")
            linear = next((lin for lin, out in self.latest.values() if out is args[0]), None)
            if linear is None:
                raise TraceError(f"record: {where}'s input does not come straight from an nn.Linear; its input "
                                 "weights are unknown (apply the Linear right before the spiking layer)")
            if layer.feed is not None and layer.feed is not linear:
                raise TraceError(f"record: {where} is fed by two different nn.Linear modules")
            layer.feed = linear
            self.spiking_inputs.add(id(linear))
            layer.pending_input = self.last_input.get(id(linear))

        def hook(mod, args, output):
            order = self.tick()
            spk = output[0] if isinstance(output, tuple) else output
            x = layer.pending_input
            if spk.dim() == 2:
                spk = _one_stream(f"{where}'s output", spk, 0)
                x = None if x is None else _one_stream(f"{where}'s input", x, 0)
            H = spk.shape[-1]
            layer.w_in = _mask(layer.feed.weight)
            layer.w_rec = _recurrent_mask(mod, H, where)
            layer.add(order, spk[None], None if x is None else x[None])

        self.handles.append(m.register_forward_pre_hook(pre))
        self.handles.append(m.register_forward_hook(hook))

    def _hook_linear(self, m) -> None:
        def hook(mod, args, output):
            self.latest[id(mod)] = (mod, output)
            self.last_input[id(mod)] = args[0]
            self.linear_calls.append((self.tick(), mod))

        self.handles.append(m.register_forward_hook(hook))


def _run_layer(kind: str, mod, x, h0, w_ih, w_hh, b_ih, b_hh):
    """One layer of a torch RNN over ``x`` [T, in] (unbatched) with the given weights: its outputs [T, H]."""
    import torch

    if kind == "LSTM":
        h, c = (None, None) if h0 is None else h0
        H = w_hh.shape[1]
        h = x.new_zeros(H) if h is None else h
        c = x.new_zeros(H) if c is None else c
        out = []
        for t in range(x.shape[0]):
            h, c = torch.lstm_cell(x[t][None], (h[None], c[None]), w_ih, w_hh, b_ih, b_hh)
            h, c = h[0], c[0]
            out.append(h)
        return torch.stack(out)
    H = w_hh.shape[1]
    h = x.new_zeros(H) if h0 is None else h0
    out = []
    if kind == "GRU":
        cell = torch.gru_cell
    else:
        cell = torch.rnn_relu_cell if mod.nonlinearity == "relu" else torch.rnn_tanh_cell
    for t in range(x.shape[0]):
        h = cell(x[t][None], h[None], w_ih, w_hh, b_ih, b_hh)[0]
        out.append(h)
    return torch.stack(out)


def _recurrent_mask(mod, H: int, where: str) -> np.ndarray:
    """A spiking layer's recurrent mask ``[H, H]``: its ``recurrent`` submodule's weights (snnTorch ``RLeaky`` /
    ``RSynaptic``: a Linear, or the diagonal ``V`` when not all-to-all), none otherwise."""
    rec = getattr(mod, "recurrent", None)
    if rec is None:
        return np.zeros((H, H), dtype=bool)
    weight = getattr(rec, "weight", None)
    if weight is not None and weight.dim() == 2:
        mask = _mask(weight)
    elif getattr(rec, "V", None) is not None:
        v = _np(rec.V).reshape(-1)
        mask = np.diag(np.broadcast_to(v, (H,)) != 0)
    else:
        raise TraceError(f"record: {where}.recurrent is a {type(rec).__name__}; recognised: a Linear (all-to-all) "
                         "or a diagonal V")
    if mask.shape != (H, H):
        raise TraceError(f"record: {where}: recurrent weights {mask.shape}; expected ({H}, {H})")
    return mask


def _own_layer_types() -> tuple:
    from neurosim.models.egru import EGRU
    from neurosim.models.lstm import LSTM

    return (EGRU, LSTM)


def _snntorch_neuron_types() -> tuple:
    try:
        from snntorch import SpikingNeuron
    except ImportError:
        return ()
    return (SpikingNeuron,)


def record(
    module,
    inputs,
    *,
    steps: bool = False,
    model: str | None = None,
    tokens=None,
    readout="auto",
    input_events="auto",
    values: bool = False,
    spiking: tuple = (),
    name: str = "trace",
    **meta,
) -> Trace:
    """Run ``module`` on ``inputs`` and record a trace: every recurrent layer's events and weight masks.

    Parameters
    ----------
    module : a ``torch.nn.Module``: a recurrent layer itself, or a model that holds some (see the module
        docstring for the recognised kinds). It runs in eval mode without gradients; batch size must be 1.
    inputs : the module's input (a tensor or a tuple of positional arguments); with ``steps`` a tensor whose
        first dimension is time, fed one step per call.
    steps : call ``module(inputs[t])`` once per step (snnTorch style: the model does one step per call and holds
        its state, e.g. ``init_hidden=True``); snnTorch neurons are reset first.
    model : the trace's model name (default: the recorded layers' kind, e.g. ``gru``, ``lstm``, ``rsnn``).
    tokens : token ids [T] (default: the module's integer input when it has one, else zeros).
    readout : ``"auto"``: the first ``nn.Linear`` applied after the last recurrent layer, taking its units
        (the decoder); an ``nn.Linear`` to use that one; None: no readout.
    input_events : ``"auto"``: record layer 0's input as events when it is binary (0/1 spikes or one-hot),
        else leave it dense; True / False to force.
    values : store the outputs of events (graded values) as the trace's values.
    spiking : more module classes to treat as spiking neurons.
    name, meta : the trace's name and more ``meta`` keys (``dataset``, ``source``, ...).

    Returns
    -------
    Trace, checked (:func:`~neurosim.trace.arrays.trace_from_arrays`); write it with ``neurosim.save_trace``.

    Notes
    -----
    A dense RNN's units are all nonzero at every step: its events are all ones (activity sparsity 0).

    Examples
    --------
    >>> import torch, neurosim
    >>> gru = torch.nn.GRU(8, 16, num_layers=2)
    >>> trace = neurosim.record(gru, torch.randn(20, 1, 8))
    >>> trace.hidden_sizes, trace.gates
    ([16, 16], 3)
    """
    import torch

    if readout not in ("auto", None) and not isinstance(readout, torch.nn.Linear):
        raise TraceError(f"record: readout is {readout!r}; allowed: 'auto', None or an nn.Linear")
    if input_events not in ("auto", True, False):
        raise TraceError(f"record: input_events is {input_events!r}; allowed: 'auto', True, False")
    rec = _Recording(module, tuple(spiking))
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            if steps:
                if not isinstance(inputs, torch.Tensor):
                    raise TraceError("record: steps=True takes one tensor whose first dimension is time")
                _reset_snntorch(module)
                for t in range(inputs.shape[0]):
                    module(inputs[t])
            else:
                module(*inputs) if isinstance(inputs, tuple) else module(inputs)
    finally:
        rec.close()
        module.train(was_training)
    return _assemble(rec, inputs, model, tokens, readout, input_events, values, name, meta)


def _reset_snntorch(module) -> None:
    try:
        from snntorch import utils
    except ImportError:
        return
    utils.reset(module)


def _assemble(rec: _Recording, inputs, model, tokens, readout, input_events, values, name, meta) -> Trace:
    import torch

    layers = sorted((layer for layer in rec.layers if layer.outputs), key=lambda layer: layer.first_call)
    silent = [layer.where for layer in rec.layers if not layer.outputs]
    if not layers:
        raise TraceError(f"record: none of the recurrent layers ran ({', '.join(silent)})")
    gates = {layer.gates for layer in layers}
    if len(gates) > 1:
        raise TraceError(f"record: layers with different gates {[(l.where, l.gates) for l in layers]}; a trace "
                         "has one gates value")
    events = [np.concatenate(layer.events) for layer in layers]
    T = {e.shape[0] for e in events}
    if len(T) > 1:
        raise TraceError(f"record: layers ran for different steps {[(l.where, e.shape[0]) for l, e in zip(layers, events)]}")
    prev = layers[0].w_in.shape[0]
    for l, layer in enumerate(layers):
        if layer.w_in.shape[0] != prev:
            raise TraceError(f"record: {layer.where} takes {layer.w_in.shape[0]} inputs but the layer before it "
                             f"has {prev} units; a trace is a chain of layers, each feeding the next")
        prev = layer.w_rec.shape[0]
    H_last = prev
    readout_mask = None
    if readout == "auto":
        last_first = layers[-1].first_call
        for order, lin in rec.linear_calls:
            if order > last_first and id(lin) not in rec.spiking_inputs and lin.in_features == H_last:
                readout_mask = _mask(lin.weight)
                break
    elif readout is not None:
        readout_mask = _mask(readout.weight)
    in_ev = None
    if input_events is not False:
        first = layers[0]
        x = np.concatenate(first.inputs) if first.inputs else None
        binary = x is not None and np.isin(x, (0, 1)).all()
        if input_events is True and x is None:
            raise TraceError(f"record: input_events=True but {first.where}'s input was not seen")
        if input_events is True or binary:
            in_ev = x != 0
    if tokens is None:
        first_arg = inputs[0] if isinstance(inputs, tuple) else inputs
        if isinstance(first_arg, torch.Tensor) and not first_arg.is_floating_point() and first_arg.numel() == events[0].shape[0]:
            tokens = _np(first_arg).reshape(-1)
    vocab = None
    if readout_mask is None and rec.embedding is not None:
        vocab = int(rec.embedding.num_embeddings)
    if model is None:
        kinds = sorted({layer.kind for layer in layers})
        model = kinds[0] if len(kinds) == 1 else "+".join(kinds)
    vals = None
    if values:
        vals = [np.concatenate(layer.outputs) for layer in layers]
    source = meta.pop("source", f"neurosim.record({', '.join(layer.where for layer in layers)})")
    return trace_from_arrays(events, [l.w_in for l in layers], [l.w_rec for l in layers], gates=gates.pop(),
                             model=model, values=vals, readout_mask=readout_mask, tokens=tokens,
                             input_events=in_ev, vocab_size=vocab, source=source, name=name,
                             dataset=meta.pop("dataset", "custom"), split=meta.pop("split", "none"),
                             meta={"graded_events": [layer.kind != "rsnn" for layer in layers], **meta})


__all__ = ["record"]
