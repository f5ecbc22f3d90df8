"""Streamlit building blocks shared by the pages (rendering only; no ML here)."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from aecf.app_teaching import equations


def teaching_box(topics: Sequence[str], explanation: str, try_this: str, expanded: bool = False) -> None:
    """A short explanation with its equations (from docs/method.md) and a 'try this' prompt."""
    with st.expander("📖 What is going on here — and the equations", expanded=expanded):
        st.markdown(explanation)
        for topic in topics:
            for latex in equations(topic):
                st.latex(latex)
    st.info(f"**Try this:** {try_this}", icon="🧪")


def caption_metric(label: str, value: str, help: str | None = None) -> None:
    st.metric(label, value, help=help)
