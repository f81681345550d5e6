"""The options of one GPU run (batch, precision, weight format, kernel, residency), checked and filled from the spec."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurosim.gpu.spec import KERNELS, PRECISION_BYTES, RESIDENCY, WEIGHT_FORMATS, GpuArch


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
    sequence_tokens: int = 1

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
    sequence_tokens: int | None = None,
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
    seq = d.sequence_tokens if sequence_tokens is None else sequence_tokens
    if isinstance(seq, bool) or not isinstance(seq, (int, np.integer)) or not 1 <= seq <= 1_000_000:
        raise ValueError(f"sequence_tokens: got {seq!r}; allowed: an integer from 1 to 1000000")
    if seq > 1 and kernel == "gather":
        raise ValueError(f"sequence_tokens: got {seq} with kernel='gather'; allowed with gather: 1 (an event-driven "
                         "kernel reads each step's events as they come)")
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
        sequence_tokens=int(seq),
    )
