"""The Curriculum page's numbers: ACM's schedule from a run's metrics, and a mask simulator.

The simulator feeds a hand-set gate p into aecf.masking's real sampler (`acm_drop_probs` +
`sample_keep_mask`) and counts which modalities each sampled mask keeps; ModDrop (uniform) is the
contrast. Every function takes the modalities it works on (`modalities`, default the digits' three), so
the same numbers come for a dataset of 2 to 8; `run_schedule` is a run's whole "During training" view.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import torch

from aecf import paths, runs
from aecf.app.training import curve_series, metric_name, step_x
from aecf.checkpoint import read_checkpoint_config
from aecf.constants import MODALITIES, subset_name
from aecf.data.cache import FeatureSplit, load_split
from aecf.evaluate import checkpoint_acm_drop_ratios
from aecf.masking import acm_drop_probs, curriculum_rate, sample_keep_mask, uniform_drop_probs


def normalise_gate(
    weights: dict[str, float], present: tuple[str, ...], modalities: Sequence[str] = MODALITIES
) -> np.ndarray:
    """Weights per modality -> p on the simplex of the present modalities (absent -> 0), in `modalities`
    order."""
    w = np.array([max(0.0, float(weights.get(m, 0.0))) if m in present else 0.0 for m in modalities])
    if w.sum() <= 0:
        w = np.array([1.0 if m in present else 0.0 for m in modalities])
    return w / w.sum()


def entropy(p: np.ndarray) -> float:
    p = np.asarray(p, dtype=float)
    nz = p[p > 0]
    return float(-(nz * np.log(nz)).sum())


def gate_with_entropy(
    target: float, favourite: str, present: tuple[str, ...], modalities: Sequence[str] = MODALITIES
) -> np.ndarray:
    """The gate that puts weight a on `favourite` and splits 1 - a evenly over the other present
    modalities, with a >= 1/n chosen so that H(p) = target (clipped to [0, log n])."""
    n = len(present)
    if favourite not in present:
        favourite = present[0]
    if n == 1:
        return normalise_gate({favourite: 1.0}, present, modalities)
    target = min(max(target, 0.0), math.log(n))

    def h(a: float) -> float:
        rest = (1 - a) / (n - 1)
        return entropy(np.array([a] + [rest] * (n - 1)))

    lo, hi = 1.0 / n, 1.0  # h decreases from log n to 0 on this interval
    for _ in range(60):
        mid = (lo + hi) / 2
        if h(mid) > target:
            lo = mid
        else:
            hi = mid
    a = (lo + hi) / 2
    rest = (1 - a) / (n - 1)
    return normalise_gate({m: (a if m == favourite else rest) for m in present}, present, modalities)


@dataclass(frozen=True)
class AcmRule:
    """How a run's ACM turns a gate into drop probabilities (the run's TrainConfig fields)."""

    sharpness: str = "entropy"  # what older runs used (the default of old configs)
    gamma: float = 1.0
    pi_max: float = 0.5
    warmup: float = 0.3


def acm_rule(train_config: dict | None) -> AcmRule:
    """The ACM rule of a checkpoint's or run's training config (its "train" section; {} = the old default)."""
    cfg = train_config or {}
    return AcmRule(
        str(cfg.get("acm_sharpness", "entropy")),
        float(cfg.get("acm_gamma", 1.0)),
        float(cfg.get("pi_max", 0.5)),
        float(cfg.get("mask_warmup", 0.3)),
    )


@dataclass
class MaskSimulation:
    drop_probs: dict[str, float]  # q_m for this gate (ACM) or the flat rate (uniform)
    drop_freq: dict[str, float]  # how often each modality was actually hidden (after the ≥ 1 rule)
    kept: dict[str, float]  # subset kept -> share of samples (canonical subset names)
    overall_drop: float  # share of present modalities hidden
    kept_by_size: dict[int, float] | None = None  # how many modalities a mask keeps -> share of samples


def simulate_masks(
    gate: np.ndarray,
    present: tuple[str, ...],
    rate: float,
    method: str = "acm",
    n: int = 4000,
    seed: int = 0,
    rule: AcmRule | None = None,
    modalities: Sequence[str] = MODALITIES,
) -> MaskSimulation:
    """Draw n masks for one example with gate p using aecf.masking's sampler (method 'acm' or 'uniform');
    `rule` is the ACM rule of the run being explained (default: the entropy blend of older runs); `gate`
    is in `modalities` order."""
    rule = rule or AcmRule()
    modalities = tuple(modalities)
    pres = torch.tensor([[m in present for m in modalities]]).repeat(n, 1)
    g = torch.as_tensor(np.asarray(gate, dtype=np.float32)).unsqueeze(0).repeat(n, 1)
    q = (
        acm_drop_probs(g, pres, rate, rule.sharpness, rule.gamma)
        if method == "acm"
        else uniform_drop_probs(pres, rate)
    )
    keep = sample_keep_mask(pres, q, torch.Generator().manual_seed(seed))
    dropped = (pres & ~keep).float()
    counts = Counter(
        _subset_name(modalities, (m for m, k in zip(modalities, row, strict=True) if k))
        for row in keep.tolist()
    )
    order = {name: i for i, name in enumerate(all_subset_names(present, modalities))}
    kept = {name: counts.get(name, 0) / n for name in sorted(order, key=order.get)}
    sizes = Counter(int(k) for k in keep.sum(dim=1).tolist())
    return MaskSimulation(
        drop_probs={m: float(q[0, i]) for i, m in enumerate(modalities) if m in present},
        drop_freq={m: float(dropped[:, i].mean()) for i, m in enumerate(modalities) if m in present},
        kept=kept,
        overall_drop=float(dropped.sum() / pres.sum()),
        kept_by_size={k: sizes.get(k, 0) / n for k in range(len(present), 0, -1)},
    )


KEPT_PATTERNS_UP_TO = 4  # present modalities up to which the simulator shows every kept pattern (≤ 15)


def kept_view(sim: MaskSimulation, n_present: int) -> dict[str, float]:
    """What the simulator draws of the kept masks: every pattern up to KEPT_PATTERNS_UP_TO present modalities;
    beyond (up to 255 patterns), how many modalities a mask keeps ("all 8", "7", ..., "1")."""
    if n_present <= KEPT_PATTERNS_UP_TO or not sim.kept_by_size:
        return sim.kept
    return {(f"all {k}" if k == n_present else str(k)): share for k, share in sim.kept_by_size.items()}


def _subset_name(modalities: Sequence[str], chosen) -> str:
    """A subset's name: the digits' canonical one (MODALITIES order), else `modalities` order joined by '+'."""
    if tuple(modalities) == MODALITIES:
        return subset_name(chosen)
    chosen = set(chosen)
    return "+".join(m for m in modalities if m in chosen)


def all_subset_names(present: tuple[str, ...], modalities: Sequence[str] = MODALITIES) -> list[str]:
    """Non-empty subsets of the present modalities, largest first, then `modalities` order."""

    out = []
    for k in range(len(present), 0, -1):
        for combo in combinations([m for m in modalities if m in present], k):
            out.append(_subset_name(modalities, combo))
    return out


def schedule(pi_max: float, warmup: float, points: int = 50) -> tuple[list[float], list[float]]:
    """π_t over training progress t/T ∈ [0, 1] (ModDrop: warmup = 0, a flat line)."""
    xs = [i / (points - 1) for i in range(points)]
    return xs, [curriculum_rate(x, pi_max, warmup) for x in xs]


# ------------------------------------------------------------------------------ which run to show


def shipped_metrics(checkpoint_dir: str | Path = paths.FUSION_DIR) -> dict[str, Path]:
    """Training metrics shipped beside the fusion checkpoints: name -> metrics.jsonl path.

    Accepted layouts: fusion/<name>.metrics.jsonl or fusion/<name>/metrics.jsonl.
    """
    root = Path(checkpoint_dir)
    found: dict[str, Path] = {}
    if root.is_dir():
        for p in sorted(root.glob("*.metrics.jsonl")):
            found[p.name[: -len(".metrics.jsonl")]] = p
        for p in sorted(root.glob("*/metrics.jsonl")):
            found.setdefault(p.parent.name, p)
    return found


def metrics_sources(
    runs_dir: str | Path | None = None, checkpoint_dir: str | Path | None = None
) -> dict[str, Path]:
    """Label -> metrics.jsonl path: the shipped checkpoints' metrics first, then every run (newest first)."""

    runs_dir = runs_dir or paths.runs_dir()
    checkpoint_dir = checkpoint_dir or paths.fusion_dir()
    out = {f"shipped: {name}": path for name, path in shipped_metrics(checkpoint_dir).items()}
    for run_dir in runs.list_runs(runs_dir):
        path = run_dir / "metrics.jsonl"
        if path.exists():
            out[f"run: {run_dir.name}"] = path
    return out


