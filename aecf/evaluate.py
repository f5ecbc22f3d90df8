"""Evaluate every shipped fusion checkpoint on the test split: the numbers of the results table.

    python -m aecf evaluate [--json FILE] [--out DIR] [--checkpoints DIR] [--features DIR] [--no-png]

For each checkpoint: accuracy and ECE (15 bins; raw and after the temperature fit on validation) with
all inputs, with each of the 2^M - 1 modality subsets, and under random modality drop (each modality
dropped with probability r, at least one kept, mean over `mask_seeds` draws); the monotonicity
violation rate over subset pairs; the worst-subset accuracy; the mean gate entropy; the Spearman
correlation of λ(x) (K = 20 MC-dropout passes) with the recorded corruption severity.

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
from aecf.checkpoint import checkpoint_info, load_checkpoint, read_checkpoint_config
from aecf.constants import FEATURE_DIR
from aecf.constants import subset_name as _subset_name
from aecf.data.cache import FeatureSplit
from aecf.figures.tables import results_markdown
from aecf.files import write_atomic
from aecf.fusion import FusionModel, adaptive_lambda
from aecf.losses import gate_entropy
from aecf.masking import random_modality_drop
from aecf.paths import FUSION_DIR, RESULTS_DIR
from aecf.specialists import SPECIALISTS_DIR, load_specialists

DROP_RATES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
MASK_SEEDS = 5
MC_SAMPLES = 20
FUSION_CHECKPOINTS = FUSION_DIR


CAPTION_LEVELS = ("exact", "partial", "none", "wrong")  # caption_level 0..3 of the digits benchmark


def _calibration(
    model: FusionModel,
    logits: torch.Tensor,
    labels: torch.Tensor,
    temperature: float,
    deploy_temperature: float | None = None,
) -> dict:
    """acc, map (macro one-vs-rest AP on the raw probabilities), ece (raw), ece_ts (the full-input
    temperature) and, given one, ece_ts_deploy (a temperature fit under the deployment's missingness)."""
    probs = model.head_type.probs(logits)
    res = {"acc": M.accuracy(probs, labels)}
    res["map"] = M.mean_average_precision(
        probs, labels if M.is_multilabel(labels) else M.one_hot(labels, probs.shape[-1])
    )
    res["ece"] = M.expected_calibration_error(probs, labels)
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
    present = torch.ones(val.x.shape[:2], dtype=torch.bool)
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
    predictions: torch.Tensor | None = None,
    labels: torch.Tensor | None = None,
) -> dict:
    """Violation rates on the subset lattice: "all" examples, the "consistent" ones (caption not wrong), and
    "wrong_caption_lowers_confidence": the share of wrong-caption examples whose confidence with all their
    modalities is lower (by more than the tolerance) than without the caption — where the paper's
    assumption breaks and a drop is the right answer. None where the split has no caption levels.

    With `predictions` [S, N] (each subset's predicted class) and single-label `labels` [N], also
    "supported": the violation rate over the pairs A ⊊ B whose added modalities B \\ A, alone, predict the
    true label — where more information is right and confidence has no reason to fall.

    confidence, valid: [S, N], rows in `subsets` order, every modality present (the full input)."""
    res = {"all": M.monotonicity_violation_rate(confidence, subsets, valid, tolerance)}
    if predictions is not None and labels is not None and labels.ndim == 1:
        index = {s: i for i, s in enumerate(subsets)}
        hits = total = 0
        for a, b in M.subset_pairs(subsets):
            added = tuple(m for m in subsets[b] if m not in subsets[a])
            ok = (predictions[index[added]] == labels) & valid[b]
            hits += int(((confidence[a] > confidence[b] + tolerance) & ok).sum())
            total += int(ok.sum())
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
    from aecf.masking import acm_drop_probs, drop_prob_ratio

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
    # checkpoints from before issue 10 were trained with the entropy blend
    q = acm_drop_probs(
        gate, present, rate, cfg.get("acm_sharpness", "entropy"), float(cfg.get("acm_gamma", 1.0))
    )
    return drop_prob_ratio(q, present)


