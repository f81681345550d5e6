"""The ``bound`` engine's kernel: exact counts, each spike phase a lower bound, no packet replay.

Its numpy twin is :mod:`neurosim.engine.bound_reference`.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.engine.layout import (
    N_COUNTERS,
    N_LAYER_COUNTS,
    N_SPIKE_TOTALS,
    P_BARRIER,
    P_FLITS,
    P_MESH_X,
    P_MESH_Y,
    P_N_CORES,
    P_PIPELINED,
    P_SEND,
    P_SHARED_CORE,
    P_SPIKE,
    P_TIMER,
    ROW_CYCLES_MASK,
    ROW_DEST_SHIFT,
    ROW_LOW_MASK,
    ROW_PACKET_SHIFT,
    SPIKES,
    ST_DELIVERED,
    ST_INJECTED,
)
from neurosim.engine.spike_phase import add_spike, count_spikes
from neurosim.engine.steps import (
    close_step,
    count_layer_synops,
    finish_sends,
    record_step,
    senders,
    token_in_step,
    update_phase,
)


@njit(cache=True, inline="always")
def _load_spike(u, choice, unit_core, spike_totals, core_ptr, core_rows, link_ptr, link_rows, spike_cycles,
                send_cycles, acc, into, injected, with_packet, send_work, load):
    """Add one spike of unit ``u`` (projections ``choice``) to the step's per-core and per-link loads."""
    add_spike(acc, spike_totals, u, choice)
    c = unit_core[u]
    n_injected = spike_totals[u, choice, ST_INJECTED]
    injected[c] += n_injected
    with_packet[c] += n_injected > 0
    send_work[c] += spike_cycles + send_cycles * n_injected
    for r in range(core_ptr[3 * u + choice], core_ptr[3 * u + choice + 1]):
        row = core_rows[r]
        into[row >> ROW_DEST_SHIFT] += row & ROW_LOW_MASK  # packets << ROW_PACKET_SHIFT | synapse cycles
    for r in range(link_ptr[3 * u + choice], link_ptr[3 * u + choice + 1]):
        row = link_rows[r]
        load[row >> ROW_DEST_SHIFT] += row & ROW_LOW_MASK


