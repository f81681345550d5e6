"""Bring your own model: Trace.from_arrays, save/load round trips, input events, neurosim.record."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neurosim
from neurosim.trace import Trace, TraceError, load_trace, save_trace, synops_per_step, synthetic


def _arrays(seed=0, T=10, sizes=(16, 4), n_in=8, gates=3):
    rng = np.random.default_rng(seed)
    events, w_in, w_rec = [], [], []
    prev = n_in
    for H in sizes:
        events.append(rng.random((T, H)) < 0.3)
        w_in.append(rng.random((prev, gates * H)) < 0.5)
        w_rec.append(rng.random((H, gates * H)) < 0.5)
        prev = H
    return {"events": events, "w_in_masks": w_in, "w_rec_masks": w_rec, "gates": gates}


def test_from_arrays_round_trips_through_a_file(tmp_path):
    """A trace made from arrays, with any model name, saves and loads back equal, input events included."""
    a = _arrays()
    rng = np.random.default_rng(1)
    trace = Trace.from_arrays(**a, model="my_gru", input_events=rng.random((10, 8)) < 0.2,
                              readout_mask=rng.random((4, 7)) < 0.5, values=[rng.standard_normal((10, 16)), None])
    back = load_trace(save_trace(trace, tmp_path / "t.npz"))
    assert back.meta["model"] == "my_gru" and back.meta["vocab_size"] == 7
    np.testing.assert_array_equal(back.input_events, trace.input_events)
    np.testing.assert_array_equal(back.readout_w_mask, trace.readout_w_mask)
    np.testing.assert_array_equal(back.layers[0].values, trace.layers[0].values)
    for x, y in zip(back.layers, trace.layers):
        np.testing.assert_array_equal(x.events, y.events)
        np.testing.assert_array_equal(x.w_in_mask, y.w_in_mask)
    assert back.window(2, 5).input_events.shape == (3, 8)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a["w_in_masks"].__setitem__(1, a["w_in_masks"][1].T),
         "layer 1 w_in_mask: shape (12, 16); expected (H_0=16, gates*H_1=12): did you pass torch's weight_ih"),
        (lambda a: a["w_rec_masks"].__setitem__(0, a["w_rec_masks"][0].T), "layer 0 w_rec_mask: shape (48, 16)"),
        (lambda a: a["events"].__setitem__(0, a["events"][0].T), "did you pass [H, T]?"),
        (lambda a: a["events"].__setitem__(1, a["events"][1][:, :3]), "layer 1 events: shape (10, 3); expected (T=10, H_1=4)"),
        (lambda a: a["events"].__setitem__(0, a["events"][0] * 0.5), "pass `activations != 0` as events"),
        (lambda a: a.update(gates=4), "layer 0 w_in_mask: shape (8, 48); expected (input_size=8, gates*H_0=64)"),
        (lambda a: a.update(model="lstm"), "gates: is 3 for model 'lstm'"),
        (lambda a: a.update(input_events=np.ones((8, 10), bool)), ("input_events: shape (8, 10); expected (T=10, "
                                                                    "input_size=8): did you pass [input_size, T]?")),
        (lambda a: a.update(readout_mask=np.ones((5, 4), bool)), "readout_w_mask: shape (5, 4); expected (H_last=4"),
        (lambda a: a.update(tokens=np.arange(9)), "tokens: 9 ids; expected T=10"),
    ],
)
def test_from_arrays_names_the_array_in_unpacked_shapes(change, message):
    """A wrong array fails at construction, naming it, its shape and the shape expected."""
    a = _arrays()
    change(a)
    with pytest.raises(TraceError) as err:
        Trace.from_arrays(**a)
    assert message in str(err.value)


def test_save_refuses_what_load_would_refuse(tmp_path):
    """save_trace checks first: a broken trace object is never written."""
    good = Trace.from_arrays(**_arrays(), model="x")
    bad_layer = good.layers[0].__class__(events=good.layers[0].events[:, :3], w_in_mask=good.layers[0].w_in_mask,
                                         w_rec_mask=good.layers[0].w_rec_mask)
    for bad in (Trace(meta=good.meta, tokens=good.tokens, layers=(bad_layer, good.layers[1])),
                Trace(meta={**good.meta, "gates": 4}, tokens=good.tokens, layers=good.layers),
                Trace(meta=good.meta, tokens=good.tokens, layers=good.layers, input_events=np.ones((10, 3), bool)),
                Trace(meta={**good.meta, "vocab_size": 1}, tokens=good.tokens + 3, layers=good.layers)):
        with pytest.raises(TraceError):
            save_trace(bad, tmp_path / "bad.npz")
        assert not (tmp_path / "bad.npz").exists()


@pytest.mark.parametrize("seed", range(6))
def test_random_traces_from_arrays_round_trip(tmp_path, seed):
    """Traces of random sizes, gates and optional members save and load back equal."""
    rng = np.random.default_rng(seed)
    gates, T, n_in = int(rng.integers(1, 5)), int(rng.integers(1, 20)), int(rng.integers(1, 12))
    a = _arrays(seed, T=T, sizes=tuple(int(h) for h in rng.integers(1, 20, size=rng.integers(1, 4))), n_in=n_in,
                gates=gates)
    H_last = a["events"][-1].shape[1]
    opt = {"input_events": rng.random((T, n_in)) < 0.3 if seed % 2 else None,
           "readout_mask": rng.random((H_last, 9)) < 0.5 if seed % 3 else None,
           "values": [rng.standard_normal(int(e.sum())) if seed % 2 else None for e in a["events"]]}
    trace = Trace.from_arrays(**a, **opt, model=f"m{seed}")
    back = load_trace(save_trace(trace, tmp_path / "t.npz"))
    assert back.meta == trace.meta
    for name in ("input_events", "readout_w_mask"):
        x, y = getattr(back, name), getattr(trace, name)
        assert (x is None and y is None) or np.array_equal(x, y)
    for x, y in zip(back.layers, trace.layers):
        for f in ("events", "w_in_mask", "w_rec_mask", "values"):
            u, v = getattr(x, f), getattr(y, f)
            assert (u is None and v is None) or np.array_equal(u, v)


def test_synops_count_only_active_inputs():
    """With input events, layer 0's input synops are the fan-outs of the inputs with an event at t."""
    a = _arrays()
    rng = np.random.default_rng(3)
    inp = rng.random((10, 8)) < 0.2
    dense = Trace.from_arrays(**a)
    sparse = Trace.from_arrays(**a, input_events=inp)
    fan = a["w_in_masks"][0].sum(axis=1)
    diff = synops_per_step(dense)[0] - synops_per_step(sparse)[0]
    np.testing.assert_array_equal(diff, (~inp).astype(np.int64) @ fan)
    np.testing.assert_array_equal(synops_per_step(dense)[1], synops_per_step(sparse)[1])


