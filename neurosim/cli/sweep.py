"""``neurosim sweep``: run every point of a sweep spec, resumable, on local processes or a Dask cluster."""

from __future__ import annotations

import argparse
import os
import sys

MAX_WORKERS = 256  # local processes; a larger cluster is a --scheduler's


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", help="sweep spec YAML (see docs/sweeps.md)")
    parser.add_argument("--out", help="results parquet (default: SPEC's name with .parquet, in the current folder)")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="local worker processes (1: in this process); default %(default)s")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on an existing Dask distributed cluster (needs the 'dist' extra)")
    parser.add_argument("--retry-errors", action="store_true", help="run again points whose stored row is an error")
    parser.add_argument("--dry-run", action="store_true", help="check the spec and print the plan, run nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.cli.output import check_output

    out = Path(args.out or Path(args.spec).with_suffix(".parquet").name)
    if not args.dry_run:
        check_output(out)
    if not 1 <= args.workers <= MAX_WORKERS:
        raise ValueError(f"--workers: got {args.workers}; allowed: 1 to {MAX_WORKERS} local processes")

    from neurosim.sweep import STATUS_OK, groups, load_sweep, sweep

    sw = load_sweep(args.spec)
    n_sims = len(groups(sw.points))
    if args.dry_run:
        print(f"{args.spec}: valid; {len(sw.points)} points in {n_sims} simulations "
              f"({len(sw.points) - n_sims} re-costed), axes {sw.axis_keys}")
        return 0
    df = sweep(sw, out, workers=args.workers, scheduler=args.scheduler, retry_errors=args.retry_errors,
               progress=not args.quiet)
    mine = df[df["point_id"].isin({p.point_id for p in sw.points})]
    n_err = int((mine["status"] != STATUS_OK).sum())
    print(f"wrote {out}: {len(mine)} points, {len(mine) - n_err} ok, {n_err} errors", file=sys.stderr)
    if n_err:
        first = mine.loc[mine["status"] != STATUS_OK, "error"].iloc[0]
        print(f"first error: {first}", file=sys.stderr)
    return 0
