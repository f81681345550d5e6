"""Engine physics: Numba kernel == SimPy reference, exact op counts, conservation, monotonicity."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from conftest import make_arch

from neurosim.engine import EngineError, build, simulate
from neurosim.engine import layout as K
from neurosim.engine.routes import route
from neurosim.mapping import map_network
from neurosim.network import build_network
from neurosim.trace import LayerTrace, synops_per_step, synthetic

GRID = list(
    itertools.product(
        ["source", "network"],  # multicast
        ["pipelined", "sequential"],  # pipeline
        ["sparse", "bitmap", "dense"],  # synapse format
        ["contiguous", "balanced"],  # mapping policy
    )
)


def _case(seed, multicast, pipeline, fmt, policy, routing="xy"):
    gates = 3 if seed % 2 else 4
    trace = synthetic([20, 14, 9], input_size=8, activity=0.15 + 0.1 * (seed % 5), weight_sparsity=0.3 + 0.1 * (seed % 6),
                      tokens=7, seed=seed, gates=gates)
    arch = make_arch(noc__multicast=multicast, cores__synapse_format=fmt, noc__routing=routing, pipeline=pipeline)
    network = build_network(trace)
    mapping = map_network(network, arch, policy=policy, min_cores=8)
    return trace, network, mapping, arch


@pytest.mark.parametrize("multicast, pipeline, fmt, policy", GRID)
def test_numba_matches_simpy_exactly(multicast, pipeline, fmt, policy):
    """Every counter, every step's cycles and every core's busy cycles agree exactly."""
    for seed in (0, 1):
        trace, network, mapping, arch = _case(seed, multicast, pipeline, fmt, policy, routing="yx" if seed else "xy")
        fast = simulate(trace, network, mapping, arch, backend="numba")
        ref = simulate(trace, network, mapping, arch, backend="simpy")
        assert fast.counts == ref.counts
        np.testing.assert_array_equal(fast.step_cycles, ref.step_cycles)
        np.testing.assert_array_equal(fast.core_busy_cycles, ref.core_busy_cycles)


@pytest.mark.parametrize("multicast, pipeline", [("source", "pipelined"), ("network", "sequential")])
def test_contention_happens_and_agrees(multicast, pipeline):
    """A congested case (wide packets, slow links) queues packets, and both models agree on it."""
    trace = synthetic([30, 30], input_size=12, activity=0.6, weight_sparsity=0.2, tokens=5, seed=9)
    arch = make_arch(noc__multicast=multicast, noc__flit_bits=8, noc__payload_bits=16, pipeline=pipeline,
                     cores__synapse_overhead_cycles=0, cores__synops_per_cycle=4)
    network = build_network(trace)
    mapping = map_network(network, arch, min_cores=8)
    fast = simulate(trace, network, mapping, arch)
    ref = simulate(trace, network, mapping, arch, backend="simpy")
    assert fast.counts["link_wait_cycles"] > 0
    assert fast.counts == ref.counts
    np.testing.assert_array_equal(fast.step_cycles, ref.step_cycles)


@pytest.mark.parametrize("multicast, pipeline, fmt, policy", GRID[::3])
def test_synops_equal_the_trace_formula(multicast, pipeline, fmt, policy):
    """The engine's synop count is exactly the trace format's formula."""
    trace, network, mapping, arch = _case(4, multicast, pipeline, fmt, policy)
    run = simulate(trace, network, mapping, arch)
    assert run.counts["synops"] == synops_per_step(trace).sum()


@pytest.mark.parametrize("multicast", ["source", "network"])
def test_every_packet_sent_is_received(multicast):
    """Conservation: deliveries created equal deliveries processed by cores."""
    trace, network, mapping, arch = _case(2, multicast, "pipelined", "sparse", "balanced")
    run = simulate(trace, network, mapping, arch)
    assert run.counts["packets_sent"] == run.counts["packets_received"] > 0
    if multicast == "source":
        assert run.counts["packets_injected"] == run.counts["packets_sent"]
    else:
        assert run.counts["packets_injected"] <= run.counts["packets_sent"]


def test_flits_local_count_two_per_delivery_in_source_mode():
    """With source replication every packet crosses one injection and one ejection link."""
    trace, network, mapping, arch = _case(3, "source", "pipelined", "sparse", "contiguous")
    run = simulate(trace, network, mapping, arch)
    assert run.counts["flits_local"] == 2 * arch.noc.flits_per_packet * run.counts["packets_sent"]


def test_in_network_multicast_never_costs_more_flit_hops():
    """Sharing route prefixes can only save mesh traffic."""
    costs = []
    for multicast in ("source", "network"):
        trace, network, mapping, arch = _case(5, multicast, "pipelined", "sparse", "balanced")
        run = simulate(trace, network, mapping, arch)
        costs.append(run.counts["flit_hops_x"] + run.counts["flit_hops_y"])
    assert costs[1] <= costs[0]


def _with_more_events(trace, rng, p=0.2):
    layers = []
    for layer in trace.layers:
        extra = rng.random(layer.events.shape) < p
        layers.append(replace(layer, events=layer.events | extra, values=None))
    return replace(trace, layers=tuple(layers))


@pytest.mark.parametrize("seed", range(4))
def test_more_activity_never_costs_fewer_synops_or_cycles(seed):
    """Adding events to a trace (a superset) never lowers synops, packets, energy-relevant counts or cycles."""
    rng = np.random.default_rng(seed)
    trace, network, mapping, arch = _case(seed, "source" if seed % 2 else "network", "pipelined", "sparse", "balanced")
    more = _with_more_events(trace, rng)
    base = simulate(trace, network, mapping, arch)
    bigger = simulate(more, network, mapping, arch)
    for key in ("synops", "packets_sent", "flit_hops_x", "flit_hops_y", "updates_active", "total_cycles"):
        assert bigger.counts[key] >= base.counts[key], key


def test_same_input_same_result():
    """Determinism: two runs of the same case are identical."""
    trace, network, mapping, arch = _case(6, "network", "pipelined", "bitmap", "balanced")
    a = simulate(trace, network, mapping, arch)
    b = simulate(trace, network, mapping, arch)
    assert a.counts == b.counts
    np.testing.assert_array_equal(a.step_cycles, b.step_cycles)


@pytest.mark.parametrize("pipeline", ["pipelined", "sequential"])
def test_streaming_in_chunks_equals_one_pass(pipeline):
    """Chunks of timesteps give exactly the in-memory run."""
    trace, network, mapping, arch = _case(7, "source", pipeline, "sparse", "contiguous")
    whole = simulate(trace, network, mapping, arch)
    for chunk in (1, 2, 5):
        part = simulate(trace, network, mapping, arch, chunk_steps=chunk)
        assert part.counts == whole.counts
        np.testing.assert_array_equal(part.step_cycles, whole.step_cycles)


def test_step_subrange_reproduces_the_same_steps():
    """Steps simulated on their own equal the same steps inside a whole run."""
    trace, network, mapping, arch = _case(8, "source", "pipelined", "sparse", "contiguous")
    whole = simulate(trace, network, mapping, arch)
    L = network.n_layers
    part = simulate(trace, network, mapping, arch, token_begin=3 - L + 1, token_end=6, steps=(3, 6))
    np.testing.assert_array_equal(part.step_cycles, whole.step_cycles[3:6])


def test_silent_trace_sends_only_the_input():
    """With no events, only the dense input reaches layer 0 and no layer talks to another."""
    trace = synthetic([12, 10], input_size=6, activity=0.0, weight_sparsity=0.5, tokens=4, seed=1)
    network = build_network(trace)
    arch = make_arch()
    run = simulate(trace, network, map_network(network, arch), arch)
    expected = trace.n_tokens * int(trace.layers[0].w_in_mask.sum())
    assert run.counts["synops"] == expected
    assert run.counts["updates_active"] == 0


def test_bad_range_and_backend_are_named(small_trace):
    network = build_network(small_trace)
    arch = make_arch()
    mapping = map_network(network, arch)
    with pytest.raises(EngineError, match="backend"):
        simulate(small_trace, network, mapping, arch, backend="verilog")
    with pytest.raises(EngineError, match="tokens"):
        simulate(small_trace, network, mapping, arch, token_end=99)


def test_events_drive_updates_exactly(small_trace):
    """Active compartment updates = gates x events over the run."""
    network = build_network(small_trace)
    arch = make_arch()
    run = simulate(small_trace, network, map_network(network, arch), arch)
    events = sum(int(layer.events.sum()) for layer in small_trace.layers)
    units = sum(small_trace.hidden_sizes) * small_trace.n_tokens
    assert run.counts["updates_active"] == small_trace.gates * events
    assert (run.counts["updates_active"] + run.counts["updates_received"] + run.counts["updates_inactive"]
            == small_trace.gates * units)
    assert isinstance(small_trace.layers[0], LayerTrace)


def test_threads_give_the_same_result():
    """Chunks of timesteps on several threads sum to the single-threaded run."""
    trace, network, mapping, arch = _case(9, "source", "pipelined", "sparse", "balanced")
    one = simulate(trace, network, mapping, arch)
    many = simulate(trace, network, mapping, arch, threads=2, chunk_steps=2)
    assert one.counts == many.counts
    np.testing.assert_array_equal(one.step_cycles, many.step_cycles)
    np.testing.assert_array_equal(one.core_busy_cycles, many.core_busy_cycles)


@pytest.mark.parametrize("routing", ["xy", "yx"])
def test_route_kernel_equals_reference_routes(routing):
    """entry_routes (Numba) and xy_route (plain Python) give the same links for every (unit, core) entry."""
    from neurosim.engine import build_arrays
    from neurosim.engine.reference import xy_route

    _, network, mapping, _ = _case(3, "source", "pipelined", "sparse", "balanced")
    arch = make_arch(noc__routing=routing)
    arrays = build_arrays(network, mapping, arch)
    n = arch.cores.count
    direction = {"E": 0, "W": 1, "N": 2, "S": 3}

    def link_id(link):
        if link[0] == "inject":
            return link[1]
        if link[0] == "eject":
            return n + link[1]
        kind, x, y = link
        return 2 * n + 4 * (y * arch.noc.mesh_x + x) + direction[kind]

    for u in range(network.n_units):
        for k in range(arrays.out_ptr[u], arrays.out_ptr[u + 1]):
            expected = [link_id(link) for link in xy_route(int(mapping.unit_core[u]), int(arrays.out_core[k]), arch)]
            got = arrays.route_links[arrays.route_ptr[k] : arrays.route_ptr[k + 1]].tolist()
            assert got == expected


@pytest.mark.parametrize("fmt", ["sparse", "bitmap", "dense"])
def test_synapse_tables_equal_a_loop_over_every_synapse(fmt):
    """The vectorised destination tables equal the reference's loop over every synapse."""
    from neurosim.engine import build_arrays
    from neurosim.engine.reference import synapse_table

    _, network, mapping, arch = _case(5, "source", "pipelined", fmt, "balanced")
    arrays = build_arrays(network, mapping, arch)
    table = synapse_table(network, mapping, arch)
    seen = 0
    for u in range(network.n_units):
        for k in range(arrays.out_ptr[u], arrays.out_ptr[u + 1]):
            core = int(arrays.out_core[k])
            for kind in (0, 1):
                row = table[u][core].get(kind, [0, 0, 0])
                assert [arrays.out_synops[k, kind], arrays.out_work[k, kind], arrays.out_bytes[k, kind]] == row
            seen += 1
    assert seen == sum(len(cores) for cores in table.values())


