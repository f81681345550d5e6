"""Inside a run: per-step, per-token, per-layer, per-core and per-link figures of a Result, their files and plots."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import neurosim
from neurosim.arch import load_arch
from neurosim.cli import main
from neurosim.costing import recost
from neurosim.costing.chip import token_latency_cycles
from neurosim.report import format_table, read, write
from neurosim.result import ARRAY_DTYPES, ResultError
from neurosim.trace import synthetic


@pytest.fixture(scope="module")
def trace():
    return synthetic([64, 48], input_size=16, activity=0.2, weight_sparsity=0.8, tokens=24, seed=3)


@pytest.fixture(scope="module")
def spread(trace):
    """A run spread over several routers, so that mesh links carry flits."""
    return neurosim.run("loihi_like", trace, policy="balanced", min_cores=12)


def test_arrays_are_compact_and_consistent(spread, trace):
    """The arrays have their dtypes; steps add up to the run's cycles and energy; one latency per token."""
    a = spread.arrays
    assert set(a) == set(ARRAY_DTYPES)
    assert all(a[k].dtype == ARRAY_DTYPES[k] for k in a)
    assert a["step_cycles"].sum() == spread.counts["total_cycles"]
    assert a["step_energy_pj"].astype(np.float64).sum() == pytest.approx(spread.energy_pj_per_token * spread.tokens,
                                                                          rel=1e-5)
    assert a["token_latency_cycles"].size == trace.n_tokens
    assert a["token_latency_cycles"].mean() * spread.meta["cycle_s"] == pytest.approx(spread.latency_s_per_token)
    assert a["core_busy_cycles"].sum() == spread.counts["core_busy_cycles"]
    n_cores = a["core_busy_cycles"].size
    mesh = a["link_flits"][2 * n_cores:]
    assert mesh.sum() > 0 and a["link_flits"].size == 2 * n_cores + 4 * spread.meta["mesh_x"] * spread.meta["mesh_y"]


def test_percentiles_and_power(spread):
    """p50 <= p95 <= p99 within the token latencies; peak power >= mean power > 0."""
    lat = spread.arrays["token_latency_cycles"] * spread.meta["cycle_s"]
    assert lat.min() <= spread.latency_s_p50 <= spread.latency_s_p95 <= spread.latency_s_p99 <= lat.max()
    assert spread.power_w_peak >= spread.power_w_mean > 0
    assert spread.power_w_mean == pytest.approx(spread.energy_pj_per_token * 1e-12 / spread.time_s_per_token)


def test_layers_add_up(spread):
    """The per-layer synops add up to the run's; a layer's energy is at most the chip's."""
    assert [row["layer"] for row in spread.layers] == ["layer 0", "layer 1"]
    assert sum(row["synops_per_token"] for row in spread.layers) == pytest.approx(spread.synaptic_ops_per_token)
    assert sum(row["energy_pj_per_token"] for row in spread.layers) <= spread.energy_pj_per_token


def test_token_latency_sequential_and_pipelined():
    """A pipelined token spans L consecutive steps; a sequential one its own L steps."""
    c = np.array([3, 1, 4, 1, 5, 9])
    assert token_latency_cycles(c, 3, True).tolist() == [8, 6, 10, 15]
    assert token_latency_cycles(c, 3, False).tolist() == [8, 15]


def test_sampled_run_keeps_window_arrays(trace):
    """A sampled run concatenates its windows' steps; its percentiles come from its windows' tokens."""
    r = neurosim.run("loihi_like", trace, sample=2, window=8)
    assert r.arrays["step_cycles"].size == 16 and r.latency_s_p99 is not None
    assert r.arrays["step_cycles"].sum() == r.counts["total_cycles"]


def test_json_and_parquet_round_trip(spread, tmp_path):
    """JSON and Parquet hold the arrays and read back into the same Result; CSV stays one flat row without them."""
    for name in ("run.json", "run.parquet"):
        back = read(write([spread], tmp_path / name))[0]
        assert back == spread
        for k, v in spread.arrays.items():
            np.testing.assert_array_equal(back.arrays[k], v)
            assert back.arrays[k].dtype == v.dtype
    csv = pd.read_csv(write([spread], tmp_path / "run.csv"))
    assert len(csv) == 1 and not [c for c in csv.columns if c.startswith("arrays.")]
    assert {"latency_s_p99", "power_w_peak", "layers"} <= set(csv.columns)


def test_guard_checks_arrays(spread):
    """A NaN or a negative value in an array is refused, naming the array and the index."""
    bad = spread.arrays["step_energy_pj"].copy()
    bad[2] = np.nan
    with pytest.raises(ResultError, match=r"arrays.step_energy_pj\[2\]"):
        replace(spread, arrays={**spread.arrays, "step_energy_pj": bad})
    with pytest.raises(ResultError, match=r"arrays.link_flits\[0\]"):
        replace(spread, arrays={**spread.arrays, "link_flits": -spread.arrays["link_flits"] - 1})


def test_recost_drops_what_it_cannot_reprice(spread):
    """Re-costing reprices the layers and mean power; per-step energies and peak power need the steps' counts."""
    arch = load_arch("loihi_like", ["energy_pj.synop=1.0"])
    r = recost(spread, arch)
    assert "step_energy_pj" not in r.arrays and r.power_w_peak is None
    assert r.power_w_mean < spread.power_w_mean
    assert r.layers[0]["energy_pj_per_token"] < spread.layers[0]["energy_pj_per_token"]
    assert r.meta["arch_spec"]["energy_pj"]["synop"] == 1.0


