"""benchmarks/noc_vs_booksim.py: the neurosim half of the NoC comparison (BookSim2 itself is not needed here)."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent


def _script():
    spec = importlib.util.spec_from_file_location("noc_vs_booksim", ROOT / "benchmarks" / "noc_vs_booksim.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize("flits", [1, 4])
def test_bitcomp_at_zero_load_is_the_closed_form(flits):
    """bitcomp sends node (x, y) to (7 - x, 7 - y), d = |7 - 2x| + |7 - 2y| hops. At a load where no packet
    waits, a wormhole packet takes injection (1 + local) + d (1 + hop) + ejection (F + local) cycles, a
    store-and-forward one F instead of 1 on every link; the mean over the packets the harness drew."""
    nb = _script()
    hop, local, cycles, rate = 3, 2, 2000, 0.0008
    sends = np.random.default_rng(0).random((nb.NODES, cycles)) < rate / flits  # the harness's draws (seed 0)
    node = np.nonzero(sends)[0]
    d = np.abs(7 - 2 * (node % 8)) + np.abs(7 - 2 * (node // 8))
    worm = nb.neurosim_latency("bitcomp", flits, rate, hop, local, "wormhole", cycles=cycles, steps=1)
    saf = nb.neurosim_latency("bitcomp", flits, rate, hop, local, "store_and_forward", cycles=cycles, steps=1)
    assert node.size > 10
    assert worm == pytest.approx(np.mean((1 + local) + d * (1 + hop) + (flits + local)), rel=1e-12)
    assert saf == pytest.approx(np.mean((flits + local) + d * (flits + hop) + (flits + local)), rel=1e-12)


def test_latency_rises_with_load_and_the_fit_inverts_the_closed_form():
    """More load never shortens the mean latency; the fit returns the latencies that made the zero-load figures."""
    nb = _script()
    low = nb.neurosim_latency("uniform", 4, 0.05, 3, 2, cycles=1000, steps=1)
    high = nb.neurosim_latency("uniform", 4, 0.35, 3, 2, cycles=1000, steps=1)
    assert high > low
    # zero-load figures of 1-flit packets with hop 3 and local 2: 6 + 4 d at d = 5.25 and 8
    assert nb.fit_link_latencies({"uniform": 6 + 4 * 5.25, "bitcomp": 6 + 4 * 8.0}) == (3, 2)


@pytest.mark.parametrize("flag", [["--traffic", "tornado"], ["--flits", "3"], ["--rates", "0,0.1"], ["--rates", "x"]])
def test_bad_flags_are_refused_before_booksim_is_looked_for(flag, capsys):
    """An unknown pattern, a flit count that does not divide the 32-bit packet, a rate outside (0, 1], a non-number:
    exit 2 with a message naming the flag."""
    nb = _script()
    with pytest.raises(SystemExit) as exc:
        nb.main(flag + ["--booksim", "/nonexistent"])
    assert exc.value.code == 2
    assert flag[0] in capsys.readouterr().err  # the message names the flag
