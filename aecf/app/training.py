"""The Train page's view-model: knobs -> an aecf.train run in a background process, runs on disk, curves.

- `TrainKnobs` is what the page lets a person set; `run_training` is what the training process runs.
- `RunManager` owns at most one run per server process, shared by every session: a background thread that
  starts the training in its own process (`subprocess_train_target`: `python -m aecf.app.training`) and
  waits for it. In the server's own process the training held the GIL against every session's redraws (a
  classroom's p90 redraw went from 4.7x to 7x the single-user figure while a run trained); in its own
  process, at a lower CPU priority, it takes only the CPU the sessions leave. A second start is refused
  with `RunBusyError` (the page tells the person to wait); a `threading.Event` stops a run (passed on to
  the process through its stdin). Runs live on disk under runs/<id>/ (aecf.runs), so a page refresh — or
  a new session — finds them again while the run goes on.
- Every open page follows the server, not the disk: `RunManager.state()` gives the active run and a `version`
  that changes when a run starts and when it has ended (its process gone, its final status written), read
  at once. A page draws its form from one such state and asks, every `FOLLOW_BUSY_S`, whether the version
  moved; if so it redraws whole. (Drawing the form from the thread's life while redrawing on the status file
  left pages locked: the file says "finished" a moment before the process has gone.)
- Only the page that started a run may stop it: it holds a key (`new_owner_key`, kept in its session and
  its address, so a refresh keeps it); every other page is told who runs what since when.
- A run that says "running" but that no process trains any more (a server restart, a kill) reads as
  "interrupted" (`read_run`, `aecf.runs.gone_reason`).
- `curve_series`, `runs_table`, `compare_series` turn metrics.jsonl rows into what the page draws, with the
  metrics named in words (`METRIC_NAMES`, the one mapping); `run_progress` says how far a run is and how
  long it has left, from its own pace.
- A run trains on a dataset (`TrainKnobs.data`, a key of `aecf.app.datasets`; the shipped digits by
  default). A run on any other dataset records it (runs/<id>/data.json) and, in its training process, once it
  has finished or been stopped with a model, evaluates itself on that dataset's test split (evaluation.json),
  its status saying `"evaluating": true` meanwhile; `checkpoint_zip` packs its weights to take away. Digits
  runs train and end as before, unevaluated (the page evaluates one on request, `evaluate_run`).
"""

from __future__ import annotations

import hmac
import io
import json
import os
import secrets
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from aecf import paths, runs
from aecf.app import datasets as D
from aecf.constants import MODALITIES
from aecf.data.cache import load_split
from aecf.errors import InputError
from aecf.train import METHODS, TrainConfig, epochs_for, make_config, train

# methods offered on the page (aecf.train.METHODS has more ablations; these are the teaching set)
PAGE_METHODS = ("aecf", "late_fusion", "moddrop", "gate", "aecf_no_cec", "aecf_no_acm", "authors_recipe")


def _aecf_default(name: str):
    """The shipped AECF recipe's value of a knob, so a run with the page's defaults trains what ships."""

    preset = METHODS["aecf"]
    return getattr(preset.model, name) if name == "lambda_max" else getattr(preset, name)


@dataclass
class TrainKnobs:
    method: str = "aecf"
    epochs: int = 3
    seed: int = 0
    lambda_max: float = field(default_factory=lambda: float(_aecf_default("lambda_max")))
    mc_samples: int = field(default_factory=lambda: int(_aecf_default("mc_samples")))  # K during training
    cec_weight: float = field(default_factory=lambda: float(_aecf_default("cec_weight")))
    acm: bool = True  # off: ModDrop-style uniform masking with the same curriculum
    pi_max: float = field(default_factory=lambda: float(_aecf_default("pi_max")))
    data: str = D.DIGITS  # the dataset's key (aecf.app.datasets): what the run trains on

    def to_config(self) -> dict:
        return asdict(self)


