"""Subsets & calibration and Curriculum masking with `?data=<key>`, through AppTest: runs trained on the
6-modality mfeat example (and a generated 3-modality upload with severity), none at all, and odd URL values.

Pages run through app.py (its navigation), so that a link to the Train page resolves as in the browser.
"""

from __future__ import annotations

import shutil

import pytest

from aecf import paths
from aecf.app import datasets as D
from aecf.paths import ROOT
from tests.support.dataset_runs import generated_upload, train_runs

APP = str(ROOT / "app.py")
MFEAT = "example:mfeat"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """aecf and late_fusion on mfeat, evaluated; a moddrop run that is not evaluated yet."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(root))
        mfeat = D.resolve(MFEAT)
        made = train_runs(mfeat, root, ("aecf", "late_fusion"), epochs=2)
        made += train_runs(mfeat, root, ("moddrop",), epochs=2, evaluate=False)
    return {"root": root, "runs": made}


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A fresh runs folder for one test (Streamlit's caches cleared: they are per server, and so per test)."""
    import streamlit as st

    root = tmp_path / "runs"
    root.mkdir()
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(root))
    st.cache_data.clear()
    st.cache_resource.clear()
    return root


@pytest.fixture
def with_runs(trained, runs_dir):
    for run in trained["runs"]:
        shutil.copytree(run, runs_dir / run.name)
    return [runs_dir / r.name for r in trained["runs"]]