@njit(cache=True, nogil=True)
def bound_steps(
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
    """Like :func:`neurosim.engine.steps.simulate_steps`, but the spike phase is a lower bound, without replay.

    Every count that is not a wait-cycle count is the exact engine's (they come
    from the same per-spike tables), and so are the core busy cycles, the send
    work and the neuron-update and barrier phases. The spike phase of a step
    (and so the step) is the largest of these lower bounds of the exact one
    (``neurosim.engine.build.bound_tables`` documents the tables):

    - sends: core ``c`` sends for ``spike_cycles`` per spiking unit plus
      ``send_cycles`` per message;
    - core work: core ``c`` cannot start receiving before its first packet can
      arrive (``first_in[c]``, the least uncontended route latency into it), nor
      before its sends end when its processor is shared, and then processes all
      of its synapse cycles one packet after another;
    - ejection: its packets leave the ejection link ``flits`` cycles apart, the
      first no earlier than ``first_in[c]``;
    - injection: a core's packets leave ``flits`` cycles apart, the last no earlier
      than its send work for the units that send a packet; the last one still needs
      ``first_out[c]`` (least route latency + synapse cycles out of the core);
    - links: a mesh link carries its packets ``flits`` cycles apart.

    Wait cycles (``LINK_WAIT_CYCLES``, ``CORE_WAIT_CYCLES``) need the replay and stay 0
    (:func:`neurosim.engine.simulate` leaves them out of a bound run's counts).
    Returns (counters, step_cycles, core_busy_cycles) like ``simulate_steps``.
    """
    n_units = layer_offsets[layer_offsets.shape[0] - 1]
    n_cores = p[P_N_CORES]
    flits = p[P_FLITS]
    spike_cycles = p[P_SPIKE]
    send_cycles = p[P_SEND]
    shared = p[P_SHARED_CORE] == 1
    pipelined = p[P_PIPELINED] == 1
    n_layers = layer_offsets.shape[0] - 1
    n_steps = max(0, step_end - step_begin)
    n_mesh = 4 * p[P_MESH_X] * p[P_MESH_Y]
    counters = np.zeros(N_COUNTERS, dtype=np.int64)
    previous = np.zeros(N_COUNTERS, dtype=np.int64)
    step_cycles = np.zeros(n_steps, dtype=np.int64)
    step_counts = np.zeros((n_steps, N_COUNTERS), dtype=np.int64)
    core_busy = np.zeros(n_cores, dtype=np.int64)
    link_flits = np.zeros(2 * n_cores + n_mesh, dtype=np.int64)
    layer_counts = np.zeros((n_layers, N_LAYER_COUNTS), dtype=np.int64)
    sel = np.zeros(n_units, dtype=np.int64)
    active_units = np.empty(n_units, dtype=np.int64)
    fired_on_core = np.zeros(n_cores, dtype=np.int64)
    received_on_core = np.zeros(n_cores, dtype=np.int64)
    update_cycles = np.zeros(n_cores, dtype=np.int64)
    into = np.zeros(n_cores, dtype=np.int64)  # packets << ROW_PACKET_SHIFT | synapse cycles into each core
    injected = np.zeros(n_cores, dtype=np.int64)
    with_packet = np.zeros(n_cores, dtype=np.int64)  # spiking units of a core that send at least one packet
    send_work = np.zeros(n_cores, dtype=np.int64)
    load = np.zeros(n_mesh, dtype=np.int64)
    # the input units send their ff projection at every step that has layer 0: add them up once
    n_inputs = layer_offsets[0]
    dense_input = inputs.shape[1] == 0  # else input units send per event, like any unit
    input_into = np.zeros(n_cores, dtype=np.int64)
    input_injected = np.zeros(n_cores, dtype=np.int64)
    input_with_packet = np.zeros(n_cores, dtype=np.int64)
    input_send_work = np.zeros(n_cores, dtype=np.int64)
    input_load = np.zeros(n_mesh, dtype=np.int64)
    input_acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)
    acc = np.zeros(N_SPIKE_TOTALS, dtype=np.int64)
    for u in range(n_inputs):
        _load_spike(u, 0, unit_core, spike_totals, core_ptr, core_rows, link_ptr, link_rows, spike_cycles,
                    send_cycles, input_acc, input_into, input_injected, input_with_packet, input_send_work,
                    input_load)
    for si in range(n_steps):
        s = step_begin + si
        n_active = senders(s, pipelined, token_begin, token_end, fired, inputs, fired_first_token, layer_offsets,
                           n_event_layers, sel, active_units)
        counters[SPIKES] += n_active
        count_layer_synops(n_active, active_units, sel, unit_layer, spike_totals, layer_counts)
        first = 0
        if dense_input and token_in_step(s, 0, n_layers, pipelined, token_begin, token_end) >= 0:
            first = n_inputs  # active_units starts with every input unit, each sending ff only
            into[:] = input_into
            injected[:] = input_injected
            with_packet[:] = input_with_packet
            send_work[:] = input_send_work
            load[:] = input_load
            acc[:] = input_acc
            sel[:n_inputs] = 0
        else:
            into[:] = 0
            injected[:] = 0
            with_packet[:] = 0
            send_work[:] = 0
            load[:] = 0
            acc[:] = 0
        for a in range(first, n_active):
            u = active_units[a]
            choice = sel[u] - 1
            sel[u] = 0
            _load_spike(u, choice, unit_core, spike_totals, core_ptr, core_rows, link_ptr, link_rows, spike_cycles,
                        send_cycles, acc, into, injected, with_packet, send_work, load)
        phase_end = 0
        for c in range(n_cores):
            n_received = into[c] >> ROW_PACKET_SHIFT
            work = into[c] & ROW_CYCLES_MASK
            if n_received > 0:
                start = max(first_in[c], send_work[c]) if shared else first_in[c]
                phase_end = max(phase_end, start + work, first_in[c] + (n_received - 1) * flits)
            if injected[c] > 0:
                last_ready = spike_cycles * with_packet[c] + send_cycles * injected[c]
                phase_end = max(phase_end, max((injected[c] - 1) * flits, last_ready) + first_out[c])
            core_busy[c] += work
            link_flits[c] += injected[c] * flits  # injection link
            link_flits[n_cores + c] += n_received * flits  # ejection link
        for link in range(n_mesh):
            phase_end = max(phase_end, load[link] * flits)
            link_flits[2 * n_cores + link] += load[link] * flits
        count_spikes(counters, acc, flits, acc[ST_DELIVERED], 0, 0)
        phase_end = finish_sends(send_work, core_busy, counters, phase_end)
        update_end = update_phase(s, pipelined, token_begin, token_end, fired, received, fired_first_token,
                                  layer_offsets, layer_gates, n_event_layers, unit_core, units_per_layer_core, p,
                                  fired_on_core, received_on_core, update_cycles, core_busy, counters, layer_counts)
        step_cycles[si] = close_step(counters, phase_end, p[P_BARRIER], update_end, p[P_TIMER])
        record_step(counters, previous, step_counts, si, core_busy)
    return counters, step_cycles, core_busy, step_counts, link_flits, layer_counts