@pytest.mark.parametrize("cores, mesh, wide", [(8, 2, False), (16384, 64, True)])
def test_packed_route_hops_round_trip(cores, mesh, wide):
    """Every route position's link, flits + latency and destination survive packing, in 32 or 64 bits."""
    from neurosim.engine import build_arrays

    trace = synthetic([20, 14], input_size=8, activity=0.3, weight_sparsity=0.5, tokens=5, seed=3)
    arch = make_arch(cores__count=cores, cores__cores_per_router=cores // (mesh * mesh), noc__mesh_x=mesh,
                     noc__mesh_y=mesh)
    network = build_network(trace)
    mapping = map_network(network, arch, policy="balanced", min_cores=min(cores, 42))
    arrays = build_arrays(network, mapping, arch)
    assert arrays.route_hop.dtype == (np.int64 if wide else np.int32)
    cost_shift, dst_shift = int(arrays.params[K.P_COST_SHIFT]), int(arrays.params[K.P_DST_SHIFT])
    # every entry's route, read through its entry-table start in the shared pair routes
    lengths = np.diff(arrays.route_ptr)
    positions = np.concatenate([np.arange(n) for n in lengths]) + np.repeat(arrays.entry_table[:, 0], lengths)
    hop = arrays.route_hop[positions].astype(np.int64)
    np.testing.assert_array_equal(hop & ((1 << cost_shift) - 1), arrays.route_info[:, 0])
    np.testing.assert_array_equal((hop >> cost_shift) & ((1 << (dst_shift - cost_shift)) - 1), arrays.route_info[:, 1])
    np.testing.assert_array_equal((hop >> dst_shift) - 1, arrays.route_info[:, 2])
    # entries with the same (source core, destination core) share one copy, and no copy is unused
    src = arrays.unit_core[np.repeat(np.arange(network.n_units), np.diff(arrays.out_ptr))]
    pairs = set(zip(src.tolist(), arrays.out_core.tolist()))
    assert len(set(arrays.entry_table[:, 0].tolist())) == len(pairs)
    path = np.empty(4 + 2 * mesh, dtype=np.int64)
    assert arrays.route_hop.shape[0] - 1 == sum(route(s, d, arrays.params, path) for s, d in pairs)
    if wide:  # the 64-bit kernel agrees with the reference too
        fast = simulate(trace, network, mapping, arch, arrays=arrays)
        ref = simulate(trace, network, mapping, arch, backend="simpy")
        assert fast.counts == ref.counts
        np.testing.assert_array_equal(fast.step_cycles, ref.step_cycles)
        np.testing.assert_array_equal(fast.core_busy_cycles, ref.core_busy_cycles)


