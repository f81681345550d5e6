"""The dense-GPU roofline model (neurosim.gpu)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from neurosim.arch import load_arch
from neurosim.costing.gpu import energy_breakdown_pj
from neurosim.gpu import GpuArch, matrix_cost, simulate_gpu
from neurosim.spec import SpecError
from neurosim.trace import synops_per_step, synthetic

SPECS = Path(__file__).resolve().parents[1] / "arch_specs"


@pytest.fixture(scope="module")
def a100() -> GpuArch:
    return load_arch(SPECS / "gpu_a100.yaml")


@pytest.fixture(scope="module")
def h100() -> GpuArch:
    return load_arch(SPECS / "gpu_h100.yaml")


@pytest.fixture(scope="module")
def trace():
    return synthetic([64, 48], input_size=32, activity=0.2, weight_sparsity=0.9, tokens=12, gates=4, seed=5)


def test_specs_load_as_gpu(a100, h100):
    """Both shipped GPU specs load through load_arch as GpuArch with kind gpu."""
    for arch in (a100, h100):
        assert arch.kind == "gpu"
        assert arch.defaults.precision in arch.peak_flops


def test_result_fields(a100, trace):
    """A GPU result fills the shared Result type: no packets, cycles = time x clock, backend gpu."""
    r = simulate_gpu(a100, trace, batch=4)
    assert r.target == "gpu"
    assert r.arch == a100.name and r.trace == trace.name
    assert r.tokens == trace.n_tokens
    assert r.packets_per_token == 0 and r.flit_hops_per_token == 0
    assert r.cycles_per_token == pytest.approx(r.time_s_per_token * a100.clock_hz)
    assert set(r.memory_bytes_per_token) == {"hbm", "sram"}
    assert set(r.energy_breakdown_pj_per_token) == {"compute", "hbm", "sram", "static"}
    assert 0 <= r.core_utilization["min"] <= r.core_utilization["max"] <= 1
    assert r.meta["batch"] == 4 and r.meta["precision"] == "fp16" and r.meta["weight_format"] == "dense"
    assert r.meta["bound"] in ("memory", "compute")
    assert r.meta["model"] == trace.meta["model"]
    assert r.synaptic_ops_per_token == sum(l.w_in_mask.size + l.w_rec_mask.size for l in trace.layers)
    assert r.latency_s_per_token >= r.time_s_per_token


@pytest.mark.parametrize("spec", ["a100", "h100"])
def test_roofline_memory_to_compute_bound(spec, request):
    """Batch 1 is memory-bound; a large batch is compute-bound, with higher utilization."""
    arch = request.getfixturevalue(spec)
    t = synthetic([1024], input_size=1024, activity=0.1, weight_sparsity=0.0, tokens=2, gates=4, seed=1)
    small = simulate_gpu(arch, t, batch=1)
    large = simulate_gpu(arch, t, batch=2048)
    assert small.meta["bound"] == "memory"
    assert large.meta["bound"] == "compute"
    assert large.core_utilization["mean"] > small.core_utilization["mean"]
    assert large.time_s_per_token < small.time_s_per_token


def test_doubling_weights_doubles_bytes_at_batch_1(a100):
    """Two identical layers read exactly twice the weight bytes of one, and weights are all HBM traffic at batch 1."""
    one = synthetic([128], input_size=128, weight_sparsity=0.0, tokens=6, gates=4, seed=2)
    two = synthetic([128, 128], input_size=128, weight_sparsity=0.0, tokens=6, gates=4, seed=2)
    r1 = simulate_gpu(a100, one, batch=1, weight_residency="hbm")
    r2 = simulate_gpu(a100, two, batch=1, weight_residency="hbm")
    assert r2.counts["weight_hbm_bytes"] == 2 * r1.counts["weight_hbm_bytes"]
    assert r1.counts["weight_hbm_bytes"] == 6 * 4 * 128 * 256 * 2  # steps x gates x H x (in + H) x fp16
    assert r2.memory_bytes_per_token["hbm"] == 2 * r1.memory_bytes_per_token["hbm"]
    assert r1.counts["hbm_bytes"] == r1.counts["weight_hbm_bytes"]


def test_batch_amortises_weight_reads(a100, trace):
    """Weights are read once per step, so HBM weight bytes per token fall as 1/batch."""
    r1 = simulate_gpu(a100, trace, batch=1, weight_residency="hbm")
    r64 = simulate_gpu(a100, trace, batch=64, weight_residency="hbm")
    per_token_1 = r1.counts["weight_hbm_bytes"] / r1.counts["tokens_served"]
    per_token_64 = r64.counts["weight_hbm_bytes"] / r64.counts["tokens_served"]
    assert per_token_64 == pytest.approx(per_token_1 / 64)


@pytest.mark.parametrize("batch", [0, -3, 1.5, True, "8"])
def test_invalid_batch(a100, trace, batch):
    """A batch that is not an integer >= 1 fails with a one-line message naming batch."""
    with pytest.raises(ValueError, match=r"^batch: got .*; allowed: an integer >= 1$"):
        simulate_gpu(a100, trace, batch=batch)


def test_invalid_precision(a100, trace):
    """An unknown precision fails naming the field, the value and the allowed precisions."""
    with pytest.raises(ValueError) as exc:
        simulate_gpu(a100, trace, precision="fp64")
    msg = str(exc.value)
    assert "\n" not in msg
    assert msg.startswith("precision: got 'fp64'")
    for p in a100.peak_flops:
        assert p in msg


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"weight_format": "coo"}, "weight_format"),
        ({"kernel": "event"}, "kernel"),
        ({"weight_residency": "disk"}, "weight_residency"),
        ({"kernel": "gather", "weight_format": "2:4"}, "weight_format"),
        ({"weight_format": "csr", "precision": "int8"}, "precision"),
        ({"sequence_tokens": 0}, "sequence_tokens"),
        ({"sequence_tokens": True}, "sequence_tokens"),
        ({"sequence_tokens": 8, "kernel": "gather"}, "sequence_tokens"),
    ],
)
def test_invalid_options(a100, trace, kwargs, field):
    """Bad option values and combinations fail with one line naming the field and the allowed values."""
    with pytest.raises(ValueError) as exc:
        simulate_gpu(a100, trace, **kwargs)
    msg = str(exc.value)
    assert msg.startswith(f"{field}: got ") and "allowed" in msg and "\n" not in msg


def test_h100_fp8_is_allowed_a100_not(a100, h100, trace):
    """fp8 exists on the H100 spec only."""
    assert simulate_gpu(h100, trace, precision="fp8").meta["precision"] == "fp8"
    with pytest.raises(ValueError, match="precision: got 'fp8'"):
        simulate_gpu(a100, trace, precision="fp8")


def _spec_data() -> dict:
    return yaml.safe_load((SPECS / "gpu_a100.yaml").read_text())


@pytest.mark.parametrize("where", ["top", "memory"])
def test_unknown_yaml_key(tmp_path, where):
    """An unknown key fails naming its path and listing the allowed keys."""
    data = _spec_data()
    if where == "top":
        data["hbm_speed"] = 1
        key = "hbm_speed"
    else:
        data["memory"]["l3_bytes"] = 1
        key = "memory.l3_bytes"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as exc:
        load_arch(path)
    msg = str(exc.value)
    assert f"{key}: " in msg and "unknown key" in msg and "allowed keys" in msg


def test_bad_yaml_values(tmp_path):
    """Negative bandwidths, unknown precisions and a default precision without a peak fail."""
    cases = [
        (("memory", "hbm_bandwidth_bytes_per_s"), -1.0, "memory.hbm_bandwidth_bytes_per_s"),
        (("peak_flops", "fp64"), 1e12, "peak_flops.fp64"),
        (("defaults", "precision"), "fp8", "defaults.precision"),
    ]
    for (section, key), value, needle in cases:
        data = _spec_data()
        data[section][key] = value
        path = tmp_path / "bad.yaml"
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(SpecError, match=needle.replace(".", r"\.")):
            load_arch(path)


def test_overrides_apply(a100):
    """--set style overrides reach the GPU spec."""
    arch = load_arch(SPECS / "gpu_a100.yaml", ["static_power_w=0", "defaults.precision=bf16"])
    assert arch.static_power_w == 0 and arch.defaults.precision == "bf16"


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"weight_format": "csr"}, {"weight_format": "2:4"}, {"kernel": "gather"}, {"include_readout": True}],
)
@pytest.mark.parametrize("batch", [1, 32])
def test_energy_is_dynamic_plus_static_times_time(a100, trace, kwargs, batch):
    """Energy per token = compute + HBM + SRAM (counts x table) + static power x time."""
    r = simulate_gpu(a100, trace, batch=batch, **kwargs)
    b = r.energy_breakdown_pj_per_token
    served = r.counts["tokens_served"]
    assert r.energy_pj_per_token == pytest.approx(sum(b.values()), rel=1e-12)
    assert b["static"] == pytest.approx(a100.static_power_w * r.time_s_per_token * 1e12, rel=1e-12)
    assert b["hbm"] == pytest.approx(r.memory_bytes_per_token["hbm"] * a100.energy.hbm_pj_per_byte, rel=1e-12)
    assert b["sram"] == pytest.approx(r.memory_bytes_per_token["sram"] * a100.energy.sram_pj_per_byte, rel=1e-12)
    recost = energy_breakdown_pj(r.counts, a100, r.meta["precision"])
    for k, v in recost.items():
        assert v / served == pytest.approx(b[k], rel=1e-12)
    assert r.time_s_per_token == pytest.approx(r.counts["seconds"] / served, rel=1e-12)


def test_sparse_formats_at_90_percent(a100):
    """At 90% weight sparsity CSR and 2:4 read fewer weight bytes than dense; CSR pays for its indices."""
    t = synthetic([128], input_size=64, weight_sparsity=0.9, tokens=4, gates=3, seed=7)
    res = {f: simulate_gpu(a100, t, weight_format=f, weight_residency="hbm") for f in ("dense", "csr", "2:4")}
    w = {f: r.counts["weight_hbm_bytes"] / t.n_tokens for f, r in res.items()}
    layer = t.layers[0]
    dense = (layer.w_in_mask.size + layer.w_rec_mask.size) * 2
    nnz = int(layer.w_in_mask.sum() + layer.w_rec_mask.sum())
    cols = 3 * 128
    assert w["dense"] == dense
    assert w["csr"] == nnz * (2 + 4) + 2 * (cols + 1) * 4
    assert w["2:4"] == dense / 2 + (dense / 2 / 2) * 2 / 8
    assert w["csr"] < w["dense"] and w["2:4"] < w["dense"]
    assert w["csr"] > nnz * 2  # index overhead
    assert res["csr"].synaptic_ops_per_token == nnz
    assert res["2:4"].synaptic_ops_per_token == dense / 2 / 2
    assert res["csr"].meta["nonzero_weights"] == nnz


def test_two_four_counts_violations():
    """matrix_cost reports the groups of 4 that hold more than 2 nonzeros."""
    from neurosim.gpu import GpuFormats

    mask = np.zeros((8, 2), dtype=bool)
    mask[0:3, 0] = True  # 3 of 4 in group 0, column 0: a violation
    mask[4:6, 1] = True  # 2 of 4: fine
    cost = matrix_cost(mask, "2:4", 2, GpuFormats())
    assert cost.two_four_violations == 1
    assert cost.macs == 8  # 2 groups x 2 kept x 2 columns
    assert cost.weight_bytes == 8 * 2 + 8 * 2 / 8


def _gather_weight_bytes_oracle(trace, value_bytes=2):
    """Rows of active presynaptic units x row length, summed over steps (plain loops)."""
    G = trace.gates
    total = 0
    for l, layer in enumerate(trace.layers):
        cols = G * layer.hidden_size
        for t in range(trace.n_tokens):
            rows_in = layer.input_size if l == 0 else int(trace.layers[l - 1].events[t].sum())
            rows_rec = int(layer.events[t - 1].sum()) if t > 0 else 0
            total += (rows_in + rows_rec) * cols * value_bytes
    return total


def test_gather_bytes_scale_with_activity(a100):
    """A gather kernel reads only rows of active units: bytes match a loop oracle and grow with activity."""
    got = []
    for activity in (0.05, 0.1, 0.2, 0.4):
        t = synthetic([64, 64], input_size=16, activity=activity, weight_sparsity=0.5, tokens=20, gates=3, seed=11)
        r = simulate_gpu(a100, t, batch=1, kernel="gather", weight_residency="hbm")
        assert r.counts["weight_hbm_bytes"] == _gather_weight_bytes_oracle(t)
        got.append(r.counts["weight_hbm_bytes"])
    assert got == sorted(got) and got[0] < got[-1]


def test_gather_csr_ops_equal_trace_synops(a100, trace):
    """Gather over CSR at batch 1 multiplies exactly the trace's synaptic operations."""
    r = simulate_gpu(a100, trace, batch=1, kernel="gather", weight_format="csr")
    assert r.counts["macs"] == synops_per_step(trace).sum()


