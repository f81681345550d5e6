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
N_PARAMS = 17

SEL_FF = 1
SEL_REC = 2


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


@njit(cache=True, inline="always")
def _entry_cost(k, su, out_synops, out_work, out_bytes):
    """Synops, synapse work and synapse bytes of destination entry ``k`` for projections ``su``."""
    if su == SEL_FF:
        return out_synops[k, 0], out_work[k, 0], out_bytes[k, 0]
    if su == SEL_REC:
        return out_synops[k, 1], out_work[k, 1], out_bytes[k, 1]
    return out_synops[k, 0] + out_synops[k, 1], out_work[k, 0] + out_work[k, 1], out_bytes[k, 0] + out_bytes[k, 1]


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


# ----------------------------------------------------------------------------- the calendar
# Events of a spike phase sit in FIFO buckets, one per cycle (``head``/``tail`` per
# cycle, ``nxt`` per item), so they run in (time, order scheduled) order: the order
# SimPy gives to timeouts. Buckets are emptied as time passes; the caller sizes them
# for the latest possible event (every link traversal of the step in a row).


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
def _add_counts(counters, synops, work, nbytes, sent, injected, received, link_wait, core_wait, flits_local, flits_x,
                flits_y):
    counters[SYNOPS] += synops
    counters[SYNAPSE_WORK] += work
    counters[SYNAPSE_BYTES] += nbytes
    counters[PACKETS_SENT] += sent
    counters[PACKETS_INJECTED] += injected
    counters[PACKETS_RECEIVED] += received
    counters[LINK_WAIT_CYCLES] += link_wait
    counters[CORE_WAIT_CYCLES] += core_wait
    counters[FLITS_LOCAL] += flits_local
    counters[FLIT_HOPS_X] += flits_x
    counters[FLIT_HOPS_Y] += flits_y


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
        else:
            row = t - fired_first_token
            for j in range(layer_offsets[l] - layer_offsets[l - 1]):
                if fired[row, layer_offsets[l - 1] - n_inputs + j]:
                    sel[layer_offsets[l - 1] + j] |= SEL_FF
        if t >= 1:
            row = t - 1 - fired_first_token
            for j in range(layer_offsets[l + 1] - layer_offsets[l]):
                if fired[row, layer_offsets[l] - n_inputs + j]:
                    sel[layer_offsets[l] + j] |= SEL_REC
    n_active = 0
    for u in range(layer_offsets[n_layers]):
        if sel[u] != 0:
            active_units[n_active] = u
            n_active += 1
    return n_active


@njit(cache=True)
def _unicast_phase(n_active, active_units, sel, out_ptr, out_core, out_synops, out_work, out_bytes, out_cycles,
                   route_ptr, route_info, route_hops, flits, link_free, core_free, core_busy,
                   pk_link, pk_cost, pk_dst, pk_pos, pk_cycles, pk_next, head, tail, counters):
    """Spike phase with source replication: one packet per destination core.

    A packet is one destination entry; its events are the far ends of the links
    of its route, so nothing is built. The ejection link serves one core, so
    packets leave it in the order the core receives them: a packet is queued at
    its core when it reserves the ejection link, without an event.
    Returns the cycle the phase ends.
    """
    n_synops = n_work = n_bytes = n_sent = n_received = n_link_wait = n_core_wait = n_local = n_x = n_y = 0
    pending = 0
    for a in range(n_active):
        u = active_units[a]
        su = sel[u]
        sel[u] = 0
        for k in range(out_ptr[u], out_ptr[u + 1]):
            syn, work, nbytes = _entry_cost(k, su, out_synops, out_work, out_bytes)
            if syn == 0:
                continue
            n_synops += syn
            n_work += work
            n_bytes += nbytes
            n_local += route_hops[k, 0]
            n_x += route_hops[k, 1]
            n_y += route_hops[k, 2]
            pk = n_sent  # packets of the step are numbered in creation order
            n_sent += 1
            pk_cycles[pk] = out_cycles[k, su - 1]
            i = route_ptr[k]
            pk_pos[pk] = i + 1
            pk_link[pk] = route_info[i + 1, 0]  # the next hop, read while its cache line is hot
            pk_cost[pk] = route_info[i + 1, 1]
            pk_dst[pk] = route_info[i + 1, 2]
            depart = _reserve(link_free, route_info[i, 0], 0, flits)
            n_link_wait += depart
            _calendar_push(head, tail, pk_next, depart + route_info[i, 1], pk)
            pending += 1
    phase_end = 0
    now = 0
    while pending > 0:
        pk = head[now]
        if pk < 0:
            now += 1
            continue
        while pk >= 0:
            following = pk_next[pk]  # read first: pk may be queued again below
            pending -= 1
            phase_end = max(phase_end, now)
            depart = _reserve(link_free, pk_link[pk], now, flits)
            n_link_wait += depart - now
            arrive = depart + pk_cost[pk]
            dst = pk_dst[pk]
            if dst >= 0:
                start, finish = _queue_at_core(core_free, core_busy, dst, arrive, pk_cycles[pk])
                n_core_wait += start - arrive
                n_received += 1
                phase_end = max(phase_end, finish)
            else:
                j = pk_pos[pk] + 1
                pk_pos[pk] = j
                pk_link[pk] = route_info[j, 0]
                pk_cost[pk] = route_info[j, 1]
                pk_dst[pk] = route_info[j, 2]
                _calendar_push(head, tail, pk_next, arrive, pk)
                pending += 1
            pk = following
        head[now] = -1  # the bucket is empty again (its tail is not read while its head is -1)
        now += 1
    _add_counts(counters, n_synops, n_work, n_bytes, n_sent, n_sent, n_received, n_link_wait, n_core_wait,
                n_local * flits, n_x * flits, n_y * flits)
    return phase_end


