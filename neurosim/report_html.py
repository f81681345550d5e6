"""The report as one self-contained HTML page: summary, breakdowns, the run's figures, provenance.

Every figure is an inline PNG (base64), every style inline: the page fetches nothing,
so it can be mailed, archived or opened offline. A page holds one section per result
(a run's report, or the ``ok`` rows of a results table), after an overview table when
there are several.

Examples
--------
>>> write_html([neurosim.run("loihi_like", "ptb_egru90", tokens=64)], "report.html")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import io
import json
from html import escape
from pathlib import Path

from neurosim.report import _si
from neurosim.result import Result

#: Sections drawn in full; further results of a large table appear in the overview only.
MAX_SECTIONS = 20

_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222; margin: 2em auto;
       max-width: 1100px; padding: 0 1.5em; line-height: 1.4; }
h1 { font-size: 1.5em; border-bottom: 2px solid #333; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #aaa; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
th, td { padding: .25em .7em; border-bottom: 1px solid #ddd; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
.cards { display: flex; flex-wrap: wrap; gap: .8em; margin: 1em 0; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .5em .9em; min-width: 10em; background: #fafafa; }
.card .v { font-size: 1.3em; font-weight: 600; }
.card .k { font-size: .8em; color: #555; }
.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: .4em .8em; margin: .6em 0; font-size: .9em; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: .5em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85em; color: #555; }
.muted { color: #777; font-size: .85em; }
"""

_PHASES = (("spike_phase_cycles", "spike phase"), ("barrier_cycles", "barrier"),
           ("update_phase_cycles", "update phase"))


def _png(fig_maker, *args) -> str:
    """An ``<img>`` of the figure ``fig_maker(*args, buffer)`` draws, inline as base64 PNG."""
    buf = io.BytesIO()
    fig_maker(*args, buf)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _v(value) -> str:
    """A meta value as text: a whole float (a table's integer column with gaps) as an integer."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(value)


def _g(value: float) -> str:
    """A figure of the overview: thousands separators from 100 up, 4 significant digits below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.4g}"


def _figure(img: str, caption: str) -> str:
    return f"<figure>{img}<figcaption>{escape(caption)}</figcaption></figure>"


def _table(head: list[str], rows: list[list], left: int = 1) -> str:
    """An HTML table; the first ``left`` columns left-aligned (labels)."""
    def cell(tag, i, v):
        return f'<{tag}{" class=l" if i < left else ""}>{escape(str(v))}</{tag}>'

    out = ["<table><tr>" + "".join(cell("th", i, h) for i, h in enumerate(head)) + "</tr>"]
    out += ["<tr>" + "".join(cell("td", i, v) for i, v in enumerate(row)) + "</tr>" for row in rows]
    return "".join(out) + "</table>"


def _energy_bars(result: Result, path) -> None:
    """Horizontal bars of the nonzero energy components per token (dynamic blue, static grey)."""
    from neurosim.analysis import _matplotlib, _save

    plt = _matplotlib()
    parts = sorted(((k, v) for k, v in result.energy_breakdown_pj_per_token.items() if v > 0), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(7.0, 0.45 * max(len(parts), 2) + 1.0))
    names = [k for k, _ in parts]
    values = [v * 1e-6 for _, v in parts]
    ax.barh(names, values, color=["0.55" if k == "static" else "C0" for k in names])
    total = result.energy_pj_per_token * 1e-6
    for i, v in enumerate(values):
        ax.text(v, i, f"  {v:,.3g} uJ ({100 * v / total:.1f}%)" if total else "", va="center", fontsize=7)
    ax.set_xlim(0, max(values + [1e-12]) * 1.35)
    ax.set_xlabel("energy per token (uJ)")
    ax.set_title(f"Energy per token by component: {total:,.4g} uJ", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    _save(fig, path)


def _phase_bars(result: Result, path) -> None:
    """One stacked horizontal bar: a token's cycles by phase (spike, barrier, update)."""
    from neurosim.analysis import _matplotlib, _save

    plt = _matplotlib()
    fig, ax = plt.subplots(figsize=(7.0, 1.7))
    left = 0.0
    for i, (key, label) in enumerate(_PHASES):
        v = result.counts.get(key, 0.0) / result.tokens
        if v > 0:
            ax.barh([0], [v], left=left, color=f"C{i + 1}", label=f"{label} {v:,.0f}")
            left += v
    ax.set_yticks([])
    ax.set_xlabel("cycles per token (time, not latency)")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, 1.45), frameon=False)
    _save(fig, path)


