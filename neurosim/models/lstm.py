"""LSTM layer with the same interface as :class:`neurosim.models.egru.EGRU`.

Stacked PyTorch layout, gates ``i, f, g, o``: ``weight_ih`` ``[4H, in]``,
``weight_hh`` ``[4H, H]``. An "event" of an LSTM unit is ``h != 0``.
``impl="fused"`` (default) runs :func:`neurosim.models.fused.lstm_sequence`;
``impl="reference"`` the autograd loop below.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .egru import check_impl
from .fused import lstm_sequence

GATES = 4


class LSTM(nn.Module):
    """One LSTM layer over a ``[T, B, in]`` sequence, with DropConnect on ``weight_hh``."""

    gates = GATES

    def __init__(self, input_size: int, hidden_size: int, weight_dropout: float = 0.0, impl: str = "fused") -> None:
        super().__init__()
        self.impl = check_impl(impl)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.weight_dropout = weight_dropout
        self.weight_ih = nn.Parameter(torch.empty(GATES * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(GATES * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(GATES * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(GATES * hidden_size))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def init_state(self, batch: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(batch, self.hidden_size, device=device)
        return z, z.clone()

    def forward(self, x: torch.Tensor, state=None):
        """Returns ``h [T, B, H]``, ``(h_T, c_T)`` and events ``(h != 0)`` as float."""
        T, B, _ = x.shape
        h, c = self.init_state(B, x.device) if state is None else state
        w_hh = self.weight_hh
        if self.training and self.weight_dropout > 0:
            w_hh = F.dropout(w_hh, self.weight_dropout, training=True)
        gx_all = F.linear(x, self.weight_ih, self.bias_ih)
        if self.impl == "fused":
            return lstm_sequence(gx_all, h, c, w_hh, self.bias_hh)
        hs = []
        for t in range(T):
            g = gx_all[t] + F.linear(h, w_hh, self.bias_hh)
            i, f, gg, o = g.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            hs.append(h)
        out = torch.stack(hs)
        return out, (h, c), (out != 0).to(out.dtype)
