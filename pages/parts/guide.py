"""The guided mode: a lesson walked in one browser tab.

A step's link (`link`, on the Lessons page and in the bar) opens its page in the same tab, on the step's tab, with
the lesson and the step in the URL (`lesson=<slug>&step=<n>`, aecf.app.lessons.step_link); every page the lessons
open calls `bar(page)` first, which draws the guided bar when the URL names one of its steps: the lesson, "step n of
N", what to look at, the premise and the claim with their measured values, Back and Next. A refresh keeps it (the
URL holds it); a URL naming no step of this page draws nothing. Claims and premises are measured once per server.
"""

from __future__ import annotations

import streamlit as st

from aecf.app import lessons as L
from aecf.app.explore import upscale
from aecf.app.state import STEP_KEY, TAB_KEY
from pages.parts import cache

PAGE_FILES = {
    "explore": "pages/explore.py",
    "subsets": "pages/subsets.py",
    "curriculum": "pages/curriculum.py",
    "train": "pages/train.py",
    "lessons": "pages/lessons.py",
}
PAGE_TITLES = {  # as app.py's navigation names them
    "explore": "Explore one example",
    "subsets": "Subsets & calibration",
    "curriculum": "Curriculum masking",
    "train": "Train",
    "lessons": "Lessons",
}


@st.cache_resource(show_spinner=False)
def context() -> L.LessonContext:
    """One context per server: the shipped model's views and the shipped results, measured once."""
    return L.LessonContext(cache.model)


@st.cache_data(show_spinner="Measuring the claim on the shipped model…", max_entries=64)
def finding(where: str) -> L.Finding:
    """The claim at `where` ("gate/2", "try/explore", ...), measured."""
    return L.check(dict(L.all_claims())[where], context())


@st.cache_data(show_spinner="Measuring what each modality says alone…", max_entries=64)
def premise_finding(where: str) -> L.Finding | None:
    """The premise of the step at `where`, measured (None for a step without one)."""
    step = dict(L.all_premises()).get(where)
    return None if step is None else L.check_premise(step, context())


def link(target: L.Link, label: str, icon: str | None = None, **kwargs) -> None:
    """A link to a page of the app that opens in this browser tab (st.page_link), with its query."""
    st.page_link(PAGE_FILES[target.page], label=label, icon=icon, query_params=target.query, **kwargs)


def measured(found: L.Finding | None, short: bool = False) -> str:
    """A measurement as markdown: green with a tick when it holds, red with a cross when not (`short`: small
    text, for the bar)."""
    if found is None:
        return ""
    if found.holds:
        text = f":green[:material/check_circle: Measured on the shipped model: {found.measured}]"
    else:
        text = f":red[:material/cancel: Does not hold on the loaded model: {found.measured}]"
    return f":small[{text}]" if short else text


def bar(page: str) -> bool:
    """The guided bar, at the top of `page`, when the URL names one of this page's lesson steps (then True);
    else nothing (False)."""
    guided = L.guided_step(st.query_params.to_dict(), page)
    if guided is None:
        return False
    step, n = guided.step, guided.number
    if page != "explore":
        # Streamlit's client puts a link's query in the address bar only when the link opens another page: from
        # step 2 to step 3 on the same page it would keep showing step 2 (and a refresh would open it). Setting a
        # query parameter sends it the query (it pushes an address only when it differs). Explore writes its own
        # address (pages/parts/url.py).
        st.query_params[STEP_KEY] = str(n)
    arrived = st.session_state.get("_guide_at") != (page, guided.where)
    st.session_state["_guide_at"] = (page, guided.where)
    if arrived and TAB_KEY in st.query_params:
        # A page's tabs take ?tab= on a first visit only; a step's link on the same page sets its tab too (after
        # that the tab is the learner's). A label that is not a tab falls back to the first tab.
        st.session_state[TAB_KEY] = st.query_params[TAB_KEY]
    with st.container(border=True, key="guide_bar", gap="small"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            st.markdown(
                f":material/school: **{guided.lesson.title}** · step {n} of {guided.total}: **{step.title}**",
                width="stretch",
            )
            link(guided.back, "Back", icon=":material/arrow_back:")
            if guided.next is None:
                link(L.lesson_link(guided.lesson), "Done: the lessons", icon=":material/school:")
            else:
                link(guided.next, f"Next: {guided.lesson.steps[n].title}", icon=":material/arrow_forward:")
        lines = [f"**Look at:** {step.look}"]
        if step.premise is not None:
            lines.append(
                f"**Premise:** {step.premise.text()} {measured(premise_finding(guided.where), short=True)}"
            )
        lines.append(f"**Claim:** {step.claim.text} {measured(finding(guided.where), short=True)}")
        st.markdown("  \n".join(lines))
    return True


def corrupted_image(load, key: str, image, severity: float, seed: int, note: str) -> None:
    """Under the image corruption slider: `note` (what the corruption does), and beside it the image as the
    image tower sees it at this corruption (a ruined input shown ruined where the learner looks, beside the note
    so that the results stay on the first screen); only the note at 0 or without an image, or for a bad one (the
    page says what is wrong with it). The model caches the result by content, so the redraw that follows reuses
    it."""
    seen = None
    if image is not None and severity > 0:
        try:
            seen = load(key).embed_image(image, severity, seed)["image_28"]
        except Exception:  # noqa: BLE001 - the results name the problem with the image; the preview stays away
            seen = None
    if seen is None:
        st.caption(note)
        return
    left, right = st.columns([3, 2])
    left.caption(note)
    right.image(upscale(seen), width=96, caption=f"what the model sees at {severity:.2f}")
