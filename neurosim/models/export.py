"""Export a trained checkpoint as an activation trace (:mod:`neurosim.trace`)."""

from __future__ import annotations

import math
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


@torch.no_grad()
def run_split(model: LanguageModel, data: torch.Tensor, keep: int, chunk: int = 512):
    """Run ``model`` with batch size 1 over ``data``.

    Returns the mean cross-entropy of predicting ``data[1:]``, the events and
    outputs of every layer for the first ``keep`` steps (numpy ``[keep, H]``),
    and the number of active unit-steps and unit-steps over the whole split.
    """
    model.eval()
    state = model.init_state(1)
    n = data.size(0) - 1
    loss_sum = 0.0
    events = [[] for _ in model.layers]
    outputs = [[] for _ in model.layers]
    active, unit_steps = 0.0, 0
    for i in range(0, n, chunk):
        x = data[i : min(i + chunk, n)].view(-1, 1)
        y = data[i + 1 : min(i + chunk, n) + 1]
        emb = model.embedding(x)
        h = emb
        new_state = []
        for l, layer in enumerate(model.layers):
            h, s, e = layer(h, state[l])
            new_state.append(s)
            active += float(e.sum())
            unit_steps += e.numel()
            if i < keep:
                events[l].append(e[:, 0].numpy() > 0)
                outputs[l].append(h[:, 0].numpy())
        state = new_state
        logits = model.decoder(h)
        loss_sum += F.cross_entropy(logits.view(-1, logits.size(-1)), y, reduction="sum").item()
    ev = [np.concatenate(e)[:keep] for e in events]
    out = [np.concatenate(o)[:keep] for o in outputs]
    return loss_sum / n, ev, out, active, unit_steps


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
    tokens: int = 2048,
    data_dir: str | Path | None = None,
    values: str = "auto",
    perplexity: bool = True,
    threads: int = 1,
    source: str = "",
) -> tuple[Trace, Path]:
    """Run a checkpoint over ``split`` and write the first ``tokens`` steps as a trace.

    ``meta.perplexity`` is the perplexity over the full split (batch size 1,
    state carried through), ``meta.activity_sparsity`` the fraction of silent
    unit-steps over the full split.
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
    keep = min(tokens, data.size(0) - 1)
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
        "activity_sparsity": 1.0 - active / unit_steps,
        "activity_sparsity_scope": "full split" if perplexity else f"first {keep} tokens",
        "perplexity_tokens": int(full.size(0) - 1),
        "decoder_macs_per_token": int(model_dense_macs(mcfg)["decoder"]),
    }
    trace = build_trace(model, data[:keep].numpy(), ev, outs, meta, with_values)
    dense = dense_macs_per_token(trace)
    synops = synops_per_step(trace)
    trace.meta["dense_macs_per_token"] = dense
    trace.meta["effective_macs_per_token"] = float(synops.sum() / trace.n_tokens)
    path = save_trace(trace, out)
    return trace, path
