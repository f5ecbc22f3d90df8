"""The dataset a page is about: a picker in the sidebar, kept in the URL as `?data=<key>` (absent: the digits).

Every page that can show more than the digits calls `dataset_picker()` once; it returns the choice. A key that
names no dataset on this server (an old link, a typo, a removed upload) falls back to the digits with a note.
"""

from __future__ import annotations

import streamlit as st

from aecf.app import datasets as D
from pages.parts import cache

QUERY_KEY = "data"
WIDGET_KEY = "dataset_choice"


def dataset_picker() -> D.DatasetChoice:
    choices = {c.key: c for c in cache.dataset_choices()}
    asked = st.query_params.get(QUERY_KEY, D.DIGITS)
    if asked not in choices:
        st.sidebar.warning(f"No dataset “{asked[:60]}” on this server: showing the digits.")
        asked = D.DIGITS
    if st.session_state.get(WIDGET_KEY) not in choices or st.session_state.get("_data_asked") != asked:
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
    choice = choices[key]
    if choice.problem:
        st.sidebar.error(choice.problem)
    return choice