def test_dense_kernel_ignores_activity(a100):
    """A dense kernel costs the same whatever the activity of the same weights."""
    lo = synthetic([64, 64], input_size=16, activity=0.05, weight_sparsity=0.5, tokens=10, seed=4)
    hi = synthetic([64, 64], input_size=16, activity=0.6, weight_sparsity=0.5, tokens=10, seed=4)
    a, b = simulate_gpu(a100, lo), simulate_gpu(a100, hi)
    assert a.energy_pj_per_token == b.energy_pj_per_token
    assert a.memory_bytes_per_token == b.memory_bytes_per_token


def test_gather_union_grows_with_batch(a100, trace):
    """At batch B a gather kernel reads the union of the streams' active rows: more rows per step, fewer per token."""
    r1 = simulate_gpu(a100, trace, batch=1, kernel="gather", weight_residency="hbm")
    r8 = simulate_gpu(a100, trace, batch=8, kernel="gather", weight_residency="hbm")
    dense = simulate_gpu(a100, trace, batch=8, weight_residency="hbm")

    def step(r):
        return r.counts["weight_hbm_bytes"] / r.counts["steps"]

    assert step(r1) < step(r8) < step(dense)
    assert r8.memory_bytes_per_token["hbm"] < r1.memory_bytes_per_token["hbm"]


