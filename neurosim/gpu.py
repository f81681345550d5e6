"""Dense-GPU baseline: a roofline model of recurrent-LM inference on a GPU.

The same trace that drives the event engine drives this model, and the output
is the same :class:`~neurosim.result.Result`, so a GPU spec can be passed
wherever a neuromorphic one is (``neurosim run --arch arch_specs/gpu_h100.yaml``).

Pipeline (one stage per function):

1. :func:`resolve_options` checks batch, precision, weight format and kernel.
2. :func:`count_step_work` lists the kernels of one recurrent step and, for
   every kernel and every step, the FLOPs, MACs and bytes it moves (HBM and
   on-chip SRAM). Nothing here knows about time or energy.
3. :func:`kernel_times` applies the roofline: a kernel takes
   ``max(compute, HBM, SRAM time) + launch overhead``.
4. :func:`energy_breakdown_pj` costs the counts: FLOPs x pJ/FLOP, bytes x
   pJ/byte, plus static power x time. A sweep can re-cost ``Result.counts``
   with it without re-running the model.

Model of one step (one token of each of ``batch`` independent streams)
---------------------------------------------------------------------
Per recurrent layer a GEMM kernel ``[x, h] @ [W_in; W_rec]`` and a pointwise
kernel (gate nonlinearities and the state update; fused into the GEMM when
``kernels.pointwise_fused``). Optional extra kernels: the embedding lookup and
the readout (``vocab_size x last hidden`` decoder).

- Weights: read once per step from HBM, unless all of them fit in the L2
  set-aside for persisting accesses (``memory.weight_cache_bytes``) and the
  residency policy allows it; then they are loaded once per run and every
  step reads them from L2. Either way every weight byte crosses the on-chip
  SRAM once per ``kernels.batch_tile`` batch columns.
- Activations and state live in on-chip SRAM (L2); when their working set
  does not fit in what the resident weights leave of L2 they also go to HBM.
- ``weight_format``: ``dense`` (all weights, tensor cores); ``csr`` (nonzeros
  with a column index each plus a row pointer per row, CUDA cores); ``2:4``
  (half of the weights kept along the reduction dimension plus 2-bit position
  metadata each, sparse tensor cores at ``formats.two_four_speedup``).
- ``kernel``: ``dense`` executes every stored weight whatever the activity (a
  dense GPU gains nothing from activity sparsity); ``gather`` reads and
  multiplies only the rows of presynaptic units that emitted an event (layer
  0's input, the embedding, is always fully active), on CUDA cores. At batch
  1 the rows come from the trace's events step by step; at batch B the rows
  read are the union over B independent streams, expected value
  ``sum_j 1 - (1 - p_j)**B`` with ``p_j`` unit j's event rate.

Examples
--------
>>> from neurosim.arch import load_arch
>>> from neurosim.trace import synthetic
>>> gpu = load_arch("arch_specs/gpu_a100.yaml")  # doctest: +SKIP
>>> r = simulate_gpu(gpu, synthetic([256], input_size=128, tokens=16), batch=64)  # doctest: +SKIP
>>> r.meta["bound"]  # doctest: +SKIP
'memory'
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from neurosim.result import Result
from neurosim.spec import ClockHz, EnergyPj, Frozen, PowerW, Version, float_in, int_in
from neurosim.trace import Trace, dense_macs_per_token

# field types: strict finite numbers within the limits of neurosim.limits (named in the errors)
PositiveInt = int_in(1)
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


@dataclass(frozen=True)
class GpuOptions:
    """Checked run options; every field is a concrete value."""

    batch: int
    precision: str
    weight_format: str
    kernel: str
    weight_residency: str
    include_embedding: bool
    include_readout: bool

    @property
    def value_bytes(self) -> int:
        return PRECISION_BYTES[self.precision]


def _choice(field: str, value, allowed) -> str:
    if value not in allowed:
        raise ValueError(f"{field}: got {value!r}; allowed: {list(allowed)}")
    return value


def resolve_options(
    arch: GpuArch,
    batch: int = 1,
    precision: str | None = None,
    weight_format: str | None = None,
    kernel: str | None = None,
    weight_residency: str | None = None,
    include_embedding: bool | None = None,
    include_readout: bool | None = None,
) -> GpuOptions:
    """Fill None from ``arch.defaults`` and check every option.

    Raises
    ------
    ValueError with one line naming the option, the value and what is allowed.
    """
    d = arch.defaults
    if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
        raise ValueError(f"batch: got {batch!r}; allowed: an integer >= 1")
    precision = _choice("precision", d.precision if precision is None else precision, sorted(arch.peak_flops))
    weight_format = _choice(
        "weight_format", d.weight_format if weight_format is None else weight_format, WEIGHT_FORMATS
    )
    kernel = _choice("kernel", d.kernel if kernel is None else kernel, KERNELS)
    residency = _choice(
        "weight_residency", d.weight_residency if weight_residency is None else weight_residency, RESIDENCY
    )
    if kernel == "gather" and weight_format == "2:4":
        raise ValueError("weight_format: got '2:4' with kernel='gather'; allowed with gather: ['dense', 'csr']")
    if (kernel == "gather" or weight_format == "csr") and precision not in arch.peak_simt_flops:
        what = "kernel='gather'" if kernel == "gather" else "weight_format='csr'"
        raise ValueError(
            f"precision: got {precision!r} with {what}, which runs on CUDA cores; "
            f"allowed: {sorted(arch.peak_simt_flops)} (the peak_simt_flops of {arch.name})"
        )
    return GpuOptions(
        batch=int(batch),
        precision=precision,
        weight_format=weight_format,
        kernel=kernel,
        weight_residency=residency,
        include_embedding=d.include_embedding if include_embedding is None else bool(include_embedding),
        include_readout=d.include_readout if include_readout is None else bool(include_readout),
    )


# ----------------------------------------------------------------------------- weight formats


@dataclass(frozen=True)
class MatrixCost:
    """Bytes stored and MACs executed per batch column for one weight matrix."""

    weight_bytes: float
    macs: float
    nonzeros: int
    two_four_violations: int = 0  # groups of 4 with more than 2 nonzeros (pruned away by 2:4)


def matrix_cost(mask: np.ndarray, weight_format: str, value_bytes: int, formats: GpuFormats) -> MatrixCost:
    """Storage and work of the matrix ``mask`` [in, out] in a format, read whole.

    ``dense``: every element. ``csr``: the transposed matrix (one row per
    output, as a SpMV kernel reads it): nonzeros x (value + column index) plus
    ``out + 1`` row pointers. ``2:4``: groups of 4 consecutive inputs keep 2
    values (padded to a multiple of 4), each with ``two_four_meta_bits``.
    """
    rows, cols = mask.shape
    nnz = int(mask.sum())
    if weight_format == "dense":
        return MatrixCost(float(mask.size * value_bytes), float(mask.size), nnz)
    if weight_format == "csr":
        b = nnz * (value_bytes + formats.csr_index_bytes) + (cols + 1) * formats.csr_rowptr_bytes
        return MatrixCost(float(b), float(nnz), nnz)
    if weight_format == "2:4":
        groups = math.ceil(rows / 4)
        kept = groups * 2 * cols
        padded = np.zeros((groups * 4, cols), dtype=np.int64)
        padded[:rows] = mask
        per_group = padded.reshape(groups, 4, cols).sum(axis=1)
        violations = int((per_group > 2).sum())
        b = kept * value_bytes + kept * formats.two_four_meta_bits / 8
        return MatrixCost(float(b), float(kept), nnz, violations)
    raise ValueError(f"weight_format: got {weight_format!r}; allowed: {list(WEIGHT_FORMATS)}")


def active_rows(
    events: np.ndarray | None, fanout: np.ndarray, steps: int, batch: int, shift: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Presynaptic rows read and their nonzeros, per step (float [T] each), for a gather kernel.

    ``events`` [T, rows]: which presynaptic units emitted an event (None: all
    rows active at every step, as layer 0's embedding input). At batch 1 the
    rows are the events; at batch B the expected union over B independent
    streams, ``1 - (1 - p_j)**B`` per row. ``shift``: step t reads the events
    of step t-1 (recurrent input) and step 0 reads none.
    """
    fanout = fanout.astype(np.float64)
    if events is None:
        rows, nnz = np.full(steps, float(fanout.size)), np.full(steps, float(fanout.sum()))
    elif batch == 1:
        rows = events.sum(axis=1, dtype=np.int64).astype(np.float64)
        nnz = events.astype(np.float64) @ fanout
    else:
        union = 1.0 - (1.0 - events.mean(axis=0)) ** batch
        rows, nnz = np.full(steps, union.sum()), np.full(steps, union @ fanout)
    if shift:
        rows = np.concatenate([[0.0], rows[:-1]])
        nnz = np.concatenate([[0.0], nnz[:-1]])
    return rows, nnz


