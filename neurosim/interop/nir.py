"""A trace from a NIR graph (the ``nir`` package) and recorded spikes: :func:`trace_from_nir`.

The graph is a chain of neuron populations (``LIF``, ``CubaLIF``, ``IF``, ``LI``, ``CubaLI``) joined by weight
nodes (``Affine``, ``Linear``); recurrence is a cycle ``population -> weights -> population``. Subgraphs
(as snnTorch exports ``RLeaky``) are flattened. Each population becomes a trace layer (gates 1): its input
weights the layer's ``w_in_mask``, its cycle's weights the ``w_rec_mask`` (none: an all-zero mask). The last
population is the readout (decoder) when it is a leaky integrator (``LI``, ``CubaLI``) or is not recurrent
and has no recorded spikes.

The spikes are an ``.npz`` file (or a dict) holding, per layer population, its node name -> ``[T, N]`` (a
batch dimension of 1 is dropped; nonzero = a spike), and optionally ``input`` -> ``[T, in]``: the input
spikes, which become the trace's ``input_events`` (absent: a dense input).
"""

from __future__ import annotations

import os

import numpy as np

from neurosim.trace.arrays import trace_from_arrays
from neurosim.trace.types import Trace, TraceError

READOUTS = ("auto", "last", "none")


def _kinds():
    import nir

    neurons = tuple(getattr(nir, n) for n in ("LIF", "CubaLIF", "IF", "LI", "CubaLI") if hasattr(nir, n))
    integrators = tuple(getattr(nir, n) for n in ("LI", "CubaLI") if hasattr(nir, n))
    return nir, neurons, (nir.Affine, nir.Linear), integrators


def _flatten(graph, prefix: str = "") -> tuple[dict, list]:
    """Nodes (no subgraphs) and edges of ``graph``, subgraphs inlined as ``name.node``; a subgraph's own
    Input/Output nodes stay, to be contracted by :func:`_contract`."""
    nir = _kinds()[0]
    nodes, edges, entry, exit_ = {}, [], {}, {}
    for name, node in graph.nodes.items():
        full = prefix + name
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten(node, full + ".")
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            ins = [n for n, v in node.nodes.items() if isinstance(v, nir.Input)]
            outs = [n for n, v in node.nodes.items() if isinstance(v, nir.Output)]
            if len(ins) != 1 or len(outs) != 1:
                raise TraceError(f"NIR subgraph {full}: {len(ins)} inputs and {len(outs)} outputs; expected one each")
            entry[full], exit_[full] = f"{full}.{ins[0]}", f"{full}.{outs[0]}"
        else:
            nodes[full] = node
    for a, b in graph.edges:
        a, b = prefix + a, prefix + b
        edges.append((exit_.get(a, a), entry.get(b, b)))
    return nodes, edges


def _contract(nodes: dict, edges: list, keep) -> tuple[dict, list]:
    """Remove pass-through nodes (those ``keep`` refuses), joining their predecessors to their successors."""
    for name in [n for n, v in nodes.items() if not keep(n, v)]:
        pred = [a for a, b in edges if b == name]
        succ = [b for a, b in edges if a == name]
        edges = [(a, b) for a, b in edges if name not in (a, b)] + [(a, b) for a in pred for b in succ]
        del nodes[name]
    return nodes, sorted(set(edges))


def _population_size(node, name: str) -> int | None:
    for attr in ("tau", "tau_mem", "r", "v_threshold"):
        v = getattr(node, attr, None)
        if v is not None and np.ndim(v) >= 1:
            return int(np.prod(np.shape(v)))
    return None


def _spike_matrix(name: str, a, T: int | None) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3 and 1 in a.shape[:2]:
        a = a.reshape(a.shape[0] * a.shape[1], a.shape[2])
    if a.ndim != 2:
        raise TraceError(f"spikes[{name!r}]: shape {a.shape}; expected [T, N] (or [T, 1, N])")
    if T is not None and a.shape[0] != T:
        raise TraceError(f"spikes[{name!r}]: {a.shape[0]} steps; the other populations have {T}")
    return a != 0


