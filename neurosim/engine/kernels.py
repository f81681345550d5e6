"""Numba kernels of the event engine: pure functions over flat numpy arrays.

Python (``neurosim.engine.build``) builds every array; no kernel sees an
object, a dict or a global. ``neurosim.engine.reference`` is the readable
SimPy twin of :func:`simulate_steps`; tests demand that both give identical
cycles and counters.

Timing rules of one timestep (the order is ``PHASES``):

1. ``spike``: every presynaptic unit that is active in the timestep sends its
   event. With ``multicast == 0`` (source replication) it sends one packet per
   destination core; with ``multicast == 1`` (in-network) one packet whose copies
   branch along the union of the dimension-order routes (a tree). A packet of
   ``F`` flits traverses links: the source core's injection link, mesh links,
   the destination core's ejection link. A link serves packets first come
   first served: ``depart = max(ready, link_free)``, ``link_free = depart + F``,
   ``arrive = depart + F + latency(link)``. Packets ready at the same cycle are
   served in the order their arrival was scheduled (packets of a timestep are
   first injected in presynaptic-unit order, then destination-core order).
   A delivered packet waits in the core's input queue; the core processes
   packets first come first served, each taking
   ``overhead + ceil(work / synops_per_cycle)`` cycles.
2. ``barrier``: ``barrier_cycles``.
3. ``update``: every core updates the compartments of the layers active in
   the timestep, ``active`` cycles for a unit that fired, ``inactive`` otherwise;
   the phase lasts as long as the slowest core.

Layers are pipelined (layer ``l`` handles token ``s - l`` in timestep ``s``)
or sequential (timestep ``s`` handles layer ``s % L`` of token ``s // L``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

PHASES = ("spike", "barrier", "update")

# counter indices of the kernel's output
SYNOPS = 0
SYNAPSE_WORK = 1
SYNAPSE_BYTES = 2
PACKETS_SENT = 3
PACKETS_RECEIVED = 4
PACKETS_INJECTED = 5
FLIT_HOPS_X = 6
FLIT_HOPS_Y = 7
FLITS_LOCAL = 8
SPIKES = 9
UPDATES_ACTIVE = 10
UPDATES_INACTIVE = 11
BARRIERS = 12
SPIKE_PHASE_CYCLES = 13
UPDATE_PHASE_CYCLES = 14
BARRIER_CYCLES = 15
TOTAL_CYCLES = 16
LINK_WAIT_CYCLES = 17
CORE_WAIT_CYCLES = 18
N_COUNTERS = 19
COUNTER_NAMES = (
    "synops",
    "synapse_work",
    "synapse_bytes",
    "packets_sent",
    "packets_received",
    "packets_injected",
    "flit_hops_x",
    "flit_hops_y",
    "flits_local",
    "spikes",
    "updates_active",
    "updates_inactive",
    "barriers",
    "spike_phase_cycles",
    "update_phase_cycles",
    "barrier_cycles",
    "total_cycles",
    "link_wait_cycles",
    "core_wait_cycles",
)

# indices of the integer parameter vector
P_FLITS = 0
P_HOP_X_LAT = 1
P_HOP_Y_LAT = 2
P_LOCAL_LAT = 3
P_OVERHEAD = 4
P_SPC_NUM = 5  # synops per cycle = num / den
P_SPC_DEN = 6
P_UPD_ACTIVE = 7
P_UPD_INACTIVE = 8
P_BARRIER = 9
P_MESH_X = 10
P_MESH_Y = 11
P_CORES_PER_ROUTER = 12
P_MULTICAST = 13  # 0 source replication, 1 in-network
P_PIPELINED = 14  # 1 pipelined, 0 sequential
P_ROUTING_YX = 15  # 0 xy, 1 yx
P_N_CORES = 16
P_COST_SHIFT = 17  # packed route hop: link in bits [0, cost_shift), flits + latency up to dst_shift,
P_DST_SHIFT = 18  # destination core + 1 above (0: a mesh link); see ``pack_route_hops``
P_MAX_LATENCY = 19  # the largest latency of any link
N_PARAMS = 20

SEL_FF = 1
SEL_REC = 2

# columns of the per-spike totals (``spike_totals[unit, choice]``, see neurosim.engine.build.spike_totals):
# synops, synapse work, synapse bytes, local, x and y link traversals, packets delivered, packets injected
N_SPIKE_TOTALS = 8


@njit(cache=True)
def route(src_core, dst_core, p, out):
    """Links of the dimension-order route from ``src_core`` to ``dst_core``.

    Writes link ids into ``out`` and returns how many: the injection link
    (``src_core``), mesh links (``2*n_cores + 4*router + direction``, direction
    0 east, 1 west, 2 north, 3 south), the ejection link (``n_cores + dst_core``).
    """
    n_cores = p[P_N_CORES]
    mesh_x = p[P_MESH_X]
    cpr = p[P_CORES_PER_ROUTER]
    ra = src_core // cpr
    rb = dst_core // cpr
    x, y = ra % mesh_x, ra // mesh_x
    xb, yb = rb % mesh_x, rb // mesh_x
    n = 0
    out[n] = src_core
    n += 1
    for phase in range(2):
        do_x = (phase == 0) != (p[P_ROUTING_YX] == 1)
        if do_x:
            while x != xb:
                d = 0 if xb > x else 1
                out[n] = 2 * n_cores + 4 * (y * mesh_x + x) + d
                n += 1
                x += 1 if d == 0 else -1
        else:
            while y != yb:
                d = 2 if yb > y else 3
                out[n] = 2 * n_cores + 4 * (y * mesh_x + x) + d
                n += 1
                y += 1 if d == 2 else -1
    out[n] = n_cores + dst_core
    n += 1
    return n


@njit(cache=True)
def entry_routes(out_ptr, out_core, unit_core, p):
    """The route of every destination entry (presynaptic unit -> core), CSR: (ptr, links)."""
    n_units = out_ptr.shape[0] - 1
    n_entries = out_core.shape[0]
    path = np.empty(4 + p[P_MESH_X] + p[P_MESH_Y], dtype=np.int64)
    lengths = np.empty(n_entries, dtype=np.int64)
    for u in range(n_units):
        for k in range(out_ptr[u], out_ptr[u + 1]):
            lengths[k] = route(unit_core[u], out_core[k], p, path)
    ptr = np.zeros(n_entries + 1, dtype=np.int64)
    for k in range(n_entries):
        ptr[k + 1] = ptr[k] + lengths[k]
    links = np.empty(ptr[n_entries], dtype=np.int64)
    for u in range(n_units):
        for k in range(out_ptr[u], out_ptr[u + 1]):
            n = route(unit_core[u], out_core[k], p, path)
            links[ptr[k] : ptr[k] + n] = path[:n]
    return ptr, links


@njit(cache=True)
def _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, n_cores, n_links, tree_ptr,
                tree, tree_counts, fill):
    """Counting pass (``fill`` False: sizes into ``tree_ptr``) or filling pass of :func:`multicast_trees`."""
    n_units = out_ptr.shape[0] - 1
    most = 1
    for u in range(n_units):
        most = max(most, route_ptr[out_ptr[u + 1]] - route_ptr[out_ptr[u]])
    link_edge = np.full(n_links, -1, dtype=np.int64)  # the edge of this tree on a link, -1: none yet
    position = np.empty(most, dtype=np.int64)  # scratch tree: the route position an edge came from
    cycles = np.empty(most, dtype=np.int64)
    first = np.empty(most, dtype=np.int64)
    last = np.empty(most, dtype=np.int64)
    sibling = np.empty(most, dtype=np.int64)
    order = np.empty(most, dtype=np.int64)  # breadth-first order
    label = np.empty(most, dtype=np.int64)
    n_edges = 0
    for u in range(n_units):
        for choice in range(3):
            size = 0
            deliveries = 0
            for k in range(out_ptr[u], out_ptr[u + 1]):
                syn = out_synops[k, 0] + out_synops[k, 1] if choice == 2 else out_synops[k, choice]
                if syn == 0:
                    continue
                deliveries += 1
                parent = -1
                for i in range(route_ptr[k], route_ptr[k + 1]):
                    link = route_info[i, 0]
                    if link_edge[link] >= 0:  # shared with an earlier destination of this packet
                        parent = link_edge[link]
                        continue
                    e = size
                    size += 1
                    link_edge[link] = e
                    position[e] = i
                    cycles[e] = out_cycles[k, choice]
                    first[e] = -1
                    last[e] = -1
                    sibling[e] = -1
                    if parent >= 0:
                        if last[parent] < 0:
                            first[parent] = e
                        else:
                            sibling[last[parent]] = e
                        last[parent] = e
                    parent = e
            for e in range(size):  # forget this tree's links
                link_edge[route_info[position[e], 0]] = -1
            if fill and size > 0:  # breadth first: the children of an edge are contiguous, in the order added
                order[0] = 0
                n_ordered = 1
                for j in range(size):
                    e = order[j]
                    label[e] = n_edges + j
                    c = first[e]
                    while c >= 0:
                        order[n_ordered] = c
                        n_ordered += 1
                        c = sibling[c]
                n_ordered = 1
                for j in range(size):
                    e = order[j]
                    row = n_edges + j
                    tree[row, 0] = route_hop_of[position[e]]
                    tree[row, 1] = cycles[e]
                    n_children = 0
                    c = first[e]
                    while c >= 0:
                        n_children += 1
                        c = sibling[c]
                    tree[row, 2] = n_edges + n_ordered
                    tree[row, 3] = n_children
                    n_ordered += n_children
                    link = route_info[position[e], 0]
                    if link < 2 * n_cores:
                        tree_counts[u, choice, 0] += 1
                    elif (link - 2 * n_cores) % 4 < 2:
                        tree_counts[u, choice, 1] += 1
                    else:
                        tree_counts[u, choice, 2] += 1
                tree_counts[u, choice, 3] = deliveries
            n_edges += size
            tree_ptr[3 * u + choice + 1] = n_edges
    return n_edges


@njit(cache=True)
def multicast_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, n_cores, n_links):
    """The packet tree of every presynaptic unit and choice of projections sent (in-network multicast).

    A spike of unit ``u`` that sends projections ``choice`` (0 ff, 1 rec, 2 both)
    is one packet whose copies branch along the union of the dimension-order
    routes to its destination cores (added in destination order, route order):
    edges ``tree_ptr[3u + choice] <= e < tree_ptr[3u + choice + 1]`` in
    breadth-first order, the first one the root (the injection link).
    ``tree[e]``: the link packed like a route position (``route_hop_of[i]`` for
    route position ``i``: link, flits + latency, destination core + 1 at a
    leaf), the leaf's synapse cycles, the first child and the number of
    children, which are contiguous and in the order they were added.
    ``tree_counts[u, choice]``: local, x and y edges, and deliveries. Trees
    depend on the spike alone, so they are built once, not at every timestep.
    """
    n_units = out_ptr.shape[0] - 1
    tree_ptr = np.zeros(3 * n_units + 1, dtype=np.int64)
    tree_counts = np.zeros((n_units, 3, 4), dtype=np.int64)
    empty = np.empty((0, 4), dtype=route_hop_of.dtype)
    n_edges = _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, n_cores, n_links,
                          tree_ptr, empty, tree_counts, False)
    tree = np.empty((n_edges, 4), dtype=route_hop_of.dtype)
    _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, n_cores, n_links, tree_ptr,
                tree, tree_counts, True)
    return tree_ptr, tree, tree_counts


# ----------------------------------------------------------------------------- the calendar
# Events of a spike phase sit in FIFO buckets, one per cycle (``head``/``tail`` per
# cycle, ``nxt`` per item), so they run in (time, order scheduled) order: the order
# SimPy gives to timeouts. The buckets form a ring (cycle ``t`` in bucket ``t & ring``),
# emptied as time passes; the caller makes the ring longer than any event can be
# ahead of the current cycle, so no two pending events of different cycles share a bucket.


@njit(cache=True, inline="always")
def _calendar_push(head, tail, nxt, t, item):
    nxt[item] = -1
    if head[t] < 0:
        head[t] = item
    else:
        nxt[tail[t]] = item
    tail[t] = item


@njit(cache=True, inline="always")
def _reserve(link_free, link, ready, flits):
    """First come first served: the cycle the packet departs; the link is busy for ``flits`` cycles."""
    depart = link_free[link]
    depart = max(depart, ready)
    link_free[link] = depart + flits
    return depart


@njit(cache=True, inline="always")
def _queue_at_core(core_free, core_busy, dst, arrive, cycles):
    """First come first served at the core's input queue: (start, finish) of the synapse work."""
    start = core_free[dst]
    start = max(start, arrive)
    core_free[dst] = start + cycles
    core_busy[dst] += cycles
    return start, start + cycles


