"""Run directories: what a training run leaves behind, written so a reader (the app) can follow it live.

    runs/<id>/config.json      the TrainConfig (written once, at the start)
    runs/<id>/metrics.jsonl    one JSON object per line: {"kind": "step"|"epoch", "epoch", "step", ...}
    runs/<id>/status.json      {"state": "running"|"finished"|"stopped"|"failed"|"interrupted", "error",
                               "started", "updated", "pid": the writing process, "server_pid": the app
                               server that started it (runs started from the app), ...}
    runs/<id>/model.safetensors + model.json   the weights and model config (see aecf.checkpoint)
    runs/<id>/data.json        which dataset the run trained on: {"key", "name", "path"} (absent: the digits)
    runs/<id>/evaluation.json  the run evaluated on its dataset's test split (aecf.evaluate.evaluate_stems)

Every JSON file except metrics.jsonl is replaced atomically (aecf.files.write_json_atomic); metrics.jsonl is
appended one complete line at a time and flushed, so a reader sees whole lines only (a reader should
still skip a final line that does not parse).

A run left "running" by a process that has died (a server restart, a kill) is found by `gone_reason`: the
writer's pid, and the starting server's pid, are recorded in status.json and checked for life.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

from aecf.files import _json_default, write_json_atomic
from aecf.paths import RUNS_DIR

DATA_FILE = "data.json"
EVALUATION_FILE = "evaluation.json"
STATES = ("running", "finished", "stopped", "failed", "interrupted")
KEPT = ("started", "server_pid")  # what a later writer of the same run keeps from the status it finds


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
    """Appends metrics and keeps status.json current for one run directory. A second writer of the same run
    (the training process after the app server that created it) keeps its start time and its server's pid."""

    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.dir / "metrics.jsonl"
        found = read_status(self.dir) or {}
        self.kept = {k: found[k] for k in KEPT if found.get(k) is not None}
        self.started = float(self.kept.get("started") or time.time())

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
            **self.kept,
            "state": state,
            "error": error,
            "started": self.started,
            "updated": time.time(),
            "pid": os.getpid(),
            **_clean(extra),
        }
        self.kept.update({k: status[k] for k in KEPT if status.get(k) is not None})
        write_json_atomic(self.dir / "status.json", status)


def update_status(run_dir: str | Path, state: str, **fields) -> None:
    """Give a run a new state, keeping what its status already says (its summary, start time, server)."""
    found = read_status(run_dir) or {}
    own = {"state", "error", "updated", "pid", "reason", *KEPT}
    kept = {k: v for k, v in found.items() if k not in own and k not in fields}  # a field given anew wins
    RunWriter(run_dir).set_status(state, fields.pop("error", None), **kept, **fields)


def read_status(run_dir: str | Path) -> dict | None:
    path = Path(run_dir) / "status.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def pid_alive(pid) -> bool:
    """Whether a process with this pid runs on this machine (signal 0 checks without sending anything)."""
    try:
        pid = int(pid)
    except (TypeError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    try:  # a zombie (ended, not yet reaped: an orphan where nothing reaps) has ended too
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat[stat.rindex(")") + 2 :].split()[0] != "Z"
    except (OSError, ValueError, IndexError):
        return True


def gone_reason(status: dict) -> str | None:
    """Why a run whose status says "running" cannot be running any more, or None when it may be: the app
    server that started it has gone ("server restarted"; its training process stops itself when the server
    goes), or the process that writes it has ("its process ended"). Only this machine's pids are checked."""
    if status.get("state") != "running":
        return None
    server = status.get("server_pid")
    if server is not None and not pid_alive(server):
        return "server restarted"
    writer = status.get("pid")
    if writer is not None and not pid_alive(writer):
        return "server restarted" if server is not None else "its process ended"
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


def write_data(run_dir: str | Path, key: str, name: str, path: str | Path) -> None:
    """Record which dataset a run trains on (the app's dataset key, its name and folder)."""
    write_json_atomic(Path(run_dir) / DATA_FILE, {"key": key, "name": name, "path": str(path)})


def read_data(run_dir: str | Path) -> dict | None:
    """What `write_data` recorded, or None for a run on the shipped digits (runs before datasets, too)."""
    try:
        found = json.loads((Path(run_dir) / DATA_FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("key"), str) else None
