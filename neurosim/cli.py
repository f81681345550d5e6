"""The ``neurosim`` command: thin subcommands over the public API."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

from neurosim import __version__


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity where the OS reports one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _cmd_run(args) -> int:
    from neurosim.api import run
    from neurosim.report import render, write

    gpu_options = {k: getattr(args, k) for k in ("precision", "weight_format", "kernel") if getattr(args, k)}
    result = run(
        args.arch,
        args.trace,
        tokens=args.tokens,
        overrides=args.set,
        batch=args.batch,
        policy=args.policy,
        min_cores=args.min_cores,
        backend=args.backend,
        chunk_steps=args.chunk_steps,
        sample=args.sample,
        window=args.window,
        seed=args.seed,
        check=args.check,
        progress=not args.quiet,
        threads=args.threads if args.threads is not None else usable_cores(),
        stream=args.stream,
        **gpu_options,
    )
    if args.out:  # --format table (the default) lets the file's suffix choose
        print(f"wrote {write([result], args.out, None if args.format == 'table' else args.format)}", file=sys.stderr)
        return 0
    if args.format == "parquet":
        raise ValueError("--format parquet: needs --out FILE.parquet")
    print(render(result, args.format))
    return 0


def _cmd_validate(args) -> int:
    from neurosim.arch import ChipArch, load_arch

    arch = load_arch(args.arch, args.set)
    if isinstance(arch, ChipArch):
        print(
            f"{args.arch}: valid ({arch.name}: {arch.cores.count} cores on a {arch.noc.mesh_x}x{arch.noc.mesh_y} mesh, "
            f"{arch.cores.neurons_per_core} compartments and {arch.cores.synapse_memory_bytes} synapse bytes per core, "
            f"{arch.noc.flits_per_packet} flit(s) per packet, barrier {arch.barrier_cycles} cycles)"
        )
    else:
        print(f"{args.arch}: valid ({arch.name}, kind {arch.kind})")
    if args.dump:
        print(json.dumps(arch.model_dump(), indent=2))
    return 0


def _cmd_trace_info(args) -> int:
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


def _cmd_trace_synthetic(args) -> int:
    from neurosim.trace import save_trace, synthetic

    try:
        sizes = [int(h) for h in args.hidden_sizes.split(",")]
    except ValueError:
        raise ValueError(
            f"--hidden-sizes: got {args.hidden_sizes!r}; allowed: comma-separated integers, e.g. 512,256"
        ) from None
    trace = synthetic(sizes, input_size=args.input_size, activity=args.activity, weight_sparsity=args.weight_sparsity,
                      tokens=args.tokens, gates=args.gates, seed=args.seed)
    print(f"wrote {save_trace(trace, args.out)}")
    return 0


def _delegate(module: str, adder: str, runner: str, extra: str | None = None, wanted: bool = True):
    """Attach a subcommand implemented in another module, imported only when the command is used."""

    def add(parser):
        if not wanted:
            parser.set_defaults(func=lambda args: 0)
            return
        try:
            mod = importlib.import_module(module)
        except ImportError:
            parser.set_defaults(func=lambda args: _missing(module, extra))
            parser.add_argument("rest", nargs=argparse.REMAINDER)
            return
        getattr(mod, adder)(parser)
        parser.set_defaults(func=getattr(mod, runner))

    return add


def _missing(module: str, extra: str | None) -> int:
    hint = f"; install the extra: pip install 'neurosim[{extra}]'" if extra else ""
    print(f"neurosim: error: this command needs {module}, which could not be imported{hint}", file=sys.stderr)
    return 2


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    words = list(sys.argv[1:] if argv is None else argv)[:2]
    parser = argparse.ArgumentParser(prog="neurosim", description=__doc__)
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="simulate a trace on an architecture and report per-token figures")
    p.add_argument("--arch", required=True, help="architecture YAML (neuromorphic or GPU)")
    p.add_argument("--trace", required=True, help="trace .npz")
    p.add_argument("--tokens", type=int, help="only the first N tokens")
    p.add_argument("--format", choices=["table", "json", "csv", "parquet"], default="table")
    p.add_argument("--out", help="write the report here (.json, .csv, .parquet, .txt)")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE", help="override an architecture key")
    p.add_argument("--policy", default="contiguous", help="mapping policy: contiguous or balanced")
    p.add_argument("--min-cores", type=int, default=1, help="spread the network over at least N cores")
    p.add_argument("--backend", default="numba",
                   help="engine: numba (exact, fast), simpy (reference) or bound (no packet replay: exact counts, "
                        "cycles a lower bound)")
    p.add_argument("--chunk-steps", type=int, help="stream the trace in chunks of this many timesteps")
    p.add_argument("--threads", type=int, default=None,
                   help="simulate chunks of timesteps on N threads (same result; default: every usable core)")
    p.add_argument("--stream", action="store_true", help="read the trace's events from disk while replaying")
    p.add_argument("--sample", type=int, help="simulate K windows and report 95%% confidence intervals")
    p.add_argument("--window", type=int, default=256, help="tokens per sampled window")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--check", type=int, metavar="K",
                   help="with --backend bound: replay K windows (--window tokens) exactly and report the bound's gap")
    p.add_argument("--batch", type=int, default=1, help="batch size (GPU specs only)")
    p.add_argument("--precision", help="GPU precision, overrides the spec's default")
    p.add_argument("--weight-format", dest="weight_format", help="GPU weight format (dense, csr, 2:4)")
    p.add_argument("--kernel", help="GPU kernel model (dense or gather)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("validate", help="check an architecture YAML")
    p.add_argument("arch")
    p.add_argument("--set", action="append", metavar="KEY.PATH=VALUE")
    p.add_argument("--dump", action="store_true", help="print the resolved spec as JSON")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("trace", help="inspect, make or export traces")
    tsub = p.add_subparsers(dest="trace_command", required=True)
    q = tsub.add_parser("info", help="sizes, activity and weight sparsity, ops per token")
    q.add_argument("file")
    q.add_argument("--tokens", type=int)
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=_cmd_trace_info)
    q = tsub.add_parser("synthetic", help="write a random trace with a given activity and weight sparsity")
    q.add_argument("--out", required=True)
    q.add_argument("--hidden-sizes", default="256,256")
    q.add_argument("--input-size", type=int, default=128)
    q.add_argument("--activity", type=float, default=0.15)
    q.add_argument("--weight-sparsity", type=float, default=0.9)
    q.add_argument("--tokens", type=int, default=256)
    q.add_argument("--gates", type=int, default=3)
    q.add_argument("--seed", type=int, default=0)
    q.set_defaults(func=_cmd_trace_synthetic)
    _delegate("neurosim.models.cli", "add_export_arguments", "run_export", "train", words == ["trace", "export"])(
        tsub.add_parser("export", help="export a trace from a trained checkpoint")
    )

    _delegate("neurosim.models.cli", "add_train_arguments", "run_train", "train", words[:1] == ["train"])(
        sub.add_parser("train", help="train an EGRU or LSTM language model with weight pruning")
    )
    _delegate("neurosim.compare", "add_compare_arguments", "run_compare", None, words[:1] == ["compare"])(
        sub.add_parser("compare", help="compare traces on event chips and GPUs side by side")
    )
    _delegate("neurosim.sweep", "add_sweep_arguments", "run_sweep", "dist", words[:1] == ["sweep"])(
        sub.add_parser("sweep", help="design-space exploration over architecture keys and traces")
    )
    _delegate("neurosim.sweep", "add_plot_arguments", "run_plot", None, words[:1] == ["plot"])(
        sub.add_parser("plot", help="plot sweep results")
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    from neurosim.engine import EngineError
    from neurosim.mapping import MappingError
    from neurosim.spec import SpecError
    from neurosim.trace import TraceError

    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (TraceError, SpecError, MappingError, EngineError, ValueError, FileNotFoundError) as exc:
        msg = str(exc).strip().replace("\n", "; ")
        print(f"neurosim: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("neurosim: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
