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


# --------------------------------------------------------------- more calibration (numpy in, numbers out)
# The same conventions as above: `probs` [N, C]; `labels` class indices [N] or multi-hot [N, C] (multi-label,
# where `probs` are per-class sigmoid probabilities). Tensors are accepted too (read as numpy arrays).

PROB_EPS = 1e-12  # a probability of exactly 0 on the true class costs -log(1e-12) ≈ 27.6 nats, not infinity


def _arrays(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs.detach().cpu() if torch.is_tensor(probs) else probs, dtype=np.float64)
    y = np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels)
    if p.ndim != 2 or len(p) != len(y) or (y.ndim == 2 and y.shape != p.shape) or y.ndim not in (1, 2):
        raise ValueError(f"probs must be [N, C] and labels [N] or [N, C]; got {p.shape} and {y.shape}")
    return p, y


def negative_log_likelihood(probs, labels) -> float:
    """Mean negative log-likelihood of the targets, in nats, from probabilities.

    Multiclass: mean over examples of -log p[n, y_n]. Multi-label: the mean binary cross-entropy over
    examples × classes, -[y log p + (1 - y) log(1 - p)]. Probabilities are clipped to [PROB_EPS, 1 - PROB_EPS].
    NaN for no examples. (`nll` above computes the same from logits.)"""
    p, y = _arrays(probs, labels)
    if len(p) == 0:
        return float("nan")
    p = np.clip(p, PROB_EPS, 1.0 - PROB_EPS)
    if y.ndim == 2:
        t = (y > 0).astype(np.float64)
        return float(-np.mean(t * np.log(p) + (1.0 - t) * np.log1p(-p)))
    return float(-np.mean(np.log(p[np.arange(len(p)), y.astype(np.int64)])))


def brier_score(probs, labels, per_class: bool = False):
    """Brier score: the mean squared difference between the probabilities and the 0/1 targets.

    Multiclass (Brier's original form): mean over examples of Σ_c (p[n, c] - 1[y_n = c])², in [0, 2].
    Multi-label, the per-class form: each class is its own binary forecast, Brier_c = mean over examples of
    (p[n, c] - y[n, c])²; the score is the mean over classes (= the mean over examples × classes), in [0, 1].
    `per_class=True` returns the [C] array of per-class scores instead (multiclass: one-vs-rest, Σ = the score).
    NaN for no examples."""
    p, y = _arrays(probs, labels)
    if len(p) == 0:
        return np.full(p.shape[1], np.nan) if per_class else float("nan")
    t = (y > 0).astype(np.float64) if y.ndim == 2 else np.eye(p.shape[1])[y.astype(np.int64)]
    per = ((p - t) ** 2).mean(axis=0)
    if per_class:
        return per
    return float(per.mean() if y.ndim == 2 else per.sum())


def expected_calibration_error_equal_mass(probs, labels, n_bins: int = ECE_BINS) -> float:
    """ECE with equal-mass bins (Nixon et al. 2019, "adaptive" ECE): the binned values sorted and cut into
    `n_bins` groups of as equal a count as possible (np.array_split: sizes differ by at most one), then
    Σ_b (n_b / N) · |acc_b - conf_b|. The binned values are those of `expected_calibration_error`: the top
    probability against whether the top class is right (multiclass), or every class probability against its
    0/1 target, flattened over examples × classes (multi-label). Ties at a cut are split by the sort order
    (stable). Unlike 15 equal-width bins, no bin is nearly empty when most confidences sit near 1."""
    p, y = _arrays(probs, labels)
    if len(p) == 0:
        return float("nan")
    if y.ndim == 2:
        conf, correct = p.ravel(), (y > 0).astype(np.float64).ravel()
    else:
        conf, correct = p.max(axis=1), (p.argmax(axis=1) == y).astype(np.float64)
    order = np.argsort(conf, kind="stable")
    conf, correct = conf[order], correct[order]
    total = 0.0
    for idx in np.array_split(np.arange(len(conf)), min(n_bins, len(conf))):
        total += abs(correct[idx].sum() - conf[idx].sum())
    return float(total / len(conf))


# --------------------------------------------------------------------------- robustness over a drop curve
# MultiBench (Liang et al. 2021, eval_scripts/robustness.py) scores a model's accuracy along a curve of
# growing imperfection (here: the random modality-drop rate) two ways, against late fusion as the reference.