def page(name: str, query: dict | None = None, alone: bool = False):
    """The page through app.py's navigation; `alone`: the page file by itself (AppTest does not pass a button's
    click to a page opened by switch_page; a page alone cannot link to another)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py") if alone else APP, default_timeout=120)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run() if alone else at.run().switch_page(f"pages/{name}.py").run()


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def charts(at) -> list[str]:
    return [c.proto.spec for c in at.get("plotly_chart")]


def links(at) -> dict[str, tuple[str, str]]:
    return {pl.proto.label: (pl.proto.page, pl.proto.query_string) for pl in at.get("page_link")}


# ============================================================================================ Subsets


def test_subsets_compares_the_runs_on_a_six_modality_dataset(with_runs):
    at = page("subsets", {"data": MFEAT})
    no_exception(at)
    assert at.selectbox(key="dataset_choice").value == MFEAT
    runs = at.multiselect(key="runs")
    assert [v.split(" (")[0] for v in runs.value] == [
        "late_fusion",
        "aecf",
    ]  # the evaluated ones, newest first
    summary = at.table[1].value  # (the runs list is table 0)
    assert list(summary["method"]) == runs.value
    assert not summary.astype(str).isin(["None", "nan", "NaN", "<NA>"]).any().any()
    assert "ρ(λ, severity)" not in summary.columns  # mfeat records no severity
    titles = " ".join(charts(at))
    for title in (
        "Accuracy vs drop rate",
        "ECE vs drop rate",
        "Accuracy by subset size",
        "each modality alone",
    ):
        assert title in titles
    assert "Mean gate weight per modality" in titles and "follow reliability" not in titles
    assert any("records no `severity`" in c for c in texts(at, "caption"))
    sizes = next(t.value for t in at.table if "worst subset" in t.value.columns and "size" in t.value.columns)
    assert sorted(set(sizes["size"].astype(int))) == [1, 2, 3, 4, 5, 6]
    assert {b.proto.label for b in at.get("download_button")} == {
        "Evaluation (JSON)",
        "Figures (zip: HTML + PNG)",
    }
    runs.set_value([runs.value[1]]).run()
    no_exception(at)
    assert list(at.table[1].value["method"]) == [runs.value[0]]
    at.multiselect(key="runs").set_value([]).run()
    assert any("Pick at least one run" in s for s in texts(at, "info"))


def test_subsets_evaluates_a_run_that_has_no_evaluation_and_says_how_long_it_took(with_runs):
    at = page("subsets", {"data": MFEAT}, alone=True)
    button = at.button(key="evaluate_runs")
    assert "Evaluate 1 run" in button.label
    assert any("Not evaluated yet: moddrop" in c for c in texts(at, "caption"))
    button.click().run()
    no_exception(at)
    done = texts(at, "success")
    assert len(done) == 1 and done[0].startswith("Evaluated moddrop (s0, ") and done[0].endswith(" s.")
    assert (with_runs[-1] / "evaluation.json").is_file()
    runs = at.multiselect(key="runs")
    own = [o for o in runs.options if not o.startswith("shipped: ")]  # (the example's shipped runs follow)
    assert len(own) == 3 and runs.value[-1].startswith("moddrop")  # the new evaluation, shown at once
    at.run()
    assert not [b for b in at.button if b.key == "evaluate_runs"]  # and nothing is left to evaluate


@pytest.fixture
def nothing_shipped(tmp_path, monkeypatch):
    """The example as if it shipped no runs (tests/pages/test_app_dataset_shipped.py covers those it ships)."""
    monkeypatch.setattr(paths, "EXAMPLE_CHECKPOINT_DIR", tmp_path / "no-checkpoints")
    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path / "no-results")


def test_subsets_without_runs_says_so_and_links_to_train(runs_dir, nothing_shipped):
    at = page("subsets", {"data": MFEAT})
    no_exception(at)
    assert any("No run has trained on **mfeat** yet" in s for s in texts(at, "info"))
    assert any("Train `aecf` and `late_fusion` on this dataset" in s for s in texts(at, "info"))
    assert links(at)["Train on this dataset"] == ("train", "data=example%3Amfeat")
    assert not at.get("plotly_chart") and not at.get("download_button")


def test_subsets_with_few_modalities_and_a_severity_shows_every_subset_and_the_gate_against_it(
    runs_dir, tmp_path
):
    choice = generated_upload(tmp_path, {"image": 8, "text": 5, "sound": 6})
    train_runs(choice, runs_dir, ("aecf",), epochs=2)
    at = page("subsets", {"data": choice.key})
    no_exception(at)
    summary = at.table[1].value
    assert "ρ(λ, severity)" in summary.columns and summary["ρ(λ, severity)"].iloc[0] != "–"
    titles = " ".join(charts(at))
    assert "Accuracy per modality subset" in titles and "by subset size" not in titles
    assert "follow reliability" in titles
    subsets = next(t.value for t in at.table if "subset" in t.value.columns and "ECE (TS)" in t.value.columns)
    assert len(subsets) == 7  # every subset of three modalities


def test_the_digits_view_is_there_without_data_and_gains_only_the_downloads(runs_dir):
    at = page("subsets")
    no_exception(at)
    assert at.selectbox(key="dataset_choice").value == D.DIGITS
    assert at.selectbox(key="results_file") is not None and at.multiselect(key="methods").value
    assert {b.proto.label for b in at.get("download_button")} == {
        "Evaluation (JSON)",
        "Figures (zip: HTML + PNG)",
    }
    assert "data" not in at.query_params


@pytest.mark.parametrize(
    "query",
    [
        {"data": "upload:../../etc"},
        {"data": "example:nope"},
        {"data": "digits\x00"},
        {"data": MFEAT, "tab": "no such tab"},
        {"data": MFEAT, "tab": "monotonicity", "runs": "../../x"},
    ],
)
def test_subsets_odd_urls_fall_back_quietly(with_runs, query):
    at = page("subsets", query)
    no_exception(at)
    if query["data"] == MFEAT:
        assert at.multiselect(key="runs").value  # the dataset view, its default runs
    else:
        assert any("showing the digits" in s for s in texts(at.sidebar, "warning"))
        assert at.selectbox(key="dataset_choice").value == D.DIGITS


# ============================================================================================ Curriculum


def test_curriculum_shows_an_aecf_runs_schedule_and_one_slider_per_modality(with_runs):
    at = page("curriculum", {"data": MFEAT})
    no_exception(at)
    run = at.selectbox(key="dataset_run")
    assert run.value.startswith("aecf (s0, ")  # an aecf run first: only ACM adapts to the gate
    assert at.query_params["run"] == with_runs[0].name
    titles = " ".join(charts(at))
    for title in (
        "Per-modality mask rate",
        "Mean gate entropy H(p)",
        "curriculum vs flat",
        "ratio across the test",
    ):
        assert title in titles
    mask_chart = next(c for c in charts(at) if "Per-modality mask rate" in c)
    assert all(f'"name":"{m}"' in mask_chart for m in ("fou", "fac", "kar", "pix", "zer", "mor"))
    sliders = [s.key for s in at.slider if s.key.startswith("simd_w_")]
    assert sliders == [f"simd_w_{i}" for i in range(6)]
    at.slider(key="simd_w_3").set_value(1.0).run()  # most of the gate on pix: ACM hides it most
    q = next(c for c in charts(at) if "ACM: drop probability" in c)
    assert '"pix"' in q
    assert any("63 patterns" in c for c in texts(at, "caption"))


def test_curriculum_simulator_modes_and_fewer_modalities(with_runs):
    at = page("curriculum", {"data": MFEAT})
    at.button_group(key="simd_present").set_value(["fou", "kar"]).run()
    no_exception(at)
    assert [s.key for s in at.slider if s.key.startswith("simd_w_")] == ["simd_w_0", "simd_w_2"]
    kept = next(c for c in charts(at) if "ACM: what a mask keeps" in c)
    assert "fou+kar" in kept  # two modalities: every pattern shown
    at.segmented_control(key="sim_mode").set_value("entropy").run()
    at.slider(key="simd_h").set_value(0.2).run()
    no_exception(at)
    at.button_group(key="simd_present").set_value([]).run()
    assert any("nothing to mask" in s for s in texts(at, "error"))


def test_curriculum_a_run_named_in_the_url_and_a_run_that_did_not_mask(with_runs):
    late = with_runs[1]
    at = page("curriculum", {"data": MFEAT, "run": late.name})
    no_exception(at)
    assert at.selectbox(key="dataset_run").value.startswith("late_fusion (s0, ")
    assert any("did not mask anything" in s for s in texts(at, "info"))
    assert any("has no gate or did not mask" in s for s in texts(at, "info"))
    at = page("curriculum", {"data": MFEAT, "run": "../../etc"})  # a run this dataset does not have: ignored
    no_exception(at)
    assert at.selectbox(key="dataset_run").value.startswith("aecf (s0, ")


def test_curriculum_without_runs_says_so_and_still_simulates(runs_dir, nothing_shipped):
    at = page("curriculum", {"data": MFEAT, "tab": "Simulator"})
    no_exception(at)
    assert any("No run has trained on **mfeat** yet" in s for s in texts(at, "info"))
    assert links(at)["Train on this dataset"] == ("train", "data=example%3Amfeat")
    assert any("ACM: drop probability" in c for c in charts(at))
    assert len([s for s in at.slider if s.key.startswith("simd_w_")]) == 6


def test_the_digits_curriculum_is_there_without_data(runs_dir):
    at = page("curriculum", {"data": "example:nope"})
    no_exception(at)
    assert at.toggle(key="sim_image") is not None and not [s for s in at.slider if s.key.startswith("simd_")]
