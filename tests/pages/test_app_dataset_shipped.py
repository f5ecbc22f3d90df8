"""The example dataset on a fresh clone, through AppTest: with an empty runs folder, Explore, Subsets & calibration,
Curriculum and Train's Compare on mfeat show the runs that ship with it (`checkpoints/datasets/mfeat/`,
`results/mfeat/results.json`) and no "no run yet" message; with a run of one's own, both are there, one's own
first.

Pages run through app.py (its navigation), as in the browser.
"""

from __future__ import annotations

import json
import shutil

import pytest

from aecf import paths
from aecf.app import datasets as D
from aecf.app import explore_dataset as X
from aecf.app import training
from aecf.paths import ROOT
from tests.support.apptest import html_blocks, metric
from tests.support.dataset_runs import train_runs

APP = str(ROOT / "app.py")
MFEAT = "example:mfeat"
MODALITIES = ["fou", "fac", "kar", "pix", "zer", "mor"]
SHIPPED = ["shipped: aecf", "shipped: late_fusion", "shipped: moddrop"]  # the checkpoints that ship
NO_RUN = ("No run has", "No runs on", "No run on")  # how the views say that nothing has trained on it


@pytest.fixture(scope="module")
def own_run(tmp_path_factory):
    """One short aecf run of one's own on mfeat, evaluated."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(root))
        return train_runs(D.resolve(MFEAT), root, ("aecf",), epochs=2)[0]


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """An empty runs folder, as on a fresh clone (Streamlit's caches and the run manager are per server, and so
    per test)."""
    import streamlit as st

    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(root))
    monkeypatch.setattr(training, "_MANAGER", None)
    st.cache_data.clear()
    st.cache_resource.clear()
    return root


@pytest.fixture
def with_run(own_run, runs_dir):
    shutil.copytree(own_run, runs_dir / own_run.name)
    return runs_dir / own_run.name


def page(name: str, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["data"] = MFEAT
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at = at.run().switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="dataset_choice").value == MFEAT
    return at


def says_no_run(at) -> bool:
    return any(str(m.value).startswith(NO_RUN) for m in [*at.info, *at.warning])


def chart(at, title: str) -> dict:
    return next(s for c in at.get("plotly_chart") if title in (s := c.proto.spec))


def traces(spec: str) -> list[str]:
    return [t.get("name") for t in json.loads(spec)["data"]]


def shipped_evaluation() -> dict:
    return json.loads(paths.example_results("mfeat").read_text())


# ============================================================================================ Explore


def test_explore_opens_the_shipped_aecf_and_its_snippet_loads_it(runs_dir, monkeypatch):
    asked = []
    snippet = X.snippet
    monkeypatch.setattr(X, "snippet", lambda weights, *a: asked.append(weights) or snippet(weights, *a))
    at = page("explore")
    assert not says_no_run(at)
    run = at.selectbox(key="run")
    assert (
        run.options == SHIPPED and run.value == "shipped: aecf" and at.query_params["run"] == "shipped: aecf"
    )
    assert metric(at, "Modalities used") == "6 of 6" and metric(at, "Gate entropy H(p)") != "–"
    assert 'data-testid="explore-headline"' in html_blocks(at)[0]  # a prediction
    assert [b.proto.label for b in at.get("download_button")] == ["Download a Python snippet of this view"]
    assert asked[-1] == paths.example_checkpoints("mfeat") / "aecf.safetensors"
    run.set_value("shipped: late_fusion").run()
    assert not at.exception and at.query_params["run"] == "shipped: late_fusion"
    assert metric(at, "Gate entropy H(p)") == "–"  # late fusion has no gate
    assert asked[-1] == paths.example_checkpoints("mfeat") / "late_fusion.safetensors"


def test_explore_lists_ones_own_run_first_then_the_shipped_ones(with_run):
    at = page("explore")
    run = at.selectbox(key="run")
    assert run.options == [f"{with_run.name} (aecf)", *SHIPPED] and run.value == with_run.name
    assert at.query_params["run"] == with_run.name and metric(at, "Modalities used") == "6 of 6"


# ============================================================================================ Subsets


def test_subsets_shows_the_shipped_evaluation_with_the_specialists_as_the_limit(runs_dir):
    doc = shipped_evaluation()
    names = [f"shipped: {m}" for m in doc["methods"]]
    assert names == [*SHIPPED, "shipped: specialists"]
    at = page("subsets")
    assert not says_no_run(at)
    assert any("Compare `shipped: aecf` with `shipped: late_fusion`" in str(i.value) for i in at.info)
    assert at.multiselect(key="runs").value == names  # chosen while there is no run of one's own
    drop = chart(at, "Accuracy vs drop rate")
    assert traces(drop) == names
    summary = at.table[1].value  # (the runs list is table 0)
    assert list(summary["method"]) == [*SHIPPED, "shipped: specialists (reference)"]
    assert list(summary["seeds"])[:3] == [str(doc["methods"]["aecf"]["n_seeds"])] * 3
    words = " ".join(str(c.value) for c in at.caption)
    assert f"each the mean of {doc['methods']['aecf']['n_seeds']} training seeds" in words
    assert "`specialists`: one model per modality subset" in words
    links = {pl.proto.label: pl.proto.query_string for pl in at.get("page_link")}
    assert links["Train your own runs on this dataset: they join the comparison"] == "data=example%3Amfeat"
    assert not [b for b in at.button if b.key == "evaluate_runs"]  # nothing of its own to evaluate


def test_subsets_with_a_run_of_ones_own_offers_both(with_run):
    at = page("subsets")
    runs = at.multiselect(key="runs")
    own = [o for o in runs.options if not o.startswith("shipped: ")]
    assert len(own) == 1 and own[0].startswith("aecf (s0, ")
    assert runs.options == [*own, *SHIPPED, "shipped: specialists"]
    assert runs.value == own  # one's own runs are compared until one picks
    runs.set_value([*own, "shipped: aecf", "shipped: specialists"]).run()
    assert not at.exception
    assert traces(chart(at, "Accuracy vs drop rate")) == [*own, "shipped: aecf", "shipped: specialists"]


# ============================================================================================ Curriculum


def test_curriculum_shows_the_shipped_aecfs_schedule(runs_dir):
    at = page("curriculum")
    assert not says_no_run(at)
    run = at.selectbox(key="dataset_run")
    assert run.options == SHIPPED and run.value == "shipped: aecf"  # the specialists have no schedule
    assert at.query_params["run"] == "shipped: aecf"
    assert traces(chart(at, "Per-modality mask rate")) == [*MODALITIES, "overall", "π(t), curriculum"]
    for title in ("Mean gate entropy H(p)", "curriculum vs flat", "ratio across the test split"):
        assert chart(at, title)
    seed = D.shipped_runs(D.resolve(MFEAT)).runs[0].seed
    assert any(f"ships with this dataset (seed {seed})" in str(c.value) for c in at.caption)
    run.set_value("shipped: late_fusion").run()
    assert not at.exception
    assert any("did not mask anything" in str(i.value) for i in at.info)


def test_curriculum_with_a_run_of_ones_own_lists_both(with_run):
    at = page("curriculum")
    run = at.selectbox(key="dataset_run")
    assert run.options[0].startswith("aecf (s0, ") and run.options[1:] == SHIPPED
    assert run.value == run.options[0] and at.query_params["run"] == with_run.name


# ============================================================================================ Train


def test_train_compares_the_shipped_runs_as_the_yardstick(runs_dir):
    at = page("train")
    compare = at.multiselect(key="compare_runs")
    assert compare.options == SHIPPED and compare.value == ["shipped: aecf", "shipped: late_fusion"]
    assert "Compare the shipped runs" in [s.value for s in at.subheader]
    assert traces(chart(at, "per epoch")) == ["shipped: aecf", "shipped: late_fusion"]


def test_train_compares_ones_own_run_with_the_shipped_aecf(with_run):
    at = page("train")
    compare = at.multiselect(key="compare_runs")
    assert compare.options == [with_run.name, *SHIPPED]
    assert compare.value == [with_run.name, "shipped: aecf"]
