"""The roofline: a kernel takes ``max(compute, HBM, SRAM time) + launch overhead``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.gpu.spec import GpuArch
from neurosim.gpu.workload import StepWork


def unit_peak_flops(arch: GpuArch, unit: str, precision: str) -> float:
    """Peak FLOP/s of an execution unit at a precision (pointwise work falls back to fp32 CUDA cores)."""
    if unit == "tensor":
        return arch.peak_flops[precision]
    if unit == "tensor_sparse":
        return arch.peak_flops[precision] * arch.formats.two_four_speedup
    if unit == "simt":
        if precision in arch.peak_simt_flops:
            return arch.peak_simt_flops[precision]
        if "fp32" in arch.peak_simt_flops:
            return arch.peak_simt_flops["fp32"]
        return arch.peak_flops[precision]
    return float("inf")


@dataclass(frozen=True)
class KernelTimes:
    """Roofline times of every kernel at every step, seconds, arrays [K, T]."""

    compute_s: np.ndarray
    hbm_s: np.ndarray
    sram_s: np.ndarray
    total_s: np.ndarray  # max(compute, hbm, sram) + launch overhead

    @property
    def memory_s(self) -> np.ndarray:
        return np.maximum(self.hbm_s, self.sram_s)


def kernel_times(arch: GpuArch, work: StepWork, precision: str) -> KernelTimes:
    """Roofline: each kernel takes ``max(compute, HBM, SRAM time) + launch overhead``."""
    eff = arch.efficiency
    flops = np.array([k.flops for k in work.kernels])
    peaks = np.array([unit_peak_flops(arch, k.unit, precision) for k in work.kernels])[:, None]
    compute = flops / (peaks * eff.compute)
    hbm = np.array([k.hbm_bytes for k in work.kernels]) / (arch.memory.hbm_bandwidth_bytes_per_s * eff.hbm)
    sram = np.array([k.sram_bytes for k in work.kernels]) / (arch.memory.l2_bandwidth_bytes_per_s * eff.sram)
    launches = np.array([k.launches for k in work.kernels])[:, None]
    total = np.maximum(np.maximum(compute, hbm), sram) + arch.kernels.launch_overhead_s * launches
    return KernelTimes(compute, hbm, sram, total)
