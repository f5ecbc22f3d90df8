"""Evaluate fusion checkpoints on a dataset's test split: the numbers of the results table.

    python -m aecf evaluate --data DIR --checkpoints PATH [PATH ...] --json FILE
    python -m aecf evaluate [--json FILE] [--out DIR] [--checkpoints DIR] [--no-png]    # the shipped digits

With --data, every checkpoint (a file, or each one in a folder; a folder of specialists is one entry) is
keyed by its file stem: `methods.<stem>.full.acc`, `.drop."<rate>".{acc, map, ece}`, `.subsets`,
`.monotonicity`, `.mechanisms`. Without it, the shipped digits checkpoints are grouped by method (several
seeds as mean with a "std" tree) and results.md and the figures are written beside the JSON.

For each checkpoint: accuracy, ECE (15 bins; raw and after the temperature fit on validation), NLL,
Brier score and the ECE with 15 equal-mass bins (`METRICS`) with every input the data has, with each
modality subset (up to 4 modalities every one of the 2^M - 1; beyond, `subsets_by_size` summarises each
size and names its worst), and under random modality drop (each present modality dropped with probability
r, at least one kept, mean over `mask_seeds` draws); the
monotonicity violation rate over subset pairs; the worst-subset accuracy; the mean gate entropy; the
Spearman correlation of λ(x) (K = 20 MC-dropout passes) with the recorded severity, where the data has one.
A subset is scored on the rows where all its modalities are present. Over the checkpoints evaluated together:
MultiBench's relative and effective robustness over the drop curve, late fusion the reference
(`robustness`), and seeded percentile-bootstrap 95 % intervals on acc, mAP and ECE with every input and at
50 % drop (`ci`, `--bootstrap` resamples of the test examples).

Multi-label features (COCO, multi-hot labels): every "acc" is the mean per-label accuracy at p >= 0.5, a
"map" (macro mAP over classes with a positive, the headline) sits beside it, ECE bins all N·C class
probabilities against their 0/1 targets, and the temperature is fit with BCE (aecf.metrics).

Checkpoints are grouped by the method in their config: several seeds of one method (aecf.safetensors,
aecf.seed1.safetensors, ...) are reported as mean, with the std in a mirror "std" tree.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from aecf import metrics as M
from aecf.checkpoint import checkpoint_info, checkpoint_stem, load_checkpoint, read_checkpoint_config
from aecf.data.cache import FeatureSplit, load_split
from aecf.data.dataset import describe, read_dataset
from aecf.errors import CheckpointError, InputError
from aecf.figures import report_figures, save_figures
from aecf.figures.tables import results_markdown
from aecf.files import write_atomic
from aecf.fusion import FusionModel, adaptive_lambda, subset_name
from aecf.losses import chance_log_likelihood, gate_entropy, supported_pairs
from aecf.masking import acm_drop_probs, drop_prob_ratio, random_modality_drop
from aecf.paths import FEATURE_DIR, FUSION_DIR, RESULTS_DIR
from aecf.specialists import SPECIALISTS_DIR, SpecialistEnsemble, load_specialists
from aecf.train import METHODS

DROP_RATES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
MASK_SEEDS = 5
MC_SAMPLES = 20
BOOTSTRAP_RESAMPLES = 1000  # test-set resamples behind each 95 % interval
BOOTSTRAP_SEED = 0
CI_LEVEL = 0.95
CI_RATE = 0.5  # the drop rate whose headline numbers get an interval, beside every input
HEADLINE_CI = ("acc", "map", "ece")
ROBUSTNESS_REFERENCE = "late_fusion"
FUSION_CHECKPOINTS = FUSION_DIR


CAPTION_LEVELS = ("exact", "partial", "none", "wrong")  # caption_level 0..3 of the digits benchmark
ALL_SUBSETS_UP_TO = (
    4  # modalities; beyond, `subsets` keeps the singletons, the full set and each size's worst
)
SUBSET_ROWS = 65_536  # rows per forward when every subset of a split is run


def _targets(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return labels if M.is_multilabel(labels) else M.one_hot(labels, num_classes)


# What every row of the results reports: name -> f(raw probabilities, labels, raw logits). A metric of
# aecf.metrics joins every table (full, subsets, each drop rate) with one line here.
METRICS = {
    "acc": lambda probs, labels, logits: M.accuracy(probs, labels),
    "map": lambda probs, labels, logits: M.mean_average_precision(probs, _targets(labels, probs.shape[-1])),
    "ece": lambda probs, labels, logits: M.expected_calibration_error(probs, labels),
    "nll": lambda probs, labels, logits: M.nll(logits, labels),
    "brier": lambda probs, labels, logits: M.brier_score(probs, labels),
    "ece_equal_mass": lambda probs, labels, logits: M.expected_calibration_error_equal_mass(probs, labels),
}


def _calibration(
    model: FusionModel,
    logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    deploy_temperature: float | None = None,
) -> dict:
    """The METRICS (acc, map: macro one-vs-rest AP on the raw probabilities, ece: raw), ece_ts (the
    full-input temperature) and, given one, ece_ts_deploy (a temperature fit under the deployment's
    missingness)."""
    probs = model.head_type.probs(logits)
    res = {name: f(probs, labels, logits) for name, f in METRICS.items()}
    res["ece_ts"] = M.expected_calibration_error(model.head_type.probs(logits / temperature), labels)
    if deploy_temperature is not None:
        res["ece_ts_deploy"] = M.expected_calibration_error(
            model.head_type.probs(logits / deploy_temperature), labels
        )
    return res


def fit_deploy_temperature(
    model: FusionModel, val: FeatureSplit, rate: float, mask_seeds: int = MASK_SEEDS, seed: int = 0
) -> float:
    """The temperature fit on validation *under the deployment's missingness*: every modality dropped with
    probability `rate` (≥ 1 kept), `mask_seeds` draws stacked (the full-input fit when rate = 0)."""
    present = val.present
    logits, labels = [], []
    for s in range(mask_seeds if rate > 0 else 1):
        keep = random_modality_drop(present, rate, torch.Generator().manual_seed(10_000 + seed * 1000 + s))
        logits.append(model(val.x, keep)["logits"])
        labels.append(val.label)
    return M.fit_temperature(torch.cat(logits), torch.cat(labels))


# ------------------------------------------------------------------------ the mechanisms at work


def monotonicity_report(
    confidence: torch.Tensor,
    subsets: list[tuple[int, ...]],
    valid: torch.Tensor,
    modalities,
    caption_level: torch.Tensor | None,
    tolerance: float = M.MONOTONICITY_TOLERANCE,
    supported: torch.Tensor | None = None,
) -> dict:
    """Violation rates on the subset lattice: "all" examples, the "consistent" ones (caption not wrong), and
    "wrong_caption_lowers_confidence": the share of wrong-caption examples whose confidence with all their
    modalities is lower (by more than the tolerance) than without the caption — where the paper's
    assumption breaks and a drop is the right answer. None where the split has no caption levels.

    With `supported` (bool [P, N] over M.subset_pairs(subsets): aecf.losses.supported_pairs, the one
    definition CEC trains on), also "supported": the violation rate over the pairs A ⊊ B whose added
    modalities B \\ A, alone, give the true label at least chance probability — where more information
    is right and confidence has no reason to fall.

    confidence, valid: [S, N], rows in `subsets` order, every input the data has (the full input)."""
    res = {"all": M.monotonicity_violation_rate(confidence, subsets, valid, tolerance)}
    if supported is not None:
        pairs = M.subset_pairs(subsets)
        a = torch.tensor([p[0] for p in pairs], dtype=torch.long)
        b = torch.tensor([p[1] for p in pairs], dtype=torch.long)
        ok = supported & valid[b]
        total = int(ok.sum())
        hits = int(((confidence[a] > confidence[b] + tolerance) & ok).sum())
        res["supported"] = hits / total if total else None
    if caption_level is None or "caption" not in modalities:
        return {**res, "consistent": None, "wrong_caption_lowers_confidence": None}
    wrong = caption_level.long() == CAPTION_LEVELS.index("wrong")
    res["consistent"] = M.monotonicity_violation_rate(
        confidence[:, ~wrong], subsets, valid[:, ~wrong], tolerance
    )
    c = list(modalities).index("caption")
    everything = tuple(range(len(modalities)))
    without = tuple(m for m in everything if m != c)
    if wrong.any() and everything in subsets and without in subsets:
        full, rest = confidence[subsets.index(everything)], confidence[subsets.index(without)]
        res["wrong_caption_lowers_confidence"] = float((full[wrong] < rest[wrong] - tolerance).float().mean())
    else:
        res["wrong_caption_lowers_confidence"] = None
    return res


def acm_drop_ratios(
    model: FusionModel,
    x: torch.Tensor,
    train_config: dict | None = None,
    present: torch.Tensor | None = None,
    rate: float | None = None,
) -> torch.Tensor | None:
    """Per example, how much more ACM would drop the most-trusted modality than the least-trusted one:
    q_max / q_min [N] (1 = ModDrop), with the model's gate (eval, no dropout) at π = `rate` (default the
    run's π_max) and the sharpness rule the run was trained with (`train_config`, the checkpoint's "train"
    section). Uniform masking gives ones; None for a model without a gate or a run without masking. Pure:
    the Curriculum page plots its distribution."""
    cfg = train_config or {}
    masking = cfg.get("masking", "acm")
    if model.gate is None or masking == "none":
        return None
    present = torch.ones(x.shape[:2], dtype=torch.bool) if present is None else present.bool()
    if masking != "acm":
        return torch.ones(x.shape[0])
    rate = float(cfg.get("pi_max", 0.5)) if rate is None else rate
    was = model.training
    model.eval()
    with torch.no_grad():
        gate = model(x, present)["gate"]
    model.train(was)
    # older checkpoints (no acm_sharpness in their config) were trained with the entropy blend
    q = acm_drop_probs(gate, present, rate, cfg.get("acm_sharpness", "entropy"))
    return drop_prob_ratio(q, present)


def checkpoint_acm_drop_ratios(path: str | Path, split: FeatureSplit) -> torch.Tensor | None:
    """`acm_drop_ratios` of a checkpoint on a split, every input the data has, at the run's π_max."""
    return acm_drop_ratios(
        load_checkpoint(path), split.x, read_checkpoint_config(path).get("train"), split.present
    )