@pytest.mark.xfail(strict=False, reason="engine support for layer-0 input events is the lead's (issue 15)")
def test_engine_counts_only_active_inputs():
    """The engine's synops on a trace with input events equal synops_per_step's, which counts only active inputs."""
    a = _arrays(sizes=(12,), n_in=10, gates=1)
    inp = np.random.default_rng(4).random((10, 10)) < 0.2
    trace = Trace.from_arrays(**a, input_events=inp, model="rsnn")
    result = neurosim.run("loihi_like", trace, readout="none")
    assert result.counts["synops"] == synops_per_step(trace).sum()


def test_synthetic_traces_still_save(tmp_path):
    """The checks at save accept the project's own traces."""
    trace = synthetic([13, 7], input_size=5, tokens=6, values=True)
    assert load_trace(save_trace(trace, tmp_path / "s.npz")).hidden_sizes == [13, 7]


# ----------------------------------------------------------------------------- record

torch = pytest.importorskip("torch")


@pytest.mark.parametrize("cls, gates", [("GRU", 3), ("LSTM", 4), ("RNN", 1)])
def test_record_torch_rnn_masks_and_events(cls, gates):
    """nn.GRU/LSTM/RNN: every layer recorded, masks are the transposed nonzero weights, dense events all ones."""
    torch.manual_seed(0)
    m = getattr(torch.nn, cls)(6, 10, num_layers=2)
    with torch.no_grad():
        m.weight_hh_l1[m.weight_hh_l1.abs() < 0.15] = 0
    trace = neurosim.record(m, torch.randn(12, 1, 6))
    assert trace.gates == gates and trace.hidden_sizes == [10, 10] and trace.meta["model"] == cls.lower()
    np.testing.assert_array_equal(trace.layers[1].w_rec_mask, (m.weight_hh_l1 != 0).numpy().T)
    np.testing.assert_array_equal(trace.layers[0].w_in_mask, (m.weight_ih_l0 != 0).numpy().T)
    assert trace.layers[0].events.all()  # a dense RNN: activity sparsity 0


def test_record_pruned_gru_with_decoder():
    """A GRU pruned by torch.nn.utils.prune inside a model: pruned weights absent, the decoder the readout."""
    from torch.nn.utils import prune

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gru = torch.nn.GRU(5, 8, batch_first=True)
            self.dec = torch.nn.Linear(8, 11)

        def forward(self, x):
            return self.dec(self.gru(x)[0])

    torch.manual_seed(1)
    model = Model()
    prune.l1_unstructured(model.gru, "weight_hh_l0", amount=0.75)
    trace = neurosim.record(model, torch.randn(1, 9, 5))
    assert trace.layers[0].w_rec_mask.sum() == round(0.25 * 24 * 8)
    assert trace.readout_w_mask.shape == (8, 11) and trace.n_tokens == 9


