"""The terms of the composite loss (docs/method.md §4): task loss, entropy term, CEC, and the authors'
recipe terms.

The task loss is the head's (`FusionModel.head_type.loss`): cross-entropy for softmax heads, binary
cross-entropy for sigmoid heads; `task_loss` picks it from the targets for code outside the trainer.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from aecf.metrics import nonempty_subsets, subset_pairs

MAX_CEC_SUBSETS = 16  # beyond 4 modalities CEC compares a sampled family of this many subsets per step


def task_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy for class indices [B]; binary cross-entropy (mean over labels) for 0/1 targets [B, C]."""
    if target.ndim == 2:
        return F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype))
    return F.cross_entropy(logits, target)


def gate_entropy(gate: torch.Tensor) -> torch.Tensor:
    """H(p) = -Σ_m p_m log p_m in nats, with 0 log 0 = 0 (absent modalities contribute nothing): [B, M] -> [B]."""
    return -(gate * torch.log(gate.clamp_min(1e-12))).sum(dim=-1)


def entropy_term(gate: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """-E_x[λ(x) · H(p(x))]: minimising it *raises* the gate entropy, more where λ(x) is large."""
    return -(torch.as_tensor(lam, dtype=gate.dtype) * gate_entropy(gate)).mean()


def cec_loss(
    confidence: torch.Tensor,
    subsets: list[tuple[int, ...]],
    valid: torch.Tensor | None = None,
    squared: bool = True,
    pair_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Contrastive Expert Calibration: mean over (example, A ⊊ B) of max(0, c(A) - c(B))^k, k = 2 (squared,
    the paper's) or 1.

    confidence: [S, B], c(S) of each subset (rows in `subsets` order); valid: bool [S, B], False where a
    subset is not available for an example (a modality missing in the data: then no pair ending in it
    counts); pair_mask: bool [P, B] over `subset_pairs(subsets)`, False for pairs left out (e.g.
    `supported_pairs`). The mean is over the pairs that count.
    """
    pairs = subset_pairs(subsets)
    if not pairs:
        return confidence.new_zeros(())
    a = torch.tensor([p[0] for p in pairs], device=confidence.device)
    b = torch.tensor([p[1] for p in pairs], device=confidence.device)
    hinge = torch.relu(confidence[a] - confidence[b])  # [P, B]
    if squared:
        hinge = hinge.square()
    w = torch.ones_like(hinge) if valid is None else valid[b].to(hinge.dtype)
    if pair_mask is not None:
        w = w * pair_mask.to(hinge.dtype)
    return (hinge * w).sum() / w.sum().clamp_min(1.0)


def chance_log_likelihood(head: str, num_classes: int) -> float:
    """log p(y) of a guess: log(1/C) for a softmax head, log(1/2) per label for a sigmoid head."""
    return math.log(1 / num_classes) if head == "softmax" else math.log(0.5)


def supported_pairs(
    log_likelihood: torch.Tensor, subsets: list[tuple[int, ...]], threshold: float
) -> torch.Tensor:
    """The one definition of a supported pair, used by CEC in training and by the evaluation's
    `monotonicity.supported`: for every pair A ⊊ B (subset_pairs order) and example, does what B adds
    support the true label?

    log_likelihood: [S, B], log p(y | only that subset) of the true label (detached; the head's own loss,
    negated). A pair is supported when the model restricted to B \\ A gives the true label at least
    `threshold` (`chance_log_likelihood`: 1/C); where it does not, the added modalities are counter-evidence
    (a wrong caption), confidence may rightly fall, and CEC leaves the pair alone. A pair whose B \\ A is
    not among `subsets` (a sampled family) is not supported. Returns bool [P, B].
    """
    index = {s: i for i, s in enumerate(subsets)}
    rows = []
    for a, b in subset_pairs(subsets):
        added = tuple(m for m in subsets[b] if m not in subsets[a])
        if added in index:
            rows.append(log_likelihood[index[added]] >= threshold)
        else:
            rows.append(torch.zeros_like(log_likelihood[0], dtype=torch.bool))
    return (
        torch.stack(rows)
        if rows
        else log_likelihood.new_zeros((0, log_likelihood.shape[1]), dtype=torch.bool)
    )


def cec_subsets(
    num_modalities: int, max_subsets: int = MAX_CEC_SUBSETS, generator: torch.Generator | None = None
) -> list[tuple[int, ...]]:
    """The subsets CEC compares in one step: all 2^M - 1 when that is at most `max_subsets` (M ≤ 4), else
    every single modality, the full set, and random subsets drawn with their complements (so that the pairs
    (S, all) and (all \\ S, all) can be judged supported) up to `max_subsets`; by size, singletons first."""
    M = num_modalities
    every = nonempty_subsets(M)
    if len(every) <= max_subsets:
        return every
    full = tuple(range(M))
    chosen = {(m,) for m in range(M)} | {full}
    middle = [s for s in every if 1 < len(s) < M]
    order = torch.randperm(len(middle), generator=generator).tolist()
    for i in order:
        if len(chosen) >= max_subsets:
            break
        s = middle[i]
        complement = tuple(m for m in full if m not in s)
        chosen.add(s)
        if len(complement) > 1 and len(chosen) < max_subsets:
            chosen.add(complement)
    return sorted(chosen, key=lambda s: (len(s), s))


def gate_responsibility_loss(
    gate: torch.Tensor, expert_log_likelihood: torch.Tensor, present: torch.Tensor, tau: float = 1.0
) -> torch.Tensor:
    """Cross-entropy from the experts' responsibilities to the gate: -E_x Σ_m r_m log p_m, with
    r_m ∝ p(y | z_m)^(1/τ) over the present modalities (the posterior responsibility of expert m in a mixture
    of experts; detached). It asks the gate to trust the modality that, alone, gives the true label the most
    probability — exact captions over partial ones, clean images over corrupted ones, never a wrong caption.

    gate: [B, M]; expert_log_likelihood: [M, B], log p(y | only modality m); present: bool [B, M].
    """
    logits = (expert_log_likelihood.detach().T / tau).masked_fill(~present.bool(), float("-inf"))
    r = torch.softmax(logits, dim=1).masked_fill(~present.bool(), 0.0)
    return -(r * torch.log(gate.clamp_min(1e-12))).sum(dim=1).mean()


# ------------------------------------------------------------------------ the authors' public recipe


def expert_consistency_loss(
    expert_probs: torch.Tensor, fused_probs: torch.Tensor, present: torch.Tensor
) -> torch.Tensor:
    """The authors' code's "CEC": Σ_m MSE(σ(h(W_m z_m)), σ(h(f))) over present modalities, target detached.

    expert_probs: [B, M, C] (head activation of each modality alone), fused_probs: [B, C].
    """
    sq = (expert_probs - fused_probs.detach().unsqueeze(1)).square().mean(dim=-1)  # [B, M]
    w = present.to(sq.dtype)
    return ((sq * w).sum(dim=0) / w.sum(dim=0).clamp_min(1.0)).sum()


def scheduled_lambda(
    epoch: int,
    epochs: int,
    lambda_max: float = 0.05,
    free_epochs: int = 1,
    warmup_epochs: int = 5,
    decay_fraction: float = 0.1,
) -> float:
    """The authors' per-epoch λ: 0 for `free_epochs`, linear ramp to `lambda_max`, cosine decay to 0 over the
    last `decay_fraction` of training."""
    if epoch < free_epochs:
        return 0.0
    lam = lambda_max * min(1.0, (epoch - free_epochs) / max(1, warmup_epochs))
    decay_start = int((1 - decay_fraction) * epochs)
    if epoch >= decay_start:
        t = (epoch - decay_start) / max(1, epochs - decay_start)
        lam *= 0.5 * (1 + math.cos(math.pi * t))
    return lam
