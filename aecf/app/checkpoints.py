"""The app's door to checkpoints and aecf.inference: what can be loaded, and loading it.

Checkpoint choices are the shipped fusion checkpoints (aecf.inference.list_checkpoints) plus every
training run that saved a model. A choice is identified by a string that fits in a URL: "" for the
default shipped AECF checkpoint, a shipped checkpoint's name, "run:<id>", or "extra:<i>:<name>" for a
checkpoint in the i-th extra directory (paths.extra_checkpoint_dirs: AECF_APP_EXTRA_CHECKPOINTS,
checkpoints/coco/), e.g. a COCO one. Each choice carries its task ("multiclass" or "multilabel").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aecf import paths, runs
from aecf.app.problems import describe
from aecf.app.training import get_run_manager
from aecf.checkpoint import checkpoint_info, checkpoint_stem, list_checkpoints
from aecf.encoders import load_encoders
from aecf.errors import CheckpointError
from aecf.inference import TRAIN_SHIPPED_COMMAND, load


@dataclass(frozen=True)
class CheckpointChoice:
    key: str  # "" (default), "<name>" (shipped), "run:<id>" or "extra:<i>:<name>"
    label: str
    path: Path
    method: str
    kind: str  # "shipped" | "run" | "extra"
    task: str = "multiclass"  # "multilabel" for a sigmoid head (COCO)


def extra_checkpoints() -> list[tuple[str, Path]]:
    """(key, weights path) of every checkpoint in the extra directories."""
    out = []
    for i, d in enumerate(paths.extra_checkpoint_dirs()):
        for p in list_checkpoints(d):
            out.append((f"extra:{i}:{checkpoint_stem(p)}", p))
    return out


def shipped_checkpoints() -> list[Path]:
    """The shipped fusion checkpoints (.safetensors paths, AECF first), seeds included (aecf.seed1, ...)."""
    return list_checkpoints(paths.fusion_dir())


def _runs_dir(runs_dir: str | Path | None) -> Path:
    if runs_dir is not None:
        return Path(runs_dir)

    return get_run_manager().runs_dir


def checkpoint_choices(
    runs_dir: str | Path | None = None, include_runs: bool = True
) -> list[CheckpointChoice]:
    """Shipped checkpoints first (AECF first among them), then finished runs with a saved model."""
    choices = []
    for p in shipped_checkpoints():
        info = checkpoint_info(p)
        label = (
            f"{info.stem} (shipped)" if info.task == "multiclass" else f"{info.stem} (shipped, {info.task})"
        )
        choices.append(CheckpointChoice(info.stem, label, p, info.method, "shipped", info.task))
    choices.sort(key=lambda c: (c.method != "aecf", c.key != "aecf", c.key))
    for key, p in extra_checkpoints():
        info = checkpoint_info(p)
        choices.append(
            CheckpointChoice(
                key,
                f"{info.stem} in {paths.show(p.parent)} ({info.task})",
                p,
                info.method,
                "extra",
                info.task,
            )
        )
    if include_runs:
        for run_dir in runs.list_runs(_runs_dir(runs_dir)):
            if runs.read_data(run_dir) is not None:
                continue  # trained on a dataset of one's own: Explore shows it in that dataset's view
            weights = run_dir / "model.safetensors"
            status = runs.read_status(run_dir) or {}
            if weights.exists() and status.get("state") in ("finished", "stopped"):
                info = checkpoint_info(weights)
                label = (
                    f"{run_dir.name} (your run)"
                    if info.task == "multiclass"
                    else f"{run_dir.name} (your run, {info.task})"
                )
                choices.append(
                    CheckpointChoice(f"run:{run_dir.name}", label, weights, info.method, "run", info.task)
                )
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
        dirs = paths.extra_checkpoint_dirs()
        if (
            not idx.isdigit()
            or int(idx) >= len(dirs)
            or not name
            or "/" in name
            or "\\" in name
            or name in (".", "..")
        ):
            raise CheckpointError(f"{key!r} is not a checkpoint in the extra checkpoint directories.")
        return dirs[int(idx)] / f"{name}.safetensors"
    if "/" in key or "\\" in key or key in (".", ".."):
        raise CheckpointError(f"{key!r} is not a checkpoint name.")
    return paths.fusion_dir() / f"{key}.safetensors"


def load_model(key: str = ""):
    """aecf.inference.load for a choice key (the default: the first choice, the shipped AECF).
    CheckpointError (with a message for the user) when it cannot load."""
    path = resolve(key) if key else None
    if path is None:
        shipped = shipped_checkpoints()
        if not shipped:
            raise CheckpointError(
                f"No fusion checkpoint in {paths.show(paths.fusion_dir())}/. Train the shipped one with `{TRAIN_SHIPPED_COMMAND}`."
            )
        path = shipped[0]
    if not path.exists():
        raise CheckpointError(f"Checkpoint {paths.show(path)} not found.")
    try:
        if checkpoint_info(path).encoder == "open_clip":
            return load(path)  # a COCO checkpoint rebuilds its own open_clip encoders from its spec
        return load(path, encoders=load_encoders(paths.checkpoint_root()))
    except FileNotFoundError as e:
        raise CheckpointError(
            f"No fusion checkpoint found ({e}). Train the shipped one with `{TRAIN_SHIPPED_COMMAND}`."
        ) from e


def baseline_choices(choices: list[CheckpointChoice]) -> list[CheckpointChoice]:
    """Shipped non-AECF checkpoints, late fusion and ModDrop first."""
    order = {"late_fusion": 0, "moddrop": 1}
    base = [c for c in choices if c.kind == "shipped" and c.method != "aecf" and c.task == "multiclass"]
    return sorted(base, key=lambda c: (order.get(c.method, 9), c.key))


def same_directory_baselines(
    choices: list[CheckpointChoice], chosen: CheckpointChoice
) -> list[CheckpointChoice]:
    """Checkpoints of the same task in the chosen one's directory with a different method (a COCO baseline)."""
    return [
        c
        for c in choices
        if c.key != chosen.key
        and c.task == chosen.task
        and c.method != chosen.method
        and c.path.parent == chosen.path.parent
    ]


def model_summary(model) -> str:
    """One sentence: which checkpoint is in use, with which encoders."""
    if getattr(model, "task", "multiclass") == "multilabel":
        return (
            f"Using **{model.name}** (method `{model.method}`, multi-label COCO), with its frozen open_clip image "
            "and caption encoders."
        )
    return f"Using **{model.name}** (method `{model.method}`), with its frozen image, caption and audio encoders."


@dataclass
class CheckpointStatus:
    summary: str = ""
    problem: str | None = None
    available: list[str] = field(default_factory=list)


def checkpoint_status(choices: list[CheckpointChoice], load: Callable[[str], object]) -> CheckpointStatus:
    """Which checkpoint the app uses (loading it with `load`, e.g. the server's cached loader), or why none can."""
    status = CheckpointStatus(available=[c.label for c in choices])
    try:
        status.summary = model_summary(load(choices[0].key if choices else ""))
    except Exception as e:  # noqa: BLE001 - shown on the page
        status.problem = describe(e, "Loading the checkpoint").message
    return status
