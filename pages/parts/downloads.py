"""The Subsets page's downloads, for the digits results and for runs on a dataset: the evaluation JSON and
the figures as a zip, both built when clicked."""

from __future__ import annotations

import json
from collections.abc import Callable

import streamlit as st

from aecf.app import results as R


def downloads(
    evaluation: Callable[[], dict], figs: Callable[[], dict], title: str, name: str, note: str = ""
) -> None:
    """Two download buttons: the evaluation JSON and the figures as a zip (one HTML page that opens offline,
    the PNGs where this server can draw them, the JSON). Both are built when clicked, not on every rerun."""
    st.subheader("Take it away")
    c1, c2, _ = st.columns([1, 1, 2])
    c1.download_button(
        "Evaluation (JSON)",
        data=lambda: json.dumps(evaluation(), indent=1),
        file_name=f"{name}-evaluation.json",
        mime="application/json",
        key="download_evaluation",
        on_click="ignore",
        icon=":material/download:",
    )
    c2.download_button(
        "Figures (zip: HTML + PNG)",
        data=lambda: R.figures_zip(figs(), title, evaluation()),
        file_name=f"{name}-figures.zip",
        mime="application/zip",
        key="download_figures",
        on_click="ignore",
        icon=":material/download:",
        help="figures.html holds every chart and opens without a network; png/ holds the same charts as "
        "pictures (drawn on the server: a few seconds).",
    )
    if note:
        st.caption(note)