def read_metrics_file(path: str | Path) -> list[dict]:
    """metrics.jsonl rows from a file path (a torn last line is skipped)."""

    path = Path(path)
    if path.name == "metrics.jsonl":
        return runs.read_metrics(path.parent)

    rows = []
    try:
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    except OSError:
        pass
    return [r for r in rows if isinstance(r, dict)]


def has_mask_metrics(rows: list[dict]) -> bool:
    return any("mask_rate" in r for r in rows)


def train_config_for(metrics_path: str | Path) -> dict:
    """The training config behind a metrics file: runs/<id>/config.json, or a shipped checkpoint's
    <name>.json "train" section for <name>.metrics.jsonl."""

    path = Path(metrics_path)
    if path.name == "metrics.jsonl":
        return runs.read_config(path.parent) or {}
    if path.name.endswith(".metrics.jsonl"):
        try:
            doc = read_checkpoint_config(path.with_name(path.name[: -len(".metrics.jsonl")] + ".json"))
            return doc.get("train") or {}
        except Exception:  # noqa: BLE001 - a missing config only loses the schedule's parameters
            return {}
    return {}


def mask_rate_summary(
    rows: list[dict], modalities: Sequence[str] = MODALITIES
) -> dict[str, tuple[list[float], list[float]]]:
    """From step rows: the overall mask rate and how uneven it is across modalities (max − min of the
    per-modality rates), x in fractional epochs. ModDrop's unevenness is ~0; ACM's grows with a sure gate."""

    steps = step_x([r for r in rows if r.get("kind") == "step" and "mask_rate" in r])
    xs = [r["x"] for r in steps]
    spread = []
    for r in steps:
        per = [r[f"mask_rate_{m}"] for m in modalities if f"mask_rate_{m}" in r]
        spread.append(max(per) - min(per) if per else 0.0)
    return {"overall": (xs, [r["mask_rate"] for r in steps]), "uneven": (xs, spread)}