def test_packet_tables_equal_a_loop_over_entries():
    """spike_totals and entry_table hold what a per-entry loop over the destination tables gives."""
    from neurosim.engine import build_arrays

    _, network, mapping, arch = _case(3, "source", "pipelined", "bitmap", "balanced")
    a = build_arrays(network, mapping, arch)
    link_mask = (1 << int(a.params[K.P_COST_SHIFT])) - 1
    for u in range(network.n_units):
        for choice in range(3):
            want = np.zeros(6, dtype=np.int64)
            for k in range(a.out_ptr[u], a.out_ptr[u + 1]):
                cols = [0] if choice == 0 else [1] if choice == 1 else [0, 1]
                syn = sum(int(a.out_synops[k, c]) for c in cols)
                start = a.entry_table[k, 0]
                links = a.route_hop[start: start + a.route_ptr[k + 1] - a.route_ptr[k]] & link_mask
                np.testing.assert_array_equal(links, a.route_links[a.route_ptr[k]: a.route_ptr[k + 1]])
                if syn == 0:
                    assert a.entry_table[k, 1 + choice] == -1
                    continue
                assert a.entry_table[k, 1 + choice] == a.out_cycles[k, choice]
                want += [syn, sum(int(a.out_work[k, c]) for c in cols), sum(int(a.out_bytes[k, c]) for c in cols),
                         *a.route_hops[k]]
            np.testing.assert_array_equal(a.spike_totals[u, choice, :6], want)


