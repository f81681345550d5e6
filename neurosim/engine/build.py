"""Build the flat arrays the kernels need from the network, mapping and chip."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from neurosim.arch import ChipArch
from neurosim.engine import kernels as K
from neurosim.mapping import Mapping, row_bits
from neurosim.network import Network
from neurosim.trace import Trace


@dataclass(frozen=True)
class EngineArrays:
    """Everything :func:`neurosim.engine.kernels.simulate_steps` takes but the events."""

    layer_offsets: np.ndarray
    gates: int
    unit_core: np.ndarray
    out_ptr: np.ndarray
    out_core: np.ndarray
    out_synops: np.ndarray
    out_work: np.ndarray
    out_bytes: np.ndarray
    units_per_layer_core: np.ndarray
    route_ptr: np.ndarray
    route_links: np.ndarray
    route_info: np.ndarray
    route_hops: np.ndarray
    out_cycles: np.ndarray
    params: np.ndarray


def synops_per_cycle_fraction(value: float) -> Fraction:
    """``cores.synops_per_cycle`` as an exact fraction (1/7 stays 1/7)."""
    return Fraction(value).limit_denominator(1_000_000)


def kernel_params(arch: ChipArch) -> np.ndarray:
    p = np.zeros(K.N_PARAMS, dtype=np.int64)
    spc = synops_per_cycle_fraction(arch.cores.synops_per_cycle)
    p[K.P_FLITS] = arch.noc.flits_per_packet
    p[K.P_HOP_X_LAT] = arch.noc.hop_x_latency_cycles
    p[K.P_HOP_Y_LAT] = arch.noc.hop_y_latency_cycles
    p[K.P_LOCAL_LAT] = arch.noc.local_latency_cycles
    p[K.P_OVERHEAD] = arch.cores.synapse_overhead_cycles
    p[K.P_SPC_NUM] = spc.numerator
    p[K.P_SPC_DEN] = spc.denominator
    p[K.P_UPD_ACTIVE] = arch.cores.neuron_update_cycles_active
    p[K.P_UPD_INACTIVE] = arch.cores.neuron_update_cycles_inactive
    p[K.P_BARRIER] = arch.barrier_cycles
    p[K.P_MESH_X] = arch.noc.mesh_x
    p[K.P_MESH_Y] = arch.noc.mesh_y
    p[K.P_CORES_PER_ROUTER] = arch.cores.cores_per_router
    p[K.P_MULTICAST] = 1 if arch.noc.multicast == "network" else 0
    p[K.P_PIPELINED] = 1 if arch.pipeline == "pipelined" else 0
    p[K.P_ROUTING_YX] = 1 if arch.noc.routing == "yx" else 0
    p[K.P_N_CORES] = arch.cores.count
    return p


def build_arrays(network: Network, mapping: Mapping, arch: ChipArch) -> EngineArrays:
    """Destination-core tables of every presynaptic unit, in CSR form."""
    unit_core = mapping.unit_core
    n_cores = arch.cores.count
    offs = network.layer_offsets
    pre_all, core_all, kind_all, syn_all, work_all, bytes_all = [], [], [], [], [], []
    for proj in network.projections:
        post_units = unit_core[offs[proj.post_layer] : offs[proj.post_layer + 1]]
        col_core = np.tile(post_units, network.gates)
        order = np.argsort(col_core, kind="stable")
        cores, starts, local_cols = np.unique(col_core[order], return_index=True, return_counts=True)
        nnz = np.add.reduceat(proj.mask[:, order].astype(np.int32), starts, axis=1)
        pi, ci = np.nonzero(nnz)
        syn = nnz[pi, ci].astype(np.int64)
        cols = local_cols[ci].astype(np.int64)
        work = cols if arch.cores.synapse_format == "dense" else syn
        nbytes = -(-row_bits(arch.cores, cols, syn) // 8)
        pre_all.append(proj.pre_offset + pi)
        core_all.append(cores[ci])
        kind_all.append(np.full(pi.shape, proj.kind))
        syn_all.append(syn)
        work_all.append(work)
        bytes_all.append(np.asarray(nbytes, dtype=np.int64))
    pre = np.concatenate(pre_all).astype(np.int64)
    core = np.concatenate(core_all).astype(np.int64)
    kind = np.concatenate(kind_all)
    key = pre * n_cores + core
    uniq, inverse = np.unique(key, return_inverse=True)
    n = uniq.shape[0]
    out_synops = np.zeros((n, 2), dtype=np.int64)
    out_work = np.zeros((n, 2), dtype=np.int64)
    out_bytes = np.zeros((n, 2), dtype=np.int64)
    np.add.at(out_synops, (inverse, kind), np.concatenate(syn_all))
    np.add.at(out_work, (inverse, kind), np.concatenate(work_all))
    np.add.at(out_bytes, (inverse, kind), np.concatenate(bytes_all))
    out_pre = uniq // n_cores
    out_core = (uniq % n_cores).astype(np.int64)
    out_ptr = np.zeros(network.n_units + 1, dtype=np.int64)
    out_ptr[1:] = np.cumsum(np.bincount(out_pre, minlength=network.n_units))
    units_per_layer_core = np.zeros((network.n_layers, n_cores), dtype=np.int64)
    for l in range(network.n_layers):
        units_per_layer_core[l] = np.bincount(unit_core[offs[l] : offs[l + 1]], minlength=n_cores)
    params = kernel_params(arch)
    route_ptr, route_links = K.entry_routes(out_ptr, out_core, unit_core.astype(np.int64), params)
    route_entry = np.repeat(np.arange(n, dtype=np.int64), np.diff(route_ptr))
    link_class = link_classes(arch)[route_links]  # 0 local, 1 x, 2 y
    latency = np.array([arch.noc.local_latency_cycles, arch.noc.hop_x_latency_cycles, arch.noc.hop_y_latency_cycles])
    route_info = np.empty((route_links.shape[0], 3), dtype=np.int32)
    route_info[:, 0] = route_links
    route_info[:, 1] = arch.noc.flits_per_packet + latency[link_class]
    route_info[:, 2] = -1
    route_info[route_ptr[1:] - 1, 2] = out_core
    route_hops = np.zeros((n, 3), dtype=np.int64)
    np.add.at(route_hops, (route_entry, link_class), 1)
    spc = synops_per_cycle_fraction(arch.cores.synops_per_cycle)
    work3 = np.stack([out_work[:, 0], out_work[:, 1], out_work.sum(axis=1)], axis=1)
    out_cycles = arch.cores.synapse_overhead_cycles + -(-(work3 * spc.denominator) // spc.numerator)
    return EngineArrays(
        layer_offsets=offs.astype(np.int64),
        gates=int(network.gates),
        unit_core=unit_core.astype(np.int64),
        out_ptr=out_ptr,
        out_core=out_core,
        out_synops=out_synops,
        out_work=out_work,
        out_bytes=out_bytes,
        units_per_layer_core=units_per_layer_core,
        route_ptr=route_ptr,
        route_links=route_links,
        route_info=route_info,
        route_hops=route_hops,
        out_cycles=out_cycles.astype(np.int64),
        params=params,
    )


def link_classes(arch: ChipArch) -> np.ndarray:
    """Class of every link id: 0 injection/ejection, 1 east/west, 2 north/south."""
    n_cores = arch.cores.count
    mesh = np.tile(np.array([1, 1, 2, 2], dtype=np.int64), arch.n_routers)
    return np.concatenate([np.zeros(2 * n_cores, dtype=np.int64), mesh])


def fired_matrix(trace: Trace, first: int = 0, stop: int | None = None) -> np.ndarray:
    """Events of all layers side by side, uint8 [stop - first, sum(H)]."""
    stop = trace.n_tokens if stop is None else stop
    return np.ascontiguousarray(
        np.concatenate([layer.events[first:stop] for layer in trace.layers], axis=1).astype(np.uint8)
    )


def step_range(n_layers: int, pipelined: bool, token_begin: int, token_end: int) -> tuple[int, int]:
    """Timesteps that hold the tokens ``token_begin <= t < token_end``."""
    if pipelined:
        return token_begin, token_end + n_layers - 1
    return token_begin * n_layers, token_end * n_layers
