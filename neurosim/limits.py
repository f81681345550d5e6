"""Numeric limits a spec must respect, derived from the widths the engine counts in.

One place for every limit, so the spec validators (``neurosim.arch``,
``neurosim.gpu``) and the engine's own guards use the same numbers, and an
error can name the limit it hit.

Why these values
----------------
The event engine keeps cycles, busy times and event counters in int64
(at most ``COUNTER_MAX = 2**63 - 1``). Every cost a spec gives is the cost of
one *event*: a packet processed by a core, one compartment update, one
timestep's barrier, one link traversal. Capping each event at
``MAX_EVENT_CYCLES = 2**31`` cycles means that up to ``MAX_EVENTS_PER_STEP =
2**31`` events in one timestep sum to at most ``2**62 < 2**63``: a timestep
cannot overflow. A run's total over its timesteps is the engine's to guard
(``events of the run x MAX_EVENT_CYCLES``).

The calendar of packet arrivals is a ring of int32-indexed buckets spanning
the largest link latency plus the flits in flight, so link latencies are
capped much lower (``MAX_LINK_LATENCY_CYCLES``) and so are the bit widths that
set the flits per packet (``MAX_RECORD_BITS``); route records hold
``flits + latency`` in int32.

The engine turns ``cores.synops_per_cycle`` into a fraction with denominator
at most ``SPC_MAX_DENOMINATOR``; below ``MIN_SYNOPS_PER_CYCLE`` it would round
to 0 (a division by zero), and above ``MAX_SYNOPS_PER_CYCLE`` its numerator
would leave int64 headroom.

Floats (energies, power, clock, GPU rates) are capped so that counts up to
``COUNTER_MAX`` times any of them stay finite in float64: no report can carry
``inf``.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------- engine widths

COUNTER_BITS = 63  # int64 counters, sign bit excluded
COUNTER_MAX = 2**COUNTER_BITS - 1
INDEX_MAX = 2**31 - 1  # int32 indexes: calendar slots, link ids in route records

MAX_EVENTS_PER_STEP = 2**31  # events (packets, updates) one timestep may hold within int64 cycles
MAX_EVENT_CYCLES = 2**31  # cycles of one event: MAX_EVENTS_PER_STEP * MAX_EVENT_CYCLES = 2**62 < 2**63
MAX_LINK_LATENCY_CYCLES = 2**20  # a link's latency: the calendar ring spans it (int32 slots, small memory)
MAX_RECORD_BITS = 2**16  # a bit width of one record: flit, packet header, payload, row header
MAX_RECORD_BYTES = MAX_RECORD_BITS // 8  # a byte width of one record (axon entry, CSR index)
ROUTE_RECORD_BITS = COUNTER_BITS  # link id, flits + latency and core id packed in one int64

SPC_MAX_DENOMINATOR = 1_000_000  # the engine's Fraction(synops_per_cycle).limit_denominator
MIN_SYNOPS_PER_CYCLE = 1 / SPC_MAX_DENOMINATOR
MAX_SYNOPS_PER_CYCLE = 2**31

MAX_CORES = 2**24  # cores of a chip: link ids 2*cores + 4*routers stay int32
MAX_ROUTERS = 2**20  # mesh_x * mesh_y
MAX_NEURONS_PER_CORE = MAX_EVENTS_PER_STEP  # compartments of a core, each updated once per timestep
MAX_INDEX_BITS = 32
MAX_MEMORY_BYTES = 2**48  # a memory's capacity in bytes
MAX_SPEC_INT = 2**53  # any other integer: exact in float64, so costing stays exact

# ----------------------------------------------------------------------------- floats

MAX_ENERGY_PJ = 1e12  # per action (1 J): COUNTER_MAX * 1e12 ~ 1e31 pJ, finite
MAX_POWER_W = 1e9
MIN_CLOCK_HZ = 1.0  # one cycle per second: COUNTER_MAX cycles last ~1e19 s, finite
MAX_CLOCK_HZ = 1e15
MIN_RATE_PER_S = 1.0  # GPU bandwidths and peaks (bytes or FLOPs per second)
MAX_RATE_PER_S = 1e21
MIN_FRACTION = 1e-6  # GPU efficiencies and speed-ups: a rate is never scaled towards 0
MAX_SECONDS = 1e6  # a fixed time per action (GPU kernel launch)
MAX_SPEC_FLOAT = 1e30  # any other float

# ----------------------------------------------------------------------------- YAML files

MAX_SPEC_BYTES = 1 << 20  # a spec file (1 MiB)
MAX_YAML_DEPTH = 32  # nesting levels of mappings and lists
MAX_YAML_NODES = 100_000  # values after alias expansion
MAX_YAML_ALIASES = 1_000  # references to anchors (*name)


def describe(name: str) -> str:
    """``"MAX_EVENT_CYCLES = 2**31"``: the named limit and its value, for error messages."""
    value = globals()[name]
    if isinstance(value, int) and value > 1024 and value & (value - 1) == 0:
        return f"{name} = 2**{value.bit_length() - 1}"
    return f"{name} = {value:g}" if isinstance(value, float) else f"{name} = {value}"