@njit(cache=True, inline="always")
def _add_spike(acc, spike_totals, u, choice):
    """Add what one spike of unit ``u`` sending projections ``choice`` costs to the step's totals ``acc``."""
    for j in range(N_SPIKE_TOTALS):
        acc[j] += spike_totals[u, choice, j]


@njit(cache=True, inline="always")
def _count_spikes(counters, acc, flits, received, link_wait, core_wait):
    """Add a spike phase's totals (``acc``, see ``N_SPIKE_TOTALS``) and what its replay measured to the counters."""
    counters[SYNOPS] += acc[0]
    counters[SYNAPSE_WORK] += acc[1]
    counters[SYNAPSE_BYTES] += acc[2]
    counters[FLITS_LOCAL] += acc[3] * flits
    counters[FLIT_HOPS_X] += acc[4] * flits
    counters[FLIT_HOPS_Y] += acc[5] * flits
    counters[PACKETS_SENT] += acc[6]
    counters[PACKETS_INJECTED] += acc[7]
    counters[PACKETS_RECEIVED] += received
    counters[LINK_WAIT_CYCLES] += link_wait
    counters[CORE_WAIT_CYCLES] += core_wait


# ----------------------------------------------------------------------------- one timestep


@njit(cache=True, inline="always")
def _token_in_step(s, l, n_layers, pipelined, token_begin, token_end):
    """The token layer ``l`` handles in timestep ``s``, or -1 when it handles none."""
    if pipelined:
        t = s - l
    elif s % n_layers == l:
        t = s // n_layers
    else:
        return -1
    if t < token_begin or t >= token_end:
        return -1
    return t


