"""The public Python API: ``neurosim.run(arch, trace) -> Result``.

Data flows one way: trace -> network -> mapping -> engine -> costing -> Result on a chip
target; trace -> GPU roofline model -> costing -> Result on a GPU target. This module
decides the target (:func:`target_of`) and runs the stages; sampled and checked runs
replay windows chosen by :mod:`neurosim.sampling`.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from neurosim.arch import ChipArch, load_arch
from neurosim.costing import chip_result
from neurosim.costing.chip import RunInside, token_latency_cycles
from neurosim.engine import BACKENDS as ENGINES
from neurosim.engine import EngineError, build_arrays, simulate
from neurosim.mapping import map_network
from neurosim.network import build_network
from neurosim.result import Result
from neurosim.sampling import PER_TOKEN_FIGURES, confidence_interval, window_range, window_starts
from neurosim.trace import Trace, TraceError, load_trace, summary

TARGETS = ("chip", "gpu")

def target_of(arch) -> str:
    """``"chip"`` for a neuromorphic spec, ``"gpu"`` for a GPU spec (``kind: gpu``)."""
    return "chip" if isinstance(arch, ChipArch) else "gpu"


def _as_arch(arch, overrides):
    if isinstance(arch, (str, Path)):
        return load_arch(arch, overrides)
    if overrides:
        from neurosim.arch import arch_from_dict
        from neurosim.spec import apply_overrides

        return arch_from_dict(apply_overrides(arch.model_dump(), overrides))
    return arch


def _as_trace(trace, tokens):
    if isinstance(trace, (str, Path)):
        return load_trace(trace, tokens)
    if tokens is not None and tokens != trace.n_tokens:
        if tokens > trace.n_tokens:
            raise EngineError(f"tokens: got {tokens}, the trace {trace.name} holds {trace.n_tokens}; "
                              f"allowed: an integer in [1, {trace.n_tokens}]")
        return trace.window(0, tokens)
    return trace


def _is_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, np.integer))


def _check_args(tokens, sample, window, seed, check, chunk_steps, threads, batch, min_cores) -> None:
    """Refuse argument values, and combinations, that mean nothing (one line naming the argument)."""
    for name, value, low in (("tokens", tokens, 1), ("sample", sample, 2), ("window", window, 1),
                             ("check", check, 1), ("chunk_steps", chunk_steps, 1), ("threads", threads, 1),
                             ("batch", batch, 1), ("min_cores", min_cores, 1)):
        if value is not None and (not _is_int(value) or value < low):
            extra = " windows (leave it out for a full run)" if name == "sample" else ""
            raise EngineError(f"{name}: got {value!r}; allowed: an integer >= {low}{extra}")
    if seed is not None and not _is_int(seed):
        raise EngineError(f"seed: got {seed!r}; allowed: an integer")
    for name, value in (("window", window), ("seed", seed)):
        if value is not None and sample is None and check is None:
            raise EngineError(f"{name}: got {value} without sample or check; it places the sampled or checked "
                              "windows (--sample K or --check K)")
    if chunk_steps is not None and (sample is not None or check is not None):
        raise EngineError("chunk_steps: replays a full run in chunks of timesteps; sampled and checked windows are "
                          "replayed whole (leave out chunk_steps, or sample and check)")


def run(
    arch,
    trace,
    *,
    tokens: int | None = None,
    overrides: list[str] | dict | None = None,
    batch: int = 1,
    policy: str = "contiguous",
    min_cores: int = 1,
    engine: str = "numba",
    chunk_steps: int | None = None,
    sample: int | None = None,
    window: int | None = None,
    seed: int | None = None,
    check: int | None = None,
    progress: bool = False,
    threads: int = 1,
    stream: bool = False,
    readout: str = "chip",
    input_encoding: str | None = None,
    backend: str | None = None,
    **gpu_options,
) -> Result:
    """Simulate ``trace`` on ``arch`` and return per-token cycles, traffic and energy.

    Parameters
    ----------
    arch : path of an architecture YAML, or a loaded spec (chip or GPU).
    trace : path of a trace ``.npz``, or a :class:`~neurosim.trace.Trace`.
    tokens : only the first ``tokens`` steps of the trace.
    overrides : ``["key.path=value", ...]`` applied to the architecture.
    batch : GPU specs only (event chips process one token stream).
    policy, min_cores : mapping policy (``contiguous`` or ``balanced``) and spread.
    engine : ``numba`` (exact), ``simpy`` (the reference; small cases only) or ``bound``
        (no packet replay: exact counts but the wait cycles; cycles are lower bounds).
    chunk_steps : stream the trace through the engine in chunks of timesteps.
    threads : simulate chunks of timesteps (or the sampled / checked windows) on this many
        threads (same result).
    stream : read the trace's events from disk while replaying (a path trace only;
        memory holds one chunk of ``chunk_steps`` timesteps, default 4096). Same result.
    sample, window : simulate ``sample`` windows (>= 2) of ``window`` tokens (default 256; stratified,
        random within strata with ``seed``, default 0) and report 95% confidence intervals.
        ``window`` and ``seed`` without ``sample`` or ``check`` are refused (they would mean nothing),
        and so are ``tokens`` beyond the trace and ``chunk_steps`` with a sampled, checked or GPU run.
    readout : ``"chip"`` (default) simulates the decoder on the chip, fed by the last layer's
        events (the trace's ``readout_w_mask``, or dense ``vocab_size x H_last``); ``"none"``
        leaves it out. A GPU spec models the decoder in the same cases (``include_readout``).
    input_encoding : what layer 0 receives (:data:`neurosim.network.INPUT_ENCODINGS`): ``"embedding"``
        (every input unit at every step), ``"token"`` (one event per token into the folded embedding)
        or ``"events"`` (the trace's recorded input events); default: ``"events"`` when the trace
        records input events, else ``"embedding"``.
    check : with ``engine="bound"``, also replay ``check`` windows of ``window`` tokens
        (drawn as for ``sample``) with the exact engine and record in ``meta`` how close
        the bound's cycles came there (``bound_check_*``).
    backend : the old name of ``engine`` (deprecated).

    Examples
    --------
    >>> r = run("loihi_like", "ptb_egru90", tokens=64)  # doctest: +SKIP
    >>> r.energy_pj_per_token  # doctest: +SKIP
    """
    if backend is not None:
        import warnings

        warnings.warn("run(backend=...) is deprecated; use engine=...", DeprecationWarning, stacklevel=2)
        engine = backend
    if engine not in ENGINES:
        raise EngineError(f"engine: got {engine!r}; allowed: {list(ENGINES)}")
    _check_args(tokens, sample, window, seed, check, chunk_steps, threads, batch, min_cores)
    arch = _as_arch(arch, overrides)
    if check is not None and (engine != "bound" or check < 1):
        raise EngineError(f"check: got {check} windows with engine {engine!r}; allowed: >= 1, "
                          "with engine 'bound' (it checks the bound against the exact engine)")
    if stream:
        if not isinstance(trace, (str, Path)):
            raise EngineError("stream: needs a trace path; an in-memory trace is already loaded")
        if sample or check or engine not in ("numba", "bound") or target_of(arch) != "chip":
            raise EngineError("stream: works with the numba or bound engine on a chip spec, without --sample "
                              "or --check")
        from neurosim.data import resolve_trace

        return _run_streamed(arch, resolve_trace(trace, TraceError), tokens, policy, min_cores, chunk_steps or 4096,
                             progress, threads, engine, readout, input_encoding)
    if target_of(arch) == "gpu" and chunk_steps is not None:
        raise EngineError(f"chunk_steps: got {chunk_steps}; {arch.name} is a GPU spec, modelled analytically over "
                          "the whole trace; chunk_steps applies to neuromorphic chips only")
    window = 256 if window is None else window
    seed = 0 if seed is None else seed
    trace = _as_trace(trace, tokens)
    if target_of(arch) == "gpu":
        if sample or check or engine != "numba":
            raise EngineError(f"engine {engine!r}, sample {sample}, check {check}: {arch.name} is a GPU spec, "
                              "modelled analytically over the whole trace; these apply to neuromorphic chips only")
        from neurosim.gpu import simulate_gpu
        from neurosim.network import READOUTS, has_readout

        if readout not in READOUTS:
            raise EngineError(f"readout: got {readout!r}; allowed: {list(READOUTS)}")
        if gpu_options.get("include_readout") is None:  # the same scope as on a chip
            gpu_options["include_readout"] = readout == "chip" and has_readout(trace)
        result = simulate_gpu(arch, trace, batch=batch, **gpu_options)
        return replace(result, meta={**result.meta, **_spec_meta(arch)})
    if gpu_options:
        raise EngineError(f"options {sorted(gpu_options)}: only GPU specs take them")
    if batch != 1:
        raise EngineError(f"batch: got {batch}; allowed: 1 for an event-driven chip ({arch.name})")

    t0 = time.perf_counter()
    network = build_network(trace, readout, _encoding(trace, input_encoding))
    mapping = map_network(network, arch, policy=policy, min_cores=min_cores)
    arrays = build_arrays(network, mapping, arch, bound=engine == "bound") if engine != "simpy" else None
    build_s = time.perf_counter() - t0
    info = summary(trace)
    meta = {
        **trace.meta,
        "activity_sparsity": info["activity_sparsity"],
        "measured_weight_sparsity": info["weight_sparsity"],
        "dense_macs_per_token": info["dense_macs_per_token"],
        **_mapping_meta(arch, mapping, policy, engine, network, trace),
        "build_s": build_s,
    }
    if check:
        meta.update(_check_bound(arch, trace, network, mapping, arrays, check, window, seed, threads))
    if sample:
        return _run_sampled(arch, trace, network, mapping, arrays, sample, window, seed, meta, threads, engine)
    if progress:
        _warm_up(trace, network, mapping, arch, arrays, engine)
    eng = simulate(trace, network, mapping, arch, backend=engine, chunk_steps=chunk_steps, arrays=arrays,
                   progress=progress, threads=threads)
    meta["simulate_s"] = eng.simulate_s
    return chip_result(arch, trace.name, eng.counts, eng.tokens, eng.latency_cycles_per_token(),
                       eng.core_busy_cycles, mapping.compartments_per_core, meta, _inside(eng, network))


def _layer_names(network) -> tuple[str, ...]:
    return tuple(f"layer {i}" for i in range(network.n_event_layers)) + (("readout",) if network.readout_size else ())


def _inside(eng, network, runs=None) -> RunInside:
    """The engine's per-step, per-link and per-layer figures of one run (or of the windows ``runs``, pooled).

    The engine's ``step_counts``, ``link_flits`` and ``layer_counts`` are optional: a run
    without them still has its step cycles, token latencies and per-core busy cycles.
    """
    runs = runs or [eng]

    def pooled(name, join):
        parts = [getattr(r, name, None) for r in runs]
        return None if any(p is None for p in parts) else join(parts)

    return RunInside(
        step_cycles=np.concatenate([r.step_cycles for r in runs]),
        n_layers=eng.n_layers,
        pipelined=eng.pipelined,
        token_latency_cycles=np.concatenate([token_latency_cycles(r.step_cycles, r.n_layers, r.pipelined)
                                             for r in runs]),
        step_counts=pooled("step_counts", np.concatenate),
        link_flits=pooled("link_flits", lambda p: np.sum(p, axis=0)),
        layer_counts=pooled("layer_counts", lambda p: np.sum(p, axis=0)),
        layer_names=_layer_names(network),
        layer_units=tuple(int(u) for u in network.layer_sizes),
    )


def _run_streamed(arch, path, tokens, policy, min_cores, chunk_steps, progress, threads, engine,
                  readout, input_encoding) -> Result:
    """Replay a trace file chunk by chunk, never holding all of its events."""
    from neurosim.trace import EventStream

    t0 = time.perf_counter()
    trace = load_trace(path, tokens, events=False)
    import zipfile

    with zipfile.ZipFile(path) as members:  # the events are not loaded here: does the file record input events?
        recorded = any(n.startswith("input_events") for n in members.namelist())
    if input_encoding == "events" or (input_encoding is None and recorded):
        raise EngineError("stream: the trace's recorded input events are read in memory; run without --stream "
                          "(or choose --input embedding or token)")
    network = build_network(trace, readout, _encoding(trace, input_encoding))
    mapping = map_network(network, arch, policy=policy, min_cores=min_cores)
    arrays = build_arrays(network, mapping, arch, bound=engine == "bound")
    build_s = time.perf_counter() - t0
    if progress:
        _warm_up(_without_events(trace), network, mapping, arch, arrays, engine)
    with EventStream(path, trace.hidden_sizes, trace.n_tokens) as events:
        eng = simulate(trace, network, mapping, arch, backend=engine, chunk_steps=chunk_steps, arrays=arrays,
                       progress=progress, threads=threads, events=events.read)
    units = sum(trace.hidden_sizes) * trace.gates * trace.n_tokens
    meta = {
        **trace.meta,
        "activity_sparsity": 1.0 - eng.counts["updates_active"] / units,
        "measured_weight_sparsity": trace.measured_weight_sparsity(),
        "dense_macs_per_token": sum(l.w_in_mask.size + l.w_rec_mask.size for l in trace.layers),
        **_mapping_meta(arch, mapping, policy, engine, network, trace),
        "streamed": True,
        "build_s": build_s,
        "simulate_s": eng.simulate_s,
    }
    return chip_result(arch, trace.name, eng.counts, eng.tokens, eng.latency_cycles_per_token(),
                       eng.core_busy_cycles, mapping.compartments_per_core, meta, _inside(eng, network))


def _warm_up(trace: Trace, network, mapping, arch: ChipArch, arrays, engine: str) -> None:
    """Replay one timestep, so that the Numba compile is done before a progress bar starts timing."""
    if engine in ("numba", "bound"):
        simulate(trace, network, mapping, arch, backend=engine, arrays=arrays, token_end=1, steps=(0, 1))


def _without_events(trace: Trace) -> Trace:
    """``trace``'s first step with no events: enough to compile the kernels for a trace loaded without events."""
    layers = tuple(replace(l, events=np.zeros((1, l.hidden_size), dtype=bool), values=None) for l in trace.layers)
    return replace(trace, tokens=trace.tokens[:1], layers=layers)


def _encoding(trace: Trace, input_encoding: str | None) -> str:
    """The input encoding asked for, or the trace's own: its recorded input events, else the embedding."""
    if input_encoding is not None:
        return input_encoding
    return "events" if getattr(trace, "input_events", None) is not None else "embedding"


def _mapping_meta(arch: ChipArch, mapping, policy: str, engine: str, network, trace: Trace) -> dict:
    graded = any(layer.values is not None for layer in trace.layers)
    return {
        "input_encoding": network.input_encoding,
        "readout": "chip" if network.readout_size else "none",
        "readout_units": network.readout_size,
        "routers_used": mapping.routers_in_use(arch),
        "switching": arch.noc.switching,
        # graded events on a binary-spike chip (no payload bits): an explicit, reported choice
        "event_payload": ("graded, carried in noc.payload_bits" if graded and arch.noc.payload_bits
                          else "graded values dropped: sent as binary spikes (noc.payload_bits = 0)" if graded
                          else "binary"),
        "mapping_policy": policy,
        "cores_used": mapping.cores_used,
        "cores_available": arch.cores.count,
        "max_compartments_per_core": int(mapping.compartments_per_core.max()),
        "max_synapse_bytes_per_core": int(mapping.synapse_bytes_per_core.max()),
        "multicast": arch.noc.multicast,
        "pipeline": arch.pipeline,
        "synapse_format": arch.cores.synapse_format,
        "engine": engine,
        **_spec_meta(arch),
    }


def _spec_meta(arch) -> dict:
    """The whole architecture spec as run (after ``base:`` and overrides): the report's provenance."""
    return {"arch_spec": arch.model_dump(mode="json")}


def _window(trace: Trace, network, mapping, arch: ChipArch, arrays, start: int, window: int, engine: str):
    """Replay tokens ``start .. start + window`` exactly as the same steps of a full run."""
    first, stop, steps = window_range(start, window, network.n_layers, arch.pipeline == "pipelined")
    return simulate(trace, network, mapping, arch, backend=engine, token_begin=first, token_end=stop,
                    arrays=arrays, steps=steps)


def _windows(trace, network, mapping, arch, arrays, starts, window, engine, threads):
    """:func:`_window` for every start, in order; on ``threads`` threads (the kernels release the GIL)."""
    def one(a):
        return _window(trace, network, mapping, arch, arrays, a, window, engine)

    if threads <= 1 or len(starts) <= 1:
        return [one(a) for a in starts]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return list(pool.map(one, starts))


def _check_bound(arch, trace, network, mapping, arrays, windows, window, seed, threads) -> dict:
    """The bound's cycles against the exact engine's on ``windows`` windows of the trace."""
    starts = window_starts(trace.n_tokens, windows, window, seed, "check")
    exact, bound = (np.array([r.counts["total_cycles"] for r in _windows(trace, network, mapping, arch, arrays,
                                                                         starts, window, engine, threads)],
                             dtype=np.float64) for engine in ("numba", "bound"))
    ratio = np.divide(bound, exact, out=np.ones_like(bound), where=exact > 0)
    return {"bound_check_windows": windows, "bound_check_window_tokens": window, "bound_check_starts": starts,
            "bound_check_cycles_fraction": float(bound.sum() / max(exact.sum(), 1.0)),
            "bound_check_worst_window_fraction": float(ratio.min())}


def _run_sampled(arch, trace, network, mapping, arrays, sample, window, seed, meta, threads, engine) -> Result:
    """Simulate ``sample`` windows of timesteps, each identical to the same steps of a full run."""
    if arrays is None:
        raise EngineError("sample: needs the numba or bound engine")
    T = trace.n_tokens
    if sample < 2:
        raise EngineError(f"sample: got {sample}; allowed: >= 2 windows")
    starts = window_starts(T, sample, window, seed, "sample")
    L = network.n_layers
    per_window = []
    window_counts: list[dict] = []  # kept in the result's meta, so its energy interval can be re-costed
    counts_total: dict = {}
    busy_total = np.zeros(arch.cores.count, dtype=np.int64)
    t0 = time.perf_counter()
    runs = _windows(trace, network, mapping, arch, arrays, starts, window, engine, threads)
    for eng in runs:
        latency = eng.step_cycles.mean() * L  # per token: L steps of this window, pipelined or not
        r = chip_result(arch, trace.name, eng.counts, window, latency, eng.core_busy_cycles,
                        mapping.compartments_per_core, meta)
        per_window.append(r)
        window_counts.append(dict(eng.counts))
        for k, v in eng.counts.items():
            counts_total[k] = counts_total.get(k, 0) + v
        busy_total += eng.core_busy_cycles
    latency_all = float(np.mean([r.latency_s_per_token for r in per_window])) / arch.cycle_s
    meta = {**meta, "sample_windows": sample, "sample_window_tokens": window, "sample_starts": starts,
            "sample_window_counts": window_counts, "simulate_s": time.perf_counter() - t0}
    pooled = chip_result(arch, trace.name, counts_total, sample * window, latency_all, busy_total,
                         mapping.compartments_per_core, meta, _inside(runs[0], network, runs))
    intervals = {name: confidence_interval([getattr(r, name) for r in per_window], getattr(pooled, name))
                 for name in PER_TOKEN_FIGURES}
    return replace(pooled, intervals=intervals)
