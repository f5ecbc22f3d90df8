"""Which modalities to hide during training: Adaptive Curriculum Masking (ACM) and random ModDrop.

Both produce a per-example, per-modality drop probability q [B, M] and share one sampler, which never
drops every modality of an example (docs/method.md §3).
"""

from __future__ import annotations

import math

import torch

from aecf.losses import gate_entropy

MAX_DROP_PROB = 0.95


def curriculum_rate(progress: float, pi_max: float, warmup: float = 0.3) -> float:
    """π_t = π_max · min(1, t / (warmup · T)): the overall drop rate ramps linearly over the first `warmup`
    fraction of training, then stays at π_max. `progress` = t / T ∈ [0, 1]."""
    if warmup <= 0:
        return pi_max
    return pi_max * min(1.0, max(0.0, progress) / warmup)


ACM_SHARPNESS = ("power", "entropy")


def acm_drop_probs(
    gate: torch.Tensor, present: torch.Tensor, rate: float, sharpness: str = "entropy", gamma: float = 1.0
) -> torch.Tensor:
    """ACM's drop probability q [B, M] of each present modality, from the detached gate.

    sharpness="power": q_m(x) = π_t · n(x) · p_m(x)^γ / Σ_{k ∈ S} p_k(x)^γ, clipped to [0, 0.95] — the
    drop probability is proportional to the gate's trust (γ = 1) or to a sharpened version of it
    (γ > 1); γ = 0 is ModDrop. sharpness="entropy" (older checkpoints): see `acm_drop_probs_entropy`.
    In both the mean of q over present modalities is π_t before clipping.
    """
    if sharpness == "entropy":
        return acm_drop_probs_entropy(gate, present, rate)
    if sharpness != "power":
        raise ValueError(f"unknown ACM sharpness {sharpness!r}; choose from {ACM_SHARPNESS}")
    gate = gate.detach()
    n = present.sum(dim=1, keepdim=True).clamp_min(1).to(gate.dtype)
    w = gate.clamp_min(1e-12).pow(gamma) * present
    q = rate * n * w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
    return q.clamp(0.0, MAX_DROP_PROB) * present


def drop_prob_ratio(q: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Per example, the most-dropped present modality's q over the least-dropped one's ([B]; 1 with one
    present modality, inf when the least-dropped one has q = 0)."""
    present = present.bool()
    hi = q.masked_fill(~present, -float("inf")).max(dim=1).values
    lo = q.masked_fill(~present, float("inf")).min(dim=1).values
    return torch.where(lo > 0, hi / lo.clamp_min(1e-12), torch.where(hi > 0, float("inf"), 1.0))


def acm_drop_probs_entropy(gate: torch.Tensor, present: torch.Tensor, rate: float) -> torch.Tensor:
    """ACM (entropy blend): q_m(x) = π_t · [(1 - s(x)) + s(x) · n(x) · p_m(x)], clipped to [0, 0.95].

    s(x) = 1 - H(p(x)) / log n(x) is the gate's sharpness (1: one modality gets all the weight, 0: uniform),
    n(x) the number of present modalities. Averaged over present modalities q equals π_t, so the curriculum
    sets the overall rate while the gate decides *which* modality to hide: a confident (low-entropy) gate
    has its favourite dropped most often; an undecided one gets uniform ModDrop. The gate is detached.
    """
    gate = gate.detach()
    n = present.sum(dim=1, keepdim=True).clamp_min(1).to(gate.dtype)
    max_entropy = torch.log(n).clamp_min(1e-12)
    sharpness = torch.where(n > 1, 1 - gate_entropy(gate).unsqueeze(1) / max_entropy, torch.zeros_like(n))
    q = rate * ((1 - sharpness) + sharpness * n * gate)
    return q.clamp(0.0, MAX_DROP_PROB) * present


def uniform_drop_probs(present: torch.Tensor, rate: float) -> torch.Tensor:
    """ModDrop: every present modality dropped independently with the same probability."""
    return torch.full(present.shape, float(rate)) * present


def sample_keep_mask(
    present: torch.Tensor, drop_probs: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw keep = present ∧ ¬Bernoulli(q); where that empties an example, restore one of its present
    modalities, chosen with probability ∝ 1 - q_m (the one the sampler least wanted to drop)."""
    present = present.bool()
    u = torch.rand(present.shape, generator=generator)
    keep = present & (u >= drop_probs)
    empty = ~keep.any(dim=1)
    if bool(empty.any()):
        w = ((1 - drop_probs[empty]) + 1e-6) * present[empty]
        pick = torch.multinomial(w, 1, generator=generator).squeeze(1)
        restored = torch.zeros_like(keep[empty])
        restored[torch.arange(len(pick)), pick] = True
        keep[empty] = restored
    return keep


def random_modality_drop(
    present: torch.Tensor, rate: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Evaluation protocol: each modality dropped independently with probability `rate`, at least one kept."""
    return sample_keep_mask(present, uniform_drop_probs(present, rate), generator)


def expected_drop_rate(rate: float, num_modalities: int) -> float:
    """Share of modalities actually hidden by `random_modality_drop` with all present (the ≥ 1 rule lowers it)."""
    m = num_modalities
    return (rate * m - rate**m) / m if m > 0 else math.nan
