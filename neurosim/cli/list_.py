"""``neurosim list``: the shipped architecture specs and traces, one line each."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("what", nargs="?", choices=("archs", "traces"), help="only specs or only traces")


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    return text.split(". ")[0].rstrip(".")


def arch_lines() -> list[str]:
    """One line per shipped spec: name, kind, its description's first sentence."""
    from neurosim.data import ARCH_DIR, arch_names
    from neurosim.spec import load_with_base

    lines = []
    for name in arch_names():
        data = load_with_base(ARCH_DIR / f"{name}.yaml")
        lines.append(f"{name:<18} {data.get('kind', 'neuromorphic'):<12} {_first_sentence(data.get('description', ''))}")
    return lines


def trace_lines() -> list[str]:
    """One line per shipped trace: name, model, sizes, sparsity, perplexity and the command that made it."""
    from neurosim.data import TRACE_DIR, trace_names
    from neurosim.trace import read_meta

    lines = []
    for name in trace_names():
        m = read_meta(TRACE_DIR / f"{name}.npz")
        ppl = f"{m['perplexity']:.1f}" if m.get("perplexity") else "n/a"
        what = (f"{m['model']} {'/'.join(map(str, m['hidden_sizes']))} on {m['dataset']} {m['split']}, "
                f"weight sparsity {m['weight_sparsity']:.2f}, perplexity {ppl}")
        lines.append(f"{name:<12} {what}; source: {m.get('source', 'n/a')}")
    return lines


def run(args: argparse.Namespace) -> int:
    if args.what in (None, "archs"):
        print("architecture specs (--arch NAME):")
        print("\n".join(f"  {line}" for line in arch_lines()))
    if args.what in (None, "traces"):
        print("traces (--trace NAME):")
        print("\n".join(f"  {line}" for line in trace_lines()))
    return 0