@pytest.mark.parametrize("routing", ["xy", "yx"])
def test_multicast_trees_are_the_union_of_the_routes(routing):
    """Each (unit, projections) tree: the root is the injection link, every leaf's path from the root is
    the route to its destination core, the edges are the union of those routes (each link once), children
    are contiguous and breadth first, and the counts equal a plain count over the destination entries."""
    from neurosim.engine import build_arrays

    _, network, mapping, arch = _case(5, "network", "pipelined", "sparse", "balanced", routing=routing)
    a = build_arrays(network, mapping, arch)
    cost_shift, dst_shift = int(a.params[K.P_COST_SHIFT]), int(a.params[K.P_DST_SHIFT])
    n_cores = arch.cores.count
    link_class = build.link_classes(arch)
    trees = 0
    for u in range(network.n_units):
        for choice in range(3):
            cols = [0] if choice == 0 else [1] if choice == 1 else [0, 1]
            entries = [k for k in range(a.out_ptr[u], a.out_ptr[u + 1]) if sum(a.out_synops[k, c] for c in cols)]
            lo, hi = a.tree_ptr[3 * u + choice], a.tree_ptr[3 * u + choice + 1]
            routes = {int(a.out_core[k]): a.route_links[a.route_ptr[k]: a.route_ptr[k + 1]].tolist() for k in entries}
            assert hi - lo == len({link for r in routes.values() for link in r})
            np.testing.assert_array_equal(a.spike_totals[u, choice, 3:7],
                                          [*np.bincount(link_class[list({x for r in routes.values() for x in r})]
                                                        if routes else [], minlength=3)[:3], len(entries)])
            if not entries:
                continue
            trees += 1
            parent = {}
            for e in range(lo, hi):
                first, n = int(a.tree[e, 2]), int(a.tree[e, 3])
                assert lo < first or n == 0
                for c in range(first, first + n):
                    assert lo < c < hi and c not in parent
                    parent[c] = e
            assert sorted(parent) == list(range(lo + 1, hi))  # one root, every other edge has one parent
            blocks = [c for e in range(lo, hi) for c in range(a.tree[e, 2], a.tree[e, 2] + a.tree[e, 3])]
            assert blocks == list(range(lo + 1, hi))  # breadth first: children blocks follow in parent order
            assert int(a.tree[lo, 0]) & ((1 << cost_shift) - 1) == mapping.unit_core[u]  # injection link
            for e in range(lo, hi):
                dst = (int(a.tree[e, 0]) >> dst_shift) - 1
                if dst < 0:
                    continue
                path, x = [], e
                while True:
                    path.append(int(a.tree[x, 0]) & ((1 << cost_shift) - 1))
                    if x == lo:
                        break
                    x = parent[x]
                assert path[::-1] == routes[dst] and path[0] == n_cores + dst
                k = next(k for k in entries if a.out_core[k] == dst)
                assert a.tree[e, 1] == a.out_cycles[k, choice]
    assert trees > 20


@pytest.mark.parametrize("multicast, pipeline, fmt, policy", GRID)
def test_bound_backend_on_the_grid(multicast, pipeline, fmt, policy):
    """Backend "bound" on every grid case: counts equal the exact engine's (but wait and phase cycles), each step
    is at most the exact step, and the spike phases equal the numpy twin's largest bound."""
    from neurosim.engine import WAIT_COUNTERS, build_arrays
    from neurosim.engine.bound_reference import bound_components

    trace, network, mapping, arch = _case(2, multicast, pipeline, fmt, policy)
    exact = simulate(trace, network, mapping, arch)
    bound = simulate(trace, network, mapping, arch, backend="bound")
    timed = ("spike_phase_cycles", "total_cycles")
    assert {k: v for k, v in bound.counts.items() if k not in timed} == {
        k: v for k, v in exact.counts.items() if k not in WAIT_COUNTERS + timed}
    assert (bound.step_cycles <= exact.step_cycles).all() and bound.counts["total_cycles"] > 0
    components = bound_components(build_arrays(network, mapping, arch), arch, build.fired_matrix(trace),
                                  trace.n_tokens)
    assert components.max(axis=0).sum() == bound.counts["spike_phase_cycles"]