@njit(cache=True)
def _senders(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets, sel, active_units):
    """Mark the presynaptic units that send in timestep ``s`` (``sel``: SEL_FF | SEL_REC); their count."""
    n_layers = layer_offsets.shape[0] - 1
    n_inputs = layer_offsets[0]
    for l in range(n_layers):
        t = _token_in_step(s, l, n_layers, pipelined, token_begin, token_end)
        if t < 0:
            continue
        if l == 0:
            for u in range(n_inputs):
                sel[u] |= SEL_FF
        else:  # branch-free: a unit fires in ~10-30% of steps, at random
            row = t - fired_first_token
            for j in range(layer_offsets[l] - layer_offsets[l - 1]):
                sel[layer_offsets[l - 1] + j] |= SEL_FF * (fired[row, layer_offsets[l - 1] - n_inputs + j] != 0)
        if t >= 1:
            row = t - 1 - fired_first_token
            for j in range(layer_offsets[l + 1] - layer_offsets[l]):
                sel[layer_offsets[l] + j] |= SEL_REC * (fired[row, layer_offsets[l] - n_inputs + j] != 0)
    n_active = 0
    for u in range(layer_offsets[n_layers]):
        active_units[n_active] = u
        n_active += sel[u] != 0
    return n_active


@njit(cache=True)
def _unicast_phase(n_active, active_units, sel, out_ptr, entry_table, spike_totals, route_hop, flits, cost_shift,
                   dst_shift, link_free, core_free, core_busy, rec, tail, acc, counters):
    """Spike phase with source replication: one packet per destination core.

    A packet is one destination entry; its events are the far ends of the links
    of its route. Every link but the last leads to a mesh link or the ejection
    link, so events sit in two calendar rings, ``mesh`` (buckets ``0..B-1``,
    cycle ``t`` in bucket ``t & (B-1)``) and ``eject`` (buckets ``B..2B-1``): a cycle's mesh events reserve mesh links
    only and its eject events the ejection links and cores only, so running
    the mesh events first and the eject events second, each class in the order
    it was scheduled, gives the same reservations as one FIFO of both. The
    ejection link serves one core, so packets leave it in the order the core
    receives them: a packet is queued at its core when it reserves the
    ejection link, without a further event. The injection link is reserved
    when the packet is created (every packet of the step is ready at cycle 0).

    Records: ``rec[4 * q : 4 * q + 4]`` is packet ``q``'s next hop (packed, see
    ``route_hop``), its route position, its synapse cycles and the next event in
    its calendar bucket; records ``n_entries + b`` are only the first event of
    bucket ``b`` (field 3). ``tail[b]`` is the record of bucket ``b``'s last
    event (its own head record when empty), so appending never branches.
    One record per packet keeps an event to one cache line. Returns the cycle the phase ends.
    """
    acc[:] = 0
    n_sent = n_received = n_link_wait = n_core_wait = 0
    link_mask = (1 << cost_shift) - 1
    cost_mask = (1 << (dst_shift - cost_shift)) - 1
    n_buckets = tail.shape[0] // 2
    base = rec.shape[0] // 4 - 2 * n_buckets
    ring = n_buckets - 1
    for a in range(n_active):
        u = active_units[a]
        su = sel[u]
        sel[u] = 0
        _add_spike(acc, spike_totals, u, su - 1)
        k_begin = out_ptr[u]
        k_end = out_ptr[u + 1]
        if k_end == k_begin:
            continue
        hop = route_hop[entry_table[k_begin, 0]]
        inj_link = hop & link_mask
        inj_cost = (hop >> cost_shift) & cost_mask
        depart = link_free[inj_link]
        for k in range(k_begin, k_end):
            cycles = entry_table[k, su]
            if cycles < 0:
                continue
            q = n_sent
            n_sent += 1
            i = entry_table[k, 0] + 1
            hop = route_hop[i]
            rq = 4 * q
            rec[rq] = hop
            rec[rq + 1] = i
            rec[rq + 2] = cycles
            rec[rq + 3] = -1
            n_link_wait += depart
            slot = ((depart + inj_cost) & ring) + n_buckets * ((hop >> dst_shift) > 0)
            depart += flits
            rec[4 * tail[slot] + 3] = q
            tail[slot] = q
        link_free[inj_link] = depart
    pending = n_sent
    phase_end = 0
    now = 0
    while pending > 0:
        b = now & ring
        q_mesh = rec[4 * (base + b) + 3]
        q_eject = rec[4 * (base + n_buckets + b) + 3]
        if q_mesh < 0 and q_eject < 0:
            now += 1
            continue
        q = q_mesh
        while q >= 0:
            rq = 4 * q
            following = rec[rq + 3]
            hop = rec[rq]
            depart = _reserve(link_free, hop & link_mask, now, flits)
            n_link_wait += depart - now
            arrive = depart + ((hop >> cost_shift) & cost_mask)
            i = rec[rq + 1] + 1
            hop = route_hop[i]
            rec[rq] = hop
            rec[rq + 1] = i
            rec[rq + 3] = -1
            slot = (arrive & ring) + n_buckets * ((hop >> dst_shift) > 0)
            rec[4 * tail[slot] + 3] = q
            tail[slot] = q
            q = following
        q = q_eject
        while q >= 0:
            rq = 4 * q
            hop = rec[rq]
            depart = _reserve(link_free, hop & link_mask, now, flits)
            n_link_wait += depart - now
            arrive = depart + ((hop >> cost_shift) & cost_mask)
            dst = (hop >> dst_shift) - 1
            start, finish = _queue_at_core(core_free, core_busy, dst, arrive, rec[rq + 2])
            n_core_wait += start - arrive
            n_received += 1
            pending -= 1
            phase_end = max(phase_end, finish)
            q = rec[rq + 3]
        rec[4 * (base + b) + 3] = -1
        tail[b] = base + b
        rec[4 * (base + n_buckets + b) + 3] = -1
        tail[n_buckets + b] = base + n_buckets + b
        phase_end = max(phase_end, now)
        now += 1
    _count_spikes(counters, acc, flits, n_received, n_link_wait, n_core_wait)
    return phase_end


