"""The sweep spec (YAML, version 1): base architectures, traces, axes over key paths, run options."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, model_validator

from neurosim.spec import Frozen

SWEEP_VERSION = 1
PositiveInt = Annotated[int, Field(ge=1)]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class RandomParam(Frozen):
    """One randomly drawn key: ``{low, high}`` (``log``, ``integer``) or ``{choices: [...]}``."""

    low: float | None = None
    high: float | None = None
    log: bool = False
    integer: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> RandomParam:
        if self.choices is not None:
            if self.low is not None or self.high is not None:
                raise ValueError("give either choices or low/high, not both")
            if not self.choices:
                raise ValueError("choices: empty; allowed: a non-empty list")
            return self
        if self.low is None or self.high is None:
            raise ValueError("allowed: {low: X, high: Y} (optionally log, integer) or {choices: [...]}")
        if self.high < self.low:
            raise ValueError(f"high={self.high} < low={self.low}")
        if self.log and self.low <= 0:
            raise ValueError(f"log: low={self.low}; allowed: low > 0")
        return self


class RandomAxes(Frozen):
    """``n`` points drawn with ``seed``, each key drawn independently."""

    n: PositiveInt
    seed: int = 0
    params: dict[str, RandomParam]


class Axes(Frozen):
    """Architecture axes; the point set is grid x random x points (an absent kind counts once)."""

    grid: dict[str, Annotated[list[Any], Field(min_length=1)]] = Field(default_factory=dict)
    random: RandomAxes | None = None
    points: list[dict[str, Any]] = Field(default_factory=list)


class SyntheticTrace(Frozen):
    """A random trace (:func:`neurosim.trace.synthetic`); a list in a field is a grid over it."""

    hidden_sizes: list[PositiveInt] | list[list[PositiveInt]] = Field(default_factory=lambda: [512, 512])
    input_size: PositiveInt | list[PositiveInt] = 256
    activity: Fraction | list[Fraction] = 0.15
    weight_sparsity: Fraction | list[Fraction] = 0.9
    tokens: PositiveInt | None = None  # default: options.tokens, else 256
    gates: PositiveInt = 3
    seed: int | list[int] = 0


class TraceEntry(Frozen):
    """``{file: PATH_OR_GLOB}`` or ``{synthetic: {...}}``."""

    file: str | None = None
    optional: bool = False  # a missing file (or a glob matching nothing) is skipped
    synthetic: SyntheticTrace | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> TraceEntry:
        if (self.file is None) == (self.synthetic is None):
            raise ValueError("allowed: exactly one of file or synthetic")
        return self


class Options(Frozen):
    """Run options; a list in ``policy`` or ``min_cores`` is a grid over it.

    ``sample: K`` simulates K windows of ``window`` tokens per point on a chip
    (as ``neurosim run --sample``) and adds 95% intervals (``ci95_low.*``,
    ``ci95_high.*`` columns); ``tokens`` then bounds the part of each trace the
    windows are drawn from (default: all of it). GPU points are modelled whole.
    ``check: K`` (with ``engine: bound``) also replays K windows of ``window`` tokens
    exactly per point and records the bound's gap (``meta.bound_check_*`` columns).
    ``backend`` is the old name of ``engine``.
    """

    tokens: PositiveInt | None = None
    policy: Literal["contiguous", "balanced"] | list[Literal["contiguous", "balanced"]] = "contiguous"
    min_cores: PositiveInt | list[PositiveInt] = 1
    engine: Literal["numba", "simpy", "bound"] = Field("numba", validation_alias=AliasChoices("engine", "backend"))
    sample: Annotated[int, Field(ge=2)] | None = None
    window: PositiveInt = 256
    sample_seed: int = 0
    check: PositiveInt | None = None  # with engine bound: replay this many windows exactly (meta.bound_check_*)
    readout: Literal["chip", "none"] = "chip"  # the decoder on the chip (and on GPUs) or left out


class SweepSpec(Frozen):
    """A whole sweep: base architectures x traces x axes, with run options."""

    version: Literal[1]
    name: str = "sweep"
    description: str = ""
    arch: str | Annotated[list[str], Field(min_length=1)]
    traces: Annotated[list[TraceEntry], Field(min_length=1)]
    axes: Axes = Axes()
    options: Options = Options()
