"""``neurosim run``: simulate a trace on an architecture and print or write the report."""

from __future__ import annotations

import argparse
import os
import sys

FORMATS = ("table", "json", "csv", "parquet", "neurobench")


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def add_set_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", metavar="KEY.PATH=VALUE",
                        help="override an architecture key, e.g. energy_pj.synop=30 (repeatable)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    p = parser
    p.add_argument("--arch", required=True,
                   help="architecture: a YAML file or a shipped name (neuromorphic or GPU; see neurosim list)")
    p.add_argument("--trace", required=True, help="trace: an .npz file or a shipped name (see neurosim list)")
    p.add_argument("--tokens", type=int, help="only the first N tokens")
    p.add_argument("--format", choices=FORMATS, default="table",
                   help="report format (default: table; with --out the file's suffix chooses); neurobench: the "
                        "NeuroBench 2.x metrics of the run as JSON")
    p.add_argument("--out", help="write the report here (.json, .csv, .parquet, .txt)")
    add_set_argument(p)
    p.add_argument("--policy", default="contiguous", help="mapping policy: contiguous (default) or balanced")
    p.add_argument("--min-cores", type=int, default=1, help="spread the network over at least N cores")
    p.add_argument("--engine", default="numba",
                   help="numba (exact, fast; default), simpy (reference, small cases) or bound (no packet replay: "
                        "exact counts, cycles a lower bound)")
    p.add_argument("--backend", dest="engine", default=argparse.SUPPRESS,
                   help=argparse.SUPPRESS)  # the old name of --engine
    p.add_argument("--chunk-steps", type=int, help="replay the trace in chunks of this many timesteps")
    p.add_argument("--threads", type=int, default=None,
                   help="simulate chunks of timesteps on N threads (same result; default: every usable core)")
    p.add_argument("--stream", action="store_true", help="read the trace's events from disk while replaying")
    p.add_argument("--sample", type=int, metavar="K", help="simulate K windows and report 95%% confidence intervals")
    p.add_argument("--window", type=int, help="tokens per sampled or checked window (default: 256)")
    p.add_argument("--seed", type=int, help="seed that draws the sampled or checked windows (default: 0)")
    p.add_argument("--check", type=int, metavar="K",
                   help="with --engine bound: replay K windows (--window tokens) exactly and report the bound's gap")
    p.add_argument("--readout", choices=("chip", "none"), default="chip",
                   help="chip (default): simulate the decoder on the chip, fed by the last layer's events (and "
                        "model it on a GPU); none: the recurrent layers only")
    p.add_argument("--input", dest="input_encoding", choices=("embedding", "token", "events"), default=None,
                   help="what layer 0 receives: embedding (every input unit, every step), token (one event per "
                        "token into the embedding folded into layer 0's weights), events (the trace's recorded "
                        "input events); default: events when the trace has them, else embedding")
    p.add_argument("--batch", type=int, default=1, help="batch size (GPU specs only)")
    p.add_argument("--precision", help="GPU precision, overrides the spec's default")
    p.add_argument("--weight-format", dest="weight_format", help="GPU weight format (dense, csr, 2:4)")
    p.add_argument("--kernel", help="GPU kernel model (dense or gather)")
    p.add_argument("--sequence-tokens", dest="sequence_tokens", type=int,
                   help="GPU: tokens per forward call; input projections and readout run once per call (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from neurosim.cli.output import check_output

    check_output(args.out)
    if args.format == "parquet" and not args.out:
        raise ValueError("--format parquet: needs --out FILE.parquet")

    from neurosim import api
    from neurosim.report import render, write

    gpu_options = {k: getattr(args, k) for k in ("precision", "weight_format", "kernel", "sequence_tokens")
                   if getattr(args, k) is not None}
    result = api.run(
        args.arch,
        args.trace,
        tokens=args.tokens,
        overrides=args.set,
        batch=args.batch,
        policy=args.policy,
        min_cores=args.min_cores,
        engine=args.engine,
        chunk_steps=args.chunk_steps,
        sample=args.sample,
        window=args.window,
        seed=args.seed,
        check=args.check,
        progress=not args.quiet,
        threads=args.threads if args.threads is not None else usable_cores(),
        stream=args.stream,
        readout=args.readout,
        input_encoding=args.input_encoding,
        **gpu_options,
    )
    if args.format == "neurobench":
        return write_neurobench(args, result)
    if args.out:  # --format table (the default) lets the file's suffix choose
        print(f"wrote {write([result], args.out, None if args.format == 'table' else args.format)}", file=sys.stderr)
        return 0
    print(render(result, args.format))
    return 0


def write_neurobench(args: argparse.Namespace, result) -> int:
    """Print (or write to ``--out``) the NeuroBench metrics of ``result`` on its trace as JSON."""
    import json
    from pathlib import Path

    text = json.dumps(result.neurobench(args.trace), indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)
    return 0