@njit(cache=True)
def _multicast_phase(n_active, active_units, sel, spike_totals, tree_ptr, tree, flits, cost_shift, dst_shift,
                     link_free, core_free, core_busy, e_next, head, tail, acc, counters):
    """Spike phase with in-network multicast: one packet per presynaptic unit.

    The packet's copies branch along its tree (:func:`multicast_trees`), whose
    edges are link traversals. An event is the far end of an edge; the children
    of an edge reserve their links when it arrives, in the order they were
    added to the tree. Leaves (ejection links) queue at their core when
    reserved, as in :func:`_unicast_phase`. A unit spikes at most once per
    timestep, so the events of a step are distinct tree edges and ``e_next``
    (next event in the same calendar bucket) is indexed by edge.
    Returns the cycle the phase ends.
    """
    acc[:] = 0
    n_received = n_link_wait = n_core_wait = 0
    link_mask = (1 << cost_shift) - 1
    cost_mask = (1 << (dst_shift - cost_shift)) - 1
    phase_end = 0
    pending = 0
    ring = head.shape[0] - 1  # a power of two, larger than any event's distance ahead of ``now``
    for a in range(n_active):
        u = active_units[a]
        choice = sel[u] - 1
        sel[u] = 0
        _add_spike(acc, spike_totals, u, choice)
        root = tree_ptr[3 * u + choice]
        if tree_ptr[3 * u + choice + 1] == root:
            continue
        # a root is an injection link: never a leaf
        hop = tree[root, 0]
        depart = _reserve(link_free, hop & link_mask, 0, flits)
        n_link_wait += depart
        _calendar_push(head, tail, e_next, (depart + ((hop >> cost_shift) & cost_mask)) & ring, root)
        pending += 1
    now = 0
    while pending > 0:
        e = head[now & ring]
        if e < 0:
            now += 1
            continue
        while e >= 0:
            pending -= 1
            phase_end = max(phase_end, now)
            first = tree[e, 2]
            for c in range(first, first + tree[e, 3]):
                hop = tree[c, 0]
                depart = _reserve(link_free, hop & link_mask, now, flits)
                n_link_wait += depart - now
                arrive = depart + ((hop >> cost_shift) & cost_mask)
                dst = (hop >> dst_shift) - 1
                if dst >= 0:
                    start, finish = _queue_at_core(core_free, core_busy, dst, arrive, tree[c, 1])
                    n_core_wait += start - arrive
                    n_received += 1
                    phase_end = max(phase_end, finish)
                else:
                    _calendar_push(head, tail, e_next, arrive & ring, c)
                    pending += 1
            e = e_next[e]
        head[now & ring] = -1  # the bucket is empty again (its tail is not read while its head is -1)
        now += 1
    _count_spikes(counters, acc, flits, n_received, n_link_wait, n_core_wait)
    return phase_end