KNOB_HELP = {
    "lambda_max": "λ_max: the largest entropy coefficient λ(x) an uncertain input can get.",
    "mc_samples": "K: MC-dropout passes used to estimate λ(x) during training (the app shows K = 20).",
    "cec_weight": "β: weight of the CEC hinge that keeps confidence monotone over subsets.",
    "acm": "ACM on: mask what the gate trusts most. Off: uniform random masks (ModDrop) with the same rate.",
    "pi_max": "π_max: the masking rate the curriculum ramps up to.",
}
KNOB_LABELS = {  # the knobs as the form names them
    "lambda_max": "λ_max",
    "mc_samples": "K",
    "cec_weight": "CEC weight β",
    "acm": "ACM",
    "pi_max": "π_max",
    "epochs": "epochs",
    "seed": "seed",
}


def knobs_used(method: str) -> str:
    """The form's knobs that change anything for this method, by their labels ("none" for none)."""
    used = [KNOB_LABELS[k] for k in KNOB_LABELS if k in applicable_knobs(method) - {"epochs", "seed"}]
    return ", ".join(used) or "none"


def applicable_knobs(method: str) -> set[str]:
    """Which of the page's knobs change anything for this method's preset (the others are disabled)."""

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

    k = TrainKnobs(**{key: knobs[key] for key in TrainKnobs.__dataclass_fields__ if key in knobs})

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


def auto_epochs(n_train: int) -> int:
    """The epochs a run on a training split of `n_train` rows takes by default: about as many optimisation
    steps as the shipped digits runs (aecf.train.epochs_for)."""
    return epochs_for(n_train, TrainConfig.batch_size)


def run_training(
    knobs: dict, run_dir: Path, stop_event: threading.Event, feature_dir: str | Path | None = None
):
    """Train into run_dir on the knobs' dataset: the shipped embedding cache (assets/features, train + val)
    for the digits, else the dataset's train and val splits (`aecf.app.datasets.open_dataset`)."""

    config = make_train_config(knobs)
    key = str(knobs.get("data") or D.DIGITS)
    if key == D.DIGITS:
        feature_dir = paths.feature_dir() if feature_dir is None else feature_dir
        split_train = load_split("train", feature_dir)
        split_val = load_split("val", feature_dir)
    else:
        choice = D.resolve(key)
        if choice is None:
            raise InputError(f"No dataset {key!r} on this server: it cannot be trained on.")
        data = D.open_dataset(choice)
        split_train, split_val = data.split("train"), data.split("val")
    return train(config, split_train, split_val, run_dir=run_dir, stop_event=stop_event)


def evaluate_after_training(knobs: dict, run_dir: Path) -> bool:
    """In the training process, after `run_training`: a run on a dataset other than the digits that saved a
    model is evaluated on that dataset's test split (runs/<id>/evaluation.json), its status saying
    "evaluating" meanwhile and, if it fails, why. Returns whether it evaluated."""
    run_dir = Path(run_dir)
    status = runs.read_status(run_dir) or {}
    state = status.get("state")
    if str(knobs.get("data") or D.DIGITS) == D.DIGITS or state not in ("finished", "stopped"):
        return False
    if not (run_dir / "model.safetensors").is_file():
        return False
    runs.update_status(run_dir, state, evaluating=True)
    try:
        D.evaluate_run(run_dir)
    except Exception as e:  # noqa: BLE001 - the run stays usable; the page says why it has no evaluation
        runs.update_status(run_dir, state, evaluating=False, evaluation_error=f"{type(e).__name__}: {e}")
        return False
    runs.update_status(run_dir, state, evaluating=False, evaluation_error=None)
    return True


def checkpoint_zip(run_dir: str | Path) -> bytes:
    """A run's checkpoint to take away: model.safetensors + model.json in a zip (load it with
    `aecf.load("model.safetensors")`). InputError when the run saved none."""
    run_dir = Path(run_dir)
    files = [run_dir / "model.safetensors", run_dir / "model.json"]
    if not all(f.is_file() for f in files):
        raise InputError(f"Run {run_dir.name} saved no model: there is no checkpoint to download.")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files:
            zf.write(f, f"{run_dir.name}/{f.name}")
    return buf.getvalue()


# ------------------------------------------------------------------------------------ words

