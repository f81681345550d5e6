"""Word-level language model: embedding, stacked recurrent layers, decoder."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .egru import EGRU, check_impl
from .lstm import LSTM

MODELS = ("egru", "lstm")


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a :class:`LanguageModel` (stored in checkpoints)."""

    model: str = "egru"
    vocab_size: int = 10000
    emb_size: int = 256
    hidden_sizes: tuple[int, ...] = (512, 256)
    tie_weights: bool = True
    dropout_emb: float = 0.1
    dropout_layers: float = 0.1
    dropout_out: float = 0.1
    weight_dropout: float = 0.0
    thr_mean: float = 0.3
    thr_std: float = 0.05
    gamma: float = 0.7
    eps: float = 1.0

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"--model: is {self.model!r}, allowed: {list(MODELS)}")
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        if not self.hidden_sizes or any(h < 1 for h in self.hidden_sizes):
            raise ValueError(f"hidden_sizes: is {list(self.hidden_sizes)}, allowed: a non-empty list of integers >= 1")

    @property
    def gates(self) -> int:
        return 3 if self.model == "egru" else 4

    def to_dict(self) -> dict:
        d = asdict(self)
        d["hidden_sizes"] = list(self.hidden_sizes)
        return d


# Layer sizes and dropout of the presets; the vocabulary comes from the data.
PRESETS: dict[str, dict] = {
    "paper": {
        "emb_size": 750,
        "hidden_sizes": (1350, 1350, 750),
        "tie_weights": True,
        "dropout_emb": 0.1,
        "dropout_layers": 0.25,
        "dropout_out": 0.4,
        "weight_dropout": 0.5,
    },
    "cpu": {
        "emb_size": 256,
        "hidden_sizes": (512, 256),
        "tie_weights": True,
        "dropout_emb": 0.1,
        "dropout_layers": 0.1,
        "dropout_out": 0.1,
        "weight_dropout": 0.0,
    },
    "tiny": {
        "emb_size": 16,
        "hidden_sizes": (24, 16),
        "tie_weights": True,
        "dropout_emb": 0.0,
        "dropout_layers": 0.0,
        "dropout_out": 0.0,
        "weight_dropout": 0.0,
    },
}


class LanguageModel(nn.Module):
    """Embedding -> recurrent layers -> (dropout) -> linear decoder.

    ``forward`` returns logits ``[T, B, V]``, the new state and the events of
    every layer (list of ``[T, B, H_l]`` 0/1 tensors).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        if c.tie_weights and c.hidden_sizes[-1] != c.emb_size:
            raise ValueError(
                f"tie_weights: last hidden size {c.hidden_sizes[-1]} != emb_size {c.emb_size}; allowed: equal sizes, or untied"
            )
        self.embedding = nn.Embedding(c.vocab_size, c.emb_size)
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)
        layers = []
        prev = c.emb_size
        for h in c.hidden_sizes:
            if c.model == "egru":
                layers.append(EGRU(prev, h, c.thr_mean, c.thr_std, c.gamma, c.eps, c.weight_dropout))
            else:
                layers.append(LSTM(prev, h, c.weight_dropout))
            prev = h
        self.layers = nn.ModuleList(layers)
        self.decoder = nn.Linear(prev, c.vocab_size)
        nn.init.zeros_(self.decoder.bias)
        if c.tie_weights:
            self.decoder.weight = self.embedding.weight
        else:
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def init_state(self, batch: int, device=None) -> list:
        return [layer.init_state(batch, device) for layer in self.layers]

    def set_impl(self, impl: str) -> LanguageModel:
        """Switch every recurrent layer to ``impl`` (``"fused"`` or ``"reference"``); returns ``self``."""
        check_impl(impl)
        for layer in self.layers:
            layer.impl = impl
        return self

    def forward(self, tokens: torch.Tensor, state=None):
        c = self.config
        x = F.dropout(self.embedding(tokens), c.dropout_emb, self.training)
        new_state, events = [], []
        for l, layer in enumerate(self.layers):
            x, s, e = layer(x, None if state is None else state[l])
            new_state.append(s)
            events.append(e)
            p = c.dropout_layers if l < len(self.layers) - 1 else c.dropout_out
            x = F.dropout(x, p, self.training)
        return self.decoder(x), new_state, events


def detach_state(state: list) -> list:
    return [tuple(t.detach() for t in s) for s in state]


def recurrent_weights(model: LanguageModel) -> list[tuple[str, nn.Parameter]]:
    """The input and recurrent matrices of every recurrent layer (what pruning and traces cover)."""
    out = []
    for l, layer in enumerate(model.layers):
        out.append((f"layers.{l}.weight_ih", layer.weight_ih))
        out.append((f"layers.{l}.weight_hh", layer.weight_hh))
    return out


def dense_macs_per_token(config: ModelConfig) -> dict:
    """Dense multiply-accumulates per token: recurrent layers and decoder."""
    rec = 0
    prev = config.emb_size
    for h in config.hidden_sizes:
        rec += config.gates * h * (prev + h)
        prev = h
    return {"recurrent": rec, "decoder": prev * config.vocab_size}
