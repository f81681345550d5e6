"""Training loop: truncated BPTT, Adam or SGD, gradual or one-shot pruning.

The loop counts global steps (one batch each); an epoch is one pass over the
train split. ``epochs`` may be fractional (a short fine-tune). A run writes
``checkpoint.pt`` (resumable, also mid-epoch: every ``checkpoint_minutes`` and
at every validation), ``best.pt`` (the weights with the best validation loss
once the target sparsity is reached) and ``log.csv`` (one row per validation)
into ``out``; a run whose ``out`` already holds ``checkpoint.pt`` resumes from it.

Two learning-rate schedules:

- ``cosine``: warm-up, then cosine decay to ``lr * lr_min_ratio`` over ``epochs``.
  With ``max_minutes``, the learning-rate and pruning schedules advance by
  whichever is further along, the step count or the elapsed fraction of the
  cap, so a capped run still anneals and reaches its target sparsity.
- ``plateau`` (the ladder recipe, ``docs/models.md``): constant ``lr`` until the
  validation loss fails to improve on the best by ``plateau_tol`` nats at a
  validation (judged only once pruning is complete), then ``lr *= lr_decay``;
  the run stops ("converged") at the validation that would make the
  ``max_decays + 1``-th cut, or at ``epochs``.
"""

from __future__ import annotations

import csv
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .data import Corpus, Dictionary, batchify, get_batch
from .lm import PRESETS, LanguageModel, ModelConfig, detach_state
from .pruning import cubic_sparsity, make_pruner, measured_weight_sparsity

CHECKPOINT = "checkpoint.pt"
BEST = "best.pt"
LOG = "log.csv"
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "plateau")
LOG_FIELDS = (
    "epoch",
    "step",
    "train_loss",
    "train_ppl",
    "val_loss",
    "val_ppl",
    "activity_sparsity",
    "weight_sparsity",
    "lr",
    "elapsed_s",
    "thr_mean",
)  # val_* and activity_sparsity cover the first eval_tokens of valid when that is set


@dataclass
class TrainConfig:
    """Everything a training run needs; stored in its checkpoint."""

    model: str = "egru"
    dataset: str = "ptb"
    data_dir: str = "data/ptb"
    preset: str = "cpu"
    out: str = "runs/train"
    epochs: float = 6.0
    batch_size: int = 64
    eval_batch_size: int = 20
    bptt: int = 35
    lr: float = 3e-3
    lr_min_ratio: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.0
    clip: float = 0.5
    weight_sparsity: float = 0.0
    prune_start: float = 0.1
    prune_end: float = 0.6
    prune_every: int = 50
    activity_reg: float = 0.0
    activity_target: float = 0.0
    thr_clamp: bool = True  # EGRU: keep thresholds in [0, 1] after every update (EvNN's EGRU does)
    # EGRU: thresholds' learning rate as a multiple of lr; 0 freezes them at their initial draw (EvNN's published
    # language-model commands: --learning_rate_thresholds 0.0). Other than 1, they get their own optimizer group
    # without weight decay, as in EvNN's train.py.
    thr_lr_scale: float = 1.0
    optimizer: str = "adam"
    schedule: str = "cosine"
    lr_decay: float = 0.25
    plateau_tol: float = 0.0
    max_decays: int = 3
    eval_every: float = 1.0
    prune_start_epoch: float | None = None
    prune_end_epoch: float | None = None
    pruning: str = "magnitude"
    np_reg: float = 1e-5
    np_redundancy: float = 0.9
    np_max_removed: float = 0.25
    checkpoint_minutes: float = 5.0
    impl: str = "fused"
    until_epoch: float | None = None
    init_checkpoint: str | None = None
    max_minutes: float | None = None
    seed: int = 1111
    threads: int = 1
    progress: bool = True
    eval_tokens: int | None = None
    overrides: dict = field(default_factory=dict)
    command: str = ""


