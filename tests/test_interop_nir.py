"""NIR import: a graph exported by snnTorch, and graphs built with the nir package, into traces."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

nir = pytest.importorskip("nir")

from neurosim.interop.nir import trace_from_nir
from neurosim.trace import TraceError, load_trace


def _lif(n):
    return nir.LIF(tau=np.full(n, 0.01), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n))


def _graph(rng, n_in=6, sizes=(5, 4), n_out=3, output="LI"):
    """Input -> Affine -> LIF (recurrent) -> Linear -> CubaLIF (recurrent, in a subgraph) -> Affine -> LI -> Output."""
    w = {}
    nodes = {"input": nir.Input(input_type=np.array([n_in]))}
    edges = []
    prev, prev_n = "input", n_in
    for l, H in enumerate(sizes):
        w[f"in{l}"] = rng.standard_normal((H, prev_n)) * (rng.random((H, prev_n)) < 0.5)
        w[f"rec{l}"] = rng.standard_normal((H, H)) * (rng.random((H, H)) < 0.5)
        nodes[f"fc{l}"] = nir.Affine(weight=w[f"in{l}"], bias=np.zeros(H)) if l == 0 else nir.Linear(weight=w[f"in{l}"])
        if l == 0:
            nodes["lif0"] = _lif(H)
            nodes["rec0"] = nir.Linear(weight=w["rec0"])
            edges += [(prev, "fc0"), ("fc0", "lif0"), ("lif0", "rec0"), ("rec0", "lif0")]
            prev = "lif0"
        else:
            cuba = nir.CubaLIF(tau_syn=np.full(H, 0.01), tau_mem=np.full(H, 0.02), r=np.ones(H), v_leak=np.zeros(H),
                               v_threshold=np.ones(H))
            sub = nir.NIRGraph(nodes={"input": nir.Input(input_type=np.array([H])), "lif": cuba,
                                      "w_rec": nir.Linear(weight=w[f"rec{l}"]),
                                      "output": nir.Output(output_type=np.array([H]))},
                               edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")],
                               type_check=False)
            nodes[f"sub{l}"] = sub
            edges += [(prev, f"fc{l}"), (f"fc{l}", f"sub{l}")]
            prev = f"sub{l}"
        prev_n = H
    w["out"] = rng.standard_normal((n_out, prev_n)) * (rng.random((n_out, prev_n)) < 0.5)
    nodes["fc_out"] = nir.Affine(weight=w["out"], bias=np.zeros(n_out))
    nodes["li"] = nir.LI(tau=np.full(n_out, 0.01), r=np.ones(n_out), v_leak=np.zeros(n_out)) if output == "LI" else _lif(
        n_out)
    nodes["output"] = nir.Output(output_type=np.array([n_out]))
    edges += [(prev, "fc_out"), ("fc_out", "li"), ("li", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), w


def test_nir_graph_built_with_the_nir_package(tmp_path):
    """Each recurrent population a layer (masks transposed, subgraphs flattened), the LI the readout."""
    rng = np.random.default_rng(0)
    graph, w = _graph(rng)
    nir.write(tmp_path / "g.nir", graph)
    T = 12
    spikes = {"lif0": rng.random((T, 1, 5)) < 0.3, "sub1.lif": rng.random((T, 4)) < 0.3,
              "input": rng.random((T, 6)) < 0.2}
    np.savez(tmp_path / "s.npz", **spikes)
    trace = trace_from_nir(tmp_path / "g.nir", tmp_path / "s.npz")
    assert trace.hidden_sizes == [5, 4] and trace.gates == 1 and trace.n_tokens == T
    np.testing.assert_array_equal(trace.layers[0].w_in_mask, w["in0"].T != 0)
    np.testing.assert_array_equal(trace.layers[1].w_rec_mask, w["rec1"].T != 0)
    np.testing.assert_array_equal(trace.readout_w_mask, w["out"].T != 0)
    np.testing.assert_array_equal(trace.layers[0].events, spikes["lif0"][:, 0])
    np.testing.assert_array_equal(trace.input_events, spikes["input"])


def test_nir_errors_name_the_node():
    """A missing spike array or a population off the chain is refused with the node's name."""
    rng = np.random.default_rng(1)
    graph, _ = _graph(rng)
    with pytest.raises(TraceError, match=r"no entry for the populations \['sub1.lif'\]"):
        trace_from_nir(graph, {"lif0": np.zeros((3, 5))})
    with pytest.raises(TraceError, match="population lif0: 5 units"):
        trace_from_nir(graph, {"lif0": np.zeros((3, 4)), "sub1.lif": np.zeros((3, 4))})
    graph.nodes["extra"] = nir.Linear(weight=np.ones((2, 2)))
    graph.edges.append(("lif0", "extra"))
    graph.edges.append(("extra", "li"))
    with pytest.raises(TraceError, match=r"lif0 feeds \['li', 'sub1.lif'\]; a trace is a chain"):
        trace_from_nir(graph, {"lif0": np.zeros((3, 5)), "sub1.lif": np.zeros((3, 4))})