# ----------------------------------------------------------------------------- send side, switching, updates

NEW_RULES = {"cores__send_cycles_per_message": 3, "cores__spike_cycles": 2, "cores__neuron_update_cycles_received": 2,
                 "noc__payload_bits": 32}


@pytest.mark.parametrize("multicast, pipeline, fmt, policy", GRID[::2])
@pytest.mark.parametrize("send_receive, switching", [("separate", "wormhole"), ("shared", "store_and_forward"),
                                                     ("shared", "wormhole")])
def test_numba_matches_simpy_with_send_costs(multicast, pipeline, fmt, policy, send_receive, switching):
    """With send, spike-generation and receive-state costs on, both engines still agree cycle for cycle."""
    trace = synthetic([20, 14, 9], input_size=8, activity=0.35, weight_sparsity=0.5, tokens=6, seed=11)
    arch = make_arch(noc__multicast=multicast, cores__synapse_format=fmt, pipeline=pipeline,
                     cores__send_receive=send_receive, noc__switching=switching, **NEW_RULES)
    network = build_network(trace)
    mapping = map_network(network, arch, policy=policy, min_cores=8)
    fast = simulate(trace, network, mapping, arch)
    ref = simulate(trace, network, mapping, arch, backend="simpy")
    assert fast.counts == ref.counts
    assert fast.counts["send_cycles"] > 0 and fast.counts["updates_received"] > 0
    np.testing.assert_array_equal(fast.step_cycles, ref.step_cycles)
    np.testing.assert_array_equal(fast.core_busy_cycles, ref.core_busy_cycles)


def _one_packet(**changes):
    """One input unit on core 0 sends one synapse to one unit on core 7 (2 x 2 mesh, 2 cores per router)."""
    from neurosim.mapping import Mapping

    gates = 3
    layer = LayerTrace(events=np.zeros((1, 1), dtype=bool), w_in_mask=np.array([[True, False, False]]),
                       w_rec_mask=np.zeros((1, gates), dtype=bool))
    base = synthetic([1], input_size=1, activity=0.0, weight_sparsity=0.0, tokens=1, gates=gates, seed=0)
    trace = replace(base, layers=(layer,), name="one_packet")
    arch = make_arch(**changes)
    network = build_network(trace)
    comp = np.zeros(arch.cores.count, dtype=np.int64)
    comp[[0, 7]] = [1, gates]
    mapping = Mapping("contiguous", np.array([0, 7]), arch.cores.count, comp, np.zeros(arch.cores.count, np.int64))
    return trace, network, mapping, arch


@pytest.mark.parametrize("switching", ["wormhole", "store_and_forward"])
@pytest.mark.parametrize("payload_bits, send, spike", [(0, 0, 0), (32, 0, 0), (96, 5, 7)])
def test_zero_load_latency_follows_the_closed_form(switching, payload_bits, send, spike):
    """A lone packet of F flits over H links: wormhole pays sum(1 + latency) + F - 1, store-and-forward
    sum(F + latency); the send work comes first and the synapse work after."""
    trace, network, mapping, arch = _one_packet(noc__switching=switching, noc__payload_bits=payload_bits,
                                                cores__send_cycles_per_message=send, cores__spike_cycles=spike)
    F = arch.noc.flits_per_packet
    lat = [arch.noc.local_latency_cycles, arch.noc.hop_x_latency_cycles, arch.noc.hop_y_latency_cycles,
           arch.noc.local_latency_cycles]  # inject, east, north, eject
    network_cycles = sum(1 + x for x in lat) + F - 1 if switching == "wormhole" else sum(F + x for x in lat)
    synapse = arch.cores.synapse_overhead_cycles + 2  # one synop at 0.5 per cycle
    for backend in ("numba", "simpy", "bound"):
        run = simulate(trace, network, mapping, arch, backend=backend)
        assert run.counts["spike_phase_cycles"] == spike + send + network_cycles + synapse, backend
        assert run.counts["barrier_cycles"] == 5 + 1 * 2  # base + per router x the 2 routers in use
        assert run.counts["updates_received"] == 3 and run.counts["updates_active"] == 0