def test_weight_residency(a100, trace):
    """Small weights stay in L2 (HBM reads them once per run); 'onchip' fails when they do not fit."""
    auto = simulate_gpu(a100, trace)
    streamed = simulate_gpu(a100, trace, weight_residency="hbm")
    assert auto.meta["weights_resident"] and not streamed.meta["weights_resident"]
    assert auto.counts["weight_hbm_bytes"] == auto.meta["weight_bytes"]
    assert streamed.counts["weight_hbm_bytes"] == auto.meta["weight_bytes"] * trace.n_tokens
    big = synthetic([2048], input_size=2048, weight_sparsity=0.0, tokens=2, gates=4, seed=0)
    with pytest.raises(ValueError, match=r"^weight_residency: got 'onchip'"):
        simulate_gpu(a100, big, weight_residency="onchip")
    assert not simulate_gpu(a100, big).meta["weights_resident"]


def test_embedding_and_readout_options(a100, trace):
    """The embedding and readout kernels are added on request and named in the meta."""
    base = simulate_gpu(a100, trace)
    both = simulate_gpu(a100, trace, include_embedding=True, include_readout=True)
    assert base.meta["included"] == ["recurrent"]
    assert both.meta["included"] == ["recurrent", "embedding", "readout"]
    H, V = trace.hidden_sizes[-1], trace.meta["vocab_size"]
    assert both.synaptic_ops_per_token - base.synaptic_ops_per_token == H * V
    assert both.meta["kernels_per_step"][0] == "embedding" and both.meta["kernels_per_step"][-1] == "readout"
    assert both.counts["kernel_launches"] == base.counts["kernel_launches"] + 2 * trace.n_tokens


