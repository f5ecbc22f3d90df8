"""The app's door to checkpoints and aecf.inference: what can be loaded, and loading it.

Checkpoint choices are the shipped fusion checkpoints (aecf.inference.list_checkpoints) plus every
training run that saved a model. A choice is identified by a string that fits in a URL: "" for the
default shipped AECF checkpoint, a shipped checkpoint's name, "run:<id>", or "extra:<i>:<name>" for a
checkpoint in the i-th extra directory (app_paths.extra_checkpoint_dirs: AECF_APP_EXTRA_CHECKPOINTS,
checkpoints/coco/), e.g. a COCO one. Each choice carries its task ("multiclass" or "multilabel").
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
    kind: str  # "shipped" | "run" | "extra"
    task: str = "multiclass"  # "multilabel" for a sigmoid head (COCO)


def _method_of(path: Path) -> str:
    try:
        from aecf.checkpoint import read_checkpoint_config

        return str(read_checkpoint_config(path)["model"].get("method", path.stem.split(".")[0]))
    except Exception:  # noqa: BLE001 - a broken checkpoint is still listed; loading it reports why
        return path.stem.split(".")[0]


def _task_of(path: Path) -> str:
    try:
        from aecf.checkpoint import read_checkpoint_config

        return "multilabel" if read_checkpoint_config(path)["model"].get("head") == "sigmoid" else "multiclass"
    except Exception:  # noqa: BLE001
        return "multiclass"


def _stem(p: Path) -> str:
    return p.name[: -len(".safetensors")] if p.name.endswith(".safetensors") else p.name


def extra_checkpoints() -> list[tuple[str, Path]]:
    """(key, weights path) of every checkpoint in the extra directories."""
    out = []
    for i, d in enumerate(app_paths.extra_checkpoint_dirs()):
        for p in sorted(d.glob("*.safetensors"), key=lambda p: (_stem(p) != "aecf", _stem(p))):
            out.append((f"extra:{i}:{_stem(p)}", p))
    return out


def _is_clip(path: Path) -> bool:
    try:
        from aecf.checkpoint import read_checkpoint_config

        spec = (read_checkpoint_config(path).get("extra") or {}).get("encoder")
        return isinstance(spec, dict) and spec.get("kind") == "open_clip"
    except Exception:  # noqa: BLE001
        return False


def shipped_checkpoints() -> list[Path]:
    """The shipped fusion checkpoints (.safetensors paths, AECF first), seeds included (aecf.seed1, ...)."""
    from aecf.inference import list_checkpoints

    return list_checkpoints(app_paths.fusion_dir())


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
        task = _task_of(p)
        label = f"{name} (shipped)" if task == "multiclass" else f"{name} (shipped, {task})"
        choices.append(CheckpointChoice(name, label, p, _method_of(p), "shipped", task))
    choices.sort(key=lambda c: (c.method != "aecf", c.key != "aecf", c.key))
    for key, p in extra_checkpoints():
        task = _task_of(p)
        choices.append(CheckpointChoice(key, f"{_stem(p)} in {_show(p.parent)} ({task})", p, _method_of(p), "extra", task))
    if include_runs:
        from aecf import runs

        for run_dir in runs.list_runs(_runs_dir(runs_dir)):
            weights = run_dir / "model.safetensors"
            status = runs.read_status(run_dir) or {}
            if weights.exists() and status.get("state") in ("finished", "stopped"):
                task = _task_of(weights)
                label = f"{run_dir.name} (your run)" if task == "multiclass" else f"{run_dir.name} (your run, {task})"
                choices.append(CheckpointChoice(f"run:{run_dir.name}", label, weights, _method_of(weights), "run", task))
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
    if key.startswith("extra:"):
        idx, _, name = key[6:].partition(":")
        dirs = app_paths.extra_checkpoint_dirs()
        if not idx.isdigit() or int(idx) >= len(dirs) or not name or "/" in name or "\\" in name or name in (".", ".."):
            raise CheckpointError(f"{key!r} is not a checkpoint in the extra checkpoint directories.")
        return dirs[int(idx)] / f"{name}.safetensors"
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

        if _task_of(path) == "multilabel" or _is_clip(path):
            return load(path)  # a COCO checkpoint rebuilds its own open_clip encoders from its spec
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
    base = [c for c in choices if c.kind == "shipped" and c.method != "aecf" and c.task == "multiclass"]
    return sorted(base, key=lambda c: (order.get(c.method, 9), c.key))


def same_directory_baselines(choices: list[CheckpointChoice], chosen: CheckpointChoice) -> list[CheckpointChoice]:
    """Checkpoints of the same task in the chosen one's directory with a different method (a COCO baseline)."""
    return [c for c in choices if c.key != chosen.key and c.task == chosen.task and c.method != chosen.method
            and c.path.parent == chosen.path.parent]
