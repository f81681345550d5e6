"""Export a trained checkpoint as an activation trace (:mod:`neurosim.trace`)."""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..trace import TRACE_FORMAT, TRACE_VERSION, LayerTrace, Trace, dense_macs_per_token, save_trace, synops_per_step
from .data import Corpus, Dictionary
from .lm import LanguageModel
from .lm import dense_macs_per_token as model_dense_macs
from .pruning import measured_weight_sparsity
from .train import load_checkpoint, model_from_checkpoint

VALUES = ("auto", "yes", "no")
# the training settings a trace's meta.recipe records (TrainConfig fields)
RECIPE_KEYS = (
    "optimizer", "lr", "schedule", "lr_decay", "max_decays", "plateau_tol", "lr_min_ratio", "warmup_steps",
    "batch_size", "bptt", "clip", "weight_decay", "activity_reg", "activity_target", "weight_sparsity",
    "pruning", "prune_start", "prune_end", "prune_start_epoch", "prune_end_epoch", "prune_every",
    "np_reg", "np_redundancy", "np_max_removed", "eval_every", "eval_tokens", "epochs", "seed", "preset", "init_checkpoint",
)


def git_commit(path: str | Path | None = None) -> str | None:
    """``git rev-parse HEAD`` of the repository holding this file (``+dirty`` with uncommitted changes), or None."""
    cwd = Path(path) if path else Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd, capture_output=True,
                               text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def training_summary(ckpt: dict, exported: dict | None = None) -> dict:
    """The validation curve of a run and where it ended (for ``meta.training``).

    ``ckpt`` is the run's latest checkpoint (its ``history`` is the whole curve so far); ``exported`` the
    checkpoint the trace comes from when that is an earlier one (``best.pt``), whose epoch is recorded as
    ``exported_epoch``.
    """
    hist = ckpt.get("history", [])
    sched = ckpt.get("sched_state") or {}
    best = min(hist, key=lambda r: r["val_loss"]) if hist else None
    return {
        "curve": [[r["epoch"], r["val_ppl"], r["activity_sparsity"], r["weight_sparsity"], r["lr"]] for r in hist],
        "curve_columns": ["epoch", "val_ppl", "activity_sparsity", "weight_sparsity", "lr"],
        "val_scope": "full valid split" if ckpt.get("train_config", {}).get("eval_tokens") is None
        else f"first {ckpt['train_config']['eval_tokens']} valid tokens",
        "last_val_ppl": hist[-1]["val_ppl"] if hist else None,
        "best_val_ppl": best["val_ppl"] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "lr_cuts": sched.get("decays"),
        "converged": bool(sched.get("converged")),
        "epochs_done": round(float(ckpt.get("epochs_done", 0.0)), 4),
        "exported_epoch": round(float((exported or ckpt).get("epochs_done", 0.0)), 4),
        "train_wall_s": round(float(ckpt.get("elapsed_s", 0.0)), 1),
        "train_git_commit": ckpt.get("git_commit"),
    }


#: train_config keys that identify a run: a run checkpoint must agree with the exported one on each
RUN_IDENTITY = ("model", "dataset", "weight_sparsity", "pruning", "seed", "out")


def _run_of(ckpt: dict, run_checkpoint: str | Path | None) -> dict:
    """The checkpoint whose history is the run's curve: ``run_checkpoint`` (checked to be the same run, not
    behind ``ckpt``) or ``ckpt`` itself."""
    if run_checkpoint is None:
        return ckpt
    if not Path(run_checkpoint).is_file():
        raise FileNotFoundError(f"--run-checkpoint: no such file {str(run_checkpoint)!r}")
    run = load_checkpoint(run_checkpoint)
    mine, theirs = ckpt.get("train_config", {}), run.get("train_config", {})
    for key in RUN_IDENTITY:
        if mine.get(key) != theirs.get(key):
            raise ValueError(f"--run-checkpoint: {run_checkpoint} is from another run (train_config.{key} is "
                             f"{theirs.get(key)!r}, {mine.get(key)!r} in --checkpoint)")
    if float(run.get("epochs_done", 0.0)) < float(ckpt.get("epochs_done", 0.0)):
        raise ValueError(f"--run-checkpoint: {run_checkpoint} is at epoch {run.get('epochs_done')}, behind "
                         f"--checkpoint's {ckpt.get('epochs_done')}; allowed: the run's latest checkpoint")
    return run


