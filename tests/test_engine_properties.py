"""Property tests: on random small chips and traces, the Numba kernel equals the SimPy model."""

from __future__ import annotations

import numpy as np
from conftest import make_arch
from hypothesis import given, settings
from hypothesis import strategies as st

from neurosim.engine import simulate
from neurosim.mapping import map_network
from neurosim.network import build_network
from neurosim.trace import synops_per_step, synthetic

cases = st.fixed_dictionaries(
    {
        "sizes": st.lists(st.integers(1, 12), min_size=1, max_size=3),
        "input_size": st.integers(1, 6),
        "activity": st.floats(0.0, 1.0),
        "weight_sparsity": st.floats(0.0, 0.95),
        "tokens": st.integers(1, 5),
        "gates": st.sampled_from([3, 4]),
        "seed": st.integers(0, 10_000),
        "multicast": st.sampled_from(["source", "network"]),
        "pipeline": st.sampled_from(["pipelined", "sequential"]),
        "fmt": st.sampled_from(["sparse", "bitmap", "dense"]),
        "routing": st.sampled_from(["xy", "yx"]),
        "flit_bits": st.sampled_from([8, 16, 64]),
        "hop_x": st.integers(0, 4),
        "hop_y": st.integers(0, 4),
        "local": st.integers(0, 3),
        "spc": st.sampled_from([0.25, 1 / 3, 1.0, 2.0]),
        "overhead": st.integers(0, 3),
        "min_cores": st.integers(1, 8),
        "policy": st.sampled_from(["contiguous", "balanced"]),
        "send": st.integers(0, 6),
        "spike": st.integers(0, 6),
        "received": st.integers(0, 5),
        "send_receive": st.sampled_from(["separate", "shared"]),
        "switching": st.sampled_from(["wormhole", "store_and_forward"]),
        "barrier_table": st.booleans(),
    }
)


def _build(c):
    """(trace, network, mapping, arch) of a drawn case."""
    trace = synthetic(c["sizes"], input_size=c["input_size"], activity=c["activity"],
                      weight_sparsity=c["weight_sparsity"], tokens=c["tokens"], gates=c["gates"], seed=c["seed"])
    arch = make_arch(
        noc__multicast=c["multicast"], noc__routing=c["routing"], noc__flit_bits=c["flit_bits"],
        noc__hop_x_latency_cycles=c["hop_x"], noc__hop_y_latency_cycles=c["hop_y"],
        noc__local_latency_cycles=c["local"], cores__synapse_format=c["fmt"], cores__synops_per_cycle=c["spc"],
        cores__synapse_overhead_cycles=c["overhead"], cores__neurons_per_core=256,
        cores__synapse_memory_bytes=1 << 20, pipeline=c["pipeline"], cores__send_cycles_per_message=c["send"],
        cores__spike_cycles=c["spike"], cores__neuron_update_cycles_received=c["received"],
        cores__send_receive=c["send_receive"], noc__switching=c["switching"],
        **({"barrier": {"by_routers": [{"routers": 1, "cycles": 7}, {"routers": 4, "cycles": 19}]}}
           if c["barrier_table"] else {}),
    )
    network = build_network(trace)
    return trace, network, map_network(network, arch, policy=c["policy"], min_cores=c["min_cores"]), arch


@settings(max_examples=40, deadline=None)
@given(cases)
def test_kernel_equals_reference_on_random_cases(c):
    """Counters, per-step cycles and per-core busy cycles agree exactly; synops follow the formula."""
    trace, network, mapping, arch = _build(c)
    fast = simulate(trace, network, mapping, arch)
    ref = simulate(trace, network, mapping, arch, backend="simpy")
    assert fast.counts == ref.counts
    np.testing.assert_array_equal(fast.step_cycles, ref.step_cycles)
    np.testing.assert_array_equal(fast.core_busy_cycles, ref.core_busy_cycles)
    assert fast.counts["synops"] == synops_per_step(trace).sum()
    assert fast.counts["packets_sent"] == fast.counts["packets_received"]


@settings(max_examples=40, deadline=None)
@given(cases, st.floats(0.05, 0.5))
def test_more_activity_never_costs_less(c, extra):
    """Adding events (a superset of the trace's) never lowers synops, packets, flit-hops or cycles."""
    from dataclasses import replace

    trace = synthetic(c["sizes"], input_size=c["input_size"], activity=c["activity"],
                      weight_sparsity=c["weight_sparsity"], tokens=c["tokens"], gates=c["gates"], seed=c["seed"])
    rng = np.random.default_rng(c["seed"])
    more = replace(trace, layers=tuple(replace(layer, events=layer.events | (rng.random(layer.events.shape) < extra))
                                       for layer in trace.layers))
    arch = make_arch(noc__multicast=c["multicast"], noc__routing=c["routing"], pipeline=c["pipeline"],
                     cores__synapse_format=c["fmt"], cores__neurons_per_core=256, cores__synapse_memory_bytes=1 << 20)
    network = build_network(trace)
    mapping = map_network(network, arch, policy=c["policy"], min_cores=c["min_cores"])
    base, bigger = simulate(trace, network, mapping, arch), simulate(more, network, mapping, arch)
    for key in ("synops", "packets_sent", "flit_hops_x", "flit_hops_y", "synapse_bytes", "total_cycles"):
        assert bigger.counts[key] >= base.counts[key], key


@settings(max_examples=40, deadline=None)
@given(cases)
def test_bound_backend_is_a_lower_bound_with_exact_counts(c):
    """backend "bound": every count but the wait and phase cycles equals the exact engine's, core busy cycles too; every
    step is at most the exact step; and each step's spike phase is the largest of the numpy twin's four bounds."""
    from neurosim.engine import WAIT_COUNTERS, build_arrays
    from neurosim.engine.bound_reference import bound_components
    from neurosim.engine.build import fired_matrix

    trace, network, mapping, arch = _build(c)
    exact = simulate(trace, network, mapping, arch)
    bound = simulate(trace, network, mapping, arch, backend="bound")
    timed = ("spike_phase_cycles", "total_cycles")  # lower bounds in a bound run
    assert {k: v for k, v in bound.counts.items() if k not in timed} == {
        k: v for k, v in exact.counts.items() if k not in WAIT_COUNTERS + timed}
    assert all(bound.counts[k] <= exact.counts[k] for k in timed)
    np.testing.assert_array_equal(bound.core_busy_cycles, exact.core_busy_cycles)
    assert (bound.step_cycles <= exact.step_cycles).all()
    components = bound_components(build_arrays(network, mapping, arch), arch, fired_matrix(trace), trace.n_tokens)
    update_and_barrier = exact.counts["update_phase_cycles"] + exact.counts["barrier_cycles"]
    assert components.max(axis=0).sum() == bound.step_cycles.sum() - update_and_barrier
