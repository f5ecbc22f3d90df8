"""The app on a COCO checkpoint: discovered under AECF_APP_EXTRA_CHECKPOINTS, explored with image + caption.

Module-scoped fixture (as in tests/aecf/test_coco_fusion.py): the COCO look-alike → tiny open_clip features →
a 1-epoch AECF checkpoint, all in a tmp dir.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest

from aecf.paths import ROOT
from tests.support.apptest import has_metric, metric, shown_text
from tests.support.coco_fixture import coco_features

PAGES = ROOT / "pages"


@pytest.fixture(scope="module")
def coco_ckpt(tmp_path_factory):
    from aecf.train import main as train_main

    base = tmp_path_factory.mktemp("app_coco")
    root, features = coco_features(base, n_train=12, n_val=6)
    checkpoints = base / "coco_ckpts"
    rc = train_main(
        [
            "--method",
            "aecf",
            "--features",
            str(features),
            "--out",
            str(checkpoints / "aecf"),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--mc-samples",
            "2",
            "--no-run-dir",
            "--quiet",
        ]
    )
    assert rc == 0
    with np.load(features / "train.index.npz", allow_pickle=False) as z:
        jpg = root / str(z["file_name"][0])
    return SimpleNamespace(base=base, checkpoints=checkpoints, image=jpg, features=features)


@pytest.fixture
def coco_env(app_env, coco_ckpt, monkeypatch):
    monkeypatch.setenv("AECF_APP_EXTRA_CHECKPOINTS", str(coco_ckpt.checkpoints))
    monkeypatch.setenv("AECF_APP_COCO_IMAGES", str(coco_ckpt.image.parent))
    return coco_ckpt


def _explore(query: dict):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / "explore.py"), default_timeout=90)
    for k, v in query.items():
        at.query_params[k] = v
    return at.run()


def _no_exception(at):
    assert not at.exception, [e.value for e in at.exception]


def test_coco_checkpoint_is_listed_with_its_task(coco_env):
    from aecf.app import checkpoints as app_model

    coco = [c for c in app_model.checkpoint_choices(include_runs=False) if c.kind == "extra"]
    assert [c.method for c in coco] == ["aecf"]
    assert coco[0].task == "multilabel" and "multilabel" in coco[0].label
    assert app_model.resolve(coco[0].key) == coco[0].path


def test_explore_a_coco_checkpoint_with_image_and_caption(coco_env):
    from aecf.app import checkpoints as app_model
    from aecf.app.state import URL_KEYS as K

    key = next(c.key for c in app_model.checkpoint_choices(include_runs=False) if c.kind == "extra")
    at = _explore({K["checkpoint"]: key})
    _no_exception(at)
    assert not [s for s in at.slider if "corruption" in s.label.lower() or "snr" in s.label.lower()]
    assert not [t for t in at.toggle if "Audio" in t.label]
    assert not at.text_input, "no free path box: a visitor never types a server path"
    at.selectbox(key="coco_image_pick").set_value(coco_env.image)
    at.text_area(key=K["caption"]).set_value("a red square on a table")
    at.run()
    _no_exception(at)
    assert "Top labels" in shown_text(at)
    assert has_metric(at, "Gate entropy H(p)")
    assert not any("log-mel" in str(c.value) for c in at.caption)
    assert metric(at, "Modalities used") == "image + caption"

    at.toggle(key=K["caption_on"]).set_value(False)
    at.run()
    _no_exception(at)
    assert metric(at, "Modalities used") == "image"
    assert "Top labels" in shown_text(at)


def test_subsets_page_shows_map_for_a_coco_results_file(coco_env, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from aecf.evaluate import main as evaluate_main

    out = tmp_path / "coco.json"
    rc = evaluate_main(
        [
            "--features",
            str(coco_env.features),
            "--checkpoints",
            str(coco_env.checkpoints),
            "--json",
            str(out),
            "--mask-seeds",
            "1",
            "--mc-samples",
            "2",
            "--drop-rates",
            "0.0",
            "0.5",
            "--no-png",
        ]
    )
    assert rc == 0 and "map" in json.loads(out.read_text())["methods"]["aecf"]["full"]
    monkeypatch.setenv("AECF_APP_RESULTS_JSON", str(out))
    at = AppTest.from_file(str(PAGES / "subsets.py"), default_timeout=90).run()
    _no_exception(at)
    assert any("mAP" in str(c) for c in at.table[0].value.columns)
