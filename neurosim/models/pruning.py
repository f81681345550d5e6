"""Magnitude pruning of the recurrent-layer weight matrices.

Every input and recurrent matrix of every recurrent layer is pruned on its
own to the same sparsity (exactly ``round(s * numel)`` zeros). Masks are
buffers of the :class:`Pruner`; :meth:`Pruner.apply` re-zeroes pruned weights
after every optimiser step, so they stay zero.
"""

from __future__ import annotations

import torch

from .lm import LanguageModel, recurrent_weights


def cubic_sparsity(step: int, final: float, start_step: int, end_step: int, initial: float = 0.0) -> float:
    """Zhu & Gupta (2017) schedule: ``s_f + (s_i - s_f) * (1 - progress)^3``."""
    if final <= 0.0:
        return 0.0
    if step < start_step:
        return initial if step >= 0 and initial > 0 else 0.0
    if step >= end_step or end_step <= start_step:
        return final
    progress = (step - start_step) / (end_step - start_step)
    return final + (initial - final) * (1.0 - progress) ** 3


def magnitude_mask(weight: torch.Tensor, sparsity: float, old_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mask keeping all but the ``round(sparsity * numel)`` smallest-magnitude weights.

    Weights already pruned by ``old_mask`` are pruned first, so masks only shrink.
    """
    n = weight.numel()
    k = round(sparsity * n)
    score = weight.detach().abs().flatten().clone()
    if old_mask is not None:
        score[~old_mask.flatten()] = -1.0
    mask = torch.ones(n, dtype=torch.bool, device=weight.device)
    if k > 0:
        idx = torch.argsort(score, stable=True)[:k]
        mask[idx] = False
    return mask.view_as(weight)


class Pruner:
    """Holds one mask per recurrent-layer matrix of ``model``."""

    def __init__(self, model: LanguageModel) -> None:
        self.params = recurrent_weights(model)
        self.masks = {name: torch.ones_like(p, dtype=torch.bool) for name, p in self.params}
        self.sparsity = 0.0

    def prune_to(self, sparsity: float) -> None:
        """Shrink every mask to ``sparsity`` (never below the current masks) and zero the weights."""
        if sparsity <= self.sparsity:
            return
        for name, p in self.params:
            self.masks[name] = magnitude_mask(p, sparsity, self.masks[name])
        self.sparsity = sparsity
        self.apply()

    @torch.no_grad()
    def apply(self) -> None:
        for name, p in self.params:
            p.mul_(self.masks[name])

    def measured_sparsity(self) -> float:
        zeros = sum(int((p == 0).sum()) for _, p in self.params)
        return zeros / sum(p.numel() for _, p in self.params)

    def state_dict(self) -> dict:
        return {"sparsity": self.sparsity, "masks": {k: v.clone() for k, v in self.masks.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.sparsity = float(state["sparsity"])
        for k, v in state["masks"].items():
            self.masks[k] = v.clone().bool()
        self.apply()


def measured_weight_sparsity(model: LanguageModel) -> float:
    """Fraction of zero weights over all recurrent-layer matrices."""
    params = recurrent_weights(model)
    zeros = sum(int((p == 0).sum()) for _, p in params)
    return zeros / sum(p.numel() for _, p in params)
