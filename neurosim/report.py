"""The report stage: write :class:`~neurosim.result.Result` objects as a table, JSON, CSV or Parquet.

JSON holds everything, the per-run arrays as lists; Parquet one row per result with the
arrays as ``arrays.<name>`` list columns; CSV one row per result without the arrays (their
summaries, the latency percentiles and power, are columns). :func:`read` reads JSON and
Parquet back into Results.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from neurosim.result import LINK_LOAD_CHECKED, Result

FORMATS = ("table", "json", "csv", "parquet")


def _si(value: float, unit: str) -> str:
    for factor, prefix in ((1e-12, "p"), (1e-9, "n"), (1e-6, "u"), (1e-3, "m"), (1.0, "")):
        if abs(value) < factor * 1000 or prefix == "":
            return f"{value / factor:,.3f} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def format_table(result: Result) -> str:
    """A human-readable report of one result."""
    r = result
    m = r.meta
    lines = [
        f"neurosim report: trace {r.trace} on {r.arch} ({r.target}), {r.tokens} tokens",
    ]
    if m.get("model"):
        ppl = m.get("perplexity")
        ppl_text = f"{ppl:.1f}" if isinstance(ppl, (int, float)) else "n/a"
        lines.append(
            f"  model {m.get('model')} {m.get('hidden_sizes')} gates={m.get('gates')}  "
            f"weight sparsity {m.get('measured_weight_sparsity', m.get('weight_sparsity', 0)):.3f}  "
            f"activity sparsity {m.get('activity_sparsity', float('nan')):.3f}  perplexity {ppl_text}"
        )
    if r.target == "chip":
        lines.append(
            f"  mapping {m.get('mapping_policy')}: {m.get('cores_used')}/{m.get('cores_available')} cores, "
            f"multicast={m.get('multicast')}, pipeline={m.get('pipeline')}, synapse format={m.get('synapse_format')}"
        )
        if "readout" in m:
            readout = f"chip ({m['readout_units']:,} units)" if m["readout"] == "chip" else "none"
            lines.append(f"  readout {readout}, events {m.get('event_payload')}, switching {m.get('switching')}")
    rows = [
        ("cycles per token", f"{r.cycles_per_token:,.1f}"),
        ("time per token", _si(r.time_s_per_token, "s")),
        ("latency per token", _si(r.latency_s_per_token, "s")),
    ]
    if r.latency_s_p50 is not None:
        rows.append(("  p50 / p95 / p99", " / ".join(_si(v, "s") for v in (r.latency_s_p50, r.latency_s_p95,
                                                                         r.latency_s_p99))))
    rows += [
        ("tokens per second", f"{r.tokens_per_s:,.1f}"),
        ("synaptic ops per token", f"{r.synaptic_ops_per_token:,.1f}"),
        ("packets per token", f"{r.packets_per_token:,.1f}"),
        ("flit-hops per token", f"{r.flit_hops_per_token:,.1f}"),
        ("energy per token", _si(r.energy_pj_per_token * 1e-12, "J")),
        ("  dynamic", _si(r.dynamic_energy_pj_per_token * 1e-12, "J")),
        ("  static", _si(r.static_energy_pj_per_token * 1e-12, "J")),
    ]
    if r.power_w_mean is not None:
        rows.append(("power mean / peak", _si(r.power_w_mean, "W") + " / " + (
            _si(r.power_w_peak, "W") + " (one timestep)" if r.power_w_peak is not None else "n/a")))
    width = max(len(k) for k, _ in rows)
    for label, value in rows:
        lines.append(f"  {label:<{width}}  {value}")
    if m.get("engine") == "bound":
        lines.append("  (engine bound: no packet replay; cycles, times, latency and static energy are lower "
                     "bounds, counts exact)")
        if "bound_check_cycles_fraction" in m:
            lines.append(f"  (checked on {m['bound_check_windows']} windows of {m['bound_check_window_tokens']} tokens "
                         f"replayed exactly: the bound's cycles are {m['bound_check_cycles_fraction']:.5f} of the exact "
                         f"ones, {m['bound_check_worst_window_fraction']:.5f} in the worst window)")
    timer_s = m.get("timer_period_s")
    if r.target == "chip" and timer_s:
        idle = r.counts.get("timer_idle_cycles", 0.0) / max(r.counts.get("total_cycles", 0.0), 1.0)
        overruns = int(r.counts.get("timer_overruns", 0))
        steps = int(r.counts.get("barriers", 0))
        lines.append(f"  timer-driven timesteps: period {_si(timer_s, 's')}, {100 * idle:.1f}% of the time waiting "
                     f"for the next tick, {overruns} of {steps} steps overran the period"
                     + (" (on the chip those steps' spikes would arrive late or be dropped; a longer "
                        "barrier.timer_period_s fits them)" if overruns else ""))
    if r.target == "chip" and r.packets_per_token > 0 and r.flit_hops_per_token == 0:
        lines.append("  (all traffic stays inside one router: no mesh hops, so the NoC's link and hop costs do not "
                     "show; --policy balanced --min-cores N spreads the network)")
    link_load = r.busiest_link_flits_per_cycle
    if link_load is not None and link_load > LINK_LOAD_CHECKED:
        lines.append(f"  (the busiest link carried {link_load:.2f} flits per cycle of the spike phases, above the "
                     f"{LINK_LOAD_CHECKED} up to which the link model matches BookSim2 within 10%: its unbounded link queues "
                     "may be optimistic near saturation, so read the spike-phase time as a lower bound; "
                     "docs/validation.md)")
    if r.intervals:
        lines.append("  95% confidence intervals (sampled windows):")
        for name, (low, high) in r.intervals.items():
            lines.append(f"    {name:<24} [{low:,.4g}, {high:,.4g}]")
    lines.append("  memory traffic per token:")
    for level, b in r.memory_bytes_per_token.items():
        lines.append(f"    {level:<16} {b:>14,.1f} B")
    lines.append("  energy per token by component:")
    total = r.energy_pj_per_token or 1.0
    shown = {comp: e for comp, e in r.energy_breakdown_pj_per_token.items() if e > 0}
    for comp, e in sorted(shown.items(), key=lambda kv: -kv[1]):
        lines.append(f"    {comp:<16} {e:>14,.1f} pJ  {100 * e / total:5.1f}%")
    if len(shown) < len(r.energy_breakdown_pj_per_token):
        lines.append(f"    (zero: {', '.join(c for c in r.energy_breakdown_pj_per_token if c not in shown)})")
    u = r.core_utilization
    lines.append(f"  core utilization min/mean/max: {u['min']:.3f} / {u['mean']:.3f} / {u['max']:.3f}")
    if r.layers:
        lines.append("  per layer, per token (energy: the layer's synapse, neuron-update and neuron-state energy):")
        lines.extend("    " + line for line in format_layers(r).splitlines())
    return "\n".join(lines)


def format_layers(result: Result) -> str:
    """The per-layer table of a result as aligned text (empty without per-layer figures)."""
    if not result.layers:
        return ""
    total = sum(row["energy_pj_per_token"] for row in result.layers) or 1.0
    head = f"{'layer':<10} {'units':>7} {'synops':>12} {'updates':>12} {'update cyc':>12} {'energy pJ':>12} {'share':>6}"
    lines = [head]
    for row in result.layers:
        updates = row["updates_active_per_token"] + row["updates_received_per_token"] + row["updates_inactive_per_token"]
        lines.append(f"{row['layer']:<10} {row['units']:>7,} {row['synops_per_token']:>12,.1f} {updates:>12,.1f} "
                     f"{row['update_cycles_per_token']:>12,.1f} {row['energy_pj_per_token']:>12,.1f} "
                     f"{100 * row['energy_pj_per_token'] / total:5.1f}%")
    return "\n".join(lines)


def frame(results: list[Result], arrays: bool = False) -> pd.DataFrame:
    """One row per result, nested figures as ``outer.inner`` columns; with ``arrays``, the
    per-run arrays as ``arrays.<name>`` list columns (Parquet keeps them, CSV does not)."""
    return pd.DataFrame([r.to_flat_dict(arrays) for r in results])


def read(path: str | Path) -> list[Result]:
    """The results of a report file written by :func:`write` (JSON or Parquet), or of a sweep table
    (its rows whose ``status`` is ``ok``)."""
    path = Path(path)
    if path.suffix == ".json":
        data = json.loads(path.read_text())
        return [Result.from_dict(d) for d in (data if isinstance(data, list) else [data])]
    if path.suffix == ".parquet":
        df = pd.read_parquet(path)
        if "status" in df:
            df = df[df["status"] == "ok"]
        return [Result.from_flat_dict(row) for row in df.to_dict("records")]
    raise ValueError(f"{path}: got suffix {path.suffix!r}; allowed: ['.json', '.parquet'] (a report written by "
                     "neurosim run --out, or a sweep's results)")


def render(result: Result, fmt: str) -> str:
    """The report as text in ``fmt`` (table, json or csv)."""
    if fmt == "table":
        return format_table(result)
    if fmt == "json":
        return result.to_json()
    if fmt == "csv":
        return frame([result]).to_csv(index=False)
    raise ValueError(f"--format: got {fmt!r}; allowed: {list(FORMATS[:3])} (parquet needs --out)")


class ReportError(ValueError):
    """A report that cannot be written; the one-line message names the path and the system's reason."""


