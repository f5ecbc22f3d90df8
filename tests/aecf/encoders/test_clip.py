"""aecf.encoders.clip.load_clip, the one door to every open_clip model: what it refuses and how."""

from __future__ import annotations

import pytest
from safetensors.torch import save_file

from aecf.encoders.clip import DIGITS_PREPROCESS, load_clip
from aecf.errors import CheckpointError, InputError


def test_our_towers_are_built_untrained_with_mnist_normalisation_and_no_gradients():
    model, transform, tokenizer = load_clip()
    assert model.visual.preprocess_cfg["mean"] == DIGITS_PREPROCESS["mean"]
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert transform is not None and tokenizer(["a seven"]).shape[0] == 1


def test_a_missing_weights_file_is_a_checkpoint_error_with_the_way_out(tmp_path):
    with pytest.raises(CheckpointError, match="encoders train"):
        load_clip("aecf-digits-resnet", tmp_path / "clip.safetensors")


def test_a_weights_file_of_another_model_is_a_checkpoint_error(tmp_path):
    model, _, _ = load_clip("aecf-digits-vit")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "vit.safetensors")
    with pytest.raises(CheckpointError, match="Could not load weights"):
        load_clip("aecf-digits-resnet", tmp_path / "vit.safetensors")


def test_unknown_tags_and_configs_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="neither a weights file nor an open_clip tag"):
        load_clip("aecf-digits-resnet", "laion9000")
    with pytest.raises(InputError, match="not found"):
        load_clip(str(tmp_path / "missing.json"), "none")
