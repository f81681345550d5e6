"""``neurosim validate``: check an architecture spec and print what it describes."""

from __future__ import annotations

import argparse
import json

from neurosim.cli.run import add_set_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("arch", help="architecture: a YAML file or a shipped name")
    add_set_argument(parser)
    parser.add_argument("--dump", action="store_true", help="print the resolved spec (defaults filled in) as JSON")


def run(args: argparse.Namespace) -> int:
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
