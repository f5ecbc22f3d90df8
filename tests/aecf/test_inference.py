"""One example through a checkpoint whose modalities have different widths (no encoders: embeddings given)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aecf import AECF
from aecf.errors import CheckpointError
from aecf.inference import Model


def test_predict_embeddings_takes_each_modality_at_its_own_width():
    torch.manual_seed(0)
    layer = AECF(dims={"img": 6, "txt": 3, "tab": 10}, num_classes=4)
    model = Model(layer.fusion, encoders=None, name="mixed")
    rng = np.random.default_rng(0)
    pred = model.predict_embeddings(
        {"img": rng.normal(size=6), "tab": rng.normal(size=10)}, mc_samples=4, seed=1
    )
    assert pred.probs.shape == (4,) and pred.gate["txt"] == 0.0 and pred.present == ("img", "tab")
    assert set(pred.subsets) == {"img", "tab", "img+tab"} and pred.experts == {}
    with pytest.raises(
        CheckpointError, match="txt embedding has 6 dimensions but checkpoint mixed expects 3"
    ):
        model.predict_embeddings({"txt": rng.normal(size=6)}, mc_samples=4)
