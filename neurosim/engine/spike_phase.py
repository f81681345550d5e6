"""Spike-phase kernels: the packets of one timestep, replayed cycle by cycle.

Timing rules (the SimPy twin, :mod:`neurosim.engine.reference`, states them again in plain Python):

- **Send side.** Each core generates its messages one after another, in
  presynaptic-unit order: a spiking unit first costs ``spike_cycles``, then
  each of its messages ``send_cycles``; a message is ready when its send work
  is done. With source replication a unit sends one message per destination
  core (in destination-core order), with in-network multicast one message.
- **Links.** A packet of ``F`` flits crosses its route's links: the source
  core's injection link, mesh links, the destination core's ejection link.
  A link serves packets first come first served and is busy ``F`` cycles per
  packet: ``depart = max(ready, link_free)``, ``link_free = depart + F``. The
  packet is ready at the next link ``cost`` cycles after it departs, where
  ``cost`` is ``1 + latency`` (the head flit; ``noc.switching: wormhole``) or
  ``F + latency`` (``store_and_forward``) and ``F + latency`` on the ejection
  link (the whole packet has arrived). Packets ready at the same cycle are served
  in the order their arrival was scheduled.
- **Receive side.** A delivered packet waits in its core's input queue; the
  core processes packets first come first served, each taking
  ``receive_cycles + ceil(work / synops_per_cycle)`` cycles. With
  ``shared_core`` the core's one processor does its send work first, so its
  receive work starts no earlier than its last send.

The phase ends when the last packet is processed or the last send is done.
"""

from __future__ import annotations

from numba import njit

from neurosim.engine.layout import (
    CORE_WAIT_CYCLES,
    ENTRY_FIRST_POSITION,
    FLIT_HOPS_X,
    FLIT_HOPS_Y,
    FLITS_LOCAL,
    LINK_WAIT_CYCLES,
    N_SPIKE_TOTALS,
    PACKETS_INJECTED,
    PACKETS_RECEIVED,
    PACKETS_SENT,
    REC_CYCLES,
    REC_FIELDS,
    REC_HOP,
    REC_NEXT,
    REC_POSITION,
    ST_BYTES,
    ST_DELIVERED,
    ST_INJECTED,
    ST_LOCAL,
    ST_SYNOPS,
    ST_WORK,
    ST_X,
    ST_Y,
    SYNAPSE_BYTES,
    SYNAPSE_WORK,
    SYNOPS,
    TREE_CYCLES,
    TREE_FIRST_CHILD,
    TREE_HOP,
    TREE_N_CHILDREN,
)

# ----------------------------------------------------------------------------- the calendar
# Events of a spike phase sit in FIFO buckets, one per cycle (``head``/``tail`` per
# cycle, ``nxt`` per item), so they run in (time, order scheduled) order: the order
# SimPy gives to timeouts. The buckets form a ring (cycle ``t`` in bucket ``t & ring``),
# emptied as time passes; the caller makes the ring longer than any event can be
# ahead of the current cycle, so no two pending events of different cycles share a bucket.
# The clock visits every cycle up to the last event: an empty cycle costs one read, which
# measured cheaper than keeping an occupancy bitmap to skip runs of empty cycles.


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
def add_spike(acc, spike_totals, u, choice):
    """Add what one spike of unit ``u`` sending projections ``choice`` costs to the step's totals ``acc``."""
    for j in range(N_SPIKE_TOTALS):
        acc[j] += spike_totals[u, choice, j]


@njit(cache=True, inline="always")
def count_spikes(counters, acc, flits, received, link_wait, core_wait):
    """Add a spike phase's totals (``acc``, columns ``ST_*``) and what its replay measured to the counters."""
    counters[SYNOPS] += acc[ST_SYNOPS]
    counters[SYNAPSE_WORK] += acc[ST_WORK]
    counters[SYNAPSE_BYTES] += acc[ST_BYTES]
    counters[FLITS_LOCAL] += acc[ST_LOCAL] * flits
    counters[FLIT_HOPS_X] += acc[ST_X] * flits
    counters[FLIT_HOPS_Y] += acc[ST_Y] * flits
    counters[PACKETS_SENT] += acc[ST_DELIVERED]
    counters[PACKETS_INJECTED] += acc[ST_INJECTED]
    counters[PACKETS_RECEIVED] += received
    counters[LINK_WAIT_CYCLES] += link_wait
    counters[CORE_WAIT_CYCLES] += core_wait


