"""Every claim the app makes to a learner — each lesson step and each page's "try this" — holds on the shipped
model and the shipped evaluation results. A claim that fails here is a claim the app must not make."""

from __future__ import annotations

import functools

import pytest
import torch

from aecf import paths
from aecf.app import lessons as L
from aecf.app.checkpoints import load_model
from aecf.app.state import ExploreState
from tests.support.apptest import shown_text

SHIPPED = paths.fusion_dir() / "aecf.safetensors"
RESULTS = paths.results_json()
needs_shipped = pytest.mark.skipif(
    not (SHIPPED.exists() and RESULTS.exists()),
    reason="the shipped checkpoints and results/results.json are part of the repo",
)


@pytest.fixture(scope="module")
def ctx() -> L.LessonContext:
    torch.set_num_threads(1)
    return L.LessonContext(functools.lru_cache(maxsize=None)(load_model))


def test_lessons_are_lessons():
    assert len(L.LESSONS) >= 5
    assert len({les.slug for les in L.LESSONS}) == len(L.LESSONS)
    for les in L.LESSONS:
        assert len(les.steps) >= 3, les.slug
        assert les.takeaway and les.why
        for step in les.steps:
            assert step.page in ("explore", "subsets", "curriculum", "train")
            assert step.claim.text and step.look


def test_explore_steps_are_shareable_links():
    """An Explore step's view is a URL: decoding its query gives back the state the claim was measured on."""
    for les in L.LESSONS:
        for step in les.steps:
            if step.page != "explore":
                assert step.query() == {}
                continue
            back = ExploreState.from_query(step.query())
            assert back == L.state_for(step.view), (les.slug, step.title)


def test_unknown_lesson_slug_falls_back():
    assert L.lesson("no-such-lesson") is L.LESSONS[0]
    assert L.lesson("acm").slug == "acm"


def test_a_broken_measurement_is_a_failed_claim(ctx):
    def broken(_ctx):
        raise KeyError("mechanisms")

    found = L.check(L.Claim("x", broken), ctx)
    assert not found.holds and "could not be measured" in found.measured


@needs_shipped
@pytest.mark.parametrize("where", [w for w, _ in L.all_claims()])
def test_claim_holds_on_the_shipped_model(ctx, where):
    claim = dict(L.all_claims())[where]
    found = L.check(claim, ctx)
    assert found.holds, f"{where}: “{claim.text}” — measured: {found.measured}"


# ------------------------------------------------------------------------------------ the pages


def _page(name: str, query: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(paths.ROOT / "pages" / f"{name}.py"), default_timeout=300)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


@needs_shipped
@pytest.mark.parametrize("slug", [les.slug for les in L.LESSONS])
def test_lessons_page_shows_every_claim_measured_true(slug):
    at = _page("lessons", {"lesson": slug})
    assert not at.exception, [e.value for e in at.exception]
    lesson = L.lesson(slug)
    assert at.header[0].value.endswith(lesson.title)
    assert not at.error, [
        e.value for e in at.error
    ]  # a claim that fails on the loaded model shows as an error
    assert len(at.success) == len(lesson.steps)
    links = [m.value for m in at.markdown if "Open in" in m.value]
    assert len(links) == len(lesson.steps)
    for step, link in zip(lesson.steps, links, strict=True):
        assert f"]({step.page}" in link


@needs_shipped
def test_lessons_page_odd_parameter_opens_the_first_lesson():
    at = _page("lessons", {"lesson": "../../etc/passwd"})
    assert not at.exception
    assert at.header[0].value.endswith(L.LESSONS[0].title)


@needs_shipped
def test_curriculum_page_shows_the_test_split_distribution():
    at = _page("curriculum")
    assert not at.exception, [e.value for e in at.exception]
    shares = {
        m.label.split(":")[0]: float(m.value.rstrip("%")) / 100 for m in at.metric if "ratio ≥ 2×" in m.label
    }
    assert "aecf" in shares and shares["aecf"] >= 0.2
    assert any(TRY in str(i.value) for i in at.info for TRY in [L.TRY_THIS["curriculum"].text[:40]])


@needs_shipped
def test_an_explore_link_opens_the_view_its_claim_was_measured_on():
    """Opening a step's link shows the inputs the claim measured (the caption, the samples) and its answer."""
    seen = set()
    ctx = L.LessonContext(functools.lru_cache(maxsize=None)(load_model))
    for les in L.LESSONS:
        for step in les.steps:
            query = step.query()
            if step.page != "explore" or tuple(sorted(query.items())) in seen:
                continue
            seen.add(tuple(sorted(query.items())))
            at = _page("explore", query)
            assert not at.exception, [e.value for e in at.exception]
            measured = L.explore_inputs(L.state_for(step.view))
            assert at.text_area(key="cap").value == measured.caption, (les.slug, step.title)
            label = ctx.prediction(**step.view).label
            shown = shown_text(at)  # the Explore results are one HTML block (tests/support/apptest.py)
            assert f"Prediction: <b>{label} (" in shown, (les.slug, step.title)