@njit(cache=True)
def _update_phase(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets, gates,
                  unit_core, units_per_layer_core, p, fired_on_core, update_cycles, core_busy, counters):
    """Neuron updates of the layers active in timestep ``s``; the slowest core's cycles."""
    n_layers = layer_offsets.shape[0] - 1
    n_inputs = layer_offsets[0]
    n_cores = update_cycles.shape[0]
    update_cycles[:] = 0
    for l in range(n_layers):
        t = _token_in_step(s, l, n_layers, pipelined, token_begin, token_end)
        if t < 0:
            continue
        row = t - fired_first_token
        fired_on_core[:] = 0
        base = layer_offsets[l]
        for j in range(layer_offsets[l + 1] - base):
            fired_on_core[unit_core[base + j]] += fired[row, base - n_inputs + j] != 0
        for c in range(n_cores):
            n_fire = fired_on_core[c]
            n_rest = units_per_layer_core[l, c] - n_fire
            counters[UPDATES_ACTIVE] += gates * n_fire
            counters[UPDATES_INACTIVE] += gates * n_rest
            update_cycles[c] += gates * (n_fire * p[P_UPD_ACTIVE] + n_rest * p[P_UPD_INACTIVE])
    update_end = 0
    for c in range(n_cores):
        core_busy[c] += update_cycles[c]
        update_end = max(update_end, update_cycles[c])
    return update_end


