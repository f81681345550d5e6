"""The Result guard: no NaN, inf or negative figure can reach a report."""

from __future__ import annotations

import math

import pytest

from neurosim.result import Result, ResultError

GOOD = {
    "arch": "tiny", "trace": "t", "target": "chip", "tokens": 4, "cycles_per_token": 10.0,
    "latency_s_per_token": 1e-8, "time_s_per_token": 1e-8, "synaptic_ops_per_token": 3.0, "packets_per_token": 1.0,
    "flit_hops_per_token": 2.0, "memory_bytes_per_token": {"synapse": 8.0}, "energy_pj_per_token": 5.0,
    "energy_breakdown_pj_per_token": {"synop": 3.0, "static": 2.0},
    "core_utilization": {"min": 0.1, "mean": 0.5, "max": 1.0}, "counts": {"synops": 12, "total_cycles": 40},
    "meta": {"seed": -1, "policy": "contiguous"}, "intervals": {"energy_pj_per_token": [4.0, 6.0]},
}


def test_good_result_passes():
    r = Result(**GOOD)
    assert r.tokens_per_s == pytest.approx(1e8)


@pytest.mark.parametrize("field, value, name", [
    ("cycles_per_token", -1.0, "cycles_per_token"),
    ("latency_s_per_token", float("-inf"), "latency_s_per_token"),
    ("energy_pj_per_token", float("inf"), "energy_pj_per_token"),
    ("synaptic_ops_per_token", float("nan"), "synaptic_ops_per_token"),
    ("energy_breakdown_pj_per_token", {"synop": 3.0, "static": math.inf}, "energy_breakdown_pj_per_token.static"),
    ("memory_bytes_per_token", {"synapse": -8.0}, "memory_bytes_per_token.synapse"),
    ("core_utilization", {"min": -0.3, "mean": 0.5}, "core_utilization.min"),
    ("counts", {"synops": -9223372036854775807}, "counts.synops"),
    ("intervals", {"energy_pj_per_token": [float("nan"), 6.0]}, "intervals.energy_pj_per_token[0]"),
    ("meta", {"gap": float("nan")}, "meta.gap"),
    ("time_s_per_token", 0.0, "time_s_per_token"),
    ("tokens", 0, "tokens"),
    ("tokens", True, "tokens"),
])
def test_bad_figure_is_named(field, value, name):
    """Any NaN, inf or negative number anywhere in a Result raises, naming the figure."""
    with pytest.raises(ResultError) as err:
        Result(**{**GOOD, field: value})
    msg = str(err.value)
    assert f"result figure {name}: got" in msg and "\n" not in msg


def test_numpy_figures_are_checked():
    np = pytest.importorskip("numpy")
    with pytest.raises(ResultError, match="counts.total_cycles"):
        Result(**{**GOOD, "counts": {"total_cycles": np.int64(-5)}})
    Result(**{**GOOD, "counts": {"total_cycles": np.int64(5)}})


def test_meta_may_be_signed():
    """meta holds seeds and signed gaps: negatives pass there, NaN and inf do not."""
    Result(**{**GOOD, "meta": {"bound_gap": -0.5, "starts": [0, 3]}})
