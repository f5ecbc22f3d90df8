"""The pages' shared look: teaching boxes, inline SVG, messages, and the first line of every page."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from aecf.app.problems import Problem
from aecf.app.teaching import equations


def teaching_box(topics: Sequence[str], explanation: str, try_this: str, expanded: bool = False) -> None:
    """A short explanation with its equations (from docs/method.md) and a 'try this' prompt."""
    with st.expander("What is going on here — and the equations", expanded=expanded, icon=":material/menu_book:"):
        st.markdown(explanation)
        for topic in topics:
            for latex in equations(topic):
                st.latex(latex)
    st.info(f"**Try this:** {try_this}", icon=":material/lightbulb:")


def ensure_navigation() -> None:
    """Call first in every page. A deep link (e.g. /explore?...) opened as the very first request of a
    fresh server runs the page file directly in Streamlit's legacy pages/ mode, so app.py's
    st.navigation (wide layout, titles, icons) never runs. Switch the server to st.navigation and
    rerun: the rerun goes through app.py and lands on the same page with the same query params."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def svg(markup: str, container=None) -> None:
    """Show an inline SVG (st.html strips SVG in Streamlit 1.67; markdown with HTML keeps it, one line)."""
    if markup:
        (container or st).markdown(markup.replace("\n", " "), unsafe_allow_html=True)


def show(problem: Problem | None, container=None) -> None:
    """A Problem as st.error / st.warning / st.info (nothing for None)."""
    if problem is not None:
        level = problem.level if problem.level in ("error", "warning", "info") else "error"
        getattr(container or st, level)(problem.message)


def bars(rows: Sequence[tuple[str, float]], container=None) -> None:
    """Labelled progress bars, one per (name, value in [0, 1])."""
    for name, value in rows:
        (container or st).progress(min(1.0, max(0.0, float(value))), text=f"{name}: {value:.3f}")
