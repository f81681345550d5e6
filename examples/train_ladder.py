"""Train the sparsity ladder under one recipe, resumably, one run at a time.

Usage (from the repository root)::

    python examples/train_ladder.py --runs-dir /work/runs/ladder            # train, resuming what exists
    python examples/train_ladder.py --runs-dir /work/runs/ladder --dry-run  # print the commands only
    python examples/train_ladder.py --runs-dir /work/runs/ladder --status   # one line per run, from checkpoints
    python examples/train_ladder.py --runs-dir /work/runs/ladder --export traces --only-better
    python examples/train_ladder.py --runs-dir /work/runs/ladder --refresh-training traces
    python examples/train_ladder.py --runs-dir /work/runs/ladder --save-small checkpoints --only ptb_egru90,ptb_lstm0

``--export DIR`` writes ``DIR/<name>.npz`` from each run's ``best.pt`` (else ``checkpoint.pt``):
the whole test split for :data:`FULL_SPLIT` runs, the first :data:`EXPORT_TOKENS` tokens for the
others; with ``--only-better`` a trace replaces an existing one only when its test perplexity is
lower, otherwise it goes to ``<runs-dir>/<name>/trace.npz``; a trace from ``best.pt`` carries the run's
whole validation curve (``checkpoint.pt``'s) in ``meta.training``. ``--refresh-training DIR`` gives a
trace already in ``DIR`` that curve when its run went on after the export (nothing else changes).
``--save-small DIR`` writes the small (fp16) checkpoint of each run to ``DIR/<name>.pt``.

Every run is ``python -m neurosim.models.cli train`` with :data:`RECIPE` plus its own model,
dataset and sparsity flags, writing ``<runs-dir>/<name>/{checkpoint.pt,best.pt,log.csv,train.log}``.
The runner works in rounds: each round gives the first ``--rotate`` unfinished runs of
:data:`QUEUE` (headline models first) ``--quantum`` more epochs each (``--until-epoch``, which
pauses a run without touching its schedules), then starts the next round, until every run has
converged or reached its epoch budget. Killing it loses at most ``--checkpoint-minutes`` of
one run; starting it again resumes every run from its checkpoint. A run directory without a
checkpoint is seeded from ``checkpoints/<name>.pt`` in the repository when that small
checkpoint exists (``--seed-dir``), so a later session continues where this one stopped.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# One recipe for every run of the ladder (docs/models.md explains each choice).
RECIPE = [
    "--preset", "cpu",
    "--optimizer", "adam",
    "--lr", "3e-3",
    "--clip", "0.25",
    "--batch-size", "20",
    "--bptt", "35",
    "--schedule", "plateau",
    "--lr-decay", "0.25",
    "--max-decays", "3",
    "--eval-every", "0.5",
    "--weight-decay", "0",
    "--prune-start-epoch", "0.5",
    "--prune-end-epoch", "3",
    "--prune-every", "50",
    "--checkpoint-minutes", "5",
    "--no-progress",
]
EGRU = ["--model", "egru", "--thr-mean", "0.2", "--activity-reg", "2.0", "--activity-target", "0.1"]
# Thresholds clamped to [0, 1] (neurosim train's default, as EvNN's EGRU). The PTB EGRU traces shipped on
# 2026-12-01 were trained before the clamp existed: add "--no-thr-clamp" to reproduce them (their trace meta
# records the recipe; docs/models.md section 2 says why the clamp matters).
PTB_EGRU = EGRU
LSTM = ["--model", "lstm"]
PTB = ["--dataset", "ptb", "--data-dir", "{data}/ptb", "--epochs", "40"]
WT2 = ["--dataset", "wt2", "--data-dir", "{data}/wikitext-2", "--epochs", "6"]
NEUROPRUNE = ["--pruning", "neuroprune", "--np-reg", "1e-5", "--np-redundancy", "0.9", "--np-max-removed", "0.25"]

# (name, flags), in priority order: the headline pair first.
QUEUE: list[tuple[str, list[str]]] = [
    ("ptb_egru90", PTB_EGRU + PTB + ["--weight-sparsity", "0.9"]),
    ("ptb_lstm0", LSTM + PTB),
    ("ptb_egru90_neuroprune", PTB_EGRU + PTB + ["--weight-sparsity", "0.9"] + NEUROPRUNE),
    ("ptb_egru0", PTB_EGRU + PTB),
    ("ptb_lstm90", LSTM + PTB + ["--weight-sparsity", "0.9"]),
    ("ptb_egru50", PTB_EGRU + PTB + ["--weight-sparsity", "0.5"]),
    ("ptb_egru80", PTB_EGRU + PTB + ["--weight-sparsity", "0.8"]),
    ("ptb_egru95", PTB_EGRU + PTB + ["--weight-sparsity", "0.95"]),
    ("ptb_lstm50", LSTM + PTB + ["--weight-sparsity", "0.5"]),
    # thresholds clamped to [0, 1] (EvNN's EGRU does): the first run without it diverged by epoch 0.5, its
    # negative thresholds making always-on units with unbounded state (docs/models.md section 2)
    ("wt2_egru90", EGRU + WT2 + ["--weight-sparsity", "0.9", "--thr-clamp"]),
    # a smaller dense LSTM, for a pair at matched perplexity with ptb_egru90 (the seed question: sparse
    # EGRU on a chip against a dense LSTM of the same quality on a GPU)
    ("ptb_lstm0_small", LSTM + PTB + ["--emb-size", "128", "--hidden-sizes", "128,128"]),
    ("wt2_lstm0", LSTM + WT2),
]


FULL_SPLIT = ("ptb_egru90", "ptb_lstm0")
# Runs whose shipped trace comes from a chosen checkpoint, not best.pt: --export leaves them alone
# unless --only names them.
PINNED = {
    "ptb_lstm0_small": "the shipped trace is the epoch-2 checkpoint, matched in perplexity to ptb_egru90 "
                       "(traces/README.md has its command)",
}
EXPORT_TOKENS = 8192


def snapshot_pair(run_dir: Path, tries: int = 5) -> tuple[Path | None, Path | None]:
    """Copies of a (possibly running) run's ``best.pt`` and ``checkpoint.pt`` that belong together: the copied
    ``checkpoint.pt`` records ``best.pt``'s validation as the run's best (its schedule's ``best_val``). A run
    saves ``best.pt`` just before ``checkpoint.pt`` at an improving validation, so a copy taken in between is
    retried. (None, None) if no try gave a matching pair."""
    from neurosim.models.train import load_checkpoint

    snap = run_dir / "export"
    snap.mkdir(exist_ok=True)
    for attempt in range(tries):
        shutil.copyfile(run_dir / "best.pt", snap / "best.pt")
        shutil.copyfile(run_dir / "checkpoint.pt", snap / "checkpoint.pt")
        best = load_checkpoint(snap / "best.pt")["sched_state"]["best_val"]
        if load_checkpoint(snap / "checkpoint.pt")["sched_state"]["best_val"] == best:
            return snap / "best.pt", snap / "checkpoint.pt"
        time.sleep(5 * (attempt + 1))
    return None, None


def export_run(name: str, run_dir: Path, out_dir: Path, only_better: bool) -> str:
    """Export one run's trace; returns a line saying what was written and why."""
    from neurosim.models.export import export_trace
    from neurosim.trace import load_trace

    src = run_dir / "best.pt" if (run_dir / "best.pt").is_file() else run_dir / "checkpoint.pt"
    if not src.is_file():
        return f"{name}: no checkpoint"
    run_ckpt = None
    if src.name == "best.pt" and (run_dir / "checkpoint.pt").is_file():
        src, run_ckpt = snapshot_pair(run_dir)
        if src is None:
            return f"{name}: {run_dir} kept saving a newer best.pt while it was copied; nothing exported, try again"
    full = name in FULL_SPLIT
    tmp = run_dir / "trace.npz"
    source = f"neurosim trace export --split test --tokens {'all' if full else EXPORT_TOKENS} --values " \
             f"{'no' if full else 'auto'} --checkpoint {src} --out {out_dir / (name + '.npz')}"
    if run_ckpt:
        source += f" --run-checkpoint {run_ckpt}"
    trace, _ = export_trace(src, out=tmp, split="test", tokens=None if full else EXPORT_TOKENS,
                            values="no" if full else "auto", source=source, run_checkpoint=run_ckpt)
    new_ppl = trace.meta["perplexity"]
    dst = out_dir / f"{name}.npz"
    target = float(trace.meta["recipe"].get("weight_sparsity") or 0.0)
    if trace.meta["weight_sparsity"] < target - 0.005:
        return (f"{name}: {src} is at weight sparsity {trace.meta['weight_sparsity']:.3f}, below the target "
                f"{target:.2f} (pruning not finished); test ppl {new_ppl:.1f}; kept {dst}, wrote {tmp}")
    old_ppl = load_trace(dst, tokens=1).meta["perplexity"] if dst.is_file() else None
    if only_better and old_ppl is not None and not new_ppl < old_ppl:
        return f"{name}: test ppl {new_ppl:.1f} from {src} is not below the existing {old_ppl:.1f}; kept {dst}, wrote {tmp}"
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(tmp, dst)
    return f"{name}: wrote {dst} (test ppl {new_ppl:.1f}, was {old_ppl}), {trace.n_tokens} tokens, from {src}"


def refresh_training(name: str, run_dir: Path, out_dir: Path) -> str:
    """Rewrite ``meta.training`` of a shipped trace exported from the run's ``best.pt`` with the whole run's
    curve (its ``checkpoint.pt``), when the run went on after the export; nothing else in the trace changes."""
    from neurosim.models.export import training_summary
    from neurosim.models.train import load_checkpoint
    from neurosim.trace import load_trace, save_trace

    dst, best, latest = out_dir / f"{name}.npz", run_dir / "best.pt", run_dir / "checkpoint.pt"
    if not (dst.is_file() and best.is_file() and latest.is_file()):
        return f"{name}: needs {dst}, {best} and {latest}; nothing done"
    best, latest = snapshot_pair(run_dir)  # the same matching pair an export reads, even from a running run
    if best is None:
        return f"{name}: {run_dir} kept saving a newer best.pt while it was copied; nothing done, try again"
    trace = load_trace(dst)
    training = trace.meta.get("training") or {}
    best_ckpt = load_checkpoint(best)
    exported = training.get("exported_epoch", training.get("epochs_done"))
    if Path(trace.meta.get("checkpoint", "")).name != "best.pt" or exported != round(float(best_ckpt["epochs_done"]), 4):
        return (f"{name}: {dst} was not exported from the current {run_dir / 'best.pt'} (its epoch {exported}, best.pt's "
                f"{best_ckpt['epochs_done']}); export it again instead")
    new = training_summary(load_checkpoint(latest), best_ckpt)
    if new == training:
        return f"{name}: {dst} already carries the run's curve to epoch {new['epochs_done']}"
    trace.meta["training"] = new
    save_trace(trace, dst)
    return (f"{name}: {dst} meta.training now covers the run to epoch {new['epochs_done']} "
            f"({len(new['curve'])} validations, converged {new['converged']}; exported epoch {new['exported_epoch']})")


def save_small(name: str, run_dir: Path, out_dir: Path) -> str:
    """Write the small checkpoint of a run's ``checkpoint.pt`` to ``out_dir/<name>.pt``."""
    import torch

    from neurosim.models.train import load_checkpoint, small_checkpoint

    src = run_dir / "checkpoint.pt"
    if not src.is_file():
        return f"{name}: no checkpoint"
    out_dir.mkdir(parents=True, exist_ok=True)
    dst = out_dir / f"{name}.pt"
    torch.save(small_checkpoint(load_checkpoint(src)), dst)
    return f"{name}: wrote {dst} ({dst.stat().st_size / 2**20:.1f} MiB) from {src}"


def command(name: str, flags: list[str], runs_dir: Path, data: str, threads: int, until: float | None) -> list[str]:
    """The ``neurosim train`` command line of one run."""
    args = [a.format(data=data) for a in flags] + RECIPE + ["--threads", str(threads), "--out", str(runs_dir / name)]
    if until is not None:
        args += ["--until-epoch", f"{until:g}"]
    return [sys.executable, "-m", "neurosim.models.cli", "train"] + args


def run_state(run_dir: Path) -> dict:
    """Epochs done, finished flag and validation summary of a run, read from its checkpoint."""
    ckpt_path = run_dir / "checkpoint.pt"
    if not ckpt_path.is_file():
        return {"exists": False, "epochs": 0.0, "finished": False}
    from neurosim.models.train import load_checkpoint

    ck = load_checkpoint(ckpt_path)
    sched = ck.get("sched_state") or {}
    epochs = float(ck["epochs_done"])
    hist = ck["history"]
    return {
        "exists": True,
        "epochs": epochs,
        "finished": ck["step"] >= ck["total_steps"] or bool(sched.get("converged")),
        "converged": bool(sched.get("converged")),
        "wall_min": ck["elapsed_s"] / 60.0,
        "last_val_ppl": hist[-1]["val_ppl"] if hist else None,
        "best_val_ppl": min((h["val_ppl"] for h in hist), default=None),
        "lr": sched.get("lr"),
        "decays": sched.get("decays"),
        "weight_sparsity": hist[-1]["weight_sparsity"] if hist else None,
        "activity_sparsity": hist[-1]["activity_sparsity"] if hist else None,
    }


def seed_from_repo(run_dir: Path, seed_dir: Path, name: str) -> bool:
    """Copy ``seed_dir/<name>.pt`` (a small checkpoint) to ``run_dir/checkpoint.pt`` if the run has none."""
    src = seed_dir / f"{name}.pt"
    dst = run_dir / "checkpoint.pt"
    if dst.is_file() or not src.is_file():
        return False
    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs-dir", required=True, type=Path, help="folder holding one folder per run")
    p.add_argument("--data", default="/work/shared/data", help="folder with ptb/ and wikitext-2/")
    p.add_argument("--only", default=None, help="comma-separated run names (default: the whole queue)")
    p.add_argument("--quantum", type=float, default=1.0, help="epochs a run gets per round")
    p.add_argument("--rotate", type=int, default=2, help="how many unfinished runs share the rounds")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed-dir", type=Path, default=ROOT / "checkpoints", help="small checkpoints to start from")
    p.add_argument("--dry-run", action="store_true", help="print the commands of the queue and exit")
    p.add_argument("--status", action="store_true", help="print the state of every run and exit")
    p.add_argument("--export", type=Path, default=None, help="export each run's trace into this folder and exit")
    p.add_argument("--only-better", action="store_true", help="with --export: replace only traces it beats")
    p.add_argument("--save-small", type=Path, default=None, help="write small checkpoints into this folder and exit")
    p.add_argument("--refresh-training", type=Path, default=None,
                   help="give the traces in this folder that came from a run's best.pt the run's whole validation "
                        "curve (meta.training, from checkpoint.pt) and exit")
    args = p.parse_args(argv)

    queue = QUEUE
    if args.only:
        names = args.only.split(",")
        unknown = [n for n in names if n not in dict(QUEUE)]
        if unknown:
            p.error(f"--only: unknown runs {unknown}, allowed: {[n for n, _ in QUEUE]}")
        queue = [(n, f) for n, f in QUEUE if n in names]

    if args.dry_run:
        for name, flags in queue:
            print(shlex.join(command(name, flags, args.runs_dir, args.data, args.threads, None)))
        return 0
    if args.status:
        print("| run | epochs | train wall (min) | lr cuts | converged | last val ppl | best val ppl | weight sparsity | activity sparsity (valid) |")
        print("|---|---|---|---|---|---|---|---|---|")
        for name, _ in queue:
            st = run_state(args.runs_dir / name)
            if not st["exists"]:
                print(f"| {name} | not started | | | | | | | |")
                continue
            print(f"| {name} | {st['epochs']:.2f} | {st['wall_min']:.1f} | {st['decays']} | {'yes' if st['converged'] else 'no'} "
                  f"| {st['last_val_ppl']} | {st['best_val_ppl']} | {st['weight_sparsity']} | {st['activity_sparsity']} |")
        return 0
    if args.refresh_training:
        for name, _ in queue:
            if name in PINNED and not args.only:
                print(f"{name}: not refreshed ({PINNED[name]})", flush=True)
            else:
                print(refresh_training(name, args.runs_dir / name, args.refresh_training), flush=True)
        return 0
    if args.export or args.save_small:
        for name, _ in queue:
            if args.export and name in PINNED and not args.only:
                print(f"{name}: not exported ({PINNED[name]}); name it in --only to export best.pt", flush=True)
            elif args.export:
                print(export_run(name, args.runs_dir / name, args.export, args.only_better), flush=True)
            if args.save_small:
                print(save_small(name, args.runs_dir / name, args.save_small), flush=True)
        return 0

    args.runs_dir.mkdir(parents=True, exist_ok=True)
    for name, _ in queue:
        if seed_from_repo(args.runs_dir / name, args.seed_dir, name):
            print(f"{name}: seeded from {args.seed_dir / (name + '.pt')}", flush=True)
    failures = 0
    while True:
        pending = [(n, f) for n, f in queue if not run_state(args.runs_dir / n)["finished"]]
        if not pending:
            print("ladder: every run has converged or reached its budget", flush=True)
            return 0
        for name, flags in pending[: args.rotate]:
            st = run_state(args.runs_dir / name)
            until = round(st["epochs"] + args.quantum, 4)
            cmd = command(name, flags, args.runs_dir, args.data, args.threads, until)
            (args.runs_dir / name).mkdir(parents=True, exist_ok=True)
            print(f"{time.strftime('%H:%M:%S')} {name}: epochs {st['epochs']:.2f} -> {until}", flush=True)
            with open(args.runs_dir / name / "train.log", "a") as logf:
                logf.write(f"# {time.strftime('%Y-%m-%d %H:%M:%S')} {shlex.join(cmd)}\n")
                logf.flush()
                rc = subprocess.call(cmd, cwd=ROOT, stdout=logf, stderr=subprocess.STDOUT)
            if rc != 0:
                failures += 1
                print(f"{name}: exit status {rc} (failure {failures}), see {args.runs_dir / name / 'train.log'}", flush=True)
                if failures >= 3:
                    return rc
                time.sleep(60)
                continue
            print(f"{time.strftime('%H:%M:%S')} {name}: {run_state(args.runs_dir / name)}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
