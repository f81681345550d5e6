"""The readable SimPy model of the engine's timing rules (the reference).

It shares no code with the Numba kernel but the storage-format formula
(:func:`neurosim.mapping.row_bits`): synapse tables, routes, multicast trees,
contention and phases are written again here in plain Python, one SimPy
process per link traversal. Tests require that it and
:func:`neurosim.engine.steps.simulate_steps` agree exactly on every cycle
and counter. Use it on small cases only: it is thousands of times slower.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import simpy

from neurosim.arch import ChipArch
from neurosim.engine import layout as K
from neurosim.mapping import Mapping, row_bits
from neurosim.network import FF, Network
from neurosim.trace import Trace


@dataclass
class Hop:
    """One link traversal of a packet; its children continue from the link's far end."""

    link: tuple
    children: list = field(default_factory=list)
    dst_core: int | None = None
    synapse_cycles: int = 0


def synapse_table(network: Network, mapping: Mapping, arch: ChipArch) -> dict:
    """``{pre_unit: {dst_core: {kind: [synops, work, bytes]}}}`` by a loop over every synapse."""
    offs = network.layer_offsets
    table: dict = defaultdict(lambda: defaultdict(dict))
    for proj in network.projections:
        H = network.layer_sizes[proj.post_layer]
        post_core = mapping.unit_core[offs[proj.post_layer] : offs[proj.post_layer + 1]]
        local_cols = defaultdict(int)
        for j in range(H):
            local_cols[int(post_core[j])] += int(network.layer_gates()[proj.post_layer])
        nnz = defaultdict(int)
        for i, col in zip(*np.nonzero(proj.mask)):
            nnz[(proj.pre_offset + int(i), int(post_core[col % H]))] += 1
        for (pre, core), n in nnz.items():
            cols = local_cols[core]
            work = cols if arch.cores.synapse_format == "dense" else n
            table[pre][core][proj.kind] = [n, work, math.ceil(row_bits(arch.cores, cols, n) / 8)]
    return table


def router_of(core: int, arch: ChipArch) -> tuple[int, int]:
    r = core // arch.cores.cores_per_router
    return r % arch.noc.mesh_x, r // arch.noc.mesh_x


def xy_route(src: int, dst: int, arch: ChipArch) -> list[tuple]:
    """Links from core ``src`` to core ``dst``: ("inject", src), mesh hops ("E"|"W"|"N"|"S", x, y), ("eject", dst)."""
    (x, y), (xb, yb) = router_of(src, arch), router_of(dst, arch)
    links = [("inject", src)]
    order = "xy" if arch.noc.routing == "xy" else "yx"
    for dim in order:
        if dim == "x":
            while x != xb:
                step = 1 if xb > x else -1
                links.append(("E" if step > 0 else "W", x, y))
                x += step
        else:
            while y != yb:
                step = 1 if yb > y else -1
                links.append(("N" if step > 0 else "S", x, y))
                y += step
    links.append(("eject", dst))
    return links


def latency(link: tuple, arch: ChipArch) -> int:
    if link[0] in ("inject", "eject"):
        return arch.noc.local_latency_cycles
    return arch.noc.hop_x_latency_cycles if link[0] in ("E", "W") else arch.noc.hop_y_latency_cycles


def hop_cycles(link: tuple, arch: ChipArch) -> int:
    """Cycles from departing ``link`` to being ready at the next one (or delivered, after the ejection link).

    Wormhole: the head flit (1 cycle) + latency, and the body's flits once, on the ejection link;
    store-and-forward: every link costs all the flits + latency.
    """
    flits = arch.noc.flits_per_packet
    whole = link[0] == "eject" or arch.noc.switching == "store_and_forward"
    return (flits if whole else 1) + latency(link, arch)


def link_id(link: tuple, arch: ChipArch) -> int:
    """The engine's id of a link (:mod:`neurosim.engine.layout`), written out again here."""
    n_cores = arch.cores.count
    if link[0] == "inject":
        return link[1]
    if link[0] == "eject":
        return n_cores + link[1]
    direction = {"E": 0, "W": 1, "N": 2, "S": 3}[link[0]]
    return 2 * n_cores + 4 * (link[2] * arch.noc.mesh_x + link[1]) + direction


