"""Pruning of the recurrent-layer weight matrices: magnitude and NeuroPrune.

Every input and recurrent matrix of every recurrent layer is pruned on its
own to the same sparsity (exactly ``round(s * numel)`` zeros). Masks are
buffers of the :class:`Pruner`; :meth:`Pruner.apply` re-zeroes pruned weights
after every optimiser step, so they stay zero. :class:`NeuroPrunePruner` adds
a preferential-attachment penalty to the loss and removes redundant units
before the magnitude step (``docs/models.md`` says what was taken from
Dhurandhar et al. 2024 and what was adapted).
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

    method = "magnitude"

    def regularizer(self):
        """Extra loss term (a scalar tensor), or None: plain magnitude pruning adds none."""
        return

    def observe(self, events: list[torch.Tensor]) -> None:
        """See the events of a training step (magnitude pruning ignores them)."""

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
        return {"method": self.method, "sparsity": self.sparsity, "masks": {k: v.clone() for k, v in self.masks.items()}}

    def load_state_dict(self, state: dict) -> None:
        self.sparsity = float(state["sparsity"])
        for k, v in state["masks"].items():
            self.masks[k] = v.clone().bool()
        self.apply()


def _unit_out_columns(model: LanguageModel) -> list[list[tuple[str, torch.Tensor]]]:
    """For each recurrent layer, the matrices whose columns are that layer's units' outgoing synapses.

    Unit ``j`` of layer ``l`` sends through column ``j`` of ``layers[l].weight_hh`` and, below the
    top layer, column ``j`` of ``layers[l+1].weight_ih``. (The top layer also feeds the dense decoder,
    which is not pruned.)
    """
    out = []
    n = len(model.layers)
    for l, layer in enumerate(model.layers):
        mats = [(f"layers.{l}.weight_hh", layer.weight_hh)]
        if l + 1 < n:
            mats.append((f"layers.{l + 1}.weight_ih", model.layers[l + 1].weight_ih))
        out.append(mats)
    return out


def preferential_attachment_penalty(weights: list[torch.Tensor], max_coef: float = 10.0) -> torch.Tensor:
    """Sum over matrices of ``sum_ij |W_ij| * min(max_coef, mean(s) / s_j)``, ``s_j`` the detached l1 norm of column j.

    The columns are presynaptic units; a synapse leaving a strongly connected unit is penalised
    less than one leaving a weak unit, so under this l1 penalty strength flows to units that
    already have it (rich get richer) and fan-out becomes heavy-tailed. ``max_coef`` bounds the
    penalty of nearly disconnected units, whose synapses would otherwise dominate the gradient.
    """
    total = weights[0].new_zeros(())
    for w in weights:
        a = w.abs()
        s = a.detach().sum(0)
        coef = (s.mean() / s.clamp_min(1e-30)).clamp(max=max_coef)
        total = total + (a * coef).sum()
    return total


def greedy_dominating_set(adjacency: torch.Tensor) -> torch.Tensor:
    """Boolean keep-mask of a dominating set of the undirected graph ``adjacency`` (greedy, deterministic).

    Repeatedly keeps the node that covers the most uncovered nodes (itself and its neighbours; ties
    to the lowest index) until every node is covered. Isolated nodes are always kept.
    """
    n = adjacency.shape[0]
    adj = adjacency.clone().bool()
    adj.fill_diagonal_(True)
    covered = torch.zeros(n, dtype=torch.bool)
    keep = torch.zeros(n, dtype=torch.bool)
    while not covered.all():
        gain = (adj & ~covered.unsqueeze(0)).sum(1)
        gain[keep] = -1
        j = int(torch.argmax(gain))
        keep[j] = True
        covered |= adj[j]
    return keep


class NeuroPrunePruner(Pruner):
    """NeuroPrune's recurrent analogue: preferential-attachment l1, redundant-unit removal, magnitude masks.

    Parameters
    ----------
    model : the language model.
    reg : weight of :func:`preferential_attachment_penalty` over all recurrent-layer matrices.
    redundancy : two units of a layer are redundant when the cosine similarity of what they send
        exceeds this: for an EGRU, their event trains observed since the last mask update
        (:meth:`observe`); for an LSTM (dense outputs) or before any observation, their outgoing
        synapses (all matrices of :func:`_unit_out_columns`, after masking). At every mask update
        each layer keeps a greedy dominating set of the redundancy graph; the other units, and EGRU
        units that emitted no event in the window, are candidates, removed (all their outgoing
        synapses) silent first, then by fewest events, as many as keep every matrix within the
        target sparsity.
    max_removed : at most this fraction of each layer's units is ever removed (an untrained EGRU is
        almost silent; without a cap the first windows would remove most units).
    """

    method = "neuroprune"

    def __init__(
        self, model: LanguageModel, reg: float = 1e-5, redundancy: float = 0.9, max_removed: float = 0.25
    ) -> None:
        super().__init__(model)
        self.reg = reg
        self.redundancy = redundancy
        self.max_removed = max_removed
        self.out_columns = _unit_out_columns(model)
        self.removed = [torch.zeros(layer.hidden_size, dtype=torch.bool) for layer in model.layers]
        self.event_based = all(hasattr(layer, "theta") for layer in model.layers)
        self._reset_observations()

    def _reset_observations(self) -> None:
        self.n_obs = 0
        self.counts = [None for _ in self.out_columns]
        self.coact = [None for _ in self.out_columns]

    @torch.no_grad()
    def observe(self, events: list[torch.Tensor]) -> None:
        """Accumulate per-unit event counts and co-activations (EGRU) for the next mask update."""
        if not self.event_based:
            return
        for l, e in enumerate(events):
            e = e.detach().reshape(-1, e.shape[-1])
            c, co = e.sum(0), e.t() @ e
            self.counts[l] = c if self.counts[l] is None else self.counts[l] + c
            self.coact[l] = co if self.coact[l] is None else self.coact[l] + co
        self.n_obs += events[0].shape[0] * events[0].shape[1]

    def regularizer(self):
        if self.reg <= 0:
            return None
        return self.reg * preferential_attachment_penalty([p for _, p in self.params])

    @torch.no_grad()
    def _redundant_units(self, l: int) -> torch.Tensor:
        cols = torch.cat([(p * self.masks[name]).detach() for name, p in self.out_columns[l]], 0)
        norm = cols.norm(dim=0)
        alive = (norm > 0) & ~self.removed[l]
        silent = torch.zeros_like(alive)
        if self.event_based and self.counts[l] is not None:
            c = self.counts[l]
            silent = alive & (c == 0)
            scale = c.clamp_min(1.0).sqrt()
            sim = self.coact[l] / scale.unsqueeze(0) / scale.unsqueeze(1)
            active = alive & ~silent
        else:
            unit = cols / norm.clamp_min(1e-12)
            sim = unit.t() @ unit
            active = alive
        adj = (sim > self.redundancy) & active.unsqueeze(0) & active.unsqueeze(1)
        keep = greedy_dominating_set(adj)
        return silent | (active & ~keep)

    def prune_to(self, sparsity: float) -> None:
        if sparsity <= self.sparsity:
            return
        with torch.no_grad():
            for l, mats in enumerate(self.out_columns):
                drop = self._redundant_units(l)
                if not drop.any():
                    continue
                # silent units first, then redundant ones with the fewest events (LSTM: weakest synapses);
                # remove the longest prefix that keeps every affected matrix within the target sparsity
                cand = torch.nonzero(drop).flatten()
                if self.event_based and self.counts[l] is not None:
                    key = self.counts[l][cand]
                else:
                    key = torch.cat([(p * self.masks[n]).detach().abs().sum(0, keepdim=True) for n, p in mats]).sum(0)[cand]
                cand = cand[torch.argsort(key, stable=True)]
                cap = int(self.max_removed * len(self.removed[l])) - int(self.removed[l].sum())
                k = max(0, min(len(cand), cap))
                for name, p in mats:
                    budget = round(sparsity * p.numel()) - int((~self.masks[name]).sum())
                    cost = torch.cumsum(self.masks[name][:, cand].sum(0), 0)
                    k = min(k, int((cost <= budget).sum()))
                if k > 0:
                    chosen = cand[:k]
                    for name, _ in mats:
                        self.masks[name][:, chosen] = False
                    self.removed[l][chosen] = True
        self._reset_observations()
        super().prune_to(sparsity)

    def units_removed(self) -> list[int]:
        """Per layer, units with no outgoing synapse left in the pruned matrices."""
        out = []
        for l, mats in enumerate(self.out_columns):
            alive = torch.zeros(mats[0][1].shape[1], dtype=torch.bool)
            for name, _ in mats:
                alive |= self.masks[name].any(0)
            out.append(int((~alive).sum()))
        return out

    def state_dict(self) -> dict:
        d = super().state_dict()
        d["removed"] = [r.clone() for r in self.removed]
        return d

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "removed" in state:
            self.removed = [torch.as_tensor(r).clone().bool() for r in state["removed"]]


PRUNING = ("magnitude", "neuroprune")


def make_pruner(
    model: LanguageModel, method: str = "magnitude", reg: float = 1e-5, redundancy: float = 0.9, max_removed: float = 0.25
) -> Pruner:
    """A :class:`Pruner` (``"magnitude"``) or :class:`NeuroPrunePruner` (``"neuroprune"``) for ``model``."""
    if method == "magnitude":
        return Pruner(model)
    if method == "neuroprune":
        return NeuroPrunePruner(model, reg=reg, redundancy=redundancy, max_removed=max_removed)
    raise ValueError(f"--pruning: is {method!r}, allowed: {list(PRUNING)}")


def measured_weight_sparsity(model: LanguageModel) -> float:
    """Fraction of zero weights over all recurrent-layer matrices."""
    params = recurrent_weights(model)
    zeros = sum(int((p == 0).sum()) for _, p in params)
    return zeros / sum(p.numel() for _, p in params)
