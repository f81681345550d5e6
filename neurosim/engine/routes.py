"""Routing kernels: dimension-order routes and in-network multicast trees (built once per network)."""

from __future__ import annotations

import numpy as np
from numba import njit

from neurosim.engine.layout import (
    EAST,
    N_CHOICES,
    NORTH,
    P_CORES_PER_ROUTER,
    P_MESH_X,
    P_MESH_Y,
    P_N_CORES,
    P_ROUTING_YX,
    SOUTH,
    TREE_COLUMNS,
    TREE_CYCLES,
    TREE_DELIVERIES,
    TREE_FIRST_CHILD,
    TREE_HOP,
    TREE_N_CHILDREN,
    WEST,
    ejection_link,
    injection_link,
    mesh_link,
)


@njit(cache=True)
def route(src_core, dst_core, p, out):
    """Links of the dimension-order route from ``src_core`` to ``dst_core``.

    Writes link ids into ``out`` and returns how many: the injection link
    (:func:`~neurosim.engine.layout.injection_link`), mesh links (:func:`~neurosim.engine.layout.mesh_link`),
    the ejection link (:func:`~neurosim.engine.layout.ejection_link`).
    """
    n_cores = p[P_N_CORES]
    mesh_x = p[P_MESH_X]
    cpr = p[P_CORES_PER_ROUTER]
    ra = src_core // cpr
    rb = dst_core // cpr
    x, y = ra % mesh_x, ra // mesh_x
    xb, yb = rb % mesh_x, rb // mesh_x
    n = 0
    out[n] = injection_link(src_core)
    n += 1
    for phase in range(2):
        do_x = (phase == 0) != (p[P_ROUTING_YX] == 1)
        if do_x:
            while x != xb:
                d = EAST if xb > x else WEST
                out[n] = mesh_link(n_cores, y * mesh_x + x, d)
                n += 1
                x += 1 if d == EAST else -1
        else:
            while y != yb:
                d = NORTH if yb > y else SOUTH
                out[n] = mesh_link(n_cores, y * mesh_x + x, d)
                n += 1
                y += 1 if d == NORTH else -1
    out[n] = ejection_link(n_cores, dst_core)
    n += 1
    return n


@njit(cache=True)
def entry_routes(out_ptr, out_core, unit_core, p):
    """The route of every destination entry (presynaptic unit -> core), CSR: (ptr, links)."""
    n_units = out_ptr.shape[0] - 1
    n_entries = out_core.shape[0]
    path = np.empty(4 + p[P_MESH_X] + p[P_MESH_Y], dtype=np.int64)
    lengths = np.empty(n_entries, dtype=np.int64)
    for u in range(n_units):
        for k in range(out_ptr[u], out_ptr[u + 1]):
            lengths[k] = route(unit_core[u], out_core[k], p, path)
    ptr = np.zeros(n_entries + 1, dtype=np.int64)
    for k in range(n_entries):
        ptr[k + 1] = ptr[k] + lengths[k]
    links = np.empty(ptr[n_entries], dtype=np.int64)
    for u in range(n_units):
        for k in range(out_ptr[u], out_ptr[u + 1]):
            n = route(unit_core[u], out_core[k], p, path)
            links[ptr[k] : ptr[k] + n] = path[:n]
    return ptr, links


