"""Build the flat arrays the kernels need from the network, mapping and chip."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import numpy as np

from neurosim.arch import ChipArch
from neurosim.engine import layout as K
from neurosim.engine import receive
from neurosim.engine.routes import entry_routes, multicast_trees
from neurosim.mapping import Mapping, row_bits
from neurosim.network import FF, Network
from neurosim.trace import Trace


@dataclass(frozen=True)
class EngineArrays:
    """Everything :func:`neurosim.engine.steps.simulate_steps` takes but the events."""

    layer_offsets: np.ndarray
    layer_gates: np.ndarray  # int64 [L]: compartments per unit of each layer
    unit_layer: np.ndarray  # int64 [n_units]: layer of every unit, -1 for the input units
    input_encoding: str  # what the input units send (neurosim.network.INPUT_ENCODINGS)
    n_event_layers: int  # layers whose units fire (the rest: the readout)
    receive_masks: tuple  # per layer: (ff [n_pre, H] bool or None for the dense input, rec [H, H] bool or None)
    receive_bits: tuple  # the same, packed as bitsets (:func:`neurosim.engine.receive.pack_reach`)
    input_reach: np.ndarray  # uint8 [H_0]: layer-0 units with a nonzero input weight
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
    entry_table: np.ndarray
    spike_totals: np.ndarray
    route_hop: np.ndarray
    tree_ptr: np.ndarray
    tree: np.ndarray
    params: np.ndarray
    bound: BoundTables | None = None  # the tables of backend "bound", when asked for (:func:`bound_tables`)


def synops_per_cycle_fraction(value: float) -> Fraction:
    """``cores.synops_per_cycle`` as an exact fraction (1/7 stays 1/7)."""
    return Fraction(value).limit_denominator(1_000_000)


def kernel_params(arch: ChipArch, routers_in_use: int) -> np.ndarray:
    """The integer parameter vector (``P_*`` of :mod:`neurosim.engine.layout`) of ``arch``."""
    p = np.zeros(K.N_PARAMS, dtype=np.int64)
    spc = synops_per_cycle_fraction(arch.cores.synops_per_cycle)
    p[K.P_FLITS] = arch.noc.flits_per_packet
    p[K.P_HOP_X_LAT] = arch.noc.hop_x_latency_cycles
    p[K.P_HOP_Y_LAT] = arch.noc.hop_y_latency_cycles
    p[K.P_LOCAL_LAT] = arch.noc.local_latency_cycles
    p[K.P_RECEIVE] = arch.cores.synapse_overhead_cycles
    p[K.P_SPC_NUM] = spc.numerator
    p[K.P_SPC_DEN] = spc.denominator
    p[K.P_UPD_ACTIVE] = arch.cores.neuron_update_cycles_active
    p[K.P_UPD_INACTIVE] = arch.cores.neuron_update_cycles_inactive
    p[K.P_UPD_RECEIVED] = arch.cores.update_cycles_received
    p[K.P_SEND] = arch.cores.send_cycles_per_message
    p[K.P_SPIKE] = arch.cores.spike_cycles
    p[K.P_SHARED_CORE] = 1 if arch.cores.send_receive == "shared" else 0
    p[K.P_BARRIER] = arch.barrier_cycles_for(routers_in_use)
    p[K.P_TIMER] = arch.timer_cycles
    p[K.P_MESH_X] = arch.noc.mesh_x
    p[K.P_MESH_Y] = arch.noc.mesh_y
    p[K.P_CORES_PER_ROUTER] = arch.cores.cores_per_router
    p[K.P_MULTICAST] = 1 if arch.noc.multicast == "network" else 0
    p[K.P_PIPELINED] = 1 if arch.pipeline == "pipelined" else 0
    p[K.P_ROUTING_YX] = 1 if arch.noc.routing == "yx" else 0
    p[K.P_N_CORES] = arch.cores.count
    p[K.P_MAX_LATENCY] = max(arch.noc.hop_x_latency_cycles, arch.noc.hop_y_latency_cycles,
                             arch.noc.local_latency_cycles)
    return p


def build_arrays(network: Network, mapping: Mapping, arch: ChipArch, bound: bool = False) -> EngineArrays:
    """Destination-core tables of every presynaptic unit, in CSR form (and the lower-bound tables if ``bound``)."""
    unit_core = mapping.unit_core
    n_cores = arch.cores.count
    offs = network.layer_offsets
    pre_all, core_all, kind_all, syn_all, work_all, bytes_all = [], [], [], [], [], []
    for proj in network.projections:
        post_units = unit_core[offs[proj.post_layer] : offs[proj.post_layer + 1]]
        col_core = np.tile(post_units, int(network.layer_gates()[proj.post_layer]))
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
    params = kernel_params(arch, mapping.routers_in_use(arch))
    route_ptr, route_links = entry_routes(out_ptr, out_core, unit_core.astype(np.int64), params)
    route_entry = np.repeat(np.arange(n, dtype=np.int64), np.diff(route_ptr))
    link_class = link_classes(arch)[route_links]  # 0 local, 1 x, 2 y
    latency = np.array([arch.noc.local_latency_cycles, arch.noc.hop_x_latency_cycles, arch.noc.hop_y_latency_cycles])
    route_info = np.empty((route_links.shape[0], 3), dtype=np.int32)
    route_info[:, K.ROUTE_LINK] = route_links
    last = np.zeros(route_links.shape[0], dtype=bool)
    last[route_ptr[1:] - 1] = True  # the ejection link: the whole packet has arrived after it
    route_info[:, K.ROUTE_COST] = np.where(last, arch.noc.flits_per_packet, head_cycles(arch)) + latency[link_class]
    route_info[:, K.ROUTE_DST] = -1
    route_info[route_ptr[1:] - 1, K.ROUTE_DST] = out_core
    route_hops = np.zeros((n, 3), dtype=np.int64)
    np.add.at(route_hops, (route_entry, link_class), 1)
    spc = synops_per_cycle_fraction(arch.cores.synops_per_cycle)
    work3 = per_choice(out_work)
    out_cycles = (arch.cores.synapse_overhead_cycles + -(-(work3 * spc.denominator) // spc.numerator)).astype(np.int64)
    pair_ptr, pair_positions = core_pair_routes(out_ptr, out_core, unit_core, route_ptr)
    route_hop, cost_shift, dst_shift = pack_route_hops(route_info[pair_positions], n_links=len(link_classes(arch)),
                                                       n_cores=n_cores)
    params[K.P_COST_SHIFT] = cost_shift
    params[K.P_DST_SHIFT] = dst_shift
    entry_table, spike_totals = packet_tables(out_ptr, pair_ptr, out_synops, out_work, out_bytes, out_cycles,
                                             route_hops)
    width = np.result_type(route_hop, entry_table)  # the kernel's packet records hold both: one width
    route_hop, entry_table = route_hop.astype(width), entry_table.astype(width)
    if arch.noc.multicast == "network":
        every_hop, *shifts = pack_route_hops(route_info, n_links=len(link_classes(arch)), n_cores=n_cores)
        assert shifts == [cost_shift, dst_shift], "pair routes and all routes pack differently"
        # tree rows hold packed hops, cycles and edge ids: one integer type for all three
        tree_width = np.result_type(width, np.int64 if 3 * int(route_ptr[-1]) >= 2**31 else np.int32)
        tree_ptr, tree, tree_counts = multicast_trees(out_ptr, route_ptr, route_info, every_hop.astype(tree_width),
                                                      out_synops, out_cycles, link_classes(arch))
        # one packet per spike, whose copies cross the tree's links once each
        spike_totals[:, :, K.ST_LINKS] = tree_counts[:, :, K.LINK_LOCAL:K.LINK_Y + 1]
        spike_totals[:, :, K.ST_INJECTED] = spike_totals[:, :, K.ST_DELIVERED] > 0
    else:
        tree_ptr = np.zeros(K.N_CHOICES * network.n_units + 1, dtype=np.int64)
        tree = np.zeros((0, K.TREE_COLUMNS), dtype=width)
    masks = receive_masks(network)
    arrays = EngineArrays(
        layer_offsets=offs.astype(np.int64),
        layer_gates=network.layer_gates(),
        unit_layer=network.unit_layer(),
        input_encoding=network.input_encoding,
        n_event_layers=network.n_event_layers,
        receive_masks=masks,
        receive_bits=tuple(tuple(None if m is None else receive.pack_reach(m) for m in pair) for pair in masks),
        input_reach=input_reach(network),
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
        out_cycles=out_cycles,
        entry_table=entry_table,
        spike_totals=spike_totals,
        route_hop=route_hop,
        tree_ptr=tree_ptr,
        tree=tree,
        params=params,
    )
    return replace(arrays, bound=bound_tables(arrays, arch)) if bound else arrays


def core_pair_routes(out_ptr, out_core, unit_core, route_ptr) -> tuple[np.ndarray, np.ndarray]:
    """Routes depend only on (source core, destination core): one copy per pair the entries use.

    Returns ``(first_position, positions)``: the pair routes, concatenated, are the
    route positions ``positions`` (rows of ``route_info``), and entry ``k``'s route
    starts at ``first_position[k]`` of them (``first_position[-1]``: their length).
    A few thousand pairs stand for ~10^5 entries, so the positions the kernel
    reads at every event stay in cache.
    """
    n_cores = int(max(out_core.max(initial=-1), unit_core.max(initial=-1))) + 1
    src = np.asarray(unit_core, dtype=np.int64)[np.repeat(np.arange(out_ptr.shape[0] - 1), np.diff(out_ptr))]
    _, pair_entry, pair_of_entry = np.unique(src * n_cores + out_core, return_index=True, return_inverse=True)
    length = np.diff(route_ptr)[pair_entry]
    start = np.zeros(pair_entry.shape[0] + 1, dtype=np.int64)
    np.cumsum(length, out=start[1:])
    first_position = np.append(start[pair_of_entry.reshape(-1)], start[-1])
    positions = np.repeat(route_ptr[pair_entry] - start[:-1], length) + np.arange(start[-1])
    return first_position.astype(np.int64), positions


def pack_route_hops(route_info: np.ndarray, n_links: int, n_cores: int) -> tuple[np.ndarray, int, int]:
    """``route_info`` rows (link, flits + latency, destination core or -1) packed into one integer each.

    Bits ``[0, cost_shift)`` hold the link, ``[cost_shift, dst_shift)`` its flits +
    latency and the bits above the destination core + 1 (0 on every position but
    a route's last). int32 when the fields fit in 31 bits (half the memory the
    kernel walks per event), int64 otherwise. One zero entry is appended so the
    kernel may read one position past a route's end. Returns (packed, cost_shift, dst_shift).
    """
    link_bits = max(1, int(n_links - 1).bit_length())
    cost_bits = max(1, int(route_info[:, K.ROUTE_COST].max(initial=0)).bit_length())
    dst_bits = max(1, int(n_cores).bit_length())
    total = link_bits + cost_bits + dst_bits
    if total > 63:
        raise ValueError(f"route hops: {total} bits of link, latency and core do not fit in 64")
    dtype = np.int32 if total <= 31 else np.int64
    packed = np.zeros(route_info.shape[0] + 1, dtype=dtype)
    info = route_info.astype(np.int64)
    packed[:-1] = (info[:, K.ROUTE_LINK] | (info[:, K.ROUTE_COST] << link_bits)
                   | ((info[:, K.ROUTE_DST] + 1) << (link_bits + cost_bits)))
    return packed, link_bits, link_bits + cost_bits


def per_choice(a: np.ndarray) -> np.ndarray:
    """[n, 2] per-projection values (ff, rec) -> [n, 3] per choice of projections sent (ff, rec, both)."""
    return np.stack([a[:, 0], a[:, 1], a.sum(axis=1)], axis=1)


def packet_tables(out_ptr, first_position, out_synops, out_work, out_bytes, out_cycles, route_hops):
    """Per destination entry and per presynaptic unit, what a packet costs for each choice of projections sent.

    Columns of the choice: 0 ff, 1 rec, 2 both (``sel - 1`` in the kernel).
    ``entry_table[k]``: the entry's first route position (``first_position[k]``, an index of
    ``route_hop``; see :func:`core_pair_routes`), then its packet's
    synapse cycles per choice, -1 where the entry holds no synapse of the
    projections sent (no packet). ``spike_totals[u, choice]``: synops, synapse
    work, synapse bytes, local, x and y link traversals, packets delivered and
    packets injected over the unit's entries with source replication (one packet
    per destination core), so the kernels count them once per spike instead of
    once per packet; :func:`build_arrays` puts a multicast tree's figures in their place.
    """
    n_entries = out_synops.shape[0]
    n_units = out_ptr.shape[0] - 1
    syn3, work3, bytes3 = per_choice(out_synops), per_choice(out_work), per_choice(out_bytes)
    has = syn3 > 0
    dtype = np.int32 if max(int(first_position[-1]), int(out_cycles.max(initial=0))) < 2**31 else np.int64
    entry_table = np.empty((n_entries, K.ENTRY_CYCLES + K.N_CHOICES), dtype=dtype)
    entry_table[:, K.ENTRY_FIRST_POSITION] = first_position[:-1]
    entry_table[:, K.ENTRY_CYCLES:] = np.where(has, out_cycles, -1)
    entry_unit = np.repeat(np.arange(n_units), np.diff(out_ptr))
    spike_totals = np.zeros((n_units, K.N_CHOICES, K.N_SPIKE_TOTALS), dtype=np.int64)
    for choice in range(K.N_CHOICES):
        h = has[:, choice].astype(np.int64)
        columns = {K.ST_SYNOPS: syn3[:, choice], K.ST_WORK: work3[:, choice] * h, K.ST_BYTES: bytes3[:, choice] * h,
                   K.ST_LOCAL: route_hops[:, K.LINK_LOCAL] * h, K.ST_X: route_hops[:, K.LINK_X] * h,
                   K.ST_Y: route_hops[:, K.LINK_Y] * h, K.ST_DELIVERED: h, K.ST_INJECTED: h}
        for c, values in columns.items():
            np.add.at(spike_totals[:, choice, c], entry_unit, values)
    return entry_table, spike_totals


def link_classes(arch: ChipArch) -> np.ndarray:
    """Class of every link id of ``arch``: LINK_LOCAL, LINK_X or LINK_Y (:mod:`neurosim.engine.layout`)."""
    return K.link_classes(arch.cores.count, arch.n_routers)


def head_cycles(arch: ChipArch) -> int:
    """Cycles a packet needs on a link before it is ready at the next one, latency aside: 1 (its head
    flit) with wormhole switching, all its flits with store-and-forward."""
    return 1 if arch.noc.switching == "wormhole" else arch.noc.flits_per_packet


def fired_matrix(trace: Trace, first: int = 0, stop: int | None = None) -> np.ndarray:
    """Events of all layers side by side, uint8 [stop - first, sum(H)]."""
    stop = trace.n_tokens if stop is None else stop
    return np.ascontiguousarray(
        np.concatenate([layer.events[first:stop] for layer in trace.layers], axis=1).astype(np.uint8)
    )


def receive_masks(network: Network) -> tuple:
    """Per layer: which presynaptic units reach which units (a nonzero weight to any gate), bool, or None.

    ``(ff, rec)``: ``ff`` is [n_pre, H] from the layer's feed-forward source (None for layer 0 when its
    input is the dense embedding, see :func:`input_reach`), ``rec`` is [H, H] (None where the layer has
    no recurrent projection: the readout).
    """
    gates = network.layer_gates()
    masks = [[None, None] for _ in range(network.n_layers)]
    for proj in network.projections:
        if proj.kind == FF and proj.post_layer == 0 and network.dense_input:
            continue
        masks[proj.post_layer][proj.kind] = proj.mask.reshape(proj.n_pre, gates[proj.post_layer], -1).any(axis=1)
    return tuple(tuple(m) for m in masks)


def input_reach(network: Network) -> np.ndarray:
    """uint8 [H_0]: 1 where a layer-0 unit has a nonzero weight from the (always active) input units."""
    proj = next(p for p in network.projections if p.kind == FF and p.post_layer == 0)
    g = network.layer_gates()[0]
    return proj.mask.reshape(proj.n_pre, g, -1).any(axis=(0, 1)).astype(np.uint8)


def received_matrix(arrays: EngineArrays, fired: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
    """uint8 [rows, n_layer_units]: 1 where a unit received input for the token of the row
    (:mod:`neurosim.engine.receive`; its twin is ``receive.received_reference``)."""
    offs = (arrays.layer_offsets - arrays.layer_offsets[0]).astype(np.int64)
    out = np.zeros((fired.shape[0], int(offs[-1])), dtype=np.uint8)
    for l, (ff, rec) in enumerate(arrays.receive_bits):
        size = int(offs[l + 1] - offs[l])
        words = -(-size // receive.WORD_BITS)
        none = np.zeros(words, dtype=np.uint64)
        if l > 0:
            receive.mark_received(fired, int(offs[l - 1]), ff, int(offs[l]), size, 0, none, out)
        elif ff is None:  # the dense embedding reaches the same units at every step
            always = receive.pack_reach(arrays.input_reach[None, :].astype(bool))[0]
            receive.mark_received(fired, 0, np.zeros((0, words), dtype=np.uint64), 0, size, 0, always, out)
        else:  # input events
            receive.mark_received(inputs, 0, ff, 0, size, 0, none, out)
        if rec is not None:
            receive.mark_received(fired, int(offs[l]), rec, int(offs[l]), size, 1, np.zeros(words, np.uint64), out)
    return out


def step_range(n_layers: int, pipelined: bool, token_begin: int, token_end: int) -> tuple[int, int]:
    """Timesteps that hold the tokens ``token_begin <= t < token_end``."""
    if pipelined:
        return token_begin, token_end + n_layers - 1
    return token_begin * n_layers, token_end * n_layers


@dataclass(frozen=True)
class BoundTables:
    """Per-spike tables of :func:`neurosim.engine.bound.bound_steps` (see :func:`bound_tables`)."""

    core_ptr: np.ndarray
    core_rows: np.ndarray
    link_ptr: np.ndarray
    link_rows: np.ndarray
    first_in: np.ndarray
    first_out: np.ndarray


def bound_tables(arrays: EngineArrays, arch: ChipArch) -> BoundTables:
    """Where one spike of unit ``u`` sending projections ``choice`` (0 ff, 1 rec, 2 both) loads the chip.

    The bound backend's tables (its counts come from ``arrays.spike_totals``):

    - ``core_rows[core_ptr[3u + choice] : core_ptr[3u + choice + 1]]``: per core
      the spike reaches, ``core << ROW_DEST_SHIFT | 1 << ROW_PACKET_SHIFT | synapse cycles`` (one packet);
    - ``link_rows[link_ptr[...] : ...]``: per mesh link it crosses, ``(link - first
      mesh link id) << ROW_DEST_SHIFT | traversals``;
    - ``first_in[c]``: the least route latency (flits + latency over the route) of
      any packet into core ``c``; ``first_out[c]``: the least route latency +
      synapse cycles of any packet out of core ``c``.
    """
    n_units = arrays.out_ptr.shape[0] - 1
    n_cores = arch.cores.count
    multicast = arrays.params[K.P_MULTICAST] == 1
    lengths = np.diff(arrays.route_ptr)
    entry_unit = np.repeat(np.arange(n_units), np.diff(arrays.out_ptr))
    route_latency = np.add.reduceat(arrays.route_info[:, K.ROUTE_COST].astype(np.int64), arrays.route_ptr[:-1])
    big = np.iinfo(np.int64).max // 4
    first_in = np.full(n_cores, big, dtype=np.int64)
    first_out = np.full(n_cores, big, dtype=np.int64)
    core_blocks, link_blocks = [], []
    mesh0 = K.first_mesh_link(n_cores)
    for choice in range(K.N_CHOICES):
        has = arrays.entry_table[:, K.ENTRY_CYCLES + choice] >= 0
        cycles = arrays.entry_table[:, K.ENTRY_CYCLES + choice].astype(np.int64)
        np.minimum.at(first_in, arrays.out_core[has], route_latency[has])
        np.minimum.at(first_out, arrays.unit_core[entry_unit[has]], route_latency[has] + cycles[has])
        # (unit * 3 + choice, core): entries of one unit reach distinct cores
        key = entry_unit[has] * 3 + choice
        core_blocks.append(np.stack([key, arrays.out_core[has], cycles[has]], 1))  # one packet per row
        # mesh link traversals: the union of the routes (a tree) or every route (source replication)
        positions = np.flatnonzero(np.repeat(has, lengths))
        links = arrays.route_links[positions]
        owner = np.repeat(key, lengths[has])
        mesh = links >= mesh0
        pairs = np.stack([owner[mesh], links[mesh] - mesh0], 1)
        if multicast:
            pairs = np.unique(pairs, axis=0)
        if pairs.size:
            uniq, n = np.unique(pairs, axis=0, return_counts=True)
            link_blocks.append(np.concatenate([uniq, n[:, None]], 1))
    core_all = np.concatenate(core_blocks)
    core_all = core_all[np.argsort(core_all[:, 0], kind="stable")]
    link_all = np.concatenate(link_blocks) if link_blocks else np.zeros((0, 3), dtype=np.int64)
    link_all = link_all[np.argsort(link_all[:, 0], kind="stable")]
    core_ptr = np.searchsorted(core_all[:, 0], np.arange(3 * n_units + 1)).astype(np.int64)
    link_ptr = np.searchsorted(link_all[:, 0], np.arange(3 * n_units + 1)).astype(np.int64)
    # one integer per row, so the kernel adds it with one read-modify-write: the destination (core or mesh
    # link) above bit 48, then for a core one packet (bit 32) plus its synapse cycles, for a link its traversals
    most_cycles = np.zeros(n_cores, dtype=np.int64)  # a step's synapse cycles into a core are at most this
    np.add.at(most_cycles, arrays.out_core, arrays.out_cycles.max(axis=1, initial=0))
    if most_cycles.max(initial=0) >= 2**32 or max(n_cores, 4 * arch.n_routers) > 2**15:
        raise ValueError(f"bound tables: {arch.name} is too large for the bound backend's packed rows "
                         "(at most 2**15 cores and mesh links, 2**32 synapse cycles into a core per step); "
                         "use backend numba")
    core_rows = (core_all[:, 1] << K.ROW_DEST_SHIFT) | (1 << K.ROW_PACKET_SHIFT) | core_all[:, 2]
    link_rows = (link_all[:, 1] << K.ROW_DEST_SHIFT) | link_all[:, 2]
    return BoundTables(
        core_ptr=core_ptr,
        core_rows=np.ascontiguousarray(core_rows, dtype=np.int64),
        link_ptr=link_ptr,
        link_rows=np.ascontiguousarray(link_rows, dtype=np.int64),
        first_in=first_in,
        first_out=first_out,
    )