def write(results: list[Result], path: str | Path, fmt: str | None = None) -> Path:
    """Write results to ``path`` (missing folders are created); the format follows ``fmt`` or the file suffix.

    Raises
    ------
    ReportError (a ValueError) on one line when the file cannot be written.
    """
    path = Path(path)
    fmt = fmt or {".json": "json", ".csv": "csv", ".parquet": "parquet", ".txt": "table"}.get(path.suffix, "table")
    if fmt not in FORMATS:
        raise ValueError(f"--format: got {fmt!r}; allowed: {list(FORMATS)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(results, path, fmt)
    except OSError as exc:
        problem = exc.strerror or " ".join(str(exc).split())
        where = f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
        raise ReportError(f"{path}: cannot write the report: {problem}{where}") from None
    return path


def _write(results: list[Result], path: Path, fmt: str) -> None:
    if fmt == "parquet":
        frame(results, arrays=True).to_parquet(path, index=False)
    elif fmt == "csv":
        frame(results).to_csv(path, index=False)
    elif fmt == "json":
        data = [r.to_dict() for r in results]
        path.write_text(json.dumps(data[0] if len(data) == 1 else data, indent=2, default=float) + "\n")
    else:
        path.write_text("\n\n".join(format_table(r) for r in results) + "\n")
