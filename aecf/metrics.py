"""Metrics as plain functions (torchmetrics' functional style): computed here once, called by the trainer,
the evaluator and the app.

Conventions: `probs` [N, C] (rows sum to 1 for single-label), `labels` int64 [N]; results are Python floats
or small dicts of lists, ready for JSON.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

ECE_BINS = 15
MONOTONICITY_TOLERANCE = 0.01


# ---------------------------------------------------------------------------------------- accuracy


def accuracy(probs_or_logits: torch.Tensor, labels: torch.Tensor) -> float:
    if len(labels) == 0:
        return float("nan")
    return float((probs_or_logits.argmax(dim=-1) == labels).float().mean())


# ------------------------------------------------------------------------------------- calibration


def _confidence_and_correct(probs: torch.Tensor, labels: torch.Tensor):
    conf, pred = probs.max(dim=-1)
    return conf.double(), (pred == labels).double()


def reliability_bins(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = ECE_BINS) -> dict:
    """Equal-width confidence bins over (0, 1]: per bin the count, mean confidence and accuracy
    (None where a bin is empty). Bin i holds confidences in (i/n, (i+1)/n]."""
    conf, correct = _confidence_and_correct(probs, labels)
    idx = torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)
    count = torch.bincount(idx, minlength=n_bins).double()
    conf_sum = torch.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = torch.bincount(idx, weights=correct, minlength=n_bins)
    nonzero = count > 0
    mean_conf = torch.where(nonzero, conf_sum / count.clamp_min(1), torch.nan)
    mean_acc = torch.where(nonzero, acc_sum / count.clamp_min(1), torch.nan)

    def _list(t):
        return [None if np.isnan(v) else float(v) for v in t.tolist()]

    edges = torch.linspace(0, 1, n_bins + 1)
    return {
        "lower": edges[:-1].tolist(),
        "upper": edges[1:].tolist(),
        "count": [int(c) for c in count.tolist()],
        "confidence": _list(mean_conf),
        "accuracy": _list(mean_acc),
    }


def expected_calibration_error(probs: torch.Tensor, labels: torch.Tensor, n_bins: int = ECE_BINS) -> float:
    """ECE = Σ_bins (n_b / N) · |acc_b - conf_b| with 15 equal-width bins on the max probability."""
    if len(labels) == 0:
        return float("nan")
    conf, correct = _confidence_and_correct(probs, labels)
    idx = torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)
    count = torch.bincount(idx, minlength=n_bins).double()
    gap = torch.bincount(idx, weights=conf, minlength=n_bins) - torch.bincount(
        idx, weights=correct, minlength=n_bins
    )
    return float(gap.abs().sum() / count.sum())


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    return float(torch.nn.functional.cross_entropy(logits / temperature, labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """Post-hoc temperature T > 0 minimising the NLL of softmax(logits / T) (LBFGS on log T)."""
    logits, labels = logits.detach().double(), labels.detach()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(logits / log_t.exp(), labels)
        loss.backward()
        return loss

    opt.step(closure)
    t = float(log_t.detach().exp())
    return t if np.isfinite(t) and 0.05 <= t <= 20 else min(max(t if np.isfinite(t) else 1.0, 0.05), 20.0)


# ----------------------------------------------------------------------------------------- subsets


def nonempty_subsets(num_modalities: int) -> list[tuple[int, ...]]:
    """All non-empty subsets of range(M) as index tuples, by size then lexicographically (7 for M = 3)."""
    return [s for k in range(1, num_modalities + 1) for s in itertools.combinations(range(num_modalities), k)]


def subset_masks(subsets: list[tuple[int, ...]], num_modalities: int) -> torch.Tensor:
    """Bool [S, M] presence mask of each subset."""
    masks = torch.zeros(len(subsets), num_modalities, dtype=torch.bool)
    for i, s in enumerate(subsets):
        masks[i, list(s)] = True
    return masks


def subset_pairs(subsets: list[tuple[int, ...]]) -> list[tuple[int, int]]:
    """Index pairs (a, b) into `subsets` with subsets[a] ⊊ subsets[b] (12 pairs for M = 3)."""
    return [(a, b) for a, sa in enumerate(subsets) for b, sb in enumerate(subsets) if set(sa) < set(sb)]


def monotonicity_violation_rate(
    confidence: torch.Tensor,
    subsets: list[tuple[int, ...]],
    valid: torch.Tensor | None = None,
    tolerance: float = MONOTONICITY_TOLERANCE,
) -> float:
    """Share of (example, A ⊊ B) pairs whose confidence drops when modalities are added: c(A) > c(B) + tol.

    confidence: [S, N], one row per subset; valid: bool [S, N] (subset available for that example).
    """
    pairs = subset_pairs(subsets)
    if not pairs:
        return float("nan")
    a = torch.tensor([p[0] for p in pairs])
    b = torch.tensor([p[1] for p in pairs])
    violated = confidence[a] > confidence[b] + tolerance  # [P, N]
    ok = torch.ones_like(violated) if valid is None else valid[b]  # B available implies A available
    n = ok.sum()
    return float((violated & ok).sum() / n) if n > 0 else float("nan")


# ------------------------------------------------------------------------------------- correlation


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties); NaN when either side is constant."""
    from scipy.stats import rankdata

    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    if a.size < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    ra, rb = rankdata(a), rankdata(b)
    return float(np.corrcoef(ra, rb)[0, 1])