@torch.no_grad()
def mechanisms(
    model: FusionModel,
    split: FeatureSplit,
    train_config: dict | None = None,
    mc_samples: int = MC_SAMPLES,
    seed: int = 0,
    lam: torch.Tensor | None = None,
) -> dict | None:
    """Do the gate, λ(x) and ACM act? (every input the data has; None for a model without a gate)

    lambda_iqr_fraction: interquartile range of λ(x) over [λ_min, λ_max]; lambda_severity_spearman;
    gate_reliability_spearman: Spearman(p_m, 1 - severity_m) per modality other than the digits' caption (its
    levels are not a severity), on the rows where m is present (data with a severity); caption_gate_by_level: mean caption weight per caption
    level (the digits); acm_adaptive_share: share of examples whose most-trusted modality ACM drops ≥ 2× as
    often as the least-trusted (at π_max); gate_mean: mean p_m where m is present."""
    if model.gate is None:
        return None
    model.eval()
    x, present = split.x, split.present
    gate = model(x, present)["gate"]
    names = list(model.config.modalities)
    res: dict = {"lambda_iqr_fraction": None, "lambda_severity_spearman": None}
    if lam is None and float(model.uncertainty_scale) > 0:
        torch.manual_seed(seed)
        lam = adaptive_lambda(model, x, present, mc_samples)["lam"]
    if lam is not None:
        span = model.config.lambda_max - model.config.lambda_min
        q25, q75 = torch.quantile(lam.double(), torch.tensor([0.25, 0.75], dtype=torch.float64)).tolist()
        res["lambda_iqr_fraction"] = (q75 - q25) / span if span > 0 else None
        if split.severity is not None:
            res["lambda_severity_spearman"] = _spearman(lam, split.severity)
    res["gate_reliability_spearman"] = None
    if split.modality_severity is not None:
        res["gate_reliability_spearman"] = {
            m: _spearman(gate[present[:, i], i], 1 - split.modality_severity[present[:, i], i])
            for i, m in enumerate(names)
            if m != "caption" or split.caption_level is None  # a dataset's own "caption" has a severity
        }
    res["caption_gate_by_level"] = None
    if "caption" in names and split.caption_level is not None:
        c, level = names.index("caption"), split.caption_level.long()
        res["caption_gate_by_level"] = {
            name: (float(gate[level == k, c].mean()) if bool((level == k).any()) else None)
            for k, name in enumerate(CAPTION_LEVELS)
        }
    ratios = acm_drop_ratios(model, x, train_config, present)
    res["acm_adaptive_share"] = None if ratios is None else float((ratios >= 2).float().mean())
    res["acm_ratio_median"] = None if ratios is None else float(ratios.median())
    res["gate_mean"] = {
        m: float(gate[present[:, i], i].mean()) if bool(present[:, i].any()) else None
        for i, m in enumerate(names)
    }
    return res