@njit(cache=True, inline="always")
def _start_receiving(shared, send_free, core_free):
    """A shared processor serves received packets only after its own sends."""
    if shared:
        for c in range(core_free.shape[0]):
            core_free[c] = send_free[c]


@njit(cache=True)
def unicast_phase(n_active, active_units, sel, unit_core, out_ptr, entry_table, spike_totals, route_hop, flits,
                  cost_shift, dst_shift, spike_cycles, send_cycles, shared, send_free, link_free, core_free,
                  core_busy, rec, tail, acc, counters, link_flits):
    """Spike phase with source replication: one packet per destination core.

    A packet is one destination entry; its events are the far ends of the links
    of its route, in one calendar ring (cycle ``t`` in bucket ``t & (B-1)``), each
    bucket a FIFO in the order its events were scheduled. An event at a mesh link
    reserves that link and schedules the packet's next event; an event at an
    ejection link reserves it and queues the packet at its core, without a further
    event (the ejection link serves one core, so packets leave it in the order the
    core receives them). The injection link is reserved when the packet is created,
    at the cycle its send work ends.

    Records: ``rec[REC_FIELDS * q + REC_*]`` is packet ``q``'s next hop (packed, see
    ``route_hop``), its route position, its synapse cycles and the next event in
    its calendar bucket; records ``n_entries + b`` are only the first event of
    bucket ``b`` (field ``REC_NEXT``). ``tail[b]`` is the record of bucket ``b``'s last
    event (its own head record when empty), so appending never branches.
    One record per packet keeps an event to one cache line. ``send_free[c]``
    ends as core ``c``'s send work. Returns the cycle the phase ends.
    """
    acc[:] = 0
    n_sent = n_received = n_link_wait = n_core_wait = 0
    link_mask = (1 << cost_shift) - 1
    cost_mask = (1 << (dst_shift - cost_shift)) - 1
    n_buckets = tail.shape[0]
    base = rec.shape[0] // REC_FIELDS - n_buckets
    ring = n_buckets - 1
    for a in range(n_active):
        u = active_units[a]
        su = sel[u]
        sel[u] = 0
        add_spike(acc, spike_totals, u, su - 1)
        c = unit_core[u]
        ready = send_free[c] + spike_cycles
        k_begin = out_ptr[u]
        k_end = out_ptr[u + 1]
        if k_end == k_begin:
            send_free[c] = ready
            continue
        hop = route_hop[entry_table[k_begin, ENTRY_FIRST_POSITION]]
        inj_link = hop & link_mask
        inj_cost = (hop >> cost_shift) & cost_mask
        free = link_free[inj_link]
        for k in range(k_begin, k_end):
            cycles = entry_table[k, su]
            if cycles < 0:
                continue
            ready += send_cycles
            q = n_sent
            n_sent += 1
            i = entry_table[k, ENTRY_FIRST_POSITION] + 1
            hop = route_hop[i]
            rq = REC_FIELDS * q
            rec[rq + REC_HOP] = hop
            rec[rq + REC_POSITION] = i
            rec[rq + REC_CYCLES] = cycles
            rec[rq + REC_NEXT] = -1
            depart = max(free, ready)
            n_link_wait += depart - ready
            b = (depart + inj_cost) & ring
            free = depart + flits
            rec[REC_FIELDS * tail[b] + REC_NEXT] = q
            tail[b] = q
            link_flits[inj_link] += flits
        link_free[inj_link] = free
        send_free[c] = ready
    _start_receiving(shared, send_free, core_free)
    pending = n_sent
    phase_end = 0
    now = 0
    while pending > 0:
        b = now & ring
        q = rec[REC_FIELDS * (base + b) + REC_NEXT]
        if q < 0:
            now += 1
            continue
        while q >= 0:
            rq = REC_FIELDS * q
            following = rec[rq + REC_NEXT]
            hop = rec[rq + REC_HOP]
            depart = _reserve(link_free, hop & link_mask, now, flits)
            link_flits[hop & link_mask] += flits
            n_link_wait += depart - now
            arrive = depart + ((hop >> cost_shift) & cost_mask)
            dst = (hop >> dst_shift) - 1
            if dst < 0:
                i = rec[rq + REC_POSITION] + 1
                rec[rq + REC_HOP] = route_hop[i]
                rec[rq + REC_POSITION] = i
                rec[rq + REC_NEXT] = -1
                slot = arrive & ring
                rec[REC_FIELDS * tail[slot] + REC_NEXT] = q
                tail[slot] = q
            else:
                start, finish = _queue_at_core(core_free, core_busy, dst, arrive, rec[rq + REC_CYCLES])
                n_core_wait += start - arrive
                n_received += 1
                pending -= 1
                phase_end = max(phase_end, finish)
            q = following
        rec[REC_FIELDS * (base + b) + REC_NEXT] = -1
        tail[b] = base + b
        now += 1
    count_spikes(counters, acc, flits, n_received, n_link_wait, n_core_wait)
    return phase_end


