"""Where the app reads and writes. Defaults are the project's (checkpoints/, assets/, runs/); each can be
redirected by an environment variable, read at call time, so tests and demos can point a running app at
other files without touching the shipped ones."""

from __future__ import annotations

import os
from pathlib import Path

from aecf.constants import ASSETS_DIR, CHECKPOINT_DIR, FEATURE_DIR, ROOT, RUNS_DIR

ENV = {
    "checkpoints": "AECF_APP_CHECKPOINT_DIR",  # holds fusion/ and encoders/
    "samples": "AECF_APP_SAMPLES_DIR",
    "features": "AECF_APP_FEATURE_DIR",
    "runs": "AECF_APP_RUNS_DIR",
    "results": "AECF_APP_RESULTS_JSON",
    "extra_checkpoints": "AECF_APP_EXTRA_CHECKPOINTS",  # colon-separated dirs of more checkpoints (COCO)
}


def _get(name: str, default: Path) -> Path:
    value = os.environ.get(ENV[name])
    return Path(value) if value else default


def checkpoint_root() -> Path:
    return _get("checkpoints", CHECKPOINT_DIR)


def fusion_dir() -> Path:
    return checkpoint_root() / "fusion"


def samples_dir() -> Path:
    return _get("samples", ASSETS_DIR / "samples")


def feature_dir() -> Path:
    return _get("features", FEATURE_DIR)


def runs_dir() -> Path:
    return _get("runs", RUNS_DIR)


def results_json() -> Path:
    return _get("results", ROOT / "results" / "results.json")


def extra_checkpoint_dirs() -> list[Path]:
    """Directories of further checkpoints (e.g. COCO ones): AECF_APP_EXTRA_CHECKPOINTS (colon-separated)
    plus <checkpoints>/coco/ when it exists. Only existing directories, each once."""
    dirs = [Path(d) for d in os.environ.get(ENV["extra_checkpoints"], "").split(os.pathsep) if d.strip()]
    dirs.append(checkpoint_root() / "coco")
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in {o.resolve() for o in out}:
            out.append(d)
    return out
