"""The README's commands are the ones CI runs, and its example report is what they print."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from neurosim.cli import main
from neurosim.data import resolve_arch, resolve_trace

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text()


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", README)


def _main_command() -> list[str]:
    """The arguments of the README's main ``neurosim run`` command."""
    cmd = next(c for c in _readme_commands() if "neurosim run" in c)
    return shlex.split(cmd.split("&& neurosim ")[-1])


def _section_blocks(title: str) -> list[str]:
    section = README.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```\n(.*?)```", section, re.DOTALL)


def test_ci_runs_the_readme_test_command():
    """.ci/run executes the README's test command verbatim (modulo pip's -q)."""
    test_cmd = next(c for c in _readme_commands() if "pytest" in c)
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_readme_main_command_uses_shipped_files():
    """The main command names a shipped spec and a shipped trace."""
    argv = _main_command()
    assert resolve_arch(argv[argv.index("--arch") + 1]).resolve().is_relative_to(ROOT / "neurosim" / "data")
    assert resolve_trace(argv[argv.index("--trace") + 1]).resolve().is_relative_to(ROOT / "neurosim" / "data")


def test_readme_example_report_is_what_the_main_command_prints(capsys):
    """The README's example report is, line for line, the output of its main command."""
    assert main(_main_command() + ["--quiet", "--threads", "1"]) == 0
    assert capsys.readouterr().out == _section_blocks("Example report")[0]


def test_readme_balanced_mapping_figures(capsys):
    """The README's spread mapping (--policy balanced --min-cores 32) prints the lines it quotes."""
    assert main(_main_command() + ["--policy", "balanced", "--min-cores", "32", "--quiet", "--threads", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    quoted = _section_blocks("Example report")[1].splitlines()
    assert quoted and all(line in out for line in quoted)
