"""Lessons: guided tours of AECF for a class. Each step opens a view, says what to look at, and states a claim
that is measured here, live, on the shipped model (and tested in tests/aecf/app/test_lessons.py)."""

from urllib.parse import urlencode

import streamlit as st

from aecf.app import lessons as L
from pages.parts import cache
from pages.parts.ui import ensure_navigation

PAGE_TITLES = {
    "explore": "Explore",
    "subsets": "Subsets & calibration",
    "curriculum": "Curriculum masking",
    "train": "Train",
}


@st.cache_resource(show_spinner=False)
def context() -> L.LessonContext:
    """One context per server: the shipped model's views and the shipped results, measured once."""
    return L.LessonContext(cache.model)


@st.cache_data(show_spinner="Measuring the claims on the shipped model…", max_entries=64)
def finding(where: str) -> L.Finding:
    claim = dict(L.all_claims())[where]
    return L.check(claim, context())


ensure_navigation()
st.title("Lessons")
st.markdown(
    "Short guided tours for a class. Each step opens a view of the app — the same link a teacher can "
    "share — says what to look at, and makes a claim about what you will see. **Every claim is measured "
    "here on the shipped model**, and the test suite fails if one stops being true."
)

slugs = [les.slug for les in L.LESSONS]
# The lesson lives in the URL (?lesson=acm), so a teacher can share a link to it; an odd value opens the first.
slug = st.segmented_control(
    "Lesson",
    slugs,
    default=slugs[0],
    required=True,
    key="lesson",
    bind="query-params",
    help=" · ".join(f"**{les.slug}**: {les.title}" for les in L.LESSONS),
)
lesson = L.lesson(slug)

st.header(f"{slugs.index(lesson.slug) + 1}. {lesson.title}")
st.markdown(f"*{lesson.why}*")
for i, step in enumerate(lesson.steps, start=1):
    with st.container(border=True):
        head, link = st.columns([3, 1])
        head.markdown(f"**Step {i}. {step.title}**")
        query = step.query()
        href = step.page + (f"?{urlencode(query)}" if query else "")  # the page's URL path is its file name
        link.markdown(f":material/open_in_new: [Open in {PAGE_TITLES[step.page]}]({href})")
        st.markdown(f"**Look at:** {step.look}")
        st.markdown(f"**Claim:** {step.claim.text}")
        found = finding(f"{slug}/{i}")
        if found.holds:
            st.success(f"Measured on the shipped model: {found.measured}", icon=":material/check_circle:")
        else:
            st.error(
                f"This claim does not hold on the loaded model: {found.measured}", icon=":material/cancel:"
            )
st.info(f"**Take away:** {lesson.takeaway}", icon=":material/school:")
