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
overrides a key. Unknown keys, wrong types and impossible values fail with
the key path, the value and what is allowed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from neurosim.spec import Frozen, SpecError, apply_overrides, load_with_base, validate

ARCH_VERSION = 1

PositiveInt = Annotated[int, Field(ge=1)]
NonNegInt = Annotated[int, Field(ge=0)]
NonNegFloat = Annotated[float, Field(ge=0.0)]
PositiveFloat = Annotated[float, Field(gt=0.0)]


class Cores(Frozen):
    """Compute cores: capacity, synapse memory format and processing rates."""

    count: PositiveInt
    cores_per_router: PositiveInt = 1
    neurons_per_core: PositiveInt  # compartments; a unit with g gates takes g
    synapse_memory_bytes: PositiveInt
    synapse_format: Literal["dense", "bitmap", "sparse"] = "sparse"
    weight_bits: Annotated[int, Field(ge=1, le=64)]
    index_bits: Annotated[int, Field(ge=0, le=32)] = 0  # 0: ceil(log2(neurons_per_core))
    row_header_bits: NonNegInt = 32  # per presynaptic row stored on a core (pointer/length)
    state_bits: Annotated[int, Field(ge=1, le=256)] = 16  # per compartment
    synops_per_cycle: PositiveFloat = 1.0
    synapse_overhead_cycles: NonNegInt = 0  # per received packet: the receive cost
    neuron_update_cycles_active: NonNegInt = 1  # per compartment of a unit that fired
    neuron_update_cycles_inactive: NonNegInt = 1  # ... that neither fired nor received input
    neuron_update_cycles_received: NonNegInt | None = None  # ... that received input but did not fire (None: inactive)
    send_cycles_per_message: NonNegInt = 0  # at the source core, per message sent; messages leave in order
    spike_cycles: NonNegInt = 0  # at the source core, per spiking unit, before its messages (spike generation)
    send_receive: Literal["separate", "shared"] = "separate"  # shared: one processor sends first, then receives
    axon_entry_bytes: NonNegInt = 4  # routing-table entry read per packet sent

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

    mesh_x: PositiveInt
    mesh_y: PositiveInt
    routing: Literal["xy", "yx"] = "xy"
    flit_bits: PositiveInt  # link width: one flit per link per cycle
    packet_header_bits: NonNegInt = 32
    payload_bits: NonNegInt = 0  # 0 for binary spikes; value bits for graded events
    hop_x_latency_cycles: NonNegInt = 1
    hop_y_latency_cycles: NonNegInt = 1
    local_latency_cycles: NonNegInt = 1  # injection and ejection between a core and its router
    multicast: Literal["source", "network"] = "source"
    # wormhole: a hop costs the head flit + latency and the body's flits are paid once, on the last link
    # (cut-through timing with unbounded buffers); store_and_forward: every hop costs all flits + latency
    switching: Literal["wormhole", "store_and_forward"] = "wormhole"

    @property
    def flits_per_packet(self) -> int:
        return max(1, math.ceil((self.packet_header_bits + self.payload_bits) / self.flit_bits))


class BarrierStep(Frozen):
    """One row of a barrier table: up to ``routers`` routers in use, the barrier takes ``cycles``."""

    routers: PositiveInt
    cycles: NonNegInt


class Barrier(Frozen):
    """Per-timestep synchronisation over the routers in use (routers hosting a used core).

    ``base_cycles + per_router_cycles * routers``, or, with ``by_routers``, the cycles of the
    first row whose ``routers`` is at least the routers in use (rows in increasing order; more
    routers than the last row is an error at run time).
    """

    base_cycles: NonNegInt = 0
    per_router_cycles: NonNegInt = 0
    by_routers: tuple[BarrierStep, ...] | None = None

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

    synop: NonNegFloat
    synapse_read_per_byte: NonNegFloat = 0.0
    neuron_update_active: NonNegFloat  # per compartment update of a unit that fired
    neuron_update_inactive: NonNegFloat  # ... that neither fired nor received input
    neuron_update_received: NonNegFloat | None = None  # ... that received input but did not fire (None: inactive)
    spike_generation: NonNegFloat = 0.0  # per spiking unit (each spike a unit sends), at the source core
    state_access_per_byte: NonNegFloat = 0.0
    spike_out: NonNegFloat = 0.0  # per packet injected
    axon_read_per_byte: NonNegFloat = 0.0
    hop_x_per_flit: NonNegFloat = 0.0
    hop_y_per_flit: NonNegFloat = 0.0
    barrier: NonNegFloat = 0.0  # per barrier

    @property
    def update_received(self) -> float:
        return self.neuron_update_inactive if self.neuron_update_received is None else self.neuron_update_received


class ChipArch(Frozen):
    """A whole neuromorphic chip (or a board of chips treated as one mesh)."""

    version: Literal[1]
    kind: Literal["neuromorphic"] = "neuromorphic"
    name: str
    description: str = ""
    clock_hz: PositiveFloat
    cores: Cores
    noc: NoC
    barrier: Barrier = Barrier()
    energy_pj: EnergyTable
    static_power_w: NonNegFloat = 0.0
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

    @property
    def n_routers(self) -> int:
        return self.noc.mesh_x * self.noc.mesh_y

    @property
    def barrier_cycles(self) -> int:
        """Barrier cycles with every router in use."""
        return self.barrier_cycles_for(self.n_routers)

    def barrier_cycles_for(self, routers: int) -> int:
        """Barrier cycles with ``routers`` routers in use."""
        return self.barrier.cycles_for(routers)

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.clock_hz


def _check_version(data: dict, where: str) -> None:
    version = data.get("version")
    if version != ARCH_VERSION:
        raise SpecError(f"{where}version: got {version!r}; allowed: {ARCH_VERSION}")


def arch_from_dict(data: dict, where: str = ""):
    """Validate a spec mapping into a :class:`ChipArch` or a GPU spec (``kind: gpu``)."""
    _check_version(data, where)
    kind = data.get("kind", "neuromorphic")
    if kind == "neuromorphic":
        return validate(ChipArch, data, where)
    if kind == "gpu":
        from neurosim.gpu import GpuArch

        return validate(GpuArch, data, where)
    raise SpecError(f"{where}kind: got {kind!r}; allowed: ['neuromorphic', 'gpu']")


def load_arch(path: str | Path, overrides: list[str] | dict | None = None):
    """Load an architecture YAML (with ``base:`` inheritance and ``key.path=value`` overrides).

    ``path`` may name a shipped spec (``"loihi_like"``); an existing file wins over a shipped name.
    """
    from neurosim.data import resolve_arch

    path = resolve_arch(path, SpecError)
    data = apply_overrides(load_with_base(path), overrides)
    return arch_from_dict(data, where=f"{Path(path).name}: ")