def test_a_core_sends_its_messages_one_after_another():
    """n messages from one core: the last leaves after spike + n x send cycles; the phase ends when it is
    processed, and the send work counts as the core's busy time."""
    trace = synthetic([40], input_size=1, activity=0.0, weight_sparsity=0.0, tokens=1, gates=3, seed=0)
    arch = make_arch(cores__send_cycles_per_message=50, cores__spike_cycles=20, cores__neurons_per_core=16)
    network = build_network(trace)
    mapping = map_network(network, arch, min_cores=8)
    run = simulate(trace, network, mapping, arch)
    n = run.counts["packets_sent"]
    assert n == mapping.cores_used  # the input unit sends one message to every core of layer 0, its own too
    assert run.counts["send_cycles"] == 20 + 50 * n
    assert run.counts["spike_phase_cycles"] > 20 + 50 * n
    assert run.core_busy_cycles[mapping.unit_core[0]] >= 20 + 50 * n
    assert run.counts == simulate(trace, network, mapping, arch, backend="simpy").counts


@pytest.mark.parametrize("multicast", ["source", "network"])
def test_a_shared_processor_is_never_faster(multicast):
    """Receiving after one's own sends (one processor) never ends a step sooner than separate units."""
    trace = synthetic([30, 20], input_size=8, activity=0.4, weight_sparsity=0.4, tokens=6, seed=5)
    network = build_network(trace)
    steps = {}
    for mode in ("separate", "shared"):
        arch = make_arch(noc__multicast=multicast, cores__send_receive=mode, cores__send_cycles_per_message=4)
        steps[mode] = simulate(trace, network, map_network(network, arch, min_cores=8), arch).step_cycles
    assert (steps["shared"] >= steps["separate"]).all() and (steps["shared"] > steps["separate"]).any()


def test_received_updates_equal_an_independent_count():
    """Units that received input but did not fire: a numpy count over the masks and the events."""
    trace = synthetic([20, 14], input_size=6, activity=0.2, weight_sparsity=0.8, tokens=8, seed=2)
    network = build_network(trace)
    arch = make_arch()
    run = simulate(trace, network, map_network(network, arch, min_cores=4), arch)
    g = trace.gates
    want = 0
    for l, layer in enumerate(trace.layers):
        H = layer.hidden_size
        ff = layer.w_in_mask.reshape(-1, g, H).any(axis=1)
        rec = layer.w_rec_mask.reshape(H, g, H).any(axis=1)
        src = np.ones((trace.n_tokens, ff.shape[0]), bool) if l == 0 else trace.layers[l - 1].events
        got = (src.astype(int) @ ff.astype(int)) > 0
        got[1:] |= (layer.events[:-1].astype(int) @ rec.astype(int)) > 0
        want += int((got & ~layer.events).sum())
    assert run.counts["updates_received"] == g * want > 0


def test_barrier_table_by_routers_in_use():
    """A by_routers table gives the barrier of the first row covering the routers in use."""
    table = {"by_routers": [{"routers": 1, "cycles": 100}, {"routers": 3, "cycles": 250}, {"routers": 4, "cycles": 400}]}
    trace = synthetic([20], input_size=4, activity=0.3, weight_sparsity=0.5, tokens=3, seed=1)
    network = build_network(trace)
    for min_cores, want in ((1, 100), (5, 250), (8, 400)):
        arch = make_arch(barrier=table, cores__neurons_per_core=64)
        mapping = map_network(network, arch, min_cores=min_cores)
        routers = mapping.routers_in_use(arch)
        assert arch.barrier_cycles_for(routers) == want
        run = simulate(trace, network, mapping, arch)
        assert run.counts["barrier_cycles"] == want * run.step_cycles.size


@pytest.mark.parametrize("multicast, pipeline", [("source", "pipelined"), ("network", "sequential")])
def test_readout_is_simulated_exactly(multicast, pipeline):
    """A decoder fed by the last layer: numba == simpy, its synops are the fan-out of the last layer's
    events, and it adds one pipeline stage of updates that never fire."""
    trace = synthetic([16, 12], input_size=6, activity=0.3, weight_sparsity=0.5, tokens=6, seed=4)
    rng = np.random.default_rng(0)
    trace = replace(trace, readout_w_mask=rng.random((12, 30)) < 0.6)
    arch = make_arch(noc__multicast=multicast, pipeline=pipeline, **NEW_RULES)
    runs = {}
    for readout in ("none", "chip"):
        network = build_network(trace, readout)
        mapping = map_network(network, arch, min_cores=8)
        runs[readout] = simulate(trace, network, mapping, arch)
        if readout == "chip":
            ref = simulate(trace, network, mapping, arch, backend="simpy")
            assert runs[readout].counts == ref.counts
            np.testing.assert_array_equal(runs[readout].step_cycles, ref.step_cycles)
            np.testing.assert_array_equal(runs[readout].core_busy_cycles, ref.core_busy_cycles)
    decoder = int((trace.layers[-1].events.astype(int) @ trace.readout_w_mask.astype(int)).sum())
    assert runs["chip"].counts["synops"] - runs["none"].counts["synops"] == decoder > 0
    updates = sum(runs["chip"].counts[k] - runs["none"].counts[k] for k in
                  ("updates_active", "updates_received", "updates_inactive"))
    assert updates == 30 * trace.n_tokens and runs["chip"].counts["updates_active"] == runs["none"].counts[
        "updates_active"]


