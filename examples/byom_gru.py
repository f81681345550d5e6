"""Bring your own model: a pruned torch.nn.GRU language model, recorded as a trace and simulated.

Builds a small GRU language model (embedding -> 2-layer nn.GRU -> linear decoder), prunes 80% of the GRU's
weights with torch.nn.utils.prune, records a trace of it reading 128 tokens with neurosim.record, writes the
trace and prints its summary and a run on the Loihi-like chip (docs/byom.md walks through it).

    python examples/byom_gru.py --out my.npz
    neurosim run --arch loihi_like --trace my.npz

The model is untrained (random weights): the point is the path from a torch model to a report.
"""

from __future__ import annotations

import argparse

import torch
from torch.nn.utils import prune

import neurosim
from neurosim.trace import summary


class GRUModel(torch.nn.Module):
    """Embedding -> nn.GRU -> decoder, over token ids ``[T, 1]``."""

    def __init__(self, vocab: int = 200, emb: int = 32, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, emb)
        self.gru = torch.nn.GRU(emb, hidden, num_layers=layers)
        self.decoder = torch.nn.Linear(hidden, vocab)

    def forward(self, tokens):
        out, _ = self.gru(self.embedding(tokens))
        return self.decoder(out)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="my.npz", help="the trace to write (default: my.npz)")
    parser.add_argument("--tokens", type=int, default=128, help="tokens to record (default: 128)")
    parser.add_argument("--sparsity", type=float, default=0.8, help="fraction of GRU weights pruned (default: 0.8)")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    model = GRUModel()
    weights = [(model.gru, f"weight_{kind}_l{k}") for k in range(model.gru.num_layers) for kind in ("ih", "hh")]
    prune.global_unstructured(weights, pruning_method=prune.L1Unstructured, amount=args.sparsity)
    for module, name in weights:
        prune.remove(module, name)  # make the zeros permanent

    tokens = torch.randint(0, 200, (args.tokens, 1))
    trace = neurosim.record(model, tokens, name="byom_gru", dataset="random tokens")
    path = neurosim.save_trace(trace, args.out)
    info = summary(trace)
    print(f"wrote {path}: model {info['model']}, layers {info['hidden_sizes']}, gates {info['gates']}, "
          f"weight sparsity {info['weight_sparsity']:.3f}, activity sparsity {info['activity_sparsity']:.3f}")

    result = neurosim.run("loihi_like", trace)
    print(f"loihi_like: {result.synaptic_ops_per_token:,.0f} synops/token, {result.cycles_per_token:,.0f} "
          f"cycles/token, {result.energy_pj_per_token / 1e3:,.1f} nJ/token")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
