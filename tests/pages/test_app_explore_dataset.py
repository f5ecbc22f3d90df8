"""The Explore page on a dataset of one's own (`?data=`), through AppTest: mfeat (6 modalities) with a short run on
it, and an uploaded 6-modality dataset with modalities missing in the data. Switch a modality, change the
example (by number and at random), odd link values, no run yet."""

from __future__ import annotations

import shutil

import pytest

from aecf.paths import ROOT
from tests.support.apptest import html_blocks, metric, sent_ahead

MFEAT = "example:mfeat"


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """A runs folder with an upload ('six': 6 modalities, ~30 % missing in the data) and a short AECF run on it
    and on mfeat, built once; each test gets its own copy."""
    import torch

    from aecf.app import datasets as D
    from tests.support.dataset_runs import train_run, upload_generated

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("explore-dataset")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(root / "runs"))
        six = upload_generated(root, "six", {f"m{i}": 4 + 3 * i for i in range(6)}, missing=0.3)
        bare = upload_generated(root, "bare", {"x": 3, "y": 5})  # a dataset no run has trained on
        train_run(D.resolve(MFEAT), "aecf", epochs=2, run_id="aecf-mfeat")
        train_run(six, "aecf", epochs=3, run_id="aecf-six")
    return {"runs": root / "runs", "six": six.key, "bare": bare.key}


@pytest.fixture
def dataset_env(trained_runs, tmp_path, monkeypatch):
    import streamlit as st

    runs = tmp_path / "runs"
    shutil.copytree(trained_runs["runs"], runs)
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(runs))
    st.cache_data.clear()
    st.cache_resource.clear()
    return {**trained_runs, "runs": runs}


def _page(query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / "explore.py"), default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def _ok(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _link(at) -> dict:
    return {k: v for k, v in at.query_params.items()}


def _switches(at) -> dict:
    return {t.label: (t.value, t.proto.disabled) for t in at.toggle}


def test_mfeat_example_switch_a_modality_and_change_the_example(dataset_env):
    at = _page({"data": MFEAT, "i": "17"})
    _ok(at)
    assert at.title[0].value == "Explore one example of mfeat"
    assert _switches(at) == {m: (True, False) for m in ("fou", "fac", "kar", "pix", "zer", "mor")}
    assert metric(at, "Modalities used") == "6 of 6" and metric(at, "Test example") == "#17 of 300"
    assert metric(at, "Gate entropy H(p)") != "–" and metric(at, "λ(x)") != "–"
    assert _link(at) == {"data": MFEAT, "run": "aecf-mfeat", "i": "17"}
    html = html_blocks(at)[0]
    assert 'data-testid="subsets-svg"' in html and 'data-sizes="6"' in html and 'data-subsets="63"' in html
    assert 'data-testid="monotonicity"' in html and "of the 720 orders" in html
    ahead = sent_ahead(at)
    assert len(ahead["views"]) == 7 and [c[0] for c in ahead["controls"]] == [f"dx_on_{j}" for j in range(6)]

    at.toggle(key="dx_on_5").set_value(False).run()  # mor off
    _ok(at)
    assert metric(at, "Modalities used") == "5 of 6" and _link(at)["off"] == "mor"
    html = html_blocks(at)[0]
    assert "mor: off, p = 0" in html and 'data-subsets="31"' in html and "of the 120 orders" in html
    assert html == ahead["views"]["1|1|1|1|1|0"]  # the view sent ahead is the view the server draws

    at.number_input(key="i").set_value(42).run()
    _ok(at)
    assert metric(at, "Test example") == "#42 of 300" and _link(at)["i"] == "42" and _link(at)["off"] == "mor"
    assert at.toggle(key="dx_on_5").value is False  # the switch stays off on the new example

    from aecf.app.explore_dataset import random_index

    at.button[0].click().run()
    _ok(at)
    assert _link(at)["i"] == str(random_index(300, 42))
    assert at.get("download_button"), "the snippet's download button"


def test_odd_link_values_fall_back_quietly(dataset_env):
    at = _page({"data": MFEAT, "run": "../nope", "i": "ten", "off": "zzz,,mor", "k": "7"})
    _ok(at)
    assert not at.error and not at.warning
    assert metric(at, "Test example") == "#0 of 300" and metric(at, "Modalities used") == "5 of 6"
    assert at.selectbox(key="run").value == "aecf-mfeat" and at.select_slider(key="k").value == 20
    assert _link(at) == {"data": MFEAT, "run": "aecf-mfeat", "off": "mor"}
    at = _page({"data": MFEAT, "i": "300"})  # one past the last example
    _ok(at)
    assert metric(at, "Test example") == "#0 of 300"


def test_an_unknown_dataset_falls_back_to_the_digits_with_a_note(dataset_env):
    at = _page({"data": "upload:0000000000000000", "i": "3"})
    _ok(at)
    assert any("No dataset" in str(w.value) for w in at.sidebar.warning)
    assert at.title[0].value == "Explore one example"  # the digits view


def test_a_dataset_without_a_run_says_so_and_links_to_train(dataset_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)  # a link to Train needs the navigation
    at.query_params["data"] = dataset_env["bare"]
    at.switch_page("pages/explore.py").run()
    _ok(at)
    assert any("No run has been trained on bare yet" in str(i.value) for i in at.info)
    links = [p for p in at.get("page_link")]
    assert links and "train" in links[0].proto.page and "Train on bare" in links[0].proto.label


def test_a_modality_missing_in_the_data_cannot_be_switched_on(dataset_env):
    from aecf.app import datasets as D

    test = D.open_dataset(D.resolve(dataset_env["six"])).split("test")
    gappy = next(i for i in range(len(test)) if not bool(test.present[i].all()))
    full = next(i for i in range(len(test)) if bool(test.present[i].all()))
    gone = [j for j in range(6) if not bool(test.present[gappy, j])]
    at = _page({"data": dataset_env["six"], "i": str(gappy)})
    _ok(at)
    for j in range(6):
        value, disabled = at.toggle(key=f"dx_on_{j}").value, at.toggle(key=f"dx_on_{j}").proto.disabled
        assert (value, disabled) == ((False, True) if j in gone else (True, False))
    html = html_blocks(at)[0]
    assert all(f"m{j}: missing, p = 0" in html for j in gone)
    assert metric(at, "Modalities used") == f"{6 - len(gone)} of 6" and "off" not in _link(at)
    assert [c[0] for c in sent_ahead(at)["controls"]] == [f"dx_on_{j}" for j in range(6) if j not in gone]
    at.number_input(key="i").set_value(full).run()  # an example that has them all: they are on again
    _ok(at)
    assert (
        all(at.toggle(key=f"dx_on_{j}").value for j in range(6)) and metric(at, "Modalities used") == "6 of 6"
    )