@njit(cache=True)
def multicast_phase(n_active, active_units, sel, unit_core, spike_totals, tree_ptr, tree, flits, cost_shift,
                    dst_shift, spike_cycles, send_cycles, shared, send_free, link_free, core_free, core_busy, e_next,
                    head, tail, acc, counters, link_flits):
    """Spike phase with in-network multicast: one packet per presynaptic unit.

    The packet's copies branch along its tree (:func:`neurosim.engine.routes.multicast_trees`), whose
    edges are link traversals. An event is the far end of an edge; the children
    of an edge reserve their links when it arrives, in the order they were
    added to the tree. Leaves (ejection links) queue at their core when
    reserved, as in :func:`unicast_phase`. A unit spikes at most once per
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
        add_spike(acc, spike_totals, u, choice)
        c = unit_core[u]
        ready = send_free[c] + spike_cycles
        root = tree_ptr[3 * u + choice]
        if tree_ptr[3 * u + choice + 1] == root:
            send_free[c] = ready
            continue
        ready += send_cycles
        send_free[c] = ready
        # a root is an injection link: never a leaf
        hop = tree[root, TREE_HOP]
        depart = _reserve(link_free, hop & link_mask, ready, flits)
        link_flits[hop & link_mask] += flits
        n_link_wait += depart - ready
        b = (depart + ((hop >> cost_shift) & cost_mask)) & ring
        _calendar_push(head, tail, e_next, b, root)
        pending += 1
    _start_receiving(shared, send_free, core_free)
    now = 0
    while pending > 0:
        e = head[now & ring]
        if e < 0:
            now += 1
            continue
        while e >= 0:
            pending -= 1
            phase_end = max(phase_end, now)
            first = tree[e, TREE_FIRST_CHILD]
            for c in range(first, first + tree[e, TREE_N_CHILDREN]):
                hop = tree[c, TREE_HOP]
                depart = _reserve(link_free, hop & link_mask, now, flits)
                link_flits[hop & link_mask] += flits
                n_link_wait += depart - now
                arrive = depart + ((hop >> cost_shift) & cost_mask)
                dst = (hop >> dst_shift) - 1
                if dst >= 0:
                    start, finish = _queue_at_core(core_free, core_busy, dst, arrive, tree[c, TREE_CYCLES])
                    n_core_wait += start - arrive
                    n_received += 1
                    phase_end = max(phase_end, finish)
                else:
                    _calendar_push(head, tail, e_next, arrive & ring, c)
                    pending += 1
            e = e_next[e]
        head[now & ring] = -1  # the bucket is empty again (its tail is not read while its head is -1)
        now += 1
    count_spikes(counters, acc, flits, n_received, n_link_wait, n_core_wait)
    return phase_end
