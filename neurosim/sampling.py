"""Sampled runs: which windows of a trace to replay, and the confidence interval of a figure over them.

A sampled run replays ``K`` windows of ``W`` tokens, one drawn at random in each of
``K`` equal strata of the trace; each window is replayed exactly as the same steps
of a full run (:func:`window_range`), and a per-token figure's 95% interval comes from
its spread over the windows (:func:`confidence_interval`, Student t).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

# two-sided 95% Student-t quantiles for 1..30 degrees of freedom
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
         2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042)
PER_TOKEN_FIGURES = (
    "cycles_per_token",
    "latency_s_per_token",
    "time_s_per_token",
    "synaptic_ops_per_token",
    "packets_per_token",
    "flit_hops_per_token",
    "energy_pj_per_token",
)


class SamplingError(ValueError):
    """Windows that do not fit the trace."""


def _t975(df: int) -> float:
    return _T975[df - 1] if df <= len(_T975) else NormalDist().inv_cdf(0.975)


def confidence_interval(per_window: list[float], centre: float, nonnegative: bool = True) -> list[float]:
    """95% interval around ``centre`` from the per-window values (Student t, ``len - 1`` degrees of freedom).

    A figure that cannot be negative (``nonnegative``, the default: every figure of
    :data:`PER_TOKEN_FIGURES` is a count, a time or an energy) has its low bound
    clipped at 0, so that a wide interval on few windows never reports a negative
    count or energy (and a valid sampled run is never refused by the Result's guard).

    >>> confidence_interval([1.0, 3.0], 2.0)
    [0.0, 14.706]
    >>> confidence_interval([1.0, 3.0], 2.0, nonnegative=False)
    [-10.706, 14.706]
    """
    values = np.asarray(per_window, dtype=np.float64)
    if values.size < 2:
        raise SamplingError(f"confidence interval: {values.size} window(s); allowed: >= 2 windows")
    half = _t975(values.size - 1) * values.std(ddof=1) / math.sqrt(values.size)
    low = centre - half
    return [float(max(low, 0.0) if nonnegative else low), float(centre + half)]


def window_starts(n_tokens: int, windows: int, window: int, seed: int, what: str) -> list[int]:
    """First tokens of ``windows`` windows of ``window`` tokens: one at random in each of as many equal strata.

    ``what`` names the option in the error (``sample`` or ``check``).
    """
    if window < 1 or windows * window > n_tokens:
        raise SamplingError(f"window: got {window} x {what} {windows}; allowed: {what} * window <= {n_tokens} tokens")
    rng = np.random.default_rng(seed)
    stratum = n_tokens // windows
    return [k * stratum + int(rng.integers(0, stratum - window + 1)) for k in range(windows)]


def window_range(start: int, window: int, n_layers: int, pipelined: bool) -> tuple[int, int, tuple[int, int]]:
    """``(token_begin, token_end, (first_step, stop_step))`` that replay tokens ``start .. start + window``
    exactly as the same steps of a full run (pipelined: layer ``l`` handles token ``s - l`` at step ``s``)."""
    if pipelined:
        return max(0, start - n_layers + 1), start + window, (start, start + window)
    return start, start + window, (start * n_layers, (start + window) * n_layers)
