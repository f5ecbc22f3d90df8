"""Image and caption towers: an open_clip model built by open_clip's own factory.

Our digits models are described by JSON configs shipped in `model_configs/`: the shipped one,
`aecf-digits-resnet`, is open_clip's convolutional image tower (ModifiedResNet, one bottleneck per
stage, width 24, at 32x32: digits are resized from 28) with a small text transformer and open_clip's
BPE tokenizer; `aecf-digits-vit` (a tiny ViT for 28x28, the previous tower) still builds. They go
through the same door as a public model: `build_clip("ViT-B-32", "<local file or tag>")` builds the
big one, `build_clip("aecf-digits-resnet", "checkpoints/encoders/clip.safetensors")` ours.
"""

from __future__ import annotations

from pathlib import Path

import open_clip
import torch
import torch.nn.functional as F

from aecf.errors import CheckpointError
from aecf.paths import MODEL_CONFIG_DIR

DIGITS_MODEL = "aecf-digits-resnet"
OUR_MODELS = ("aecf-digits-resnet", "aecf-digits-vit")  # configs in model_configs/, MNIST normalisation
# MNIST pixel statistics: our tower normalises with these instead of the ImageNet ones.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DIGITS_PREPROCESS = {"mean": (MNIST_MEAN,) * 3, "std": (MNIST_STD,) * 3}

_registered = False


def register_model_configs() -> None:
    """Make open_clip's factory aware of the configs in `model_configs/` (idempotent)."""
    global _registered
    if not _registered:
        open_clip.add_model_config(MODEL_CONFIG_DIR)
        _registered = True


def build_clip(
    model_name: str = DIGITS_MODEL,
    pretrained: str | Path | None = None,
    preprocess_cfg: dict | None = None,
) -> tuple[torch.nn.Module, open_clip.tokenizer.SimpleTokenizer]:
    """Build an open_clip model (eval mode, CPU) and its tokenizer.

    `pretrained` is None (random init), a local weights file (.safetensors / .pt / .bin) or an
    open_clip pretrained tag (which needs the network, unavailable here). Our own model gets the
    MNIST normalisation unless `preprocess_cfg` says otherwise.
    """
    register_model_configs()
    if preprocess_cfg is None and model_name in OUR_MODELS:
        preprocess_cfg = DIGITS_PREPROCESS
    if pretrained is not None and str(pretrained).endswith((".safetensors", ".pt", ".pth", ".bin")):
        if not Path(pretrained).is_file():
            raise CheckpointError(
                f"Encoder weights {pretrained} not found. Train them with `python -m aecf encoders train`."
            )
    try:
        model = open_clip.create_model(
            model_name,
            pretrained=None if pretrained is None else str(pretrained),
            force_preprocess_cfg=preprocess_cfg,
        )
    except Exception as e:  # open_clip raises RuntimeError/ValueError/SafetensorError/...
        if pretrained is None:
            raise
        raise CheckpointError(
            f"Could not load weights {pretrained!r} into open_clip model {model_name!r}: {e}"
        ) from e
    model.eval()
    tokenizer = open_clip.get_tokenizer(model_name)
    return model, tokenizer


def to_clip_pixels(images: torch.Tensor, model: torch.nn.Module) -> torch.Tensor:
    """MNIST-style grayscale [B,1,H,W] in [0,1] -> the normalised 3-channel input the model expects.

    Resizes when the model's image size differs (a public 224 px CLIP reads our digits too).
    """
    if images.ndim == 3:
        images = images[:, None]
    size = model.visual.image_size
    size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
    if tuple(images.shape[-2:]) != size:
        images = F.interpolate(images, size=size, mode="bilinear", align_corners=False, antialias=True)
    cfg = getattr(model.visual, "preprocess_cfg", None) or DIGITS_PREPROCESS
    mean = torch.tensor(cfg["mean"], dtype=images.dtype).view(1, 3, 1, 1)
    std = torch.tensor(cfg["std"], dtype=images.dtype).view(1, 3, 1, 1)
    return (images.expand(-1, 3, -1, -1) - mean) / std
