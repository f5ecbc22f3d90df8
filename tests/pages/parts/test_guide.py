"""The guided mode through AppTest: the bar a lesson's step draws on the page it opens (pages/parts/guide.py), its
Back/Next links, the tab a step opens, the ruined image under Explore's slider, and odd URLs that draw nothing."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from aecf import paths
from aecf.app import lessons as L
from tests.support.apptest import html_blocks

APP = str(paths.ROOT / "app.py")
needs_shipped = pytest.mark.skipif(
    not ((paths.fusion_dir() / "aecf.safetensors").exists() and paths.results_json().exists()),
    reason="the shipped checkpoints and results/results.json are part of the repo",
)


def open_link(link: L.Link | tuple[str, dict]):
    """Run a page through app.py's navigation with the link's query, as a click on the link does."""
    from streamlit.testing.v1 import AppTest

    page, query = (link.page, link.query) if isinstance(link, L.Link) else link
    at = AppTest.from_file(APP, default_timeout=300).run()
    for k, v in query.items():
        at.query_params[k] = v
    return at.switch_page(f"pages/{page}.py").run()


def bar_text(at) -> str:
    return "\n".join(
        str(m.value) for m in at.markdown if "step " in str(m.value) or "**Claim:**" in str(m.value)
    )


def links(at) -> dict[str, tuple[str, str]]:
    return {pl.proto.label: (pl.proto.page, pl.proto.query_string) for pl in at.get("page_link")}


def expect(link: L.Link) -> tuple[str, str]:
    return link.page, urlencode(link.query)


@needs_shipped
def test_a_guided_explore_step_draws_the_bar():
    lesson = L.lesson("contradiction")
    step = lesson.steps[2]
    at = open_link(L.step_link(lesson, 3))
    assert not at.exception, [e.value for e in at.exception]
    shown = bar_text(at)
    assert f"**{lesson.title}** · step 3 of {len(lesson.steps)}: **{step.title}**" in shown
    assert f"**Look at:** {step.look}" in shown
    assert f"**Premise:** {step.premise.text()} :small[:green[" in shown  # measured, and it holds
    assert f"**Claim:** {step.claim.text} :small[:green[" in shown
    assert ":red[" not in shown
    got = links(at)
    assert got["Back"] == expect(L.step_link(lesson, 2))
    assert got[f"Next: {lesson.steps[3].title}"] == expect(L.step_link(lesson, 4))
    # the premise is on screen: the link opens "Each modality alone" (the experts' chart is drawn)
    assert at.session_state["details"] is True
    assert any("own opinion (zero-shot)" in h for h in html_blocks(at))


@needs_shipped
def test_the_guide_survives_a_rerun():
    """The step lives in the URL (Explore writes its own URL and keeps the guide's keys): a refresh keeps it."""
    lesson = L.lesson("gate")
    at = open_link(L.step_link(lesson, 1))
    assert "step 1 of" in bar_text(at)
    assert at.query_params["lesson"] == "gate" and at.query_params["step"] == "1"
    at.toggle(key="aud_on").set_value(False).run()  # a change on the page keeps the guide in the URL
    assert at.query_params["lesson"] == "gate" and at.query_params["step"] == "1"
    at.run()
    assert "step 1 of" in bar_text(at)


@needs_shipped
def test_a_step_opens_its_tab_and_the_last_step_leads_back_to_the_lessons():
    lesson = L.lesson("contradiction")
    n = len(lesson.steps)
    at = open_link(L.step_link(lesson, n))
    assert not at.exception, [e.value for e in at.exception]
    assert lesson.steps[-1].tab == "monotonicity" and at.session_state["tab"] == "monotonicity"
    assert f"step {n} of {n}" in bar_text(at)
    got = links(at)
    assert got["Back"] == expect(L.step_link(lesson, n - 1))
    assert got["Done: the lessons"] == expect(L.lesson_link(lesson))


@needs_shipped
def test_the_first_step_goes_back_to_its_lesson_and_curriculum_opens_the_simulator():
    lesson = L.lesson("acm")
    at = open_link(L.step_link(lesson, 1))
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["tab"] == "Simulator"
    assert links(at)["Back"] == expect(L.lesson_link(lesson))


@needs_shipped
@pytest.mark.parametrize(
    "link",
    [
        ("explore", {"lesson": "nope", "step": "1"}),
        ("explore", {"lesson": "gate", "step": "99"}),
        ("explore", {"lesson": "gate", "step": "abc"}),
        ("explore", {"lesson": "gate", "step": "5"}),  # a Subsets step, on Explore
        ("subsets", {"lesson": "gate", "step": "5", "tab": "no such tab"}),
        ("curriculum", {"lesson": "acm"}),
    ],
    ids=lambda link: f"{link[0]}?{urlencode(link[1])}",
)
def test_odd_guide_values_are_ignored_quietly(link):
    at = open_link(link)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    if link[1].get("step") == "5" and link[0] == "subsets":  # a real step, a tab that is not there
        assert "step 5 of" in bar_text(at) and at.session_state["tab"] == "vs drop rate"
    else:
        assert not bar_text(at) and not at.get("page_link")


@needs_shipped
def test_a_ruined_image_is_shown_ruined_under_its_slider():
    """With a corruption set, what the model sees is under the slider, at the slider's value; clean, nothing."""

    def previews(at) -> list[str]:
        return [c for el in at.get("image") for c in el.captions if "what the model sees" in c]

    at = open_link(L.step_link(L.lesson("gate"), 2))  # the image ruined (1.0)
    assert previews(at) == ["what the model sees at 1.00"]
    at.slider(key="isev").set_value(0.5).run()
    assert previews(at) == ["what the model sees at 0.50"]
    at.slider(key="isev").set_value(0.0).run()
    assert previews(at) == []
