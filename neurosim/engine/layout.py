"""Names for the engine's packed layouts: counters, parameters, table columns, link ids, bit fields.

Every flat array a kernel reads or writes has its columns named here, so no
module indexes one with a bare number. The kernels (``routes``, ``spike_phase``,
``steps``, ``bound``) and the Python that builds their arrays (``build``) and
their twins (``reference``, ``bound_reference``) all import these names.
"""

from __future__ import annotations

import numpy as np
from numba import njit

#: The order of the phases of one timestep.
PHASES = ("spike", "barrier", "update")

# ----------------------------------------------------------------------------- counters (kernel output)
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
    "updates_received",
    "send_cycles",
    "core_busy_cycles",  # summed over cores: sends, synapse work and updates
    "timer_idle_cycles",  # a timer-driven chip: cycles of the steps spent waiting for the next tick
    "timer_overruns",  # ... steps whose work outlasted the timer period
)
(SYNOPS, SYNAPSE_WORK, SYNAPSE_BYTES, PACKETS_SENT, PACKETS_RECEIVED, PACKETS_INJECTED, FLIT_HOPS_X, FLIT_HOPS_Y,
 FLITS_LOCAL, SPIKES, UPDATES_ACTIVE, UPDATES_INACTIVE, BARRIERS, SPIKE_PHASE_CYCLES, UPDATE_PHASE_CYCLES,
 BARRIER_CYCLES, TOTAL_CYCLES, LINK_WAIT_CYCLES, CORE_WAIT_CYCLES, UPDATES_RECEIVED, SEND_CYCLES,
 CORE_BUSY_CYCLES, TIMER_IDLE_CYCLES, TIMER_OVERRUNS) = range(24)
N_COUNTERS = len(COUNTER_NAMES)
#: counters that need the packet replay (not reported by the ``bound`` engine)
WAIT_COUNTERS = ("link_wait_cycles", "core_wait_cycles")

#: columns of ``layer_counts[layer]``: what happened in (or into) each layer, the readout last
LAYER_COUNT_NAMES = ("synops", "updates_active", "updates_received", "updates_inactive", "update_cycles")
LC_SYNOPS, LC_UPDATES_ACTIVE, LC_UPDATES_RECEIVED, LC_UPDATES_INACTIVE, LC_UPDATE_CYCLES = range(5)
N_LAYER_COUNTS = len(LAYER_COUNT_NAMES)

# ----------------------------------------------------------------------------- the integer parameter vector
PARAM_NAMES = (
    "flits",  # flits per packet
    "hop_x_latency",
    "hop_y_latency",
    "local_latency",
    "receive_cycles",  # per received packet (cores.synapse_overhead_cycles)
    "synops_per_cycle_num",  # synops per cycle = num / den
    "synops_per_cycle_den",
    "update_active",  # cycles per compartment update of a unit that fired
    "update_inactive",  # ... of a unit that neither fired nor received input
    "barrier",  # cycles of the per-step barrier (routers in use)
    "mesh_x",
    "mesh_y",
    "cores_per_router",
    "multicast",  # 0 source replication, 1 in-network
    "pipelined",  # 1 pipelined, 0 sequential
    "routing_yx",  # 0 xy, 1 yx
    "n_cores",
    "cost_shift",  # packed route hop: link in bits [0, cost_shift), cycles to the next event up to dst_shift,
    "dst_shift",  # destination core + 1 above (0: not an ejection link); see build.pack_route_hops
    "max_latency",  # the largest latency of any link
    "send_cycles",  # source-core cycles per message sent
    "spike_cycles",  # source-core cycles per spiking unit, before its messages
    "update_received",  # cycles per compartment update of a unit that received input but did not fire
    "shared_core",  # 1: a core's send and receive work share one processor (sends first); 0: separate units
    "timer",  # cycles of the timestep timer's period (0: free running, a step ends with its work)
)
(P_FLITS, P_HOP_X_LAT, P_HOP_Y_LAT, P_LOCAL_LAT, P_RECEIVE, P_SPC_NUM, P_SPC_DEN, P_UPD_ACTIVE, P_UPD_INACTIVE,
 P_BARRIER, P_MESH_X, P_MESH_Y, P_CORES_PER_ROUTER, P_MULTICAST, P_PIPELINED, P_ROUTING_YX, P_N_CORES, P_COST_SHIFT,
 P_DST_SHIFT, P_MAX_LATENCY, P_SEND, P_SPIKE, P_UPD_RECEIVED, P_SHARED_CORE, P_TIMER) = range(25)
N_PARAMS = len(PARAM_NAMES)