def checkpoint_acm_drop_ratios(path: str | Path, split: FeatureSplit) -> torch.Tensor | None:
    """`acm_drop_ratios` of a checkpoint on a split, all modalities present, at the run's π_max."""
    return acm_drop_ratios(load_checkpoint(path), split.x, read_checkpoint_config(path).get("train"))


@torch.no_grad()
def mechanisms(
    model: FusionModel,
    split: FeatureSplit,
    train_config: dict | None = None,
    mc_samples: int = MC_SAMPLES,
    seed: int = 0,
    lam: torch.Tensor | None = None,
) -> dict | None:
    """Do the gate, λ(x) and ACM act? (every input present; None for a model without a gate)

    lambda_iqr_fraction: interquartile range of λ(x) over [λ_min, λ_max]; lambda_severity_spearman;
    gate_reliability_spearman: Spearman(p_m, 1 - severity_m) per modality other than the caption;
    caption_gate_by_level: mean caption weight per caption level; acm_adaptive_share: share of examples
    whose most-trusted modality ACM drops ≥ 2× as often as the least-trusted (at π_max)."""
    if model.gate is None:
        return None
    model.eval()
    x = split.x
    present = torch.ones(x.shape[:2], dtype=torch.bool)
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
        rho = M.spearman(lam.numpy(), split.severity.numpy())
        res["lambda_severity_spearman"] = None if math.isnan(rho) else rho
    res["gate_reliability_spearman"] = {}
    for i, m in enumerate(names):
        if m == "caption":
            continue
        rho = M.spearman(gate[:, i].numpy(), (1 - split.modality_severity[:, i]).numpy())
        res["gate_reliability_spearman"][m] = None if math.isnan(rho) else rho
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
    res["gate_mean"] = {m: float(gate[:, i].mean()) for i, m in enumerate(names)}
    return res


@torch.no_grad()
def evaluate_model(
    model: FusionModel,
    test: FeatureSplit,
    val: FeatureSplit | None = None,
    drop_rates=DROP_RATES,
    mask_seeds: int = MASK_SEEDS,
    mc_samples: int = MC_SAMPLES,
    seed: int = 0,
    train_config: dict | None = None,
) -> dict:
    """All test metrics of one model (see module docstring). The temperature is fit on `val` (all inputs)
    if given, else the one stored in the model config is used; with `val`, every drop rate also gets a
    temperature fit on val under that drop rate (`ece_ts_deploy`, `temperature_deploy`). `train_config`
    (the checkpoint's "train" section) tells `mechanisms` which ACM rule the run used."""
    model.eval()
    x, y = test.x, test.label
    n_mod = x.shape[1]
    present = torch.ones(x.shape[:2], dtype=torch.bool)
    if val is not None:
        temperature = M.fit_temperature(model(val.x)["logits"], val.label)
    else:
        temperature = model.config.temperature
    out = model(x, present)
    res: dict = {
        "temperature": temperature,
        "multilabel": M.is_multilabel(y),
        "full": _calibration(model, out["logits"], y, temperature),
    }
    reliability = {"full": M.reliability_bins(model.head_type.probs(out["logits"]), y)}

    subsets = M.nonempty_subsets(n_mod)
    sub = model.forward_subsets(x, present, M.subset_masks(subsets, n_mod))
    names = [_subset_name(model.config.modalities[i] for i in s) for s in subsets]
    res["subsets"] = {
        name: _calibration(model, sub["logits"][k], y, temperature) for k, name in enumerate(names)
    }
    conf = model.head_type.confidence(model.head_type.probs(sub["logits"]))
    res["monotonicity_violation_rate"] = M.monotonicity_violation_rate(conf, subsets, sub["valid"])
    preds = sub["logits"].argmax(-1) if not M.is_multilabel(y) else None
    res["monotonicity"] = monotonicity_report(
        conf, subsets, sub["valid"], model.config.modalities, test.caption_level, predictions=preds, labels=y
    )
    res["worst_subset_acc"] = min(v["acc"] for v in res["subsets"].values())
    if M.is_multilabel(y):
        res["worst_subset_map"] = min(v["map"] for v in res["subsets"].values())

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
        rho = M.spearman(lam.numpy(), test.severity.numpy())
        res["lambda_severity_spearman"] = None if math.isnan(rho) else rho
        res["lambda_mean"] = float(lam.mean())
    if getattr(model, "gate", None) is not None:
        res["mechanisms"] = mechanisms(model, test, train_config, mc_samples, seed, lam=lam)
    return res


