"""The timestep kernel of the exact engine: senders, spike phase, barrier, neuron updates.

One timestep runs the phases of :data:`neurosim.engine.layout.PHASES`:

1. ``spike``: every presynaptic unit that is active in the timestep sends its
   event (:mod:`neurosim.engine.spike_phase` gives the timing rules).
2. ``barrier``: ``barrier`` cycles (a function of the routers in use).
3. ``update``: every core updates the compartments of the layers active in
   the timestep: ``update_active`` cycles for a unit that fired,
   ``update_received`` for one that received input but did not fire,
   ``update_inactive`` otherwise; the phase lasts as long as the slowest core.

Layers are pipelined (layer ``l`` handles token ``s - l`` in timestep ``s``)
or sequential (timestep ``s`` handles layer ``s % L`` of token ``s // L``).
The layers after the event layers (the readout) receive the last event
layer's events and never fire.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.engine.layout import (
    BARRIER_CYCLES,
    BARRIERS,
    CHOICE_FF,
    CHOICE_REC,
    CORE_BUSY_CYCLES,
    LC_SYNOPS,
    LC_UPDATE_CYCLES,
    LC_UPDATES_ACTIVE,
    LC_UPDATES_INACTIVE,
    LC_UPDATES_RECEIVED,
    N_COUNTERS,
    N_LAYER_COUNTS,
    N_SPIKE_TOTALS,
    P_BARRIER,
    P_COST_SHIFT,
    P_DST_SHIFT,
    P_FLITS,
    P_MAX_LATENCY,
    P_MESH_X,
    P_MESH_Y,
    P_MULTICAST,
    P_N_CORES,
    P_PIPELINED,
    P_SEND,
    P_SHARED_CORE,
    P_SPIKE,
    P_TIMER,
    P_UPD_ACTIVE,
    P_UPD_INACTIVE,
    P_UPD_RECEIVED,
    REC_FIELDS,
    SEL_FF,
    SEL_REC,
    SEND_CYCLES,
    SPIKE_PHASE_CYCLES,
    SPIKES,
    ST_SYNOPS,
    TIMER_IDLE_CYCLES,
    TIMER_OVERRUNS,
    TOTAL_CYCLES,
    UPDATE_PHASE_CYCLES,
    UPDATES_ACTIVE,
    UPDATES_INACTIVE,
    UPDATES_RECEIVED,
    n_links,
)
from neurosim.engine.spike_phase import multicast_phase, unicast_phase


@njit(cache=True, inline="always")
def token_in_step(s, l, n_layers, pipelined, token_begin, token_end):
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
def senders(s, pipelined, token_begin, token_end, fired, inputs, fired_first_token, layer_offsets, n_event_layers,
            sel, active_units):
    """Mark the presynaptic units that send in timestep ``s`` (``sel``: SEL_FF | SEL_REC); their count.

    ``inputs[row, u]`` says whether input unit ``u`` sends for the row's token; an ``inputs`` with no
    columns means all of them always do (the dense embedding).
    """
    dense_input = inputs.shape[1] == 0
    n_layers = layer_offsets.shape[0] - 1
    n_inputs = layer_offsets[0]
    for l in range(n_layers):
        t = token_in_step(s, l, n_layers, pipelined, token_begin, token_end)
        if t < 0:
            continue
        if l == 0:
            if dense_input:
                for u in range(n_inputs):
                    sel[u] |= SEL_FF
            else:
                row = t - fired_first_token
                for u in range(n_inputs):
                    sel[u] |= SEL_FF * (inputs[row, u] != 0)
        else:  # branch-free: a unit fires in ~10-30% of steps, at random
            row = t - fired_first_token
            for j in range(layer_offsets[l] - layer_offsets[l - 1]):
                sel[layer_offsets[l - 1] + j] |= SEL_FF * (fired[row, layer_offsets[l - 1] - n_inputs + j] != 0)
        if t >= 1 and l < n_event_layers:
            row = t - 1 - fired_first_token
            for j in range(layer_offsets[l + 1] - layer_offsets[l]):
                sel[layer_offsets[l] + j] |= SEL_REC * (fired[row, layer_offsets[l] - n_inputs + j] != 0)
    n_active = 0
    for u in range(layer_offsets[n_event_layers]):
        active_units[n_active] = u
        n_active += sel[u] != 0
    return n_active


@njit(cache=True, inline="always")
def count_layer_synops(n_active, active_units, sel, unit_layer, spike_totals, layer_counts):
    """Synops into each layer: a unit's ff projection feeds the next layer, its rec projection its own."""
    for a in range(n_active):
        u = active_units[a]
        su = sel[u]
        if su & SEL_FF:
            layer_counts[unit_layer[u] + 1, LC_SYNOPS] += spike_totals[u, CHOICE_FF, ST_SYNOPS]
        if su & SEL_REC:
            layer_counts[unit_layer[u], LC_SYNOPS] += spike_totals[u, CHOICE_REC, ST_SYNOPS]


