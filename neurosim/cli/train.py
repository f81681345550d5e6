"""``neurosim train``: train a language model with weight pruning (the ``train`` extra).

The flags and the training run live with the models (:mod:`neurosim.models.cli`); torch loads only when it runs.
"""

from __future__ import annotations

import argparse

# help for the model flags that :mod:`neurosim.models.cli` defines without any
MISSING_HELP = {
    "--batch-size": "training sequences per batch (default: %(default)s)",
    "--bptt": "steps of backpropagation through time (default: %(default)s)",
    "--seed": "random seed (default: %(default)s)",
    "--split": "corpus split whose first --tokens steps are replayed (default: %(default)s)",
    "--threads": "torch CPU threads (default: %(default)s)",
}


def fill_help(parser: argparse.ArgumentParser) -> None:
    """Give every option of ``parser`` that has no help text the one in :data:`MISSING_HELP`."""
    for action in parser._actions:
        if not action.help:
            for flag in action.option_strings:
                action.help = MISSING_HELP.get(flag, action.help)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from neurosim.models.cli import add_train_arguments

    add_train_arguments(parser)
    fill_help(parser)


def run(args: argparse.Namespace) -> int:
    from neurosim.models.cli import run_train

    return run_train(args)