@pytest.mark.parametrize("seed", range(4))
def test_received_kernel_equals_its_numpy_twin(seed):
    """The bitset kernel and the float32 matrix products mark the same units, readout included."""
    from neurosim.engine.build import fired_matrix, received_matrix
    from neurosim.engine.receive import received_reference

    trace = synthetic([70, 9, 130], input_size=5, activity=0.1 + 0.2 * seed, weight_sparsity=0.9, tokens=9,
                      seed=seed)
    trace = replace(trace, readout_w_mask=np.random.default_rng(seed).random((130, 77)) < 0.05)
    network = build_network(trace, "chip")
    arch = make_arch(cores__neurons_per_core=1024, cores__synapse_memory_bytes=1 << 20)
    arrays = build.build_arrays(network, map_network(network, arch), arch)
    fired = fired_matrix(trace)
    want = received_reference(arrays.layer_offsets, arrays.receive_masks, arrays.input_reach, fired)
    np.testing.assert_array_equal(received_matrix(arrays, fired), want)
    assert 0 < want.mean() < 1


@pytest.mark.parametrize("multicast, pipeline, fmt, policy", GRID[::3])
def test_inside_a_run_agrees_and_adds_up(multicast, pipeline, fmt, policy):
    """Per-step counters, per-link flits and per-layer counts: numba == simpy, the bound engine's non-timing
    figures equal theirs, and each adds up to the run's totals."""
    from neurosim.engine import layout

    trace, network, mapping, arch = _case(3, multicast, pipeline, fmt, policy)
    trace = replace(trace, readout_w_mask=np.random.default_rng(1).random((9, 13)) < 0.5)
    network = build_network(trace, "chip")
    arch = make_arch(noc__multicast=multicast, cores__synapse_format=fmt, pipeline=pipeline, **NEW_RULES)
    mapping = map_network(network, arch, policy=policy, min_cores=8)
    runs = {b: simulate(trace, network, mapping, arch, backend=b) for b in ("numba", "simpy", "bound")}
    fast, ref, bound = runs["numba"], runs["simpy"], runs["bound"]
    np.testing.assert_array_equal(fast.step_counts, ref.step_counts)
    for run in runs.values():
        np.testing.assert_array_equal(run.link_flits, fast.link_flits)
        np.testing.assert_array_equal(run.layer_counts, fast.layer_counts)
    timing = {"spike_phase_cycles", "total_cycles", "link_wait_cycles", "core_wait_cycles"}
    for k, name in enumerate(layout.COUNTER_NAMES):
        assert fast.step_counts[:, k].sum() == fast.counts[name]
        if name not in timing:
            np.testing.assert_array_equal(bound.step_counts[:, k], fast.step_counts[:, k])
    np.testing.assert_array_equal(fast.step_counts[:, layout.TOTAL_CYCLES], fast.step_cycles)
    n = arch.cores.count
    assert fast.link_flits[:2 * n].sum() == fast.counts["flits_local"]
    assert fast.link_flits[2 * n:].sum() == fast.counts["flit_hops_x"] + fast.counts["flit_hops_y"]
    assert fast.layer_counts[:, layout.LC_SYNOPS].sum() == fast.counts["synops"]
    assert fast.layer_counts[-1, layout.LC_SYNOPS] > 0  # the readout's synapses
    assert fast.counts["core_busy_cycles"] == fast.core_busy_cycles.sum()


def test_a_run_that_would_overflow_int64_is_refused():
    """The spec limits keep one step below 2**62; a run total beyond 2**62 (in the kernel or when chunks are
    added) is a one-line error instead of a wrapped, negative figure."""
    from neurosim.engine import KernelOutput, _add_part
    from neurosim.engine import layout as L
    from neurosim.engine.steps import close_step

    counters = np.zeros(L.N_COUNTERS, dtype=np.int64)
    counters[L.TOTAL_CYCLES] = 2**62 - 5
    with pytest.raises(ValueError, match="exceed 2\\*\\*62"):
        close_step(counters, 3, 2, 1, 0)
    assert close_step(counters, 3, 1, 1, 0) == 5 and counters[L.TOTAL_CYCLES] == 2**62
    part = KernelOutput(counters.copy(), np.zeros(1, np.int64), np.zeros(2, np.int64),
                        np.zeros((1, L.N_COUNTERS), np.int64), np.zeros(3, np.int64), np.zeros((1, 5), np.int64))
    with pytest.raises(EngineError, match="exceed 2\\*\\*62"):
        _add_part(part, part)