@njit(cache=True)
def update_phase(s, pipelined, token_begin, token_end, fired, received, fired_first_token, layer_offsets,
                 layer_gates, n_event_layers, unit_core, units_per_layer_core, p, fired_on_core, received_on_core,
                 update_cycles, core_busy, counters, layer_counts):
    """Neuron updates of the layers active in timestep ``s``; the slowest core's cycles.

    ``received[row, j]`` is 1 where layer unit ``j`` received input for the token of ``row``.
    """
    n_layers = layer_offsets.shape[0] - 1
    n_inputs = layer_offsets[0]
    n_cores = update_cycles.shape[0]
    update_cycles[:] = 0
    for l in range(n_layers):
        t = token_in_step(s, l, n_layers, pipelined, token_begin, token_end)
        if t < 0:
            continue
        row = t - fired_first_token
        fired_on_core[:] = 0
        received_on_core[:] = 0
        base = layer_offsets[l]
        if l < n_event_layers:
            for j in range(layer_offsets[l + 1] - base):
                f = fired[row, base - n_inputs + j] != 0
                fired_on_core[unit_core[base + j]] += f
                received_on_core[unit_core[base + j]] += (not f) and received[row, base - n_inputs + j] != 0
        else:  # the readout never fires
            for j in range(layer_offsets[l + 1] - base):
                received_on_core[unit_core[base + j]] += received[row, base - n_inputs + j] != 0
        g = layer_gates[l]
        for c in range(n_cores):
            n_fire = fired_on_core[c]
            n_received = received_on_core[c]
            n_rest = units_per_layer_core[l, c] - n_fire - n_received
            counters[UPDATES_ACTIVE] += g * n_fire
            counters[UPDATES_RECEIVED] += g * n_received
            counters[UPDATES_INACTIVE] += g * n_rest
            layer_counts[l, LC_UPDATES_ACTIVE] += g * n_fire
            layer_counts[l, LC_UPDATES_RECEIVED] += g * n_received
            layer_counts[l, LC_UPDATES_INACTIVE] += g * n_rest
            cycles = g * (n_fire * p[P_UPD_ACTIVE] + n_received * p[P_UPD_RECEIVED] + n_rest * p[P_UPD_INACTIVE])
            layer_counts[l, LC_UPDATE_CYCLES] += cycles
            update_cycles[c] += cycles
    update_end = 0
    for c in range(n_cores):
        core_busy[c] += update_cycles[c]
        update_end = max(update_end, update_cycles[c])
    return update_end


@njit(cache=True, inline="always")
def record_step(counters, previous, step_counts, si, core_busy):
    """Close the step's counters: the busy total, then this step's row of ``step_counts``."""
    busy = 0
    for c in range(core_busy.shape[0]):
        busy += core_busy[c]
    counters[CORE_BUSY_CYCLES] = busy
    for k in range(counters.shape[0]):
        step_counts[si, k] = counters[k] - previous[k]
        previous[k] = counters[k]


@njit(cache=True, inline="always")
def finish_sends(send_free, core_busy, counters, phase_end):
    """Add each core's send work to its busy cycles and the counters; the phase ends after the last send."""
    for c in range(send_free.shape[0]):
        core_busy[c] += send_free[c]
        counters[SEND_CYCLES] += send_free[c]
        phase_end = max(phase_end, send_free[c])
        send_free[c] = 0
    return phase_end


#: a run's cycle total may grow to this; a step (at most 2**62 by the spec limits) then still fits in int64
RUN_CYCLES_LIMIT = 2**62


