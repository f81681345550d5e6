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


@njit(cache=True)
def link_latency(link, p):
    n_cores = p[P_N_CORES]
    if link < 2 * n_cores:
        return p[P_LOCAL_LAT]
    d = (link - 2 * n_cores) % 4
    return p[P_HOP_X_LAT] if d < 2 else p[P_HOP_Y_LAT]


@njit(cache=True)
def _grow_fill(a, n):
    """``a`` extended to length ``n`` with -1 (calendar buckets)."""
    b = np.full(n, -1, dtype=a.dtype)
    b[: a.shape[0]] = a
    return b


@njit(cache=True)
def _grow(a, n):
    if n <= a.shape[0]:
        return a
    b = np.empty(max(n, 2 * a.shape[0]), dtype=a.dtype)
    b[: a.shape[0]] = a
    return b



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
    n_layers = layer_offsets.shape[0] - 1
    n_inputs = layer_offsets[0]
    n_units = layer_offsets[n_layers]
    n_cores = p[P_N_CORES]
    n_links = 2 * n_cores + 4 * p[P_MESH_X] * p[P_MESH_Y]
    flits = p[P_FLITS]
    pipelined = p[P_PIPELINED] == 1
    multicast = p[P_MULTICAST] == 1

    s_begin = step_begin
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

    cap = 1024
    e_link = np.empty(cap, dtype=np.int64)
    e_first = np.empty(cap, dtype=np.int64)
    e_last = np.empty(cap, dtype=np.int64)
    e_next = np.empty(cap, dtype=np.int64)
    e_dst = np.empty(cap, dtype=np.int64)
    e_cycles = np.empty(cap, dtype=np.int64)
    roots = np.empty(cap, dtype=np.int64)
    ev_next = np.empty(max(cap, route_links.shape[0]), dtype=np.int64)
    pk_pos = np.empty(out_core.shape[0], dtype=np.int64)  # per packet of a step: route position
    pk_cycles = np.empty(out_core.shape[0], dtype=np.int64)  # and synapse cycles at its core
    pk_next = np.empty(out_core.shape[0], dtype=np.int64)  # next packet in the same calendar bucket
    pk_link = np.empty(out_core.shape[0], dtype=np.int64)  # the link a packet waits for,
    pk_cost = np.empty(out_core.shape[0], dtype=np.int64)  # its flits + latency,
    pk_dst = np.empty(out_core.shape[0], dtype=np.int64)  # and the core behind it (-1: a mesh link)
    bucket_head = np.full(1024, -1, dtype=np.int64)
    bucket_tail = np.full(1024, -1, dtype=np.int64)
    max_latency = max(p[P_LOCAL_LAT], p[P_HOP_X_LAT], p[P_HOP_Y_LAT])

    for si in range(n_steps):
        s = s_begin + si
        # ---- which presynaptic units send in this timestep, and to which projections
        n_active = 0
        for l in range(n_layers):
            if pipelined:
                t = s - l
            else:
                if s % n_layers != l:
                    continue
                t = s // n_layers
            if t < token_begin or t >= token_end:
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
        for u in range(n_units):
            if sel[u] != 0:
                active_units[n_active] = u
                n_active += 1

        if not multicast:
            # ---- source replication: a packet is one destination entry, an event one
            # position of its route, so nothing is built; events run in (time, order scheduled)
            for i in range(n_links):
                link_free[i] = 0
            for c in range(n_cores):
                core_free[c] = 0
            n_synops = 0
            n_work = 0
            n_bytes = 0
            n_sent = 0
            n_link_wait = 0
            n_core_wait = 0
            n_received = 0
            n_local = 0
            n_x = 0
            n_y = 0
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
                    n_sent += 1
                    pk = n_sent - 1  # packets of the step are numbered in creation order
                    pk_cycles[pk] = out_cycles[k, su - 1]
                    n_local += route_hops[k, 0]
                    n_x += route_hops[k, 1]
                    n_y += route_hops[k, 2]
                    i = route_ptr[k]
                    pk_pos[pk] = i + 1
                    pk_link[pk] = route_info[i + 1, 0]  # the next hop, read while its cache line is hot
                    pk_cost[pk] = route_info[i + 1, 1]
                    pk_dst[pk] = route_info[i + 1, 2]
                    link = route_info[i, 0]
                    depart = link_free[link]
                    n_link_wait += depart
                    link_free[link] = depart + flits
                    arrive = depart + route_info[i, 1]
                    if arrive >= bucket_head.shape[0]:
                        w = bucket_head.shape[0]
                        while w <= arrive:
                            w *= 2
                        bucket_head = _grow_fill(bucket_head, w)
                        bucket_tail = _grow_fill(bucket_tail, w)
                    pk_next[pk] = -1
                    if bucket_head[arrive] < 0:
                        bucket_head[arrive] = pk
                    else:
                        pk_next[bucket_tail[arrive]] = pk
                    bucket_tail[arrive] = pk
                    pending += 1
            n_injected = n_sent
            phase_end = 0
            now = 0
            while pending > 0:
                pk = bucket_head[now]
                while pk >= 0:
                    following = pk_next[pk]  # read first: pk may be re-queued below
                    pending -= 1
                    if now > phase_end:
                        phase_end = now
                    link = pk_link[pk]
                    depart = link_free[link]
                    if depart < now:
                        depart = now
                    n_link_wait += depart - now
                    link_free[link] = depart + flits
                    arrive = depart + pk_cost[pk]
                    dst = pk_dst[pk]
                    if dst >= 0:
                        # the ejection link serves one core, so packets leave it in the order
                        # the core receives them: queue into the core now, no event needed
                        start = core_free[dst]
                        if start < arrive:
                            start = arrive
                        n_core_wait += start - arrive
                        cycles = pk_cycles[pk]
                        finish = start + cycles
                        core_free[dst] = finish
                        core_busy[dst] += cycles
                        n_received += 1
                        if finish > phase_end:
                            phase_end = finish
                    else:
                        if arrive >= bucket_head.shape[0]:
                            w = bucket_head.shape[0]
                            while w <= arrive:
                                w *= 2
                            bucket_head = _grow_fill(bucket_head, w)
                            bucket_tail = _grow_fill(bucket_tail, w)
                        j = pk_pos[pk] + 1
                        pk_pos[pk] = j
                        pk_link[pk] = route_info[j, 0]
                        pk_cost[pk] = route_info[j, 1]
                        pk_dst[pk] = route_info[j, 2]
                        pk_next[pk] = -1
                        if bucket_head[arrive] < 0:
                            bucket_head[arrive] = pk
                        else:
                            pk_next[bucket_tail[arrive]] = pk
                        bucket_tail[arrive] = pk
                        pending += 1
                    pk = following
                bucket_head[now] = -1
                bucket_tail[now] = -1
                now += 1
            counters[SPIKES] += n_active
            counters[SYNOPS] += n_synops
            counters[SYNAPSE_WORK] += n_work
            counters[SYNAPSE_BYTES] += n_bytes
            counters[PACKETS_SENT] += n_sent
            counters[PACKETS_INJECTED] += n_injected
            counters[PACKETS_RECEIVED] += n_received
            counters[LINK_WAIT_CYCLES] += n_link_wait
            counters[CORE_WAIT_CYCLES] += n_core_wait
            counters[FLITS_LOCAL] += n_local * flits
            counters[FLIT_HOPS_X] += n_x * flits
            counters[FLIT_HOPS_Y] += n_y * flits
        else:
            # ---- build the packets (edges of link traversals) in unit order, destination order
            n_edges = 0
            n_roots = 0
            n_synops = 0
            n_work = 0
            n_bytes = 0
            n_sent = 0
            n_injected = 0
            for a in range(n_active):
                u = active_units[a]
                su = sel[u]
                sel[u] = 0
                first_edge = n_edges
                k0 = out_ptr[u]
                k1 = out_ptr[u + 1]
                need = n_edges + route_ptr[k1] - route_ptr[k0]
                if need > e_link.shape[0]:
                    e_link = _grow(e_link, need)
                    e_first = _grow(e_first, need)
                    e_last = _grow(e_last, need)
                    e_next = _grow(e_next, need)
                    e_dst = _grow(e_dst, need)
                    e_cycles = _grow(e_cycles, need)
                    roots = _grow(roots, need)
                for k in range(k0, k1):
                    syn, work, nbytes = _entry_cost(k, su, out_synops, out_work, out_bytes)
                    if syn == 0:
                        continue
                    n_synops += syn
                    n_work += work
                    n_bytes += nbytes
                    n_sent += 1
                    cycles = out_cycles[k, su - 1]
                    parent = -1
                    for i in range(route_ptr[k], route_ptr[k + 1]):
                        link = route_links[i]
                        if multicast and link_edge[link] >= 0:
                            parent = link_edge[link]
                            continue
                        e = n_edges
                        n_edges += 1
                        e_link[e] = link
                        e_first[e] = -1
                        e_last[e] = -1
                        e_next[e] = -1
                        e_dst[e] = -1
                        if parent < 0:
                            roots[n_roots] = e
                            n_roots += 1
                            n_injected += 1
                        else:
                            if e_last[parent] < 0:
                                e_first[parent] = e
                            else:
                                e_next[e_last[parent]] = e
                            e_last[parent] = e
                        if multicast:
                            link_edge[link] = e
                        parent = e
                    e_dst[parent] = out_core[k]
                    e_cycles[parent] = cycles
                if multicast:  # forget this packet's tree
                    for e in range(first_edge, n_edges):
                        link_edge[e_link[e]] = -1
            counters[SPIKES] += n_active
            counters[SYNOPS] += n_synops
            counters[SYNAPSE_WORK] += n_work
            counters[SYNAPSE_BYTES] += n_bytes
            counters[PACKETS_SENT] += n_sent
            counters[PACKETS_INJECTED] += n_injected

            # ---- discrete-event replay of the spike phase: a calendar of FIFO buckets,
            # one per cycle, so events run in (time, order scheduled) order
            for i in range(n_links):
                link_free[i] = 0
            for c in range(n_cores):
                core_free[c] = 0
            max_delay = n_edges * flits + flits + max_latency + 1
            if max_delay > bucket_head.shape[0]:
                w = bucket_head.shape[0]
                while w < max_delay:
                    w *= 2
                bucket_head = np.full(w, -1, dtype=np.int64)
                bucket_tail = np.full(w, -1, dtype=np.int64)
            mask = bucket_head.shape[0] - 1
            if ev_next.shape[0] < n_edges:
                ev_next = np.empty(e_link.shape[0], dtype=np.int64)
            pending = 0
            phase_end = 0
            for r in range(n_roots):
                e = roots[r]
                link = e_link[e]
                depart = link_free[link]
                link_free[link] = depart + flits
                arrive = depart + flits + link_latency(link, p)
                counters[LINK_WAIT_CYCLES] += depart
                b = arrive & mask
                ev_next[e] = -1
                if bucket_head[b] < 0:
                    bucket_head[b] = e
                else:
                    ev_next[bucket_tail[b]] = e
                bucket_tail[b] = e
                pending += 1
            now = 0
            while pending > 0:
                b = now & mask
                e = bucket_head[b]
                while e >= 0:
                    pending -= 1
                    link = e_link[e]
                    if link < 2 * n_cores:
                        counters[FLITS_LOCAL] += flits
                    elif (link - 2 * n_cores) % 4 < 2:
                        counters[FLIT_HOPS_X] += flits
                    else:
                        counters[FLIT_HOPS_Y] += flits
                    if now > phase_end:
                        phase_end = now
                    dst = e_dst[e]
                    if dst >= 0:
                        start = core_free[dst]
                        if start < now:
                            start = now
                        counters[CORE_WAIT_CYCLES] += start - now
                        finish = start + e_cycles[e]
                        core_free[dst] = finish
                        core_busy[dst] += e_cycles[e]
                        counters[PACKETS_RECEIVED] += 1
                        if finish > phase_end:
                            phase_end = finish
                    c = e_first[e]
                    while c >= 0:
                        link = e_link[c]
                        depart = link_free[link]
                        if depart < now:
                            depart = now
                        counters[LINK_WAIT_CYCLES] += depart - now
                        link_free[link] = depart + flits
                        arrive = depart + flits + link_latency(link, p)
                        bc = arrive & mask
                        ev_next[c] = -1
                        if bucket_head[bc] < 0:
                            bucket_head[bc] = c
                        else:
                            ev_next[bucket_tail[bc]] = c
                        bucket_tail[bc] = c
                        pending += 1
                        c = e_next[c]
                    e = ev_next[e]
                bucket_head[b] = -1
                bucket_tail[b] = -1
                now += 1


        # ---- barrier, then neuron updates of the layers active in this timestep
        update_end = 0
        for c in range(n_cores):
            update_cycles[c] = 0
        for l in range(n_layers):
            if pipelined:
                t = s - l
            else:
                if s % n_layers != l:
                    continue
                t = s // n_layers
            if t < token_begin or t >= token_end:
                continue
            row = t - fired_first_token
            for c in range(n_cores):
                fired_on_core[c] = 0
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
        for c in range(n_cores):
            core_busy[c] += update_cycles[c]
            if update_cycles[c] > update_end:
                update_end = update_cycles[c]

        counters[BARRIERS] += 1
        counters[SPIKE_PHASE_CYCLES] += phase_end
        counters[BARRIER_CYCLES] += p[P_BARRIER]
        counters[UPDATE_PHASE_CYCLES] += update_end
        step = phase_end + p[P_BARRIER] + update_end
        step_cycles[si] = step
        counters[TOTAL_CYCLES] += step
    return counters, step_cycles, core_busy
