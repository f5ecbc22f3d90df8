"""The terms of the composite loss (docs/method.md §4): entropy term, CEC, and the authors' recipe terms.

The task loss itself is the head's (`FusionModel.head_type.loss`): cross-entropy for softmax heads,
binary cross-entropy for sigmoid heads.
"""

from __future__ import annotations

import math

import torch

from aecf.metrics import subset_pairs


def gate_entropy(gate: torch.Tensor) -> torch.Tensor:
    """H(p) = -Σ_m p_m log p_m in nats, with 0 log 0 = 0 (absent modalities contribute nothing): [B, M] -> [B]."""
    return -(gate * torch.log(gate.clamp_min(1e-12))).sum(dim=-1)


def entropy_term(gate: torch.Tensor, lam: torch.Tensor | float) -> torch.Tensor:
    """-E_x[λ(x) · H(p(x))]: minimising it *raises* the gate entropy, more where λ(x) is large."""
    return -(torch.as_tensor(lam, dtype=gate.dtype) * gate_entropy(gate)).mean()


def cec_loss(
    confidence: torch.Tensor, subsets: list[tuple[int, ...]], valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Contrastive Expert Calibration: mean over (example, A ⊊ B) of max(0, c(A) - c(B))².

    confidence: [S, B], c(S) of each subset (rows in `subsets` order); valid: bool [S, B], False where a
    subset is not available for an example (then no pair ending in it counts).
    """
    pairs = subset_pairs(subsets)
    if not pairs:
        return confidence.new_zeros(())
    a = torch.tensor([p[0] for p in pairs], device=confidence.device)
    b = torch.tensor([p[1] for p in pairs], device=confidence.device)
    hinge = torch.relu(confidence[a] - confidence[b]).square()  # [P, B]
    if valid is None:
        return hinge.mean()
    w = valid[b].to(hinge.dtype)
    return (hinge * w).sum() / w.sum().clamp_min(1.0)


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
