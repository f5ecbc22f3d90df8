"""aecf/metrics.py: calibration cross-checked against torchmetrics, NLL, Brier, equal-mass ECE, MultiBench-style
robustness over a drop curve, and the bootstrap interval."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aecf import metrics as M


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _predictions(seed: int, n: int = 3000, c: int = 10, sharpness: float = 3.0):
    """Probabilities that are right about as often as a trained model's, some saturated to exactly 1."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c))
    logits[np.arange(n), labels] += rng.uniform(0, 2 * sharpness, n)
    probs = _softmax(sharpness * logits).astype(np.float32)
    return probs, labels


# ---------------------------------------------------------------------------- cross-checks (torchmetrics)


@pytest.mark.parametrize(("seed", "sharpness"), [(0, 1.5), (1, 1.5), (2, 3.0), (3, 3.0)])
def test_ece_equals_torchmetrics_multiclass_calibration_error(seed, sharpness):
    """Equal to float32 precision (torchmetrics sums each bin in float32). At sharpness 3 some confidences are
    exactly 1.0 (a float32 softmax saturates): our top bin is (14/15, 1] (Guo et al.), torchmetrics gives 1.0
    a bin of its own ([lo, hi) bins); that changes nothing while the top bin is over-confident, as here."""
    from torchmetrics.functional.classification import multiclass_calibration_error

    probs, labels = _predictions(seed, sharpness=sharpness)
    p, y = torch.from_numpy(probs), torch.from_numpy(labels)
    assert (p.max(dim=1).values == 1.0).any() == (sharpness > 2)
    ours = M.expected_calibration_error(p, y)
    theirs = float(multiclass_calibration_error(p, y, num_classes=10, n_bins=15, norm="l1"))
    assert 0.005 < ours and ours == pytest.approx(theirs, abs=1e-5)
    assert ours == pytest.approx(
        float(multiclass_calibration_error(p, y, 10, n_bins=15, norm="l1")), abs=1e-5
    )


@pytest.mark.parametrize("seed", [0, 1])
def test_multilabel_ece_equals_binary_calibration_error_on_flattened_pairs(seed):
    from torchmetrics.functional.classification import binary_calibration_error

    rng = np.random.default_rng(seed)
    targets = (rng.random((800, 12)) < 0.2).astype(np.int64)
    probs = 1 / (1 + np.exp(-(rng.normal(0, 1.5, targets.shape) + 2.5 * (targets - 0.5))))
    p, y = torch.from_numpy(probs.astype(np.float32)), torch.from_numpy(targets)
    ours = M.expected_calibration_error(p, y)
    theirs = float(binary_calibration_error(p.reshape(-1), y.reshape(-1), n_bins=15, norm="l1"))
    assert 0.005 < ours and ours == pytest.approx(theirs, abs=1e-5)


# ------------------------------------------------------------------------------------------------- NLL


def test_nll_from_probabilities_matches_cross_entropy_and_the_logits_form():
    probs, labels = _predictions(3, n=500)
    p = probs.astype(np.float64)
    expected = float(torch.nn.functional.nll_loss(torch.log(torch.from_numpy(p)), torch.from_numpy(labels)))
    assert M.negative_log_likelihood(p, labels) == pytest.approx(expected, rel=1e-9)
    # the same number as the logits form (log-probabilities are logits of the same softmax)
    logits = torch.log(torch.from_numpy(p))
    assert M.negative_log_likelihood(p, labels) == pytest.approx(
        M.nll(logits, torch.from_numpy(labels)), rel=1e-6
    )


def test_nll_multilabel_is_binary_cross_entropy_and_a_zero_probability_stays_finite():
    rng = np.random.default_rng(4)
    y = (rng.random((50, 6)) < 0.3).astype(np.int64)
    p = rng.uniform(0.01, 0.99, y.shape)
    bce = float(torch.nn.functional.binary_cross_entropy(torch.from_numpy(p), torch.from_numpy(y).double()))
    assert M.negative_log_likelihood(p, y) == pytest.approx(bce, rel=1e-9)
    wrong = M.negative_log_likelihood(np.array([[1.0, 0.0]]), np.array([1]))
    assert np.isfinite(wrong) and wrong == pytest.approx(-np.log(M.PROB_EPS), rel=1e-6)
    assert np.isnan(M.negative_log_likelihood(np.zeros((0, 3)), np.zeros(0, np.int64)))


