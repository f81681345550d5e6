"""``neurosim trace info|synthetic|export|from-nir``: inspect, make, export or import traces."""

from __future__ import annotations

import argparse
import json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from neurosim.cli.train import fill_help
    from neurosim.models.cli import add_export_arguments, run_export  # argparse only; torch loads in run_export

    sub = parser.add_subparsers(dest="trace_command", required=True, metavar="COMMAND")
    q = sub.add_parser("info", help="sizes, activity and weight sparsity, ops per token",
                       description="Print a trace's sizes, measured activity and weight sparsity and ops per token.")
    q.add_argument("file", help="trace: an .npz file or a shipped name")
    q.add_argument("--tokens", type=int, help="only the first N tokens")
    q.add_argument("--json", action="store_true", help="print JSON instead of aligned text")
    q.set_defaults(func=run_info)
    q = sub.add_parser("synthetic", help="write a random trace with a given activity and weight sparsity",
                       description="Write a random trace with a given activity and weight sparsity.")
    q.add_argument("--out", required=True, help="the .npz file to write")
    q.add_argument("--hidden-sizes", default="256,256", help="units per layer, comma separated (default: 256,256)")
    q.add_argument("--input-size", type=int, default=128, help="input (embedding) units (default: 128)")
    q.add_argument("--activity", type=float, default=0.15, help="probability that a unit fires at a step (default: 0.15)")
    q.add_argument("--weight-sparsity", type=float, default=0.9, help="fraction of zero weights (default: 0.9)")
    q.add_argument("--tokens", type=int, default=256, help="steps (default: 256)")
    q.add_argument("--gates", type=int, default=3, help="compartments per unit: 3 EGRU, 4 LSTM (default: 3)")
    q.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    q.set_defaults(func=run_synthetic)
    q = sub.add_parser("export", help="export a trace from a trained checkpoint (needs the train extra)",
                       description="Export a trace from a trained checkpoint (needs the train extra).")
    add_export_arguments(q)
    fill_help(q)
    q.set_defaults(func=run_export)
    q = sub.add_parser("from-nir", help="a trace from a NIR graph and recorded spikes (needs the interop extra)",
                       description="Write a trace from a NIR graph (Affine/Linear + LIF/CubaLIF/IF/LI, recurrence as "
                                   "cycles) and the spikes recorded when it ran (needs the interop extra).")
    q.add_argument("graph", help="the NIR graph, a .nir file (nir.write)")
    q.add_argument("--spikes", required=True,
                   help=".npz: population node name -> [T, N] spikes, and optionally 'input' -> [T, in]")
    q.add_argument("--out", required=True, help="the trace .npz to write")
    q.add_argument("--readout", default="auto", choices=("auto", "last", "none"),
                   help="the last population as the readout: auto (an LI, or not recurrent and without spikes; "
                        "default), last, none")
    q.add_argument("--model", default="rsnn", help="the trace's model name (default: rsnn)")
    q.set_defaults(func=run_from_nir)


def run_info(args: argparse.Namespace) -> int:
    from neurosim.trace import load_trace, summary

    info = summary(load_trace(args.file, args.tokens))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, float):
            value = f"{value:,.4f}"
        elif isinstance(value, list):
            value = ", ".join(f"{v:,.4f}" if isinstance(v, float) else str(v) for v in value)
        print(f"{key:<{width}}  {value}")
    return 0


def run_synthetic(args: argparse.Namespace) -> int:
    from neurosim.cli.output import check_output

    check_output(args.out)

    from neurosim.trace import save_trace, synthetic

    try:
        sizes = [int(h) for h in args.hidden_sizes.split(",")]
    except ValueError:
        raise ValueError(
            f"--hidden-sizes: got {args.hidden_sizes!r}; allowed: comma-separated integers, e.g. 512,256"
        ) from None
    from neurosim.trace.checks import MAX_GATES, MAX_UNITS

    for flag, values, high in (("--hidden-sizes", sizes, MAX_UNITS), ("--input-size", [args.input_size], MAX_UNITS),
                               ("--gates", [args.gates], MAX_GATES), ("--tokens", [args.tokens], 2**31 - 1)):
        if not all(1 <= v <= high for v in values) or not values:
            raise ValueError(f"{flag}: got {', '.join(map(str, values))}; allowed: integers in [1, {high}]")
    trace = synthetic(sizes, input_size=args.input_size, activity=args.activity, weight_sparsity=args.weight_sparsity,
                      tokens=args.tokens, gates=args.gates, seed=args.seed)
    print(f"wrote {save_trace(trace, args.out)}")
    return 0


def run_from_nir(args: argparse.Namespace) -> int:
    from neurosim.interop.nir import trace_from_nir
    from neurosim.trace import save_trace

    for what, path in (("graph", args.graph), ("--spikes", args.spikes)):
        if not __import__("os").path.isfile(path):
            raise FileNotFoundError(f"{what}: {path}: no such file")
    trace = trace_from_nir(args.graph, args.spikes, readout=args.readout, model=args.model)
    print(f"wrote {save_trace(trace, args.out)} ({len(trace.layers)} layers {trace.hidden_sizes}, "
          f"{trace.n_tokens} steps, readout {'yes' if trace.readout_w_mask is not None else 'none'})")
    return 0