def check_train_config(cfg: TrainConfig) -> None:
    """Fail on a value the loop cannot run, naming the field, the value and what is allowed."""
    if cfg.optimizer not in OPTIMIZERS:
        raise ValueError(f"--optimizer: is {cfg.optimizer!r}, allowed: {list(OPTIMIZERS)}")
    if cfg.schedule not in SCHEDULES:
        raise ValueError(f"--schedule: is {cfg.schedule!r}, allowed: {list(SCHEDULES)}")
    if not 0.0 < cfg.lr_decay < 1.0:
        raise ValueError(f"--lr-decay: is {cfg.lr_decay!r}, allowed: a number in (0, 1)")
    if cfg.eval_every <= 0:
        raise ValueError(f"--eval-every: is {cfg.eval_every!r}, allowed: a positive number of epochs")
    if (cfg.prune_start_epoch is None) != (cfg.prune_end_epoch is None):
        raise ValueError("--prune-start-epoch/--prune-end-epoch: give both or neither")
    if not (cfg.thr_lr_scale >= 0.0 and math.isfinite(cfg.thr_lr_scale)):
        raise ValueError(f"--thr-lr-scale: is {cfg.thr_lr_scale!r}, allowed: a finite number >= 0 (0 freezes "
                         "the thresholds)")


def build_model_config(cfg: TrainConfig, vocab_size: int) -> ModelConfig:
    if cfg.preset not in PRESETS:
        raise ValueError(f"--preset: is {cfg.preset!r}, allowed: {list(PRESETS)}")
    kw = dict(PRESETS[cfg.preset])
    kw.update(cfg.overrides)
    return ModelConfig(model=cfg.model, vocab_size=vocab_size, **kw)


def clamp_thresholds(model: LanguageModel, low: float = 0.0, high: float = 1.0) -> None:
    """Keep every EGRU threshold in ``[low, high]``, in place (EvNN's EGRU clamps to [0, 1] in each forward).

    A negative threshold makes a unit fire whenever its state exceeds it and *add* ``|theta|`` to its
    state at every event (``c = c_hat - theta * e``), so the state and the unit's output grow step
    after step: an always-on unit with unbounded output, which an unclamped run can learn.
    """
    with torch.no_grad():
        for layer in model.layers:
            theta = getattr(layer, "theta", None)
            if theta is not None:
                theta.clamp_(low, high)


@torch.no_grad()
def init_unigram_bias(model: LanguageModel, train_ids: torch.Tensor) -> None:
    """Start the decoder bias at the log unigram frequencies (add-one smoothed) of the train split."""
    counts = torch.bincount(train_ids, minlength=model.config.vocab_size).float() + 1.0
    model.decoder.bias.copy_(counts.log() - counts.sum().log())


def lr_at(cfg: TrainConfig, step: int, total: int) -> float:
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    lo = cfg.lr * cfg.lr_min_ratio
    return lo + 0.5 * (cfg.lr - lo) * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def evaluate(model: LanguageModel, data: torch.Tensor, batch_size: int, bptt: int) -> tuple[float, float]:
    """Mean cross-entropy (nats) over ``data`` and the activity sparsity (fraction of silent unit-steps)."""
    model.eval()
    source = batchify(data, batch_size)
    state = model.init_state(batch_size)
    total_loss, total_tokens = 0.0, 0
    active, unit_steps = 0.0, 0
    for i in range(0, source.size(0) - 1, bptt):
        x, y = get_batch(source, i, bptt)
        logits, state, events = model(x, state)
        total_loss += F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1), reduction="sum").item()
        total_tokens += y.numel()
        for e in events:
            active += float(e.sum())
            unit_steps += e.numel()
    return total_loss / total_tokens, 1.0 - active / unit_steps


def _thr_mean(model: LanguageModel) -> float:
    thetas = [layer.theta for layer in model.layers if hasattr(layer, "theta")]
    if not thetas:
        return float("nan")
    return float(torch.cat([t.detach() for t in thetas]).mean())