# ----------------------------------------------------------------------------------------------- Brier


def test_brier_multiclass_by_hand_and_its_bounds():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    labels = np.array([0, 1])
    # (0.09 + 0.04 + 0.01 + 0.01 + 0.81 + 0.64) / 2
    assert M.brier_score(probs, labels) == pytest.approx(0.8)
    assert M.brier_score(np.eye(3), np.arange(3)) == 0.0
    assert M.brier_score(np.eye(3), np.array([1, 2, 0])) == pytest.approx(2.0)
    per = M.brier_score(probs, labels, per_class=True)
    assert per.shape == (3,) and per.sum() == pytest.approx(0.8)


def test_brier_multilabel_is_the_mean_of_the_per_class_binary_scores():
    y = np.array([[1, 0, 0], [1, 1, 0]])
    p = np.array([[0.9, 0.2, 0.0], [0.5, 0.4, 0.3]])
    per = M.brier_score(p, y, per_class=True)
    assert per == pytest.approx([(0.01 + 0.25) / 2, (0.04 + 0.36) / 2, (0.0 + 0.09) / 2])
    assert M.brier_score(p, y) == pytest.approx(per.mean())
    assert M.brier_score(torch.from_numpy(p), torch.from_numpy(y)) == pytest.approx(per.mean())  # tensors too


# -------------------------------------------------------------------------------------- equal-mass ECE


def test_equal_mass_ece_by_hand():
    # four predictions, two bins of two (sorted by confidence): {0.55 right, 0.6 wrong}, {0.8 right, 0.9 right}
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.45, 0.55], [0.2, 0.8]])
    labels = np.array([0, 1, 1, 1])
    expected = (2 / 4) * abs(0.5 - (0.55 + 0.6) / 2) + (2 / 4) * abs(1.0 - (0.8 + 0.9) / 2)
    assert M.expected_calibration_error_equal_mass(probs, labels, n_bins=2) == pytest.approx(expected)
    # one bin: both forms are |overall accuracy - mean confidence|
    one = abs(0.75 - (0.9 + 0.6 + 0.55 + 0.8) / 4)
    assert M.expected_calibration_error_equal_mass(probs, labels, n_bins=1) == pytest.approx(one)
    assert M.expected_calibration_error(torch.from_numpy(probs), torch.from_numpy(labels), n_bins=1) == (
        pytest.approx(one)
    )


def test_equal_mass_ece_is_small_when_calibrated_and_differs_from_equal_width_when_not():
    rng = np.random.default_rng(5)
    n = 20000
    conf = rng.uniform(0.5, 1.0, n)
    right = rng.random(n) < conf  # calibrated by construction
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(right, 0, 1)
    assert M.expected_calibration_error_equal_mass(probs, labels) < 0.02
    # most confidences near 1 (as a trained model's): over-confident above 0.97, under-confident just below.
    # The top equal-width bin (14/15, 1] holds both, whose gaps cancel; equal-mass bins keep them apart.
    conf = 1.0 - 0.5 * rng.beta(1.0, 12.0, n)
    right = rng.random(n) < np.clip(np.where(conf > 0.97, conf - 0.1, conf + 0.05), 0, 1)
    probs, labels = np.stack([conf, 1 - conf], axis=1), np.where(right, 0, 1)
    mass = M.expected_calibration_error_equal_mass(probs, labels)
    width = M.expected_calibration_error(torch.from_numpy(probs), torch.from_numpy(labels))
    assert mass > 0.05 and mass > 1.5 * width


def test_equal_mass_ece_multilabel_flattens_examples_and_classes():
    rng = np.random.default_rng(6)
    y = (rng.random((300, 4)) < 0.3).astype(np.int64)
    p = rng.random((300, 4))
    flat = M.expected_calibration_error_equal_mass(p.reshape(-1, 1), y.reshape(-1, 1))  # never used this way,
    # but a [N, 1] multi-label input is the flattened pairs themselves
    assert M.expected_calibration_error_equal_mass(p, y) == pytest.approx(flat)


# ------------------------------------------------------------------------------------------ robustness


