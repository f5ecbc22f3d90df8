"""The sidebar's dataset picker through AppTest (pages/parts/dataset.py): a dataset chosen on one page stays chosen
on the pages the navigation opens (an empty query), and a link that asks for no dataset is the digits."""

from __future__ import annotations

import pytest

from aecf.app import datasets as D
from aecf.paths import ROOT

APP = str(ROOT / "app.py")
MFEAT = "example:mfeat"


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The app through its navigation, on an empty runs folder, opened on Subsets with the mfeat example."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(tmp_path / "runs"))
    st.cache_data.clear()
    at = AppTest.from_file(APP, default_timeout=120).run()
    at.query_params["data"] = MFEAT
    return at.switch_page("pages/subsets.py").run()


def go(at, page: str, query: dict | None = None):
    """Another page, as the sidebar's navigation (an empty query) or a link (`query`) opens it."""
    for key in list(at.query_params):
        del at.query_params[key]
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at.switch_page(f"pages/{page}.py").run()


def chosen(at) -> str:
    assert not at.exception, [e.value for e in at.exception]
    return at.selectbox(key="dataset_choice").value


def test_the_navigation_keeps_the_dataset_chosen(app):
    assert chosen(app) == MFEAT
    for page in ("curriculum", "train", "explore"):
        at = go(app, page)
        assert chosen(at) == MFEAT, page
        assert at.query_params["data"] == MFEAT, page  # the address says it again: a link to share
    go(app, "home")  # a page without the picker keeps the choice too
    assert chosen(go(app, "subsets")) == MFEAT


def test_a_link_without_data_is_the_digits(app):
    at = go(app, "subsets", {"tab": "monotonicity"})
    assert chosen(at) == D.DIGITS and "data" not in at.query_params


def test_the_digits_chosen_in_the_picker_stay_chosen(app):
    app.selectbox(key="dataset_choice").set_value(D.DIGITS).run()
    assert chosen(app) == D.DIGITS and "data" not in app.query_params
    assert chosen(go(app, "curriculum")) == D.DIGITS
