"""The README's commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _readme_commands():
    return re.findall(r"```bash\n(.+?)\n```", (ROOT / "README.md").read_text())


def test_ci_runs_the_readme_test_command():
    """.ci/run executes the README's test command verbatim (modulo pip's -q)."""
    test_cmd = next(c for c in _readme_commands() if "pytest" in c)
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_readme_main_command_uses_shipped_files():
    main_cmd = next(c for c in _readme_commands() if "neurosim run" in c)
    arch = re.search(r"--arch (\S+)", main_cmd).group(1)
    trace = re.search(r"--trace (\S+)", main_cmd).group(1)
    assert (ROOT / arch).is_file()
    assert (ROOT / trace).is_file(), f"{trace} must be shipped"
