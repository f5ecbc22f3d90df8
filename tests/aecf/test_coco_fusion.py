"""COCO end to end on the fixture: features (tiny random open_clip) → train (multi-label) → evaluate → load/predict.

One features run and one pair of checkpoints per module; the multi-label metrics are checked on their own.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aecf import metrics as M
from aecf.errors import InputError
from tests.support.coco_fixture import COCO_CATEGORIES, coco_features

METHODS = ("aecf", "late_fusion")
DROP_RATES = ("0.0", "0.5", "0.9")


# ------------------------------------------------------------------------------- metrics alone


def test_average_precision_matches_scikit_learn_with_ties():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 30)
        if not y.any():
            continue
        s = rng.integers(0, 6, 30) / 5.0  # many ties
        assert M.average_precision(s, y) == pytest.approx(average_precision_score(y, s), abs=1e-12)
    assert np.isnan(M.average_precision([0.1, 0.2], [0, 0]))


def test_map_is_macro_over_classes_with_a_positive():
    probs = torch.tensor([[0.9, 0.2, 0.5], [0.1, 0.8, 0.4], [0.6, 0.3, 0.3]])
    labels = torch.tensor([[1, 0, 0], [0, 0, 0], [0, 1, 0]])  # class 2 has no positive: left out
    ap0 = M.average_precision(probs[:, 0], labels[:, 0])  # 1.0
    ap1 = M.average_precision(probs[:, 1], labels[:, 1])  # positive ranked 2nd: 0.5
    assert (ap0, ap1) == (1.0, 0.5)
    assert M.mean_average_precision(probs, labels) == pytest.approx(0.75)


def test_multilabel_accuracy_ece_nll_and_temperature():
    probs = torch.tensor([[0.9, 0.2], [0.6, 0.7]])
    labels = torch.tensor([[1, 0], [0, 1]])
    assert M.accuracy(probs, labels) == pytest.approx(0.75)  # 3 of 4 decisions right at 0.5
    # flattened: p = 0.9 (t 1), 0.2 (t 0), 0.6 (t 0), 0.7 (t 1), each in its own bin of 15
    expected = (abs(0.9 - 1) + abs(0.2 - 0) + abs(0.6 - 0) + abs(0.7 - 1)) / 4
    assert M.expected_calibration_error(probs, labels) == pytest.approx(expected)
    bins = M.reliability_bins(probs, labels)
    assert sum(bins["count"]) == 4
    logits = torch.tensor([[8.0, -8.0], [-8.0, 8.0]] * 8)
    y = torch.tensor([[1, 0], [0, 1]] * 8)
    y[:4, 0] = 1 - y[:4, 0]  # 4 of 32 decisions wrong at p ≈ 1: the BCE fit must soften (T > 1)
    t = M.fit_temperature(logits, y)
    assert t > 1.0
    assert M.nll(logits, y, t) < M.nll(logits, y)
    assert M.nll(logits, y) > 0
    # single-label behaviour is unchanged
    assert M.accuracy(torch.tensor([[0.2, 0.8]]), torch.tensor([1])) == 1.0


# ------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def coco_run(tmp_path_factory):
    from aecf.evaluate import main as evaluate_main
    from aecf.train import main as train_main

    base = tmp_path_factory.mktemp("coco_fusion")
    root, features = coco_features(base, n_train=30, n_val=10)
    checkpoints = features / "checkpoints"
    for method in METHODS:
        rc = train_main(
            ["--method", method, "--features", str(features), "--out", str(checkpoints / method)]
            + ["--epochs", "2", "--batch-size", "8", "--mc-samples", "2", "--no-run-dir", "--quiet"]
        )
        assert rc == 0
    json_path = base / "results" / "coco.json"
    rc = evaluate_main(
        ["--features", str(features), "--checkpoints", str(checkpoints), "--json", str(json_path)]
        + ["--mask-seeds", "2", "--mc-samples", "3", "--drop-rates", *DROP_RATES, "--no-png"]
    )
    assert rc == 0
    return SimpleNamespace(
        base=base,
        root=root,
        features=features,
        checkpoints=checkpoints,
        results=json.loads(json_path.read_text()),
    )


def test_training_picks_the_sigmoid_head_and_records_the_encoder(coco_run):
    from aecf.checkpoint import load_checkpoint, read_checkpoint_config

    names = [name for _, name, _ in sorted(COCO_CATEGORIES)]
    for method in METHODS:
        model = load_checkpoint(coco_run.checkpoints / method)
        assert model.config.head == "sigmoid"
        assert model.config.modalities == ("image", "caption")
        assert list(model.config.classes) == names and len(names) == 80
        doc = read_checkpoint_config(coco_run.checkpoints / method)
        enc = doc["extra"]["encoder"]
        assert enc["kind"] == "open_clip" and enc["pretrained"] == "none" and enc["seed"] == 7
        assert enc["classes"] == names and Path(enc["clip"]).is_file()
        assert 0.0 <= doc["extra"]["val_map"] <= 1.0
    assert (coco_run.checkpoints / "aecf.metrics.jsonl").is_file()


def test_evaluation_reports_map_acc_ece_per_subset_and_drop_rate(coco_run):
    methods = coco_run.results["methods"]
    assert set(methods) == set(METHODS)
    for entry in methods.values():
        for node in (entry["full"], *entry["subsets"].values(), *entry["drop"].values()):
            assert {"acc", "map", "ece", "ece_ts"} <= set(node)
            assert 0.0 <= node["map"] <= 1.0 and 0.0 <= node["acc"] <= 1.0 and 0.0 <= node["ece"] <= 1.0
        assert set(entry["subsets"]) == {"image", "caption", "image+caption"}
        assert set(entry["drop"]) == set(DROP_RATES)
        assert entry["temperature"] > 0
        assert 0.0 <= entry["monotonicity_violation_rate"] <= 1.0
        assert entry["worst_subset_map"] == min(v["map"] for v in entry["subsets"].values())
        assert sum(entry["reliability"]["full"]["count"]) == coco_run.results["meta"]["n_test"] * 80
    assert methods["aecf"]["gate_entropy"] is not None and methods["late_fusion"]["gate_entropy"] is None
    out = coco_run.base / "results"  # --out defaults to the JSON's folder for COCO features
    assert "mAP (%) under random modality drop" in (out / "results.md").read_text()
    assert (out / "map_vs_drop.html").is_file()


def test_load_and_predict_a_coco_checkpoint(coco_run):
    import aecf
    from aecf.inference import ClipModel

    model = aecf.load(coco_run.checkpoints / "aecf")
    assert isinstance(model, ClipModel) and model.task == "multilabel"
    assert model.modalities == ("image", "caption") and len(model.classes) == 80
    assert model.encoder_spec["clip"].endswith(".json")

    with np.load(coco_run.features / "train.index.npz", allow_pickle=False) as z:
        jpg = coco_run.root / str(z["file_name"][0])
    with np.load(coco_run.features / "train.npz", allow_pickle=False) as z:
        cached_image, class_embeddings = z["image"][0].astype(np.float32), z["class_embeddings"]
    # the rebuilt CLIP is the one that made the features
    np.testing.assert_allclose(model.embed_image(str(jpg))["embedding"].numpy(), cached_image, atol=3e-3)
    np.testing.assert_allclose(model.encoders.class_embeddings.numpy(), class_embeddings, atol=1e-4)

    r = model.predict(image=str(jpg), caption="a red square", mc_samples=4)
    assert r.probs.shape == (80,) and ((r.probs >= 0) & (r.probs <= 1)).all()
    assert r.label == int(np.argmax(r.probs)) and r.label_name == model.classes[r.label]
    assert set(r.gate) == {"image", "caption"} and sum(r.gate.values()) == pytest.approx(1.0, abs=1e-5)
    assert r.lam is not None and r.mc_probs.shape == (4, 80)
    assert set(r.experts) == {"image", "caption"} and r.experts["image"].shape == (80,)
    assert r.experts["caption"].sum() == pytest.approx(1.0, abs=1e-4)  # zero-shot softmax over classes
    assert set(r.subsets) == {"image", "caption", "image+caption"}
    top = r.top_labels(3)
    assert len(top) == 3 and top[0] == (r.label_name, pytest.approx(float(r.probs.max())))
    assert top[0][1] >= top[1][1] >= top[2][1]

    only_caption = model.predict(caption="a red square", mc_samples=2)
    assert only_caption.present == ("caption",) and only_caption.gate["image"] == 0.0
    with pytest.raises(InputError, match="audio"):
        model.predict(caption="a red square", audio=b"RIFF")