def _cards(result: Result) -> str:
    r = result
    items = [
        ("energy per token", _si(r.energy_pj_per_token * 1e-12, "J")),
        ("tokens per second", f"{r.tokens_per_s:,.1f}"),
        ("latency per token (mean)", _si(r.latency_s_per_token, "s")),
    ]
    if r.latency_s_p99 is not None:
        items.append(("latency p99", _si(r.latency_s_p99, "s")))
    if r.power_w_mean is not None:
        items.append(("power mean", _si(r.power_w_mean, "W")))
    if r.power_w_peak is not None:
        items.append(("power peak (one step)", _si(r.power_w_peak, "W")))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="v">{escape(v)}</div><div class="k">{escape(k)}</div></div>'
        for k, v in items) + "</div>"


def _summary_rows(result: Result) -> list[list]:
    r, m = result, result.meta
    rows = [["tokens", f"{r.tokens:,}"], ["cycles per token", f"{r.cycles_per_token:,.1f}"],
            ["time per token", _si(r.time_s_per_token, "s")], ["latency per token (mean)", _si(r.latency_s_per_token, "s")]]
    if r.latency_s_p50 is not None:
        rows += [[f"latency p{q}", _si(getattr(r, f"latency_s_p{q}"), "s")] for q in (50, 95, 99)]
    rows += [["tokens per second", f"{r.tokens_per_s:,.1f}"],
             ["energy per token", _si(r.energy_pj_per_token * 1e-12, "J")],
             ["  dynamic", _si(r.dynamic_energy_pj_per_token * 1e-12, "J")],
             ["  static", _si(r.static_energy_pj_per_token * 1e-12, "J")]]
    if r.power_w_mean is not None:
        rows.append(["power mean", _si(r.power_w_mean, "W")])
    if r.power_w_peak is not None:
        rows.append(["power peak (one timestep)", _si(r.power_w_peak, "W")])
    rows += [["synaptic ops per token", f"{r.synaptic_ops_per_token:,.1f}"],
             ["packets per token", f"{r.packets_per_token:,.1f}"],
             ["flit-hops per token", f"{r.flit_hops_per_token:,.1f}"]]
    u = r.core_utilization
    util = f"{u.get('min', 0):.3f} / {u.get('mean', 0):.3f} / {u.get('max', 0):.3f}"
    rows.append(["core utilization min / mean / max", util])
    if r.target == "chip":
        mapping = (f"{m.get('mapping_policy')}: {_v(m.get('cores_used'))}/{_v(m.get('cores_available'))} cores on "
                   f"{_v(m.get('routers_used'))} routers, multicast {m.get('multicast')}, {m.get('pipeline')}")
        rows.append(["mapping", mapping])
    for name, (low, high) in r.intervals.items():
        rows.append([f"95% CI {name}", f"[{low:,.4g}, {high:,.4g}]"])
    return rows


