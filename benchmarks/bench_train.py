"""Training throughput, reference vs fused recurrent layers, measured in one run.

Usage (from the repository root)::

    python benchmarks/bench_train.py                 # cpu preset, batch 20 and 64, bptt 35, 1 thread
    python benchmarks/bench_train.py --batch 20 --reps 5

For each model (LSTM, EGRU) and batch size it times, with random tokens and one torch thread:

- ``layers``: forward + backward of the recurrent layers alone (embedding-sized random input,
  loss = sum of outputs and events), the part the fused kernels replace;
- ``train step``: a full training step as in :func:`neurosim.models.train.train` (embedding,
  recurrent layers, tied decoder, cross-entropy, backward, gradient clipping, Adam);
- ``decoder``: forward + backward of the decoder and cross-entropy alone, which both
  implementations share (it bounds the speed-up of the full step).

Reference and fused runs alternate rep by rep so that load from other processes hits both
alike; each figure is the median over ``--reps``. Tokens/s = batch x bptt / seconds, where the
seconds are this process's CPU time (``time.process_time``): the machine these numbers come from
is shared, and with one torch thread CPU time is what the step costs, whatever else is running.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from neurosim.models.lm import PRESETS, LanguageModel, ModelConfig


def _timer(fn) -> float:
    """CPU seconds of ``fn()`` in this process: on a shared machine, wall time measures the neighbours."""
    t = time.process_time()
    fn()
    return time.process_time() - t


def bench(model_name: str, batch: int, bptt: int, reps: int, vocab: int) -> dict:
    torch.manual_seed(0)
    model = LanguageModel(ModelConfig(model=model_name, vocab_size=vocab, **PRESETS["cpu"]))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randint(0, vocab, (bptt, batch))
    y = torch.randint(0, vocab, (bptt, batch))
    emb = torch.randn(bptt, batch, model.config.emb_size, requires_grad=True)

    def train_step():
        logits, _, events = model(x)
        loss = F.cross_entropy(logits.view(-1, vocab), y.view(-1))
        loss = loss + 0.0 * torch.stack([e.mean() for e in events]).sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
        opt.step()

    def layers_step():
        h, total = emb, 0.0
        for layer in model.layers:
            h, _, e = layer(h)
            total = total + e.sum()
        (h.sum() + total).backward()

    h_top = torch.randn(bptt, batch, model.config.hidden_sizes[-1], requires_grad=True)

    def decoder_step():
        F.cross_entropy(model.decoder(h_top).view(-1, vocab), y.view(-1)).backward()

    out = {}
    for part, fn in (("layers", layers_step), ("train step", train_step)):
        times = {"reference": [], "fused": []}
        for impl in times:  # warm-up
            model.set_impl(impl)
            fn()
        for _ in range(reps):
            for impl, samples in times.items():
                model.set_impl(impl)
                samples.append(_timer(fn))
        out[part] = {impl: statistics.median(t) for impl, t in times.items()}
    decoder_step()
    out["decoder"] = statistics.median(_timer(decoder_step) for _ in range(reps))
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="training tokens/s, reference vs fused recurrent layers")
    p.add_argument("--batch", type=int, nargs="+", default=[20, 64])
    p.add_argument("--bptt", type=int, default=35)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--vocab", type=int, default=10000, help="decoder size (PTB: 10,000)")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"cpu preset {PRESETS['cpu']['emb_size']}, {PRESETS['cpu']['hidden_sizes']}; vocab {args.vocab}; "
          f"bptt {args.bptt}; {args.threads} thread(s); median of {args.reps}")
    print(f"{'model':5} {'batch':>5} {'part':10} {'reference tok/s':>16} {'fused tok/s':>12} {'speed-up':>9}")
    for model_name in ("lstm", "egru"):
        for batch in args.batch:
            r = bench(model_name, batch, args.bptt, args.reps, args.vocab)
            tokens = batch * args.bptt
            for part in ("layers", "train step"):
                ref, fus = r[part]["reference"], r[part]["fused"]
                print(f"{model_name:5} {batch:5d} {part:10} {tokens / ref:16,.0f} {tokens / fus:12,.0f} {ref / fus:8.2f}x")
            share = r["decoder"] / r["train step"]["fused"]
            print(f"{model_name:5} {batch:5d} {'decoder':10} {tokens / r['decoder']:16,.0f} {'(shared)':>12} "
                  f"{share:8.0%} of the fused step")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
