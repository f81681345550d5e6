"""The result of one simulation (event engine or GPU model): one typed record.

Writers serialise this object; nothing parses text back. A Result checks
itself when it is made: no figure can be NaN, infinite or negative.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from numbers import Number

import pandas as pd


class ResultError(ValueError):
    """A figure of a :class:`Result` is NaN, infinite or negative; the message names the figure."""


def _bad_numbers(value, name: str, signed: bool):
    """``(path, value)`` of every number under ``value`` that is not finite (or negative, unless ``signed``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _bad_numbers(inner, f"{name}.{key}", signed)
    elif isinstance(value, (list, tuple)):
        for i, inner in enumerate(value):
            yield from _bad_numbers(inner, f"{name}[{i}]", signed)
    elif isinstance(value, Number) or hasattr(value, "dtype"):
        try:
            x = float(value)
        except (TypeError, ValueError):
            return
        if not math.isfinite(x) or (not signed and x < 0):
            yield name, value


@dataclass(frozen=True)
class Result:
    """Per-token figures of one (architecture, trace) run.

    ``counts`` holds the raw action counts of the whole run (``synop``,
    ``flit_hop_x``, ...); energy is ``counts x energy table`` plus static power
    times time, so a sweep can re-cost a run without re-simulating it.
    ``intervals`` maps a per-token figure to its 95% confidence interval
    ``[low, high]`` when the run was sampled.
    """

    arch: str
    trace: str
    backend: str  # "event" or "gpu"
    tokens: int
    cycles_per_token: float
    latency_s_per_token: float
    time_s_per_token: float
    synaptic_ops_per_token: float
    packets_per_token: float
    flit_hops_per_token: float
    memory_bytes_per_token: dict[str, float]
    energy_pj_per_token: float
    energy_breakdown_pj_per_token: dict[str, float]
    core_utilization: dict[str, float]
    counts: dict[str, float] = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    intervals: dict[str, list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse NaN, inf and negative figures (``meta`` may hold signed values, never NaN or inf)."""
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 1:
            raise ResultError(f"result figure tokens: got {self.tokens!r}; allowed: an integer >= 1")
        for f in fields(self):
            if f.name in ("arch", "trace", "backend"):
                continue
            for name, value in _bad_numbers(getattr(self, f.name), f.name, signed=f.name == "meta"):
                allowed = "a finite number" if f.name == "meta" else "a finite number >= 0"
                raise ResultError(f"{self.arch} on {self.trace}: result figure {name}: got {value!r}; allowed: "
                                  f"{allowed} (a spec value too large or too small for this trace, or an engine bug)")
        if not (self.time_s_per_token > 0 and math.isfinite(1.0 / self.time_s_per_token)):
            raise ResultError(f"{self.arch} on {self.trace}: result figure time_s_per_token: got "
                              f"{self.time_s_per_token!r}; allowed: > 0 (a run that takes no time has no throughput)")

    @property
    def tokens_per_s(self) -> float:
        return 1.0 / self.time_s_per_token

    @property
    def static_energy_pj_per_token(self) -> float:
        """Static (idle/leakage) energy per token: static power x time."""
        return float(self.energy_breakdown_pj_per_token.get("static", 0.0))

    @property
    def dynamic_energy_pj_per_token(self) -> float:
        """Energy per token of the counted actions (everything but static power)."""
        return self.energy_pj_per_token - self.static_energy_pj_per_token

    def to_dict(self) -> dict:
        d = asdict(self)
        d["tokens_per_s"] = self.tokens_per_s
        d["energy_j_per_token"] = self.energy_pj_per_token * 1e-12
        d["static_energy_pj_per_token"] = self.static_energy_pj_per_token
        d["dynamic_energy_pj_per_token"] = self.dynamic_energy_pj_per_token
        d["memory_bytes_per_token_total"] = float(sum(self.memory_bytes_per_token.values()))
        return d

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=float)

    def to_flat_dict(self) -> dict:
        """One level of keys: nested dicts become ``outer.inner`` columns; a sampled run's
        intervals become ``ci95_low.<figure>`` and ``ci95_high.<figure>``."""
        flat: dict = {}
        for key, value in self.to_dict().items():
            if key == "intervals":  # numeric columns: ci95_low.<figure>, ci95_high.<figure>
                for name, (low, high) in value.items():
                    flat[f"ci95_low.{name}"] = low
                    flat[f"ci95_high.{name}"] = high
            elif isinstance(value, dict):
                for inner, v in value.items():
                    if isinstance(v, (list, dict)):
                        v = json.dumps(v)
                    flat[f"{key}.{inner}"] = v
            elif isinstance(value, list):
                flat[key] = json.dumps(value)
            else:
                flat[key] = value
        return flat

    def to_dataframe(self) -> pd.DataFrame:
        """A one-row frame of :meth:`to_flat_dict`."""
        return pd.DataFrame([self.to_flat_dict()])

    def neurobench(self, trace, **options) -> dict:
        """The NeuroBench 2.x metrics of this run on ``trace`` (its Trace, path or shipped name):
        :func:`neurosim.interop.neurobench.neurobench_metrics`."""
        from neurosim.interop.neurobench import neurobench_metrics

        return neurobench_metrics(trace, self, **options)