def trace_from_nir(graph, spikes, *, readout: str = "auto", model: str = "rsnn", name: str | None = None,
                   tokens=None) -> Trace:
    """A trace from a NIR graph and the spikes recorded when it ran.

    Parameters
    ----------
    graph : a ``nir.NIRGraph``, or the path of a ``.nir`` file (``nir.write``).
    spikes : a dict, or the path of an ``.npz`` file: population node name -> ``[T, N]`` spikes, and
        optionally ``input`` -> ``[T, in]`` input spikes.
    readout : ``auto`` (see the module docstring), ``last`` (the last population is the readout) or ``none``.
    model, name, tokens : the trace's model name, name and token ids (default zeros).

    Raises
    ------
    TraceError naming the node, edge or spike array that does not fit.
    """
    nir, neurons, weights, integrators = _kinds()
    if readout not in READOUTS:
        raise TraceError(f"readout: is {readout!r}; allowed: {list(READOUTS)}")
    source = "a NIR graph"
    if isinstance(graph, (str, os.PathLike)):
        source = f"NIR graph {os.fspath(graph)}"
        name = name or os.path.splitext(os.path.basename(os.fspath(graph)))[0]
        graph = nir.read(graph)
    if isinstance(spikes, (str, os.PathLike)):
        with np.load(spikes, allow_pickle=False) as z:
            spikes = {k: z[k] for k in z.files}
    nodes, edges = _flatten(graph)
    top_in = [n for n, v in graph.nodes.items() if isinstance(v, nir.Input)]
    top_out = [n for n, v in graph.nodes.items() if isinstance(v, nir.Output)]
    if len(top_in) != 1:
        raise TraceError(f"NIR graph: {len(top_in)} Input nodes {top_in}; expected one")
    nodes, edges = _contract(nodes, edges, lambda n, v: not isinstance(v, (nir.Input, nir.Output)) or n in top_in
                             or n in top_out)
    for n, v in nodes.items():
        if not isinstance(v, neurons + weights + (nir.Input, nir.Output)):
            raise TraceError(f"NIR node {n}: {type(v).__name__}; supported: Affine, Linear, LIF, CubaLIF, IF, LI, "
                             "CubaLI (with Input and Output)")
    inp = top_in[0]
    ff: dict[str, list] = {}  # target population -> [(source, mask)]
    rec: dict[str, np.ndarray] = {}
    direct_out = []
    for w, node in nodes.items():
        if not isinstance(node, weights):
            continue
        pred = [a for a, b in edges if b == w]
        succ = [b for a, b in edges if a == w]
        if len(pred) != 1 or len(succ) != 1:
            raise TraceError(f"NIR node {w}: {len(pred)} inputs and {len(succ)} outputs; a weight node joins one "
                             "population (or the Input) to one population")
        src, dst = pred[0], succ[0]
        if isinstance(nodes[src], weights) or isinstance(nodes[dst], weights):
            raise TraceError(f"NIR edge {src} -> {dst}: two weight nodes in a row; merge them into one Affine")
        mask = (np.asarray(node.weight) != 0).T
        if mask.ndim != 2:
            raise TraceError(f"NIR node {w}: weight of shape {np.shape(node.weight)}; expected [out, in]")
        if dst in top_out:
            direct_out.append((src, mask))
        elif src == dst:
            rec[dst] = mask if dst not in rec else rec[dst] | mask
        else:
            ff.setdefault(dst, []).append((src, mask))
    for a, b in edges:
        if not isinstance(nodes[a], weights) and not isinstance(nodes[b], weights) and b not in top_out:
            raise TraceError(f"NIR edge {a} -> {b}: joins two nodes without weights; expected a weight node between")
    chain, masks, current = [], [], inp
    while True:
        nxt = [(dst, m) for dst, srcs in ff.items() for src, m in srcs if src == current]
        targets = sorted({d for d, _ in nxt})
        if not targets:
            break
        if len(targets) > 1:
            raise TraceError(f"NIR graph: {current} feeds {targets}; a trace is a chain of populations")
        dst = targets[0]
        if any(src != current for src, _ in ff[dst]):
            raise TraceError(f"NIR population {dst}: fed by {sorted({s for s, _ in ff[dst]})}; a trace layer has "
                             "one feed-forward source (the population before it)")
        if dst in chain:
            raise TraceError(f"NIR graph: a cycle through {dst} that is not a population's own recurrence")
        mask = masks_or([m for _, m in nxt])
        chain.append(dst)
        masks.append(mask)
        current = dst
    if not chain:
        raise TraceError(f"NIR graph: no population is fed by the Input {inp}")
    fed = set(ff) - set(chain)
    if fed:
        raise TraceError(f"NIR populations {sorted(fed)} are not on the chain from {inp}")
    readout_mask = None
    if direct_out:
        if len(direct_out) != 1 or direct_out[0][0] != chain[-1]:
            raise TraceError(f"NIR graph: weights into the Output from {[s for s, _ in direct_out]}; expected from "
                             f"the last population {chain[-1]}")
        readout_mask = direct_out[0][1]
    elif readout != "none" and len(chain) > 1:
        last = chain[-1]
        if readout == "last" or isinstance(nodes[last], integrators) or (last not in rec and last not in spikes):
            readout_mask = masks.pop()
            chain.pop()
    events, w_in, w_rec = [], [], []
    T = None
    missing = [p for p in chain if p not in spikes]
    if missing:
        raise TraceError(f"spikes: no entry for the populations {missing}; expected node name -> [T, N] for "
                         f"{chain} (and optionally 'input')")
    for p, mask in zip(chain, masks):
        ev = _spike_matrix(p, spikes[p], T)
        T = ev.shape[0]
        H = mask.shape[1]
        size = _population_size(nodes[p], p)
        if ev.shape[1] != H or (size is not None and size != H):
            raise TraceError(f"NIR population {p}: {H} units from its input weights, {size} from its parameters, "
                             f"{ev.shape[1]} in its spikes; expected one size")
        events.append(ev)
        w_in.append(mask)
        w_rec.append(rec.get(p, np.zeros((H, H), dtype=bool)))
    input_events = None
    if "input" in spikes or inp in spikes:
        input_events = _spike_matrix("input", spikes["input" if "input" in spikes else inp], T)
    return trace_from_arrays(events, w_in, w_rec, gates=1, model=model, readout_mask=readout_mask,
                             input_events=input_events, tokens=tokens, name=name or "nir", source=source,
                             meta={"graded_events": [False] * len(chain), "populations": chain})


def masks_or(masks: list) -> np.ndarray:
    out = masks[0].copy()
    for m in masks[1:]:
        if m.shape != out.shape:
            raise TraceError(f"NIR: parallel weight nodes of shapes {out.shape} and {m.shape}")
        out |= m
    return out


__all__ = ["trace_from_nir"]
