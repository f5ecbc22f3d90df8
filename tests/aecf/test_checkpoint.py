"""The shipped fusion checkpoints load and predict exactly what they predicted before the layer took any
number of modalities of any width (logits of a handful of test rows, stored in fixtures/shipped_logits.json
by the code the checkpoints were trained with)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from aecf.checkpoint import load_checkpoint, read_checkpoint_config
from aecf.data.cache import load_split
from aecf.paths import FUSION_DIR
from aecf.specialists import SPECIALISTS_DIR, load_specialists
from aecf.train import REMOVED_KEYS, TrainConfig

REFERENCE = Path(__file__).parent / "fixtures" / "shipped_logits.json"


@pytest.fixture(scope="module")
def reference():
    return json.loads(REFERENCE.read_text())


def test_shipped_checkpoints_predict_the_stored_logits(reference):
    test = load_split("test")
    assert float(test.x.double().sum()) == pytest.approx(reference["x_sum"], rel=1e-12)
    x = test.x[reference["rows"]]
    patterns = torch.tensor(reference["patterns"], dtype=torch.bool)
    assert len(reference["logits"]) == 18  # 17 checkpoints + the specialists
    for name, expected in reference["logits"].items():
        model = (
            load_specialists(FUSION_DIR / SPECIALISTS_DIR)
            if name == "specialists"
            else load_checkpoint(FUSION_DIR / f"{name}.safetensors")
        )
        with torch.no_grad():
            for pattern, want in zip(patterns, expected, strict=True):
                got = model(x, pattern.expand(len(x), -1))["logits"]
                torch.testing.assert_close(got, torch.tensor(want), rtol=0, atol=1e-5, msg=name)


def test_shipped_train_configs_read_with_their_removed_keys():
    for path in sorted(FUSION_DIR.glob("*.json")):
        doc = read_checkpoint_config(path)
        train = doc["train"]
        for key, value in REMOVED_KEYS.items():
            assert train.get(key) == value, (path.name, key)  # every shipped run used the one value kept
        config = TrainConfig.from_dict(train)
        assert not hasattr(config, "cec_margin") and config.method == doc["model"]["method"]
    with pytest.raises(ValueError, match="unknown training config keys"):
        TrainConfig.from_dict({"method": "aecf", "cec_margn": 0.1})