# metrics.jsonl keys -> the words the page shows for them (legends, the runs table, the run's cards, Compare):
# the one place a metric gets its name on the Train page
METRIC_NAMES: dict[str, str] = {
    "loss": "total",
    "loss_task_full": "task (full input)",
    "loss_task_masked": "task (masked input)",
    "loss_entropy": "entropy −λH(p)",
    "loss_cec": "CEC",
    "acc": "train accuracy",
    "masked_acc": "train accuracy, masked",
    "val_acc": "val accuracy",
    "val_masked_acc": "val accuracy, 50 % drop",
    "val_ece": "val ECE",
    "gate_entropy": "train gate entropy H(p)",
    "val_gate_entropy": "val gate entropy H(p)",
    "lambda": "train λ(x)",
    "val_lambda": "val λ(x)",
    "mask_rate": "overall",
    "pi": "π(t), curriculum",
    **{f"mask_rate_{m}": m for m in MODALITIES},  # a modality's name: its curve keeps the modality's colour
}
COMPARE_METRICS = ("val_acc", "val_masked_acc", "val_ece", "val_gate_entropy")  # the epoch-level ones
SUMMARY_METRICS = COMPARE_METRICS  # the runs table's columns


def metric_name(key: str) -> str:
    if key not in METRIC_NAMES and key.startswith(MASK_RATE_PREFIX):
        return key[len(MASK_RATE_PREFIX) :]  # a dataset's own modality: its name, as for the digits
    return METRIC_NAMES.get(key, key.replace("_", " "))


MASK_RATE_PREFIX = "mask_rate_"


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


CURVE_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    # panel title -> its curves as (row kind, metrics key); a curve's legend is METRIC_NAMES[key]
    "Loss parts": (
        ("step", "loss"),
        ("step", "loss_task_full"),
        ("step", "loss_task_masked"),
        ("step", "loss_entropy"),
        ("step", "loss_cec"),
    ),
    "Accuracy": (("step", "acc"), ("step", "masked_acc"), ("epoch", "val_acc"), ("epoch", "val_masked_acc")),
    "Calibration (val ECE)": (("epoch", "val_ece"),),
    "Gate entropy H(p) and λ(x)": (
        ("step", "gate_entropy"),
        ("epoch", "val_gate_entropy"),
        ("step", "lambda"),
        ("epoch", "val_lambda"),
    ),
    "Mask rates": (("step", "mask_rate"), ("step", "pi"), *(("step", f"mask_rate_{m}") for m in MODALITIES)),
}


def curve_series(rows: list[dict], group: str) -> dict[str, tuple[list[float], list[float]]]:
    """Series for one CURVE_GROUPS panel, named in words, x in (fractional) epochs; empty series left out."""
    steps = step_x([r for r in rows if r.get("kind") == "step"])
    epochs = [{**r, "x": int(r.get("epoch", 0)) + 1} for r in rows if r.get("kind") == "epoch"]
    out = {}
    curves = list(CURVE_GROUPS[group])
    if group == "Mask rates":  # the per-modality rates of any dataset, in the order the run logged them
        logged = dict.fromkeys(k for r in steps for k in r if k.startswith(MASK_RATE_PREFIX))
        curves += [("step", k) for k in logged if ("step", k) not in curves]
    for kind, key in curves:
        xs, ys = _series(steps if kind == "step" else epochs, key, "x")
        if xs:
            out[metric_name(key)] = (xs, ys)
    return out


def run_summary(rows: list[dict]) -> dict:
    """Epochs done and the last epoch's validation numbers (None where there are none), by metrics key."""
    last = next((r for r in reversed(rows) if r.get("kind") == "epoch"), {})
    return {"epochs done": int(last["epoch"]) + 1 if "epoch" in last else 0} | {
        k: last.get(k) for k in SUMMARY_METRICS
    }


def number(value, digits: int = 3) -> str:
    """A metric as the page prints it: "–" for none (never "None" or "nan")."""
    if value is None or not isinstance(value, int | float) or value != value:
        return "–"
    return f"{value:.{digits}f}"


SHIPPED_YARDSTICK = D.shipped_name("aecf")


def compare_default(run_ids: list[str], shipped: list[str], newest: int = 2) -> list[str]:
    """What Compare shows until the person picks: the newest runs with the shipped aecf as the yardstick;
    before any run, the shipped aecf against the shipped late fusion (the page's "try this" pair)."""
    if not run_ids:
        return [k for k in (SHIPPED_YARDSTICK, "shipped: late_fusion") if k in shipped]
    return list(run_ids[:newest]) + ([SHIPPED_YARDSTICK] if SHIPPED_YARDSTICK in shipped else shipped[:1])