class SpikePhase:
    """One timestep's packets in SimPy: a process per link traversal, links and cores served in arrival order."""

    def __init__(self, arch: ChipArch, count: dict, busy: np.ndarray, link_flits: np.ndarray):
        self.arch = arch
        self.count = count
        self.busy = busy
        self.link_flits = link_flits
        self.flits = arch.noc.flits_per_packet
        self.env = simpy.Environment()
        self.link_free: dict[tuple, int] = defaultdict(int)
        self.core_free: dict[int, int] = defaultdict(int)
        self.end = 0  # the cycle the last packet is processed

    def traverse(self, hop: Hop, ready: int = 0):
        """Wait for the link (and, at the source, for the message's send work to end at ``ready``),
        cross it, then hand the packet to its core and its children."""
        env, count = self.env, self.count
        ready = max(env.now, ready)
        depart = max(ready, self.link_free[hop.link])
        count["link_wait_cycles"] += depart - ready
        self.link_free[hop.link] = depart + self.flits
        self.link_flits[link_id(hop.link, self.arch)] += self.flits
        yield env.timeout(depart + hop_cycles(hop.link, self.arch) - env.now)
        kind = hop.link[0]
        name = "flits_local" if kind in ("inject", "eject") else ("flit_hops_x" if kind in "EW" else "flit_hops_y")
        count[name] += self.flits
        self.end = max(self.end, env.now)
        if hop.dst_core is not None:
            start = max(env.now, self.core_free[hop.dst_core])
            count["core_wait_cycles"] += start - env.now
            self.core_free[hop.dst_core] = start + hop.synapse_cycles
            self.busy[hop.dst_core] += hop.synapse_cycles
            count["packets_received"] += 1
            self.end = max(self.end, start + hop.synapse_cycles)
        for child in hop.children:
            self.env.process(self.traverse(child))

    def run(self, roots: list[tuple[Hop, int]], send_end: dict[int, int]) -> None:
        """Replay ``roots`` (first hop, cycle its send work ends); ``send_end``: each core's send work."""
        if self.arch.cores.send_receive == "shared":  # one processor: its sends first, then what it receives
            self.core_free.update(send_end)
        for root, ready in roots:
            self.env.process(self.traverse(root, ready))
        self.env.run()
        self.end = max([self.end, *send_end.values()])