@torch.no_grad()
def run_split(model: LanguageModel, data: torch.Tensor, keep: int, chunk: int = 512):
    """Run ``model`` with batch size 1 over ``data``.

    Returns the mean cross-entropy of predicting ``data[1:]``, the events and
    outputs of every layer for the first ``keep`` steps (numpy ``[keep, H]``),
    and, per layer, the number of active unit-steps and of unit-steps over the whole split.
    """
    model.eval()
    state = model.init_state(1)
    n = data.size(0) - 1
    loss_sum = 0.0
    events = [[] for _ in model.layers]
    outputs = [[] for _ in model.layers]
    active = [0.0 for _ in model.layers]
    unit_steps = [0 for _ in model.layers]
    for i in range(0, n, chunk):
        x = data[i : min(i + chunk, n)].view(-1, 1)
        y = data[i + 1 : min(i + chunk, n) + 1]
        emb = model.embedding(x)
        h = emb
        new_state = []
        for l, layer in enumerate(model.layers):
            h, s, e = layer(h, state[l])
            new_state.append(s)
            active[l] += float(e.sum())
            unit_steps[l] += e.numel()
            if i < keep:
                events[l].append(e[:, 0].numpy() > 0)
                outputs[l].append(h[:, 0].numpy())
        state = new_state
        logits = model.decoder(h)
        loss_sum += F.cross_entropy(logits.view(-1, logits.size(-1)), y, reduction="sum").item()
    ev = [np.concatenate(e)[:keep] for e in events]
    out = [np.concatenate(o)[:keep] for o in outputs]
    return loss_sum / n, ev, out, active, unit_steps


def _units_without_fanout(model: LanguageModel) -> list[int]:
    """Per layer, units whose outgoing synapses in the recurrent matrices are all pruned (the top layer's
    count ignores the dense decoder)."""
    out = []
    for l, layer in enumerate(model.layers):
        alive = (layer.weight_hh.detach() != 0).any(0)
        if l + 1 < len(model.layers):
            alive |= (model.layers[l + 1].weight_ih.detach() != 0).any(0)
        out.append(int((~alive).sum()))
    return out


def build_trace(
    model: LanguageModel, tokens: np.ndarray, events: list, outputs: list, meta: dict, values: bool
) -> Trace:
    """A :class:`Trace` from per-layer events/outputs and the model's weights."""
    layers = []
    for l, layer in enumerate(model.layers):
        w_in = (layer.weight_ih.detach() != 0).numpy().T.copy()
        w_rec = (layer.weight_hh.detach() != 0).numpy().T.copy()
        ev = events[l]
        vals = outputs[l][ev].astype(np.float16) if values else None
        layers.append(LayerTrace(events=ev, w_in_mask=w_in, w_rec_mask=w_rec, values=vals))
    return Trace(meta=meta, tokens=np.asarray(tokens, dtype=np.int32), layers=tuple(layers))


