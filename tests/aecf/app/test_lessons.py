"""Every claim the app makes to a learner — each lesson step and each page's "try this" — holds on the shipped
model and the shipped evaluation results; every premise about what each modality of an example says alone holds
too; and every name a step points at is on the page it opens. A claim that fails here is a claim the app must not
make."""

from __future__ import annotations

import functools
from urllib.parse import urlencode

import pytest
import torch

from aecf import paths
from aecf.app import lessons as L
from aecf.app import samples as S
from aecf.app.checkpoints import load_model
from aecf.app.state import DEFAULT_AUDIO_SAMPLE, DEFAULT_IMAGE_SAMPLE, ExploreState
from tests.support.apptest import all_text, shown_text

SHIPPED = paths.fusion_dir() / "aecf.safetensors"
RESULTS = paths.results_json()
APP = str(paths.ROOT / "app.py")
needs_shipped = pytest.mark.skipif(
    not (SHIPPED.exists() and RESULTS.exists()),
    reason="the shipped checkpoints and results/results.json are part of the repo",
)


@pytest.fixture(scope="module")
def ctx() -> L.LessonContext:
    torch.set_num_threads(1)
    return L.LessonContext(functools.lru_cache(maxsize=None)(load_model))


def _all_texts() -> list[str]:
    """Every text a learner reads in the lessons and the "try this" prompts."""
    out = []
    for les in L.LESSONS:
        out += [les.title, les.why, les.takeaway]
        for step in les.steps:
            out += [step.title, step.look, step.claim.text] + ([step.premise.text()] if step.premise else [])
    return out + [claim.text for claim in L.TRY_THIS.values()]


def test_lessons_are_lessons():
    assert len(L.LESSONS) >= 5
    assert len({les.slug for les in L.LESSONS}) == len(L.LESSONS)
    for les in L.LESSONS:
        assert len(les.steps) >= 3, les.slug
        assert les.takeaway and les.why
        for step in les.steps:
            assert step.page in L.PAGES
            assert step.claim.text and step.look and step.names(), (les.slug, step.title)
            # what each modality says alone is a premise of every Explore step, and only of those
            assert (step.premise is not None) == (step.page == "explore"), (les.slug, step.title)


def test_one_word_for_a_monotonicity_violation():
    """The pages say "violation" (the lattice: "N violation(s) in red", the monotonicity table): so do the lessons."""
    for text in _all_texts():
        assert "inversion" not in text.lower(), text
    assert any("violation" in text for text in _all_texts())


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
    assert L.find_lesson("no-such-lesson") is None and L.find_lesson(None) is None


def test_a_broken_measurement_is_a_failed_claim(ctx):
    def broken(_ctx):
        raise KeyError("mechanisms")

    found = L.check(L.Claim("x", broken), ctx)
    assert not found.holds and "could not be measured" in found.measured
    step = L.Step(
        "x",
        "explore",
        "*x*",
        L.Claim("x", broken),
        {"image_on": False, "caption_on": False, "audio_on": False},
        premise=L.Premise(4),
    )
    found = L.check_premise(step, ctx)
    assert found is not None and not found.holds


def test_premise_text_says_what_each_modality_reads():
    assert L.Premise(4).text() == (
        "Alone, the image reads 4, the caption reads 4 and the audio reads 4, each with confidence ≥ 0.80."
    )
    text = L.Premise(9, says={"caption": 1}, unclear={"audio": "noisy"}).text()
    assert "the caption reads 1" in text and "the noisy audio does not read 9" in text
    assert (
        L.Premise(9, unclear={m: "bad" for m in ("image", "caption", "audio")})
        .text()
        .startswith("Alone, the bad image, the bad caption and the bad audio do not read 9")
    )


def test_step_links_carry_the_guide_the_view_and_the_tab():
    gate = L.lesson("gate")
    link = L.step_link(gate, 2)
    assert link.page == "explore" and (link.query["lesson"], link.query["step"]) == ("gate", "2")
    assert link.query["details"] == "true"  # each modality's own reading (the premise) is on screen
    assert ExploreState.from_query(link.query) == L.state_for(gate.steps[1].view)
    assert L.step_link(gate, 5) == L.Link("subsets", {"lesson": "gate", "step": "5", "tab": "mechanisms"})
    assert L.lesson_link(gate) == L.Link("lessons", {"lesson": "gate"})


def test_the_guided_step_comes_from_the_url_and_odd_values_are_ignored():
    acm = L.lesson("acm")
    guided = L.guided_step({"lesson": "acm", "step": "2"}, "curriculum")
    assert guided is not None and (guided.number, guided.total, guided.where) == (2, 3, "acm/2")
    assert guided.back == L.step_link(acm, 1) and guided.next == L.step_link(acm, 3)
    first = L.guided_step({"lesson": ["acm"], "step": ["1"]}, "curriculum")  # repeated parameters: the last
    assert first is not None and first.back == L.lesson_link(acm)
    last = L.guided_step({"lesson": "acm", "step": "3"}, "curriculum")
    assert last is not None and last.next is None
    odd = [{}, {"lesson": "acm"}, {"step": "1"}, {"lesson": "nope", "step": "1"}]
    odd += [{"lesson": "acm", "step": s} for s in ("0", "4", "-1", "1.5", "x", "", "99999999999999999999")]
    for params in odd:
        assert L.guided_step(params, "curriculum") is None, params
    assert L.guided_step({"lesson": "acm", "step": "1"}, "explore") is None  # a step of another page