def test_robustness_area_is_the_trapezoid_under_the_drop_curve():
    # MultiBench's levels 0, 0.1, 0.2: 0.1 · (1 + 0.8) / 2 + 0.1 · (0.8 + 0.6) / 2
    assert M.robustness_area([0.0, 0.1, 0.2], [1.0, 0.8, 0.6]) == pytest.approx(0.16)
    # uneven rates are weighted by their spacing: a flat curve's area is its height times the range
    assert M.robustness_area([0.0, 0.1, 0.3, 0.5, 0.7, 0.9], [0.5] * 6) == pytest.approx(0.45)
    with pytest.raises(ValueError, match="increase"):
        M.robustness_area([0.0, 0.5, 0.3], [1, 1, 1])
    with pytest.raises(ValueError, match="as many"):
        M.robustness_area([0.0, 0.5], [1.0])


def test_effective_robustness_against_the_reference_trend():
    rates = [0.0, 0.5, 0.9]
    late = [0.95, 0.80, 0.65]
    model = [0.90, 0.85, 0.80]
    # model drops 0.05 and 0.10, the reference 0.15 and 0.30: (0.15 - 0.05) + (0.30 - 0.10)
    assert M.effective_robustness(rates, model, late) == pytest.approx(0.30)
    assert M.effective_robustness(rates, late, late) == 0.0
    # a constant shift of the whole curve (better or worse without drops) does not change it
    assert M.effective_robustness(rates, np.array(model) - 0.2, late) == pytest.approx(0.30)
    assert M.effective_robustness(rates, [0.9, 0.6, 0.3], late) < 0


def test_relative_and_effective_scores_are_max_min_normalised_over_the_methods():
    rates = [0.0, 0.5, 0.9]
    curves = {"late_fusion": [0.95, 0.80, 0.65], "aecf": [0.90, 0.85, 0.80], "mean": [0.93, 0.70, 0.50]}
    rel = M.relative_robustness(rates, curves)
    assert rel["aecf"] == 1.0 and rel["mean"] == 0.0 and 0.0 < rel["late_fusion"] < 1.0
    eff = M.effective_robustness_scores(rates, curves)
    assert eff["aecf"] == 1.0 and eff["mean"] == 0.0 and 0.0 < eff["late_fusion"] < 1.0
    raw_mean = M.effective_robustness(rates, curves["mean"], curves["late_fusion"])
    assert eff["late_fusion"] == pytest.approx(-raw_mean / (0.30 - raw_mean))
    with pytest.raises(ValueError, match="reference"):
        M.effective_robustness_scores(rates, {"aecf": curves["aecf"]})
    assert M.maxmin_normalise({"a": 0.3, "b": 0.3}) == {"a": 0.0, "b": 0.0}


# ------------------------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_is_seeded_covers_the_estimate_and_narrows_with_more_examples():
    rng = np.random.default_rng(7)
    correct = (rng.random(400) < 0.8).astype(np.float64)
    lo, hi = M.bootstrap_interval(np.mean, correct, n_resamples=500, seed=1)
    assert (lo, hi) == M.bootstrap_interval(np.mean, correct, n_resamples=500, seed=1)
    assert (lo, hi) != M.bootstrap_interval(np.mean, correct, n_resamples=500, seed=2)
    assert lo < correct.mean() < hi
    # the normal approximation of a proportion's 95 % interval: ±1.96 · sqrt(p (1 - p) / n)
    half = 1.96 * np.sqrt(correct.mean() * (1 - correct.mean()) / len(correct))
    assert (hi - lo) / 2 == pytest.approx(half, rel=0.2)
    big = (rng.random(4000) < 0.8).astype(np.float64)
    lo4, hi4 = M.bootstrap_interval(np.mean, big, n_resamples=500, seed=1)
    assert hi4 - lo4 < 0.5 * (hi - lo)


def test_bootstrap_interval_of_a_metric_over_several_arrays():
    probs, labels = _predictions(8, n=600)
    lo, hi = M.bootstrap_interval(M.brier_score, probs, labels, n_resamples=200, seed=0)
    assert lo < M.brier_score(probs, labels) < hi
    lo, hi = M.bootstrap_interval(
        M.negative_log_likelihood, probs, labels, n_resamples=200, seed=0, level=0.5
    )
    lo95, hi95 = M.bootstrap_interval(M.negative_log_likelihood, probs, labels, n_resamples=200, seed=0)
    assert lo95 < lo < hi < hi95
    with pytest.raises(ValueError, match="same number"):
        M.bootstrap_interval(M.brier_score, probs, labels[:-1])
