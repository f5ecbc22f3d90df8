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
from aecf.checkpoint import load_checkpoint, read_checkpoint_config
from aecf.constants import CHECKPOINT_DIR, FEATURE_DIR, ROOT
from aecf.constants import subset_name as _subset_name
from aecf.data.cache import FeatureSplit
from aecf.fusion import FusionModel, adaptive_lambda
from aecf.losses import gate_entropy
from aecf.masking import random_modality_drop

DROP_RATES = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9)
MASK_SEEDS = 5
MC_SAMPLES = 20
FUSION_CHECKPOINTS = CHECKPOINT_DIR / "fusion"
RESULTS_DIR = ROOT / "results"


def _calibration(model: FusionModel, logits: torch.Tensor, labels: torch.Tensor, temperature: float) -> dict:
    probs = model.head_type.probs(logits)
    res = {"acc": M.accuracy(probs, labels)}
    if M.is_multilabel(labels):
        res["map"] = M.mean_average_precision(probs, labels)  # temperature does not change the ranking
    res["ece"] = M.expected_calibration_error(probs, labels)
    res["ece_ts"] = M.expected_calibration_error(model.head_type.probs(logits / temperature), labels)
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
) -> dict:
    """All test metrics of one model (see module docstring). The temperature is fit on `val` (all inputs)
    if given, else the one stored in the model config is used."""
    model.eval()
    x, y = test.x, test.label
    n_mod = x.shape[1]
    present = torch.ones(x.shape[:2], dtype=torch.bool)
    if val is not None:
        temperature = M.fit_temperature(model(val.x)["logits"], val.label)
    else:
        temperature = model.config.temperature
    out = model(x, present)
    res: dict = {"temperature": temperature, "full": _calibration(model, out["logits"], y, temperature)}
    reliability = {"full": M.reliability_bins(model.head_type.probs(out["logits"]), y)}

    subsets = M.nonempty_subsets(n_mod)
    sub = model.forward_subsets(x, present, M.subset_masks(subsets, n_mod))
    names = [_subset_name(model.config.modalities[i] for i in s) for s in subsets]
    res["subsets"] = {
        name: _calibration(model, sub["logits"][k], y, temperature) for k, name in enumerate(names)
    }
    conf = model.head_type.confidence(model.head_type.probs(sub["logits"]))
    res["monotonicity_violation_rate"] = M.monotonicity_violation_rate(conf, subsets, sub["valid"])
    res["worst_subset_acc"] = min(v["acc"] for v in res["subsets"].values())
    if M.is_multilabel(y):
        res["worst_subset_map"] = min(v["map"] for v in res["subsets"].values())

    res["drop"] = {}
    for rate in drop_rates:
        per_seed = []
        for s in range(mask_seeds if rate > 0 else 1):
            keep = random_modality_drop(present, rate, torch.Generator().manual_seed(seed * 1000 + s))
            logits = model(x, keep)["logits"]
            per_seed.append(_calibration(model, logits, y, temperature))
            if s == 0 and abs(rate - 0.5) < 1e-9:
                reliability["drop_0.5"] = M.reliability_bins(model.head_type.probs(logits), y)
        res["drop"][_rate_key(rate)] = {k: float(np.mean([p[k] for p in per_seed])) for k in per_seed[0]}
    res["reliability"] = reliability

    res["gate_entropy"] = float(gate_entropy(out["gate"]).mean()) if out["gate"] is not None else None
    res["lambda_severity_spearman"] = None
    if float(model.uncertainty_scale) > 0:  # trained with an adaptive λ(x)
        torch.manual_seed(seed)
        lam = adaptive_lambda(model, x, present, mc_samples)["lam"]
        rho = M.spearman(lam.numpy(), test.severity.numpy())
        res["lambda_severity_spearman"] = None if math.isnan(rho) else rho
        res["lambda_mean"] = float(lam.mean())
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
        method = read_checkpoint_config(path)["model"].get("method", path.stem.split(".")[0])
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
            per_seed.append(evaluate_model(load_checkpoint(path), test, val, **kwargs))
            if progress:
                r = per_seed[-1]
                key = "map" if "map" in r["full"] else "acc"
                at_half = f", {key}@0.5 {r['drop']['0.5'][key]:.4f}" if "0.5" in r["drop"] else ""
                progress(f"{path.name}: {key} {r['full'][key]:.4f}{at_half}")
        entry = aggregate_seeds(per_seed)
        entry["checkpoints"] = [p.name for p in paths]
        methods[method] = entry
    return {
        "methods": methods,
        "meta": {
            "n_test": len(test),
            "drop_rates": list(kwargs.get("drop_rates", DROP_RATES)),
            "mask_seeds": kwargs.get("mask_seeds", MASK_SEEDS),
            "mc_samples": kwargs.get("mc_samples", MC_SAMPLES),
            "ece_bins": M.ECE_BINS,
            "monotonicity_tolerance": M.MONOTONICITY_TOLERANCE,
            "seconds": time.perf_counter() - t0,
        },
    }


