"""The result of one simulation (event engine or GPU model): one typed record.

Writers serialise this object; nothing parses text back.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import pandas as pd


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

    @property
    def tokens_per_s(self) -> float:
        return 1.0 / self.time_s_per_token if self.time_s_per_token > 0 else float("inf")

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