def compare_sources(found: list[RunInfo], key: str, shipped: dict[str, Path]) -> dict[str, Path]:
    """What Compare may show on dataset `key`: the runs trained on it (their metrics files, newest first), then
    its shipped checkpoints' own training records as yardsticks (`shipped`: `aecf.app.datasets.shipped_runs`'s
    `metrics` for that dataset: the digits' or an example's, none for an upload)."""
    sources = {r.id: r.path / "metrics.jsonl" for r in found if r.dataset_key == key}
    return sources | dict(shipped)


def _same_curve(a: tuple[list, list], b: tuple[list, list]) -> bool:
    return (
        len(a[0]) == len(b[0])
        and list(a[0]) == list(b[0])
        and all(
            abs(float(x) - float(y)) <= 1e-9 * max(1.0, abs(float(x)))
            for x, y in zip(a[1], b[1], strict=True)
        )
    )


def compare_series(
    rows_by_name: dict[str, list[dict]], metric: str
) -> tuple[dict[str, tuple[list[int], list[float]]], dict[str, str]]:
    """Compare's series of one epoch-level metric: {legend: (epochs, values)} and {legend: "dash"}. A curve
    equal to one already drawn (a run of the shipped recipe, say) would hide under it: it is drawn last,
    dashed, and its legend says "same as <that one>". Shipped curves are the references, then the runs."""
    raw: dict[str, tuple[list[int], list[float]]] = {}
    for name, rows in rows_by_name.items():
        epochs = [r for r in rows if r.get("kind") == "epoch" and r.get(metric) is not None]
        if epochs:
            raw[name] = ([int(r["epoch"]) + 1 for r in epochs], [float(r[metric]) for r in epochs])
    references: list[str] = []
    same: dict[str, str] = {}
    for name in sorted(raw, key=lambda n: not n.startswith("shipped:")):  # shipped first, order kept
        match = next((ref for ref in references if _same_curve(raw[name], raw[ref])), None)
        if match is None:
            references.append(name)
        else:
            same[name] = match
    series = {name: raw[name] for name in raw if name not in same}
    dash = {}
    for name, ref in same.items():
        legend = f"{name} (same as {ref})"
        series[legend], dash[legend] = raw[name], "dash"
    return series, dash


# --------------------------------------------------------------------------------------------
# Runs on disk (format owned by aecf.runs; here: what the Train page lists)
# --------------------------------------------------------------------------------------------

STALE_AFTER_S = 120.0  # a "running" run nobody owns and that wrote nothing for this long was cut off


@dataclass
class RunInfo:
    id: str
    path: Path
    state: str  # running | finished | stopped | failed | interrupted | unknown
    config: dict = field(default_factory=dict)
    started: float = 0.0
    last_update: float = 0.0
    error: str | None = None
    reason: str | None = None  # why an interrupted run stopped
    has_model: bool = False
    dataset_key: str = D.DIGITS  # what it trained on (runs/<id>/data.json; none: the digits)
    dataset_name: str = "digits"
    evaluating: bool = False  # its process evaluates it now (on its dataset's test split)
    evaluation_error: str | None = None  # why its evaluation failed
    has_evaluation: bool = False

    @property
    def method(self) -> str:
        return str(self.config.get("method", "?"))

    @property
    def live(self) -> bool:
        return self.state == "running"

    @property
    def busy(self) -> bool:
        """Its process still works on it: training, or evaluating once trained."""
        return self.live or self.evaluating

    @property
    def has_checkpoint(self) -> bool:
        """It ended with a model one may open, evaluate and download."""
        return self.state in ("finished", "stopped") and self.has_model

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0) or 0)


