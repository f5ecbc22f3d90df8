"""Names, sizes and paths shared by the whole library (see docs/architecture.md)."""

from __future__ import annotations

from pathlib import Path

MODALITIES: tuple[str, ...] = ("image", "caption", "audio")
CLASSES: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
)
NUM_CLASSES = len(CLASSES)
EMBED_DIM = 64
SAMPLE_RATE = 16_000

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
CHECKPOINT_DIR = ROOT / "checkpoints"
ASSETS_DIR = ROOT / "assets"
FEATURE_DIR = ASSETS_DIR / "features"
RUNS_DIR = ROOT / "runs"


def subset_name(modalities) -> str:
    """Canonical name of a modality subset: names joined by '+' in MODALITIES order."""
    chosen = set(modalities)
    return "+".join(m for m in MODALITIES if m in chosen)
