"""Argument parsing for ``neurosim train`` and ``neurosim trace export``.

The lead's ``neurosim/cli.py`` wires these in; ``python -m neurosim.models.cli
train|export ...`` works on its own. torch is imported only when a command runs.
"""

from __future__ import annotations

import argparse
import shlex
import sys

MODELS = ("egru", "lstm")
DATASETS = ("ptb", "wt2")
PRESETS = ("cpu", "paper", "tiny")
SPLITS = ("train", "valid", "test")


def _fraction(flag: str):
    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"is {text!r}, allowed: a number in [0, 1)") from None
        if not 0.0 <= v < 1.0:
            raise argparse.ArgumentTypeError(f"is {text!r}, allowed: a number in [0, 1)")
        return v

    return parse


def _positive(flag: str, kind=float):
    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"is {text!r}, allowed: a positive {kind.__name__}") from None
        if v <= 0:
            raise argparse.ArgumentTypeError(f"is {text!r}, allowed: a positive {kind.__name__}")
        return v

    return parse


def _tokens(text: str):
    if text == "all":
        return None
    try:
        v = int(text)
    except ValueError:
        v = 0
    if v <= 0:
        raise argparse.ArgumentTypeError(f"is {text!r}, allowed: a positive integer or 'all'")
    return v


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(s) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(
            f"is {text!r}, allowed: comma-separated integers >= 1, e.g. 400,200"
        )
    return sizes


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``neurosim train``."""
    p = parser
    p.add_argument("--model", choices=MODELS, default="egru", help="recurrent cell (default egru)")
    p.add_argument("--dataset", choices=DATASETS, default="ptb", help="corpus name recorded in checkpoints and traces")
    p.add_argument("--data-dir", required=True, help="folder with train.txt, valid.txt, test.txt")
    p.add_argument(
        "--preset",
        choices=PRESETS,
        default="cpu",
        help="layer sizes: cpu (2x small), paper (1350/1350/750), tiny (tests)",
    )
    p.add_argument(
        "--out",
        default=None,
        help="run folder for checkpoint.pt and log.csv (default runs/<dataset>_<model><sparsity>)",
    )
    p.add_argument("--epochs", type=_positive("--epochs"), default=6.0, help="passes over train (may be fractional)")
    p.add_argument(
        "--max-minutes",
        type=_positive("--max-minutes"),
        default=None,
        help="stop (and checkpoint) after this wall-clock time",
    )
    p.add_argument(
        "--weight-sparsity",
        type=_fraction("--weight-sparsity"),
        default=0.0,
        help="target fraction of zero recurrent-layer weights",
    )
    p.add_argument(
        "--init-checkpoint",
        default=None,
        help="start from this checkpoint, prune it one-shot to --weight-sparsity, fine-tune",
    )
    p.add_argument(
        "--prune-start",
        type=_fraction("--prune-start"),
        default=0.1,
        help="gradual pruning starts at this fraction of the steps",
    )
    p.add_argument(
        "--prune-end",
        type=_fraction("--prune-end"),
        default=0.6,
        help="gradual pruning reaches the target at this fraction",
    )
    p.add_argument("--prune-every", type=_positive("--prune-every", int), default=50, help="steps between mask updates")
    p.add_argument("--lr", type=_positive("--lr"), default=3e-3, help="Adam peak learning rate (cosine decay)")
    p.add_argument("--warmup-steps", type=int, default=100, help="linear learning-rate warm-up steps")
    p.add_argument("--batch-size", type=_positive("--batch-size", int), default=64)
    p.add_argument("--bptt", type=_positive("--bptt", int), default=35)
    p.add_argument("--clip", type=_positive("--clip"), default=0.5, help="gradient-norm clip")
    p.add_argument("--activity-reg", type=float, default=0.0, help="weight of the mean-event-rate penalty (EGRU)")
    p.add_argument(
        "--activity-target",
        type=_fraction("--activity-target"),
        default=0.0,
        help="event rate below which the activity penalty is off (hinge)",
    )
    p.add_argument("--thr-mean", type=float, default=None, help="EGRU threshold init mean (preset default 0.3)")
    p.add_argument("--thr-clamp", action=argparse.BooleanOptionalAction, default=True,
                   help="EGRU: keep thresholds in [0, 1] after every update, as EvNN's EGRU does (default; a "
                        "negative threshold makes an always-on unit whose state grows without bound). "
                        "--no-thr-clamp reproduces the PTB ladder of 2026-12-01, trained without it")
    p.add_argument("--thr-lr-scale", type=float, default=1.0,
                   help="EGRU: the thresholds' learning rate as a multiple of --lr (default 1; 0 freezes them at "
                        "their initial draw, as EvNN's published language-model commands do; other than 1 they "
                        "get their own optimizer group without weight decay)")
    p.add_argument("--hidden-sizes", type=_sizes, default=None, help="override the preset's layer sizes, e.g. 400,200")
    p.add_argument(
        "--emb-size", type=_positive("--emb-size", int), default=None, help="override the preset's embedding size"
    )
    p.add_argument("--dropout", type=_fraction("--dropout"), default=None, help="override all dropout rates")
    p.add_argument("--seed", type=int, default=1111)
    p.add_argument("--threads", type=_positive("--threads", int), default=1, help="torch CPU threads (default 1)")
    p.add_argument(
        "--eval-tokens",
        type=_positive("--eval-tokens", int),
        default=None,
        help="validate on the first N tokens of valid only (default: all)",
    )
    p.add_argument("--optimizer", choices=("adam", "sgd"), default="adam", help="optimizer (default adam)")
    p.add_argument(
        "--schedule",
        choices=("cosine", "plateau"),
        default="cosine",
        help="learning rate: cosine decay over --epochs, or constant with cuts on validation plateaus",
    )
    p.add_argument("--lr-decay", type=_fraction("--lr-decay"), default=0.25, help="plateau: factor of each cut")
    p.add_argument("--max-decays", type=int, default=3, help="plateau: stop at the plateau after this many cuts")
    p.add_argument("--plateau-tol", type=float, default=0.0, help="plateau: improvement (nats) that counts")
    p.add_argument("--eval-every", type=_positive("--eval-every"), default=1.0, help="epochs between validations")
    p.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay of the optimizer (a knob)")
    p.add_argument(
        "--prune-start-epoch", type=float, default=None, help="gradual pruning starts at this epoch (overrides --prune-start)"
    )
    p.add_argument(
        "--prune-end-epoch", type=float, default=None, help="gradual pruning reaches the target at this epoch"
    )
    p.add_argument(
        "--pruning",
        choices=("magnitude", "neuroprune"),
        default="magnitude",
        help="mask selection: magnitude, or NeuroPrune's recurrent analogue (docs/models.md)",
    )
    p.add_argument("--np-reg", type=float, default=1e-5, help="neuroprune: weight of the preferential-attachment l1")
    p.add_argument(
        "--np-redundancy", type=float, default=0.9, help="neuroprune: cosine similarity above which units are redundant"
    )
    p.add_argument(
        "--np-max-removed",
        type=_fraction("--np-max-removed"),
        default=0.25,
        help="neuroprune: largest fraction of a layer's units ever removed",
    )
    p.add_argument(
        "--checkpoint-minutes", type=_positive("--checkpoint-minutes"), default=5.0, help="mid-epoch checkpoint interval"
    )
    p.add_argument(
        "--impl", choices=("fused", "reference"), default="fused", help="recurrent layer implementation (same maths)"
    )
    p.add_argument(
        "--until-epoch",
        type=_positive("--until-epoch"),
        default=None,
        help="pause (checkpoint and exit) at this epoch; the schedules do not depend on it",
    )
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bar")


def _command_line(args: argparse.Namespace) -> str:
    """The command that made this run: set by :func:`main`, else taken from ``sys.argv`` of ``neurosim``."""
    line = getattr(args, "command_line", None)
    if line:
        return line
    if sys.argv and sys.argv[0].rsplit("/", 1)[-1].startswith("neurosim"):
        return " ".join(["neurosim"] + [shlex.quote(a) for a in sys.argv[1:]])
    return ""


def run_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train

    overrides: dict = {}
    if args.thr_mean is not None:
        overrides["thr_mean"] = args.thr_mean
    if args.hidden_sizes is not None:
        overrides["hidden_sizes"] = tuple(args.hidden_sizes)
    if args.emb_size is not None:
        overrides["emb_size"] = args.emb_size
    if args.dropout is not None:
        overrides.update(dropout_emb=args.dropout, dropout_layers=args.dropout, dropout_out=args.dropout)
    out = args.out or f"runs/{args.dataset}_{args.model}{round(100 * args.weight_sparsity)}"
    cfg = TrainConfig(
        model=args.model,
        dataset=args.dataset,
        data_dir=args.data_dir,
        preset=args.preset,
        out=out,
        epochs=args.epochs,
        batch_size=args.batch_size,
        bptt=args.bptt,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        clip=args.clip,
        weight_sparsity=args.weight_sparsity,
        prune_start=args.prune_start,
        prune_end=args.prune_end,
        prune_every=args.prune_every,
        activity_reg=args.activity_reg,
        activity_target=args.activity_target,
        thr_clamp=args.thr_clamp,
        thr_lr_scale=args.thr_lr_scale,
        init_checkpoint=args.init_checkpoint,
        max_minutes=args.max_minutes,
        seed=args.seed,
        threads=args.threads,
        progress=not args.no_progress,
        eval_tokens=args.eval_tokens,
        optimizer=args.optimizer,
        schedule=args.schedule,
        lr_decay=args.lr_decay,
        max_decays=args.max_decays,
        plateau_tol=args.plateau_tol,
        eval_every=args.eval_every,
        weight_decay=args.weight_decay,
        prune_start_epoch=args.prune_start_epoch,
        prune_end_epoch=args.prune_end_epoch,
        pruning=args.pruning,
        np_reg=args.np_reg,
        np_redundancy=args.np_redundancy,
        np_max_removed=args.np_max_removed,
        checkpoint_minutes=args.checkpoint_minutes,
        impl=args.impl,
        until_epoch=args.until_epoch,
        overrides=overrides,
        command=_command_line(args),
    )
    try:
        ckpt = train(cfg)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    last = ckpt["history"][-1] if ckpt["history"] else {}
    status = "converged" if ckpt.get("converged") else ("finished" if ckpt.get("finished") else "paused")
    print(
        f"{status}: {out}/checkpoint.pt step {ckpt['step']}/{ckpt['total_steps']} val_ppl={last.get('val_ppl')} "
        f"activity_sparsity={last.get('activity_sparsity')} weight_sparsity={last.get('weight_sparsity')}"
    )
    return 0


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``neurosim trace export``."""
    p = parser
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt written by neurosim train")
    p.add_argument("--data-dir", default=None, help="corpus folder (default: the one recorded in the checkpoint)")
    p.add_argument("--split", choices=SPLITS, default="test")
    p.add_argument(
        "--tokens", type=_tokens, default=2048, help="steps kept in the trace, or 'all' for the whole split"
    )
    p.add_argument("--out", required=True, help="trace file, e.g. traces/ptb_egru90.npz")
    p.add_argument(
        "--values", choices=("auto", "yes", "no"), default="auto", help="store event values (auto: EGRU only)"
    )
    p.add_argument(
        "--no-perplexity", action="store_true", help="skip the full-split perplexity (meta.perplexity = null)"
    )
    p.add_argument("--threads", type=_positive("--threads", int), default=1)
    p.add_argument("--run-checkpoint", default=None,
                   help="the run's latest checkpoint.pt, whose validation curve goes into meta.training when "
                        "--checkpoint is an earlier best.pt (default: --checkpoint's own)")


def run_export(args: argparse.Namespace) -> int:
    from .export import export_trace

    try:
        trace, path = export_trace(
            args.checkpoint,
            out=args.out,
            split=args.split,
            tokens=args.tokens,
            data_dir=args.data_dir,
            values=args.values,
            perplexity=not args.no_perplexity,
            threads=args.threads,
            source=_command_line(args),
            run_checkpoint=args.run_checkpoint,
        )
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    m = trace.meta
    print(
        f"wrote {path}: {trace.n_tokens} tokens, perplexity={m['perplexity']}, "
        f"activity_sparsity={m['activity_sparsity']:.4f}, weight_sparsity={m['weight_sparsity']:.4f}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m neurosim.models.cli")
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_arguments(sub.add_parser("train", help="train a language model"))
    add_export_arguments(sub.add_parser("export", help="export an activation trace"))
    args = parser.parse_args(argv)
    name = "neurosim train" if args.command == "train" else "neurosim trace export"
    args.command_line = " ".join([name] + [shlex.quote(a) for a in argv[1:]])
    return run_train(args) if args.command == "train" else run_export(args)


if __name__ == "__main__":
    raise SystemExit(main())