def _curve(rates, accuracy) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rates, dtype=np.float64).ravel()
    a = np.asarray(accuracy, dtype=np.float64).ravel()
    if len(r) != len(a) or len(r) < 2:
        raise ValueError(
            f"a drop curve needs as many accuracies as rates (at least 2); got {len(r)} and {len(a)}"
        )
    if np.any(np.diff(r) <= 0):
        raise ValueError(f"drop rates must increase; got {r.tolist()}")
    return r, a


def robustness_area(rates, accuracy) -> float:
    """The area under the accuracy-vs-drop-rate curve, by the trapezoid rule over the given rates:
    Σ_i (r_{i+1} - r_i) · (a_i + a_{i+1}) / 2. MultiBench's relative-robustness helper is this area on levels
    spaced 0.1 apart (it multiplies every segment by 0.1); uneven rates (0, 0.1, 0.3, ...) are weighted by
    their spacing here. Not normalised: divide by (r_last - r_first) for the mean accuracy over the range."""
    r, a = _curve(rates, accuracy)
    return float(np.sum(np.diff(r) * (a[:-1] + a[1:]) / 2.0))


def effective_robustness(rates, accuracy, reference) -> float:
    """How much better the model holds up than the reference's trend predicts, MultiBench's form:

        predicted_i = ref_i + (a_0 - ref_0)         the reference's curve moved to start at the model's a_0
        effective   = Σ_i (a_i - predicted_i) = Σ_i [(a_i - a_0) - (ref_i - ref_0)]

    summed over the curve's levels (the first term is 0). Positive: the model loses less accuracy than the
    reference (late fusion) as the drop rate grows, whatever its accuracy without drops. A linear trend with
    slope 1 between the reference's and the model's clean accuracy (Taori et al. 2020 fit it over many
    reference models; MultiBench has one)."""
    r, a = _curve(rates, accuracy)
    _, ref = _curve(rates, reference)
    return float(np.sum((a - a[0]) - (ref - ref[0])))


def maxmin_normalise(scores: dict[str, float]) -> dict[str, float]:
    """MultiBench's normalisation across the methods compared: (s - min) / (max - min), so the best method
    scores 1 and the worst 0 (all 0.0 when they are equal). It depends on which methods are compared."""
    values = np.asarray(list(scores.values()), dtype=np.float64)
    lo, hi = float(values.min()), float(values.max())
    return {k: (float(v) - lo) / (hi - lo) if hi > lo else 0.0 for k, v in scores.items()}


def relative_robustness(rates, curves: dict[str, list[float]]) -> dict[str, float]:
    """MultiBench's relative robustness of each method: its `robustness_area` max-min normalised over all the
    methods in `curves` (name -> accuracies at `rates`; include the reference, late fusion)."""
    return maxmin_normalise({name: robustness_area(rates, acc) for name, acc in curves.items()})


def effective_robustness_scores(
    rates, curves: dict[str, list[float]], reference: str = "late_fusion"
) -> dict[str, float]:
    """MultiBench's effective robustness of each method: its `effective_robustness` against
    `curves[reference]` (late fusion scores 0 before normalising), max-min normalised over the methods."""
    if reference not in curves:
        raise ValueError(f"the reference {reference!r} is not among the curves ({', '.join(curves)})")
    ref = curves[reference]
    return maxmin_normalise({name: effective_robustness(rates, acc, ref) for name, acc in curves.items()})


# ------------------------------------------------------------------------------------------- uncertainty


def bootstrap_interval(
    metric, *arrays, n_resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """A percentile bootstrap interval for `metric(*arrays)` over examples: `n_resamples` times, draw N
    example indices with replacement (one numpy Generator from `seed`: the same call gives the same
    interval), take the same rows of every array (axis 0) and compute the metric; the interval is the
    (1 - level)/2 and (1 + level)/2 quantiles of those values (NaN values, e.g. an AP without a positive in
    a resample, are left out). E.g. `bootstrap_interval(brier_score, probs, labels)`."""
    arrays = tuple(np.asarray(a.detach().cpu() if torch.is_tensor(a) else a) for a in arrays)
    if not arrays or len({len(a) for a in arrays}) != 1:
        raise ValueError("bootstrap_interval needs one or more arrays with the same number of examples")
    n = len(arrays[0])
    if n == 0 or n_resamples < 1:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        idx = rng.integers(0, n, n)
        values[i] = float(metric(*(a[idx] for a in arrays)))
    if np.all(np.isnan(values)):
        return float("nan"), float("nan")
    lo, hi = np.nanquantile(values, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(lo), float(hi)