def read_run(run_dir: str | Path, manager: RunManager | None = None) -> RunInfo:
    run_dir = Path(run_dir)
    status = runs.read_status(run_dir) or {}
    files = [run_dir / "metrics.jsonl", run_dir / "status.json"]
    last_update = max((p.stat().st_mtime for p in files if p.exists()), default=0.0)
    state = str(status.get("state", "unknown"))
    reason = status.get("reason")
    owned = manager is not None and manager.active_id == run_dir.name
    if state == "running" and not owned and not _live_here(run_dir.name):
        # nobody in this server trains it: is whoever did still there? (a run started from the command line,
        # or by another server, keeps its process alive and keeps writing)
        reason = runs.gone_reason(status)
        if reason is None and status.get("server_pid") == os.getpid():
            reason = "server restarted"  # started by a server before this one that had this one's pid
        if reason is None and time.time() - last_update > STALE_AFTER_S:
            reason = f"no news for {STALE_AFTER_S / 60:.0f} minutes"
        if reason is not None:
            state = "interrupted"
    data_key, data_name = D.run_dataset(run_dir)
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        state=state,
        config=runs.read_config(run_dir) or {},
        started=float(status.get("started") or 0.0) or (run_dir.stat().st_mtime if run_dir.exists() else 0.0),
        last_update=last_update,
        error=status.get("error"),
        reason=reason if state == "interrupted" else None,
        has_model=(run_dir / "model.safetensors").exists(),
        dataset_key=data_key,
        dataset_name=data_name,
        evaluating=bool(status.get("evaluating")) and runs.pid_alive(status.get("pid")),
        evaluation_error=status.get("evaluation_error"),
        has_evaluation=(run_dir / runs.EVALUATION_FILE).is_file(),
    )


def list_runs(runs_dir: str | Path | None = None, manager: RunManager | None = None) -> list[RunInfo]:
    """All runs under runs_dir (default: the manager's, else runs/), newest first."""
    if runs_dir is None:
        runs_dir = manager.runs_dir if manager is not None else paths.runs_dir()
    found = sorted(
        (read_run(p, manager) for p in runs.list_runs(runs_dir)), key=lambda r: r.started, reverse=True
    )
    return found