def gather_cost(
    mask: np.ndarray,
    rows_read: np.ndarray,
    nnz_read: np.ndarray,
    weight_format: str,
    value_bytes: int,
    formats: GpuFormats,
) -> tuple[np.ndarray, np.ndarray]:
    """Weight bytes and MACs per batch column, per step, of a gather kernel over ``mask`` [in, out].

    ``dense`` reads whole rows of ``out`` values; ``csr`` stores the matrix by
    presynaptic row and reads each active row's nonzeros (value + column
    index) and its two row pointers.
    """
    cols = mask.shape[1]
    if weight_format == "dense":
        return rows_read * cols * value_bytes, rows_read * cols
    if weight_format == "csr":
        b = nnz_read * (value_bytes + formats.csr_index_bytes) + 2 * rows_read * formats.csr_rowptr_bytes
        return b, nnz_read
    raise ValueError(f"weight_format: got {weight_format!r} with kernel='gather'; allowed: ['dense', 'csr']")


# ----------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class KernelWork:
    """What one kernel does at every step: float arrays [T]."""

    name: str
    unit: str  # one of UNITS
    flops: np.ndarray
    macs: np.ndarray
    hbm_bytes: np.ndarray
    sram_bytes: np.ndarray
    weight_hbm_bytes: np.ndarray


