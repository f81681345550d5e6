"""The mapping stage: place every unit (all its gate compartments together) on a core.

Two policies, both under each core's neuron (compartment) and synapse-memory
capacity:

- ``contiguous``: fill cores in unit order, opening a new core when the next
  unit does not fit.
- ``balanced``: cut the unit order into contiguous chunks of equal fan-in
  synapses over the fewest cores on which every chunk fits.

``min_cores`` spreads either policy over at least that many cores.

Synapse memory per core follows the chosen format (``cores.synapse_format``),
see :func:`row_bits`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.arch import ChipArch, Cores
from neurosim.network import Network

POLICIES = ("contiguous", "balanced")


class MappingError(ValueError):
    """The network does not fit the architecture; the message gives the numbers."""


def row_bits(cores: Cores, local_cols, nnz):
    """Bits of one stored synapse row (one presynaptic unit on one core).

    ``local_cols``: compartments of the postsynaptic layer on the core;
    ``nnz``: nonzero weights of the row. Works on scalars or arrays.

    - dense: ``local_cols * weight_bits`` (zeros stored)
    - bitmap: ``row_header + local_cols + nnz * weight_bits``
    - sparse: ``row_header + nnz * (weight_bits + index_bits)``
    """
    w = cores.weight_bits
    if cores.synapse_format == "dense":
        return local_cols * w
    if cores.synapse_format == "bitmap":
        return cores.row_header_bits + local_cols + nnz * w
    return cores.row_header_bits + nnz * (w + cores.effective_index_bits)


def projection_bytes(cores: Cores, n_pre: int, rows: int, local_cols: int, nnz: int) -> int:
    """Synapse-memory bytes of one projection on one core.

    Dense stores a row for every presynaptic unit; bitmap and sparse store
    only rows with at least one nonzero weight on the core.
    """
    if local_cols == 0:
        return 0
    w = cores.weight_bits
    if cores.synapse_format == "dense":
        bits = n_pre * local_cols * w
    elif cores.synapse_format == "bitmap":
        bits = rows * (cores.row_header_bits + local_cols) + nnz * w
    else:
        bits = rows * cores.row_header_bits + nnz * (w + cores.effective_index_bits)
    return -(-bits // 8)


@dataclass(frozen=True)
class Mapping:
    """Where every global unit lives and what each core holds."""

    policy: str
    unit_core: np.ndarray  # int64 [n_units]
    n_cores: int  # cores of the architecture
    compartments_per_core: np.ndarray  # int64 [n_cores]
    synapse_bytes_per_core: np.ndarray  # int64 [n_cores]

    @property
    def cores_used(self) -> int:
        return int((self.compartments_per_core > 0).sum())

    def routers_in_use(self, arch: ChipArch) -> int:
        """Routers that host at least one used core (the barrier's extent)."""
        used = np.flatnonzero(self.compartments_per_core > 0)
        return int(np.unique(used // arch.cores.cores_per_router).size)


class _CoreFill:
    """Running totals of one core while units are added in order."""

    def __init__(self, network: Network, cores: Cores):
        self.network = network
        self.cores = cores
        self.compartments = 0
        self.rows = [np.zeros(p.n_pre, dtype=bool) for p in network.projections]
        self.nnz = [0] * len(network.projections)
        self.cols = [0] * len(network.projections)
        self.post_gates = [int(network.layer_gates()[p.post_layer]) for p in network.projections]

    def unit_rows(self, unit: int) -> list[tuple[int, np.ndarray, int]]:
        """(projection index, row mask, nnz) of every projection into ``unit``."""
        net = self.network
        offs = net.layer_offsets
        out = []
        if unit < net.input_size:
            return out
        layer = int(np.searchsorted(offs, unit, side="right") - 1)
        j = unit - int(offs[layer])
        H = net.layer_sizes[layer]
        cols = [g * H + j for g in range(int(net.layer_gates()[layer]))]
        for k, proj in enumerate(net.projections):
            if proj.post_layer == layer:
                sub = proj.mask[:, cols]
                out.append((k, sub.any(axis=1), int(sub.sum())))
        return out

    def bytes_with(self, contrib) -> int:
        total = 0
        touched = {k for k, _, _ in contrib}
        for k, proj in enumerate(self.network.projections):
            rows, nnz, cols = self.rows[k], self.nnz[k], self.cols[k]
            n_rows = int(rows.sum()) if k not in touched else None
            for kk, r, n in contrib:
                if kk == k:
                    n_rows = int((rows | r).sum())
                    nnz += n
                    cols += self.post_gates[k]
            total += projection_bytes(self.cores, proj.n_pre, n_rows, cols, nnz)
        return total

    def add(self, contrib, compartments: int) -> None:
        self.compartments += compartments
        for k, r, n in contrib:
            self.rows[k] |= r
            self.nnz[k] += n
            self.cols[k] += self.post_gates[k]


def _fill(network: Network, arch: ChipArch, chunk_of_unit: np.ndarray | None) -> np.ndarray:
    """Place units in order; a new core opens when the unit does not fit or its chunk changes."""
    cores = arch.cores
    comp = network.unit_compartments()
    unit_core = np.empty(network.n_units, dtype=np.int64)
    core = 0
    fill = _CoreFill(network, cores)
    for u in range(network.n_units):
        contrib = fill.unit_rows(u)
        new_chunk = chunk_of_unit is not None and u > 0 and chunk_of_unit[u] != chunk_of_unit[u - 1]
        fits = (
            fill.compartments + comp[u] <= cores.neurons_per_core
            and fill.bytes_with(contrib) <= cores.synapse_memory_bytes
        )
        if fill.compartments > 0 and (new_chunk or not fits):
            core += 1
            fill = _CoreFill(network, cores)
            fits = comp[u] <= cores.neurons_per_core and fill.bytes_with(contrib) <= cores.synapse_memory_bytes
        if not fits:
            layer = int(np.searchsorted(network.layer_offsets, u, side="right") - 1)
            raise MappingError(
                f"unit {u} (layer {layer}) alone needs {comp[u]} compartments and "
                f"{fill.bytes_with(contrib)} synapse bytes; a core holds cores.neurons_per_core="
                f"{cores.neurons_per_core} and cores.synapse_memory_bytes={cores.synapse_memory_bytes}"
            )
        fill.add(contrib, int(comp[u]))
        unit_core[u] = core
    return unit_core


def core_totals(network: Network, arch: ChipArch, unit_core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Compartments and synapse bytes per core of a placement, each int64 [n_cores]."""
    n_cores = max(arch.cores.count, int(unit_core.max()) + 1)
    compartments = np.bincount(unit_core, weights=network.unit_compartments(), minlength=n_cores).astype(np.int64)
    syn_bytes = np.zeros(n_cores, dtype=np.int64)
    offs = network.layer_offsets
    for proj in network.projections:
        H = network.layer_sizes[proj.post_layer]
        col_core = np.tile(unit_core[offs[proj.post_layer] : offs[proj.post_layer + 1]],
                           int(network.layer_gates()[proj.post_layer]))
        for c in np.unique(col_core):
            sub = proj.mask[:, col_core == c]
            rows = int(sub.any(axis=1).sum())
            syn_bytes[c] += projection_bytes(arch.cores, proj.n_pre, rows, int(sub.shape[1]), int(sub.sum()))
        del H
    return compartments, syn_bytes


def map_network(network: Network, arch: ChipArch, policy: str = "contiguous", min_cores: int = 1) -> Mapping:
    """Place ``network`` on ``arch``.

    Raises
    ------
    MappingError when the network does not fit, with the cores needed and available.
    """
    if policy not in POLICIES:
        raise MappingError(f"mapping policy: got {policy!r}; allowed: {list(POLICIES)}")
    n_avail = arch.cores.count
    if not 1 <= min_cores <= n_avail:
        raise MappingError(f"min_cores: got {min_cores}; allowed: 1..{n_avail} (cores.count)")
    unit_core = _fill(network, arch, None)
    needed = int(unit_core.max()) + 1
    if policy == "balanced" or min_cores > needed:
        weight = network.fan_in().astype(np.float64) + 1.0  # +1 so input units still spread
        prefix = np.cumsum(weight) - weight
        k = max(needed, min_cores)
        while True:
            chunk = np.minimum((prefix / weight.sum() * k).astype(np.int64), k - 1)
            unit_core = _fill(network, arch, chunk)
            if int(unit_core.max()) + 1 <= max(k, needed) or k >= n_avail:
                break
            k += 1
    used = int(unit_core.max()) + 1
    if used > n_avail:
        comp = network.unit_compartments().sum()
        _, syn_bytes = core_totals(network, arch, unit_core)
        raise MappingError(
            f"network needs {used} cores ({int(comp)} compartments and {int(syn_bytes.sum()):,} synapse bytes, at "
            f"most cores.neurons_per_core={arch.cores.neurons_per_core} and cores.synapse_memory_bytes="
            f"{arch.cores.synapse_memory_bytes} per core) but the architecture has cores.count={n_avail}"
            + ("; the readout (decoder) is part of it: --readout none leaves it out" if network.readout_size else "")
        )
    compartments, syn_bytes = core_totals(network, arch, unit_core)
    return Mapping(
        policy=policy,
        unit_core=unit_core,
        n_cores=n_avail,
        compartments_per_core=compartments,
        synapse_bytes_per_core=syn_bytes,
    )