def _notes(result: Result) -> list[str]:
    r, m = result, result.meta
    notes = []
    if r.target == "chip" and r.packets_per_token > 0 and r.flit_hops_per_token == 0:
        notes.append("All traffic stays inside one router: no mesh hops, so the NoC's link and hop costs do not show. "
                     "--policy balanced --min-cores N spreads the network over more routers.")
    if m.get("engine") == "bound":
        notes.append("Engine bound: no packet replay; cycles, times, latency and static energy are lower bounds, "
                     "counts exact.")
    if m.get("sample_windows"):
        notes.append(f"Sampled: {m['sample_windows']} windows of {m.get('sample_window_tokens')} tokens; the arrays "
                     "and percentiles are those of the windows' steps and tokens.")
    if r.static_energy_pj_per_token == 0:
        notes.append("This target has no static power in its spec: its energy is the counted actions only.")
    if r.target == "chip" and r.power_w_peak is None and r.arrays:
        notes.append("No per-step energies in this result (re-costed, or an engine without per-step counts): the "
                     "power figure shows cycles per timestep.")
    return notes


def _provenance(result: Result) -> str:
    # the spec has its own table; None (e.g. a GPU column in a chip row of a mixed table) says nothing
    meta = {k: v for k, v in result.meta.items() if k != "arch_spec" and v is not None}
    rows = []
    for k, v in meta.items():
        if k == "sample_window_counts":
            v = f"{len(v)} windows of counts"
        text = json.dumps(v, default=float) if isinstance(v, (list, dict)) else _v(v)
        rows.append([k, text if len(text) <= 160 else text[:157] + "..."])
    out = "<h3>Trace and run (meta)</h3>" + _table(["key", "value"], rows, left=2)
    spec = result.meta.get("arch_spec")
    if isinstance(spec, dict):
        out += ("<h3>Architecture spec as run</h3>" + _table(["key", "value"], [[k, v] for k, v in _flat(spec)],
                                                             left=2))
    return out


def _flat(data: dict, prefix: str = ""):
    """``(dotted.key, value)`` of every leaf of a nested dict, in order."""
    for k, v in data.items():
        if isinstance(v, dict):
            yield from _flat(v, f"{prefix}{k}.")
        else:
            yield f"{prefix}{k}", "-" if v is None else v


