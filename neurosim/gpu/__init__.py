"""The GPU target: a roofline model of recurrent-LM inference on a GPU.

The same trace that drives the event engine drives this model, and the output
is the same :class:`~neurosim.result.Result`, so a GPU spec can be passed
wherever a neuromorphic one is (``neurosim run --arch arch_specs/gpu_h100.yaml``).

Pipeline (one stage per module):

1. :mod:`~neurosim.gpu.spec`: the ``kind: gpu`` schema, :class:`GpuArch`.
2. :mod:`~neurosim.gpu.options`: :func:`resolve_options` checks batch, precision, weight format and kernel.
3. :mod:`~neurosim.gpu.workload`: :func:`count_step_work` lists the kernels of one recurrent step and, for
   every kernel and every step, the FLOPs, MACs and bytes it moves (HBM and
   on-chip SRAM). Nothing here knows about time or energy.
4. :mod:`~neurosim.gpu.roofline`: :func:`kernel_times` applies the roofline: a kernel takes
   ``max(compute, HBM, SRAM time) + launch overhead``.
5. :mod:`neurosim.costing.gpu`: ``energy_breakdown_pj(counts, arch, precision)`` costs the counts:
   FLOPs x pJ/FLOP, bytes x pJ/byte, plus static power x time. A sweep can re-cost ``Result.counts``
   with it without re-running the model.
6. :mod:`~neurosim.gpu.simulate`: :func:`simulate_gpu` runs the stages and fills a :class:`~neurosim.result.Result`.

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
- ``sequence_tokens`` (S): tokens per forward call. S = 1 (default) runs token
  by token, as a chip does. S > 1 is teacher-forced evaluation as cuDNN's and
  EvNN's layers run it: each layer's input projection and the readout are one
  GEMM over the call's S tokens (weights read and kernel launched once per
  call, counted as 1/S per step), the recurrent product stays one per step,
  and a token's latency is its call's time. Dense kernel only.

Examples
--------
>>> from neurosim.arch import load_arch
>>> from neurosim.trace import synthetic
>>> gpu = load_arch("gpu_a100")  # doctest: +SKIP
>>> r = simulate_gpu(gpu, synthetic([256], input_size=128, tokens=16), batch=64)  # doctest: +SKIP
>>> r.meta["bound"]  # doctest: +SKIP
'memory'
"""

from neurosim.gpu.options import GpuOptions, resolve_options
from neurosim.gpu.roofline import KernelTimes, kernel_times, unit_peak_flops
from neurosim.gpu.simulate import simulate_gpu
from neurosim.gpu.spec import (
    KERNELS,
    PRECISION_BYTES,
    RESIDENCY,
    UNITS,
    WEIGHT_FORMATS,
    GpuArch,
    GpuDefaults,
    GpuEfficiency,
    GpuEnergy,
    GpuFormats,
    GpuKernels,
    GpuMemory,
)
from neurosim.gpu.workload import (
    KernelWork,
    MatrixCost,
    StepWork,
    active_rows,
    count_step_work,
    gather_cost,
    matrix_cost,
)

__all__ = [
    "KERNELS",
    "PRECISION_BYTES",
    "RESIDENCY",
    "UNITS",
    "WEIGHT_FORMATS",
    "GpuArch",
    "GpuDefaults",
    "GpuEfficiency",
    "GpuEnergy",
    "GpuFormats",
    "GpuKernels",
    "GpuMemory",
    "GpuOptions",
    "KernelTimes",
    "KernelWork",
    "MatrixCost",
    "StepWork",
    "active_rows",
    "count_step_work",
    "gather_cost",
    "kernel_times",
    "matrix_cost",
    "resolve_options",
    "simulate_gpu",
    "unit_peak_flops",
]
