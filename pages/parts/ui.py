"""The pages' shared look: teaching boxes, inline SVG, messages, and the first line of every page."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from aecf.app.problems import Problem
from aecf.app.teaching import equations


def teaching_box(topics: Sequence[str], explanation: str, try_this: str, expanded: bool = False) -> None:
    """A short explanation with its equations (from docs/method.md) and a 'try this' prompt.

    The equations are drawn only while the box is open: a dozen typeset equations on the page would be
    redrawn by the browser on every rerun, and most visitors read them once."""
    box = st.expander("What is going on here — and the equations", expanded=expanded, icon=":material/menu_book:",
                      key="teaching_box", on_change="rerun")
    if box.open:
        box.markdown(explanation)
        for topic in topics:
            for latex in equations(topic):
                box.latex(latex)
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