# ------------------------------------------------------------------------------ ACM on the real test split


RATIO_CAP = (
    20.0  # ratios above this (or infinite: the least-trusted modality is never dropped) plot as the cap
)


@dataclass
class DropRatios:
    """For one checkpoint, per test example: ACM's drop probability of the most-trusted modality over the
    least-trusted one's at π = π_max (1 = ModDrop's flat masks), with every modality present."""

    ratios: np.ndarray  # [N], capped at RATIO_CAP
    share_2x: float  # share of examples with ratio ≥ 2 (the mechanisms' acm_adaptive_share)
    median: float
    pi_max: float
    rule: AcmRule


def drop_ratios(
    checkpoint_path: str | Path,
    split: str = "test",
    feature_dir: str | Path | None = None,
    data: FeatureSplit | None = None,
) -> DropRatios | None:
    """`DropRatios` of a checkpoint on a split of the embedding cache (or on `data`, a dataset's split: every
    input the data has); None for a run without ACM or gate."""

    if data is None:
        data = load_split(split, paths.feature_dir() if feature_dir is None else feature_dir)
    train_cfg = read_checkpoint_config(checkpoint_path).get("train") or {}
    ratios = checkpoint_acm_drop_ratios(checkpoint_path, data)
    if ratios is None:
        return None
    r = ratios.numpy().astype(float)
    capped = np.minimum(np.where(np.isfinite(r), r, RATIO_CAP), RATIO_CAP)
    rule = acm_rule(train_cfg)
    return DropRatios(capped, float((r >= 2).mean()), float(np.median(capped)), rule.pi_max, rule)


# ------------------------------------------------------------------------------ a run on a dataset


MASK_DASH = {metric_name("mask_rate"): "dot", metric_name("pi"): "dash"}  # the two rates that are no modality


@dataclass
class RunSchedule:
    """What the Curriculum page shows of one run's training on a dataset."""

    rule: AcmRule
    masking: str  # the run's masking: "acm", "uniform" (ModDrop) or "none"
    has_masks: bool  # whether its metrics record mask rates (a method that masks)
    mask_series: dict[str, tuple[list[float], list[float]]]  # overall, π(t) and each modality, x in epochs
    entropy_series: dict[str, tuple[list[float], list[float]]]  # H(p) and λ(x), train and val
    uneven: dict[str, tuple[list[float], list[float]]]  # mask_rate_summary
    schedule: tuple[list[float], list[float], list[float]]  # t/T, ACM's π_t, ModDrop's flat rate


def mask_rate_series(
    rows: list[dict], modalities: Sequence[str]
) -> dict[str, tuple[list[float], list[float]]]:
    """The Mask rates panel for any modalities: one curve per modality (its name), then the overall rate and
    π(t) (`MASK_DASH` draws those two dashed). The modalities come first so that they take the palette's
    series colours in order, the colours the simulator's bars give them."""
    steps = step_x([r for r in rows if r.get("kind") == "step"])
    out = {}
    for key, name in [
        *((f"mask_rate_{m}", m) for m in modalities),
        ("mask_rate", metric_name("mask_rate")),
        ("pi", metric_name("pi")),
    ]:
        pts = [(r["x"], r[key]) for r in steps if isinstance(r.get(key), int | float)]
        if pts:
            out[name] = ([x for x, _ in pts], [y for _, y in pts])
    return out


def run_schedule(source: str | Path, modalities: Sequence[str]) -> RunSchedule:
    """A run's schedule from its training records and config: the mask rates per modality and π_t as they were
    trained, H(p) and λ(x), and the curriculum π_t against ModDrop's flat rate. `source`: a run folder (its
    metrics.jsonl and config.json) or a metrics file (a shipped checkpoint's <stem>.metrics.jsonl, its config in
    <stem>.json: `train_config_for`)."""
    source = Path(source)
    metrics = source / "metrics.jsonl" if source.is_dir() else source
    rows = read_metrics_file(metrics)
    config = train_config_for(metrics)
    rule = acm_rule(config)
    xs, acm = schedule(rule.pi_max, rule.warmup)
    _, flat = schedule(rule.pi_max, 0.0)
    return RunSchedule(
        rule=rule,
        masking=str(config.get("masking", "acm")),
        has_masks=has_mask_metrics(rows),
        mask_series=mask_rate_series(rows, modalities),
        entropy_series=curve_series(rows, "Gate entropy H(p) and λ(x)"),
        uneven=mask_rate_summary(rows, modalities),
        schedule=(xs, acm, flat),
    )
