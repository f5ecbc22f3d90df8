"""One door for fusion weights: safetensors (no pickle, nothing in a file can run code) + a JSON config.

    <stem>.safetensors   the state dict; its metadata also carries the config JSON
    <stem>.json          {"format", "model": FusionConfig, "train": TrainConfig | null, "extra": {...}}

`load_checkpoint` accepts the stem, either file, or a run directory (its model.safetensors). Anything wrong
(missing, corrupt, no config, shapes that do not fit) raises aecf.errors.CheckpointError saying what.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aecf.errors import CheckpointError
from aecf.files import write_atomic, write_json_atomic
from aecf.fusion import FusionConfig, FusionModel

FORMAT = "aecf-fusion/1"
WEIGHTS_SUFFIX = ".safetensors"


def checkpoint_stem(path: str | Path) -> str:
    """The checkpoint's own name: `aecf.seed1` for aecf.seed1.safetensors (Path.stem would say `aecf`
    for `aecf.seed1`), the directory's name for a run directory's model.safetensors."""
    path = Path(path)
    name = path.name[: -len(WEIGHTS_SUFFIX)] if path.name.endswith(WEIGHTS_SUFFIX) else path.name
    name = name[: -len(".json")] if name.endswith(".json") else name
    if path.is_dir():
        return path.name
    return path.parent.name if name == "model" else name


@dataclass(frozen=True)
class CheckpointInfo:
    """Who a checkpoint is, read from its config without loading weights (the one place that parses it)."""

    weights: Path
    stem: str  # aecf, aecf.seed1, <run id>
    method: str  # aecf.train.METHODS name
    task: str  # "multiclass" (softmax head, digits) | "multilabel" (sigmoid head, COCO)
    encoder: str  # "digits" (the shipped towers) | "open_clip" (rebuilt from `encoder_spec`)
    encoder_spec: dict | None = None
    problem: str | None = None  # why the config could not be read (the checkpoint is still listed)


def checkpoint_info(path: str | Path) -> CheckpointInfo:
    """Identity of a checkpoint; never raises (a broken one reports `problem`, and loading it says why)."""
    weights, _ = checkpoint_paths(path)
    stem = checkpoint_stem(path)
    try:
        doc = read_checkpoint_config(path)
    except CheckpointError as e:
        return CheckpointInfo(weights, stem, stem.split(".")[0], "multiclass", "digits", None, str(e))
    model = doc["model"]
    spec = (doc.get("extra") or {}).get("encoder")
    clip = isinstance(spec, dict) and spec.get("kind") == "open_clip"
    return CheckpointInfo(
        weights,
        stem,
        str(model.get("method", stem.split(".")[0])),
        "multilabel" if model.get("head") == "sigmoid" else "multiclass",
        "open_clip" if clip else "digits",
        spec if clip else None,
    )


def list_checkpoints(directory: str | Path) -> list[Path]:
    """The .safetensors checkpoints in a directory, AECF first, then by name (seeds included: aecf.seed1)."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    return sorted(
        directory.glob("*" + WEIGHTS_SUFFIX), key=lambda p: (checkpoint_stem(p) != "aecf", checkpoint_stem(p))
    )


def checkpoint_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights, config) paths for a stem, a .safetensors/.json file or a run directory."""
    path = Path(path)
    if path.is_dir():
        path = path / "model"
    if path.suffix in (".safetensors", ".json"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".safetensors"), path.with_name(path.name + ".json")


def save_checkpoint(
    model: FusionModel, path: str | Path, train_config: dict | None = None, extra: dict | None = None
) -> Path:
    """Write weights and config atomically (aecf.files.write_atomic); returns the .safetensors path."""
    from safetensors.torch import save

    weights_path, config_path = checkpoint_paths(path)
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"format": FORMAT, "model": model.config.to_dict(), "train": train_config, "extra": extra or {}}
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    write_atomic(weights_path, save(tensors, metadata={"format": FORMAT, "config": json.dumps(doc)}))
    write_json_atomic(config_path, doc)
    return weights_path


def read_checkpoint_config(path: str | Path) -> dict:
    """The config document of a checkpoint: the .json beside it, else the copy in the weights' metadata."""
    weights_path, config_path = checkpoint_paths(path)
    if config_path.exists():
        try:
            doc = json.loads(config_path.read_text())
        except (OSError, ValueError) as e:
            raise CheckpointError(f"Checkpoint config {config_path} is not valid JSON ({e}).") from e
    elif weights_path.exists():
        doc = _metadata_config(weights_path)
        if doc is None:
            raise CheckpointError(
                f"Checkpoint {weights_path} has no config: neither {config_path.name} beside it nor one in "
                "its metadata. Re-save it with aecf.checkpoint.save_checkpoint."
            )
    else:
        raise CheckpointError(f"Checkpoint {weights_path} not found.")
    if not isinstance(doc, dict) or not isinstance(doc.get("model"), dict):
        raise CheckpointError(
            f"Checkpoint config {config_path} has no 'model' section; it is not an AECF fusion checkpoint."
        )
    return doc


def _metadata_config(weights_path: Path) -> dict | None:
    from safetensors import safe_open

    try:
        with safe_open(str(weights_path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:  # safetensors raises its own error types for corrupt headers
        raise CheckpointError(f"Checkpoint {weights_path} is corrupt or not a safetensors file ({e}).") from e
    if "config" not in meta:
        return None
    try:
        return json.loads(meta["config"])
    except ValueError as e:
        raise CheckpointError(f"Checkpoint {weights_path} carries an unreadable config ({e}).") from e


def load_checkpoint(path: str | Path) -> FusionModel:
    """Build the model its config describes and load its weights (eval mode)."""
    from safetensors.torch import load_file

    weights_path, _ = checkpoint_paths(path)
    doc = read_checkpoint_config(path)
    try:
        config = FusionConfig.from_dict(doc["model"])
        model = FusionModel(config)
    except (TypeError, ValueError) as e:
        raise CheckpointError(
            f"Checkpoint config for {weights_path} does not describe a fusion model ({e})."
        ) from e
    if not weights_path.exists():
        raise CheckpointError(f"Checkpoint weights {weights_path} not found (its config is there).")
    try:
        tensors = load_file(str(weights_path))
    except Exception as e:
        raise CheckpointError(f"Checkpoint {weights_path} is corrupt or not a safetensors file ({e}).") from e
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = [
        f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"missing {missing}")
        if unexpected:
            parts.append(f"unexpected {unexpected}")
        if wrong:
            parts.append("shape mismatch " + "; ".join(wrong))
        raise CheckpointError(
            f"Checkpoint {weights_path} does not match its config (method {config.method!r}, fusion "
            f"{config.fusion!r}): " + ", ".join(parts) + "."
        )
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()})
    model.eval()
    return model
