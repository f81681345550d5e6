"""The GPU spec (``kind: gpu``): roofline ceilings, memories, kernels and energy per action, validated and frozen."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from neurosim.spec import ClockHz, EnergyPj, Frozen, PowerW, Version, float_in, int_in

# field types: strict finite numbers within the limits of neurosim.limits (named in the errors)
PositiveInt = int_in(1)
SequenceTokens = int_in(1, le=1_000_000)
RecordBytes = int_in(1, le="MAX_RECORD_BYTES")
RecordBits = int_in(0, le="MAX_RECORD_BITS")
MemoryBytes = int_in(0, le="MAX_MEMORY_BYTES")
L2Bytes = int_in(1, le="MAX_MEMORY_BYTES")
Rate = float_in("MIN_RATE_PER_S", le="MAX_RATE_PER_S")  # bytes or FLOPs per second: a time is work / rate
Bytes = float_in(gt=0.0)
Seconds = float_in(0.0, le="MAX_SECONDS")
NonNegFloat = float_in(0.0)
Fraction = float_in("MIN_FRACTION", le=1.0)
Speedup = float_in("MIN_FRACTION", le="MAX_SPEC_FLOAT")

Precision = Literal["fp32", "tf32", "fp16", "bf16", "fp8", "int8"]
PRECISION_BYTES = {"fp32": 4, "tf32": 4, "fp16": 2, "bf16": 2, "fp8": 1, "int8": 1}
WEIGHT_FORMATS = ("dense", "csr", "2:4")
KERNELS = ("dense", "gather")
RESIDENCY = ("auto", "hbm", "onchip")
UNITS = ("tensor", "tensor_sparse", "simt", "none")  # where a kernel's FLOPs execute
ENERGY_COMPONENTS = ("compute", "hbm", "sram", "static")


# ----------------------------------------------------------------------------- spec


class GpuMemory(Frozen):
    """Off-chip HBM and the on-chip L2 that can hold persisting weights."""

    hbm_bandwidth_bytes_per_s: Rate
    hbm_capacity_bytes: Bytes
    l2_bytes: L2Bytes
    l2_bandwidth_bytes_per_s: Rate
    weight_cache_bytes: MemoryBytes  # L2 set-aside for persisting accesses, where weights may stay


class GpuEfficiency(Frozen):
    """Achievable fraction of each roofline ceiling (1.0: the ideal roofline)."""

    compute: Fraction = 1.0
    hbm: Fraction = 1.0
    sram: Fraction = 1.0


class GpuEnergy(Frozen):
    """Energy per action, picojoules."""

    flop_pj: dict[Precision, EnergyPj]  # per FLOP on the path of ``peak_flops``
    simt_flop_pj: dict[Precision, EnergyPj] = Field(default_factory=dict)  # per FLOP on CUDA cores
    hbm_pj_per_byte: EnergyPj
    sram_pj_per_byte: EnergyPj


class GpuKernels(Frozen):
    """How a recurrent step is split into kernels."""

    launch_overhead_s: Seconds
    batch_tile: PositiveInt = 128  # batch columns per GEMM tile: weights cross SRAM once per tile
    pointwise_flops_per_gate_unit: NonNegFloat = 4.0
    pointwise_fused: bool = False  # gate nonlinearities in the GEMM epilogue (one kernel per layer)
    state_vectors: PositiveInt = 2  # per unit: LSTM (h, c); EGRU (c, y)
    event_index_bytes: RecordBytes = 4  # per active row in a gather kernel's index list


class GpuFormats(Frozen):
    """Storage overheads of the sparse weight formats."""

    csr_index_bytes: RecordBytes = 4
    csr_rowptr_bytes: RecordBytes = 4
    two_four_meta_bits: RecordBits = 2  # per kept value
    two_four_speedup: Speedup = 2.0  # sparse over dense tensor-core peak


class GpuDefaults(Frozen):
    """Options used when :func:`simulate_gpu` is called with None."""

    precision: Precision = "fp16"
    weight_format: Literal["dense", "csr", "2:4"] = "dense"
    kernel: Literal["dense", "gather"] = "dense"
    weight_residency: Literal["auto", "hbm", "onchip"] = "auto"
    include_embedding: bool = False
    include_readout: bool = False
    sequence_tokens: SequenceTokens = 1  # tokens per forward call (1: token by token); see simulate_gpu


class GpuArch(Frozen):
    """A GPU described by its roofline ceilings and energy per action (``kind: gpu``)."""

    version: Version
    kind: Literal["gpu"]
    name: str
    description: str = ""
    clock_hz: ClockHz
    sms: PositiveInt
    peak_flops: dict[Precision, Rate]  # dense peak per precision (tensor cores; fp32: CUDA cores)
    peak_simt_flops: dict[Precision, Rate] = Field(default_factory=dict)  # CUDA cores: csr, gather
    memory: GpuMemory
    efficiency: GpuEfficiency = GpuEfficiency()
    energy: GpuEnergy
    static_power_w: PowerW
    kernels: GpuKernels
    formats: GpuFormats = GpuFormats()
    defaults: GpuDefaults = GpuDefaults()

    @model_validator(mode="after")
    def _consistent(self) -> GpuArch:
        if self.defaults.precision not in self.peak_flops:
            raise ValueError(
                f"defaults.precision={self.defaults.precision!r} has no peak_flops entry; "
                f"allowed: {sorted(self.peak_flops)}"
            )
        for table, energy, name in (
            (self.peak_flops, self.energy.flop_pj, "energy.flop_pj"),
            (self.peak_simt_flops, self.energy.simt_flop_pj, "energy.simt_flop_pj"),
        ):
            missing = sorted(set(table) - set(energy))
            if missing:
                raise ValueError(f"{name} lacks precisions {missing} that have a peak; each peak needs an energy")
        if self.memory.weight_cache_bytes > self.memory.l2_bytes:
            raise ValueError(
                f"memory.weight_cache_bytes={self.memory.weight_cache_bytes} exceeds memory.l2_bytes={self.memory.l2_bytes}"
            )
        return self

    @property
    def cycle_s(self) -> float:
        return 1.0 / self.clock_hz


# ----------------------------------------------------------------------------- options