def test_table_report_shows_the_inside(spread):
    """The table report gives the latency percentiles, mean and peak power, and the per-layer table."""
    text = format_table(spread)
    assert "p50 / p95 / p99" in text and "power mean / peak" in text and "per layer, per token" in text


def test_report_flags_a_link_loaded_beyond_the_booksim_check():
    """Every unit of a dense trace sends at once; with cheap synapse work the injection link sets the spike phase and
    carries ~1 flit per cycle, above the load up to which the links were checked against BookSim2: the report says so.
    With the spec's synapse cost the receive side sets the phase, the link idles and the report says nothing."""
    from neurosim.result import LINK_LOAD_CHECKED

    t = synthetic([64], input_size=256, activity=1.0, weight_sparsity=0.0, tokens=4, gates=1)
    busy = neurosim.run("loihi_like", t, overrides=["cores.synops_per_cycle=1000"], readout="none")
    calm = neurosim.run("loihi_like", t, readout="none")
    assert busy.busiest_link_flits_per_cycle > LINK_LOAD_CHECKED > calm.busiest_link_flits_per_cycle > 0
    assert busy.busiest_link_flits_per_cycle <= 1.0  # a link moves at most one flit per cycle
    assert "matches BookSim2" in format_table(busy) and "BookSim2" not in format_table(calm)
    assert neurosim.run("gpu_a100", t).busiest_link_flits_per_cycle is None


def test_gpu_result_has_percentiles_and_mean_power(trace):
    """A GPU run reports its step-time percentiles and mean power; it has no arrays."""
    r = neurosim.run("gpu_a100", trace)
    assert r.latency_s_p50 <= r.latency_s_p99 and r.power_w_mean > 0 and r.arrays == {}


def test_plot_run_and_html_report(spread, tmp_path, capsys):
    """plot-run writes the four figures; report --html one page with every image inline and no fetch."""
    run_json = write([spread], tmp_path / "run.json")
    assert main(["plot-run", str(run_json), "--out", str(tmp_path / "plots")]) == 0
    assert sorted(p.name for p in (tmp_path / "plots").glob("*.png")) == ["core_load.png", "latency.png",
                                                                          "link_load.png", "power.png"]
    assert main(["report", str(run_json), "--html", str(tmp_path / "r.html")]) == 0
    page = (tmp_path / "r.html").read_text()
    assert page.count('src="data:image/png;base64,') == 6  # energy, phases, power, latency, core, link
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "Per layer" in page and "Architecture spec as run" in page and "latency p99" in page


def test_html_report_of_a_results_table(spread, trace, tmp_path):
    """A table of several results gives an overview and a section each; rows without arrays have no figures."""
    gpu = neurosim.run("gpu_h100", trace)
    table = write([spread, gpu], tmp_path / "t.parquet")
    assert main(["report", str(table), "--html", str(tmp_path / "t.html")]) == 0
    page = (tmp_path / "t.html").read_text()
    assert "Overview" in page and page.count("<h2 id=") == 2


def test_report_refuses_other_files(tmp_path):
    """report reads .json and .parquet only, and says so."""
    (tmp_path / "x.csv").write_text("a\n1\n")
    assert main(["report", str(tmp_path / "x.csv"), "--html", str(tmp_path / "x.html")]) == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_html_report_renders_in_a_headless_browser(spread, tmp_path):
    """Chromium renders the page: the screenshot is a large image with the plots' colours, not a blank page."""
    page = tmp_path / "r.html"
    assert main(["report", str(write([spread], tmp_path / "run.json")), "--html", str(page)]) == 0
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}", f"--screenshot={shot}",
                    "--window-size=1400,2400", page.resolve().as_uri()], check=True, capture_output=True, timeout=180)
    from matplotlib.image import imread

    img = imread(shot)
    assert img.shape[:2] == (2400, 1400)
    rgb = img[..., :3]
    blue = (rgb[..., 2] > 0.6) & (rgb[..., 0] < 0.3)  # the energy bars (matplotlib C0)
    assert blue.sum() > 2000 and rgb.std() > 0.05


def test_a_timer_costs_static_energy_over_its_idle_time_and_is_reported(trace):
    """On a timer-driven chip the static energy covers whole periods, the dynamic energy is unchanged, and the
    table says how much of the time waited for the tick and how many steps overran."""
    free = neurosim.run("spinnaker2_like", trace, readout="none")
    longest_s = free.arrays["step_cycles"].max() * free.meta["cycle_s"]
    timed = neurosim.run("spinnaker2_like", trace, readout="none", overrides=[f"barrier.timer_period_s={2 * longest_s}"])
    steps = timed.arrays["step_cycles"].size
    period = round(2 * longest_s / free.meta["cycle_s"])
    assert timed.counts["total_cycles"] == steps * period and timed.counts["timer_overruns"] == 0
    arch = load_arch("spinnaker2_like")
    want_static_pj = arch.static_power_w * steps * period * arch.cycle_s * 1e12 / timed.tokens
    assert timed.static_energy_pj_per_token == pytest.approx(want_static_pj, rel=1e-12)
    assert timed.dynamic_energy_pj_per_token == pytest.approx(free.dynamic_energy_pj_per_token, rel=1e-12)
    assert "timer-driven timesteps" in format_table(timed) and "overran" in format_table(timed)
    assert "timer-driven" not in format_table(free)
    short = neurosim.run("spinnaker2_like", trace, readout="none", overrides=[f"barrier.timer_period_s={longest_s / 4}"])
    assert short.counts["timer_overruns"] > 0 and "would arrive late" in format_table(short)
