"""`python -m aecf encoders train`: retraining runs the shipped recipe, older encoders.json files stay readable
(options that left the code are accepted only switched off), and every stage runs end to end."""

from __future__ import annotations

import copy
import json

import pytest

import aecf.encoders as E
from aecf.encoders import load_encoders
from aecf.encoders.train import main
from aecf.encoders.training.config import TrainConfig, apply_override
from aecf.errors import CheckpointError
from aecf.paths import ENCODER_DIR

SHIPPED = ENCODER_DIR


@pytest.fixture(scope="module")
def shipped_json() -> dict:
    return json.loads((SHIPPED / "encoders.json").read_text())


def test_the_shipped_encoders_were_trained_with_the_default_recipe(shipped_json):
    # what `encoders train` runs without options is what the shipped encoders.json records, stage by stage
    assert TrainConfig.from_record(shipped_json) == TrainConfig()


def test_the_shipped_record_names_options_that_left_the_code_switched_off(shipped_json):
    recorded = set(shipped_json["training"]["audio"]["config"])
    assert {"recipe", "extra_flite", "vtlp"} <= recorded  # the shipped file still carries them
    assert not {"recipe", "extra_flite", "vtlp"} & set(TrainConfig().audio.__dataclass_fields__)


@pytest.mark.parametrize(
    "path, value",
    [
        (("training", "audio", "config", "recipe"), "room"),
        (("training", "audio", "config", "ema"), 0.998),
        (("training", "audio", "config", "extra_festival"), 12),
        (("audio", "net", "cmvn"), True),
    ],
)
def test_a_removed_option_that_was_on_is_refused(shipped_json, path, value):
    record = copy.deepcopy(shipped_json)
    section = record
    for key in path[:-1]:
        section = section[key]
    section[path[-1]] = value
    with pytest.raises(CheckpointError, match=path[-1]):
        TrainConfig.from_record(record)


def test_a_removed_option_that_did_nothing_on_the_shipped_path_is_accepted_at_any_value(shipped_json):
    record = copy.deepcopy(shipped_json)
    record["training"]["audio"]["config"]["p_room"] = 0.9  # only the room recipe read it
    assert TrainConfig.from_record(record) == TrainConfig()


def test_an_unknown_setting_is_refused(shipped_json):
    record = copy.deepcopy(shipped_json)
    record["training"]["image"]["config"]["sharpen"] = 1.0
    with pytest.raises(CheckpointError, match="sharpen"):
        TrainConfig.from_record(record)


@pytest.mark.parametrize(
    "section, key, value, loads",
    [
        ("net", "cmvn", False, True),
        ("net", "cmvn", True, False),
        ("mel", "noise_floor", 0.0, True),
        ("mel", "noise_floor", 1.0, False),
        ("mel", "hop", 80, False),
    ],
)
def test_load_encoders_reads_removed_options_only_when_off(ckpt_copy, section, key, value, loads):
    cfg = json.loads((ckpt_copy / "encoders.json").read_text())
    cfg["audio"][section][key] = value
    (ckpt_copy / "encoders.json").write_text(json.dumps(cfg))
    if loads:
        assert load_encoders(ckpt_copy).audio is not None
    else:
        with pytest.raises(CheckpointError, match=key):
            load_encoders(ckpt_copy)


@pytest.mark.slow
def test_every_stage_runs_and_the_result_loads_and_records_its_recipe(small_benchmark, tmp_path):
    """A few steps of each stage through the command itself (seconds, not the 11 minutes of the real run)."""
    few = [
        "clip.epochs=0.01",
        "clip.batch_size=64",
        "clip.val_size=200",
        "clip.evals=1",
        "audio.epochs=1",
        "audio.batch_size=64",
        "audio.evals=1",
        "audio.extra_mbrola=0",
        "audio.extra_pico=0",
        "audio.extra_rhvoice=0",
        "image.steps=2",
        "image.batch_size=32",
        "image.val_size=200",
        "image.font_variants=1",
    ]
    out = tmp_path / "encoders"
    argv = ["--data", str(small_benchmark), "--out", str(out), "--threads", "1", "--set", *few]
    assert main(argv) == 0
    E._load_cached.cache_clear()
    enc = load_encoders(out)
    assert enc.encode_text(["a seven"]).shape == (1, 64)
    written = json.loads((out / "encoders.json").read_text())
    record = written["training"]
    assert record["clip"]["steps"] >= 1 and record["audio"]["steps"] >= 1
    assert 0.0 <= record["image"]["val_zero_shot"] <= 1.0 and record["image"]["fonts"]
    expected = TrainConfig(threads=1)
    for item in few:
        apply_override(expected, item)
    assert TrainConfig.from_record(written) == expected  # what ran is what the file says ran
