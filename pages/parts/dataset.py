"""The dataset a page is about: a picker in the sidebar, kept in the URL as `?data=<key>` (absent: the digits).

Every page that can show more than the digits calls `dataset_picker()` once; it returns the choice. A key that
names no dataset on this server (an old link, a typo, a removed upload) falls back to the digits with a note.
The sidebar's navigation opens a page with an empty query: the dataset this browser session chose last is kept (a
dataset uploaded on Train stays chosen on Subsets & calibration); a link with a query but no `data` is the digits.
"""

from __future__ import annotations

import streamlit as st

from aecf.app import datasets as D
from pages.parts import cache, guide, url

QUERY_KEY = "data"
WIDGET_KEY = "dataset_choice"
CHOSEN = "_data_chosen"  # the dataset this browser session chose last


def _new_page() -> bool:
    """This run is the first of a page since another one (pages/parts/ui.ensure_navigation notes each)."""
    return st.session_state.get(url.PAGE_BEFORE) != st.session_state.get(url.PAGE)


def _asked(choices: dict) -> str:
    """The dataset the URL asks for; a page opened through the navigation (another page, an empty query) asks
    for the one this browser session chose last."""
    if QUERY_KEY in st.query_params:
        return st.query_params[QUERY_KEY]
    if not st.query_params and _new_page() and st.session_state.get(CHOSEN) in choices:
        return st.session_state[CHOSEN]
    return D.DIGITS


def dataset_picker() -> D.DatasetChoice:
    choices = {c.key: c for c in cache.dataset_choices()}
    asked = _asked(choices)
    if asked not in choices:
        st.sidebar.warning(f"No dataset “{asked[:60]}” on this server: showing the digits.")
        asked = D.DIGITS
    if (
        _new_page()  # another page's picker is another widget: its value does not carry over
        or st.session_state.get(WIDGET_KEY) not in choices
        or st.session_state.get("_data_asked") != asked
    ):
        st.session_state[WIDGET_KEY] = (
            asked  # a new link sets the picker; after that the picker sets the link
        )
        st.session_state["_data_asked"] = asked
    key = st.sidebar.selectbox(
        "Dataset",
        list(choices),
        format_func=lambda k: choices[k].title,
        key=WIDGET_KEY,
        help="The shipped digits, the example datasets, and datasets uploaded on the Train page (every session "
        "of this server sees the uploads).",
    )
    if key != asked:
        st.session_state["_data_asked"] = key
    if key == D.DIGITS:
        if QUERY_KEY in st.query_params:
            del st.query_params[QUERY_KEY]
    elif st.query_params.get(QUERY_KEY) != key:
        st.query_params[QUERY_KEY] = key
    st.session_state[CHOSEN] = key
    choice = choices[key]
    if choice.problem:
        st.sidebar.error(choice.problem)
    return choice


def train_link(choice: D.DatasetChoice, label: str = "Train on this dataset") -> None:
    """A link to the Train page with this dataset chosen."""
    st.page_link(
        guide.PAGE_FILES["train"],
        label=label,
        icon=":material/model_training:",
        query_params={QUERY_KEY: choice.key},
    )
