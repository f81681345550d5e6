"""Chip costing: action counts x the architecture's energy table, plus static power x time; the chip's Result.

Pure functions of the engine's counts, so a sweep can re-cost a run without
re-simulating it (only ``energy_pj`` and ``static_power_w`` may change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neurosim.arch import ChipArch
from neurosim.result import PERCENTILES, Result
from neurosim.sampling import confidence_interval

COMPONENTS = (
    "spike_generation",
    "synapse",
    "synapse_memory",
    "neuron_update",
    "core_active",
    "neuron_state",
    "spike_out",
    "axon_table",
    "noc",
    "barrier",
    "static",
)
MEMORY_LEVELS = ("synapse_memory", "neuron_state", "axon_table")


def _real(x):
    """A float of a scalar count, a float64 array of per-step counts."""
    return np.asarray(x, dtype=np.float64) if np.ndim(x) else float(x)


def memory_bytes(counts: dict, arch: ChipArch) -> dict[str, float]:
    """Bytes moved per memory level over the whole run.

    - ``synapse_memory``: synapse rows read at the receiving cores (format-dependent)
    - ``neuron_state``: every compartment update reads and writes ``state_bits``
    - ``axon_table``: one routing-table entry read per packet sent
    """
    updates = counts["updates_active"] + counts.get("updates_received", 0) + counts["updates_inactive"]
    return {
        "synapse_memory": _real(counts["synapse_bytes"]),
        "neuron_state": _real(updates * 2 * arch.cores.state_bits / 8),
        "axon_table": _real(counts["packets_sent"] * arch.cores.axon_entry_bytes),
    }


def energy_breakdown_pj(counts: dict, arch: ChipArch) -> dict[str, float]:
    """Energy per component over the whole run, picojoules."""
    e = arch.energy_pj
    mem = memory_bytes(counts, arch)
    seconds = counts["total_cycles"] * arch.cycle_s
    return {
        "spike_generation": counts["spikes"] * e.spike_generation,
        "synapse": counts["synops"] * e.synop,
        "synapse_memory": mem["synapse_memory"] * e.synapse_read_per_byte,
        "neuron_update": counts["updates_active"] * e.neuron_update_active
        + counts.get("updates_received", 0) * e.update_received
        + counts["updates_inactive"] * e.neuron_update_inactive,
        "core_active": counts.get("core_busy_cycles", 0) * e.core_busy_cycle,
        "neuron_state": mem["neuron_state"] * e.state_access_per_byte,
        "spike_out": counts["packets_injected"] * e.spike_out,
        "axon_table": mem["axon_table"] * e.axon_read_per_byte,
        "noc": counts["flit_hops_x"] * e.hop_x_per_flit + counts["flit_hops_y"] * e.hop_y_per_flit,
        "barrier": counts["barriers"] * e.barrier,
        "static": arch.static_power_w * seconds * 1e12,
    }


def token_latency_cycles(step_cycles: np.ndarray, n_layers: int, pipelined: bool) -> np.ndarray:
    """Cycles of every token from its first layer to its last layer's update, int64 [tokens].

    A pipelined chip runs token ``t``'s layer ``l`` in step ``t + l``: its latency is the sum of
    ``n_layers`` consecutive steps. A sequential chip runs a token's layers in its own ``n_layers`` steps.

    >>> token_latency_cycles(np.array([1, 2, 3, 4]), 2, True).tolist()
    [3, 5, 7]
    >>> token_latency_cycles(np.array([1, 2, 3, 4]), 2, False).tolist()
    [3, 7]
    """
    c = np.asarray(step_cycles, dtype=np.int64)
    if pipelined:
        return np.convolve(c, np.ones(n_layers, dtype=np.int64), mode="valid")
    return c[: c.size - c.size % n_layers].reshape(-1, n_layers).sum(axis=1)


def step_energy_pj(step_counts: np.ndarray, arch: ChipArch) -> np.ndarray:
    """Energy of every timestep (all components, static power x the step's time), float32 [n_steps].

    ``step_counts`` is the engine's int64 [n_steps, N_COUNTERS] (columns ``COUNTER_NAMES``):
    :func:`energy_breakdown_pj` priced step by step, so the steps add up to the run's energy.
    """
    from neurosim.engine.layout import COUNTER_NAMES

    step = {name: step_counts[:, i] for i, name in enumerate(COUNTER_NAMES)}
    return np.sum(list(energy_breakdown_pj(step, arch).values()), axis=0).astype(np.float32)


def layer_rows(layer_counts: np.ndarray, layer_names: list[str], layer_units: list[int], tokens: int,
               arch: ChipArch) -> list[dict]:
    """The per-layer table (:data:`neurosim.result.LAYER_COLUMNS`, per token) of the engine's ``layer_counts``.

    ``layer_counts`` is int64 [n_layers, 5]: synops into the layer, updates active, received,
    inactive, update cycles. A layer's energy is what these counts price: its synapse, neuron-update
    and neuron-state energy (spikes, NoC, memory reads, barriers and static power are the chip's).
    """
    rows = []
    for name, units, (synops, active, received, inactive, cycles) in zip(layer_names, layer_units,
                                                                         np.asarray(layer_counts, dtype=np.int64)):
        energy = _layer_energy_pj(synops, active, received, inactive, arch)
        rows.append({"layer": name, "units": int(units), "synops_per_token": float(synops) / tokens,
                     "updates_active_per_token": float(active) / tokens,
                     "updates_received_per_token": float(received) / tokens,
                     "updates_inactive_per_token": float(inactive) / tokens,
                     "update_cycles_per_token": float(cycles) / tokens, "energy_pj_per_token": float(energy) / tokens})
    return rows


def _layer_energy_pj(synops, active, received, inactive, arch: ChipArch) -> float:
    """A layer's synapse, neuron-update and neuron-state energy for these counts (linear in them)."""
    e = arch.energy_pj
    state_bytes = 2 * arch.cores.state_bits / 8
    return float(synops * e.synop + active * e.neuron_update_active + received * e.update_received
                 + inactive * e.neuron_update_inactive
                 + (active + received + inactive) * state_bytes * e.state_access_per_byte)


def recost_layers(layers: list[dict], arch: ChipArch) -> list[dict]:
    """``layers`` with each layer's energy per token priced on ``arch``."""
    return [{**row, "energy_pj_per_token": _layer_energy_pj(
        row["synops_per_token"], row["updates_active_per_token"], row["updates_received_per_token"],
        row["updates_inactive_per_token"], arch)} for row in layers]


@dataclass(frozen=True)
class RunInside:
    """What the engine saw inside a run, beyond its totals; every array optional but ``step_cycles``.

    ``token_latency_cycles`` (default: from ``step_cycles``, ``n_layers`` and ``pipelined``),
    ``step_counts`` int64 [n_steps, N_COUNTERS], ``link_flits`` int64 [n_links],
    ``layer_counts`` int64 [n_layers, 5] with ``layer_names`` and ``layer_units``.
    """

    step_cycles: np.ndarray
    n_layers: int
    pipelined: bool
    token_latency_cycles: np.ndarray | None = None
    step_counts: np.ndarray | None = None
    link_flits: np.ndarray | None = None
    layer_counts: np.ndarray | None = None
    layer_names: tuple[str, ...] = ()
    layer_units: tuple[int, ...] = ()


def inside_figures(inside: RunInside, arch: ChipArch, tokens: int, core_busy_cycles: np.ndarray, energy_pj: float,
                   seconds: float) -> dict:
    """The Result fields of the inside of a run: latency percentiles, power, per-layer rows and the arrays."""
    steps = np.asarray(inside.step_cycles, dtype=np.int64)
    latency = (inside.token_latency_cycles if inside.token_latency_cycles is not None
               else token_latency_cycles(steps, inside.n_layers, inside.pipelined))
    latency = np.asarray(latency, dtype=np.int64)
    arrays = {"step_cycles": steps, "token_latency_cycles": latency,
              "core_busy_cycles": np.asarray(core_busy_cycles, dtype=np.int64)}
    out: dict = {}
    if latency.size:
        for q, v in zip(PERCENTILES, np.percentile(latency, PERCENTILES)):
            out[f"latency_s_p{q}"] = float(v) * arch.cycle_s
    out["power_w_mean"] = energy_pj * 1e-12 / seconds if seconds > 0 else 0.0
    if inside.step_counts is not None and len(inside.step_counts) == steps.size:
        energy = step_energy_pj(np.asarray(inside.step_counts, dtype=np.int64), arch)
        arrays["step_energy_pj"] = energy
        step_s = steps * arch.cycle_s
        power = np.divide(energy.astype(np.float64) * 1e-12, step_s, out=np.zeros(steps.size), where=step_s > 0)
        out["power_w_peak"] = float(power.max()) if power.size else 0.0
    if inside.link_flits is not None:
        arrays["link_flits"] = np.asarray(inside.link_flits, dtype=np.int64)
    if inside.layer_counts is not None:
        out["layers"] = layer_rows(inside.layer_counts, list(inside.layer_names), list(inside.layer_units), tokens,
                                   arch)
    out["arrays"] = arrays
    return out


def chip_result(
    arch: ChipArch,
    trace_name: str,
    counts: dict,
    tokens: int,
    latency_cycles_per_token: float,
    core_busy_cycles: np.ndarray,
    compartments_per_core: np.ndarray,
    meta: dict,
    inside: RunInside | None = None,
) -> Result:
    """Cost the engine's ``counts`` of ``tokens`` tokens with the architecture's tables and fill a :class:`Result`.

    With ``inside`` (the engine's per-step, per-link and per-layer figures) the Result also
    carries the latency percentiles, power, per-layer rows and arrays (:func:`inside_figures`).
    """
    energy = energy_per_token(counts, tokens, arch)
    mem = memory_bytes(counts, arch)
    total_cycles = counts["total_cycles"]
    used = compartments_per_core > 0
    util = core_busy_cycles[used] / max(total_cycles, 1)
    per_tok = 1.0 / tokens
    extra = {} if inside is None else inside_figures(inside, arch, tokens, core_busy_cycles,
                                                     energy.total_pj * tokens, total_cycles * arch.cycle_s)
    meta = {**meta, "mesh_x": arch.noc.mesh_x, "mesh_y": arch.noc.mesh_y,
            "cores_per_router": arch.cores.cores_per_router, "cycle_s": arch.cycle_s,
            "timer_period_s": arch.barrier.timer_period_s}
    return Result(
        arch=arch.name,
        trace=trace_name,
        target="chip",
        tokens=tokens,
        cycles_per_token=total_cycles * per_tok,
        latency_s_per_token=latency_cycles_per_token * arch.cycle_s,
        time_s_per_token=total_cycles * per_tok * arch.cycle_s,
        synaptic_ops_per_token=counts["synops"] * per_tok,
        packets_per_token=counts["packets_injected"] * per_tok,
        flit_hops_per_token=(counts["flit_hops_x"] + counts["flit_hops_y"]) * per_tok,
        memory_bytes_per_token={k: v * per_tok for k, v in mem.items()},
        energy_pj_per_token=energy.total_pj,
        energy_breakdown_pj_per_token=energy.breakdown_pj,
        core_utilization={
            "min": float(util.min()) if util.size else 0.0,
            "mean": float(util.mean()) if util.size else 0.0,
            "max": float(util.max()) if util.size else 0.0,
        },
        counts={k: float(v) for k, v in counts.items()},
        meta=meta,
        **extra,
    )





@dataclass(frozen=True)
class EnergyPerToken:
    """Energy per token of a run: the total, by component, and the 95% interval of a sampled run (else None)."""

    total_pj: float
    breakdown_pj: dict[str, float]
    interval_pj: list[float] | None = None


def energy_per_token(counts: dict, tokens: int, arch: ChipArch, window_counts: list[dict] | None = None,
                     window_tokens: int | None = None) -> EnergyPerToken:
    """Cost the counts of ``tokens`` tokens on ``arch``; with the windows of a sampled run, their interval too.

    Examples
    --------
    >>> e = energy_per_token(result.counts, result.tokens, load_arch("loihi_like"))  # doctest: +SKIP
    """
    energy = energy_breakdown_pj(counts, arch)
    per_tok = 1.0 / tokens
    total = sum(energy.values()) * per_tok
    interval = None
    if window_counts:
        per_window = [sum(energy_breakdown_pj(c, arch).values()) / window_tokens for c in window_counts]
        interval = confidence_interval(per_window, total)
    return EnergyPerToken(total, {k: v * per_tok for k, v in energy.items()}, interval)


def recost(result: Result, arch: ChipArch) -> Result:
    """``result`` with its energy recomputed from its action counts on ``arch`` (same chip, other energy table)."""
    sampled = "energy_pj_per_token" in result.intervals
    e = energy_per_token(result.counts, result.tokens, arch,
                         result.meta["sample_window_counts"] if sampled else None,
                         result.meta.get("sample_window_tokens"))
    intervals = dict(result.intervals)
    if sampled:
        intervals["energy_pj_per_token"] = e.interval_pj
    # the per-step energies need the per-step counts, which a Result does not keep: they are dropped
    arrays = {k: v for k, v in result.arrays.items() if k != "step_energy_pj"}
    power = e.total_pj * 1e-12 / result.time_s_per_token
    meta = {**result.meta, "arch_spec": arch.model_dump(mode="json")} if "arch_spec" in result.meta else result.meta
    return replace(result, arch=arch.name, meta=meta, energy_pj_per_token=e.total_pj, energy_breakdown_pj_per_token=e.breakdown_pj,
                   intervals=intervals, layers=recost_layers(result.layers, arch), arrays=arrays,
                   power_w_mean=power if result.power_w_mean is not None else None, power_w_peak=None)