@needs_shipped
@pytest.mark.parametrize("where", [w for w, _ in L.all_claims()])
def test_claim_holds_on_the_shipped_model(ctx, where):
    claim = dict(L.all_claims())[where]
    found = L.check(claim, ctx)
    assert found.holds, f"{where}: “{claim.text}” — measured: {found.measured}"


@needs_shipped
@pytest.mark.parametrize("where", [w for w, _ in L.all_premises()])
def test_premise_holds_on_the_shipped_model(ctx, where):
    """What a step says each modality reads alone is what its own encoder reads there (≥ 0.8), and the lattice's
    one-modality node agrees; a modality the step spoils on purpose (and says so) does not read the digit."""
    step = dict(L.all_premises())[where]
    found = L.check_premise(step, ctx)
    assert found.holds, f"{where}: “{step.premise.text()}” — measured: {found.measured}"


@needs_shipped
def test_the_default_explore_example_reads_clearly_from_each_modality(ctx):
    """Explore opens on an example each modality reads alone at ≥ 0.8 (the "try this" claims are about it)."""
    images, audios = S.list_samples("image"), S.list_samples("audio")
    assert S.default_samples(images, audios) == (DEFAULT_IMAGE_SAMPLE, DEFAULT_AUDIO_SAMPLE)
    found = L.BASE_PREMISE.measure(ctx, L.BASE)
    assert found.holds, found.measured
    assert ctx.prediction(**L.BASE).label == L.BASE_PREMISE.digit


@needs_shipped
def test_a_premise_can_fail(ctx):
    """The measurement tells a clear example from an ambiguous one: the 3 that was the default (MNIST test #18,
    an S or an 8) reads 9 alone, and a premise that calls a clear modality spoilt does not hold either."""
    ambiguous = {"image_sample": "mnist_3.png", "audio_sample": "spoken_3_espeak.wav", "caption": "three"}
    assert not L.Premise(3).measure(ctx, ambiguous).holds
    assert not L.Premise(4, unclear={"image": "ruined"}).measure(ctx, L.SCAN4).holds
    assert not L.Premise(4, says={"caption": 1}).measure(ctx, L.SCAN4).holds


# ------------------------------------------------------------------------------------ the pages


def _page(name: str, query: dict | None = None):
    """Run one page through app.py's navigation (the lessons' links need it), opened with this query."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=300).run()
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.switch_page(f"pages/{name}.py").run()


def _opened() -> dict[tuple, list[tuple[str, L.Step]]]:
    """Every distinct page + query a step opens (its guided link without the guide), with its steps."""
    out: dict[tuple, list[tuple[str, L.Step]]] = {}
    for les in L.LESSONS:
        for i, step in enumerate(les.steps, start=1):
            query = {k: v for k, v in L.step_link(les, i).query.items() if k not in ("lesson", "step")}
            out.setdefault((step.page, tuple(sorted(query.items()))), []).append((f"{les.slug}/{i}", step))
    return out


@needs_shipped
@pytest.mark.parametrize(
    "opened", list(_opened()), ids=lambda o: f"{o[0]}?{'&'.join(f'{k}={v}' for k, v in o[1])}"
)
def test_every_name_a_step_points_at_is_on_the_page_it_opens(opened):
    """A step says "look at the *monotonicity* tab: *violations (caption not wrong)*": that tab and that column are
    on the page its link opens, and the link opens that tab."""
    page, query = opened
    at = _page(page, dict(query))
    assert not at.exception, [e.value for e in at.exception]
    shown = all_text(at)
    tabs = [t.label for t in at.tabs]
    for where, step in _opened()[opened]:
        for name in step.names():
            assert name in shown, f"{where}: “{name}” is not on the {page} page"
        if step.tab:
            assert step.tab in tabs, f"{where}: no tab “{step.tab}” on {page} (tabs: {tabs})"
            assert at.session_state["tab"] == step.tab, where


@needs_shipped
def test_the_acm_share_is_the_number_the_curriculum_page_shows(ctx):
    """One source: the ACM lesson quotes what the Curriculum page's *On the test split* tab shows."""
    at = _page("curriculum")
    assert not at.exception, [e.value for e in at.exception]
    shown = next(m.value for m in at.metric if m.label.startswith("aecf: examples with ratio ≥ 2×"))
    found = L.check(dict(L.all_claims())["acm/3"], ctx)
    assert found.holds and found.measured.startswith(f"{shown} of test examples"), (shown, found.measured)


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
    premises = [m.value for m in at.markdown if m.value.startswith("**Premise:**")]
    assert len(premises) == sum(step.premise is not None for step in lesson.steps)
    assert all(":green[" in p and ":red[" not in p for p in premises), premises
    # the steps' links open in this tab (st.page_link), each on its page with the guide in the URL
    links = at.get("page_link")
    want = [L.step_link(lesson, 1)] + [L.step_link(lesson, i) for i in range(1, len(lesson.steps) + 1)]
    assert [(pl.proto.page, pl.proto.query_string) for pl in links] == [
        (link.page, urlencode(link.query)) for link in want
    ]
    assert not any("](" in str(m.value) for m in at.markdown), "no markdown link: those open a new tab"


@needs_shipped
def test_lesson_buttons_show_titles_and_odd_parameters_open_the_first_lesson():
    at = _page("lessons", {"lesson": "../../etc/passwd"})
    assert not at.exception
    assert at.header[0].value.endswith(L.LESSONS[0].title)
    choice = at.segmented_control(key="lesson_choice")
    assert choice.options == [  # the buttons' text
        f"{i}. {les.title}" for i, les in enumerate(L.LESSONS, start=1)
    ]
    choice.set_value("acm").run()
    assert at.header[0].value.endswith(L.lesson("acm").title) and at.query_params["lesson"] == "acm"


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
