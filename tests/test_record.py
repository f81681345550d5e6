"""neurosim.record: traces from torch RNNs, cell stacks, neurosim's EGRU/LSTM and snnTorch layers; the GRU example."""

from __future__ import annotations

import json

import numpy as np
import pytest

import neurosim
from neurosim.trace import TraceError

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
