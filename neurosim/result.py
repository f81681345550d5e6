"""The result of one simulation (event engine or GPU model): one typed record.

Writers serialise this object; nothing parses text back. A Result checks
itself when it is made: no figure can be NaN, infinite or negative.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields, replace
from numbers import Number

import numpy as np
import pandas as pd

#: The per-run arrays a chip Result may carry, and their dtypes (see :class:`Result`).
ARRAY_DTYPES = {
    "step_cycles": np.int64,
    "step_energy_pj": np.float32,
    "token_latency_cycles": np.int64,
    "core_busy_cycles": np.int64,
    "link_flits": np.int64,
}
#: Columns of a row of :attr:`Result.layers` (per token; ``energy_pj_per_token``: the layer's
#: synapse, neuron-update and neuron-state energy, the components a layer's own counts price).
LAYER_COLUMNS = ("layer", "units", "synops_per_token", "updates_active_per_token", "updates_received_per_token",
                 "updates_inactive_per_token", "update_cycles_per_token", "energy_pj_per_token")
PERCENTILES = (50, 95, 99)
#: flits per cycle of the busiest link (over the spike phases) up to which the link model matched BookSim2 within
#: 10% on every traffic pattern tried (docs/validation.md, "Links against BookSim2"); above it the engine's
#: unbounded queues may be optimistic (by 0-41% there, depending on the pattern)
LINK_LOAD_CHECKED = 0.65


class ResultError(ValueError):
    """A figure of a :class:`Result` is NaN, infinite or negative; the message names the figure."""


def _bad_numbers(value, name: str, signed: bool):
    """``(path, value)`` of every number under ``value`` that is not finite (or negative, unless ``signed``)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, np.ndarray):
        bad = ~np.isfinite(value) if signed else ~np.isfinite(value) | (value < 0)
        if bad.any():
            i = int(np.flatnonzero(bad.ravel())[0])
            yield f"{name}[{i}]", value.ravel()[i]
    elif isinstance(value, dict):
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

    The inside of a run (chip runs; empty or None where a target has no such figure):

    - ``latency_s_p50`` / ``_p95`` / ``_p99``: percentiles of the token latency (a token's
      first layer to its last layer's update; on a pipelined chip the sum of ``L``
      consecutive steps, ``L`` the pipeline stages), seconds;
    - ``power_w_mean``: energy over time of the whole run; ``power_w_peak``: the largest
      energy over time of one timestep (None without per-step energies);
    - ``layers``: one dict per layer (recurrent layers, then the readout), :data:`LAYER_COLUMNS`;
    - ``arrays``: numpy arrays named in :data:`ARRAY_DTYPES`: ``step_cycles`` and
      ``step_energy_pj`` per timestep, ``token_latency_cycles`` per token,
      ``core_busy_cycles`` per core, ``link_flits`` per link id
      (:mod:`neurosim.engine.layout`). A sampled run concatenates its windows' steps and
      tokens. :meth:`to_dict` (JSON) holds them as lists; :meth:`to_flat_dict` (CSV, sweep
      tables) leaves them out unless asked (Parquet keeps them as list columns).
    """

    arch: str
    trace: str
    target: str  # "chip" (an event-driven chip) or "gpu"
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
    latency_s_p50: float | None = None
    latency_s_p95: float | None = None
    latency_s_p99: float | None = None
    power_w_mean: float | None = None
    power_w_peak: float | None = None
    layers: list[dict] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        """Refuse NaN, inf and negative figures (``meta`` may hold signed values, never NaN or inf)."""
        if isinstance(self.tokens, bool) or not isinstance(self.tokens, int) or self.tokens < 1:
            raise ResultError(f"result figure tokens: got {self.tokens!r}; allowed: an integer >= 1")
        unknown = sorted(set(self.arrays) - set(ARRAY_DTYPES))
        if unknown:
            raise ResultError(f"{self.arch} on {self.trace}: result arrays {unknown}; allowed: {list(ARRAY_DTYPES)}")
        for f in fields(self):
            if f.name in ("arch", "trace", "target"):
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

    @property
    def busiest_link_flits_per_cycle(self) -> float | None:
        """Flits the busiest link carried per cycle of the spike phases (chip runs with per-link counts), else None.

        A mean over the phases, so a lower bound on the load of its busiest moments. Against BookSim2
        (``benchmarks/noc_vs_booksim.py``) the engine's packet latency is within 10% up to
        :data:`LINK_LOAD_CHECKED` on every pattern tried, and may be optimistic above it.
        """
        flits = self.arrays.get("link_flits")
        cycles = self.counts.get("spike_phase_cycles", 0.0)
        if flits is None or len(flits) == 0 or cycles <= 0:
            return None
        return float(np.max(flits) / cycles)

    def to_dict(self) -> dict:
        """Every field (arrays as lists) and the derived figures; :meth:`from_dict` reads it back."""
        d = asdict(replace(self, arrays={}))
        d["arrays"] = {k: v.tolist() for k, v in self.arrays.items()}
        d["tokens_per_s"] = self.tokens_per_s
        d["energy_j_per_token"] = self.energy_pj_per_token * 1e-12
        d["static_energy_pj_per_token"] = self.static_energy_pj_per_token
        d["dynamic_energy_pj_per_token"] = self.dynamic_energy_pj_per_token
        d["memory_bytes_per_token_total"] = float(sum(self.memory_bytes_per_token.values()))
        return d

    def to_json(self, indent: int = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False, default=float)

    @classmethod
    def from_dict(cls, data: dict) -> Result:
        """The Result of a :meth:`to_dict` (a JSON report); derived figures and unknown keys are ignored."""
        names = {f.name for f in fields(cls)}
        data = _renamed(data)
        kwargs = {k: v for k, v in data.items() if k in names}
        kwargs["arrays"] = {k: np.asarray(v, dtype=ARRAY_DTYPES[k]) for k, v in (data.get("arrays") or {}).items()
                            if k in ARRAY_DTYPES}
        return cls(**kwargs)

    @classmethod
    def from_flat_dict(cls, row: dict) -> Result:
        """The Result of a :meth:`to_flat_dict` row (CSV, Parquet or a sweep table); other columns are ignored."""
        row = _renamed(row)
        nested = {"memory_bytes_per_token", "energy_breakdown_pj_per_token", "core_utilization", "counts", "meta",
                  "arrays"}
        names = {f.name for f in fields(cls)}
        data: dict = {k: {} for k in nested}
        data["intervals"] = {}

        def missing(v):
            return v is None or (isinstance(v, float) and math.isnan(v))

        for key, value in row.items():
            outer, _, inner = str(key).partition(".")
            if isinstance(value, (list, tuple, np.ndarray)):
                if outer == "arrays":
                    data["arrays"][inner] = value
                continue
            if missing(value):
                if outer == "meta" and inner:  # meta may hold None (a NaN never passes the guard)
                    data["meta"][inner] = None
                continue
            if outer in ("ci95_low", "ci95_high") and inner:
                data["intervals"].setdefault(inner, [0.0, 0.0])[outer == "ci95_high"] = float(value)
            elif outer in nested and inner:
                data[outer][inner] = json.loads(value) if isinstance(value, str) and value[:1] in "[{" else value
            elif key in names:
                data[key] = json.loads(value) if key == "layers" and isinstance(value, str) else value
        if isinstance(data.get("tokens"), (float, np.integer)):
            data["tokens"] = int(data["tokens"])
        return cls.from_dict(data)

    def to_flat_dict(self, arrays: bool = False) -> dict:
        """One level of keys: nested dicts become ``outer.inner`` columns; a sampled run's
        intervals become ``ci95_low.<figure>`` and ``ci95_high.<figure>``; ``layers`` is one
        JSON text. The per-run arrays are left out (their summaries, the latency percentiles
        and power, are columns), or with ``arrays`` kept as ``arrays.<name>`` numpy values
        (Parquet list columns)."""
        flat: dict = {}
        for key, value in self.to_dict().items():
            if key == "arrays":
                if arrays:
                    for name, a in self.arrays.items():
                        flat[f"arrays.{name}"] = a
            elif key == "intervals":  # numeric columns: ci95_low.<figure>, ci95_high.<figure>
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

    def to_dataframe(self, arrays: bool = False) -> pd.DataFrame:
        """A one-row frame of :meth:`to_flat_dict`."""
        return pd.DataFrame([self.to_flat_dict(arrays)])

    def neurobench(self, trace, **options) -> dict:
        """The NeuroBench 2.x metrics of this run on ``trace`` (its Trace, path or shipped name):
        :func:`neurosim.interop.neurobench.neurobench_metrics`."""
        from neurosim.interop.neurobench import neurobench_metrics

        return neurobench_metrics(trace, self, **options)


def _renamed(data: dict) -> dict:
    """Rows written before ``target`` replaced ``backend`` (values event/gpu) read as chip/gpu targets."""
    if "backend" in data and "target" not in data:
        data = {**data, "target": {"event": "chip"}.get(data["backend"], data["backend"])}
        del data["backend"]
    return data