def test_record_cell_stack():
    """A stack of LSTMCells called once per step: one layer per cell, in call order."""

    class Cells(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c2 = torch.nn.GRUCell(7, 6)  # registered first, called second
            self.c1 = torch.nn.GRUCell(5, 7)

        def forward(self, x):
            h1 = h2 = None
            for t in range(x.shape[0]):
                h1 = self.c1(x[t], h1)
                h2 = self.c2(h1, h2)
            return h2

    trace = neurosim.record(Cells(), torch.randn(9, 1, 5))
    assert trace.hidden_sizes == [7, 6] and trace.gates == 3 and trace.n_tokens == 9


def test_record_own_egru_language_model():
    """neurosim's EGRU language model: events are the EGRU's, tokens the input ids, the decoder the readout."""
    from neurosim.models.lm import LanguageModel, ModelConfig

    torch.manual_seed(0)
    lm = LanguageModel(ModelConfig(model="egru", vocab_size=50, emb_size=8, hidden_sizes=(16, 12), tie_weights=False))
    tokens = torch.randint(0, 50, (30, 1))
    trace = neurosim.record(lm, tokens, values=True)
    with torch.no_grad():
        _, _, events = lm.eval()(tokens)
    assert trace.meta["model"] == "egru" and trace.readout_w_mask.shape == (12, 50)
    np.testing.assert_array_equal(trace.tokens, tokens[:, 0].numpy())
    np.testing.assert_array_equal(trace.layers[0].events, events[0][:, 0].numpy() > 0)
    assert trace.input_events is None  # a dense embedding


def test_record_lstm_batch_first_with_initial_state():
    """A batch-first nn.LSTM given (h0, c0): its layers are replayed from that state (events from h != 0)."""
    torch.manual_seed(2)
    m = torch.nn.LSTM(3, 5, num_layers=2, batch_first=True)
    h0, c0 = torch.randn(2, 1, 5), torch.randn(2, 1, 5)
    trace = neurosim.record(m, (torch.randn(1, 7, 3), (h0, c0)))
    assert trace.hidden_sizes == [5, 5] and trace.n_tokens == 7 and trace.gates == 4


def test_record_own_lstm_language_model():
    """neurosim's LSTM language model records with gates 4 and model name lstm."""
    from neurosim.models.lm import LanguageModel, ModelConfig

    lm = LanguageModel(ModelConfig(model="lstm", vocab_size=20, emb_size=6, hidden_sizes=(8,), tie_weights=False))
    trace = neurosim.record(lm, torch.randint(0, 20, (10, 1)))
    assert (trace.meta["model"], trace.gates, trace.readout_w_mask.shape) == ("lstm", 4, (8, 20))


def test_record_refuses_a_batch():
    with pytest.raises(TraceError, match="batch of 3"):
        neurosim.record(torch.nn.GRU(4, 5), torch.randn(6, 3, 4))


def test_record_snntorch_rsnn_steps():
    """An snnTorch RLeaky network called once per step: spikes are events, binary input becomes input events."""
    snn = pytest.importorskip("snntorch")

    class RSNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(10, 8)
            self.lif1 = snn.RLeaky(beta=0.9, linear_features=8, init_hidden=True)
            self.fc2 = torch.nn.Linear(8, 3)

        def forward(self, x):
            return self.fc2(self.lif1(self.fc1(x)))

    torch.manual_seed(0)
    net = RSNN()
    x = (torch.rand(25, 1, 10) < 0.2).float()
    trace = neurosim.record(net, x, steps=True)
    assert trace.gates == 1 and trace.meta["model"] == "rsnn"
    np.testing.assert_array_equal(trace.input_events, x[:, 0].numpy() != 0)
    np.testing.assert_array_equal(trace.layers[0].w_rec_mask, (net.lif1.recurrent.weight != 0).numpy().T)
    assert trace.readout_w_mask.shape == (8, 3)
    json.dumps(trace.meta)


def test_byom_gru_example_reaches_a_report(tmp_path, capsys):
    """examples/byom_gru.py writes a trace of a pruned GRU that `neurosim run` reports on (the docs/byom.md path)."""
    import runpy
    from pathlib import Path

    from neurosim.cli import main

    example = Path(__file__).parent.parent / "examples" / "byom_gru.py"
    out = tmp_path / "my.npz"
    assert runpy.run_path(str(example), run_name="example")["main"](["--out", str(out), "--tokens", "16"]) == 0
    assert "weight sparsity 0.800" in capsys.readouterr().out
    assert main(["run", "--arch", "loihi_like", "--trace", str(out), "--quiet"]) == 0
    report = capsys.readouterr().out
    assert "model gru [64, 64] gates=3" in report and "readout chip (200 units)" in report
