"""Run directories: what a training run leaves behind, written so a reader (the app) can follow it live.

    runs/<id>/config.json      the TrainConfig (written once, at the start)
    runs/<id>/metrics.jsonl    one JSON object per line: {"kind": "step"|"epoch", "epoch", "step", ...}
    runs/<id>/status.json      {"state": "running"|"finished"|"stopped"|"failed", "error", "updated", ...}
    runs/<id>/model.safetensors + model.json   the weights and model config (see aecf.checkpoint)

Every JSON file except metrics.jsonl is replaced atomically (aecf.files.write_json_atomic); metrics.jsonl is
appended one complete line at a time and flushed, so a reader sees whole lines only (a reader should
still skip a final line that does not parse).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from aecf.files import _json_default, write_json_atomic
from aecf.paths import RUNS_DIR

STATES = ("running", "finished", "stopped", "failed")


def _clean(value):
    """JSON has no NaN/inf: write them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def new_run_id(method: str, seed: int) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{method}-s{seed}"


def create_run_dir(method: str, seed: int, root: str | Path = RUNS_DIR) -> Path:
    """A fresh directory runs/<date-time>-<method>-s<seed>[-n]."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = new_run_id(method, seed)
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise RuntimeError(f"could not create a run directory under {root}")


class RunWriter:
    """Appends metrics and keeps status.json current for one run directory."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"
        self.started = time.time()

    def write_config(self, config: dict) -> None:
        write_json_atomic(self.dir / "config.json", config)

    def log(self, record: dict) -> None:
        line = json.dumps(_clean(record), default=_json_default)
        with open(self.metrics_path, "a") as f:
            f.write(line + "\n")
            f.flush()

    def set_status(self, state: str, error: str | None = None, **extra) -> None:
        if state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        status = {
            "state": state,
            "error": error,
            "started": self.started,
            "updated": time.time(),
            **_clean(extra),
        }
        write_json_atomic(self.dir / "status.json", status)


def read_status(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def read_config(run_dir: str | Path) -> dict | None:
    try:
        return json.loads((Path(run_dir) / "config.json").read_text())
    except (OSError, ValueError):
        return None


def read_metrics(run_dir: str | Path, kind: str | None = None) -> list[dict]:
    """All complete records of metrics.jsonl (optionally of one kind); a torn last line is skipped."""
    path = Path(run_dir) / "metrics.jsonl"
    out = []
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if kind is None or rec.get("kind") == kind:
            out.append(rec)
    return out


def list_runs(root: str | Path = RUNS_DIR) -> list[Path]:
    """Run directories, newest first."""
    root = Path(root)
    if not root.exists():
        return []
    runs = [p for p in root.iterdir() if p.is_dir() and (p / "config.json").exists()]
    return sorted(runs, key=lambda p: p.stat().st_mtime, reverse=True)
