"""AECF Explorer: Adaptive Entropy-Gated Contrastive Fusion (arXiv 2505.15417) over frozen encoders."""

from aecf.constants import CLASSES, MODALITIES, NUM_CLASSES

__all__ = ["CLASSES", "MODALITIES", "NUM_CLASSES", "load"]


def load(path=None):
    """Load a fusion checkpoint (the shipped AECF one by default) with its frozen encoders."""
    from aecf.inference import load as _load

    return _load(path)
