"""The app's door to checkpoints and aecf.inference: what can be loaded, and loading it.

Checkpoint choices are the shipped fusion checkpoints (aecf.inference.list_checkpoints) plus every
training run that saved a model. A choice is identified by a string that fits in a URL: "" for the
default shipped AECF checkpoint, a shipped checkpoint's name, or "run:<id>".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aecf import app_paths
from aecf.constants import ROOT
from aecf.errors import CheckpointError

TRAIN_SHIPPED_COMMAND = "python -m aecf train --method aecf --out checkpoints/fusion/aecf"


@dataclass(frozen=True)
class CheckpointChoice:
    key: str  # "" (default), "<name>" (shipped) or "run:<id>"
    label: str
    path: Path
    method: str
    kind: str  # "shipped" | "run"


def _method_of(path: Path) -> str:
    try:
        from aecf.checkpoint import read_checkpoint_config

        return str(read_checkpoint_config(path)["model"].get("method", path.stem.split(".")[0]))
    except Exception:  # noqa: BLE001 - a broken checkpoint is still listed; loading it reports why
        return path.stem.split(".")[0]


def _as_path(item) -> Path | None:
    if isinstance(item, str | Path):
        return Path(item)
    if isinstance(item, dict):
        for k in ("path", "weights", "file"):
            if k in item:
                return Path(item[k])
        return None
    for k in ("path", "weights", "file"):
        if hasattr(item, k):
            return Path(getattr(item, k))
    return None


def shipped_checkpoints() -> list[Path]:
    try:
        from aecf.inference import list_checkpoints
    except ImportError:
        list_checkpoints = None
    paths: list[Path] = []
    if list_checkpoints is not None:
        try:
            for item in list_checkpoints(app_paths.fusion_dir()):
                p = _as_path(item)
                if p is not None:
                    paths.append(p if p.is_absolute() else ROOT / p)
        except Exception:  # noqa: BLE001
            paths = []
    if not paths and app_paths.fusion_dir().is_dir():
        paths = sorted(app_paths.fusion_dir().glob("*.safetensors"))
    out, seen = [], set()
    for p in paths:
        stem = p.with_suffix("") if p.suffix in (".safetensors", ".json") else p
        if stem not in seen:
            seen.add(stem)
            out.append(stem.with_suffix(".safetensors") if not stem.is_dir() else stem)
    return out


def _runs_dir(runs_dir: str | Path | None) -> Path:
    if runs_dir is not None:
        return Path(runs_dir)
    from aecf.app_state import get_run_manager

    return get_run_manager().runs_dir


def checkpoint_choices(runs_dir: str | Path | None = None, include_runs: bool = True) -> list[CheckpointChoice]:
    """Shipped checkpoints first (AECF first among them), then finished runs with a saved model."""
    choices = []
    for p in shipped_checkpoints():
        name = p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.name
        choices.append(CheckpointChoice(name, f"{name} (shipped)", p, _method_of(p), "shipped"))
    choices.sort(key=lambda c: (c.method != "aecf", c.key != "aecf", c.key))
    if include_runs:
        from aecf import runs

        for run_dir in runs.list_runs(_runs_dir(runs_dir)):
            weights = run_dir / "model.safetensors"
            status = runs.read_status(run_dir) or {}
            if weights.exists() and status.get("state") in ("finished", "stopped"):
                choices.append(CheckpointChoice(f"run:{run_dir.name}", f"{run_dir.name} (your run)", weights,
                                                _method_of(weights), "run"))
    return choices


def resolve(key: str, runs_dir: str | Path | None = None) -> Path | None:
    """Path for a choice key; None means 'the default shipped checkpoint' (aecf.load(None))."""
    if not key:
        return None
    if key.startswith("run:"):
        run_id = key[4:]
        if "/" in run_id or "\\" in run_id or run_id in ("", ".", ".."):
            raise CheckpointError(f"{run_id!r} is not a run id.")
        return _runs_dir(runs_dir) / run_id / "model.safetensors"
    if "/" in key or "\\" in key or key in (".", ".."):
        raise CheckpointError(f"{key!r} is not a checkpoint name.")
    return app_paths.fusion_dir() / f"{key}.safetensors"


def load_model(key: str = ""):
    """aecf.inference.load for a choice key (the default: the first choice, the shipped AECF).
    CheckpointError (with a message for the user) when it cannot load."""
    path = resolve(key) if key else None
    if path is None:
        shipped = shipped_checkpoints()
        if not shipped:
            raise CheckpointError(
                f"No fusion checkpoint in {_show(app_paths.fusion_dir())}/. Train the shipped one with `{TRAIN_SHIPPED_COMMAND}`."
            )
        path = shipped[0]
    if not path.exists():
        raise CheckpointError(f"Checkpoint {_show(path)} not found.")
    try:
        from aecf.encoders import load_encoders
        from aecf.inference import load

        return load(path, encoders=load_encoders(app_paths.checkpoint_root()))
    except ImportError as e:
        raise CheckpointError(f"The inference module is not available yet ({e}).") from e
    except FileNotFoundError as e:
        raise CheckpointError(
            f"No fusion checkpoint found ({e}). Train the shipped one with `{TRAIN_SHIPPED_COMMAND}`."
        ) from e


def _show(path: Path) -> str:
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def baseline_choices(choices: list[CheckpointChoice]) -> list[CheckpointChoice]:
    """Shipped non-AECF checkpoints, late fusion and ModDrop first."""
    order = {"late_fusion": 0, "moddrop": 1}
    base = [c for c in choices if c.kind == "shipped" and c.method != "aecf"]
    return sorted(base, key=lambda c: (order.get(c.method, 9), c.key))
