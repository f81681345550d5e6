"""Neuromorphic chip descriptions: a versioned YAML schema.

An architecture file looks like (every key is required unless it has a
default below; see ``arch_specs/loihi_like.yaml`` for a full, cited one)::

    version: 1
    kind: neuromorphic
    name: loihi_like
    clock_hz: 2.0e9
    cores: {count: 128, cores_per_router: 4, neurons_per_core: 1024, ...}
    noc: {mesh_x: 8, mesh_y: 4, flit_bits: 32, ...}
    barrier: {base_cycles: 203, per_router_cycles: 23}
    energy_pj: {synop: 23.6, ...}
    static_power_w: 0.02

``base: other.yaml`` inherits from another file; ``--set key.path=value``
overrides a key. Unknown keys, wrong types (a bool or a quoted number where a
number belongs), non-finite numbers and impossible values fail with the key
path, the value and what is allowed. Cycle costs, widths and rates are capped
at the limits of :mod:`neurosim.limits`, so that no engine counter can
overflow; the error names the limit.
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from neurosim import limits
from neurosim.limits import describe
from neurosim.spec import (
    ClockHz,
    EnergyPj,
    Frozen,
    PowerW,
    SpecError,
    Version,
    apply_overrides,
    float_in,
    int_in,
    load_with_base,
    short_repr,
    shown_path,
    validate,
)

ARCH_VERSION = 1

# field types: strict finite numbers within the limits of neurosim.limits (named in the errors)
CoreCount = int_in(1, le="MAX_CORES")
MeshDim = int_in(1, le="MAX_ROUTERS")
Compartments = int_in(1, le="MAX_NEURONS_PER_CORE")
MemoryBytes = int_in(1, le="MAX_MEMORY_BYTES")
IndexBits = int_in(0, le="MAX_INDEX_BITS")
WeightBits = int_in(1, le=64)
StateBits = int_in(1, le=256)
RecordBits = int_in(0, le="MAX_RECORD_BITS")
RecordBytes = int_in(0, le="MAX_RECORD_BYTES")
FlitBits = int_in(1, le="MAX_RECORD_BITS")
EventCycles = int_in(0, le="MAX_EVENT_CYCLES")  # cycles of one event: a packet, an update, a barrier
LinkCycles = int_in(0, le="MAX_LINK_LATENCY_CYCLES")
SynopsPerCycle = float_in("MIN_SYNOPS_PER_CYCLE", le="MAX_SYNOPS_PER_CYCLE")
TimerSeconds = float_in(gt=0.0, le=3600.0)  # a timestep timer's period: above 0, at most an hour


class Cores(Frozen):
    """Compute cores: capacity, synapse memory format and processing rates."""

    count: CoreCount
    cores_per_router: CoreCount = 1
    neurons_per_core: Compartments  # compartments; a unit with g gates takes g
    synapse_memory_bytes: MemoryBytes
    synapse_format: Literal["dense", "bitmap", "sparse"] = "sparse"
    weight_bits: WeightBits
    index_bits: IndexBits = 0  # 0: ceil(log2(neurons_per_core))
    row_header_bits: RecordBits = 32  # per presynaptic row stored on a core (pointer/length)
    state_bits: StateBits = 16  # per compartment
    synops_per_cycle: SynopsPerCycle = 1.0
    synapse_overhead_cycles: EventCycles = 0  # per received packet: the receive cost
    neuron_update_cycles_active: EventCycles = 1  # per compartment of a unit that fired
    neuron_update_cycles_inactive: EventCycles = 1  # ... that neither fired nor received input
    neuron_update_cycles_received: EventCycles | None = None  # ... that received input but did not fire (None: inactive)
    send_cycles_per_message: EventCycles = 0  # at the source core, per message sent; messages leave in order
    spike_cycles: EventCycles = 0  # at the source core, per spiking unit, before its messages (spike generation)
    send_receive: Literal["separate", "shared"] = "separate"  # shared: one processor sends first, then receives
    axon_entry_bytes: RecordBytes = 4  # routing-table entry read per packet sent

    @property
    def effective_index_bits(self) -> int:
        return self.index_bits or max(1, math.ceil(math.log2(self.neurons_per_core)))

    @property
    def update_cycles_received(self) -> int:
        """Cycles per compartment of a unit that received input but did not fire."""
        if self.neuron_update_cycles_received is None:
            return self.neuron_update_cycles_inactive
        return self.neuron_update_cycles_received


class NoC(Frozen):
    """2-D mesh network-on-chip with dimension-order routing."""

    mesh_x: MeshDim
    mesh_y: MeshDim
    routing: Literal["xy", "yx"] = "xy"
    flit_bits: FlitBits  # link width: one flit per link per cycle
    packet_header_bits: RecordBits = 32
    payload_bits: RecordBits = 0  # 0 for binary spikes; value bits for graded events
    hop_x_latency_cycles: LinkCycles = 1
    hop_y_latency_cycles: LinkCycles = 1
    local_latency_cycles: LinkCycles = 1  # injection and ejection between a core and its router
    multicast: Literal["source", "network"] = "source"
    # wormhole: a hop costs the head flit + latency and the body's flits are paid once, on the last link
    # (cut-through timing with unbounded buffers); store_and_forward: every hop costs all flits + latency
    switching: Literal["wormhole", "store_and_forward"] = "wormhole"

    @property
    def flits_per_packet(self) -> int:
        return max(1, math.ceil((self.packet_header_bits + self.payload_bits) / self.flit_bits))


class BarrierStep(Frozen):
    """One row of a barrier table: up to ``routers`` routers in use, the barrier takes ``cycles``."""

    routers: CoreCount
    cycles: EventCycles


class Barrier(Frozen):
    """Per-timestep synchronisation over the routers in use (routers hosting a used core).

    ``base_cycles + per_router_cycles * routers``, or, with ``by_routers``, the cycles of the
    first row whose ``routers`` is at least the routers in use (rows in increasing order; more
    routers than the last row is an error at run time).

    ``timer_period_s``: a timer-driven chip (SpiNNaker's software stacks: a timestep starts on a
    periodic timer interrupt, py-spinnaker2's ``sys_tick_in_s``) holds every timestep for at least
    one period, idle once its work and barrier are done; a step whose work is longer overruns the
    period (counted: on the chip its spikes would be late or dropped) and takes its work's time.
    ``None``: the next step starts as soon as the barrier ends (Loihi, TrueNorth-style free running).
    """

    base_cycles: EventCycles = 0
    per_router_cycles: EventCycles = 0
    by_routers: Annotated[tuple[BarrierStep, ...], Field(strict=False)] | None = None  # a YAML list of rows
    timer_period_s: TimerSeconds | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Barrier:
        if self.by_routers is None:
            return self
        if not self.by_routers:
            raise ValueError("by_routers: got an empty list; allowed: rows of {routers, cycles}")
        if self.base_cycles or self.per_router_cycles:
            raise ValueError("by_routers: given with base_cycles/per_router_cycles; allowed: one form or the other")
        routers = [row.routers for row in self.by_routers]
        if routers != sorted(set(routers)):
            raise ValueError(f"by_routers: routers {routers}; allowed: strictly increasing")
        return self

    def cycles_for(self, routers: int) -> int:
        """Barrier cycles with ``routers`` routers in use."""
        if self.by_routers is None:
            return self.base_cycles + self.per_router_cycles * routers
        for row in self.by_routers:
            if routers <= row.routers:
                return row.cycles
        raise SpecError(f"barrier.by_routers: {routers} routers in use; the table covers at most "
                        f"{self.by_routers[-1].routers}")


class EnergyTable(Frozen):
    """Energy per action, picojoules."""

    synop: EnergyPj
    synapse_read_per_byte: EnergyPj = 0.0
    neuron_update_active: EnergyPj  # per compartment update of a unit that fired
    neuron_update_inactive: EnergyPj  # ... that neither fired nor received input
    neuron_update_received: EnergyPj | None = None  # ... that received input but did not fire (None: inactive)
    spike_generation: EnergyPj = 0.0  # per spiking unit (each spike a unit sends), at the source core
    state_access_per_byte: EnergyPj = 0.0
    spike_out: EnergyPj = 0.0  # per packet injected
    axon_read_per_byte: EnergyPj = 0.0
    hop_x_per_flit: EnergyPj = 0.0
    hop_y_per_flit: EnergyPj = 0.0
    barrier: EnergyPj = 0.0  # per barrier
    # per busy core cycle (sends, synapse work, updates): the active energy of a software core, whose
    # per-event energies are then inside it; 0 for fixed-function cores costed per action
    core_busy_cycle: EnergyPj = 0.0

    @property
    def update_received(self) -> float:
        return self.neuron_update_inactive if self.neuron_update_received is None else self.neuron_update_received


class ChipArch(Frozen):
    """A whole neuromorphic chip (or a board of chips treated as one mesh)."""

    version: Version
    kind: Literal["neuromorphic"] = "neuromorphic"
    name: str
    description: str = ""
    clock_hz: ClockHz
    cores: Cores
    noc: NoC
    barrier: Barrier = Barrier()
    energy_pj: EnergyTable
    static_power_w: PowerW = 0.0
    pipeline: Literal["pipelined", "sequential"] = "pipelined"

    @model_validator(mode="after")
    def _cores_fit_mesh(self) -> ChipArch:
        routers = self.noc.mesh_x * self.noc.mesh_y
        if self.cores.count > routers * self.cores.cores_per_router:
            raise ValueError(
                f"cores.count={self.cores.count} exceeds noc.mesh_x*noc.mesh_y*cores.cores_per_router="
                f"{routers * self.cores.cores_per_router}"
            )
        return self

    @model_validator(mode="after")
    def _within_engine_limits(self) -> ChipArch:
        """Joint limits of :mod:`neurosim.limits`: what one packet, barrier or index can cost or hold."""
        cores, noc = self.cores, self.noc
        if self.n_routers > limits.MAX_ROUTERS:
            raise ValueError(f"noc.mesh_x*noc.mesh_y={self.n_routers}; allowed: <= {describe('MAX_ROUTERS')}")
        if noc.packet_header_bits + noc.payload_bits < 1:
            raise ValueError("noc.packet_header_bits + noc.payload_bits = 0: a packet of no bits; allowed: >= 1")
        if cores.index_bits and cores.index_bits < math.ceil(math.log2(cores.neurons_per_core)):
            need = math.ceil(math.log2(cores.neurons_per_core))
            raise ValueError(f"cores.index_bits={cores.index_bits} cannot address cores.neurons_per_core="
                             f"{cores.neurons_per_core}; allowed: 0 (automatic) or >= {need}")
        if self.barrier_cycles > limits.MAX_EVENT_CYCLES:
            raise ValueError(f"barrier.base_cycles + barrier.per_router_cycles * {self.n_routers} routers = "
                             f"{self.barrier_cycles} cycles per timestep; allowed: <= {describe('MAX_EVENT_CYCLES')}")
        if self.timer_cycles > limits.MAX_EVENT_CYCLES:
            raise ValueError(f"barrier.timer_period_s={self.barrier.timer_period_s} is {self.timer_cycles} cycles at "
                             f"clock_hz={self.clock_hz}; allowed: <= {describe('MAX_EVENT_CYCLES')} cycles")
        if self.max_packet_cycles > limits.MAX_EVENT_CYCLES:
            raise ValueError(f"cores.synapse_overhead_cycles + 2*cores.neurons_per_core/cores.synops_per_cycle = "
                             f"{self.max_packet_cycles} cycles for one packet; "
                             f"allowed: <= {describe('MAX_EVENT_CYCLES')}")
        if self.route_record_bits > limits.ROUTE_RECORD_BITS:
            raise ValueError(f"a route record needs {self.route_record_bits} bits (a link id of 2*cores.count + "
                             "4*noc.mesh_x*noc.mesh_y links, flits + the largest noc.*_latency_cycles, a core id); "
                             f"allowed: <= {describe('ROUTE_RECORD_BITS')}")
        return self

    @property
    def route_record_bits(self) -> int:
        """Bits of the engine's packed route record: link id, flits + link latency, destination core + 1."""
        noc = self.noc
        n_links = 2 * self.cores.count + 4 * self.n_routers
        cost = self.noc.flits_per_packet + max(noc.hop_x_latency_cycles, noc.hop_y_latency_cycles,
                                               noc.local_latency_cycles)
        return (max(1, (n_links - 1).bit_length()) + max(1, cost.bit_length())
                + max(1, self.cores.count.bit_length()))

    @property
    def max_packet_cycles(self) -> int:
        """Cycles of the costliest packet a core can receive: its synapse rows reach every compartment of
        the core in both projections (feed-forward and recurrent), as the engine rounds them."""
        spc = Fraction(self.cores.synops_per_cycle).limit_denominator(limits.SPC_MAX_DENOMINATOR)
        work = 2 * self.cores.neurons_per_core
        return self.cores.synapse_overhead_cycles + -(-(work * spc.denominator) // spc.numerator)

    @property
    def n_routers(self) -> int:
        return self.noc.mesh_x * self.noc.mesh_y

    @property
    def barrier_cycles(self) -> int:
        """Barrier cycles with every router in use (a table's last row when it covers fewer)."""
        table = self.barrier.by_routers
        if table is not None and table[-1].routers < self.n_routers:
            return max(row.cycles for row in table)
        return self.barrier_cycles_for(self.n_routers)

    def barrier_cycles_for(self, routers: int) -> int:
        """Barrier cycles with ``routers`` routers in use."""
        return self.barrier.cycles_for(routers)

    @property
    def timer_cycles(self) -> int:
        """The timestep timer's period in cycles (at least 1), 0 for a free-running chip."""
        period = self.barrier.timer_period_s
        return 0 if period is None else max(1, round(period * self.clock_hz))

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.clock_hz


def _check_version(data: dict, where: str) -> None:
    version = data.get("version")
    if type(version) is not int or version != ARCH_VERSION:  # True == 1, but a bool is not a version
        raise SpecError(f"{where}version: got {short_repr(version)}; allowed: {ARCH_VERSION}")


def arch_from_dict(data: dict, where: str = ""):
    """Validate a spec mapping into a :class:`ChipArch` or a GPU spec (``kind: gpu``)."""
    from neurosim.gpu import GpuArch

    _check_version(data, where)
    kind = data.get("kind", "neuromorphic")
    if "kind" not in data:
        gpu_keys = sorted(set(data) & set(GpuArch.model_fields) - set(ChipArch.model_fields))
        if gpu_keys:
            raise SpecError(f"{where}kind: missing, but {gpu_keys[:4]} are keys of a GPU spec; "
                            "allowed: 'neuromorphic' (the default) or 'gpu'")
    if kind == "neuromorphic":
        return validate(ChipArch, data, where)
    if kind == "gpu":
        return validate(GpuArch, data, where)
    raise SpecError(f"{where}kind: got {short_repr(kind)}; allowed: ['neuromorphic', 'gpu']")


def load_arch(path: str | Path, overrides: list[str] | dict | None = None):
    """Load an architecture YAML (with ``base:`` inheritance and ``key.path=value`` overrides).

    ``path`` may name a shipped spec (``"loihi_like"``); an existing file wins over a shipped name.
    """
    from neurosim.data import resolve_arch

    path = resolve_arch(path, SpecError)
    data = apply_overrides(load_with_base(path), overrides)
    return arch_from_dict(data, where=f"{shown_path(Path(path).name)}: ")
