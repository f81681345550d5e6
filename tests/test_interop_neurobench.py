"""NeuroBench metrics of a trace: checked against the neurobench package on the same snnTorch RSNN."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import neurosim
from neurosim.interop.neurobench import neurobench_metrics, synaptic_operations
from neurosim.trace import Trace, synops_per_step, synthetic


def test_metrics_of_a_synthetic_trace_follow_the_definitions():
    """Sparsities and synops follow NeuroBench's definitions on a trace without a readout."""
    trace = synthetic([20, 10], input_size=6, tokens=12, activity=0.3, weight_sparsity=0.7, gates=1)
    m = neurobench_metrics(trace)
    ops = m["SynapticOperations"]
    assert ops["Effective_MACs"] + ops["Effective_ACs"] == synops_per_step(trace).sum()
    assert ops["Effective_MACs"] == trace.layers[0].in_fanout.sum() * 12  # the dense input: MACs
    assert ops["Dense"] == 12 * sum(l.w_in_mask.size + l.w_rec_mask.size for l in trace.layers)
    assert m["ActivationSparsity"] == pytest.approx(1 - (trace.activity() * [20, 10]).sum() / 30)
    assert m["ConnectionSparsity"] == pytest.approx(trace.measured_weight_sparsity())
    assert m["Footprint"] == 4 * sum(l.w_in_mask.size + l.w_rec_mask.size for l in trace.layers)
    assert neurobench_metrics(trace, samples=4)["SynapticOperations"]["Dense"] == ops["Dense"] / 4


def test_input_events_make_input_ops_accumulates():
    """Recorded input spikes: layer 0's input ops are ACs of the active inputs only."""
    rng = np.random.default_rng(0)
    a = {"events": [rng.random((8, 5)) < 0.4], "w_in_masks": [rng.random((4, 5)) < 0.5],
         "w_rec_masks": [rng.random((5, 5)) < 0.5], "gates": 1}
    inp = rng.random((8, 4)) < 0.25
    ops = synaptic_operations(Trace.from_arrays(**a, input_events=inp))
    assert ops["Effective_MACs"] == 0
    assert ops["Effective_ACs"] == int((inp.astype(int) @ a["w_in_masks"][0].sum(1)).sum()
                                       + (a["events"][0][:-1].astype(int) @ a["w_rec_masks"][0].sum(1)).sum())


def test_result_neurobench_and_cli_format(capsys):
    """Result.neurobench and `neurosim run --format neurobench` give the metrics with the run's own synops."""
    from neurosim.cli import main

    trace = synthetic([24], input_size=8, tokens=10, activity=0.3, weight_sparsity=0.5)
    result = neurosim.run("loihi_like", trace, readout="none")
    m = result.neurobench(trace)
    ops = m["SynapticOperations"]
    assert m["neurosim"]["synaptic_ops_per_sample"] == ops["Effective_MACs"] + ops["Effective_ACs"]
    assert main(["run", "--arch", "loihi_like", "--trace", "ptb_egru90", "--tokens", "4", "--format", "neurobench",
                 "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["SynapticOperations"]) == {"Effective_MACs", "Effective_ACs", "Dense"}


def _rsnn(torch, snn, n_in=20, H=16, n_out=5):
    class RSNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(n_in, H)
            self.lif1 = snn.RLeaky(beta=0.9, linear_features=H, init_hidden=True, threshold=0.5)
            self.fc2 = torch.nn.Linear(H, n_out)

        def forward(self, x):
            spk = self.lif1(self.fc1(x))
            return self.fc2(spk), spk

    torch.manual_seed(0)
    net = RSNN()
    with torch.no_grad():
        for lin in (net.fc1, net.lif1.recurrent, net.fc2):
            lin.weight[torch.rand_like(lin.weight) < 0.6] = 0
            lin.weight.mul_(3)
    return net


def test_same_as_the_neurobench_package():
    """On one pruned snnTorch RSNN with 20% input spikes, neurosim's metrics equal the neurobench package's
    (Footprint: neurosim counts weights only; the package adds biases and neuron buffers)."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("neurobench")
    from neurobench.benchmarks import Benchmark
    from neurobench.metrics.static import ConnectionSparsity, Footprint
    from neurobench.metrics.workload import ActivationSparsity, SynapticOperations
    from neurobench.models import SNNTorchModel

    net = _rsnn(torch, snn)
    weights = sum(lin.weight.numel() for lin in (net.fc1, net.lif1.recurrent, net.fc2))
    others = sum(p.numel() * p.element_size() for p in net.parameters()) + sum(  # biases, neuron buffers
        b.numel() * b.element_size() for b in net.buffers()) - 4 * weights
    x = (torch.rand(1, 40, 20, generator=torch.Generator().manual_seed(1)) < 0.2).float()
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, torch.zeros(1)), batch_size=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        nb = Benchmark(SNNTorchModel(net), loader, [], [],
                       [[Footprint, ConnectionSparsity], [ActivationSparsity, SynapticOperations]]).run(quiet=True)
    trace = neurosim.record(net, x[0][:, None], steps=True)
    ours = neurobench_metrics(trace)
    assert ours["SynapticOperations"] == nb["SynapticOperations"]
    assert ours["ActivationSparsity"] == pytest.approx(nb["ActivationSparsity"])
    assert round(ours["ConnectionSparsity"], 4) == nb["ConnectionSparsity"]
    assert ours["Footprint"] == 4 * weights == nb["Footprint"] - others


def test_cli_neurobench_out_file(tmp_path):
    """`--format neurobench --out FILE` writes the metrics as JSON."""
    from neurosim.cli import main

    out = tmp_path / "nb.json"
    assert main(["run", "--arch", "loihi_like", "--trace", "ptb_egru90", "--tokens", "3", "--format", "neurobench",
                 "--out", str(out), "--quiet"]) == 0
    assert json.loads(out.read_text())["neurosim"]["tokens"] == 3