def test_snntorch_export_to_trace_cli(tmp_path):
    """An snnTorch RSNN exported by snntorch.export_to_nir, with spikes recorded by running it, through
    `neurosim trace from-nir`, gives the same trace as neurosim.record on the same network."""
    torch = pytest.importorskip("torch")
    snn = pytest.importorskip("snntorch")
    pytest.importorskip("nirtorch")
    from snntorch import utils
    from snntorch.export_nir import export_to_nir

    import neurosim
    from neurosim.cli import main

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(10, 8)
            self.lif1 = snn.RLeaky(beta=0.9, linear_features=8, init_hidden=True, threshold=0.5)
            self.fc2 = torch.nn.Linear(8, 3)
            self.lif2 = snn.Leaky(beta=torch.full((3,), 0.9), threshold=torch.ones(3), init_hidden=True, output=True)

        def forward(self, x):
            return self.lif2(self.fc2(self.lif1(self.fc1(x))))

    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.lif1.recurrent.weight[torch.rand(8, 8) < 0.5] = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = export_to_nir(net, torch.zeros(1, 10), ignore_dims=[0])
    nir.write(tmp_path / "rsnn.nir", graph)
    x = (torch.rand(30, 1, 10) < 0.2).float()
    utils.reset(net)
    spikes = []
    with torch.no_grad():
        for t in range(30):
            net(x[t])
            spikes.append(net.lif1.spk.clone())
    np.savez(tmp_path / "spikes.npz", **{"lif1.lif": torch.stack(spikes).numpy(), "input": x.numpy()})
    assert main(["trace", "from-nir", str(tmp_path / "rsnn.nir"), "--spikes", str(tmp_path / "spikes.npz"),
                 "--out", str(tmp_path / "t.npz")]) == 0
    trace = load_trace(tmp_path / "t.npz")
    recorded = neurosim.record(net, x, steps=True)  # lif2 spikes too: record keeps it as a second layer
    np.testing.assert_array_equal(trace.layers[0].events, recorded.layers[0].events)
    np.testing.assert_array_equal(trace.layers[0].w_rec_mask, recorded.layers[0].w_rec_mask)
    np.testing.assert_array_equal(trace.readout_w_mask, recorded.layers[1].w_in_mask)
    np.testing.assert_array_equal(trace.input_events, recorded.input_events)
    assert neurosim.run("loihi_like", trace).synaptic_ops_per_token > 0


def test_from_nir_cli_errors_are_one_line(tmp_path, capsys):
    """`neurosim trace from-nir` with a missing file or a bad graph ends in one error line, status 2."""
    from neurosim.cli import main

    assert main(["trace", "from-nir", str(tmp_path / "no.nir"), "--spikes", "x.npz", "--out", "t.npz"]) == 2
    assert "graph: " in capsys.readouterr().err
    graph, _ = _graph(np.random.default_rng(2))
    nir.write(tmp_path / "g.nir", graph)
    np.savez(tmp_path / "s.npz", lif0=np.zeros((4, 5)))
    assert main(["trace", "from-nir", str(tmp_path / "g.nir"), "--spikes", str(tmp_path / "s.npz"), "--out",
                 str(tmp_path / "t.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("neurosim: error: spikes: no entry for the populations ['sub1.lif']") and err.count("\n") == 1
    assert not (tmp_path / "t.npz").exists()
