"""Image and caption towers: every open_clip model, ours or public, built and loaded through one door.

`load_clip(model, pretrained)` builds with open_clip's own factory and never touches the network:

    load_clip()                                                   our digits towers, random weights
    load_clip("aecf-digits-resnet", "checkpoints/encoders/clip.safetensors")          the shipped ones
    load_clip("ViT-B-32", "openai")             a public model, its weights from the local cache only
    load_clip("ViT-B-32", "/path/to/weights.safetensors")                 ... or from a weights file
    load_clip("/path/to/config.json", "none", seed=7)         a model config file, seeded random weights

Our digits models are described by JSON configs in `model_configs/` (aecf.paths.MODEL_CONFIG_DIR): the
shipped one, `aecf-digits-resnet`, is open_clip's convolutional image tower (ModifiedResNet, one bottleneck
per stage, width 24, at 32x32: digits are resized from 28) with a small text transformer and open_clip's
BPE tokenizer; `aecf-digits-vit` (a tiny ViT for 28x28, the previous tower) still builds. They normalise
pixels with MNIST's statistics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import open_clip
import torch
import torch.nn.functional as F
from huggingface_hub import hf_hub_download
from open_clip.constants import HF_SAFE_WEIGHTS_NAME, HF_WEIGHTS_NAME

from aecf.errors import CheckpointError, InputError
from aecf.paths import MODEL_CONFIG_DIR

DIGITS_MODEL = "aecf-digits-resnet"
OUR_MODELS = ("aecf-digits-resnet", "aecf-digits-vit")  # configs in model_configs/, MNIST normalisation
# MNIST pixel statistics: our tower normalises with these instead of the ImageNet ones.
MNIST_MEAN = 0.1307
MNIST_STD = 0.3081
DIGITS_PREPROCESS = {"mean": (MNIST_MEAN,) * 3, "std": (MNIST_STD,) * 3}
WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".bin")

_registered = False


def register_model_configs() -> None:
    """Make open_clip's factory aware of the configs in `model_configs/` (idempotent)."""
    global _registered
    if not _registered:
        open_clip.add_model_config(MODEL_CONFIG_DIR)
        _registered = True


def _cached_weights(cfg: dict, cache_dir: str | None) -> tuple[str | None, list[str]]:
    """Where open_clip would find a pretrained tag's weights without the network (None if nowhere)."""
    looked: list[str] = []
    if cfg.get("file"):
        return cfg["file"], looked
    hub = cfg.get("hf_hub", "")
    if hub:
        model_id, filename = os.path.split(hub)
        filename = filename or HF_WEIGHTS_NAME
        names = [HF_SAFE_WEIGHTS_NAME] if filename == HF_WEIGHTS_NAME else []
        if filename.endswith((".bin", ".pth")):
            names.append(filename[:-4] + ".safetensors")
        names.append(filename)
        looked.append(f"Hugging Face cache ({cache_dir or '$HF_HOME/hub'}): {model_id}")
        for name in names:
            try:
                return hf_hub_download(model_id, name, cache_dir=cache_dir, local_files_only=True), looked
            except Exception:  # not in the cache (the hub raises several kinds)
                continue
    url = cfg.get("url", "")
    if url:
        target = os.path.join(cache_dir or os.path.expanduser("~/.cache/clip"), os.path.basename(url))
        looked.append(target)
        if os.path.isfile(target):
            return target, looked
    return None, looked


def _model_name(model: str) -> str:
    """The open_clip name of `model`: a registered name, `local-dir:DIR`, or a config file (registered under
    its stem)."""
    register_model_configs()
    if not model.endswith(".json"):
        return model
    config = Path(model).expanduser()
    if not config.is_file():
        raise InputError(f"Model config {config} not found.")
    open_clip.add_model_config(config)
    return config.stem


def _weights(name: str, pretrained: str | Path | None, cache_dir: str | None) -> tuple[str | None, dict]:
    """(weights file or None for random weights, the factory's extra arguments)."""
    if pretrained is None or name.startswith("local-dir:") or str(pretrained).lower() == "none":
        return None, {}
    path = Path(pretrained).expanduser()
    if path.is_file():
        return str(path), {}
    if os.sep in str(pretrained) or str(pretrained).endswith(WEIGHT_SUFFIXES):
        hint = " Train them with `python -m aecf encoders train`." if name in OUR_MODELS else ""
        raise CheckpointError(f"Weights file {pretrained} not found.{hint}")
    cfg = open_clip.get_pretrained_cfg(name, str(pretrained))
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(name)
        raise InputError(
            f"'{pretrained}' is neither a weights file nor an open_clip tag of {name} "
            f"(tags: {', '.join(tags) or 'none'}). Use a file path or `none`."
        )
    weights, looked = _cached_weights(cfg, cache_dir)
    if weights is None:
        raise CheckpointError(
            f"Weights '{pretrained}' of {name} are not cached on this machine (looked in: "
            f"{'; '.join(looked)}), and this tool never downloads. Where there is network, run "
            f"`python -c \"import open_clip; open_clip.create_model('{name}', pretrained='{pretrained}')\"` "
            "and copy the Hugging Face cache (~/.cache/huggingface) here, or save the weights to a "
            ".safetensors file and pass --pretrained PATH (see docs/coco.md)."
        )
    # A tag records how its weights were trained (QuickGELU, normalisation); a bare file does not.
    preprocess = {f"image_{k}": cfg[k] for k in ("mean", "std", "interpolation", "resize_mode") if k in cfg}
    return weights, {"force_quick_gelu": bool(cfg.get("quick_gelu", False)), **preprocess}


def load_clip(
    model: str = DIGITS_MODEL,
    pretrained: str | Path | None = None,
    device: str | torch.device = "cpu",
    seed: int | None = None,
    cache_dir: str | None = None,
) -> tuple[torch.nn.Module, Any, open_clip.tokenizer.SimpleTokenizer]:
    """(model, image transform, tokenizer) of an open_clip model, built without the network; the model is in
    eval mode, on `device`, with gradients off (training turns them back on).

    model: a registered open_clip name (ViT-B-32, ours), `local-dir:DIR` (open_clip_config.json + weights),
    or a model-config JSON file. pretrained: None or `none` (random weights, drawn after
    torch.manual_seed(seed) when a seed is given), a weights file (.safetensors preferred; .pt/.bin/.pth are
    read by open_clip's `torch.load(weights_only=True)`), or an open_clip tag found in the local cache
    (`openai`). Raises CheckpointError when the weights cannot be found or loaded, InputError for a model
    or tag that does not exist.
    """
    name = _model_name(model)
    weights, kwargs = _weights(name, pretrained, cache_dir)
    if name in OUR_MODELS:
        kwargs.update(image_mean=DIGITS_PREPROCESS["mean"], image_std=DIGITS_PREPROCESS["std"])
    if seed is not None:
        torch.manual_seed(seed)
    try:
        clip, _, transform = open_clip.create_model_and_transforms(name, pretrained=weights, **kwargs)
        tokenizer = open_clip.get_tokenizer(name)
    except Exception as e:  # open_clip raises RuntimeError/ValueError/SafetensorError/...
        if weights is None:
            raise InputError(f"Cannot build open_clip model {name!r}: {e}") from e
        raise CheckpointError(
            f"Could not load weights {pretrained!r} into open_clip model {name!r}: {e}"
        ) from e
    return clip.to(device).eval().requires_grad_(False), transform, tokenizer


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
