"""benchmarks/validate_published.py: the validation script's contract (not its figures)."""

import importlib.util
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("validate_published", ROOT / "benchmarks" / "validate_published.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


def test_last_line_is_json_with_both_ratio_pairs_per_case(capsys):
    """The last line holds predicted and published energy and time ratios for every case."""
    vp = _script()
    assert vp.main(["--tokens", "4"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for case in ("nazeer", "kws"):
        for q in ("energy_ratio", "time_ratio"):
            assert out[f"{case}_{q}_predicted"] > 0
            assert f"{case}_{q}_published" in out
    assert abs(out["nazeer_energy_ratio_published"] - 1.1935 / 0.0653) < 1e-3
    assert abs(out["nazeer_time_ratio_published"] - 170.25 / 19.9) < 1e-3


def test_synthetic_case_trace_matches_the_published_network():
    """The rebuilt trace has the published sizes, weight sparsity and, for feed-forward cases, no recurrence."""
    vp = _script()
    cases = {c.key: c for c in vp.CASES}
    t = vp.build_trace(cases["nazeer"], tokens=8)
    assert t.hidden_sizes == [1350, 1350, 750] and t.input_size == 750 and t.gates == 3
    assert abs(t.measured_weight_sparsity() - 0.95) < 1e-3
    k = vp.build_trace(cases["kws"], tokens=8)
    assert k.hidden_sizes == [256, 256, 29] and k.input_size == 390
    assert all(not layer.w_rec_mask.any() for layer in k.layers)


def test_nazeer_runs_the_published_gpu_software_and_a_fitting_timer():
    """The Nazeer case runs the authors' GPU configuration (fp32, embedding and decoder in the forward pass,
    70-token calls) and a SpiNNaker2 timer of whole milliseconds that no simulated step overruns."""
    vp = _script()
    case = {c.key: c for c in vp.CASES}["nazeer"]
    r = vp.run_case(case, 4, "numba")
    gpu, chip = r["gpu"].meta, r["chip"]
    assert gpu["precision"] == "fp32" and gpu["included"] == ["recurrent", "embedding", "readout"]
    assert gpu["sequence_tokens"] == 70
    period = chip.meta["timer_period_s"]
    longest = chip.arrays["step_cycles"].max() * chip.meta["cycle_s"]
    assert chip.counts["timer_overruns"] == 0 and abs(period * 1e3 - round(period * 1e3)) < 1e-9
    assert period - 1e-3 < longest <= period
