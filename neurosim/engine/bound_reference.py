"""A plain numpy twin of :func:`neurosim.engine.bound.bound_steps` (the spike-phase lower bounds).

It starts from the per-entry arrays of :func:`neurosim.engine.build.build_arrays`
(destination core, synapse cycles and route of every (presynaptic unit,
destination core) entry, which the exact engine's tests pin to the SimPy
model), not from :func:`~neurosim.engine.build.bound_tables`, and sums them
over all timesteps at once with matrix products. Tests require that its
largest bound equals the kernel's spike phase at every step.
"""

from __future__ import annotations

import numpy as np

from neurosim.arch import ChipArch
from neurosim.engine import layout as K
from neurosim.engine.build import EngineArrays, link_classes, step_range

BOUNDS = ("sends", "core work", "ejection", "injection", "links")


def senders(fired: np.ndarray, layer_offsets: np.ndarray, n_tokens: int, pipelined: bool,
            n_event_layers: int | None = None, inputs: np.ndarray | None = None) -> np.ndarray:
    """[steps, units]: the projections each unit sends in each timestep (0 none, 1 ff, 2 rec, 3 both).

    ``fired`` holds tokens ``0 .. n_tokens - 1`` (layers side by side, input units excluded).
    """
    n_layers = layer_offsets.size - 1
    n_in = int(layer_offsets[0])
    s0, s1 = step_range(n_layers, pipelined, 0, n_tokens)
    sel = np.zeros((s1 - s0, int(layer_offsets[-1])), dtype=np.int8)
    tokens = np.arange(n_tokens)
    for l in range(n_layers):
        step = tokens + l if pipelined else tokens * n_layers + l  # the step that handles (layer l, token t)
        if l == 0:
            sel[step, :n_in] |= 1 if inputs is None or inputs.shape[1] == 0 else inputs[:n_tokens].astype(np.int8)
        else:
            a, b = layer_offsets[l - 1], layer_offsets[l]
            sel[step, a:b] |= fired[:, a - n_in:b - n_in].astype(np.int8)
        if n_event_layers is not None and l >= n_event_layers:
            continue  # the readout never fires
        a, b = layer_offsets[l], layer_offsets[l + 1]
        sel[step[1:], a:b] |= 2 * fired[:-1, a - n_in:b - n_in].astype(np.int8)
    return sel


def _per_step(sel: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Sum over the units sending in each step of ``table[choice, unit]`` (float64: exact for these integers)."""
    out = np.zeros((sel.shape[0], table.shape[2]))
    for choice in range(3):
        out += (sel == choice + 1).astype(np.float64) @ table[choice]
    return out


def bound_components(arrays: EngineArrays, arch: ChipArch, fired: np.ndarray, n_tokens: int,
                     inputs: np.ndarray | None = None) -> np.ndarray:
    """[4, steps] lower bounds of every timestep's spike phase, in the order of :data:`BOUNDS`."""
    n_units = arrays.out_ptr.size - 1
    n_cores = arch.cores.count
    links = link_classes(arch).size
    flits = arch.noc.flits_per_packet
    multicast = arrays.params[K.P_MULTICAST] == 1
    entry_unit = np.repeat(np.arange(n_units), np.diff(arrays.out_ptr))
    src_core = arrays.unit_core[entry_unit]
    lengths = np.diff(arrays.route_ptr)
    latency = np.add.reduceat(arrays.route_info[:, K.ROUTE_COST].astype(np.int64),
                              arrays.route_ptr[:-1])  # routes are never empty
    first_in = np.full(n_cores, np.inf)
    first_out = np.full(n_cores, np.inf)
    work = np.zeros((3, n_units, n_cores))
    received = np.zeros((3, n_units, n_cores))
    injected = np.zeros((3, n_units, n_cores))
    load = np.zeros((3, n_units, links))
    spiking = np.zeros((3, n_units, n_cores))  # one per sending unit, at its core
    spiking[:, np.arange(n_units), arrays.unit_core] = 1
    for choice in range(3):
        cols = [0, 1] if choice == 2 else [choice]
        has = arrays.out_synops[:, cols].sum(axis=1) > 0
        cycles = arrays.out_cycles[:, choice]
        np.minimum.at(first_in, arrays.out_core[has], latency[has])
        np.minimum.at(first_out, src_core[has], latency[has] + cycles[has])
        np.add.at(work[choice], (entry_unit[has], arrays.out_core[has]), cycles[has])
        np.add.at(received[choice], (entry_unit[has], arrays.out_core[has]), 1)
        for u in np.unique(entry_unit[has]):
            routes = [arrays.route_links[arrays.route_ptr[k]:arrays.route_ptr[k] + lengths[k]]
                      for k in np.flatnonzero(has & (entry_unit == u))]
            if multicast:  # one packet, whose copies cross each link of the union of the routes once
                injected[choice, u, arrays.unit_core[u]] = 1
                np.add.at(load[choice, u], np.unique(np.concatenate(routes)), 1)
            else:
                injected[choice, u, arrays.unit_core[u]] = len(routes)
                np.add.at(load[choice, u], np.concatenate(routes), 1)
    sel = senders(fired, arrays.layer_offsets, n_tokens, arrays.params[K.P_PIPELINED] == 1, arrays.n_event_layers,
                  inputs)
    w, r, i = _per_step(sel, work), _per_step(sel, received), _per_step(sel, injected)
    spike_cycles, send_cycles = arch.cores.spike_cycles, arch.cores.send_cycles_per_message
    spikers = _per_step(sel, spiking)
    spikers_with_packet = _per_step(sel, spiking * (injected > 0))
    sends = spike_cycles * spikers + send_cycles * i
    fin, fout = np.where(np.isfinite(first_in), first_in, 0), np.where(np.isfinite(first_out), first_out, 0)
    start = np.maximum(fin, sends) if arch.cores.send_receive == "shared" else fin + 0 * sends
    last_ready = spike_cycles * spikers_with_packet + send_cycles * i
    return np.stack([
        sends.max(axis=1, initial=0),
        np.where(r > 0, start + w, 0).max(axis=1, initial=0),
        np.where(r > 0, fin + (r - 1) * flits, 0).max(axis=1, initial=0),
        np.where(i > 0, np.maximum((i - 1) * flits, last_ready) + fout, 0).max(axis=1, initial=0),
        (_per_step(sel, load)[:, K.first_mesh_link(n_cores):] * flits).max(axis=1, initial=0),
    ])
