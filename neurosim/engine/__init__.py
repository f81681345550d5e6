"""The engine stage: replay a trace on a mapped chip and count what happened.

:func:`simulate` runs the Numba kernel (``backend="numba"``) or the readable
SimPy model (``backend="simpy"``); both return an :class:`EngineRun` whose
integer counters and cycles must agree exactly. ``backend="bound"`` replays no
packets: its counts are the exact ones (but the wait cycles, which it does not
report), and each timestep's spike phase is a lower bound of the exact one
(:func:`neurosim.engine.bound.bound_steps`), within 0.5% of it on the shipped
chips (``benchmarks/bound_vs_exact.py``) at a fraction of the cost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

# first: delete compiled kernels whose sources changed, before any kernel is loaded from the cache
from neurosim.engine import kernel_cache  # noqa: F401

# isort: split
from neurosim.arch import ChipArch
from neurosim.engine import layout as K
from neurosim.engine.bound import bound_steps
from neurosim.engine.build import (
    EngineArrays,
    bound_tables,
    build_arrays,
    fired_matrix,
    received_matrix,
    step_range,
)
from neurosim.engine.layout import WAIT_COUNTERS
from neurosim.engine.steps import simulate_steps
from neurosim.mapping import Mapping
from neurosim.network import Network, input_matrix
from neurosim.trace import Trace

BACKENDS = ("numba", "simpy", "bound")


class EngineError(ValueError):
    """Bad engine arguments."""


class KernelOutput(NamedTuple):
    """What a kernel (or the SimPy model) returns for a range of timesteps."""

    counters: np.ndarray  # int64 [N_COUNTERS]
    step_cycles: np.ndarray  # int64 [n_steps]
    core_busy_cycles: np.ndarray  # int64 [n_cores]
    step_counts: np.ndarray  # int64 [n_steps, N_COUNTERS]: each step's counters
    link_flits: np.ndarray  # int64 [n_links]: flits over each link id (neurosim.engine.layout)
    layer_counts: np.ndarray  # int64 [L, N_LAYER_COUNTS]: per layer, the readout last


@dataclass(frozen=True)
class EngineRun:
    """What happened while tokens ``token_begin <= t < token_end`` were replayed."""

    counts: dict[str, int]
    step_cycles: np.ndarray  # int64 [n_steps]
    core_busy_cycles: np.ndarray  # int64 [n_cores]
    token_begin: int
    token_end: int
    n_layers: int
    pipelined: bool
    simulate_s: float = 0.0
    step_counts: np.ndarray | None = None  # int64 [n_steps, N_COUNTERS]: each step's counters
    link_flits: np.ndarray | None = None  # int64 [n_links]: flits over each link id (neurosim.engine.layout)
    layer_counts: np.ndarray | None = None  # int64 [L, N_LAYER_COUNTS] (layout.LAYER_COUNT_NAMES), the readout last

    @property
    def tokens(self) -> int:
        return self.token_end - self.token_begin

    def latency_cycles_per_token(self) -> float:
        """Mean cycles from a token's first layer to its last layer's update."""
        L = self.n_layers
        c = self.step_cycles
        if not self.pipelined:
            return float(c.sum() / self.tokens)
        window = np.convolve(c, np.ones(L, dtype=np.int64), mode="valid")
        return float(window.mean())


def _check_range(trace: Trace, token_begin: int, token_end: int | None) -> int:
    token_end = trace.n_tokens if token_end is None else token_end
    if not 0 <= token_begin < token_end <= trace.n_tokens:
        raise EngineError(
            f"tokens: range [{token_begin}, {token_end}) is not inside the trace's {trace.n_tokens} tokens"
        )
    return token_end


def run_kernel(
    arrays: EngineArrays,
    trace: Trace,
    token_begin: int,
    token_end: int,
    chunk_steps: int | None = None,
    steps: tuple[int, int] | None = None,
    progress: bool = False,
    threads: int = 1,
    events=None,
    backend: str = "numba",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a Numba kernel over the step range of the tokens, optionally in chunks of steps.

    ``backend`` "numba" runs the exact replay (:func:`~neurosim.engine.steps.simulate_steps`),
    "bound" the lower bound (:func:`~neurosim.engine.bound.bound_steps`, needs ``arrays.bound``).

    ``steps`` restricts the run to a sub-range of timesteps (default: all steps
    of the token range). Timesteps are independent once the trace is known
    (the barrier resets the chip), so chunks give the same totals as one
    pass; chunking bounds the memory of the event matrix, and ``threads > 1``
    runs chunks concurrently (the kernel releases the GIL). ``events(first, stop)``
    supplies the fired matrix of steps ``first <= t < stop`` (default: from the
    in-memory trace; a :class:`~neurosim.trace.EventStream` for traces read from disk
    as they are replayed). Windows are requested in order, so a stream reads forward.
    """
    L = arrays.layer_gates.shape[0]  # pipeline stages: the recurrent layers, then the readout if simulated
    pipelined = arrays.params[K.P_PIPELINED] == 1
    s0, s1 = steps if steps is not None else step_range(L, pipelined, token_begin, token_end)
    n_steps = s1 - s0
    if not chunk_steps and (progress or threads > 1) and n_steps > 1024:
        chunk_steps = -(-n_steps // max(50, 4 * threads))  # enough chunks for a moving bar and busy threads
    # a chunk's input and received matrices hold a byte per (token, unit): at most ~64 MB of them at once
    most = max(1, 2**26 // max(1, int(arrays.layer_offsets[-1])))
    chunk_steps = min(chunk_steps or n_steps, most)
    chunk = max(1, n_steps if not chunk_steps else chunk_steps)
    starts = list(range(s0, s1, chunk))

    if events is None:
        def events(first, stop):
            return fired_matrix(trace, first, stop)

    def window(a: int):
        b = min(a + chunk, s1)
        # tokens touched by steps a..b, plus the step before for recurrent input
        first_tok = max(0, (a - L + 1 if pipelined else a // L) - 1)
        last_tok = min(trace.n_tokens, (b if pipelined else (b - 1) // L + 1))
        return a, b, first_tok, events(first_tok, last_tok)

    def one_chunk(job):
        a, b, first_tok, fired = job
        inputs = input_matrix(trace, arrays.input_encoding, int(arrays.layer_offsets[0]), first_tok,
                              first_tok + fired.shape[0])
        received = received_matrix(arrays, fired, inputs)
        if backend == "bound":
            t = arrays.bound
            return bound_steps(
                fired, inputs, received, first_tok, token_begin, token_end, a, b,
                arrays.layer_offsets, arrays.layer_gates, arrays.n_event_layers, arrays.unit_layer, arrays.unit_core,
                arrays.units_per_layer_core, arrays.spike_totals, t.core_ptr, t.core_rows, t.link_ptr, t.link_rows,
                t.first_in, t.first_out, arrays.params,
            )
        return simulate_steps(
            fired, inputs, received, first_tok, token_begin, token_end, a, b,
            arrays.layer_offsets, arrays.layer_gates, arrays.n_event_layers, arrays.unit_layer, arrays.unit_core,
            arrays.out_ptr,
            arrays.units_per_layer_core, arrays.entry_table, arrays.spike_totals, arrays.route_hop, arrays.tree_ptr,
            arrays.tree, arrays.params,
        )

    if threads > 1 and len(starts) > 1:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(max_workers=threads)

        def bounded():  # windows are read in order, at most 2 per thread ahead of the results
            ahead = deque()
            for a in starts:
                ahead.append(pool.submit(one_chunk, window(a)))
                if len(ahead) >= 2 * threads:
                    yield ahead.popleft().result()
            while ahead:
                yield ahead.popleft().result()

        parts = bounded()
    else:
        pool = None
        parts = (one_chunk(window(a)) for a in starts)
    if progress and len(starts) > 1:
        from tqdm import tqdm

        parts = tqdm(parts, total=len(starts), desc="simulating", unit="chunk", leave=False)
    total = None
    try:
        for part in parts:
            total = _add_part(total, part)
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return total


def _add_part(total: KernelOutput | None, part: tuple) -> KernelOutput:
    """Chunks in order: counters, busy cycles, link flits and layer counts add up, per-step arrays concatenate."""
    part = KernelOutput(*part)
    if total is None:
        return part
    if int(total.counters.max()) > 2**62 - int(part.counters.max()):  # int64 sums wrap silently
        raise EngineError("engine: the run's counters would exceed 2**62; simulate fewer tokens per run")
    return KernelOutput(
        counters=total.counters + part.counters,
        step_cycles=np.concatenate([total.step_cycles, part.step_cycles]),
        core_busy_cycles=total.core_busy_cycles + part.core_busy_cycles,
        step_counts=np.concatenate([total.step_counts, part.step_counts]),
        link_flits=total.link_flits + part.link_flits,
        layer_counts=total.layer_counts + part.layer_counts,
    )


def simulate(
    trace: Trace,
    network: Network,
    mapping: Mapping,
    arch: ChipArch,
    backend: str = "numba",
    token_begin: int = 0,
    token_end: int | None = None,
    chunk_steps: int | None = None,
    arrays: EngineArrays | None = None,
    steps: tuple[int, int] | None = None,
    progress: bool = False,
    threads: int = 1,
    events=None,
) -> EngineRun:
    """Replay tokens ``token_begin <= t < token_end`` of ``trace``.

    Parameters
    ----------
    backend : "numba" (exact, fast), "simpy" (reference, small cases only) or "bound"
        (no packet replay: exact counts without the wait cycles, each spike phase a lower bound).
    chunk_steps : stream the event matrix in chunks of this many timesteps (numba and bound only).
    arrays : prebuilt :func:`build_arrays` output, to reuse across calls.
    steps : only these timesteps ``(first, stop)`` (numba only); each is then
        exactly the same step as in a run over the whole trace when the token
        range covers every token the steps touch.
    progress : show a progress bar over chunks.
    threads : run chunks of timesteps on this many threads (numba only; same result).
    events : callable ``(first, stop) -> fired matrix`` replacing the trace's in-memory
        events (numba only), e.g. an :class:`~neurosim.trace.EventStream`'s ``read``.
    """
    if backend not in BACKENDS:
        raise EngineError(f"backend: got {backend!r}; allowed: {list(BACKENDS)}")
    if threads < 1:
        raise EngineError(f"threads: got {threads}; allowed: >= 1")
    if chunk_steps is not None and chunk_steps < 1:
        raise EngineError(f"chunk_steps: got {chunk_steps}; allowed: >= 1")
    token_end = _check_range(trace, token_begin, token_end)
    pipelined = arch.pipeline == "pipelined"
    t0 = time.perf_counter()
    if backend in ("numba", "bound"):
        arrays = arrays if arrays is not None else build_arrays(network, mapping, arch)
        if backend == "bound" and arrays.bound is None:
            arrays = replace(arrays, bound=bound_tables(arrays, arch))
        out = run_kernel(arrays, trace, token_begin, token_end, chunk_steps, steps, progress, threads, events,
                         backend)
    else:
        if steps is not None or events is not None:
            raise EngineError("backend: 'simpy' replays whole in-memory traces only; use 'numba' or 'bound'")
        from neurosim.engine.reference import simulate_reference

        out = KernelOutput(*simulate_reference(trace, network, mapping, arch, token_begin, token_end))
    elapsed = time.perf_counter() - t0
    skip = WAIT_COUNTERS if backend == "bound" else ()
    return EngineRun(
        counts={name: int(out.counters[i]) for i, name in enumerate(K.COUNTER_NAMES) if name not in skip},
        step_cycles=np.asarray(out.step_cycles, dtype=np.int64),
        core_busy_cycles=np.asarray(out.core_busy_cycles, dtype=np.int64),
        step_counts=out.step_counts,
        link_flits=out.link_flits,
        layer_counts=out.layer_counts,
        token_begin=token_begin,
        token_end=token_end,
        n_layers=network.n_layers,
        pipelined=pipelined,
        simulate_s=elapsed,
    )


__all__ = ["BACKENDS", "WAIT_COUNTERS", "EngineError", "EngineRun", "KernelOutput", "build_arrays", "run_kernel",
           "simulate"]