@dataclass(frozen=True)
class StepWork:
    """The kernels of a recurrent step and the one-off weight load."""

    kernels: tuple[KernelWork, ...]
    steps: int
    weight_bytes: float  # all weights in their format
    weights_resident: bool
    initial_load_bytes: float  # HBM -> L2 once per run when resident
    activations_spill: bool
    included: tuple[str, ...]
    nonzero_weights: int
    dense_weights: int
    two_four_violations: int


def _const(value: float, T: int) -> np.ndarray:
    return np.full(T, float(value))


def count_step_work(arch: GpuArch, trace: Trace, opt: GpuOptions) -> StepWork:
    """FLOPs, MACs and bytes (HBM, SRAM) of every kernel at every step."""
    T = trace.n_tokens
    B = opt.batch
    vb = opt.value_bytes
    fmt = opt.weight_format
    kcfg = arch.kernels
    tiles = math.ceil(B / kcfg.batch_tile)
    G = trace.gates
    dense_unit = "tensor_sparse" if fmt == "2:4" else ("simt" if fmt == "csr" else "tensor")
    mat_unit = "simt" if opt.kernel == "gather" else dense_unit

    # weights in their format: decides residency
    matrices: list[tuple[str, int, np.ndarray]] = []
    for l, layer in enumerate(trace.layers):
        matrices.append((f"layer{l}", l, layer.w_in_mask))
        matrices.append((f"layer{l}", l, layer.w_rec_mask))
    readout_mask = None
    if opt.include_readout:
        H_last = trace.layers[-1].hidden_size
        V = int(trace.meta["vocab_size"])
        readout_mask = trace.readout_w_mask if trace.readout_w_mask is not None else np.ones((H_last, V), dtype=bool)
    whole = [matrix_cost(m, fmt, vb, arch.formats) for _, _, m in matrices]
    readout_whole = matrix_cost(readout_mask, fmt, vb, arch.formats) if readout_mask is not None else None
    weight_bytes = sum(c.weight_bytes for c in whole) + (readout_whole.weight_bytes if readout_whole else 0.0)
    fits = weight_bytes <= arch.memory.weight_cache_bytes
    if opt.weight_residency == "onchip" and not fits:
        raise ValueError(
            f"weight_residency: got 'onchip' but the weights take {weight_bytes:.0f} bytes; "
            f"allowed: at most memory.weight_cache_bytes={arch.memory.weight_cache_bytes}"
        )
    resident = fits and opt.weight_residency != "hbm"

    # activation working set of the widest layer: inputs, hidden, gate pre-activations, state
    widest = 0
    prev = trace.input_size
    for layer in trace.layers:
        H = layer.hidden_size
        widest = max(widest, prev + H + G * H + kcfg.state_vectors * H)
        prev = H
    if opt.include_readout:
        widest = max(widest, prev + int(trace.meta["vocab_size"]))
    l2_left = arch.memory.l2_bytes - (weight_bytes if resident else 0.0)
    spill = B * widest * vb > l2_left

    def weights_traffic(wbytes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(HBM, SRAM) bytes of reading these weights once per step."""
        hbm = np.zeros_like(wbytes) if resident else wbytes
        return hbm, wbytes * tiles

    def act_traffic(nbytes: float) -> tuple[np.ndarray, np.ndarray]:
        """(HBM, SRAM) bytes of activation/state traffic."""
        s = _const(nbytes, T)
        return (s.copy() if spill else np.zeros(T)), s

    kernels: list[KernelWork] = []
    zeros = np.zeros(T)
    if opt.include_embedding:
        I0 = trace.input_size
        hbm = _const(B * I0 * vb + B * 4, T)  # embedding rows + token ids
        kernels.append(KernelWork("embedding", "none", zeros, zeros, hbm, _const(B * I0 * vb, T), zeros))

    prev_events = None
    for l, layer in enumerate(trace.layers):
        H, I = layer.hidden_size, layer.input_size
        c_in, c_rec = whole[2 * l], whole[2 * l + 1]
        if opt.kernel == "dense":
            wbytes = _const(c_in.weight_bytes + c_rec.weight_bytes, T)
            macs = _const((c_in.macs + c_rec.macs) * B, T)
            index_bytes = zeros
        else:
            r_in, n_in = active_rows(prev_events, layer.in_fanout, T, B, shift=False)
            r_rec, n_rec = active_rows(layer.events, layer.rec_fanout, T, B, shift=True)
            b_in, m_in = gather_cost(layer.w_in_mask, r_in, n_in, fmt, vb, arch.formats)
            b_rec, m_rec = gather_cost(layer.w_rec_mask, r_rec, n_rec, fmt, vb, arch.formats)
            wbytes = b_in + b_rec
            macs = (m_in + m_rec) * B
            index_bytes = (r_in + r_rec) * kcfg.event_index_bytes
        w_hbm, w_sram = weights_traffic(wbytes)
        io = B * (I + H) * vb + G * H * vb  # x, h, bias
        if not kcfg.pointwise_fused:
            io += B * G * H * vb  # pre-activations written
        a_hbm, a_sram = act_traffic(io)
        pw_flops = kcfg.pointwise_flops_per_gate_unit * G * H * B
        gemm_flops = 2.0 * macs
        state_io = 2 * kcfg.state_vectors * B * H * vb  # read and write
        if kcfg.pointwise_fused:
            s_hbm, s_sram = act_traffic(state_io)
            kernels.append(
                KernelWork(
                    f"layer{l}.gemm+pointwise",
                    mat_unit,
                    gemm_flops + pw_flops,
                    macs,
                    w_hbm + a_hbm + s_hbm,
                    w_sram + a_sram + s_sram + index_bytes,
                    w_hbm,
                )
            )
        else:
            kernels.append(
                KernelWork(
                    f"layer{l}.gemm", mat_unit, gemm_flops, macs, w_hbm + a_hbm, w_sram + a_sram + index_bytes, w_hbm
                )
            )
            p_hbm, p_sram = act_traffic(B * G * H * vb + state_io)
            kernels.append(KernelWork(f"layer{l}.pointwise", "simt", _const(pw_flops, T), zeros, p_hbm, p_sram, zeros))
        prev_events = layer.events

    if readout_mask is not None:
        H_last, V = readout_mask.shape
        if opt.kernel == "dense":
            wbytes = _const(readout_whole.weight_bytes, T)
            macs = _const(readout_whole.macs * B, T)
            index_bytes = zeros
        else:
            fan = readout_mask.sum(axis=1, dtype=np.int64)
            r_, n_ = active_rows(trace.layers[-1].events, fan, T, B, shift=False)
            wb_, m_ = gather_cost(readout_mask, r_, n_, fmt, vb, arch.formats)
            wbytes, macs, index_bytes = wb_, m_ * B, r_ * kcfg.event_index_bytes
        w_hbm, w_sram = weights_traffic(wbytes)
        a_hbm, a_sram = act_traffic(B * (H_last + V) * vb)  # hidden read, logits written
        kernels.append(
            KernelWork("readout", mat_unit, 2.0 * macs, macs, w_hbm + a_hbm, w_sram + a_sram + index_bytes, w_hbm)
        )

    included = (
        ("recurrent",)
        + (("embedding",) if opt.include_embedding else ())
        + (("readout",) if opt.include_readout else ())
    )
    nnz = sum(c.nonzeros for c in whole) + (readout_whole.nonzeros if readout_whole else 0)
    dense_n = sum(int(m.size) for _, _, m in matrices) + (int(readout_mask.size) if readout_mask is not None else 0)
    violations = sum(c.two_four_violations for c in whole) + (readout_whole.two_four_violations if readout_whole else 0)
    return StepWork(
        kernels=tuple(kernels),
        steps=T,
        weight_bytes=float(weight_bytes),
        weights_resident=resident,
        initial_load_bytes=float(weight_bytes) if resident else 0.0,
        activations_spill=spill,
        included=included,
        nonzero_weights=int(nnz),
        dense_weights=int(dense_n),
        two_four_violations=int(violations),
    )


# ----------------------------------------------------------------------------- roofline and costing


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
    total = np.maximum(np.maximum(compute, hbm), sram) + arch.kernels.launch_overhead_s
    return KernelTimes(compute, hbm, sram, total)


def energy_breakdown_pj(arch: GpuArch, counts: dict, precision: str) -> dict[str, float]:
    """Cost raw counts: FLOPs per unit x pJ/FLOP, bytes x pJ/byte, static power x seconds.

    ``counts`` needs ``flops_<unit>`` for each unit in :data:`UNITS` but
    ``none``, ``hbm_bytes``, ``sram_bytes`` and ``seconds`` (as in
    ``Result.counts`` of :func:`simulate_gpu`).
    """
    compute = sum(counts.get(f"flops_{u}", 0.0) * unit_flop_pj(arch, u, precision) for u in UNITS if u != "none")
    return {
        "compute": float(compute),
        "hbm": float(counts["hbm_bytes"] * arch.energy.hbm_pj_per_byte),
        "sram": float(counts["sram_bytes"] * arch.energy.sram_pj_per_byte),
        "static": float(arch.static_power_w * counts["seconds"] * 1e12),
    }


# ----------------------------------------------------------------------------- public entry


def simulate_gpu(
    arch: GpuArch,
    trace: Trace,
    batch: int = 1,
    precision: str | None = None,
    weight_format: str | None = None,
    kernel: str | None = None,
    *,
    weight_residency: str | None = None,
    include_embedding: bool | None = None,
    include_readout: bool | None = None,
    tokens: int | None = None,
) -> Result:
    """Per-token time, bytes and energy of running ``trace``'s model on a GPU.

    Parameters
    ----------
    arch : a loaded ``kind: gpu`` spec.
    trace : the model (weight masks) and, for ``kernel="gather"``, its events.
    batch : independent streams advanced together; each step serves ``batch`` tokens.
    precision, weight_format, kernel, weight_residency, include_embedding, include_readout :
        None takes ``arch.defaults``; see the module docstring for their meaning.
    tokens : use only the first ``tokens`` steps of the trace (None: all).

    Returns
    -------
    Result with ``backend="gpu"``. Per-token figures divide a step's total by
    ``batch``; ``latency_s_per_token`` is one step's time (what a token waits);
    the one-off load of resident weights into L2 counts in time, bytes and
    energy but not in latency. ``core_utilization`` is the fraction of peak
    FLOP/s achieved, each kernel against the peak of the unit it runs on
    (dense or sparse tensor cores, CUDA cores): min/max over kernels, mean
    over the steps. ``counts`` holds run totals for :func:`energy_breakdown_pj`.

    Raises
    ------
    ValueError naming the option, the value and the allowed values.
    """
    if not isinstance(arch, GpuArch):
        raise TypeError(f"arch: got {type(arch).__name__}; allowed: a GpuArch (a spec with kind: gpu)")
    if tokens is not None:
        if tokens < 1:
            raise ValueError(f"tokens: got {tokens!r}; allowed: an integer >= 1")
        trace = trace.window(0, min(tokens, trace.n_tokens))
    opt = resolve_options(
        arch, batch, precision, weight_format, kernel, weight_residency, include_embedding, include_readout
    )
    work = count_step_work(arch, trace, opt)
    times = kernel_times(arch, work, opt.precision)

    T, B = work.steps, opt.batch
    served = T * B
    step_s = times.total_s.sum(axis=0)  # [T]
    load_s = work.initial_load_bytes / (arch.memory.hbm_bandwidth_bytes_per_s * arch.efficiency.hbm)
    seconds = float(step_s.sum() + load_s)

    flops_k = np.array([k.flops.sum() for k in work.kernels])
    counts: dict[str, float] = {f"flops_{u}": 0.0 for u in UNITS if u != "none"}
    for k, f in zip(work.kernels, flops_k):
        if k.unit != "none":
            counts[f"flops_{k.unit}"] += float(f)
    hbm_bytes = float(sum(k.hbm_bytes.sum() for k in work.kernels) + work.initial_load_bytes)
    sram_bytes = float(sum(k.sram_bytes.sum() for k in work.kernels))
    counts.update(
        flops=float(flops_k.sum()),
        macs=float(sum(k.macs.sum() for k in work.kernels)),
        hbm_bytes=hbm_bytes,
        weight_hbm_bytes=float(sum(k.weight_hbm_bytes.sum() for k in work.kernels) + work.initial_load_bytes),
        sram_bytes=sram_bytes,
        kernel_launches=float(len(work.kernels) * T),
        seconds=seconds,
        compute_seconds=float(times.compute_s.sum()),
        memory_seconds=float(times.memory_s.sum()),
        launch_seconds=float(arch.kernels.launch_overhead_s * len(work.kernels) * T),
        load_seconds=float(load_s),
        steps=float(T),
        tokens_served=float(served),
    )
    breakdown_total = energy_breakdown_pj(arch, counts, opt.precision)
    breakdown = {k: v / served for k, v in breakdown_total.items()}

    ideal_s = np.array([f / unit_peak_flops(arch, k.unit, opt.precision) for k, f in zip(work.kernels, flops_k)])
    kernel_s = times.total_s.sum(axis=1)
    active = (ideal_s / kernel_s)[flops_k > 0]
    utilization = {
        "min": float(active.min()) if active.size else 0.0,
        "mean": float(ideal_s.sum() / step_s.sum()) if step_s.sum() > 0 else 0.0,
        "max": float(active.max()) if active.size else 0.0,
    }
    bound = "compute" if times.compute_s.sum() > times.memory_s.sum() else "memory"

    time_per_token = seconds / served
    meta = dict(trace.meta)
    activity = trace.activity()
    units = np.array(trace.hidden_sizes)
    meta.update(
        arch_kind="gpu",
        activity_sparsity=float(1.0 - (activity * units).sum() / units.sum()),
        measured_weight_sparsity=trace.measured_weight_sparsity(),
        dense_macs_per_token=dense_macs_per_token(trace),
        batch=B,
        precision=opt.precision,
        weight_format=opt.weight_format,
        kernel=opt.kernel,
        weight_residency=opt.weight_residency,
        weights_resident=work.weights_resident,
        weight_bytes=work.weight_bytes,
        nonzero_weights=work.nonzero_weights,
        dense_weights=work.dense_weights,
        two_four_violations=work.two_four_violations,
        activations_spill_to_hbm=work.activations_spill,
        included=list(work.included),
        kernels_per_step=[k.name for k in work.kernels],
        bound=bound,
        launch_fraction=float(counts["launch_seconds"] / seconds) if seconds > 0 else 0.0,
        tokens_served=served,
    )
    return Result(
        arch=arch.name,
        trace=trace.name,
        backend="gpu",
        tokens=T,
        cycles_per_token=time_per_token * arch.clock_hz,
        latency_s_per_token=float(step_s.mean()),
        time_s_per_token=time_per_token,
        synaptic_ops_per_token=counts["macs"] / served,
        packets_per_token=0.0,
        flit_hops_per_token=0.0,
        memory_bytes_per_token={"hbm": hbm_bytes / served, "sram": sram_bytes / served},
        energy_pj_per_token=float(sum(breakdown.values())),
        energy_breakdown_pj_per_token=breakdown,
        core_utilization=utilization,
        counts=counts,
        meta=meta,
    )


__all__ = [
    "GpuArch",
    "GpuOptions",
    "KernelWork",
    "StepWork",
    "active_rows",
    "count_step_work",
    "energy_breakdown_pj",
    "gather_cost",
    "kernel_times",
    "matrix_cost",
    "resolve_options",
    "simulate_gpu",
]