@njit(cache=True)
def _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, link_class, tree_ptr,
                tree, tree_counts, fill):
    """Counting pass (``fill`` False: sizes into ``tree_ptr``) or filling pass of :func:`multicast_trees`."""
    n_units = out_ptr.shape[0] - 1
    most = 1
    for u in range(n_units):
        most = max(most, route_ptr[out_ptr[u + 1]] - route_ptr[out_ptr[u]])
    link_edge = np.full(link_class.shape[0], -1, dtype=np.int64)  # the edge of this tree on a link, -1: none yet
    position = np.empty(most, dtype=np.int64)  # scratch tree: the route position an edge came from
    cycles = np.empty(most, dtype=np.int64)
    first = np.empty(most, dtype=np.int64)
    last = np.empty(most, dtype=np.int64)
    sibling = np.empty(most, dtype=np.int64)
    order = np.empty(most, dtype=np.int64)  # breadth-first order
    label = np.empty(most, dtype=np.int64)
    n_edges = 0
    for u in range(n_units):
        for choice in range(3):
            size = 0
            deliveries = 0
            for k in range(out_ptr[u], out_ptr[u + 1]):
                syn = out_synops[k, 0] + out_synops[k, 1] if choice == 2 else out_synops[k, choice]
                if syn == 0:
                    continue
                deliveries += 1
                parent = -1
                for i in range(route_ptr[k], route_ptr[k + 1]):
                    link = route_info[i, 0]
                    if link_edge[link] >= 0:  # shared with an earlier destination of this packet
                        parent = link_edge[link]
                        continue
                    e = size
                    size += 1
                    link_edge[link] = e
                    position[e] = i
                    cycles[e] = out_cycles[k, choice]
                    first[e] = -1
                    last[e] = -1
                    sibling[e] = -1
                    if parent >= 0:
                        if last[parent] < 0:
                            first[parent] = e
                        else:
                            sibling[last[parent]] = e
                        last[parent] = e
                    parent = e
            for e in range(size):  # forget this tree's links
                link_edge[route_info[position[e], 0]] = -1
            if fill and size > 0:  # breadth first: the children of an edge are contiguous, in the order added
                order[0] = 0
                n_ordered = 1
                for j in range(size):
                    e = order[j]
                    label[e] = n_edges + j
                    c = first[e]
                    while c >= 0:
                        order[n_ordered] = c
                        n_ordered += 1
                        c = sibling[c]
                n_ordered = 1
                for j in range(size):
                    e = order[j]
                    row = n_edges + j
                    tree[row, TREE_HOP] = route_hop_of[position[e]]
                    tree[row, TREE_CYCLES] = cycles[e]
                    n_children = 0
                    c = first[e]
                    while c >= 0:
                        n_children += 1
                        c = sibling[c]
                    tree[row, TREE_FIRST_CHILD] = n_edges + n_ordered
                    tree[row, TREE_N_CHILDREN] = n_children
                    n_ordered += n_children
                    tree_counts[u, choice, link_class[route_info[position[e], 0]]] += 1
                tree_counts[u, choice, TREE_DELIVERIES] = deliveries
            n_edges += size
            tree_ptr[3 * u + choice + 1] = n_edges
    return n_edges


@njit(cache=True)
def multicast_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, link_class):
    """The packet tree of every presynaptic unit and choice of projections sent (in-network multicast).

    A spike of unit ``u`` that sends projections ``choice`` (0 ff, 1 rec, 2 both)
    is one packet whose copies branch along the union of the dimension-order
    routes to its destination cores (added in destination order, route order):
    edges ``tree_ptr[3u + choice] <= e < tree_ptr[3u + choice + 1]`` in
    breadth-first order, the first one the root (the injection link).
    ``tree[e]``: the link packed like a route position (``route_hop_of[i]`` for
    route position ``i``: link, flits + latency, destination core + 1 at a
    leaf), the leaf's synapse cycles, the first child and the number of
    children, which are contiguous and in the order they were added.
    ``tree_counts[u, choice]``: local, x and y edges, and deliveries. Trees
    depend on the spike alone, so they are built once, not at every timestep.
    """
    n_units = out_ptr.shape[0] - 1
    tree_ptr = np.zeros(3 * n_units + 1, dtype=np.int64)
    tree_counts = np.zeros((n_units, N_CHOICES, TREE_DELIVERIES + 1), dtype=np.int64)
    empty = np.empty((0, TREE_COLUMNS), dtype=route_hop_of.dtype)
    n_edges = _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, link_class,
                          tree_ptr, empty, tree_counts, False)
    tree = np.empty((n_edges, TREE_COLUMNS), dtype=route_hop_of.dtype)
    _grow_trees(out_ptr, route_ptr, route_info, route_hop_of, out_synops, out_cycles, link_class, tree_ptr,
                tree, tree_counts, True)
    return tree_ptr, tree, tree_counts
