"""Mapping: capacities hold, formats size synapse memory as specified, misfits give the numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import make_arch

from neurosim.mapping import MappingError, core_totals, map_network
from neurosim.network import build_network
from neurosim.trace import synthetic


@pytest.mark.parametrize("policy", ["contiguous", "balanced"])
@pytest.mark.parametrize("fmt", ["sparse", "bitmap", "dense"])
def test_capacities_hold(policy, fmt):
    """No core holds more compartments or synapse bytes than it has."""
    trace = synthetic([40, 30], input_size=12, weight_sparsity=0.7, tokens=2, seed=2)
    arch = make_arch(cores__synapse_format=fmt, cores__synapse_memory_bytes=4096, cores__neurons_per_core=48)
    mapping = map_network(build_network(trace), arch, policy=policy)
    assert mapping.compartments_per_core.max() <= 48
    assert mapping.synapse_bytes_per_core.max() <= 4096
    assert mapping.compartments_per_core.sum() == 12 + 3 * 70


def test_all_gates_of_a_unit_share_a_core():
    """A unit's 3 gate compartments never straddle cores: 20 per core hold 4 inputs + 5 units, then 6 units."""
    trace = synthetic([40], input_size=4, tokens=2)
    arch = make_arch(cores__neurons_per_core=10)
    with pytest.raises(MappingError):
        map_network(build_network(trace), arch)  # 4 + 120 compartments, 10 per core x 8 cores: too few
    arch = make_arch(cores__neurons_per_core=20)
    mapping = map_network(build_network(trace), arch)
    # splitting units would fill cores to 20, 20, ...; whole units leave 1 or 2 compartments free
    assert mapping.compartments_per_core.tolist() == [4 + 15, 18, 18, 18, 18, 18, 15, 0]
    assert np.bincount(mapping.unit_core[4:]).tolist() == [5, 6, 6, 6, 6, 6, 5]


def test_sparse_format_bytes_by_hand():
    """Sparse rows cost header + nnz * (weight + index) bits, summed per projection on the core."""
    trace = synthetic([8], input_size=4, weight_sparsity=0.5, tokens=2, seed=1)
    arch = make_arch(cores__synapse_format="sparse", cores__weight_bits=8, cores__index_bits=6, cores__row_header_bits=16)
    network = build_network(trace)
    unit_core = np.zeros(network.n_units, dtype=np.int64)
    _, syn = core_totals(network, arch, unit_core)
    expected = 0
    for mask in (trace.layers[0].w_in_mask, trace.layers[0].w_rec_mask):
        rows = int(mask.any(axis=1).sum())
        expected += math.ceil((rows * 16 + mask.sum() * 14) / 8)
    assert syn[0] == expected


def test_dense_format_stores_zeros():
    """Dense storage does not depend on weight sparsity."""
    sizes = []
    for ws in (0.1, 0.9):
        trace = synthetic([8], input_size=4, weight_sparsity=ws, tokens=2, seed=1)
        arch = make_arch(cores__synapse_format="dense")
        network = build_network(trace)
        sizes.append(core_totals(network, arch, np.zeros(network.n_units, dtype=np.int64))[1][0])
    assert sizes[0] == sizes[1] == (4 + 8) * 24 * 8 // 8


def test_network_that_does_not_fit_gives_numbers():
    trace = synthetic([200, 200], input_size=50, weight_sparsity=0.5, tokens=2)
    with pytest.raises(MappingError, match=r"needs \d+ cores .* but the architecture has cores.count=8"):
        map_network(build_network(trace), make_arch())


def test_unit_too_big_for_any_core_is_named():
    trace = synthetic([30], input_size=400, weight_sparsity=0.0, tokens=2)
    with pytest.raises(MappingError, match=r"unit \d+ \(layer 0\) alone needs 3 compartments and \d+ synapse bytes"):
        map_network(build_network(trace), make_arch(cores__synapse_memory_bytes=512))


def test_balanced_spreads_fan_in_more_evenly():
    """Balanced chunks have a smaller max/mean fan-in per used core than filling cores in order."""
    trace = synthetic([60, 60], input_size=16, weight_sparsity=0.6, tokens=2, seed=4)
    network = build_network(trace)
    arch = make_arch(cores__neurons_per_core=128, cores__synapse_memory_bytes=1 << 20)
    spread = []
    for policy in ("contiguous", "balanced"):
        m = map_network(network, arch, policy=policy, min_cores=4)
        fan = np.bincount(m.unit_core, weights=network.fan_in(), minlength=arch.cores.count)[: m.cores_used]
        spread.append(fan.max() / fan.mean())
    assert spread[1] <= spread[0]


def test_bad_policy_and_min_cores():
    network = build_network(synthetic([8], input_size=4, tokens=2))
    with pytest.raises(MappingError, match=r"mapping policy: got 'random'; allowed: \['contiguous', 'balanced'\]"):
        map_network(network, make_arch(), policy="random")
    with pytest.raises(MappingError, match="min_cores: got 99; allowed: 1..8"):
        map_network(network, make_arch(), min_cores=99)