def pairs_in_step(s: int, L: int, pipelined: bool, token_begin: int, token_end: int) -> list[tuple[int, int]]:
    """(layer, token) pairs that timestep ``s`` handles."""
    pairs = [(l, s - l) for l in range(L)] if pipelined else [(s % L, s // L)]
    return [(l, t) for l, t in pairs if token_begin <= t < token_end]


def active_inputs(network: Network, trace: Trace, t: int) -> list[int]:
    """The input units that send for token ``t``: all of them (embedding), the token's, or the recorded ones."""
    if network.input_encoding == "embedding":
        return list(range(network.input_size))
    if network.input_encoding == "token":
        return [int(trace.tokens[t])]
    return [int(u) for u in np.flatnonzero(trace.input_events[t])]


def received_input(network: Network, trace: Trace, l: int, t: int) -> np.ndarray:
    """bool [H_l]: the units of layer ``l`` that receive input for token ``t``, by a loop over synapses."""
    H = network.layer_sizes[l]
    got = np.zeros(H, dtype=bool)
    for proj in network.projections:
        if proj.post_layer != l:
            continue
        if proj.kind == FF:
            active = active_inputs(network, trace, t) if l == 0 else np.flatnonzero(trace.layers[l - 1].events[t])
        else:
            active = np.flatnonzero(trace.layers[l].events[t - 1]) if t >= 1 else []
        for i in active:
            for col in np.flatnonzero(proj.mask[i]):
                got[col % H] = True
    return got


def simulate_reference(
    trace: Trace, network: Network, mapping: Mapping, arch: ChipArch, token_begin: int, token_end: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counters, per-step cycles and per-core busy cycles, like the Numba kernel."""
    table = synapse_table(network, mapping, arch)
    L = network.n_layers
    offs = network.layer_offsets
    pipelined = arch.pipeline == "pipelined"
    spc = Fraction(arch.cores.synops_per_cycle).limit_denominator(1_000_000)
    unit_core = mapping.unit_core
    n_cores = arch.cores.count
    cores = arch.cores
    used = {int(c) // cores.cores_per_router for c in np.flatnonzero(mapping.compartments_per_core)}
    barrier = arch.barrier_cycles_for(len(used))
    count = defaultdict(int)
    busy = np.zeros(n_cores, dtype=np.int64)
    steps = []
    step_rows = []
    link_flits = np.zeros(2 * n_cores + 4 * arch.n_routers, dtype=np.int64)
    layer_counts = np.zeros((L, len(K.LAYER_COUNT_NAMES)), dtype=np.int64)
    layer_of = {u: l for l in range(L) for u in range(int(offs[l]), int(offs[l + 1]))}
    first, last = (token_begin, token_end + L - 1) if pipelined else (token_begin * L, token_end * L)
    for s in range(first, last):
        pairs = pairs_in_step(s, L, pipelined, token_begin, token_end)
        # presynaptic units that send in this step, with the projections they feed
        kinds: dict[int, set] = defaultdict(set)
        for l, t in pairs:
            if l == 0:
                for u in active_inputs(network, trace, t):
                    kinds[u].add(FF)
            else:
                for j in np.flatnonzero(trace.layers[l - 1].events[t]):
                    kinds[int(offs[l - 1] + j)].add(FF)
            if t >= 1 and l < network.n_event_layers:
                for j in np.flatnonzero(trace.layers[l].events[t - 1]):
                    kinds[int(offs[l] + j)].add(1 - FF)

        roots: list[tuple[Hop, int]] = []  # first hop, cycle the message's send work ends
        send_end: dict[int, int] = defaultdict(int)  # each core's send work, in unit order
        for u in sorted(kinds):
            count["spikes"] += 1
            src = int(unit_core[u])
            send_end[src] += cores.spike_cycles
            tree: dict[tuple, Hop] = {}
            for core in sorted(table[u]):
                rows = [table[u][core][k] for k in sorted(kinds[u]) if k in table[u][core]]
                syn = sum(r[0] for r in rows)
                if syn == 0:
                    continue
                for k in kinds[u]:  # ff feeds the next layer, rec the unit's own
                    if k in table[u][core]:
                        layer_counts[layer_of.get(u, -1) + (1 if k == FF else 0), 0] += table[u][core][k][0]
                work = sum(r[1] for r in rows)
                count["synops"] += syn
                count["synapse_work"] += work
                count["synapse_bytes"] += sum(r[2] for r in rows)
                count["packets_sent"] += 1
                cycles = cores.synapse_overhead_cycles + math.ceil(Fraction(work) / spc)
                parent = None
                for link in xy_route(src, core, arch):
                    if arch.noc.multicast == "network" and link in tree:
                        parent = tree[link]
                        continue
                    hop = Hop(link)
                    if arch.noc.multicast == "network":
                        tree[link] = hop
                    if parent is None:  # a new message: one more send at the source core
                        send_end[src] += cores.send_cycles_per_message
                        roots.append((hop, send_end[src]))
                    else:
                        parent.children.append(hop)
                    parent = hop
                parent.dst_core, parent.synapse_cycles = core, cycles
        count["packets_injected"] += len(roots)
        count["send_cycles"] += sum(send_end.values())
        for core, cycles in send_end.items():
            busy[core] += cycles

        spike = SpikePhase(arch, count, busy, link_flits)
        spike.run(roots, dict(send_end))
        end = spike.end

        update = np.zeros(n_cores, dtype=np.int64)
        for l, t in pairs:
            units = unit_core[offs[l] : offs[l + 1]]
            readout = l >= network.n_event_layers  # the decoder never fires
            fired = np.zeros(len(units), dtype=bool) if readout else trace.layers[l].events[t]
            received = received_input(network, trace, l, t)
            g = int(network.layer_gates()[l])
            for j, core in enumerate(units):
                if fired[j]:
                    state, cycles = "updates_active", cores.neuron_update_cycles_active
                elif received[j]:
                    state, cycles = "updates_received", cores.update_cycles_received
                else:
                    state, cycles = "updates_inactive", cores.neuron_update_cycles_inactive
                count[state] += g
                update[core] += g * cycles
                layer_counts[l, K.LAYER_COUNT_NAMES.index(state)] += g
                layer_counts[l, K.LC_UPDATE_CYCLES] += g * cycles
        busy += update
        work = end + barrier + int(update.max())
        timer = arch.timer_cycles  # a timer-driven chip holds the step for a whole period
        step = max(work, timer)
        count["timer_overruns"] += int(0 < timer < work)
        count["timer_idle_cycles"] += step - work
        count["barriers"] += 1
        count["spike_phase_cycles"] += end
        count["barrier_cycles"] += barrier
        count["update_phase_cycles"] += int(update.max())
        count["total_cycles"] += step
        count["core_busy_cycles"] = int(busy.sum())
        steps.append(step)
        step_rows.append(np.array([count[name] for name in K.COUNTER_NAMES], dtype=np.int64))
    counters = np.array([count[name] for name in K.COUNTER_NAMES], dtype=np.int64)
    cumulative = np.array(step_rows, dtype=np.int64).reshape(-1, K.N_COUNTERS)
    step_counts = np.diff(cumulative, axis=0, prepend=np.zeros((1, K.N_COUNTERS), dtype=np.int64))
    return counters, np.array(steps, dtype=np.int64), busy, step_counts, link_flits, layer_counts
