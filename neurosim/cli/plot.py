"""``neurosim plot``: scatter two columns of sweep results, optionally with the Pareto front."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="results parquet written by neurosim sweep")
    parser.add_argument("--x", required=True, help="column on the x axis, e.g. cycles_per_token")
    parser.add_argument("--y", required=True, help="column on the y axis, e.g. energy_pj_per_token")
    parser.add_argument("--hue", help="column that colours the points")
    parser.add_argument("--out", help="image file (default: RESULTS_X_vs_Y.png)")
    parser.add_argument("--pareto", action="store_true", help="draw the Pareto front (both minimised) and print it")
    parser.add_argument("--maximize-x", action="store_true", help="Pareto front maximises x")
    parser.add_argument("--maximize-y", action="store_true", help="Pareto front maximises y")
    parser.add_argument("--logx", action="store_true", help="logarithmic x axis")
    parser.add_argument("--logy", action="store_true", help="logarithmic y axis")
    parser.add_argument("--query", help="pandas query selecting rows, e.g. \"arch == 'loihi_like'\"")


def select(df, query: str):
    """The rows of ``df`` that the pandas ``query`` selects; a bad query is a one-line ValueError naming ``--query``."""
    from neurosim.spec import short_text

    try:
        out = df.query(query)
    except Exception as exc:  # noqa: BLE001 -- pandas raises SyntaxError, NameError, KeyError, TypeError, ...
        problem = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, SyntaxError):
            problem = f"syntax error ({exc.msg})"
        raise ValueError(f"--query {short_text(repr(query), 80)}: {short_text(problem, 120)}; allowed: a pandas "
                         "query over the result columns, e.g. \"arch == 'loihi_like' and cycles_per_token < 1e5\"") from None
    if not hasattr(out, "columns"):
        raise ValueError(f"--query {short_text(repr(query), 80)}: does not select rows; allowed: a condition, "
                         "e.g. \"cycles_per_token < 1e5\"")
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.cli.output import check_output

    out = args.out or f"{Path(args.results).with_suffix('')}_{args.x}_vs_{args.y}.png"
    check_output(out)

    from neurosim.analysis import pareto_front, plot
    from neurosim.spec import SpecError
    from neurosim.sweep import STATUS_OK, read_results

    df = read_results(args.results)
    if df.empty:
        raise SpecError(f"{args.results}: no results (no such file, or empty)")
    if "status" in df:
        df = df[df["status"] == STATUS_OK]
    if args.query:
        df = select(df, args.query)
    for flag, column in (("--x", args.x), ("--y", args.y), ("--hue", args.hue)):
        if column is not None and column not in df.columns:
            import difflib

            close = difflib.get_close_matches(column, [str(c) for c in df.columns], n=3)
            hint = f"did you mean {', '.join(close)}?" if close else f"e.g. {', '.join(map(str, df.columns[:3]))}"
            raise SpecError(f"{flag} {column!r}: not a column of {args.results} ({len(df.columns)} columns; {hint})")
    minimize = (not args.maximize_x, not args.maximize_y)
    path = plot(df, args.x, args.y, hue=args.hue, out=out, pareto=args.pareto, logx=args.logx, logy=args.logy,
                minimize=minimize)
    print(f"wrote {path}", file=sys.stderr)
    if args.pareto:
        front = pareto_front(df, args.x, args.y, minimize=minimize)
        cols = [c for c in ("point_id", "arch", "trace", args.hue, args.x, args.y) if c and c in front]
        print(front[list(dict.fromkeys(cols))].to_string(index=False))
    return 0