@njit(cache=True, inline="always")
def _close_step(counters, phase_end, barrier, update_end):
    """Count a step's phases (spike, barrier, update) and return its cycles."""
    counters[BARRIERS] += 1
    counters[SPIKE_PHASE_CYCLES] += phase_end
    counters[BARRIER_CYCLES] += barrier
    counters[UPDATE_PHASE_CYCLES] += update_end
    step = phase_end + barrier + update_end
    counters[TOTAL_CYCLES] += step
    return step


@njit(cache=True, nogil=True)
def simulate_steps(
    fired,
    fired_first_token,
    token_begin,
    token_end,
    step_begin,
    step_end,
    layer_offsets,
    gates,
    unit_core,
    out_ptr,
    units_per_layer_core,
    entry_table,
    spike_totals,
    route_hop,
    tree_ptr,
    tree,
    p,
):
    """Replay timesteps ``step_begin <= s < step_end`` of tokens ``token_begin <= t < token_end``.

    A timestep handles the (layer, token) pairs that the pipeline puts in it
    and whose token is in range; a whole run is steps ``token_begin ..
    token_end + L - 1`` (pipelined) or ``L * token_begin .. L * token_end``
    (sequential), and splitting that step range into chunks gives the same totals.

    Parameters
    ----------
    fired : uint8 [rows, n_layer_units]
        Events of every layer unit (layers concatenated, 0 or 1); row ``r`` is token
        ``fired_first_token + r``. Must cover ``token_begin - 1`` when it is >= 0.
    layer_offsets : int64 [L+1]
        Global index of the first unit of each layer; input units are ``0..layer_offsets[0]``.
    unit_core : int64 [n_units]
    out_ptr : int64 [n_units + 1], CSR over presynaptic units of their destination entries.
    units_per_layer_core : int64 [L, n_cores]
    entry_table : int32 or int64 [n_entries, 4] (the integer type of ``route_hop``)
        Per destination entry: its first position in ``route_hop``, then the packet's synapse
        cycles when the ff, rec or both projections are sent (-1: the entry has
        no synapse of them, so no packet).
    spike_totals : int64 [n_units, 3, N_SPIKE_TOTALS]
        What one spike of a unit costs, per choice of projections sent (ff, rec, both):
        synops, synapse work, synapse bytes, local, x and y link traversals,
        packets delivered and packets injected (:func:`neurosim.engine.build.spike_totals`).
    route_hop : int32 or int64 [n_pair_positions + 1]
        The routes of every (source core, destination core) pair in use, one integer
        per position packed like ``route_info`` (:func:`neurosim.engine.build.pack_route_hops`),
        plus one padding entry; entries of the same pair share it.
    tree_ptr, tree :
        The multicast packet trees (:func:`multicast_trees`); empty with source replication.
    p : int64 [N_PARAMS]

    Returns
    -------
    counters : int64 [N_COUNTERS]
    step_cycles : int64 [n_steps]
    core_busy_cycles : int64 [n_cores]
    """
    n_units = layer_offsets[layer_offsets.shape[0] - 1]
    n_cores = p[P_N_CORES]
    n_links = 2 * n_cores + 4 * p[P_MESH_X] * p[P_MESH_Y]
    flits = p[P_FLITS]
    pipelined = p[P_PIPELINED] == 1
    multicast = p[P_MULTICAST] == 1
    n_steps = max(0, step_end - step_begin)

    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    step_cycles = np.zeros(n_steps, dtype=np.int64)
    core_busy = np.zeros(n_cores, dtype=np.int64)

    sel = np.zeros(n_units, dtype=np.int64)
    active_units = np.empty(n_units, dtype=np.int64)
    link_free = np.zeros(n_links, dtype=np.int64)
    core_free = np.zeros(n_cores, dtype=np.int64)
    fired_on_core = np.zeros(n_cores, dtype=np.int64)
    update_cycles = np.zeros(n_cores, dtype=np.int64)
    n_entries = entry_table.shape[0]
    # calendars (see _unicast_phase / _multicast_phase), sized below for each step
    n_buckets = 0
    rec = np.full(4 * n_entries, -1, dtype=route_hop.dtype)  # packet records, see _unicast_phase
    tail = np.empty(0, dtype=np.int32)
    head = np.empty(0, dtype=np.int32)
    e_next = np.full(tree.shape[0], -1, dtype=np.int32)  # multicast: next event of a tree edge's bucket
    acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)  # the spike phase's totals (see _add_spike)

    for si in range(n_steps):
        s = step_begin + si
        n_active = _senders(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets, sel,
                            active_units)
        counters[SPIKES] += n_active
        link_free[:] = 0
        core_free[:] = 0
        # Calendars are rings of buckets: an event is at most flits x (items on its link)
        # + flits + latency cycles ahead of ``now``, items being the packets (or tree edges) of the step.
        items = 0
        for a in range(n_active):
            u = active_units[a]
            if multicast:  # every tree edge the unit may send
                items += tree_ptr[3 * u + 3] - tree_ptr[3 * u]
            else:
                items += out_ptr[u + 1] - out_ptr[u]
        horizon = flits * (items + 1) + p[P_MAX_LATENCY] + 1
        if horizon > n_buckets:
            n_buckets = 1
            while n_buckets < horizon:
                n_buckets *= 2
            if n_entries + 2 * n_buckets >= 2**31:
                raise ValueError("engine: a timestep needs more than 2**31 calendar slots; split the trace or the chip")
            if multicast:
                head = np.full(n_buckets, -1, dtype=np.int32)
                tail = np.full(n_buckets, -1, dtype=np.int32)
            else:
                tail = np.arange(n_entries, n_entries + 2 * n_buckets).astype(np.int32)
                rec = np.full(4 * (n_entries + 2 * n_buckets), -1, dtype=route_hop.dtype)
        if multicast:
            phase_end = _multicast_phase(
                n_active, active_units, sel, spike_totals, tree_ptr, tree, flits, p[P_COST_SHIFT], p[P_DST_SHIFT],
                link_free, core_free, core_busy, e_next, head, tail, acc, counters)
        else:
            phase_end = _unicast_phase(
                n_active, active_units, sel, out_ptr, entry_table, spike_totals, route_hop, flits,
                p[P_COST_SHIFT], p[P_DST_SHIFT], link_free, core_free, core_busy, rec, tail, acc, counters)
        update_end = _update_phase(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets,
                                   gates, unit_core, units_per_layer_core, p, fired_on_core, update_cycles,
                                   core_busy, counters)
        step_cycles[si] = _close_step(counters, phase_end, p[P_BARRIER], update_end)
    return counters, step_cycles, core_busy