# ------------------------------------------------------------------------------------- reporting


def _fmt(v, pct=False, digits=3):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{100 * v:.1f}" if pct else f"{v:.{digits}f}"


def _pm(entry, path, pct=True, digits=3):
    node, std = entry, entry.get("std", {})
    for k in path:
        node = node.get(k) if isinstance(node, dict) else None
        std = std.get(k) if isinstance(std, dict) else None
    s = _fmt(node, pct, digits)
    if entry.get("n_seeds", 1) > 1 and isinstance(std, int | float) and node is not None:
        s += f" ± {_fmt(std, pct, digits)}"
    return s


def results_markdown(results: dict) -> str:
    methods = results["methods"]
    lines = [
        "# Fusion results (test split)",
        "",
        "Accuracy in %, mean ± std over training seeds (n = seeds). ECE with 15 equal-width bins, raw / after a "
        "temperature fit on validation. Drop: each modality dropped independently with that probability, at "
        f"least one kept, mean over {results['meta'].get('mask_seeds')} mask draws. Monotonicity: share of "
        "(example, A ⊂ B) pairs with c(A) > c(B) + 0.01. ρ(λ, severity): Spearman of λ(x) (K = 20) with the "
        "recorded corruption severity.",
        "",
        "| method | n | acc all | ECE all | ECE all (TS) | acc @ 50 % drop | ECE @ 50 % | ECE @ 50 % (TS) | worst subset | monotonicity viol. | H(p) | ρ(λ, severity) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in methods.items():
        lines.append(
            f"| {name} | {e.get('n_seeds', 1)} | {_pm(e, ['full', 'acc'])} | {_pm(e, ['full', 'ece'], False)} | "
            f"{_pm(e, ['full', 'ece_ts'], False)} | {_pm(e, ['drop', '0.5', 'acc'])} | {_pm(e, ['drop', '0.5', 'ece'], False)} | "
            f"{_pm(e, ['drop', '0.5', 'ece_ts'], False)} | {_pm(e, ['worst_subset_acc'])} | "
            f"{_pm(e, ['monotonicity_violation_rate'], False)} | {_pm(e, ['gate_entropy'], False)} | "
            f"{_pm(e, ['lambda_severity_spearman'], False)} |"
        )
    rates = sorted({r for e in methods.values() for r in e.get("drop", {})}, key=float)
    subsets = list(next(iter(methods.values()))["subsets"]) if methods else []
    multilabel = any("map" in e.get("full", {}) for e in methods.values())

    def table(title: str, group: str, columns: list[str], metric: str, pct: bool = True) -> list[str]:
        """One row per method, one column per drop rate or subset: e[group][column][metric]."""
        rows = ["", f"## {title}", "", "| method | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
        for name, e in methods.items():
            rows.append(f"| {name} | " + " | ".join(_pm(e, [group, c, metric], pct) for c in columns) + " |")
        return rows

    if multilabel:
        lines += table(
            "mAP (%) under random modality drop (multi-label; acc above is per-label accuracy at p ≥ 0.5)",
            "drop", rates, "map",
        )
    lines += table("Accuracy (%) under random modality drop", "drop", rates, "acc")
    lines += table("Raw ECE under random modality drop", "drop", rates, "ece", pct=False)
    lines += table("Accuracy (%) with each modality subset", "subsets", subsets, "acc")
    if multilabel:
        lines += table("mAP (%) with each modality subset", "subsets", subsets, "map")
    return "\n".join(lines) + "\n"


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
    json_path.write_text(json.dumps(_json_safe(results), indent=1))
    md = results_markdown(results)
    (out / "results.md").write_text(md)
    print(md)
    if not args.no_figures:
        written = save_figures(report_figures(results["methods"]), out, png=not args.no_png)
        print(f"figures: {len(written)} files in {out}")
    print(f"results: {json_path}, {out / 'results.md'} ({time.perf_counter() - t0:.1f} s)")
    return 0
