"""The costing stage: action counts x energy tables, a pure step after the simulation.

- :mod:`~neurosim.costing.chip`: neuromorphic chips (counts of the engine x ``energy_pj`` + static power);
- :mod:`~neurosim.costing.gpu`: GPUs (FLOPs, HBM and SRAM bytes of the roofline model x pJ + static power).

:func:`energy_per_token` is the one re-costing path: the API's sampled runs, :func:`recost`
(a :class:`~neurosim.result.Result` on another energy table) and the sweeps' re-costed points
and tables (:func:`neurosim.sweep.recost`) all go through it.
"""

from __future__ import annotations

from neurosim.costing.chip import (
    EnergyPerToken,
    chip_result,
    energy_breakdown_pj,
    energy_per_token,
    memory_bytes,
    recost,
)

__all__ = ["EnergyPerToken", "chip_result", "energy_breakdown_pj", "energy_per_token", "memory_bytes", "recost"]
