"""Chip costing: action counts x the architecture's energy table, plus static power x time; the chip's Result.

Pure functions of the engine's counts, so a sweep can re-cost a run without
re-simulating it (only ``energy_pj`` and ``static_power_w`` may change).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from neurosim.arch import ChipArch
from neurosim.result import Result
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


def memory_bytes(counts: dict, arch: ChipArch) -> dict[str, float]:
    """Bytes moved per memory level over the whole run.

    - ``synapse_memory``: synapse rows read at the receiving cores (format-dependent)
    - ``neuron_state``: every compartment update reads and writes ``state_bits``
    - ``axon_table``: one routing-table entry read per packet sent
    """
    updates = counts["updates_active"] + counts.get("updates_received", 0) + counts["updates_inactive"]
    return {
        "synapse_memory": float(counts["synapse_bytes"]),
        "neuron_state": float(updates * 2 * arch.cores.state_bits / 8),
        "axon_table": float(counts["packets_sent"] * arch.cores.axon_entry_bytes),
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


def chip_result(
    arch: ChipArch,
    trace_name: str,
    counts: dict,
    tokens: int,
    latency_cycles_per_token: float,
    core_busy_cycles: np.ndarray,
    compartments_per_core: np.ndarray,
    meta: dict,
) -> Result:
    """Cost the engine's ``counts`` of ``tokens`` tokens with the architecture's tables and fill a :class:`Result`."""
    energy = energy_per_token(counts, tokens, arch)
    mem = memory_bytes(counts, arch)
    total_cycles = counts["total_cycles"]
    used = compartments_per_core > 0
    util = core_busy_cycles[used] / max(total_cycles, 1)
    per_tok = 1.0 / tokens
    return Result(
        arch=arch.name,
        trace=trace_name,
        backend="event",
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
    return replace(result, arch=arch.name, energy_pj_per_token=e.total_pj, energy_breakdown_pj_per_token=e.breakdown_pj,
                   intervals=intervals)
