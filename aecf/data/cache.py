"""The embedding cache of a benchmark: what the frozen encoders produced, in the dataset format.

A feature cache is a dataset folder (aecf.data.dataset, docs/data-format.md) whose splits carry, beside
the modality arrays [N, D], "label" and "severity" [N, M], the extras the digits app reads:

    caption_level              int8    [N]      0 exact, 1 partial, 2 none, 3 wrong (digits benchmark)
    class_embeddings           float32 [C, D]   text-tower embeddings of the class prompts
    logit_scale                float32 []       the encoders' CLIP temperature (zero-shot experts)

`load_split` reads it through `read_dataset`, the same door as anyone's dataset; `save_split` writes one
split (and dataset.json). `upgrade_cache` rewrites a cache from the earlier layout (per-modality
`<m>_severity` arrays and a `modalities` array, no dataset.json) into this one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from aecf.constants import CLASSES, FEATURE_DIR, MODALITIES
from aecf.data.dataset import SPLITS, DatasetSpec, FeatureSplit, read_dataset, read_spec
from aecf.errors import InputError
from aecf.files import write_atomic, write_json_atomic

__all__ = ["FeatureSplit", "load_split", "save_split", "upgrade_cache"]


def save_split(
    path: str | Path,
    embeddings: dict[str, np.ndarray],
    label: np.ndarray,
    modality_severity: dict[str, np.ndarray],
    class_embeddings: np.ndarray,
    logit_scale: float,
    caption_level: np.ndarray | None = None,
    classes: tuple[str, ...] | list[str] | None = None,
    name: str | None = None,
) -> Path:
    """Write one split (`<dir>/<split>.npz`, embeddings as float16, compressed) and `<dir>/dataset.json`,
    atomically. Classes default to the digits' names for 10 classes, else "0".."C-1"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    modalities = [m for m in MODALITIES if m in embeddings] + [m for m in embeddings if m not in MODALITIES]
    label = np.asarray(label, dtype=np.int64)
    n_classes = int(np.asarray(class_embeddings).shape[0])
    if classes is None:
        classes = CLASSES if n_classes == len(CLASSES) else tuple(str(i) for i in range(n_classes))
    arrays: dict[str, np.ndarray] = {m: np.asarray(embeddings[m], dtype=np.float16) for m in modalities}
    arrays["label"] = label
    arrays["severity"] = np.stack(
        [np.asarray(modality_severity[m], dtype=np.float32) for m in modalities], axis=1
    )
    arrays["class_embeddings"] = np.asarray(class_embeddings, dtype=np.float32)
    arrays["logit_scale"] = np.asarray(logit_scale, dtype=np.float32)
    if caption_level is not None:
        arrays["caption_level"] = np.asarray(caption_level, dtype=np.int8)
    spec = DatasetSpec(
        name or path.parent.name,
        "multilabel" if label.ndim == 2 else "multiclass",
        tuple(classes),
        tuple((m, int(arrays[m].shape[1])) for m in modalities),
    )
    write_atomic(path, lambda f: np.savez_compressed(f, **arrays))
    write_json_atomic(path.parent / "dataset.json", spec.to_dict())
    return path


def load_split(name: str, feature_dir: str | Path = FEATURE_DIR) -> FeatureSplit:
    """Split `name` ('train', 'val' or 'test', or a path to `<dir>/<split>.npz`) of a feature cache."""
    if str(name).endswith(".npz"):
        feature_dir, name = Path(name).parent, Path(name).stem
    feature_dir = Path(feature_dir)
    if not (feature_dir / f"{name}.npz").exists():
        raise InputError(
            f"Feature cache {feature_dir / f'{name}.npz'} not found. Build it with `python -m aecf features` "
            "(after `python -m aecf data build`)."
        )
    if not (feature_dir / "dataset.json").exists():
        raise InputError(
            f"Feature cache {feature_dir} has no dataset.json (the layout before the dataset format). Convert "
            f"it with: python -c \"from aecf.data.cache import upgrade_cache; upgrade_cache('{feature_dir}')\""
        )
    return read_dataset(feature_dir, allow_absent_classes=True).split(name)


def upgrade_cache(directory: str | Path, classes=None, name: str | None = None) -> Path:
    """Rewrite a feature cache of the earlier layout into the dataset format, in place (same numbers)."""
    directory = Path(directory)
    if (directory / "dataset.json").exists():
        read_spec(directory)
        return directory
    for split in SPLITS:
        path = directory / f"{split}.npz"
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as z:
            modalities = [str(m) for m in z["modalities"]]
            save_split(
                path,
                {m: z[m] for m in modalities},
                z["label"],
                {m: z[f"{m}_severity"] for m in modalities},
                z["class_embeddings"],
                float(z["logit_scale"]),
                z["caption_level"] if "caption_level" in z else None,
                classes,
                name,
            )
    return directory
