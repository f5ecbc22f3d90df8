"""A synthetic embedding cache that behaves like the tri-modal digits benchmark.

Used to develop and test the fusion layer without the frozen encoders. It reproduces the properties
that matter for AECF, not the pixels:

- each class has one prototype per modality (unit vectors in D dims, shared by every split: they
  come from `world_seed`, while `seed` only draws the samples);
- image and audio embeddings mix the prototype with noise in proportion to a per-sample severity,
  so each modality alone is unreliable (roughly image 80 %, audio 70 %, caption 50 %) and the severity is known;
- captions are graded like the real ones (exact / partial / none / wrong). An exact or a wrong
  caption lies on a prototype with a large margin, so the caption looks like the *strongest*
  modality while being confidently wrong on 15 % of the samples: the trap that makes a gate
  collapse onto one modality;
- embeddings of one modality share a mean direction (the "cone" of CLIP-like features), so a
  zero-filled missing modality is out of distribution for a model that never saw one;
- all three together are ~93 % linearly separable (more with a per-sample gate).
"""

from __future__ import annotations

import numpy as np
import torch

from aecf.constants import CLASSES, EMBED_DIM, MODALITIES, NUM_CLASSES
from aecf.data.cache import FeatureSplit

# caption levels as in the real benchmark: 0 exact, 1 partial, 2 none, 3 wrong
CAPTION_LEVEL_PROBS = (0.45, 0.2, 0.2, 0.15)
CAPTION_LEVEL_SEVERITY = (0.0, 0.5, 0.8, 1.0)
# "partial" captions name a group that contains the digit ("an odd number", "a small digit")
CAPTION_GROUPS = ((0, 2, 4, 6, 8), (1, 3, 5, 7, 9), (0, 1, 2, 3, 4), (5, 6, 7, 8, 9))


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _world(world_seed: int, num_classes: int, dim: int, n_modalities: int):
    rng = np.random.default_rng(world_seed)
    prototypes = _unit(rng.standard_normal((n_modalities, num_classes, dim)))
    generic = _unit(rng.standard_normal(dim))  # the "a digit" caption direction
    cone = _unit(rng.standard_normal((n_modalities, dim)))  # each modality's mean direction
    return prototypes, generic, cone


def _noisy_modality(rng, proto, label, severity, noise_scale, base_noise):
    """Prototype faded by severity plus isotropic noise growing with severity, L2-normalised."""
    n, dim = len(label), proto.shape[1]
    signal = (1.0 - severity)[:, None] * proto[label]
    noise = rng.standard_normal((n, dim)) / np.sqrt(dim)
    scale = base_noise + noise_scale * severity
    return _unit(signal + scale[:, None] * noise)


def make_synthetic_split(
    n: int,
    seed: int,
    *,
    num_classes: int = NUM_CLASSES,
    dim: int = EMBED_DIM,
    modalities: tuple[str, ...] = MODALITIES,
    world_seed: int = 20250521,
    image_noise: float = 1.2,
    audio_noise: float = 1.5,
    caption_levels: tuple[float, ...] = CAPTION_LEVEL_PROBS,
    beta: tuple[float, float] = (1.3, 1.3),
    cone: float = 1.0,
) -> FeatureSplit:
    """Draw `n` samples of a synthetic image/caption/audio embedding cache (see module docstring).

    Splits drawn with different `seed` and the same `world_seed` share class prototypes, so a model
    trained on one generalises to the other. Modalities other than image/caption/audio behave like
    image.
    """
    if n <= 0:
        raise ValueError("n must be positive")
    prototypes, generic, cone_dirs = _world(world_seed, num_classes, dim, len(modalities))
    rng = np.random.default_rng(seed)
    label = rng.integers(0, num_classes, n)
    embeddings, severities = [], []
    caption_level = np.zeros(n, dtype=np.int8)
    for i, m in enumerate(modalities):
        proto = prototypes[i]
        if m == "caption":
            level = rng.choice(
                len(caption_levels), size=n, p=np.asarray(caption_levels) / sum(caption_levels)
            )
            caption_level = level.astype(np.int8)
            target = proto[label].copy()
            for j in np.flatnonzero(level == 1):
                groups = [g for g in CAPTION_GROUPS if label[j] in g]
                target[j] = proto[list(groups[rng.integers(len(groups))])].mean(axis=0)
            target[level == 2] = generic
            wrong = np.flatnonzero(level == 3)
            target[wrong] = proto[(label[wrong] + rng.integers(1, num_classes, len(wrong))) % num_classes]
            noise = rng.standard_normal((n, dim)) / np.sqrt(dim)
            embeddings.append(_unit(_unit(target) + 0.35 * noise))
            severities.append(np.asarray(CAPTION_LEVEL_SEVERITY, dtype=np.float32)[level])
        else:
            a, b = beta
            severity = rng.beta(a, b, n).astype(np.float32)
            noise_scale = audio_noise if m == "audio" else image_noise
            embeddings.append(_noisy_modality(rng, proto, label, severity, noise_scale, 0.25))
            severities.append(severity)
    # CLIP-like "cone": every embedding of a modality shares a mean direction, so a zero vector (a missing
    # modality, zero-filled) is far from anything seen in training, as with real frozen encoders
    embeddings = [_unit(e + cone * cone_dirs[i]) for i, e in enumerate(embeddings)]
    x = np.stack(embeddings, axis=1).astype(np.float16).astype(np.float32)  # like the float16 cache
    modality_severity = np.stack(severities, axis=1).astype(np.float32)
    class_embeddings = prototypes[modalities.index("caption") if "caption" in modalities else 0]
    return FeatureSplit.from_stacked(
        torch.from_numpy(x),
        label.astype(np.int64),
        tuple(modalities),
        modality_severity=modality_severity,
        classes=CLASSES if num_classes == NUM_CLASSES else tuple(str(i) for i in range(num_classes)),
        extras={
            "class_embeddings": class_embeddings.astype(np.float32),
            "logit_scale": np.float32(20.0),
            "caption_level": caption_level,
        },
    )
