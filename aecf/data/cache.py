"""The embedding cache: what the frozen encoders produced for one split of a benchmark.

One `.npz` file per split, loadable with `allow_pickle=False` (nothing in it can run code):

    image, caption, audio      float16 [N, D]   frozen-encoder embeddings, one array per modality
    label                      int64   [N]
    severity                   float32 [N]      mean corruption severity over modalities, in [0, 1]
    <modality>_severity        float32 [N]      per-modality corruption severity, in [0, 1]
    caption_level              int8    [N]      0 exact, 1 partial, 2 none, 3 wrong (digits benchmark)
    class_embeddings           float32 [C, D]   text-tower embeddings of the class prompts
    logit_scale                float32 []       the encoders' CLIP temperature (zero-shot experts)
    modalities                 str     [M]      which embedding arrays are present, in order
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from aecf.constants import FEATURE_DIR, MODALITIES
from aecf.errors import InputError
from aecf.files import write_atomic


@dataclass
class FeatureSplit:
    """A split of cached embeddings, stacked as x[N, M, D] in `modalities` order."""

    x: torch.Tensor  # float32 [N, M, D]
    label: torch.Tensor  # int64 [N]
    severity: torch.Tensor  # float32 [N]
    modality_severity: torch.Tensor  # float32 [N, M]
    class_embeddings: torch.Tensor  # float32 [C, D]
    logit_scale: float
    modalities: tuple[str, ...]
    caption_level: torch.Tensor | None = None  # int8 [N]

    def __len__(self) -> int:
        return self.x.shape[0]

    @property
    def num_classes(self) -> int:
        return self.class_embeddings.shape[0]

    def subset(self, index) -> FeatureSplit:
        index = torch.as_tensor(index)
        return FeatureSplit(
            x=self.x[index],
            label=self.label[index],
            severity=self.severity[index],
            modality_severity=self.modality_severity[index],
            class_embeddings=self.class_embeddings,
            logit_scale=self.logit_scale,
            modalities=self.modalities,
            caption_level=None if self.caption_level is None else self.caption_level[index],
        )

    def select_modalities(self, modalities) -> FeatureSplit:
        """Keep only some modalities (e.g. image+audio, the AV-MNIST-like configuration)."""
        keep = [self.modalities.index(m) for m in modalities]
        return FeatureSplit(
            x=self.x[:, keep],
            label=self.label,
            severity=self.modality_severity[:, keep].mean(dim=1),
            modality_severity=self.modality_severity[:, keep],
            class_embeddings=self.class_embeddings,
            logit_scale=self.logit_scale,
            modalities=tuple(modalities),
            caption_level=self.caption_level,
        )


def save_split(
    path: str | Path,
    embeddings: dict[str, np.ndarray],
    label: np.ndarray,
    modality_severity: dict[str, np.ndarray],
    class_embeddings: np.ndarray,
    logit_scale: float,
    caption_level: np.ndarray | None = None,
) -> Path:
    """Write one split atomically (temp file + rename), embeddings as float16."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    modalities = [m for m in MODALITIES if m in embeddings] + [m for m in embeddings if m not in MODALITIES]
    arrays: dict[str, np.ndarray] = {
        "label": np.asarray(label, dtype=np.int64),
        "class_embeddings": np.asarray(class_embeddings, dtype=np.float32),
        "logit_scale": np.asarray(logit_scale, dtype=np.float32),
        "modalities": np.asarray(modalities, dtype=np.str_),
    }
    for m in modalities:
        arrays[m] = np.asarray(embeddings[m], dtype=np.float16)
        arrays[f"{m}_severity"] = np.asarray(modality_severity[m], dtype=np.float32)
    arrays["severity"] = np.mean([arrays[f"{m}_severity"] for m in modalities], axis=0).astype(np.float32)
    if caption_level is not None:
        arrays["caption_level"] = np.asarray(caption_level, dtype=np.int8)
    write_atomic(path, lambda f: np.savez_compressed(f, **arrays))
    return path


def load_split(name: str, feature_dir: str | Path = FEATURE_DIR) -> FeatureSplit:
    """Load `<feature_dir>/<name>.npz` (name is 'train', 'val' or 'test', or a path to a .npz)."""
    path = Path(name) if str(name).endswith(".npz") else Path(feature_dir) / f"{name}.npz"
    if not path.exists():
        raise InputError(
            f"Feature cache {path} not found. Build it with `python -m aecf features` "
            "(after `python -m aecf data build`)."
        )
    try:
        with np.load(path, allow_pickle=False) as z:
            modalities = tuple(str(m) for m in z["modalities"])
            x = np.stack([z[m].astype(np.float32) for m in modalities], axis=1)
            mod_sev = np.stack([z[f"{m}_severity"] for m in modalities], axis=1)
            return FeatureSplit(
                x=torch.from_numpy(x),
                label=torch.from_numpy(z["label"].astype(np.int64)),
                severity=torch.from_numpy(z["severity"].astype(np.float32)),
                modality_severity=torch.from_numpy(mod_sev.astype(np.float32)),
                class_embeddings=torch.from_numpy(z["class_embeddings"].astype(np.float32)),
                logit_scale=float(z["logit_scale"]),
                modalities=modalities,
                caption_level=torch.from_numpy(z["caption_level"]) if "caption_level" in z else None,
            )
    except (KeyError, ValueError, OSError) as e:
        raise InputError(f"Feature cache {path} is unreadable or incomplete ({e}). Rebuild it.") from e
