"""How fast the ``neurosim`` command answers ``--help`` (not a unit test).

Times ``neurosim --help`` and every subcommand's ``--help`` in fresh processes
(best of ``--repeat``), and, for reference, ``python -c pass`` with the same
interpreter. The CLI imports no heavy module (pandas, numba, numpy, torch) at
start; ``tests/test_cli.py`` checks that, this script measures what it gives.

    python benchmarks/bench_cli.py [--repeat 5]

The last line is one JSON object: seconds per command.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

COMMANDS = ([], ["run"], ["validate"], ["list"], ["trace"], ["trace", "info"], ["trace", "synthetic"],
            ["trace", "export"], ["train"], ["compare"], ["sweep"], ["plot"])


def best_of(argv: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per command; the best is reported")
    args = parser.parse_args(argv)
    figures = {"python -c pass": best_of([sys.executable, "-c", "pass"], args.repeat)}
    for words in COMMANDS:
        name = " ".join(["neurosim", *words, "--help"])
        figures[name] = best_of([sys.executable, "-m", "neurosim", *words, "--help"], args.repeat)
    for name, seconds in figures.items():
        print(f"{name:<36} {seconds:.3f} s")
    print(json.dumps({k: round(v, 4) for k, v in figures.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
