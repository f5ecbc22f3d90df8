"""AECF Explorer: Adaptive Entropy-Gated Contrastive Fusion (arXiv 2505.15417) over frozen encoders.

from aecf import AECF                     # the fusion layer for your own training loop (aecf.fusion)
model = AECF(dims={"image": 512, "text": 384, "audio": 40}, num_classes=7)
"""

from aecf.constants import CLASSES, MODALITIES, NUM_CLASSES

__all__ = ["AECF", "CLASSES", "MODALITIES", "NUM_CLASSES", "load"]


def __getattr__(name: str):
    # `import aecf` stays light (paths and names, no torch) for the scripts that only need those; the layer
    # imports torch when it is first asked for
    if name == "AECF":
        from aecf.fusion import AECF

        return AECF
    raise AttributeError(f"module 'aecf' has no attribute {name!r}")


def load(path=None):
    """Load a fusion checkpoint (the shipped AECF one by default) with its frozen encoders."""
    from aecf.inference import load as _load

    return _load(path)