# ----------------------------------------------------------------------------- projections a spike sends
#: bits of ``sel[u]``: the projections unit ``u`` sends in a step
SEL_FF = 1
SEL_REC = 2
#: ``choice = sel - 1``: the column of a per-choice table
CHOICE_FF, CHOICE_REC, CHOICE_BOTH = 0, 1, 2
N_CHOICES = 3

# ----------------------------------------------------------------------------- per-spike totals
#: columns of ``spike_totals[unit, choice]``: what one spike costs, summed over its destination entries
SPIKE_TOTAL_NAMES = ("synops", "synapse_work", "synapse_bytes", "local_links", "x_links", "y_links",
                     "packets_delivered", "packets_injected")
(ST_SYNOPS, ST_WORK, ST_BYTES, ST_LOCAL, ST_X, ST_Y, ST_DELIVERED, ST_INJECTED) = range(8)
N_SPIKE_TOTALS = len(SPIKE_TOTAL_NAMES)
#: the link-traversal columns, in link-class order (local, x, y)
ST_LINKS = slice(ST_LOCAL, ST_Y + 1)

# ----------------------------------------------------------------------------- destination entries
#: ``entry_table[k]``: first route position, then the packet's synapse cycles per choice (-1: no packet)
ENTRY_FIRST_POSITION = 0
ENTRY_CYCLES = 1  # + choice

# ----------------------------------------------------------------------------- route positions
#: ``route_info[i]``: the link, the cycles from departing it to being ready at the next link
#: (head or whole packet, plus latency), the destination core at a route's last position (-1 elsewhere)
ROUTE_LINK, ROUTE_COST, ROUTE_DST = range(3)

# ----------------------------------------------------------------------------- multicast tree edges
#: ``tree[e]``: packed hop, synapse cycles at a leaf, first child, number of children
TREE_HOP, TREE_CYCLES, TREE_FIRST_CHILD, TREE_N_CHILDREN = range(4)
TREE_COLUMNS = 4
#: ``tree_counts[u, choice]``: local, x and y edges, then deliveries
TREE_DELIVERIES = 3

# ----------------------------------------------------------------------------- unicast packet records
#: ``rec[4 q + field]`` of packet ``q`` in the unicast spike phase
REC_HOP, REC_POSITION, REC_CYCLES, REC_NEXT = range(4)
REC_FIELDS = 4

# ----------------------------------------------------------------------------- bound-engine rows
#: ``core_rows``: ``core << ROW_DEST_SHIFT | 1 << ROW_PACKET_SHIFT | synapse cycles``;
#: ``link_rows``: ``mesh link << ROW_DEST_SHIFT | traversals``
ROW_DEST_SHIFT = 48
ROW_PACKET_SHIFT = 32
ROW_LOW_MASK = (1 << ROW_DEST_SHIFT) - 1
ROW_CYCLES_MASK = (1 << ROW_PACKET_SHIFT) - 1

# ----------------------------------------------------------------------------- link ids
#: link classes (energy and latency): injection/ejection, east/west, north/south
LINK_LOCAL, LINK_X, LINK_Y = 0, 1, 2
#: mesh directions of a router's output links
EAST, WEST, NORTH, SOUTH = 0, 1, 2, 3
DIRECTIONS = 4


@njit(cache=True, inline="always")
def injection_link(core):
    """Link id of a core's injection link (core -> its router)."""
    return core


@njit(cache=True, inline="always")
def ejection_link(n_cores, core):
    """Link id of a core's ejection link (its router -> core)."""
    return n_cores + core


@njit(cache=True, inline="always")
def mesh_link(n_cores, router, direction):
    """Link id of the mesh link leaving ``router`` in ``direction`` (EAST, WEST, NORTH, SOUTH)."""
    return 2 * n_cores + DIRECTIONS * router + direction


def first_mesh_link(n_cores: int) -> int:
    """The smallest mesh-link id; link ids below it are injection and ejection links."""
    return 2 * n_cores


@njit(cache=True, inline="always")
def n_links(n_cores, n_routers):
    """How many link ids a chip has: injection and ejection links, then the mesh links."""
    return 2 * n_cores + DIRECTIONS * n_routers


def link_classes(n_cores: int, n_routers: int) -> np.ndarray:
    """Class of every link id: LINK_LOCAL, LINK_X (east/west) or LINK_Y (north/south)."""
    per_router = np.array([LINK_X, LINK_X, LINK_Y, LINK_Y], dtype=np.int64)  # EAST, WEST, NORTH, SOUTH
    return np.concatenate([np.full(2 * n_cores, LINK_LOCAL, dtype=np.int64), np.tile(per_router, n_routers)])
