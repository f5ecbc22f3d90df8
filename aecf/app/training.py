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
- `curve_series` turns metrics.jsonl rows into the series the page plots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from aecf import paths, runs
from aecf.constants import MODALITIES

# methods offered on the page (aecf.train.METHODS has more ablations; these are the teaching set)
PAGE_METHODS = ("aecf", "late_fusion", "moddrop", "gate", "aecf_no_cec", "aecf_no_acm", "authors_recipe")


def _aecf_default(name: str):
    """The shipped AECF recipe's value of a knob, so a run with the page's defaults trains what ships."""
    from aecf.train import METHODS

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


def run_training(
    knobs: dict, run_dir: Path, stop_event: threading.Event, feature_dir: str | Path | None = None
):
    """Train on assets/features (train + val splits) into run_dir; the thread target of RunManager."""
    from aecf.data.cache import load_split
    from aecf.train import train

    feature_dir = paths.feature_dir() if feature_dir is None else feature_dir
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
        "total": ("step", "loss"),
        "task (full)": ("step", "loss_task_full"),
        "task (masked)": ("step", "loss_task_masked"),
        "entropy −λH(p)": ("step", "loss_entropy"),
        "CEC": ("step", "loss_cec"),
    },
    "Accuracy": {
        "train acc": ("step", "acc"),
        "train masked acc": ("step", "masked_acc"),
        "val acc": ("epoch", "val_acc"),
        "val acc, 50 % drop": ("epoch", "val_masked_acc"),
    },
    "Calibration (val ECE)": {"val ECE": ("epoch", "val_ece")},
    "Gate entropy H(p) and λ(x)": {
        "H(p) train": ("step", "gate_entropy"),
        "H(p) val": ("epoch", "val_gate_entropy"),
        "λ(x) train": ("step", "lambda"),
        "λ(x) val": ("epoch", "val_lambda"),
    },
    "Mask rates": {
        "overall": ("step", "mask_rate"),
        "π_t (curriculum)": ("step", "pi"),
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
    has_model: bool = False

    @property
    def method(self) -> str:
        return str(self.config.get("method", "?"))

    @property
    def live(self) -> bool:
        return self.state == "running"


def read_run(run_dir: str | Path, manager: RunManager | None = None) -> RunInfo:
    run_dir = Path(run_dir)
    status = runs.read_status(run_dir) or {}
    paths = [run_dir / "metrics.jsonl", run_dir / "status.json"]
    last_update = max((p.stat().st_mtime for p in paths if p.exists()), default=0.0)
    state = str(status.get("state", "unknown"))
    owned = manager is not None and manager.active_id == run_dir.name and manager.is_running()
    if state == "running" and not owned and time.time() - last_update > STALE_AFTER_S:
        # Nobody in this server trains it and it has been silent: cut off (server restart, crash).
        # (A run started from the command line keeps writing, so it stays "running".)
        state = "interrupted"
    return RunInfo(
        id=run_dir.name,
        path=run_dir,
        state=state,
        config=runs.read_config(run_dir) or {},
        started=float(status.get("started") or 0.0) or (run_dir.stat().st_mtime if run_dir.exists() else 0.0),
        last_update=last_update,
        error=status.get("error"),
        has_model=(run_dir / "model.safetensors").exists(),
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


# --------------------------------------------------------------------------------------------
# One training thread per server
# --------------------------------------------------------------------------------------------


class RunBusyError(RuntimeError):
    """A run is already going on in this server; the message says which and asks to wait."""


def busy_message(manager: RunManager) -> str | None:
    """What every session's Train page says while a run trains on this server (None when free)."""
    if not manager.is_running():
        return None
    return (
        f"Run {manager.active_id} is training on this server now. One run at a time: watch it below; "
        "Start training comes back when it finishes (or is stopped)."
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
            while proc.poll() is None:
                if stopped:
                    time.sleep(0.2)
                elif stop_event.wait(0.2):
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


def _worker_main(argv: list[str]) -> int:
    """The training process: read the knobs (one JSON line) and then "stop" lines from stdin, train."""
    import torch

    if hasattr(os, "nice"):
        try:
            os.nice(TRAIN_NICE)
        except OSError:
            pass
    torch.set_num_threads(1)  # as the server's own threads: one core for the run, the other for the sessions
    run_dir = Path(argv[0])
    config = json.loads(sys.stdin.readline())
    stop = threading.Event()

    def watch_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
        stop.set()  # "stop", or stdin closed: the server is gone

    threading.Thread(target=watch_stdin, name="aecf-train-stop", daemon=True).start()
    run_training(config, run_dir, stop)
    return 0


class RunManager:
    """At most one run at a time (a thread that runs `target`, by default the training process); shared by
    every session of this server."""

    def __init__(self, runs_dir: str | Path | None = None, target: TrainTarget | None = None):
        self.runs_dir = Path(runs_dir) if runs_dir else paths.runs_dir()
        self.target = target or default_train_target
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop: threading.Event | None = None
        self.active_id: str | None = None

    def is_running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def start(self, config: dict) -> str:
        """Start a run in the background and return its id; RunBusyError if one is going on."""
        with self._lock:
            if self.is_running():
                raise RunBusyError(
                    f"Run {self.active_id} is still training on this server. One run at a time: "
                    "wait for it to finish (or stop it), then start yours."
                )
            run_dir = runs.create_run_dir(
                str(config.get("method", "run")), int(config.get("seed", 0)), self.runs_dir
            )
            # visible at once (list_runs needs config.json); train() rewrites both with the full config
            writer = runs.RunWriter(run_dir)
            writer.write_config(dict(config))
            writer.set_status("running", method=config.get("method"), epochs=config.get("epochs"))
            stop = threading.Event()
            thread = threading.Thread(
                target=self._run,
                args=(dict(config), run_dir, stop, writer),
                name=f"aecf-train-{run_dir.name}",
                daemon=True,
            )
            self._thread, self._stop, self.active_id = thread, stop, run_dir.name
            thread.start()
            return run_dir.name

    def _run(self, config: dict, run_dir: Path, stop: threading.Event, writer: runs.RunWriter) -> None:
        try:
            self.target(config, run_dir, stop)
        except BaseException as e:  # noqa: BLE001 - the thread must always leave a final status
            status = runs.read_status(run_dir) or {}
            if status.get("state") in (None, "running"):
                writer.set_status("failed", error=f"{type(e).__name__}: {e}")
            return
        status = runs.read_status(run_dir) or {}
        if status.get("state") in (None, "running"):
            writer.set_status("stopped" if stop.is_set() else "finished")

    def stop(self) -> bool:
        """Ask the active run to stop after its current step; False if nothing is running."""
        with self._lock:
            if not self.is_running() or self._stop is None:
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
    sys.exit(_worker_main(sys.argv[1:]))