@pytest.mark.parametrize("residency", ["hbm", "auto"])
def test_sequence_calls_read_input_and_readout_weights_once_per_call(a100, trace, residency):
    """sequence_tokens=S: the same MACs and FLOPs; the input projections and the readout read their weights
    (in HBM) once per call of S tokens instead of every step, and launch once per call; the recurrent
    product is unchanged; a token waits for its whole call."""
    kw = {"include_embedding": True, "include_readout": True, "weight_residency": residency, "precision": "fp32"}
    one = simulate_gpu(a100, trace, **kw)
    S = 4  # the trace's 12 steps are 3 calls
    seq = simulate_gpu(a100, trace, sequence_tokens=S, **kw)
    assert seq.counts["macs"] == one.counts["macs"] and seq.counts["flops"] == one.counts["flops"]
    T, vb = trace.n_tokens, 4
    in_bytes = sum(layer.w_in_mask.size for layer in trace.layers) * vb
    readout_bytes = trace.hidden_sizes[-1] * trace.meta["vocab_size"] * vb
    saved = (in_bytes + readout_bytes) * (T - T // S)
    if residency == "hbm":
        assert one.counts["weight_hbm_bytes"] - seq.counts["weight_hbm_bytes"] == pytest.approx(saved, rel=1e-12)
    else:  # resident weights come from HBM once per run either way
        assert seq.counts["weight_hbm_bytes"] == one.counts["weight_hbm_bytes"] == one.meta["weight_bytes"]
    L = len(trace.layers)
    per_call = L + 2  # input projections, embedding, readout
    assert one.counts["kernel_launches"] == (2 * L + 2) * T
    assert seq.counts["kernel_launches"] == pytest.approx((2 * L) * T + per_call * T / S)
    assert seq.time_s_per_token < one.time_s_per_token
    load_s = seq.counts["load_seconds"]  # the one-off load of resident weights is not in a token's wait
    assert seq.latency_s_per_token == pytest.approx(S * (seq.time_s_per_token - load_s / T))  # 3 whole calls
    assert seq.meta["sequence_tokens"] == S and one.meta["sequence_tokens"] == 1
    assert seq.meta["kernels_per_step"].count("layer0.input") == 1


def test_tokens_option(a100, trace):
    """tokens= keeps only the first steps."""
    r = simulate_gpu(a100, trace, tokens=5)
    assert r.tokens == 5 and r.counts["steps"] == 5


def test_launch_overhead_in_latency(a100, trace):
    """Each kernel of a step adds the launch overhead to the step's latency."""
    r = simulate_gpu(a100, trace, batch=1)
    kernels = len(r.meta["kernels_per_step"])
    assert r.latency_s_per_token >= kernels * a100.kernels.launch_overhead_s
    no_launch = load_arch(SPECS / "gpu_a100.yaml", ["kernels.launch_overhead_s=0"])
    r0 = simulate_gpu(no_launch, trace, batch=1)
    assert r.latency_s_per_token - r0.latency_s_per_token == pytest.approx(kernels * 4e-6)


def test_costing_prices_every_unit_that_executes_flops():
    """The GPU costing's FLOP units are the model's execution units but 'none' (no unit left uncosted)."""
    from neurosim.costing.gpu import FLOP_UNITS
    from neurosim.gpu import UNITS

    assert FLOP_UNITS == tuple(u for u in UNITS if u != "none")
