"""``neurosim plot-run``: the figures of one run (power over time, latency distribution, core and link load)."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("result", help="a run's report: .json (neurosim run --out RUN.json) or .parquet")
    parser.add_argument("--out", default=None, metavar="DIR", help="folder for the PNGs (default: RESULT_plots/)")
    parser.add_argument("--row", type=int, default=0, help="which result of a file holding several (default 0)")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.analysis import plot_run
    from neurosim.report import read

    results = read(args.result)
    if not 0 <= args.row < len(results):
        raise ValueError(f"--row: got {args.row}; allowed: 0..{len(results) - 1} ({args.result} holds "
                         f"{len(results)} results)")
    out = Path(args.out) if args.out else Path(args.result).with_name(Path(args.result).stem + "_plots")
    for path in plot_run(results[args.row], out):
        print(f"wrote {path}", file=sys.stderr)
    return 0
