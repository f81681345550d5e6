"""Probe behind a training-speed idea that was not kept: one autograd Function for the tied decoder and its loss.

Usage (from the repository root; about a minute on one thread)::

    python benchmarks/probe_decoder.py                  # PTB (10,000 words) and WikiText-2 (33,278)
    python benchmarks/probe_decoder.py --vocab 10000 --reps 9

The training step's decoder is ``F.cross_entropy(F.linear(h, W, b), y)`` and its backward (three matrix
products of ``[B*T, H] x [H, V]`` shape, plus log-softmax buffers). The probe's ``LinearCrossEntropy`` does
the same arithmetic in one ``torch.autograd.Function``: the forward keeps the logits and their log-sum-exp,
the backward turns the logits into the gradient in place (no log-softmax output, no one-hot gradient
buffer). It checks that both give the same gradients (float32, relative 1e-5), then prints the best of
``--reps`` forward+backward times of each, alternated, and their ratio. Measured 2026-12-01 with the
training jobs paused, three runs: 0.95-1.02x on PTB, 1.01-1.14x on WikiText-2 (docs/models.md section 1):
the products dominate, so the Function was not adopted.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable


class LinearCrossEntropy(torch.autograd.Function):
    """Mean cross-entropy of ``x @ w.T + b`` against ``y``, the logits reused in place for the gradient."""

    @staticmethod
    def forward(ctx, x, w, b, y):
        logits = torch.addmm(b, x, w.t())
        lse = torch.logsumexp(logits, 1)
        loss = (lse - logits.gather(1, y[:, None]).squeeze(1)).mean()
        ctx.save_for_backward(x, w, logits, lse, y)
        return loss

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        x, w, logits, lse, y = ctx.saved_tensors
        n = x.shape[0]
        grad = logits.sub_(lse[:, None]).exp_().mul_(g / n)  # softmax, scaled: the logits are not needed again
        grad[torch.arange(n), y] -= g / n
        return grad @ w, grad.t() @ x, grad.sum(0), None


def probe(vocab: int, tokens: int, hidden: int, reps: int) -> dict:
    torch.manual_seed(0)
    x = torch.randn(tokens, hidden, requires_grad=True)
    w = (0.05 * torch.randn(vocab, hidden)).requires_grad_()
    b = torch.zeros(vocab, requires_grad=True)
    y = torch.randint(0, vocab, (tokens,))
    steps = {
        "cross_entropy": lambda: F.cross_entropy(F.linear(x, w, b), y).backward(),
        "fused": lambda: LinearCrossEntropy.apply(x, w, b, y).backward(),
    }
    grads = {}
    for name, step in steps.items():
        for p in (x, w, b):
            p.grad = None
        step()
        grads[name] = [p.grad.clone() for p in (x, w, b)]
    for ref, new in zip(grads["cross_entropy"], grads["fused"]):
        assert torch.allclose(ref, new, rtol=1e-5, atol=1e-5 * float(ref.abs().max())), "gradients differ"
    best = dict.fromkeys(steps, float("inf"))
    for _ in range(reps):
        for name, step in steps.items():
            for p in (x, w, b):
                p.grad = None
            t0 = time.perf_counter()
            step()
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, nargs="+", default=[10000, 33278])
    p.add_argument("--tokens", type=int, default=700, help="B x T of one training step (20 x 35)")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{'vocab':>7} {'cross_entropy ms':>17} {'fused ms':>9} {'speed-up':>9}")
    for vocab in args.vocab:
        best = probe(vocab, args.tokens, args.hidden, args.reps)
        print(f"{vocab:7d} {best['cross_entropy'] * 1e3:17.1f} {best['fused'] * 1e3:9.1f} "
              f"{best['cross_entropy'] / best['fused']:9.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
