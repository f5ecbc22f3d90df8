"""The Train page's knobs -> an aecf.train run on the shipped feature cache, and its curves.

`TrainKnobs` is what the page lets a person set; `run_training` is what the background thread runs;
`curve_series` turns metrics.jsonl rows into the series the page plots.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from aecf.constants import MODALITIES

# methods offered on the page (aecf.train.METHODS has more ablations; these are the teaching set)
PAGE_METHODS = ("aecf", "late_fusion", "moddrop", "gate", "aecf_no_cec", "aecf_no_acm", "authors_recipe")


@dataclass
class TrainKnobs:
    method: str = "aecf"
    epochs: int = 3
    seed: int = 0
    lambda_max: float = 0.1
    mc_samples: int = 4  # K during training
    cec_weight: float = 1.0
    acm: bool = True  # off: ModDrop-style uniform masking with the same curriculum
    pi_max: float = 0.5

    def to_config(self) -> dict:
        return asdict(self)


KNOB_HELP = {
    "lambda_max": "λ_max: the largest entropy coefficient λ(x) an uncertain input can get.",
    "mc_samples": "K: MC-dropout passes used to estimate λ(x) during training (the app shows K = 20).",
    "cec_weight": "β: weight of the CEC hinge that keeps confidence monotone over subsets.",
    "acm": "ACM on: mask what the gate trusts most. Off: uniform random masks (ModDrop) with the same rate.",
    "pi_max": "π_max: the masking rate the curriculum ramps up to.",
}


def applicable_knobs(method: str) -> set[str]:
    """Which of the page's knobs change anything for this method's preset (the others are disabled)."""
    from aecf.train import METHODS

    preset = METHODS[method]
    knobs = {"epochs", "seed"}
    if preset.entropy in ("adaptive", "fixed"):
        knobs.add("lambda_max")
    if preset.entropy == "adaptive":
        knobs.add("mc_samples")
    if preset.cec != "none":
        knobs.add("cec_weight")
    if preset.masking != "none":
        knobs.add("pi_max")
    if preset.masking == "acm":
        knobs.add("acm")
    return knobs


def make_train_config(knobs: dict):
    """The aecf.train.TrainConfig for these knobs (only the ones the method uses are applied)."""
    from aecf.train import make_config

    k = TrainKnobs(**{key: knobs[key] for key in TrainKnobs.__dataclass_fields__ if key in knobs})
    from aecf.train import METHODS

    preset = METHODS[k.method]
    overrides: dict = {"epochs": int(k.epochs), "seed": int(k.seed)}
    model: dict = {}
    if preset.entropy == "adaptive":
        overrides["mc_samples"] = int(k.mc_samples)
    if preset.entropy in ("adaptive", "fixed"):
        model["lambda_max"] = float(k.lambda_max)
    if preset.cec != "none":
        overrides["cec_weight"] = float(k.cec_weight)
    if preset.masking != "none":
        overrides["pi_max"] = float(k.pi_max)
        if preset.masking == "acm" and not k.acm:
            overrides["masking"] = "uniform"
    return make_config(k.method, model=model, **overrides)


def run_training(knobs: dict, run_dir: Path, stop_event: threading.Event, feature_dir: str | Path | None = None):
    """Train on assets/features (train + val splits) into run_dir; the thread target of RunManager."""
    from aecf import app_paths
    from aecf.data.cache import load_split
    from aecf.train import train

    feature_dir = app_paths.feature_dir() if feature_dir is None else feature_dir
    config = make_train_config(knobs)
    split_train = load_split("train", feature_dir)
    split_val = load_split("val", feature_dir)
    return train(config, split_train, split_val, run_dir=run_dir, stop_event=stop_event)


# ------------------------------------------------------------------------------------ curves


def _series(rows: list[dict], key: str, x_key: str) -> tuple[list[float], list[float]]:
    xs, ys = [], []
    for r in rows:
        if r.get(key) is not None and r.get(x_key) is not None:
            xs.append(r[x_key])
            ys.append(r[key])
    return xs, ys


def step_x(rows: list[dict], steps_per_epoch: float | None = None) -> list[dict]:
    """Add a fractional-epoch x to step rows ("epoch" + position within it), for one shared x axis."""
    out = []
    by_epoch: dict[int, list[dict]] = {}
    for r in rows:
        by_epoch.setdefault(int(r.get("epoch", 0)), []).append(r)
    for epoch, group in sorted(by_epoch.items()):
        n = len(group)
        for i, r in enumerate(group):
            out.append({**r, "x": epoch + (i + 1) / n})
    return out


CURVE_GROUPS: dict[str, dict[str, tuple[str, str]]] = {
    # title -> {legend name: (row kind, key)}
    "Loss parts": {
        "total": ("step", "loss"), "task (full)": ("step", "loss_task_full"), "task (masked)": ("step", "loss_task_masked"),
        "entropy −λH(p)": ("step", "loss_entropy"), "CEC": ("step", "loss_cec"),
    },
    "Accuracy": {
        "train acc": ("step", "acc"), "train masked acc": ("step", "masked_acc"),
        "val acc": ("epoch", "val_acc"), "val acc, 50 % drop": ("epoch", "val_masked_acc"),
    },
    "Calibration (val ECE)": {"val ECE": ("epoch", "val_ece")},
    "Gate entropy H(p) and λ(x)": {
        "H(p) train": ("step", "gate_entropy"), "H(p) val": ("epoch", "val_gate_entropy"),
        "λ(x) train": ("step", "lambda"), "λ(x) val": ("epoch", "val_lambda"),
    },
    "Mask rates": {
        "overall": ("step", "mask_rate"), "π_t (curriculum)": ("step", "pi"),
        **{m: ("step", f"mask_rate_{m}") for m in MODALITIES},
    },
}


def curve_series(rows: list[dict], group: str) -> dict[str, tuple[list[float], list[float]]]:
    """Series for one CURVE_GROUPS panel, x in (fractional) epochs; empty series are left out."""
    steps = step_x([r for r in rows if r.get("kind") == "step"])
    epochs = [{**r, "x": int(r.get("epoch", 0)) + 1} for r in rows if r.get("kind") == "epoch"]
    out = {}
    for name, (kind, key) in CURVE_GROUPS[group].items():
        xs, ys = _series(steps if kind == "step" else epochs, key, "x")
        if xs:
            out[name] = (xs, ys)
    return out


def run_summary(rows: list[dict]) -> dict:
    """Last epoch's validation numbers (for the runs table)."""
    last = next((r for r in reversed(rows) if r.get("kind") == "epoch"), {})
    return {
        "epochs done": int(last["epoch"]) + 1 if "epoch" in last else 0,
        "val acc": last.get("val_acc"),
        "val acc (50 % drop)": last.get("val_masked_acc"),
        "val ECE": last.get("val_ece"),
        "val H(p)": last.get("val_gate_entropy"),
    }
