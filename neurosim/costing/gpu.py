"""GPU energy: FLOPs per execution unit x pJ/FLOP, bytes x pJ/byte, plus static power x time.

Pure functions of the counts of :func:`neurosim.gpu.simulate_gpu` (``Result.counts``),
so a result can be re-costed on another energy table without re-running the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from neurosim.gpu.spec import GpuArch

COMPONENTS = ("compute", "hbm", "sram", "static")
FLOP_UNITS = ("tensor", "tensor_sparse", "simt")  # the units of neurosim.gpu.spec.UNITS that execute FLOPs


def unit_flop_pj(arch: GpuArch, unit: str, precision: str) -> float:
    """Energy per FLOP of an execution unit at a precision, mirroring :func:`unit_peak_flops`."""
    if unit in ("tensor", "tensor_sparse"):
        return arch.energy.flop_pj[precision]
    if unit == "simt":
        if precision in arch.energy.simt_flop_pj:
            return arch.energy.simt_flop_pj[precision]
        if "fp32" in arch.energy.simt_flop_pj:
            return arch.energy.simt_flop_pj["fp32"]
        return arch.energy.flop_pj[precision]
    return 0.0


def energy_breakdown_pj(counts: dict, arch: GpuArch, precision: str) -> dict[str, float]:
    """Cost raw counts: FLOPs per unit x pJ/FLOP, bytes x pJ/byte, static power x seconds.

    ``counts`` needs ``flops_<unit>`` for each unit in :data:`FLOP_UNITS`, ``hbm_bytes``,
    ``sram_bytes`` and ``seconds`` (as in ``Result.counts`` of :func:`neurosim.gpu.simulate_gpu`).
    """
    compute = sum(counts.get(f"flops_{u}", 0.0) * unit_flop_pj(arch, u, precision) for u in FLOP_UNITS)
    return {
        "compute": float(compute),
        "hbm": float(counts["hbm_bytes"] * arch.energy.hbm_pj_per_byte),
        "sram": float(counts["sram_bytes"] * arch.energy.sram_pj_per_byte),
        "static": float(arch.static_power_w * counts["seconds"] * 1e12),
    }
