"""Lessons: guided tours of AECF for a class. Each step opens a view in this browser tab, with a bar that says what
to look at and what the learner will see there; every premise and claim is measured here, live, on the shipped
model (and tested in tests/aecf/app/test_lessons.py)."""

import streamlit as st

from aecf.app import lessons as L
from aecf.app.state import LESSON_KEY
from pages.parts import guide
from pages.parts.ui import ensure_navigation

ensure_navigation()
st.title("Lessons")
st.markdown(
    "Short guided tours for a class. Each step opens a view of the app in this tab — the same link a teacher "
    "can share — with a bar at the top: what to look at, what each modality says alone, and a claim about what "
    "you will see; **Back** and **Next** walk the lesson. **Every premise and claim is measured here on the "
    "shipped model**, and the test suite fails if one stops being true."
)

numbered = {les.slug: f"{i}. {les.title}" for i, les in enumerate(L.LESSONS, start=1)}
# The lesson lives in the URL (?lesson=acm, its slug), so a teacher can share a link to it; an odd value opens the
# first. (Not Streamlit's query-params binding: with titles on the buttons it would put a title in the URL.)
asked = L.find_lesson(st.query_params.get(LESSON_KEY)) or L.LESSONS[0]
slug = st.segmented_control(
    "Lesson",
    list(numbered),
    default=asked.slug,
    required=True,
    key="lesson_choice",
    format_func=numbered.get,
    width="stretch",
)
lesson = L.lesson(slug)
if st.query_params.get(LESSON_KEY) != lesson.slug:
    st.query_params[LESSON_KEY] = lesson.slug

st.header(numbered[lesson.slug])
st.markdown(f"*{lesson.why}*")
guide.link(L.step_link(lesson, 1), "Start the lesson", icon=":material/play_arrow:")
for i, step in enumerate(lesson.steps, start=1):
    with st.container(border=True):
        head, go = st.columns([5, 3])  # the link names page and tab: room for both at 1400 px
        head.markdown(f"**Step {i}. {step.title}**")
        where = guide.PAGE_TITLES[step.page] + (f" · {step.tab}" if step.tab else "")
        with go:
            guide.link(L.step_link(lesson, i), f"Open in {where}", icon=":material/arrow_forward:")
        st.markdown(f"**Look at:** {step.look}")
        if step.premise is not None:
            st.markdown(
                f"**Premise:** {step.premise.text()}  \n{guide.measured(guide.premise_finding(f'{lesson.slug}/{i}'))}"
            )
        st.markdown(f"**Claim:** {step.claim.text}")
        found = guide.finding(f"{lesson.slug}/{i}")
        if found.holds:
            st.success(f"Measured on the shipped model: {found.measured}", icon=":material/check_circle:")
        else:
            st.error(
                f"This claim does not hold on the loaded model: {found.measured}", icon=":material/cancel:"
            )
st.info(f"**Take away:** {lesson.takeaway}", icon=":material/school:")
