"""`python -m aecf encoders report`: how the held-out sets are scored (the report's numbers themselves are checked
against the shipped report.json in test_encoders.py)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from aecf.data.heldout.build import build_heldout
from aecf.data.heldout.sets import items
from aecf.encoders.report import heldout_accuracy
from aecf.errors import InputError


@pytest.fixture(scope="module")
def canvas(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    build_heldout(root, {"canvas": 12}, seed=3, sets=("canvas",))
    return root


class _FakeModel:
    """predict() answers digit 3 for everything and refuses one file."""

    def __init__(self, refuse):
        self.refuse = refuse

    def predict(self, image=None, audio=None, mc_samples=20):
        path = image if image is not None else audio
        if path.name == self.refuse:
            raise InputError("no")
        m = "image" if image is not None else "audio"
        return SimpleNamespace(experts={m: np.eye(10)[3]})


def test_heldout_accuracy_scores_the_test_half_and_counts_refusals_as_wrong(canvas):
    test = items(canvas, "canvas", "test")
    threes = [p for p, y, _ in test if y == 3]
    refuse = threes[0].name if threes else "none"
    details = {}
    acc = heldout_accuracy(_FakeModel(refuse), canvas, "test", sets=("canvas",), details=details)
    expected = (sum(y == 3 for _, y, _ in test) - (1 if threes else 0)) / len(test)
    assert acc["canvas"] == pytest.approx(expected)
    assert details["canvas"]["n"] == len(test) and details["canvas"]["refused"] == (1 if threes else 0)