def _rate_key(rate: float) -> str:
    return str(float(rate))  # "0.0", "0.1", "0.5", ...


# ------------------------------------------------------------------------------- seeds → mean, std


def _numeric_tree(trees: list, reduce):
    """Reduce a list of same-shaped JSON trees leaf by leaf (None where no seed has a number)."""
    first = trees[0]
    if isinstance(first, dict):
        return {k: _numeric_tree([t.get(k) for t in trees if isinstance(t, dict)], reduce) for k in first}
    if isinstance(first, list):
        return first  # reliability bin edges etc.: taken from the first seed
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
    from aecf.train import METHODS

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
    methods = {}
    for method, paths in find_checkpoints(checkpoint_dir).items():
        per_seed = []
        for path in paths:
            train_config = read_checkpoint_config(path).get("train")
            per_seed.append(
                evaluate_model(load_checkpoint(path), test, val, train_config=train_config, **kwargs)
            )
            if progress:
                r = per_seed[-1]
                key = "map" if r.get("multilabel") else "acc"
                at_half = f", {key}@0.5 {r['drop']['0.5'][key]:.4f}" if "0.5" in r["drop"] else ""
                progress(f"{path.name}: {key} {r['full'][key]:.4f}{at_half}")
        entry = aggregate_seeds(per_seed)
        entry["checkpoints"] = [p.name for p in paths]
        methods[method] = entry
    specialists = load_specialists(Path(checkpoint_dir) / SPECIALISTS_DIR)
    if specialists is not None and tuple(specialists.modalities) == tuple(test.modalities):
        # the reference limit: one model per modality subset, routed by which modalities are present
        entry = aggregate_seeds([evaluate_model(specialists, test, val, **kwargs)])
        entry["checkpoints"] = [f"{SPECIALISTS_DIR}/{name}" for name in specialists.member_names]
        entry["reference"] = True
        methods["specialists"] = entry
        if progress:
            progress(
                f"specialists: acc {entry['full']['acc']:.4f}, acc@0.5 {entry['drop'].get('0.5', {}).get('acc', float('nan')):.4f}"
            )
    return {
        "methods": methods,
        "meta": {
            "n_test": len(test),
            "drop_rates": list(kwargs.get("drop_rates", DROP_RATES)),
            "mask_seeds": kwargs.get("mask_seeds", MASK_SEEDS),
            "mc_samples": kwargs.get("mc_samples", MC_SAMPLES),
            "ece_bins": M.ECE_BINS,
            "multilabel": M.is_multilabel(test.label),
            "monotonicity_tolerance": M.MONOTONICITY_TOLERANCE,
            "seconds": time.perf_counter() - t0,
        },
    }


def _json_safe(obj):
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def main(argv: list[str] | None = None) -> int:
    from aecf.data.cache import load_split
    from aecf.errors import CheckpointError, InputError
    from aecf.figures import report_figures, save_figures

    p = argparse.ArgumentParser(prog="python -m aecf evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoints", default=str(FUSION_CHECKPOINTS), help="directory of fusion checkpoints")
    p.add_argument(
        "--features", default=str(FEATURE_DIR), help="embedding cache directory (test.npz, val.npz)"
    )
    p.add_argument(
        "--out",
        default=None,
        help="directory for results.md and the figures (default results/; for COCO features, the --json "
        "file's folder or FEATURES/results, so that the shipped digits results are never overwritten)",
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
    p.add_argument("--no-png", action="store_true", help="HTML figures only")
    p.add_argument("--no-figures", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    try:
        test = load_split("test", args.features)
        val = load_split("val", args.features)
        if not find_checkpoints(args.checkpoints):
            print(
                f"error: no fusion checkpoints (*.safetensors) in {args.checkpoints}; train some with `python -m aecf train --out`"
            )
            return 1
        results = evaluate_checkpoints(
            args.checkpoints,
            test,
            val,
            progress=print,
            mask_seeds=args.mask_seeds,
            mc_samples=args.mc_samples,
            drop_rates=tuple(args.drop_rates),
        )
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
