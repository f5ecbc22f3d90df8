"""Names and sizes shared by the whole library (see docs/architecture.md). Paths live in aecf.paths."""

from __future__ import annotations

from aecf.paths import ASSETS_DIR, CHECKPOINT_DIR, DATA_DIR, FEATURE_DIR, ROOT, RUNS_DIR  # noqa: F401 (aecf.paths owns them)

MODALITIES: tuple[str, ...] = ("image", "caption", "audio")
CLASSES: tuple[str, ...] = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
)
NUM_CLASSES = len(CLASSES)
EMBED_DIM = 64
SAMPLE_RATE = 16_000


def subset_name(modalities) -> str:
    """Canonical name of a modality subset: names joined by '+' in MODALITIES order."""
    chosen = set(modalities)
    return "+".join(m for m in MODALITIES if m in chosen)