@njit(cache=True)
def _multicast_phase(n_active, active_units, sel, out_ptr, out_core, out_synops, out_work, out_bytes, out_cycles,
                     route_ptr, route_info, flits, link_free, core_free, core_busy, link_edge,
                     head, tail, counters):
    """Spike phase with in-network multicast: one packet per presynaptic unit.

    The packet's copies branch along the union of its destinations' routes, a
    tree of link traversals (edges) built here in unit order, destination order.
    An event is the far end of an edge; the children of an edge reserve their
    links when it arrives. Leaves (ejection links) queue at their core when
    reserved, as in :func:`_unicast_phase`. Returns the cycle the phase ends.
    """
    need = 0
    for a in range(n_active):
        u = active_units[a]
        need += route_ptr[out_ptr[u + 1]] - route_ptr[out_ptr[u]]
    e_link = np.empty(need, dtype=np.int64)
    e_cost = np.empty(need, dtype=np.int64)
    e_dst = np.empty(need, dtype=np.int64)
    e_cycles = np.empty(need, dtype=np.int64)
    e_first = np.empty(need, dtype=np.int64)  # first child
    e_last = np.empty(need, dtype=np.int64)  # last child
    e_sibling = np.empty(need, dtype=np.int64)  # next child of the same parent
    e_next = np.empty(need, dtype=np.int64)  # next event in the same calendar bucket
    roots = np.empty(n_active, dtype=np.int64)
    n_edges = n_roots = 0
    n_synops = n_work = n_bytes = n_sent = n_received = n_link_wait = n_core_wait = n_local = n_x = n_y = 0
    for a in range(n_active):
        u = active_units[a]
        su = sel[u]
        sel[u] = 0
        first_edge = n_edges
        for k in range(out_ptr[u], out_ptr[u + 1]):
            syn, work, nbytes = _entry_cost(k, su, out_synops, out_work, out_bytes)
            if syn == 0:
                continue
            n_synops += syn
            n_work += work
            n_bytes += nbytes
            n_sent += 1
            parent = -1
            for i in range(route_ptr[k], route_ptr[k + 1]):
                link = route_info[i, 0]
                if link_edge[link] >= 0:  # shared with an earlier destination of this packet
                    parent = link_edge[link]
                    continue
                e = n_edges
                n_edges += 1
                link_edge[link] = e
                e_link[e] = link
                e_cost[e] = route_info[i, 1]
                e_dst[e] = route_info[i, 2]
                e_cycles[e] = out_cycles[k, su - 1]
                e_first[e] = -1
                e_last[e] = -1
                e_sibling[e] = -1
                if parent < 0:
                    roots[n_roots] = e
                    n_roots += 1
                elif e_last[parent] < 0:
                    e_first[parent] = e
                    e_last[parent] = e
                else:
                    e_sibling[e_last[parent]] = e
                    e_last[parent] = e
                parent = e
        for e in range(first_edge, n_edges):  # forget this packet's tree
            link_edge[e_link[e]] = -1
            if e_link[e] < 2 * core_free.shape[0]:
                n_local += 1
            elif (e_link[e] - 2 * core_free.shape[0]) % 4 < 2:
                n_x += 1
            else:
                n_y += 1

    phase_end = 0
    pending = 0
    for r in range(n_roots):  # a root is an injection link: never a leaf
        e = roots[r]
        depart = _reserve(link_free, e_link[e], 0, flits)
        n_link_wait += depart
        _calendar_push(head, tail, e_next, depart + e_cost[e], e)
        pending += 1
    now = 0
    while pending > 0:
        e = head[now]
        if e < 0:
            now += 1
            continue
        while e >= 0:
            pending -= 1
            phase_end = max(phase_end, now)
            c = e_first[e]
            while c >= 0:
                depart = _reserve(link_free, e_link[c], now, flits)
                n_link_wait += depart - now
                arrive = depart + e_cost[c]
                if e_dst[c] >= 0:
                    start, finish = _queue_at_core(core_free, core_busy, e_dst[c], arrive, e_cycles[c])
                    n_core_wait += start - arrive
                    n_received += 1
                    phase_end = max(phase_end, finish)
                else:
                    _calendar_push(head, tail, e_next, arrive, c)
                    pending += 1
                c = e_sibling[c]
            e = e_next[e]
        head[now] = -1  # the bucket is empty again (its tail is not read while its head is -1)
        now += 1
    _add_counts(counters, n_synops, n_work, n_bytes, n_sent, n_roots, n_received, n_link_wait, n_core_wait,
                n_local * flits, n_x * flits, n_y * flits)
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
            if fired[row, base - n_inputs + j]:
                fired_on_core[unit_core[base + j]] += 1
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
    out_core,
    out_synops,
    out_work,
    out_bytes,
    units_per_layer_core,
    route_ptr,
    route_links,
    route_info,
    route_hops,
    out_cycles,
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
        Events of every layer unit (layers concatenated); row ``r`` is token
        ``fired_first_token + r``. Must cover ``token_begin - 1`` when it is >= 0.
    layer_offsets : int64 [L+1]
        Global index of the first unit of each layer; input units are ``0..layer_offsets[0]``.
    unit_core : int64 [n_units]
    out_ptr, out_core : CSR over presynaptic units of their destination cores.
    out_synops, out_work, out_bytes : int64 [n_entries, 2]
        Per destination entry, for the ff (column 0) and rec (column 1) projection:
        nonzero synapses, synapse entries processed, synapse-memory bytes read.
    units_per_layer_core : int64 [L, n_cores]
    route_ptr, route_links : CSR over destination entries of their links (:func:`entry_routes`).
    route_info : int64 [n_positions, 3]
        Per route position: its link, ``flits + latency`` of the link, and the
        destination core at the route's last position (-1 elsewhere).
    route_hops : int64 [n_entries, 3], local, x and y links of each entry's route.
    out_cycles : int64 [n_entries, 3]
        Synapse-processing cycles of a packet for the ff, rec and both projections.
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
    link_edge = np.full(n_links, -1, dtype=np.int64)
    fired_on_core = np.zeros(n_cores, dtype=np.int64)
    update_cycles = np.zeros(n_cores, dtype=np.int64)
    n_entries = out_core.shape[0]
    pk_link = np.empty(n_entries, dtype=np.int32)  # per packet of a step: the link it waits for,
    pk_cost = np.empty(n_entries, dtype=np.int32)  # that link's flits + latency,
    pk_dst = np.empty(n_entries, dtype=np.int32)  # the core behind it (-1: a mesh link),
    pk_pos = np.empty(n_entries, dtype=np.int32)  # its route position,
    pk_cycles = np.empty(n_entries, dtype=np.int64)  # the synapse cycles at its core,
    pk_next = np.empty(n_entries, dtype=np.int32)  # and the next packet in its calendar bucket
    head = np.full(1024, -1, dtype=np.int32)
    tail = np.full(1024, -1, dtype=np.int32)
    max_latency = 0
    for i in range(route_info.shape[0]):
        max_latency = max(max_latency, route_info[i, 1] - flits)

    for si in range(n_steps):
        s = step_begin + si
        n_active = _senders(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets, sel,
                            active_units)
        counters[SPIKES] += n_active
        link_free[:] = 0
        core_free[:] = 0
        traversals = 0
        for a in range(n_active):
            u = active_units[a]
            traversals += route_ptr[out_ptr[u + 1]] - route_ptr[out_ptr[u]]
        latest = traversals * (flits + max_latency) + 1
        if latest > head.shape[0]:
            head = np.full(latest, -1, dtype=np.int32)
            tail = np.full(latest, -1, dtype=np.int32)
        if multicast:
            phase_end = _multicast_phase(
                n_active, active_units, sel, out_ptr, out_core, out_synops, out_work, out_bytes, out_cycles,
                route_ptr, route_info, flits, link_free, core_free, core_busy, link_edge, head, tail, counters)
        else:
            phase_end = _unicast_phase(
                n_active, active_units, sel, out_ptr, out_core, out_synops, out_work, out_bytes, out_cycles,
                route_ptr, route_info, route_hops, flits, link_free, core_free, core_busy,
                pk_link, pk_cost, pk_dst, pk_pos, pk_cycles, pk_next, head, tail, counters)
        update_end = _update_phase(s, pipelined, token_begin, token_end, fired, fired_first_token, layer_offsets,
                                   gates, unit_core, units_per_layer_core, p, fired_on_core, update_cycles,
                                   core_busy, counters)
        counters[BARRIERS] += 1
        counters[SPIKE_PHASE_CYCLES] += phase_end
        counters[BARRIER_CYCLES] += p[P_BARRIER]
        counters[UPDATE_PHASE_CYCLES] += update_end
        step = phase_end + p[P_BARRIER] + update_end
        step_cycles[si] = step
        counters[TOTAL_CYCLES] += step
    return counters, step_cycles, core_busy
