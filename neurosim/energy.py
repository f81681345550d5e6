"""The energy stage: action counts x the architecture's energy table, plus static power x time.

Pure functions of the counts, so a sweep can re-cost a run without
re-simulating it (only ``energy_pj`` and ``static_power_w`` may change).
"""

from __future__ import annotations

from neurosim.arch import ChipArch

COMPONENTS = (
    "spike_generation",
    "synapse",
    "synapse_memory",
    "neuron_update",
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
        "neuron_state": mem["neuron_state"] * e.state_access_per_byte,
        "spike_out": counts["packets_injected"] * e.spike_out,
        "axon_table": mem["axon_table"] * e.axon_read_per_byte,
        "noc": counts["flit_hops_x"] * e.hop_x_per_flit + counts["flit_hops_y"] * e.hop_y_per_flit,
        "barrier": counts["barriers"] * e.barrier,
        "static": arch.static_power_w * seconds * 1e12,
    }