@pytest.mark.parametrize("multicast, pipeline", [("source", "pipelined"), ("network", "sequential")])
def test_token_input_encoding_sends_one_event_per_token(multicast, pipeline):
    """input_encoding 'token': one input unit per word, one event per token, its synapses the folded
    embedding; numba == simpy, bound counts equal, synops = the folded row's size per token + the rest."""
    trace = synthetic([16, 12], input_size=6, activity=0.3, weight_sparsity=0.5, tokens=7, seed=8, vocab_size=40)
    arch = make_arch(noc__multicast=multicast, pipeline=pipeline, cores__neurons_per_core=256,
                     cores__synapse_memory_bytes=1 << 16, **NEW_RULES)
    runs = {}
    for encoding in ("embedding", "token"):
        network = build_network(trace, "none", encoding)
        mapping = map_network(network, arch, min_cores=4)
        runs[encoding] = {b: simulate(trace, network, mapping, arch, backend=b) for b in ("numba", "simpy", "bound")}
    tok = runs["token"]
    assert tok["numba"].counts == tok["simpy"].counts
    np.testing.assert_array_equal(tok["numba"].step_cycles, tok["simpy"].step_cycles)
    assert all(tok["bound"].counts[k] == v for k, v in tok["numba"].counts.items()
               if k not in ("spike_phase_cycles", "total_cycles", "link_wait_cycles", "core_wait_cycles"))
    assert (tok["bound"].step_cycles <= tok["numba"].step_cycles).all()
    folded = int(trace.layers[0].w_in_mask.any(axis=0).sum())  # synapses of one word's row
    embedding_in = int(trace.layers[0].w_in_mask.sum())  # the dense input's synapses per token
    diff = runs["embedding"]["numba"].counts["synops"] - tok["numba"].counts["synops"]
    assert diff == trace.n_tokens * (embedding_in - folded)
    assert tok["numba"].counts["spikes"] < runs["embedding"]["numba"].counts["spikes"]


@pytest.mark.parametrize("pipeline", ["pipelined", "sequential"])
def test_a_timer_holds_every_step_for_its_period(pipeline):
    """A timer-driven chip (barrier.timer_period_s): a step whose work fits the period lasts exactly one
    period, the rest is counted as idle; a longer step overruns, is counted, and keeps its work's length.
    Numba and SimPy agree exactly, the bound backend applies the same rule to its own (lower) step work,
    and nothing but time changes."""
    trace = synthetic([20, 14, 9], input_size=8, activity=0.35, weight_sparsity=0.5, tokens=6, seed=11)
    network = build_network(trace)
    free_arch = make_arch(pipeline=pipeline, **NEW_RULES)
    mapping = map_network(network, free_arch, min_cores=8)
    period = int(np.median(simulate(trace, network, mapping, free_arch).step_cycles))  # some steps fit, some not
    arch = make_arch(pipeline=pipeline, barrier__timer_period_s=period / free_arch.clock_hz, **NEW_RULES)
    assert arch.timer_cycles == period
    runs = {}
    for backend in ("numba", "simpy", "bound"):
        free = simulate(trace, network, mapping, free_arch, backend=backend)
        run = runs[backend] = simulate(trace, network, mapping, arch, backend=backend)
        work = free.step_cycles
        want = np.maximum(work, period)
        np.testing.assert_array_equal(run.step_cycles, want, err_msg=backend)
        assert run.counts["timer_overruns"] == int((work > period).sum()), backend
        assert run.counts["timer_idle_cycles"] == int((want - work).sum()) > 0, backend
        assert run.counts["total_cycles"] == (run.counts["spike_phase_cycles"] + run.counts["barrier_cycles"]
                                              + run.counts["update_phase_cycles"] + run.counts["timer_idle_cycles"])
        same = {k: v for k, v in free.counts.items() if k not in ("total_cycles", "timer_idle_cycles", "timer_overruns")}
        assert same == {k: run.counts[k] for k in same}, backend
    assert runs["numba"].counts == runs["simpy"].counts and runs["numba"].counts["timer_overruns"] > 0
    # a period longer than every step: time is steps x period exactly, no overrun
    longest = int(runs["numba"].step_cycles.max())
    slow = make_arch(pipeline=pipeline, barrier__timer_period_s=2 * longest / free_arch.clock_hz, **NEW_RULES)
    run = simulate(trace, network, mapping, slow)
    assert run.counts["total_cycles"] == run.step_cycles.size * slow.timer_cycles and run.counts["timer_overruns"] == 0


def test_a_timer_period_is_checked():
    """A non-positive or too long period is refused with the key and the allowed range."""
    from neurosim.spec import SpecError

    for bad in (0.0, -1e-3, 1e6):
        with pytest.raises((SpecError, ValueError), match="timer_period_s"):
            make_arch(barrier__timer_period_s=bad)