def _section(result: Result, index: int) -> str:
    from neurosim.analysis import plot_core_load, plot_latency, plot_link_load, plot_power

    r = result
    model = r.meta.get("model")
    head = f"{r.trace} on {r.arch}"
    parts = [f'<h2 id="r{index}">{escape(head)} <span class="muted">({escape(r.target)}, {r.tokens:,} tokens'
             + (f", model {escape(str(model))} {escape(str(r.meta.get('hidden_sizes')))}" if model else "")
             + ")</span></h2>", _cards(r)]
    parts += [f'<div class="note">{escape(n)}</div>' for n in _notes(r)]
    parts.append("<h3>Summary</h3>" + _table(["figure", "value"], _summary_rows(r)))
    total = r.energy_pj_per_token or 1.0
    shown = sorted(((k, v) for k, v in r.energy_breakdown_pj_per_token.items() if v > 0), key=lambda kv: -kv[1])
    zero = [k for k, v in r.energy_breakdown_pj_per_token.items() if v <= 0]
    parts.append("<h3>Energy per token by component</h3><div class=grid>" + _figure(_png(_energy_bars, r), "nonzero "
                 "components; static in grey") + _table(["component", "pJ per token", "share"],
                 [[k, f"{v:,.1f}", f"{100 * v / total:.1f}%"] for k, v in shown]) + "</div>"
                 + (f'<p class="muted">zero: {escape(", ".join(zero))}</p>' if zero else ""))
    if r.target == "chip" and any(r.counts.get(k, 0) > 0 for k, _ in _PHASES):
        waits = [(k, r.counts.get(k, 0) / r.tokens) for k in ("link_wait_cycles", "core_wait_cycles") if k in r.counts]
        parts.append("<h3>Time per token by phase</h3>" + _figure(_png(_phase_bars, r), "a token's share of the "
                     "run's cycles, by phase of the timestep") + (_table(["wait", "cycles per token"],
                     [[k, f"{v:,.1f}"] for k, v in waits]) if waits else ""))
    if r.layers:
        lt = sum(row["energy_pj_per_token"] for row in r.layers) or 1.0
        parts.append("<h3>Per layer (per token)</h3>" + _table(
            ["layer", "units", "synops", "updates active", "received", "inactive", "update cycles", "energy pJ",
             "share"],
            [[row["layer"], f"{row['units']:,}", f"{row['synops_per_token']:,.1f}",
              f"{row['updates_active_per_token']:,.1f}", f"{row['updates_received_per_token']:,.1f}",
              f"{row['updates_inactive_per_token']:,.1f}", f"{row['update_cycles_per_token']:,.1f}",
              f"{row['energy_pj_per_token']:,.1f}", f"{100 * row['energy_pj_per_token'] / lt:.1f}%"]
             for row in r.layers]) + '<p class="muted">a layer\'s energy: its synapse, neuron-update and '
                                     "neuron-state energy; spikes, NoC, memory reads, barriers and static power are "
                                     "the chip's.</p>")
    parts.append("<h3>Memory traffic per token</h3>" + _table(["level", "bytes"], [
        [k, f"{v:,.1f}"] for k, v in r.memory_bytes_per_token.items()]))
    figures = []
    if "step_cycles" in r.arrays:
        figures.append(_figure(_png(plot_power, r), "power of every timestep over the run"))
    if "token_latency_cycles" in r.arrays:
        figures.append(_figure(_png(plot_latency, r), "token latency: first layer to last layer's update"))
    if "core_busy_cycles" in r.arrays and "mesh_x" in r.meta:
        figures.append(_figure(_png(plot_core_load, r), "busy cycles of each router's cores"))
        if "link_flits" in r.arrays:
            figures.append(_figure(_png(plot_link_load, r), "flits per token on each mesh link (both directions)"))
    if figures:
        parts.append("<h3>Inside the run</h3>" + "".join(figures))
    elif r.target == "chip":
        parts.append('<p class="muted">No per-run arrays in this result (sweep tables leave them out).</p>')
    parts.append(_provenance(r))
    return "\n".join(parts)


def _overview(results: list[Result]) -> str:
    rows = [[f"{i}", r.trace, r.arch, r.target, _g(r.energy_pj_per_token * 1e-6), _g(r.latency_s_per_token * 1e6),
             "-" if r.latency_s_p99 is None else _g(r.latency_s_p99 * 1e6), _g(r.tokens_per_s),
             "-" if r.power_w_mean is None else _g(r.power_w_mean)]
            for i, r in enumerate(results)]
    return "<h2>Overview</h2>" + _table(["#", "trace", "arch", "target", "energy uJ/token", "latency us (mean)",
                                         "latency us (p99)", "tokens/s", "power W (mean)"], rows, left=4)


def html_report(results: list[Result], title: str | None = None) -> str:
    """The whole page as text: an overview (several results), then a section per result."""
    if not results:
        raise ValueError("report: no results to write (an empty table, or no row with status ok)")
    from neurosim import __version__

    title = title or (f"neurosim report: {results[0].trace} on {results[0].arch}" if len(results) == 1
                      else f"neurosim report: {len(results)} results")
    body = [f"<h1>{escape(title)}</h1>", f'<p class="muted">neurosim {escape(__version__)}</p>']
    if len(results) > 1:
        body.append(_overview(results))
    body += [_section(r, i) for i, r in enumerate(results[:MAX_SECTIONS])]
    if len(results) > MAX_SECTIONS:
        body.append(f'<p class="muted">{len(results) - MAX_SECTIONS} more results in the overview only.</p>')
    return ("<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><title>" + escape(title) + "</title><style>"
            + _CSS + "</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")


def write_html(results: list[Result], path: str | Path, title: str | None = None) -> Path:
    """Write :func:`html_report` to ``path``; the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_report(results, title), encoding="utf-8")
    return path