def read_metrics(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    return runs.read_metrics(run_dir, kind)


def clock(t: float) -> str:
    """A time of day as the page prints it (the server's clock: the people in one room share it)."""
    return time.strftime("%H:%M:%S", time.localtime(t)) if t else "?"


def state_words(info: RunInfo, epochs_done: int, mine: bool, stopping: bool = False) -> str:
    """A run's state as the page says it: "training (epoch 2 of 3)", "finished", "stopped by you",
    "interrupted (server restarted)", "failed: …". `mine`: the person looking started it; `stopping`: asked
    to stop, it finishes its step, validates and saves (a few seconds)."""
    if info.state == "running" and stopping:
        return "stopping (saving)"
    if info.evaluating and info.state in ("finished", "stopped"):
        ended = "finished" if info.state == "finished" else ("stopped by you" if mine else "stopped early")
        return f"{ended} · evaluating on the test split"
    if info.state == "running":
        total = info.epochs
        return f"training (epoch {min(epochs_done + 1, total)} of {total})" if total else "training"
    if info.state == "stopped":
        return "stopped by you" if mine else "stopped early"
    if info.state == "failed":
        error = (info.error or "no message").strip().splitlines()[-1] if info.error else "no message"
        return f"failed: {error[:120]}"
    if info.state == "interrupted":
        return f"interrupted ({info.reason or 'server restarted'})"
    if info.state == "unknown":
        return "unknown (no status)"
    return info.state  # finished


@dataclass(frozen=True)
class RunProgress:
    """How far a run is: epochs done of all, the share of its optimisation steps done (None: unknown) and the
    seconds it has left at its pace so far (None: not yet known, or not running)."""

    epochs_done: int
    epochs: int
    fraction: float | None
    seconds_left: float | None

    @property
    def words(self) -> str:
        out = f"epoch {min(self.epochs_done + 1, self.epochs)} of {self.epochs}" if self.epochs else ""
        if self.seconds_left is not None:
            out += f" · about {duration_words(self.seconds_left)} left"
        return out


def duration_words(seconds: float) -> str:
    """A duration as the page says it: "40 s", "3 min 5 s", "1 h 12 min"."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def run_progress(
    rows: list[dict], info: RunInfo, steps_per_epoch: int | None = None, now: float | None = None
) -> RunProgress:
    """Epochs done of all and the time left from the run's own pace: the optimisation steps it has logged
    (step records carry the running step count) over the seconds from its start to its last record, so the
    estimate includes its validations and its start-up, and settles as the run goes on. `steps_per_epoch`
    (from the training split's size) is needed before the first epoch ends; after it, the epoch records
    give it."""
    now = time.time() if now is None else now
    done, total = run_summary(rows)["epochs done"], info.epochs
    step = max((int(r.get("step") or 0) for r in rows if r.get("kind") in ("step", "epoch")), default=0)
    epochs = [r for r in rows if r.get("kind") == "epoch" and r.get("step")]
    if epochs:
        steps_per_epoch = int(epochs[-1]["step"]) / (int(epochs[-1]["epoch"]) + 1)
    if info.state == "finished" or (total and done >= total):
        return RunProgress(done, total, 1.0, None)
    fraction = None
    if total and steps_per_epoch:
        fraction = min(1.0, step / (total * steps_per_epoch))
    elif total:
        fraction = done / total
    left = None
    if info.live and fraction and fraction < 1 and info.started and info.last_update > info.started:
        pace = (info.last_update - info.started) / fraction  # seconds for the whole run at this pace
        left = max(0.0, pace * (1 - fraction) - (now - info.last_update))
    return RunProgress(done, total, fraction, left)


def runs_table(runs_found: list[RunInfo], viewer: str | None, manager: RunManager) -> list[dict[str, str]]:
    """The "All runs" table: every cell in words or a number, "–" where there is none."""
    table = []
    for r in runs_found:
        summary = run_summary(read_metrics(r.path))
        done = summary["epochs done"]
        table.append(
            {
                "run": r.id,
                "method": r.method,
                "dataset": r.dataset_name,
                "state": state_words(r, done, manager.owns(r.id, viewer)),
                "started": clock(r.started),
                "epochs": f"{done} of {r.epochs}" if r.epochs else str(done),
                **{metric_name(k): number(summary[k]) for k in SUMMARY_METRICS},
            }
        )
    return table


# --------------------------------------------------------------------------------------------
# One training thread per server
# --------------------------------------------------------------------------------------------


class RunBusyError(RuntimeError):
    """A run is already going on in this server; the message says which and asks to wait."""


@dataclass(frozen=True)
class ActiveRun:
    """The run a server trains now: its id, knobs, start time, and the key of the page that started it."""

    id: str
    config: dict
    started: float
    owner: str | None = None  # None: started by the server itself (a script, a test)
    dataset: str = "digits"  # the name of the dataset it trains on

    @property
    def method(self) -> str:
        return str(self.config.get("method", "?"))


@dataclass(frozen=True)
class ServerState:
    """What a page draws its form from, read at once: `version` changes whenever a run starts or ends (when
    its process is gone and its final status is on disk), so a page that drew version v is out of date exactly
    when the manager's version is no longer v."""

    version: int
    active: ActiveRun | None


# how often an open Train page asks whether a run started or ended: every second while one trains (a page is
# usable again within ~1 s of the end, plus one redraw), every 5 s otherwise (it notices another's start)
FOLLOW_BUSY_S = 1.0
FOLLOW_IDLE_S = 5.0
OWNER_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def new_owner_key() -> str:
    """A page's key: the page that holds it (its session, its address after a refresh) may stop its runs."""
    return secrets.token_urlsafe(12)


def valid_owner_key(value) -> str | None:
    """A key read from an address, or None if it is not one (a mangled link is ignored quietly)."""
    if isinstance(value, str) and 12 <= len(value) <= 64 and set(value) <= OWNER_CHARS:
        return value
    return None


def busy_message(state: ServerState, viewer: str | None, manager: RunManager) -> str | None:
    """What a Train page says while a run trains on this server (None when free): what, since when, and who
    may stop it."""
    run = state.active
    if run is None:
        return None
    on = "" if str(run.config.get("data") or D.DIGITS) == D.DIGITS else f" on {run.dataset}"
    what = f"Run {run.id} ({run.method}{on}, {run.config.get('epochs', '?')} epochs) is training on this server now"
    if manager.owns(run.id, viewer):
        return (
            f"{what}: you started it at {clock(run.started)}. One run at a time: Start training comes back "
            "when it finishes, or when you stop it below."
        )
    return (
        f"{what}, started by another session on this server at {clock(run.started)}; only that session can "
        "stop it. One run at a time: Start training comes back when it finishes."
    )


TrainTarget = Callable[[dict, Path, threading.Event], object]


TRAIN_NICE = (
    10  # the training process's CPU priority below the server's: redraws first, training with the rest
)


def subprocess_train_target(config: dict, run_dir: Path, stop_event: threading.Event) -> None:
    """Train on the shipped feature cache (assets/features) in a child process (`python -m aecf.app.training
    RUN_DIR`, the knobs on its stdin), and wait for it. `stop_event` is passed on as a "stop" line; the
    child also stops when its stdin closes (the server went away). Raises if the child fails without
    leaving a final status."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(paths.ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    }
    log = Path(run_dir) / "worker.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aecf.app.training", str(run_dir)],
            cwd=paths.ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            proc.stdin.write((json.dumps(config) + "\n").encode())
            proc.stdin.flush()
            stopped = False
            while proc.poll() is None:  # every 50 ms: the end of the process ends the run for every page
                if stopped:
                    time.sleep(0.05)
                elif stop_event.wait(0.05):
                    stopped = True
                    try:
                        proc.stdin.write(b"stop\n")
                        proc.stdin.flush()
                    except OSError:  # it has just ended by itself
                        pass
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        finally:
            if proc.stdin and not proc.stdin.closed:
                try:
                    proc.stdin.close()
                except OSError:
                    pass
    if proc.returncode == 0 and log.stat().st_size == 0:
        log.unlink()
    if proc.returncode != 0:
        tail = log.read_text(errors="replace").strip().splitlines()[-1:] if log.exists() else []
        raise RuntimeError(
            f"the training process exited with code {proc.returncode}" + (f": {tail[0]}" if tail else "")
        )


default_train_target = subprocess_train_target


def _worker_main(argv: list[str]) -> None:
    """The training process: read the knobs (one JSON line) and then "stop" lines from stdin, train. Its stdin
    closing before a "stop" means the server that started it went away: the run stops and is marked
    "interrupted" (not "stopped": nobody asked)."""

    if hasattr(os, "nice"):
        try:
            os.nice(TRAIN_NICE)
        except OSError:
            pass
    torch.set_num_threads(1)  # as the server's own threads: one core for the run, the other for the sessions
    run_dir = Path(argv[0])
    config = json.loads(sys.stdin.readline())
    stop, server_gone = threading.Event(), threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        else:
            server_gone.set()
        stop.set()

    threading.Thread(target=watch_stdin, name="aecf-train-stop", daemon=True).start()
    run_training(config, run_dir, stop)
    if server_gone.is_set():
        runs.update_status(run_dir, "interrupted", reason="server restarted")
    else:  # a run on a dataset of one's own evaluates itself, so that every page can show it at once
        evaluate_after_training(config, run_dir)
    # Out at once: every page waits for this process to end before it offers Start again, and the
    # interpreter's teardown (torch's, at the low priority above, on a busy machine) took 1-4 s. Everything it
    # wrote is closed already (status and weights are written whole, then renamed).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


_LIVE_HERE: set[str] = set()  # the runs some RunManager of this process trains now
_LIVE_LOCK = threading.Lock()


def _live_here(run_id: str) -> bool:
    with _LIVE_LOCK:
        return run_id in _LIVE_HERE


class RunManager:
    """At most one run at a time (a thread that runs `target`, by default the training process); shared by
    every session of this server. `state()` is what a page draws from; `version` changes when a run starts and
    when it has ended; a run is stopped by the page that started it (`stop_by` with its key) or by the server
    (`stop`)."""

    def __init__(self, runs_dir: str | Path | None = None, target: TrainTarget | None = None):
        self.runs_dir = Path(runs_dir) if runs_dir else paths.runs_dir()
        self.target = target or default_train_target
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self._active: ActiveRun | None = None
        self._owners: dict[str, str] = {}  # run id -> key of the page that started it (runs of this server)
        self.version = 0

    @property
    def active_id(self) -> str | None:
        active = self._active
        return active.id if active is not None else None

    def is_running(self) -> bool:
        """True from `start` until the run's process has ended and its final status is on disk."""
        return self._active is not None

    def state(self) -> ServerState:
        with self._lock:
            return ServerState(self.version, self._active)

    def owns(self, run_id: str | None, owner: str | None) -> bool:
        """Whether the page holding key `owner` started this run (in this server's life)."""
        key = self._owners.get(run_id) if run_id else None
        return bool(owner) and key is not None and hmac.compare_digest(key, owner)

    def may_stop(self, owner: str | None) -> bool:
        active = self._active
        return active is not None and self.owns(active.id, owner) and not self.stopping()

    def stopping(self) -> bool:
        """The active run has been asked to stop and is finishing (its step, validation, weights)."""
        stop = self._stop
        return self._active is not None and stop is not None and stop.is_set()

    def start(self, config: dict, owner: str | None = None) -> str:
        """Start a run in the background and return its id; RunBusyError if one is going on, InputError if its
        dataset (`config["data"]`, default the digits) is not on this server. `owner`: the key of the page
        that starts it (only that page may stop it)."""
        key = str(config.get("data") or D.DIGITS)
        choice = None if key == D.DIGITS else D.resolve(key)
        if key != D.DIGITS and (choice is None or choice.spec is None):
            raise InputError(choice.problem if choice else f"No dataset {key!r} on this server.")
        with self._lock:
            if self._active is not None:
                raise RunBusyError(
                    f"Run {self._active.id} is still training on this server. One run at a time: "
                    "wait for it to finish, then start yours."
                )
            run_dir = runs.create_run_dir(
                str(config.get("method", "run")), int(config.get("seed", 0)), self.runs_dir
            )
            if choice is not None:  # before anything lists the run: it shows on its dataset from the start
                runs.write_data(run_dir, choice.key, choice.spec.name, choice.path)
            with _LIVE_LOCK:  # before its status says "running": no reader may think it abandoned
                _LIVE_HERE.add(run_dir.name)
            # visible at once (list_runs needs config.json); train() rewrites both with the full config
            writer = runs.RunWriter(run_dir)
            writer.write_config(dict(config))
            writer.set_status(
                "running", method=config.get("method"), epochs=config.get("epochs"), server_pid=os.getpid()
            )
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(dict(config), run_dir, stop, writer),
                name=f"aecf-train-{run_dir.name}",
                daemon=True,
            )
            if owner:
                self._owners[run_dir.name] = owner
            self._active = ActiveRun(
                run_dir.name,
                dict(config),
                writer.started,
                owner or None,
                choice.spec.name if choice is not None else "digits",
            )
            self._thread, self._stop = thread, stop
            self.version += 1
            thread.start()
            return run_dir.name

    def _run(self, config: dict, run_dir: Path, stop: threading.Event, writer: runs.RunWriter) -> None:
        try:
            self.target(config, run_dir, stop)
        except BaseException as e:  # noqa: BLE001 - the thread must always leave a final status
            status = runs.read_status(run_dir) or {}
            if status.get("state") in (None, "running"):
                writer.set_status("failed", error=f"{type(e).__name__}: {e}")
        else:
            status = runs.read_status(run_dir) or {}
            if status.get("state") in (None, "running"):
                writer.set_status("stopped" if stop.is_set() else "finished")
        finally:
            # over: the process has ended and the final status is on disk; every page that drew the run as
            # active is now out of date (its version is behind) and redraws
            with self._lock:
                self._active = None
                self.version += 1
            with _LIVE_LOCK:
                _LIVE_HERE.discard(run_dir.name)

    def stop(self) -> bool:
        """The server stops the active run after its current step (tests, shutdown); False if none runs."""
        with self._lock:
            if self._active is None or self._stop is None:
                return False
            self._stop.set()
            return True

    def stop_by(self, owner: str | None) -> bool:
        """The page holding key `owner` stops the active run, if it started it; False otherwise."""
        with self._lock:
            if self._active is None or self._stop is None or not self.owns(self._active.id, owner):
                return False
            self._stop.set()
            return True

    def join(self, timeout: float | None = None) -> None:
        thread = self._thread
        if thread is not None:
            thread.join(timeout)


_MANAGER: RunManager | None = None
_MANAGER_LOCK = threading.Lock()


def get_run_manager() -> RunManager:
    """The server-wide run manager (module state survives page reruns and refreshes)."""
    global _MANAGER
    with _MANAGER_LOCK:
        if _MANAGER is None:
            _MANAGER = RunManager()
        return _MANAGER


if __name__ == "__main__":
    _worker_main(sys.argv[1:])
