"""neurosim.compare on GPU specs: the table, the plot and the CLI entry."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from matplotlib.image import imread

from neurosim.cli import main
from neurosim.compare import compare, energy_components, plot_compare, plot_energy
from neurosim.trace import save_trace, synthetic

SPECS = Path(__file__).resolve().parents[1] / "arch_specs"
GPUS = [str(SPECS / "gpu_a100.yaml"), str(SPECS / "gpu_h100.yaml")]


@pytest.fixture(scope="module")
def traces():
    return [
        synthetic([32, 32], input_size=16, activity=0.2, weight_sparsity=0.8, tokens=8, seed=1),
        synthetic([48], input_size=16, activity=0.1, weight_sparsity=0.9, tokens=8, gates=4, seed=2),
    ]


@pytest.fixture(scope="module")
def table(traces):
    return compare(traces, GPUS, [1, 64])


def test_one_row_per_trace_arch_batch(table, traces):
    """compare() returns one row per (trace, arch, batch) in input order."""
    assert len(table) == 2 * 2 * 2
    keys = list(zip(table["trace"], table["arch"], table["batch"]))
    assert len(set(keys)) == len(keys)
    assert list(dict.fromkeys(table["trace"])) == [t.name for t in traces]
    assert set(table["batch"]) == {1, 64}
    assert (table["target"] == "gpu").all()


def test_table_columns_are_consistent(table):
    """Energy components add up to the total; throughput and bytes are positive."""
    comps = energy_components(table)
    assert set(comps) == {"compute", "hbm", "sram", "static"}
    total = table[[f"energy_pj.{c}" for c in comps]].sum(axis=1)
    assert (abs(total - table["energy_pj_per_token"]) <= 1e-9 * table["energy_pj_per_token"]).all()
    assert (table["tokens_per_s"] > 0).all() and (table["memory_bytes_per_token"] > 0).all()
    assert "perplexity" in table.columns
    b1 = table[table["batch"] == 1].set_index(["trace", "arch"])["energy_pj_per_token"]
    b64 = table[table["batch"] == 64].set_index(["trace", "arch"])["energy_pj_per_token"]
    assert (b64 < b1).all()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_written(table, tmp_path, suffix):
    """plot_energy writes a non-empty PNG or SVG."""
    path = plot_energy(table, tmp_path / f"energy{suffix}")
    data = path.read_bytes()
    assert len(data) > 1000
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


def test_plot_bad_suffix(table, tmp_path):
    """A plot path with another suffix fails naming the allowed ones."""
    with pytest.raises(ValueError, match=r"plot: got suffix '\.pdf'"):
        plot_energy(table, tmp_path / "energy.pdf")


def test_tokens_limits_steps(traces):
    """tokens= keeps the first steps of each trace."""
    df = compare(traces[:1], GPUS[:1], [1], tokens=3)
    assert df["tokens"].tolist() == [3]


def test_gpu_options_pass_through(traces):
    """gpu_options reach simulate_gpu."""
    df = compare(traces[:1], GPUS[:1], [1], gpu_options={"weight_format": "csr", "kernel": "gather"})
    assert df.loc[0, "weight_format"] == "csr" and df.loc[0, "kernel"] == "gather"


def test_bad_batches(traces):
    """Batches must be integers >= 1."""
    with pytest.raises(ValueError, match="batches: got 0"):
        compare(traces, GPUS, [1, 0])


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_run_compare_cli(traces, tmp_path, capsys, suffix):
    """The CLI entry reads trace files, prints the table and writes the table and the plot."""
    paths = [str(save_trace(t, tmp_path / f"{t.name}.npz")) for t in traces]
    out, plot = tmp_path / f"cmp{suffix}", tmp_path / "cmp.png"
    argv = ["--trace", paths[0], "--trace", paths[1], "--arch", GPUS[0], "--arch", GPUS[1], "--batch", "1,64"]
    assert main(["compare", *argv, "--out", str(out), "--plot", str(plot), "--tokens", "4", "--quiet"]) == 0
    df = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
    assert len(df) == 8 and set(df["tokens"]) == {4}
    assert imread(plot).shape[:2] == (1200, 2000)  # 10 x 6 inches at 200 dpi, whatever the bars
    printed = capsys.readouterr().out
    assert "energy_uj_per_token" in printed and "gpu_a100" in printed  # GPUs named by their spec files
    assert "cycles_per_token" in printed and "static_share" in printed


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--batch", "1,x"], "--batch: got 'x'"),
        (["--out", "table.xlsx"], "--out: got"),
        (["--precision", "fp64"], "precision: got 'fp64'"),
    ],
)
def test_run_compare_errors(traces, tmp_path, capsys, extra, needle):
    """Bad arguments return 2 with a one-line error on stderr."""
    path = str(save_trace(traces[0], tmp_path / "t.npz"))
    assert main(["compare", "--trace", path, "--arch", GPUS[0], "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_mixed_event_chip_and_gpu(traces, tmp_path):
    """An event chip and a GPU in one table: the chip gets one batch-1 row, the GPU one row per batch."""
    import yaml
    from conftest import TINY_ARCH

    chip = tmp_path / "tiny.yaml"
    chip.write_text(yaml.safe_dump({**TINY_ARCH, "cores": {**TINY_ARCH["cores"], "neurons_per_core": 256,
                                                            "synapse_memory_bytes": 1 << 16}}))
    df = compare(traces[:1], [str(chip), GPUS[0]], [1, 64])
    assert sorted(zip(df["target"], df["batch"])) == [("chip", 1), ("gpu", 1), ("gpu", 64)]
    event = df[df["target"] == "chip"].iloc[0]
    assert event["energy_pj_per_token"] > 0 and event["tokens_per_s"] > 0
    assert imread(plot_energy(df, tmp_path / "mixed.png")).shape[:2] == (1200, 2000)
    assert df["spec"].tolist()[0] == "tiny" and (df["static_share"] >= 0).all()


def test_compare_figure_shows_only_nonzero_components_and_flags_missing_static(traces, tmp_path):
    """The energy panel's legend lists only nonzero components; a target without static power says so."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import yaml
    from conftest import TINY_ARCH

    chip = tmp_path / "nostatic.yaml"
    chip.write_text(yaml.safe_dump({**TINY_ARCH, "static_power_w": 0.0, "cores": {
        **TINY_ARCH["cores"], "neurons_per_core": 256, "synapse_memory_bytes": 1 << 16}}))
    df = compare(traces[:1], [str(chip), GPUS[0]], [1])
    figures = []
    real_close = plt.close
    plt.close = lambda fig=None: figures.append(fig)  # keep the figure to read its artists
    try:
        plot_compare(df, tmp_path / "c.png")
    finally:
        plt.close = real_close
    fig = figures[0]
    energy_ax = fig.axes[0]
    legend = [t.get_text() for t in energy_ax.get_legend().get_texts()]
    nonzero = [c for c in energy_components(df) if c != "static" and (df[f"energy_pj.{c}"] > 0).any()]
    assert legend == nonzero + ["static (power x time)"]
    assert any("no static" in t.get_text() for t in energy_ax.texts)
    assert any("have none in their spec" in t.get_text() for t in fig.texts)
    assert all(ax.get_yscale() == "linear" for ax in fig.axes)
    real_close(fig)
