"""What one recurrent step asks of a GPU: its kernels and, per kernel and step, FLOPs, MACs and bytes moved.

Nothing here knows about time or energy: :mod:`neurosim.gpu.roofline` turns the work into time,
:mod:`neurosim.costing.gpu` into energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurosim.gpu.options import GpuOptions
from neurosim.gpu.spec import WEIGHT_FORMATS, GpuArch, GpuFormats
from neurosim.trace import Trace

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
    launches: float = 1.0  # launches per step: 1 / sequence_tokens for a kernel run once per forward call


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
    S = opt.sequence_tokens  # > 1: input projections and readout are one GEMM per call of S tokens
    seq_tiles = math.ceil(B * S / kcfg.batch_tile)
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

    def call_weights_traffic(wbytes: float) -> tuple[np.ndarray, np.ndarray]:
        """(HBM, SRAM) bytes per step of weights read once per forward call of S tokens."""
        w = _const(wbytes / S, T)
        return (np.zeros(T) if resident else w), w * seq_tiles

    def act_traffic(nbytes: float) -> tuple[np.ndarray, np.ndarray]:
        """(HBM, SRAM) bytes of activation/state traffic."""
        s = _const(nbytes, T)
        return (s.copy() if spill else np.zeros(T)), s

    kernels: list[KernelWork] = []
    zeros = np.zeros(T)
    if opt.include_embedding:
        I0 = trace.input_size
        hbm = _const(B * I0 * vb + B * 4, T)  # embedding rows + token ids
        kernels.append(KernelWork("embedding", "none", zeros, zeros, hbm, _const(B * I0 * vb, T), zeros, 1.0 / S))

    prev_events = None
    for l, layer in enumerate(trace.layers):
        H, I = layer.hidden_size, layer.input_size
        c_in, c_rec = whole[2 * l], whole[2 * l + 1]
        io = B * (I + H) * vb + G * H * vb  # x, h, bias
        if S > 1:  # the input projection of the whole call, then per step only the recurrent product
            w_hbm, w_sram = call_weights_traffic(c_in.weight_bytes)
            a_hbm, a_sram = act_traffic(B * I * vb + G * H * vb + B * G * H * vb)  # x, bias read; W x written
            kernels.append(KernelWork(f"layer{l}.input", mat_unit, _const(2.0 * c_in.macs * B, T),
                                      _const(c_in.macs * B, T), w_hbm + a_hbm, w_sram + a_sram, w_hbm, 1.0 / S))
            c_in = MatrixCost(0.0, 0.0, 0)
            io = B * H * vb + G * H * vb + B * G * H * vb  # h, bias, W x of this step read
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
            w_hbm, w_sram = call_weights_traffic(readout_whole.weight_bytes) if S > 1 else weights_traffic(wbytes)
        else:
            fan = readout_mask.sum(axis=1, dtype=np.int64)
            r_, n_ = active_rows(trace.layers[-1].events, fan, T, B, shift=False)
            wb_, m_ = gather_cost(readout_mask, r_, n_, fmt, vb, arch.formats)
            wbytes, macs, index_bytes = wb_, m_ * B, r_ * kcfg.event_index_bytes
            w_hbm, w_sram = weights_traffic(wbytes)
        a_hbm, a_sram = act_traffic(B * (H_last + V) * vb)  # hidden read, logits written
        kernels.append(
            KernelWork("readout", mat_unit, 2.0 * macs, macs, w_hbm + a_hbm, w_sram + a_sram + index_bytes, w_hbm,
                       1.0 / S)
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
