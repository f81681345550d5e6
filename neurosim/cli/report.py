"""``neurosim report``: a run's report (or a results table's) as one self-contained HTML page."""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", help="a run's report (.json or .parquet from neurosim run --out) or a sweep's "
                                        "results .parquet")
    parser.add_argument("--html", required=True, metavar="FILE", help="the page to write (.html)")
    parser.add_argument("--title", default=None, help="the page's title")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.report import read
    from neurosim.report_html import write_html

    if Path(args.html).suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"--html: got {args.html!r}; allowed suffixes: ['.html', '.htm']")
    print(f"wrote {write_html(read(args.results), args.html, args.title)}", file=sys.stderr)
    return 0
