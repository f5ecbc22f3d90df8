"""The Explore view in the address bar, written by the page (not by Streamlit's query-params binding).

A bound widget costs the browser several ms on every redraw of the page, whether it changed or not
(measured on Explore: 12 bound widgets were ~70 ms of the browser's ~170 ms of work per toggle); a parameter
the page writes itself costs one small message, only when it changes. So: a new link (a first visit, a
shared link, a link from another page) sets the widgets' values (`is_new_link`, then the page puts the
link's values into the session state); after that the widgets hold the view and `sync` writes what changed
into the URL, leaving defaults out so links stay short.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

SEEN = "_explore_url"  # the query params as the page last wrote them


def is_new_link() -> bool:
    """True when the URL is not the one the page last wrote: it comes from a link, so it sets the view."""
    return st.query_params.to_dict() != st.session_state.get(SEEN)


def remember() -> None:
    st.session_state[SEEN] = st.query_params.to_dict()


def seeded(key: str, default) -> str:
    """A widget's key, its value set first if it has none (a widget left out of a run loses its state): the
    widgets take their value from the session state only, so they take no default argument (a default and
    a value set through the session state at once make Streamlit print a warning)."""
    if key not in st.session_state:
        st.session_state[key] = default
    return key


def text(value) -> str:
    """A value as a link writes it (the format aecf.app.state.ExploreState.from_query reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def sync(defaults: Mapping[str, object], *keys: str) -> None:
    """Write these widgets' values into the URL (a default is left out); a parameter goes to the browser
    only when it changes."""
    for key in keys:
        value = st.session_state.get(key)
        wanted = None if value is None or value == defaults[key] else text(value)
        if wanted is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != wanted:
            st.query_params[key] = wanted
    remember()