@njit(cache=True, inline="always")
def close_step(counters, phase_end, barrier, update_end, timer):
    """Count a step's phases (spike, barrier, update) and return its cycles; refuse a total int64 cannot hold.

    ``timer`` > 0: the step lasts at least ``timer`` cycles (a timer-driven chip waits for its next
    tick); a step whose work is longer overruns the period, is counted, and lasts as long as its work.
    """
    work = phase_end + barrier + update_end
    step = work
    if timer > 0:
        if work > timer:
            counters[TIMER_OVERRUNS] += 1
        else:
            step = timer
    if step < 0 or counters[TOTAL_CYCLES] > RUN_CYCLES_LIMIT - step:
        raise ValueError("engine: the run's cycle count would exceed 2**62; simulate fewer tokens per run "
                            "(chunks add up outside the kernel) or lower the spec's cycle costs")
    counters[BARRIERS] += 1
    counters[SPIKE_PHASE_CYCLES] += phase_end
    counters[BARRIER_CYCLES] += barrier
    counters[UPDATE_PHASE_CYCLES] += update_end
    counters[TIMER_IDLE_CYCLES] += step - work
    counters[TOTAL_CYCLES] += step
    return step


@njit(cache=True, nogil=True)
def simulate_steps(
    fired,
    inputs,
    received,
    fired_first_token,
    token_begin,
    token_end,
    step_begin,
    step_end,
    layer_offsets,
    layer_gates,
    n_event_layers,
    unit_layer,
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
    fired : uint8 [rows, n_event_units]
        Events of every event-layer unit (layers concatenated, 0 or 1); row ``r`` is token
        ``fired_first_token + r``. Must cover ``token_begin - 1`` when it is >= 0.
    inputs : uint8 [rows, n_inputs] or [rows, 0]
        Which input units send for the row's token; no columns: all of them, always (the embedding).
    received : uint8 [rows, n_layer_units]
        1 where a unit (event layers, then the readout) received input for the row's token.
    layer_offsets : int64 [L+1]
        Global index of the first unit of each layer; input units are ``0..layer_offsets[0]``.
    layer_gates : int64 [L]
        Compartments per unit of each layer.
    n_event_layers : int
        Layers whose units fire; the layers after them (the readout) never do.
    unit_layer : int64 [n_units]
        Layer of every unit (-1 for the input units).
    unit_core : int64 [n_units]
    out_ptr : int64 [n_units + 1], CSR over presynaptic units of their destination entries.
    units_per_layer_core : int64 [L, n_cores]
    entry_table : int32 or int64 [n_entries, 1 + N_CHOICES] (the integer type of ``route_hop``)
        Columns ``ENTRY_*`` (:mod:`neurosim.engine.layout`).
    spike_totals : int64 [n_units, N_CHOICES, N_SPIKE_TOTALS]
        What one spike of a unit costs, per choice of projections sent (columns ``ST_*``).
    route_hop : int32 or int64 [n_pair_positions + 1]
        The routes of every (source core, destination core) pair in use, one integer
        per position (:func:`neurosim.engine.build.pack_route_hops`), plus one padding entry.
    tree_ptr, tree :
        The multicast packet trees (:func:`neurosim.engine.routes.multicast_trees`); empty with
        source replication.
    p : int64 [N_PARAMS] (``P_*``)

    Returns
    -------
    counters : int64 [N_COUNTERS]
    step_cycles : int64 [n_steps]
    core_busy_cycles : int64 [n_cores]
    step_counts : int64 [n_steps, N_COUNTERS], each step's counters
    link_flits : int64 [n_links], flits that crossed each link
    layer_counts : int64 [L, N_LAYER_COUNTS]
    """
    n_units = layer_offsets[layer_offsets.shape[0] - 1]
    n_cores = p[P_N_CORES]
    flits = p[P_FLITS]
    pipelined = p[P_PIPELINED] == 1
    multicast = p[P_MULTICAST] == 1
    shared = p[P_SHARED_CORE] == 1
    n_steps = max(0, step_end - step_begin)

    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    previous = np.zeros(N_COUNTERS, dtype=np.int64)
    step_cycles = np.zeros(n_steps, dtype=np.int64)
    step_counts = np.zeros((n_steps, N_COUNTERS), dtype=np.int64)
    core_busy = np.zeros(n_cores, dtype=np.int64)
    n_link_ids = n_links(n_cores, p[P_MESH_X] * p[P_MESH_Y])
    link_flits = np.zeros(n_link_ids, dtype=np.int64)
    layer_counts = np.zeros((layer_offsets.shape[0] - 1, N_LAYER_COUNTS), dtype=np.int64)

    sel = np.zeros(n_units, dtype=np.int64)
    active_units = np.empty(n_units, dtype=np.int64)
    link_free = np.zeros(n_links(n_cores, p[P_MESH_X] * p[P_MESH_Y]), dtype=np.int64)
    core_free = np.zeros(n_cores, dtype=np.int64)
    send_free = np.zeros(n_cores, dtype=np.int64)
    send_bound = np.zeros(n_cores, dtype=np.int64)
    fired_on_core = np.zeros(n_cores, dtype=np.int64)
    received_on_core = np.zeros(n_cores, dtype=np.int64)
    update_cycles = np.zeros(n_cores, dtype=np.int64)
    n_entries = entry_table.shape[0]
    # calendars (see unicast_phase / multicast_phase), sized below for each step
    n_buckets = 0
    rec = np.full(REC_FIELDS * n_entries, -1, dtype=route_hop.dtype)  # packet records, see unicast_phase
    tail = np.empty(0, dtype=np.int32)
    head = np.empty(0, dtype=np.int32)
    e_next = np.full(tree.shape[0], -1, dtype=np.int32)  # multicast: next event of a tree edge's bucket
    acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)  # the spike phase's totals (see add_spike)

    for si in range(n_steps):
        s = step_begin + si
        n_active = senders(s, pipelined, token_begin, token_end, fired, inputs, fired_first_token, layer_offsets,
                           n_event_layers, sel, active_units)
        counters[SPIKES] += n_active
        count_layer_synops(n_active, active_units, sel, unit_layer, spike_totals, layer_counts)
        link_free[:] = 0
        core_free[:] = 0
        # Calendars are rings of buckets, longer than any event can be ahead of ``now``. A link's cost is at
        # most flits + latency. An event scheduled while the phase runs waits at most for the other items
        # (packets or tree edges) of the step on its link: flits x items. The injections are scheduled at
        # the start, the last of core c at most its send work (spike + send cycles x its items) plus the
        # flits of its earlier items on its injection link, which only core c uses.
        items = 0
        send_bound[:] = 0
        for a in range(n_active):
            u = active_units[a]
            if multicast:  # every tree edge the unit may send
                n_items = tree_ptr[3 * u + 3] - tree_ptr[3 * u]
            else:
                n_items = out_ptr[u + 1] - out_ptr[u]
            items += n_items
            send_bound[unit_core[u]] += p[P_SPIKE] + (p[P_SEND] + flits) * n_items
        horizon = max(flits * items, send_bound.max()) + flits + p[P_MAX_LATENCY] + 1
        if horizon > n_buckets:
            n_buckets = 64
            while n_buckets < horizon:
                n_buckets *= 2
            if n_entries + n_buckets >= 2**31:
                raise ValueError("engine: a timestep needs more than 2**31 calendar slots; split the trace or the chip")
            if multicast:
                head = np.full(n_buckets, -1, dtype=np.int32)
                tail = np.full(n_buckets, -1, dtype=np.int32)
            else:
                tail = np.arange(n_entries, n_entries + n_buckets).astype(np.int32)
                rec = np.full(REC_FIELDS * (n_entries + n_buckets), -1, dtype=route_hop.dtype)
        if multicast:
            phase_end = multicast_phase(
                n_active, active_units, sel, unit_core, spike_totals, tree_ptr, tree, flits, p[P_COST_SHIFT],
                p[P_DST_SHIFT], p[P_SPIKE], p[P_SEND], shared, send_free, link_free, core_free, core_busy, e_next,
                head, tail, acc, counters, link_flits)
        else:
            phase_end = unicast_phase(
                n_active, active_units, sel, unit_core, out_ptr, entry_table, spike_totals, route_hop, flits,
                p[P_COST_SHIFT], p[P_DST_SHIFT], p[P_SPIKE], p[P_SEND], shared, send_free, link_free, core_free,
                core_busy, rec, tail, acc, counters, link_flits)
        phase_end = finish_sends(send_free, core_busy, counters, phase_end)
        update_end = update_phase(s, pipelined, token_begin, token_end, fired, received, fired_first_token,
                                  layer_offsets, layer_gates, n_event_layers, unit_core, units_per_layer_core, p,
                                  fired_on_core, received_on_core, update_cycles, core_busy, counters, layer_counts)
        step_cycles[si] = close_step(counters, phase_end, p[P_BARRIER], update_end, p[P_TIMER])
        record_step(counters, previous, step_counts, si, core_busy)
    return counters, step_cycles, core_busy, step_counts, link_flits, layer_counts