# ----------------------------------------------------------------------------- lower bound of the timing


@njit(cache=True, nogil=True)
def bound_steps(
    fired,
    fired_first_token,
    token_begin,
    token_end,
    step_begin,
    step_end,
    layer_offsets,
    gates,
    unit_core,
    units_per_layer_core,
    spike_totals,
    core_ptr,
    core_rows,
    link_ptr,
    link_rows,
    first_in,
    first_out,
    p,
):
    """Like :func:`simulate_steps`, but the spike phase is a lower bound, computed without replaying packets.

    Every count that is not a cycle count is the exact engine's (they come from
    the same per-spike tables), and so are the core busy cycles and the
    neuron-update and barrier phases. The spike phase of a step (and so the
    step) is the largest of four lower bounds of the exact one
    (``neurosim.engine.build.bound_tables`` documents the tables):

    - core work: core ``c`` cannot start before its first packet can arrive
      (``first_in[c]``, the least uncontended route latency into it) and then
      processes all of its synapse cycles one packet after another;
    - ejection: its packets leave the ejection link ``flits`` cycles apart, the
      first no earlier than ``first_in[c]``;
    - injection: a core's packets leave ``flits`` cycles apart; the last one
      still needs ``first_out[c]`` (least route latency + synapse cycles out of it);
    - links: a mesh link carries its packets ``flits`` cycles apart.

    Wait cycles (``LINK_WAIT_CYCLES``, ``CORE_WAIT_CYCLES``) need the replay and stay 0
    (:func:`neurosim.engine.simulate` leaves them out of a bound run's counts).
    Returns (counters, step_cycles, core_busy_cycles) like :func:`simulate_steps`.
    """
    n_units = layer_offsets[layer_offsets.shape[0] - 1]
    n_cores = p[P_N_CORES]
    flits = p[P_FLITS]
    pipelined = p[P_PIPELINED] == 1
    n_steps = max(0, step_end - step_begin)
    n_mesh = 4 * p[P_MESH_X] * p[P_MESH_Y]
    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    step_cycles = np.zeros(n_steps, dtype=np.int64)
    core_busy = np.zeros(n_cores, dtype=np.int64)
    sel = np.zeros(n_units, dtype=np.int64)
    active_units = np.empty(n_units, dtype=np.int64)
    fired_on_core = np.zeros(n_cores, dtype=np.int64)
    update_cycles = np.zeros(n_cores, dtype=np.int64)
    into = np.zeros(n_cores, dtype=np.int64)  # packets << 32 | synapse cycles into each core
    injected = np.zeros(n_cores, dtype=np.int64)
    load = np.zeros(n_mesh, dtype=np.int64)
    low32 = (1 << 32) - 1
    low48 = (1 << 48) - 1
    # the input units send their ff projection at every step that has layer 0: add them up once
    n_inputs = layer_offsets[0]
    input_into = np.zeros(n_cores, dtype=np.int64)
    input_injected = np.zeros(n_cores, dtype=np.int64)
    input_load = np.zeros(n_mesh, dtype=np.int64)
    input_acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)
    acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)
    for u in range(n_inputs):
        _add_spike(input_acc, spike_totals, u, 0)
        input_injected[unit_core[u]] += spike_totals[u, 0, 7]
        for r in range(core_ptr[3 * u], core_ptr[3 * u + 1]):
            input_into[core_rows[r] >> 48] += core_rows[r] & low48
        for r in range(link_ptr[3 * u], link_ptr[3 * u + 1]):
            input_load[link_rows[r] >> 48] += link_rows[r] & low48
    for si in range(n_steps):
        s = step_begin + si
        n_active = _senders(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets, sel,
                            active_units)
        counters[SPIKES] += n_active
        first = 0
        if _token_in_step(s, 0, layer_offsets.shape[0] - 1, pipelined, token_begin, token_end) >= 0:
            first = n_inputs  # active_units starts with every input unit, each sending ff only
            into[:] = input_into
            injected[:] = input_injected
            load[:] = input_load
            acc[:] = input_acc
            sel[:n_inputs] = 0
        else:
            into[:] = 0
            injected[:] = 0
            load[:] = 0
            acc[:] = 0
        for a in range(first, n_active):
            u = active_units[a]
            choice = sel[u] - 1
            sel[u] = 0
            _add_spike(acc, spike_totals, u, choice)
            injected[unit_core[u]] += spike_totals[u, choice, 7]
            for r in range(core_ptr[3 * u + choice], core_ptr[3 * u + choice + 1]):
                row = core_rows[r]
                into[row >> 48] += row & low48  # packets << 32 | synapse cycles
            for r in range(link_ptr[3 * u + choice], link_ptr[3 * u + choice + 1]):
                row = link_rows[r]
                load[row >> 48] += row & low48
        phase_end = 0
        for c in range(n_cores):
            received = into[c] >> 32
            work = into[c] & low32
            if received > 0:
                phase_end = max(phase_end, first_in[c] + max(work, (received - 1) * flits))
            if injected[c] > 0:
                phase_end = max(phase_end, (injected[c] - 1) * flits + first_out[c])
            core_busy[c] += work
        for link in range(n_mesh):
            phase_end = max(phase_end, load[link] * flits)
        _count_spikes(counters, acc, flits, acc[6], 0, 0)
        update_end = _update_phase(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets,
                                   gates, unit_core, units_per_layer_core, p, fired_on_core, update_cycles,
                                   core_busy, counters)
        step_cycles[si] = _close_step(counters, phase_end, p[P_BARRIER], update_end)
    return counters, step_cycles, core_busy