def save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename it over ``path``: a run killed while it
    saves (a session's end) keeps its previous checkpoint whole."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint dict; a small (fp16) checkpoint comes back with float32 weights and boolean masks."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--checkpoint: no such file {str(path)!r}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("small"):
        ckpt = _expand_small(ckpt)
    return ckpt


def _expand_small(small: dict) -> dict:
    ckpt = dict(small)
    ckpt["model_state"] = {k: v.float() if v.is_floating_point() else v for k, v in small["model_state"].items()}
    if "decoder.weight" not in ckpt["model_state"]:
        ckpt["model_state"]["decoder.weight"] = ckpt["model_state"]["embedding.weight"]
    masks = {}
    for name, (packed, shape) in small["pruner"]["masks"].items():
        n = int(np.prod(shape))
        masks[name] = torch.from_numpy(np.unpackbits(packed, count=n).astype(bool).reshape(shape))
    ckpt["pruner"] = dict(small["pruner"], masks=masks)
    ckpt.pop("small")
    return ckpt


def small_checkpoint(ckpt: dict) -> dict:
    """The resumable part of ``ckpt`` in a few MB: fp16 weights, bit-packed masks, no optimizer state.

    Resuming from it is exact up to fp16 rounding for SGD without momentum (which has no optimizer
    state); an Adam run restarts its moment estimates.
    """
    keep = {k: v for k, v in ckpt.items() if k not in ("optimizer", "model_state", "pruner", "train_state")}
    tied = ckpt["model_config"].get("tie_weights", False)
    keep["model_state"] = {
        k: v.half() if v.is_floating_point() else v
        for k, v in ckpt["model_state"].items()
        if not (tied and k == "decoder.weight")  # the same tensor as embedding.weight
    }
    masks = {
        name: (np.packbits(m.numpy().astype(bool).ravel()), tuple(m.shape)) for name, m in ckpt["pruner"]["masks"].items()
    }
    keep["pruner"] = dict(ckpt["pruner"], masks=masks)
    keep["small"] = True
    return keep


def model_from_checkpoint(ckpt: dict) -> tuple[LanguageModel, Dictionary]:
    mcfg = ModelConfig(**ckpt["model_config"])
    model = LanguageModel(mcfg)
    model.load_state_dict(ckpt["model_state"])
    return model, Dictionary(ckpt["vocab"])


def _make_optimizer(cfg: TrainConfig, model: LanguageModel) -> torch.optim.Optimizer:
    """The run's optimizer. Each parameter group carries ``lr_scale``: its learning rate is the schedule's
    times that (1, but ``thr_lr_scale`` for EGRU thresholds when it is not 1)."""
    thetas = [layer.theta for layer in model.layers if hasattr(layer, "theta")]
    if cfg.thr_lr_scale != 1.0 and thetas:
        ids = {id(t) for t in thetas}
        groups = [
            {"params": [q for q in model.parameters() if id(q) not in ids], "lr_scale": 1.0},
            {"params": thetas, "lr_scale": cfg.thr_lr_scale, "weight_decay": 0.0},
        ]
    else:
        groups = [{"params": list(model.parameters()), "lr_scale": 1.0}]
    kind = torch.optim.SGD if cfg.optimizer == "sgd" else torch.optim.Adam
    optimizer = kind(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    set_lr(optimizer, cfg.lr)
    return optimizer


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group the schedule's learning rate ``lr`` times its ``lr_scale``."""
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


def train(cfg: TrainConfig, log=print) -> dict:
    """Train (or resume, or fine-tune from ``init_checkpoint``); return the final checkpoint dict."""
    check_train_config(cfg)
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_path = out / CHECKPOINT
    resume = load_checkpoint(ckpt_path) if ckpt_path.is_file() else None
    init = load_checkpoint(cfg.init_checkpoint) if (cfg.init_checkpoint and resume is None) else None

    torch.manual_seed(cfg.seed)
    dictionary = None
    if resume is not None:
        dictionary = Dictionary(resume["vocab"])
    elif init is not None:
        dictionary = Dictionary(init["vocab"])
    corpus = Corpus(cfg.data_dir, dictionary)
    vocab = corpus.dictionary

    if resume is not None:
        model, _ = model_from_checkpoint(resume)
        log(f"resuming {ckpt_path} at step {resume['step']}")
    elif init is not None:
        model, _ = model_from_checkpoint(init)
        if model.config.model != cfg.model:
            raise ValueError(f"--model: is {cfg.model!r}, but --init-checkpoint holds a {model.config.model!r} model")
    else:
        model = LanguageModel(build_model_config(cfg, len(vocab)))
        init_unigram_bias(model, corpus.train)
    model.set_impl(cfg.impl)
    mcfg = model.config

    train_data = batchify(corpus.train, cfg.batch_size)
    batches_per_epoch = math.ceil((train_data.size(0) - 1) / cfg.bptt)
    total_steps = max(1, round(cfg.epochs * batches_per_epoch))
    eval_span = cfg.eval_every * batches_per_epoch  # validations at the steps where step / eval_span crosses an integer

    pruner = make_pruner(
        model, cfg.pruning, reg=cfg.np_reg, redundancy=cfg.np_redundancy, max_removed=cfg.np_max_removed
    )
    optimizer = _make_optimizer(cfg, model)
    step = 0
    history: list[dict] = []
    elapsed_before = 0.0
    base_epochs = 0.0
    # plateau schedule: current lr, number of cuts so far, best validation loss
    sched_state = {"lr": cfg.lr, "decays": 0, "best_val": float("inf"), "converged": False}
    state = model.init_state(cfg.batch_size)
    if resume is not None:
        pruner.load_state_dict(resume["pruner"])
        was = float(resume["train_config"].get("thr_lr_scale", 1.0))
        if was != cfg.thr_lr_scale:
            raise ValueError(f"{ckpt_path}: --thr-lr-scale is {cfg.thr_lr_scale!r}, but the run was started with "
                             f"{was!r}; allowed: the run's own value (or a new --out)")
        if resume.get("optimizer"):
            optimizer.load_state_dict(resume["optimizer"])
        step = int(resume["step"])
        history = list(resume["history"])
        elapsed_before = float(resume["elapsed_s"])
        base_epochs = float(resume.get("base_epochs", 0.0))
        sched_state.update(resume.get("sched_state", {}))
        torch.set_rng_state(resume["rng_state"])
        if resume.get("train_state") is not None:
            state = resume["train_state"]
    elif init is not None:
        base_epochs = float(init.get("epochs_done", 0.0)) + float(init.get("base_epochs", 0.0))
        if "pruner" in init:
            pruner.load_state_dict(init["pruner"])
        if cfg.weight_sparsity > 0:
            pruner.prune_to(cfg.weight_sparsity)
            log(f"one-shot pruned {cfg.init_checkpoint} to weight sparsity {pruner.measured_sparsity():.4f}")
    gradual = (
        cfg.weight_sparsity > 0
        and init is None
        and (resume is None or resume["train_config"].get("init_checkpoint") is None)
    )
    if cfg.prune_start_epoch is not None:
        prune_start = round(cfg.prune_start_epoch * batches_per_epoch)
        prune_end = round(cfg.prune_end_epoch * batches_per_epoch)
    else:
        prune_start = int(cfg.prune_start * total_steps)
        prune_end = int(cfg.prune_end * total_steps)
    # the plateau rule judges validations only once the masks are final
    judge_from = prune_end if gradual else 0

    from .export import git_commit

    commit = git_commit()

    def checkpoint(epochs_done: float, with_state: bool = False) -> dict:
        return {
            "model_config": mcfg.to_dict(),
            "model_state": model.state_dict(),
            "vocab": vocab.idx2word,
            "optimizer": optimizer.state_dict(),
            "pruner": pruner.state_dict(),
            "step": step,
            "total_steps": total_steps,
            "epochs_done": epochs_done,
            "base_epochs": base_epochs,
            "history": history,
            "elapsed_s": elapsed_before + (time.time() - t0),
            "train_config": asdict(cfg),
            "rng_state": torch.get_rng_state(),
            "sched_state": dict(sched_state),
            "train_state": detach_state(state) if with_state else None,
            "git_commit": commit,
        }

    def validate(train_loss: float) -> dict:
        valid = corpus.valid if cfg.eval_tokens is None else corpus.valid[: cfg.eval_tokens]
        val_loss, act = evaluate(model, valid, cfg.eval_batch_size, cfg.bptt)
        row = {
            "epoch": round(step / batches_per_epoch, 4),
            "step": step,
            "train_loss": round(train_loss, 4),
            "train_ppl": round(math.exp(min(train_loss, 50)), 2),
            "val_loss": round(val_loss, 4),
            "val_ppl": round(math.exp(min(val_loss, 50)), 2),
            "activity_sparsity": round(act, 4),
            "weight_sparsity": round(measured_weight_sparsity(model), 4),
            "lr": optimizer.param_groups[0]["lr"],
            "elapsed_s": round(elapsed_before + time.time() - t0, 1),
            "thr_mean": round(_thr_mean(model), 4),
        }
        history.append(row)
        log_path = out / LOG
        new = not log_path.is_file()
        with open(log_path, "a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=LOG_FIELDS)
            if new:
                w.writeheader()
            w.writerow(row)
        log(" ".join(f"{k}={v}" for k, v in row.items()))
        if step >= judge_from:
            if val_loss < sched_state["best_val"] - cfg.plateau_tol:
                sched_state["best_val"] = val_loss
                save_atomic(checkpoint(step / batches_per_epoch), out / BEST)
            elif cfg.schedule == "plateau":
                if sched_state["decays"] >= cfg.max_decays:
                    sched_state["converged"] = True
                    log(f"converged: no improvement after {cfg.max_decays} learning-rate cuts")
                else:
                    sched_state["decays"] += 1
                    sched_state["lr"] *= cfg.lr_decay
                    log(f"plateau: lr -> {sched_state['lr']:.4g} (cut {sched_state['decays']}/{cfg.max_decays})")
        return row

    t0 = time.time()
    deadline = None if cfg.max_minutes is None else t0 + 60.0 * cfg.max_minutes
    next_save = t0 + 60.0 * cfg.checkpoint_minutes
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=total_steps, initial=step, desc=f"{mcfg.model} {cfg.dataset}", unit="batch", mininterval=5.0)
    run_loss, run_n = 0.0, 0
    stopped_early = False
    model.train()
    pause_step = None if cfg.until_epoch is None else round(cfg.until_epoch * batches_per_epoch)
    while step < total_steps and not sched_state["converged"]:
        if pause_step is not None and step >= pause_step:
            log(f"--until-epoch {cfg.until_epoch} reached at step {step}; resume to continue")
            save_atomic(checkpoint(step / batches_per_epoch, with_state=True), ckpt_path)
            break
        if deadline is not None and time.time() > deadline:
            stopped_early = True
            log(f"--max-minutes {cfg.max_minutes} reached at step {step}/{total_steps}")
            break
        b = step % batches_per_epoch
        if b == 0:
            state = model.init_state(cfg.batch_size)
        # with --max-minutes, schedules run on max(step, the step matching the elapsed fraction of the cap)
        sched = step if deadline is None else max(step, int(total_steps * (time.time() - t0) / (deadline - t0)))
        if gradual and (step % cfg.prune_every == 0 or sched >= prune_end):
            pruner.prune_to(cubic_sparsity(sched, cfg.weight_sparsity, prune_start, prune_end))
        x, y = get_batch(train_data, b * cfg.bptt, cfg.bptt)
        lr = lr_at(cfg, sched, total_steps) if cfg.schedule == "cosine" else sched_state["lr"]
        set_lr(optimizer, lr)
        state = detach_state(state)
        logits, state, events = model(x, state)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        total = loss
        if cfg.activity_reg > 0 and mcfg.model == "egru":
            rate = torch.stack([e.mean() for e in events]).mean()
            total = total + cfg.activity_reg * torch.relu(rate - cfg.activity_target)
        if gradual and prune_start <= sched < prune_end:
            pruner.observe(events)
        reg = pruner.regularizer()
        if reg is not None:
            total = total + reg
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
        optimizer.step()
        if cfg.thr_clamp and mcfg.model == "egru":
            clamp_thresholds(model)
        pruner.apply()
        run_loss += loss.item()
        run_n += 1
        step += 1
        if bar is not None:
            bar.update(1)
            if step % 50 == 0:
                act = float(torch.stack([e.mean() for e in events]).mean())
                bar.set_postfix(loss=f"{run_loss / run_n:.3f}", ws=f"{pruner.sparsity:.2f}", act=f"{act:.3f}")
        crossed = int(step / eval_span) > int((step - 1) / eval_span)
        if crossed or step % batches_per_epoch == 0 or step == total_steps:
            validate(run_loss / max(1, run_n))
            model.train()
            run_loss, run_n = 0.0, 0
            save_atomic(checkpoint(step / batches_per_epoch, with_state=True), ckpt_path)
            next_save = time.time() + 60.0 * cfg.checkpoint_minutes
        elif time.time() > next_save:
            save_atomic(checkpoint(step / batches_per_epoch, with_state=True), ckpt_path)
            next_save = time.time() + 60.0 * cfg.checkpoint_minutes
    if bar is not None:
        bar.close()
    if stopped_early:
        validate(run_loss / max(1, run_n))
        save_atomic(checkpoint(step / batches_per_epoch, with_state=True), ckpt_path)
    final = checkpoint(step / batches_per_epoch)
    final["stopped_early"] = stopped_early
    final["converged"] = sched_state["converged"]
    final["finished"] = step >= total_steps or sched_state["converged"]
    return final
