"""One GPU run: options -> workload -> roofline times -> counts -> energy -> :class:`~neurosim.result.Result`."""

from __future__ import annotations

import numpy as np

from neurosim.costing.gpu import energy_breakdown_pj
from neurosim.gpu.options import resolve_options
from neurosim.gpu.roofline import kernel_times, unit_peak_flops
from neurosim.gpu.spec import UNITS, GpuArch
from neurosim.gpu.workload import count_step_work
from neurosim.result import PERCENTILES, Result
from neurosim.trace import Trace, dense_macs_per_token


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
    sequence_tokens: int | None = None,
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
    sequence_tokens : tokens per forward call (None: ``arch.defaults``, 1 = token by token, as a chip
        runs). Above 1 (teacher-forced evaluation, as cuDNN's and EvNN's layers run): every layer's input
        projection and the readout are one GEMM over the call's tokens, their weights read once per call,
        launched once per call; the recurrent product stays one per step. A token's latency is then its
        call's time (the outputs come at the end of the call). Dense kernel only.
    tokens : use only the first ``tokens`` steps of the trace (None: all).

    Returns
    -------
    Result with ``target="gpu"``. Per-token figures divide a step's total by
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
        arch, batch, precision, weight_format, kernel, weight_residency, include_embedding, include_readout,
        sequence_tokens,
    )
    work = count_step_work(arch, trace, opt)
    times = kernel_times(arch, work, opt.precision)

    T, B = work.steps, opt.batch
    served = T * B
    step_s = times.total_s.sum(axis=0)  # [T]
    S = opt.sequence_tokens
    waits = np.add.reduceat(step_s, np.arange(0, T, S)) if S > 1 else step_s  # what a token waits: its call
    load_s = work.initial_load_bytes / (arch.memory.hbm_bandwidth_bytes_per_s * arch.efficiency.hbm)
    seconds = float(step_s.sum() + load_s)

    launches_per_step = sum(k.launches for k in work.kernels)
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
        kernel_launches=float(launches_per_step * T),
        seconds=seconds,
        compute_seconds=float(times.compute_s.sum()),
        memory_seconds=float(times.memory_s.sum()),
        launch_seconds=float(arch.kernels.launch_overhead_s * launches_per_step * T),
        load_seconds=float(load_s),
        steps=float(T),
        tokens_served=float(served),
    )
    breakdown_total = energy_breakdown_pj(counts, arch, opt.precision)
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
        sequence_tokens=S,
    )
    return Result(
        arch=arch.name,
        trace=trace.name,
        target="gpu",
        tokens=T,
        cycles_per_token=time_per_token * arch.clock_hz,
        latency_s_per_token=float(waits.mean()),
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
        # every token of a step (of a call) waits for the whole step (call): the distribution is theirs
        **{f"latency_s_p{q}": float(v) for q, v in zip(PERCENTILES, np.percentile(waits, PERCENTILES))},
        power_w_mean=float(sum(breakdown_total.values())) * 1e-12 / seconds,
    )