def export_trace(
    checkpoint: str | Path,
    out: str | Path,
    split: str = "test",
    tokens: int | None = 2048,
    data_dir: str | Path | None = None,
    values: str = "auto",
    perplexity: bool = True,
    threads: int = 1,
    source: str = "",
    run_checkpoint: str | Path | None = None,
) -> tuple[Trace, Path]:
    """Run a checkpoint over ``split`` and write the first ``tokens`` steps (None: all) as a trace.

    ``meta.perplexity`` is the perplexity over the full split (batch size 1,
    state carried through), ``meta.activity_sparsity`` the fraction of silent
    unit-steps over the full split (``activity_sparsity_per_layer`` per layer);
    ``meta.training`` holds the validation curve (of ``run_checkpoint``, the run's latest checkpoint, when
    the exported one is an earlier ``best.pt``), ``meta.recipe`` the training
    settings and ``meta.git_commit`` the commit that exported the trace.
    """
    if values not in VALUES:
        raise ValueError(f"--values: is {values!r}, allowed: {list(VALUES)}")
    torch.set_num_threads(threads)
    ckpt = load_checkpoint(checkpoint)
    model, vocab = model_from_checkpoint(ckpt)
    tcfg = ckpt.get("train_config", {})
    data_dir = data_dir or tcfg.get("data_dir")
    corpus = Corpus(data_dir, Dictionary(vocab.idx2word))
    if split not in corpus.splits:
        raise ValueError(f"--split: is {split!r}, allowed: {list(corpus.splits)}")
    data = corpus.splits[split]
    keep = data.size(0) - 1 if tokens is None else min(tokens, data.size(0) - 1)
    full = data if perplexity else data[: keep + 1]
    loss, ev, outs, active, unit_steps = run_split(model, full, keep)
    mcfg = model.config
    with_values = values == "yes" or (values == "auto" and mcfg.model == "egru")
    meta = {
        "format": TRACE_FORMAT,
        "version": TRACE_VERSION,
        "model": mcfg.model,
        "dataset": tcfg.get("dataset", "unknown"),
        "split": split,
        "vocab_size": int(mcfg.vocab_size),
        "input_size": int(mcfg.emb_size),
        "hidden_sizes": [int(h) for h in mcfg.hidden_sizes],
        "gates": int(mcfg.gates),
        "weight_sparsity": float(measured_weight_sparsity(model)),
        "perplexity": float(math.exp(loss)) if perplexity else None,
        "seed": int(tcfg.get("seed", 0)),
        "source": source,
        "train_command": tcfg.get("command", ""),
        "init_checkpoint": tcfg.get("init_checkpoint"),
        "preset": tcfg.get("preset"),
        "epochs": round(float(ckpt.get("epochs_done", 0.0)) + float(ckpt.get("base_epochs", 0.0)), 3),
        "finetune_epochs": round(float(ckpt.get("epochs_done", 0.0)), 3) if tcfg.get("init_checkpoint") else None,
        "train_wall_s": round(float(ckpt.get("elapsed_s", 0.0)), 1),
        "activity_sparsity": 1.0 - sum(active) / sum(unit_steps),
        "activity_sparsity_per_layer": [round(1.0 - a / n, 6) for a, n in zip(active, unit_steps)],
        "activity_sparsity_scope": "full split" if perplexity else f"first {keep} tokens",
        "perplexity_tokens": int(full.size(0) - 1),
        "decoder_macs_per_token": int(model_dense_macs(mcfg)["decoder"]),
        "units_without_fanout": _units_without_fanout(model),
        "training": training_summary(_run_of(ckpt, run_checkpoint), ckpt),
        "recipe": {k: tcfg.get(k) for k in RECIPE_KEYS if k in tcfg},
        "dropout": {k: getattr(mcfg, k) for k in ("dropout_emb", "dropout_layers", "dropout_out", "weight_dropout")},
        "git_commit": git_commit(),
        "checkpoint": str(checkpoint),
    }
    trace = build_trace(model, data[:keep].numpy(), ev, outs, meta, with_values)
    dense = dense_macs_per_token(trace)
    synops = synops_per_step(trace)
    trace.meta["dense_macs_per_token"] = dense
    trace.meta["effective_macs_per_token"] = float(synops.sum() / trace.n_tokens)
    path = save_trace(trace, out)
    return trace, path
