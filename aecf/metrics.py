"""Metrics as plain functions (torchmetrics' functional style): computed here once, called by the trainer,
the evaluator and the app.

Conventions: `probs` [N, C] (rows sum to 1 for single-label), `labels` int64 [N]; results are Python floats
or small dicts of lists, ready for JSON.

Multi-label (COCO): `labels` is multi-hot [N, C] and `probs` are per-class sigmoid probabilities. Every
function below dispatches on `labels.ndim == 2` (the single-label path is untouched):
- accuracy: mean per-label accuracy of the 0/1 decisions at threshold 0.5 (pass probabilities, not logits);
- ECE / reliability bins: the N·C probabilities flattened, each against its 0/1 target, 15 equal-width bins;
- nll / fit_temperature: binary cross-entropy (mean over samples × classes);
- mean_average_precision (the headline COCO metric): macro AP over classes with at least one positive.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

ECE_BINS = 15
MONOTONICITY_TOLERANCE = 0.01


# ---------------------------------------------------------------------------------------- accuracy


def is_multilabel(labels: torch.Tensor) -> bool:
    """Multi-hot targets [N, C] (COCO) rather than class indices [N]."""
    return labels.ndim == 2


def accuracy(probs_or_logits: torch.Tensor, labels: torch.Tensor, threshold: float = 0.5) -> float:
    """Single-label: top-1 accuracy (probabilities or logits). Multi-label: mean per-label accuracy of
    `probs >= threshold` against the multi-hot targets (give probabilities)."""
    if len(labels) == 0:
        return float("nan")
    if is_multilabel(labels):
        return float(((probs_or_logits >= threshold) == labels.bool()).float().mean())
    return float((probs_or_logits.argmax(dim=-1) == labels).float().mean())


def average_precision(scores, targets) -> float:
    """AP of one class: Σ_k (R_k - R_{k-1}) P_k over the distinct score thresholds (scikit-learn's
    `average_precision_score`, ties grouped). NaN when there is no positive."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    targets = np.asarray(targets).ravel() > 0
    n_pos = int(targets.sum())
    if n_pos == 0:
        return float("nan")
    order = np.argsort(-scores, kind="mergesort")
    s, t = scores[order], targets[order]
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last index of each tie group
    tp = np.cumsum(t)[last]
    precision = tp / (last + 1)
    recall = tp / n_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def one_hot(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class indices [N] -> 0/1 targets [N, C] (for one-vs-rest AP of a single-label model)."""
    return torch.nn.functional.one_hot(labels.long(), num_classes)


def mean_average_precision(probs: torch.Tensor, labels: torch.Tensor) -> float:
    """mAP: the mean of the per-class AP over classes with at least one positive (macro)."""
    p = np.asarray(probs.detach().cpu().double() if torch.is_tensor(probs) else probs)
    y = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels)
    aps = [average_precision(p[:, c], y[:, c]) for c in range(y.shape[1]) if y[:, c].any()]
    return float(np.mean(aps)) if aps else float("nan")


# ------------------------------------------------------------------------------------- calibration


def _confidence_and_correct(probs: torch.Tensor, labels: torch.Tensor):
    """(binned value, outcome) per prediction: single-label (max prob, correct); multi-label, flattened over
    samples × classes, (p, target in {0, 1})."""
    if is_multilabel(labels):
        return probs.reshape(-1).double(), labels.reshape(-1).double()
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
    """ECE = Σ_bins (n_b / N) · |acc_b - conf_b| with 15 equal-width bins on the max probability
    (multi-label: on every class probability, acc_b being the share of positives in the bin)."""
    if len(labels) == 0:
        return float("nan")
    conf, correct = _confidence_and_correct(probs, labels)
    idx = torch.clamp(torch.ceil(conf * n_bins).long() - 1, 0, n_bins - 1)
    count = torch.bincount(idx, minlength=n_bins).double()
    gap = torch.bincount(idx, weights=conf, minlength=n_bins) - torch.bincount(
        idx, weights=correct, minlength=n_bins
    )
    return float(gap.abs().sum() / count.sum())


def _task_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    if is_multilabel(labels):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
    return torch.nn.functional.cross_entropy(logits, labels)


def nll(logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0) -> float:
    """Cross-entropy (single-label) or binary cross-entropy over samples × classes (multi-label)."""
    return float(_task_nll(logits / temperature, labels))


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, max_iter: int = 100) -> float:
    """Post-hoc temperature T > 0 minimising the NLL of softmax(logits / T), or the BCE of
    sigmoid(logits / T) for multi-label targets (LBFGS on log T). 1.0 for an empty split."""
    if len(labels) == 0:
        return 1.0
    logits, labels = logits.detach().double(), labels.detach()
    log_t = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = _task_nll(logits / log_t.exp(), labels)
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
