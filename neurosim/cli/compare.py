"""``neurosim compare``: traces on event chips and GPUs side by side, one table and one figure."""

from __future__ import annotations

import argparse

TABLE_SUFFIXES = (".csv", ".parquet")
PLOT_SUFFIXES = (".png", ".svg")


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--trace", action="append", required=True, metavar="T",
                        help="trace: an .npz file or a shipped name (repeatable)")
    parser.add_argument("--arch", action="append", required=True, metavar="A",
                        help="architecture: a YAML file or a shipped name (repeatable)")
    parser.add_argument(
        "--batch",
        action="append",
        default=None,
        metavar="B[,B...]",
        help="batch sizes for GPU specs, comma separated (default 1); event-driven chips run batch 1",
    )
    parser.add_argument("--tokens", type=int, default=None, metavar="N", help="use the first N tokens of each trace")
    parser.add_argument("--out", default=None, metavar="FILE", help="write the table (.csv or .parquet)")
    parser.add_argument("--plot", default=None, metavar="FILE", help="write the figure: energy, latency and tokens/s panels (.png or .svg)")
    parser.add_argument("--precision", default=None, help="GPU precision (default: the spec's)")
    parser.add_argument("--weight-format", default=None, help="GPU weight format: dense, csr, 2:4")
    parser.add_argument("--kernel", default=None, help="GPU kernel model: dense or gather")
    parser.add_argument("--include-embedding", action="store_true", default=None, help="GPU: add the embedding lookup")
    parser.add_argument("--include-readout", action="store_true", default=None, help="GPU: add the readout/decoder")
    parser.add_argument("--sequence-tokens", type=int, default=None, metavar="S",
                        help="GPU: tokens per forward call; input projections and readout run once per call")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def parse_batches(values: list[str]) -> list[int]:
    """``["1,64", "8"]`` -> ``[1, 64, 8]``; a one-line ValueError naming ``--batch`` otherwise."""
    out = []
    for text in values:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            try:
                out.append(int(part))
            except ValueError:
                raise ValueError(
                    f"--batch: got {part!r}; allowed: integers >= 1, comma separated (e.g. 1,64)"
                ) from None
    return out


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from neurosim.cli.output import check_output

    for name, allowed in (("out", TABLE_SUFFIXES), ("plot", PLOT_SUFFIXES)):
        value = getattr(args, name)
        if value is not None and Path(value).suffix.lower() not in allowed:
            raise ValueError(f"--{name}: got {value!r}; allowed suffixes: {list(allowed)}")
        check_output(value, f"--{name}")

    from neurosim.compare import compare, format_table, plot_compare, write_table

    batches = parse_batches(args.batch or ["1"])
    if args.tokens is not None and args.tokens < 1:
        raise ValueError(f"--tokens: got {args.tokens}; allowed: an integer >= 1")
    options = {
        "precision": args.precision,
        "weight_format": args.weight_format,
        "kernel": args.kernel,
        "include_embedding": args.include_embedding,
        "include_readout": args.include_readout,
        "sequence_tokens": args.sequence_tokens,
    }
    options = {k: v for k, v in options.items() if v is not None}
    df = compare(args.trace, args.arch, batches, tokens=args.tokens, gpu_options=options, progress=not args.quiet)
    print(format_table(df))
    if args.out:
        print(f"table: {write_table(df, args.out)}")
    if args.plot:
        print(f"plot: {plot_compare(df, args.plot)}")
    return 0
