"""The command line: shipped names, fast start, help text, the one error path, the installed wheel."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from neurosim.cli import build_parser, main
from neurosim.data import arch_names, resolve_arch, resolve_trace, trace_names

ROOT = Path(__file__).parent.parent


def _actions(parser: argparse.ArgumentParser, name: str = "neurosim"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _actions(sub, f"{name} {sub_name}")
        elif action.dest != "help":
            yield name, action


def test_cli_start_imports_no_heavy_module():
    """Building the parser imports neither pandas, numba, numpy nor torch (so --help is fast)."""
    code = ("import sys, neurosim.cli; neurosim.cli.build_parser(); "
            "print([m for m in ('pandas', 'numba', 'numpy', 'torch') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_every_option_has_help_text():
    """Every option and argument of every subcommand says what it does."""
    missing = [f"{name} {action.option_strings or action.dest}" for name, action in _actions(build_parser())
               if not action.help]
    assert missing == []


def test_top_level_help_has_no_rest_markup(capsys):
    """neurosim --help is plain text: no ``literal`` or :role: markup from docstrings."""
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "``" not in text and ":func:" not in text and "run" in text and "list" in text


def test_shipped_names_resolve_and_a_path_wins(tmp_path, monkeypatch):
    """A bare name finds the shipped file; an existing file of that name in the current folder wins."""
    assert resolve_arch("loihi_like").name == "loihi_like.yaml" and resolve_arch("loihi_like").is_file()
    assert resolve_trace("ptb_egru90.npz").name == "ptb_egru90.npz"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "loihi_like").write_text("mine")
    assert resolve_arch("loihi_like") == Path("loihi_like")
    with pytest.raises(FileNotFoundError, match="shipped: .*loihi_like"):
        resolve_arch("loihi_lik")


def test_unknown_names_list_the_shipped_ones(capsys):
    """An unknown --arch or --trace is a one-line error listing the shipped names."""
    assert main(["run", "--arch", "no_such_chip", "--trace", "ptb_egru90", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(n in err for n in arch_names())
    assert main(["run", "--arch", "loihi_like", "--trace", "no_such_trace", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and all(n in err for n in trace_names())


def test_list_prints_each_shipped_file_once(capsys):
    """neurosim list: one line per shipped spec (with its kind) and per trace (with its source command)."""
    assert main(["list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in arch_names() + trace_names():
        assert sum(line.split()[0] == name for line in lines if line.startswith("  ")) == 1
    assert any(line.split()[:2] == ["gpu_h100", "gpu"] for line in lines)
    assert any(line.split()[0] == "ptb_lstm0" and "source: neurosim trace export" in line for line in lines)


def test_run_by_shipped_names_from_another_folder(tmp_path, monkeypatch, capsys):
    """--arch loihi_like --trace ptb_egru90 works from any folder and equals the run by paths."""
    by_path = ["run", "--arch", str(ROOT / "arch_specs/loihi_like.yaml"), "--trace",
               str(ROOT / "traces/ptb_egru90.npz"), "--tokens", "16", "--format", "json", "--quiet", "--threads", "1"]
    assert main(by_path) == 0
    expected = json.loads(capsys.readouterr().out)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--arch", "loihi_like", "--trace", "ptb_egru90", "--tokens", "16", "--format", "json",
                 "--quiet", "--threads", "1"]) == 0
    got = json.loads(capsys.readouterr().out)
    for report in (expected, got):
        report["meta"].pop("build_s"), report["meta"].pop("simulate_s")
    assert got == expected


def test_backend_is_a_deprecated_alias_of_engine(tiny_arch, small_trace):
    """run(backend=...) warns and gives the same result as run(engine=...); a bad engine names the choices."""
    import neurosim
    from neurosim.engine import EngineError

    with pytest.warns(DeprecationWarning, match="engine"):
        old = neurosim.run(tiny_arch, small_trace, backend="bound")
    new = neurosim.run(tiny_arch, small_trace, engine="bound")
    assert (old.counts, old.cycles_per_token, old.meta["engine"]) == (new.counts, new.cycles_per_token, "bound")
    with pytest.raises(EngineError, match=r"engine: got 'fast'; allowed: \['numba', 'simpy', 'bound'\]"):
        neurosim.run(tiny_arch, small_trace, engine="fast")


def test_version_is_the_installed_distribution_version(capsys):
    """neurosim --version prints importlib.metadata's version (pyproject.toml is the one source)."""
    from importlib.metadata import version

    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"neurosim {version('neurosim')}"


@pytest.mark.slow
def test_wheel_installed_outside_the_repo_runs_by_shipped_names(tmp_path):
    """The built wheel holds the specs and traces: installed in a fresh venv it runs the main command by name."""
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, check=False)
    if build.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {build.stderr.strip()[-200:]}")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    py = venv / "bin" / "python"
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # the wheel itself, unpacked as pip would; its dependencies from this interpreter's environment
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                    str(next(wheels.glob("neurosim-*.whl")))], check=True)
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp_path / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([py, "-m", "neurosim", "run", "--arch", "loihi_like", "--trace", "ptb_egru90",
                          "--tokens", "16", "--quiet"], capture_output=True, text=True, cwd=work, env=env, check=False)
    assert out.returncode == 0, out.stderr
    assert "trace ptb_egru90 on loihi_like" in out.stdout
    where = subprocess.run([py, "-c", "import neurosim; print(neurosim.__file__)"], capture_output=True, text=True,
                           cwd=work, env=env, check=True).stdout
    assert str(site) in where
