"""Event-based gated recurrent unit (EGRU; Subramoney et al., ICLR 2023).

One layer, vectorised over units and batch. Two implementations fill the
same outputs: ``impl="reference"`` loops over :func:`egru_step` under autograd;
``impl="fused"`` (default) runs :func:`neurosim.models.fused.egru_sequence`,
whose backward pass is written out by hand (about 2x faster on one CPU thread,
``benchmarks/bench_train.py``). Weights use PyTorch's stacked layout: ``weight_ih`` is
``[3*H, in]`` and ``weight_hh`` is ``[3*H, H]``, gate-major rows in the order
update ``u``, reset ``r``, candidate ``z``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .fused import egru_sequence

GATES = 3
IMPLS = ("fused", "reference")


def check_impl(impl: str) -> str:
    """``impl`` if it names a layer implementation, else a ValueError listing the choices."""
    if impl not in IMPLS:
        raise ValueError(f"impl: is {impl!r}, allowed: {list(IMPLS)}")
    return impl


class _Heaviside(torch.autograd.Function):
    """``H(v)`` forward; ``gamma * max(0, 1 - eps*|v|)`` backward."""

    @staticmethod
    def forward(ctx, v: torch.Tensor, gamma: float, eps: float) -> torch.Tensor:
        ctx.save_for_backward(v)
        ctx.gamma = gamma
        ctx.eps = eps
        return (v > 0).to(v.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (v,) = ctx.saved_tensors
        pseudo = ctx.gamma * torch.clamp(1.0 - ctx.eps * v.abs(), min=0.0)
        return grad * pseudo, None, None


def heaviside(v: torch.Tensor, gamma: float = 0.7, eps: float = 1.0) -> torch.Tensor:
    """Step function with the EGRU pseudo-derivative."""
    return _Heaviside.apply(v, gamma, eps)


def egru_step(
    gx: torch.Tensor,
    y: torch.Tensor,
    c: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_hh: torch.Tensor,
    theta: torch.Tensor,
    gamma: float,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """One EGRU step for a batch.

    Parameters
    ----------
    gx : [B, 3H] input projection ``W x + b`` of this step.
    y, c : [B, H] previous (sparse) output and internal state.
    weight_hh : [3H, H]; bias_hh : [3H]; theta : [H] thresholds.

    Returns
    -------
    y, c, e, c_hat : each [B, H].
    """
    gh = F.linear(y, weight_hh, bias_hh)
    xu, xr, xz = gx.chunk(3, dim=1)
    hu, hr, hz = gh.chunk(3, dim=1)
    u = torch.sigmoid(xu + hu)
    r = torch.sigmoid(xr + hr)
    z = torch.tanh(xz + r * hz)
    c_hat = u * c + (1.0 - u) * z
    e = heaviside(c_hat - theta, gamma, eps)
    y_new = c_hat * e
    c_new = c_hat - theta * e
    return y_new, c_new, e, c_hat


class EGRU(nn.Module):
    """One EGRU layer over a ``[T, B, in]`` sequence.

    Parameters
    ----------
    input_size, hidden_size : layer sizes.
    thr_mean, thr_std : thresholds start as ``|N(thr_mean, thr_std)|``; they are learnable.
    gamma, eps : height and inverse width of the pseudo-derivative.
    weight_dropout : DropConnect probability on ``weight_hh`` while training.
    impl : ``"fused"`` (hand-written BPTT) or ``"reference"`` (autograd over :func:`egru_step`).

    Examples
    --------
    >>> layer = EGRU(4, 8)
    >>> y, state, e = layer(torch.zeros(5, 2, 4))
    >>> tuple(y.shape), tuple(e.shape)
    ((5, 2, 8), (5, 2, 8))
    """

    gates = GATES

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        thr_mean: float = 0.3,
        thr_std: float = 0.05,
        gamma: float = 0.7,
        eps: float = 1.0,
        weight_dropout: float = 0.0,
        impl: str = "fused",
    ) -> None:
        super().__init__()
        self.impl = check_impl(impl)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.gamma = gamma
        self.eps = eps
        self.weight_dropout = weight_dropout
        self.weight_ih = nn.Parameter(torch.empty(GATES * hidden_size, input_size))
        self.weight_hh = nn.Parameter(torch.empty(GATES * hidden_size, hidden_size))
        self.bias_ih = nn.Parameter(torch.empty(GATES * hidden_size))
        self.bias_hh = nn.Parameter(torch.empty(GATES * hidden_size))
        self.theta = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters(thr_mean, thr_std)

    def reset_parameters(self, thr_mean: float = 0.3, thr_std: float = 0.05) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
            nn.init.uniform_(p, -bound, bound)
        with torch.no_grad():
            self.theta.copy_(torch.randn(self.hidden_size).mul_(thr_std).add_(thr_mean).abs_())

    def init_state(self, batch: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(batch, self.hidden_size, device=device)
        return z, z.clone()

    def forward(self, x: torch.Tensor, state=None):
        """Run the layer.

        Returns
        -------
        y : [T, B, H] sparse outputs; state : (y_T, c_T); events : [T, B, H] (0/1).
        """
        T, B, _ = x.shape
        y, c = self.init_state(B, x.device) if state is None else state
        w_hh = self.weight_hh
        if self.training and self.weight_dropout > 0:
            w_hh = F.dropout(w_hh, self.weight_dropout, training=True)
        gx_all = F.linear(x, self.weight_ih, self.bias_ih)
        theta = self.theta
        if self.impl == "fused":
            return egru_sequence(gx_all, y, c, w_hh, self.bias_hh, theta, self.gamma, self.eps)
        ys, es = [], []
        for t in range(T):
            y, c, e, _ = egru_step(gx_all[t], y, c, w_hh, self.bias_hh, theta, self.gamma, self.eps)
            ys.append(y)
            es.append(e)
        return torch.stack(ys), (y, c), torch.stack(es)
