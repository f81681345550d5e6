"""The shipped traces: they load, follow the format, and sampled runs bracket full runs on them."""

from __future__ import annotations

from pathlib import Path

import pytest

import neurosim
from neurosim.trace import summary

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = sorted((ROOT / "traces").glob("*.npz"))


def test_the_main_trace_is_shipped():
    assert (ROOT / "traces" / "ptb_egru90.npz").is_file()


@pytest.mark.parametrize("path", SHIPPED, ids=[p.name for p in SHIPPED])
def test_shipped_trace_is_valid_and_small(path):
    """Each shipped trace loads with the format checks, is a real model's trace, and stays small on disk."""
    trace = neurosim.load_trace(path)
    info = summary(trace)
    assert trace.meta["model"] in ("egru", "lstm")
    assert trace.meta["perplexity"] is not None
    assert path.stat().st_size < 8 * 2**20
    assert abs(info["weight_sparsity"] - trace.meta["weight_sparsity"]) < 0.01


def test_sampling_interval_covers_the_full_run_on_a_shipped_trace():
    """95% intervals from 8 sampled windows cover the full-run per-token figures of ptb_egru90."""
    arch = neurosim.load_arch(ROOT / "arch_specs" / "loihi_like.yaml")
    trace = neurosim.load_trace(ROOT / "traces" / "ptb_egru90.npz")
    full = neurosim.run(arch, trace)
    sampled = neurosim.run(arch, trace, sample=8, window=64, seed=0)
    for name in ("cycles_per_token", "energy_pj_per_token", "synaptic_ops_per_token", "packets_per_token"):
        low, high = sampled.intervals[name]
        assert low <= getattr(full, name) <= high, (name, low, getattr(full, name), high)
