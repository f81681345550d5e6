"""Shared fixtures: a tiny chip and small random traces."""

from __future__ import annotations

import copy

import pytest

from neurosim.arch import arch_from_dict
from neurosim.trace import synthetic

TINY_ARCH = {
    "version": 1,
    "kind": "neuromorphic",
    "name": "tiny",
    "clock_hz": 1.0e9,
    "cores": {
        "count": 8,
        "cores_per_router": 2,
        "neurons_per_core": 64,
        "synapse_memory_bytes": 8192,
        "weight_bits": 8,
        "synops_per_cycle": 0.5,
        "synapse_overhead_cycles": 2,
        "neuron_update_cycles_active": 3,
        "neuron_update_cycles_inactive": 1,
    },
    "noc": {
        "mesh_x": 2,
        "mesh_y": 2,
        "flit_bits": 16,
        "packet_header_bits": 32,
        "hop_x_latency_cycles": 2,
        "hop_y_latency_cycles": 3,
        "local_latency_cycles": 1,
    },
    "barrier": {"base_cycles": 5, "per_router_cycles": 1},
    "energy_pj": {
        "synop": 2.0,
        "synapse_read_per_byte": 0.5,
        "neuron_update_active": 3.0,
        "neuron_update_inactive": 1.0,
        "state_access_per_byte": 0.25,
        "spike_out": 1.5,
        "axon_read_per_byte": 0.1,
        "hop_x_per_flit": 0.7,
        "hop_y_per_flit": 0.9,
        "barrier": 11.0,
    },
    "static_power_w": 0.01,
}


def make_arch(**changes):
    """The tiny chip with ``section__key=value`` (or top-level ``key=value``) changes."""
    data = copy.deepcopy(TINY_ARCH)
    for key, value in changes.items():
        if "__" in key:
            section, name = key.split("__")
            data[section][name] = value
        else:
            data[key] = value
    return arch_from_dict(data)


@pytest.fixture
def tiny_arch():
    return make_arch()


@pytest.fixture
def small_trace():
    return synthetic([24, 16], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=10, seed=3)


@pytest.fixture
def files(tmp_path):
    """A tiny chip spec (TINY_ARCH) and a small synthetic trace, written to ``tmp_path``: (arch path, trace path)."""
    import yaml

    from neurosim.trace import save_trace

    arch = tmp_path / "tiny.yaml"
    arch.write_text(yaml.safe_dump(TINY_ARCH))
    trace = save_trace(synthetic([24, 16], input_size=10, activity=0.3, weight_sparsity=0.6, tokens=12, seed=3),
                       tmp_path / "t.npz")
    return arch, trace


@pytest.fixture
def corpus_dir(tmp_path):
    """A tiny, very predictable corpus: lines cycling through a fixed word order."""
    import numpy as np

    words = [f"w{i}" for i in range(12)]
    rng = np.random.default_rng(0)
    d = tmp_path / "corpus"
    d.mkdir()
    for split, n in (("train", 120), ("valid", 12), ("test", 12)):
        lines = []
        for _ in range(n):
            start = int(rng.integers(0, 12))
            lines.append(" ".join(words[(start + k) % 12] for k in range(6)))
        (d / f"{split}.txt").write_text("\n".join(lines) + "\n")
    return d
