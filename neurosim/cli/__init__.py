"""The ``neurosim`` command: one thin module per subcommand over the public API.

Each subcommand module has ``add_arguments(parser)`` and ``run(args) -> int``
and imports the heavy stages (numpy, numba, pandas) only inside ``run``, so
``neurosim --help`` answers at once. Every failure a user can cause ends in
one line on stderr, ``neurosim: error: ...``, and exit status 2: argument
errors too (with a hint to ``--help`` instead of the usage block). A closed
stdout (``neurosim run ... | head -1``) ends quietly with status 141.
"""

from __future__ import annotations

import argparse
import os
import sys

from neurosim.cli import compare, list_, plot, plot_run, report, run, sweep, trace, train, validate

DESCRIPTION = "Cycle-level simulation and energy estimation of sparse RNNs on neuromorphic chips and GPUs."
SUBCOMMANDS = (
    ("run", run, "simulate a trace on an architecture and report per-token figures"),
    ("validate", validate, "check an architecture YAML"),
    ("list", list_, "list the shipped architecture specs and traces"),
    ("trace", trace, "inspect, make or export traces"),
    ("train", train, "train an EGRU or LSTM language model with weight pruning (needs the train extra)"),
    ("compare", compare, "compare traces on event chips and GPUs side by side"),
    ("sweep", sweep, "design-space exploration over architecture keys and traces"),
    ("plot", plot, "plot sweep results"),
    ("plot-run", plot_run, "plot one run: power over time, latency distribution, core and link load on the mesh"),
    ("report", report, "write a run's (or a results table's) report as one self-contained HTML page"),
)
EXTRAS = {"torch": "train", "dask": "dist", "distributed": "dist", "nir": "interop", "snntorch": "interop",
          "neurobench": "interop"}
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a command killed by a closed pipe


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the problem and a hint to ``--help``, no usage block."""

    def error(self, message: str):
        print(f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    from neurosim import __version__

    parser = Parser(prog="neurosim", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, module, text in SUBCOMMANDS:
        p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        module.add_arguments(p)
        if getattr(module, "run", None) is not None:  # trace's subcommands set their own
            p.set_defaults(func=module.run)
    return parser


def error(message: str) -> int:
    """Print the one-line error every subcommand ends in; the exit status 2."""
    print(f"neurosim: error: {message.strip().replace(chr(10), '; ')}", file=sys.stderr)
    return 2


def _stdout_closed() -> int:
    """stdout's reader went away: send the rest of the output nowhere, exit quietly."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass
    return EXIT_BROKEN_PIPE


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` (default: the command line), run the subcommand, return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        status = int(args.func(args) or 0)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return status
    except BrokenPipeError:
        return _stdout_closed()
    except (ValueError, FileNotFoundError) as exc:  # SpecError, TraceError, MappingError, EngineError: ValueErrors
        return error(str(exc))
    except OSError as exc:  # a disk that is full, a file that vanished: what the system said, on one line
        where = f"{exc.filename}: " if exc.filename else ""
        return error(f"{where}{exc.strerror or exc}")
    except MemoryError:
        return error("out of memory; try fewer --tokens, --stream or a smaller trace")
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        return error(f"this command needs {exc.name}; install the extra: pip install 'neurosim[{extra}]'")
    except KeyboardInterrupt as exc:
        print(f"neurosim: {str(exc) or 'interrupted'}", file=sys.stderr)
        return getattr(exc, "status", 130)


__all__ = ["build_parser", "error", "main"]