def _spearman(a: torch.Tensor, b: torch.Tensor) -> float | None:
    rho = M.spearman(a.numpy(), b.numpy())
    return None if math.isnan(rho) else rho


def subset_logits(model: FusionModel, x: torch.Tensor, present: torch.Tensor, subsets) -> dict:
    """`model.forward_subsets` over a whole split, a bounded number of rows at a time: logits [S, N, C] and
    valid [S, N] (every modality of the subset present in that row)."""
    masks = M.subset_masks(subsets, x.shape[1])
    step = max(1, SUBSET_ROWS // max(1, len(subsets)))
    parts = [
        model.forward_subsets(x[i : i + step], present[i : i + step], masks) for i in range(0, len(x), step)
    ]
    return {
        "logits": torch.cat([p["logits"] for p in parts], dim=1),
        "valid": torch.cat([p["valid"] for p in parts], dim=1),
    }


def subsets_by_size(res_subsets: dict, subsets: list[tuple[int, ...]], key: str = "acc") -> dict:
    """Per subset size: how many subsets, their mean, worst and best `key`, and the worst and best one's names."""
    out = {}
    for k in sorted({len(s) for s in subsets}):
        rows = [
            (name, e[key]) for (name, e), s in zip(res_subsets.items(), subsets, strict=True) if len(s) == k
        ]
        rows = [(n, v) for n, v in rows if v is not None and not math.isnan(v)]
        if not rows:
            continue
        worst = min(rows, key=lambda r: r[1])
        best = max(rows, key=lambda r: r[1])
        out[str(k)] = {
            "count": len(rows),
            key: float(np.mean([v for _, v in rows])),
            "worst": worst[0],
            f"worst_{key}": worst[1],
            "best": best[0],
            f"best_{key}": best[1],
        }
    return out


def evaluate_model(
    model: FusionModel,
    test: FeatureSplit,
    val: FeatureSplit | None = None,
    drop_rates=DROP_RATES,
    mask_seeds: int = MASK_SEEDS,
    mc_samples: int = MC_SAMPLES,
    seed: int = 0,
    train_config: dict | None = None,
    bootstrap: int = BOOTSTRAP_RESAMPLES,
) -> dict:
    """All test metrics of one model (see module docstring). The temperature is fit on `val` (every input
    the data has) if given, else the one stored in the model config is used; with `val`, every drop rate
    also gets a temperature fit on val under that drop rate (`ece_ts_deploy`, `temperature_deploy`).
    `train_config` (the checkpoint's "train" section) tells `mechanisms` which ACM rule the run used.
    "ci": `headline_intervals` with `bootstrap` resamples (None for 0)."""
    res, predictions = _evaluate(model, test, val, drop_rates, mask_seeds, mc_samples, seed, train_config)
    res["ci"] = headline_intervals([predictions], test.label, bootstrap)
    return res


@torch.no_grad()
def _evaluate(
    model: FusionModel,
    test: FeatureSplit,
    val: FeatureSplit | None,
    drop_rates,
    mask_seeds: int,
    mc_samples: int,
    seed: int,
    train_config: dict | None,
) -> tuple[dict, dict[str, list[torch.Tensor]]]:
    """`evaluate_model` without the intervals, and the raw probabilities they are drawn from: "full" [N, C]
    (one) and, when CI_RATE is among the drop rates, its rate key (one [N, C] per mask draw)."""
    model.eval()
    x, y, present = test.x, test.label, test.present
    n_mod = x.shape[1]
    if val is not None:
        temperature = M.fit_temperature(model(val.x, val.present)["logits"], val.label)
    else:
        temperature = model.config.temperature
    out = model(x, present)
    res: dict = {
        "temperature": temperature,
        "multilabel": M.is_multilabel(y),
        "full": _calibration(model, out["logits"], y, temperature),
    }
    reliability = {"full": M.reliability_bins(model.head_type.probs(out["logits"]), y)}
    predictions = {"full": [model.head_type.probs(out["logits"])]}

    subsets = M.nonempty_subsets(n_mod)
    sub = subset_logits(model, x, present, subsets)
    valid = sub["valid"]
    names = [subset_name(model.config.modalities, s) for s in subsets]
    every = {}
    for k, name in enumerate(names):
        rows = valid[k]
        if bool(rows.all()):
            every[name] = _calibration(model, sub["logits"][k], y, temperature)
        elif bool(rows.any()):
            every[name] = {
                **_calibration(model, sub["logits"][k][rows], y[rows], temperature),
                "n": int(rows.sum()),
            }
        else:
            every[name] = {key: None for key in (*METRICS, "ece_ts")} | {"n": 0}
    head = model.head_type
    conf = head.confidence(head.probs(sub["logits"]))
    res["monotonicity_violation_rate"] = M.monotonicity_violation_rate(conf, subsets, valid)
    loglik = -torch.stack([head.loss(lg, y, reduction="none") for lg in sub["logits"]])
    supported = supported_pairs(loglik, subsets, chance_log_likelihood(head.name, sub["logits"].shape[-1]))
    res["monotonicity"] = monotonicity_report(
        conf, subsets, valid, model.config.modalities, test.caption_level, supported=supported
    )
    res["subsets_by_size"] = subsets_by_size(every, subsets, "map" if M.is_multilabel(y) else "acc")
    if n_mod <= ALL_SUBSETS_UP_TO:
        res["subsets"] = every
    else:  # the singletons, the full set and the worst of each size
        keep = {names[k] for k, s in enumerate(subsets) if len(s) in (1, n_mod)}
        keep |= {v["worst"] for v in res["subsets_by_size"].values()}
        res["subsets"] = {name: every[name] for name in names if name in keep}
    scored = [v["acc"] for v in every.values() if v["acc"] is not None]
    res["worst_subset_acc"] = min(scored) if scored else None
    if M.is_multilabel(y):
        res["worst_subset_map"] = min(v["map"] for v in every.values() if v["map"] is not None)

    res["drop"] = {}
    res["temperature_deploy"] = {}
    for rate in drop_rates:
        t_deploy = None
        if val is not None:
            t_deploy = fit_deploy_temperature(model, val, rate, mask_seeds, seed)
            res["temperature_deploy"][_rate_key(rate)] = t_deploy
        per_seed = []
        for s in range(mask_seeds if rate > 0 else 1):
            keep = random_modality_drop(present, rate, torch.Generator().manual_seed(seed * 1000 + s))
            logits = model(x, keep)["logits"]
            per_seed.append(_calibration(model, logits, y, temperature, t_deploy))
            if abs(rate - CI_RATE) < 1e-9:
                predictions.setdefault(_rate_key(rate), []).append(model.head_type.probs(logits))
            if s == 0 and abs(rate - 0.5) < 1e-9:
                reliability["drop_0.5"] = M.reliability_bins(model.head_type.probs(logits), y)
        res["drop"][_rate_key(rate)] = {k: float(np.mean([p[k] for p in per_seed])) for k in per_seed[0]}
    res["reliability"] = reliability

    res["gate_entropy"] = float(gate_entropy(out["gate"]).mean()) if out["gate"] is not None else None
    res["lambda_severity_spearman"] = None
    lam = None
    if float(getattr(model, "uncertainty_scale", 0.0)) > 0:  # trained with an adaptive λ(x)
        torch.manual_seed(seed)
        lam = adaptive_lambda(model, x, present, mc_samples)["lam"]
        if test.severity is not None:
            res["lambda_severity_spearman"] = _spearman(lam, test.severity)
        res["lambda_mean"] = float(lam.mean())
    if getattr(model, "gate", None) is not None:
        res["mechanisms"] = mechanisms(model, test, train_config, mc_samples, seed, lam=lam)
    return res, predictions


def _rate_key(rate: float) -> str:
    return str(float(rate))  # "0.0", "0.1", "0.5", ...


# ------------------------------------------------------------- bootstrap intervals on the headline numbers


class WeightedHeadline:
    """The headline metrics of one set of predictions (probabilities [N, C], labels [N] or multi-hot
    [N, C]) as functions of per-example weights w [N] — how many times a bootstrap resample holds each
    example. With w = the counts of a resample's indices each equals the metric of aecf.metrics on the
    resampled rows (ties, bins and the classes without a positive treated alike), without copying them:
    acc (mean per-label accuracy for multi-label), map (macro AP over the classes with a positive, ties
    grouped) and ece (15 equal-width bins)."""

    def __init__(self, probs: torch.Tensor, labels: torch.Tensor) -> None:
        p = probs.detach().cpu().double().numpy()
        y = labels.detach().cpu().numpy()
        n, c = p.shape
        targets = (y > 0) if y.ndim == 2 else np.eye(c, dtype=bool)[y.astype(np.int64)]
        if y.ndim == 2:
            self.correct = ((p >= 0.5) == targets).mean(axis=1)
            conf, outcome = p, targets.astype(np.float64)
        else:
            self.correct = (p.argmax(axis=1) == y).astype(np.float64)
            conf, outcome = p.max(axis=1, keepdims=True), self.correct[:, None]
        # ECE: per example, the sum of (confidence - outcome) that lands in each bin
        bins = np.clip(np.ceil(conf * M.ECE_BINS).astype(np.int64) - 1, 0, M.ECE_BINS - 1)
        self.gap = np.zeros((n, M.ECE_BINS))
        np.add.at(self.gap, (np.repeat(np.arange(n), conf.shape[1]), bins.ravel()), (conf - outcome).ravel())
        self.values_per_example = conf.shape[1]
        # AP: each class's examples by descending score ([C, N], one row per class), and for each position
        # the flat index of the end of its tie group
        order = np.argsort(-p, axis=0, kind="mergesort")
        s = np.take_along_axis(p, order, axis=0)
        last = np.ones_like(s, dtype=bool)
        last[:-1] = s[:-1] != s[1:]
        ends = np.where(last, np.arange(n)[:, None], n)
        group_end = np.minimum.accumulate(ends[::-1], axis=0)[::-1]
        self.order = np.ascontiguousarray(order.T)
        self.sorted_targets = np.ascontiguousarray(np.take_along_axis(targets, order, axis=0).T, np.float64)
        self.group_end = (group_end.T + n * np.arange(c)[:, None]).ravel()

    def acc(self, w: np.ndarray) -> float:
        return float(w @ self.correct / w.sum())

    def ece(self, w: np.ndarray) -> float:
        return float(np.abs(w @ self.gap).sum() / (w.sum() * self.values_per_example))

    def map(self, w: np.ndarray) -> float:
        ws = w[self.order]
        hits = ws * self.sorted_targets
        tp = np.cumsum(hits, axis=1).ravel()[self.group_end]  # at the end of each one's tie group
        seen = np.cumsum(ws, axis=1).ravel()[self.group_end]
        seen += seen == 0  # nothing seen yet: no hit either, the term is 0
        ap_sum = (hits.ravel() * tp / seen).reshape(hits.shape).sum(axis=1)
        positives = hits.sum(axis=1)
        has = positives > 0
        return float(np.mean(ap_sum[has] / positives[has])) if has.any() else float("nan")


def headline_intervals(
    predictions: list[dict[str, list[torch.Tensor]]],
    labels: torch.Tensor,
    n_resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    level: float = CI_LEVEL,
) -> dict | None:
    """Percentile bootstrap intervals (aecf.metrics.bootstrap_interval) on the headline numbers: acc, map and
    ece with every input ("full") and at CI_RATE drop ("drop" -> "0.5"), as [low, high]. `predictions`
    holds one dict per seed of a method ("full": [probs], rate key: [probs per mask draw], as `_evaluate`
    returns them); each resample draws N test examples with replacement and computes the value the JSON
    reports on them: the mean over the seeds and mask draws. The draws depend on N and `seed` only, so every
    method of one evaluation is resampled alike. None for n_resamples = 0."""
    if n_resamples < 1:
        return None
    n = len(labels)
    out: dict = {}
    for key in predictions[0]:
        members = [WeightedHeadline(p, labels) for pred in predictions for p in pred[key]]
        cell = {}
        for metric in HEADLINE_CI:

            def value(idx, metric=metric, members=members):
                w = np.bincount(idx, minlength=n).astype(np.float64)
                return float(np.mean([getattr(m, metric)(w) for m in members]))

            lo, hi = M.bootstrap_interval(
                value, np.arange(n), n_resamples=n_resamples, seed=seed, level=level
            )
            cell[metric] = None if math.isnan(lo) else [lo, hi]
        if key == "full":
            out["full"] = cell
        else:
            out.setdefault("drop", {})[key] = cell
    return out


# ------------------------------------------------------------------------- robustness over the drop curve


def drop_curve_robustness(methods: dict, multilabel: bool, reference: str | None) -> dict:
    """MultiBench's relative and effective robustness (aecf.metrics) of every method over its drop curve —
    accuracy (mAP for multi-label) against the drop rate, at the rates every method was evaluated at.
    Writes methods[name]["robustness"] = {"area", "relative", "effective", "effective_normalised"} (area:
    trapezoid area under the curve; relative: the area max-min normalised over these methods; effective:
    Σ over the rates of (a_r - a_0) - (ref_r - ref_0) against the `reference` method, 0 for the reference
    itself, None without one; effective_normalised: that max-min normalised; the normalised ones are None
    for a single method) and returns what meta says."""
    key = "map" if multilabel else "acc"
    rate_sets = [set(e.get("drop", {})) for e in methods.values()]
    rates = sorted(set.intersection(*rate_sets), key=float) if rate_sets else []
    curves = {}
    for name, e in methods.items():
        curve = [e["drop"][r].get(key) for r in rates]
        if all(isinstance(v, int | float) and math.isfinite(v) for v in curve):
            curves[name] = curve
    meta: dict = {
        "metric": key,
        "rates": [float(r) for r in rates],
        "reference": reference if reference in curves else None,
        "normalised_over": list(curves),
    }
    if len(rates) < 2 or not curves:
        meta["note"] = "a drop curve needs at least two drop rates: no robustness computed"
        for e in methods.values():
            e["robustness"] = None
        return meta
    r = [float(x) for x in rates]
    compared = len(curves) > 1  # max-min normalising one method says nothing
    relative = M.relative_robustness(r, curves) if compared else {}
    effective, normalised = {}, {}
    notes = [] if compared else ["one method: nothing to normalise over (relative robustness needs two)"]
    if meta["reference"] is not None:
        effective = {name: M.effective_robustness(r, c, curves[reference]) for name, c in curves.items()}
        normalised = M.effective_robustness_scores(r, curves, reference) if compared else {}
    else:
        notes.append(
            "no late-fusion checkpoint among those evaluated: effective robustness needs it as the reference"
        )
    if notes:
        meta["note"] = "; ".join(notes)
    for name, e in methods.items():
        e["robustness"] = (
            {
                "area": M.robustness_area(r, curves[name]),
                "relative": relative.get(name),
                "effective": effective.get(name),
                "effective_normalised": normalised.get(name),
            }
            if name in curves
            else None
        )
    return meta


# ------------------------------------------------------------------------------- seeds → mean, std


def _numeric_tree(trees: list, reduce):
    """Reduce a list of same-shaped JSON trees leaf by leaf (None where no seed has a number)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: _numeric_tree([t.get(k) for t in trees if isinstance(t, dict)], reduce) for k in first}
    if isinstance(first, list | str):
        return first  # reliability bin edges, the worst subset's name: taken from the first seed
    values = [t for t in trees if isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t)]
    return reduce(values) if values else None


def aggregate_seeds(per_seed: list[dict]) -> dict:
    """Mean over seeds at every numeric leaf, plus "std" (population std; 0 for one seed) and "n_seeds"."""
    mean = _numeric_tree(per_seed, lambda v: float(np.mean(v)))
    std = _numeric_tree(
        [{k: v for k, v in r.items() if k != "reliability"} for r in per_seed], lambda v: float(np.std(v))
    )
    if len(per_seed) > 1 and "reliability" in per_seed[0]:
        mean["reliability"] = per_seed[0][
            "reliability"
        ]  # bins of the first seed; averaging bins would blur them
    mean["std"] = std
    mean["n_seeds"] = len(per_seed)
    return mean


def find_checkpoints(checkpoint_dir: str | Path = FUSION_CHECKPOINTS) -> dict[str, list[Path]]:
    """method -> checkpoint weight files (sorted by name), read from each checkpoint's config."""
    found: dict[str, list[Path]] = {}
    for path in sorted(Path(checkpoint_dir).glob("*.safetensors")):
        method = checkpoint_info(path).method
        found.setdefault(method, []).append(path)
    order = list(METHODS)
    return dict(sorted(found.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))


def evaluate_checkpoints(
    checkpoint_dir: str | Path, test: FeatureSplit, val: FeatureSplit | None, progress=None, **kwargs
) -> dict:
    """{"methods": {name: aggregated metrics + "checkpoints"}, "meta": {...}} for every checkpoint found."""
    t0 = time.perf_counter()
    bootstrap = kwargs.pop("bootstrap", BOOTSTRAP_RESAMPLES)
    settings = _settings(kwargs)
    methods = {}
    for method, paths in find_checkpoints(checkpoint_dir).items():
        per_seed, predictions = [], []
        for path in paths:
            train_config = read_checkpoint_config(path).get("train")
            res, pred = _evaluate(load_checkpoint(path), test, val, train_config=train_config, **settings)
            per_seed.append(res)
            predictions.append(pred)
            if progress:
                r = per_seed[-1]
                key = "map" if r.get("multilabel") else "acc"
                at_half = f", {key}@0.5 {r['drop']['0.5'][key]:.4f}" if "0.5" in r["drop"] else ""
                progress(f"{path.name}: {key} {r['full'][key]:.4f}{at_half}")
        entry = aggregate_seeds(per_seed)
        entry["ci"] = headline_intervals(predictions, test.label, bootstrap)  # of the mean over seeds
        entry["checkpoints"] = [p.name for p in paths]
        methods[method] = entry
    specialists = load_specialists(Path(checkpoint_dir) / SPECIALISTS_DIR)
    if specialists is not None and tuple(specialists.modalities) == tuple(test.modalities):
        # the reference limit: one model per modality subset, routed by which modalities are present
        res, pred = _evaluate(specialists, test, val, train_config=None, **settings)
        entry = aggregate_seeds([res])
        entry["ci"] = headline_intervals([pred], test.label, bootstrap)
        entry["checkpoints"] = [f"{SPECIALISTS_DIR}/{name}" for name in specialists.member_names]
        entry["reference"] = True
        methods["specialists"] = entry
        if progress:
            progress(
                f"specialists: acc {entry['full']['acc']:.4f}, acc@0.5 {entry['drop'].get('0.5', {}).get('acc', float('nan')):.4f}"
            )
    reference = ROBUSTNESS_REFERENCE if ROBUSTNESS_REFERENCE in methods else None
    return {"methods": methods, "meta": _meta(methods, test, settings, reference, bootstrap, t0)}


def _meta(methods: dict, test, settings: dict, reference: str | None, bootstrap: int, t0: float) -> dict:
    """What an evaluation was run with: the test size, the drop rates and draws, the ECE bins, the
    robustness over the drop curve against `reference`, the bootstrap, and the seconds it took."""
    multilabel = M.is_multilabel(test.label)
    return {
        "n_test": len(test),
        "drop_rates": list(settings["drop_rates"]),
        "mask_seeds": settings["mask_seeds"],
        "mc_samples": settings["mc_samples"],
        "ece_bins": M.ECE_BINS,
        "multilabel": multilabel,
        "monotonicity_tolerance": M.MONOTONICITY_TOLERANCE,
        "robustness": drop_curve_robustness(methods, multilabel, reference),
        "bootstrap": _bootstrap_meta(bootstrap, settings),
        "seconds": time.perf_counter() - t0,
    }


def _settings(kwargs: dict) -> dict:
    """The evaluation settings of `_evaluate`, with their defaults (kwargs of the public functions)."""
    unknown = set(kwargs) - {"drop_rates", "mask_seeds", "mc_samples", "seed"}
    if unknown:
        raise TypeError(f"unknown evaluation settings: {', '.join(sorted(unknown))}")
    return {
        "drop_rates": tuple(kwargs.get("drop_rates", DROP_RATES)),
        "mask_seeds": kwargs.get("mask_seeds", MASK_SEEDS),
        "mc_samples": kwargs.get("mc_samples", MC_SAMPLES),
        "seed": kwargs.get("seed", 0),
    }


def _bootstrap_meta(n_resamples: int, settings: dict) -> dict:
    rates = [_rate_key(r) for r in settings["drop_rates"] if abs(r - CI_RATE) < 1e-9]
    return {
        "n_resamples": n_resamples,
        "level": CI_LEVEL,
        "seed": BOOTSTRAP_SEED,
        "metrics": list(HEADLINE_CI),
        "at": ["full", *(f"drop {r}" for r in rates)],
        "method": "percentile bootstrap over the test examples; each resample scores the mean over the "
        "seeds and mask draws, as the point estimate does; every method sees the same resamples",
    }


# --------------------------------------------------------------------------- any dataset, by file stem


def collect_checkpoints(paths) -> dict[str, Path | SpecialistEnsemble]:
    """stem -> checkpoint for each PATH: a .safetensors/.json file or stem, or a folder (each checkpoint in
    it, and its `specialists/` subfolder); a folder of specialists is one entry named after the folder."""
    found: dict[str, Path | SpecialistEnsemble] = {}

    def add(stem: str, ckpt, folder: Path) -> None:
        found[stem if stem not in found else f"{folder.name}/{stem}"] = ckpt  # two folders, one stem

    for path in map(Path, paths):
        if path.is_dir():
            ensemble = load_specialists(path)
            if ensemble is not None:
                add(path.name, ensemble, path.parent)
                continue
            for weights in sorted(path.glob("*.safetensors")):
                add(checkpoint_stem(weights), weights, path)
            ensemble = load_specialists(path / SPECIALISTS_DIR)
            if ensemble is not None:
                add(SPECIALISTS_DIR, ensemble, path)
        else:
            info = checkpoint_info(path)
            if not info.weights.exists():
                raise CheckpointError(f"Checkpoint {info.weights} not found.")
            add(info.stem, info.weights, info.weights.parent)
    if not found:
        raise CheckpointError(f"no fusion checkpoints in {', '.join(map(str, paths))}")
    return found


def evaluate_stems(
    checkpoints: dict[str, Path | SpecialistEnsemble],
    test: FeatureSplit,
    val: FeatureSplit | None,
    progress=None,
    **kwargs,
) -> dict:
    """{"methods": {stem: metrics}} for each checkpoint (no seed grouping), "meta" as evaluate_checkpoints."""
    t0 = time.perf_counter()
    bootstrap = kwargs.pop("bootstrap", BOOTSTRAP_RESAMPLES)
    settings = _settings(kwargs)
    methods = {}
    for stem, ckpt in checkpoints.items():
        if isinstance(ckpt, SpecialistEnsemble):
            if tuple(ckpt.modalities) != tuple(test.modalities):
                raise CheckpointError(
                    f"the specialists in {stem}/ fuse {list(ckpt.modalities)}, not this dataset's {list(test.modalities)}"
                )
            entry = evaluate_model(ckpt, test, val, bootstrap=bootstrap, **settings)
            entry["method"], entry["reference"], entry["estimated"] = "specialists", True, ckpt.estimated
            entry["checkpoints"] = [f"{stem}/{name}" for name in ckpt.member_names]
        else:
            model = load_checkpoint(ckpt)
            if tuple(model.config.modalities) != tuple(test.modalities) or model.config.widths != test.dims:
                raise CheckpointError(
                    f"{ckpt.name} fuses {list(model.config.modalities)} {list(model.config.widths)}, not this "
                    f"dataset's {list(test.modalities)} {list(test.dims)}: it was trained on other data."
                )
            train_config = read_checkpoint_config(ckpt).get("train")
            entry = evaluate_model(
                model, test, val, train_config=train_config, bootstrap=bootstrap, **settings
            )
            entry["method"] = model.config.method
            entry["checkpoints"] = [ckpt.name]
        methods[stem] = entry
        if progress:
            key = "map" if entry.get("multilabel") else "acc"
            at_half = f", {key} @ 50 % drop {entry['drop']['0.5'][key]:.4f}" if "0.5" in entry["drop"] else ""
            progress(f"{stem}: {key} {entry['full'][key]:.4f}{at_half}")
    meta = _meta(methods, test, settings, robustness_reference(methods), bootstrap, t0)
    meta["modalities"], meta["dims"] = list(test.modalities), list(test.dims)
    meta["subsets"] = (
        "every subset"
        if len(test.modalities) <= ALL_SUBSETS_UP_TO
        else "singletons, all, the worst of each size"
    )
    return {"methods": methods, "meta": meta}


def robustness_reference(methods: dict) -> str | None:
    """The late-fusion entry robustness is measured against: the stem `late_fusion`, else the first
    checkpoint trained as late fusion; None when none was evaluated."""
    if ROBUSTNESS_REFERENCE in methods:
        return ROBUSTNESS_REFERENCE
    return next((k for k, e in methods.items() if e.get("method") == ROBUSTNESS_REFERENCE), None)


def summary_table(results: dict) -> str:
    """A plain-text table of the headline numbers, one row per checkpoint (for the terminal)."""
    rates = [r for r in ("0.0", "0.5", "0.9") if r in next(iter(results["methods"].values()))["drop"]]
    key = "map" if results["meta"].get("multilabel") else "acc"
    head = f"{'checkpoint':<28} " + " ".join(f"{key} @ {float(r):.0%}".rjust(11) for r in rates)
    head += "   ECE @ 50%  worst subset"
    lines = [head]
    for stem, e in results["methods"].items():
        cells = " ".join(f"{100 * e['drop'][r][key]:10.1f}%" for r in rates)
        ece = e["drop"].get("0.5", {}).get("ece")
        worst = e.get("worst_subset_acc")
        lines.append(
            f"{stem:<28} {cells}   {'–' if ece is None else f'{ece:9.3f}'}  "
            f"{'–' if worst is None else f'{100 * worst:10.1f}%'}"
        )
    return "\n".join(lines)


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--data",
        default=None,
        metavar="DIR",
        help="a dataset folder (docs/data-format.md): evaluate on its test split, JSON keyed by checkpoint stem",
    )
    p.add_argument(
        "--checkpoints",
        nargs="+",
        default=[str(FUSION_CHECKPOINTS)],
        metavar="PATH",
        help="checkpoint files or folders (default: the shipped digits checkpoints)",
    )
    p.add_argument(
        "--features", default=str(FEATURE_DIR), help="without --data: the feature cache (test.npz, val.npz)"
    )
    p.add_argument(
        "--out",
        default=None,
        help="without --data: directory for results.md and the figures (default results/; for COCO features, "
        "the --json file's folder or FEATURES/results, so that the shipped digits results are never overwritten)",
    )
    p.add_argument("--json", default=None, help="results JSON path (default OUT/results.json)")
    p.add_argument("--mask-seeds", type=int, default=MASK_SEEDS)
    p.add_argument(
        "--drop-rates",
        type=float,
        nargs="+",
        default=list(DROP_RATES),
        metavar="R",
        help=f"random modality-drop rates (default {' '.join(map(str, DROP_RATES))})",
    )
    p.add_argument("--mc-samples", type=int, default=MC_SAMPLES)
    p.add_argument(
        "--bootstrap",
        type=int,
        default=BOOTSTRAP_RESAMPLES,
        metavar="N",
        help=f"test-set resamples behind each 95 %% interval (default {BOOTSTRAP_RESAMPLES}; 0: none)",
    )
    p.add_argument("--no-png", action="store_true", help="HTML figures only")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = dict(
        mask_seeds=args.mask_seeds,
        mc_samples=args.mc_samples,
        drop_rates=tuple(args.drop_rates),
        bootstrap=args.bootstrap,
    )
    if args.data is not None:
        return _main_dataset(args, settings)
    t0 = time.perf_counter()
    checkpoint_dir = args.checkpoints[0]
    try:
        if len(args.checkpoints) != 1 or not Path(checkpoint_dir).is_dir():
            print("error: without --data, --checkpoints is one folder (give --data DIR to evaluate files)")
            return 2
        test = load_split("test", args.features)
        val = load_split("val", args.features)
        if not find_checkpoints(checkpoint_dir):
            print(
                f"error: no fusion checkpoints (*.safetensors) in {checkpoint_dir}; train some with `python -m aecf train --out`"
            )
            return 1
        results = evaluate_checkpoints(checkpoint_dir, test, val, progress=print, **settings)
    except (InputError, CheckpointError) as e:
        print(f"error: {e}")
        return 1
    if args.out is not None:
        out = Path(args.out)
    elif (Path(args.features) / "meta.json").is_file():
        out = Path(args.json).parent if args.json else Path(args.features) / "results"
    else:
        out = RESULTS_DIR
    out.mkdir(parents=True, exist_ok=True)
    json_path = Path(args.json) if args.json else out / "results.json"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(json_path, json.dumps(_json_safe(results), indent=1))
    md = results_markdown(results)
    write_atomic(out / "results.md", md)
    print(md)
    if not args.no_figures:
        written = save_figures(report_figures(results["methods"]), out, png=not args.no_png)
        print(f"figures: {len(written)} files in {out}")
    print(f"results: {json_path}, {out / 'results.md'} ({time.perf_counter() - t0:.1f} s)")
    return 0


def _main_dataset(args, settings: dict) -> int:
    """`--data DIR`: every checkpoint on the dataset's test split, keyed by stem, into --json."""
    if not args.json:
        print("error: give --json FILE for the results")
        return 2
    t0 = time.perf_counter()
    try:
        data = read_dataset(args.data)
        print(describe(data))
        checkpoints = collect_checkpoints(args.checkpoints)
        results = evaluate_stems(
            checkpoints, data.split("test"), data.split("val"), progress=print, **settings
        )
    except (InputError, CheckpointError) as e:
        print(f"error: {e}")
        return 1
    results["meta"].update(
        {
            "dataset": data.spec.name,
            "task": data.spec.task,
            "val": data.val_source,
            "data": str(Path(args.data).resolve()),
        }
    )
    write_atomic(Path(args.json), json.dumps(_json_safe(results), indent=1))
    print(summary_table(results))
    print(f"results: {args.json} ({time.perf_counter() - t0:.1f} s)")
    return 0
