"""The Explore view in the address bar, written by the page (not by Streamlit's query-params binding).

A bound widget costs the browser several ms on every redraw of the page, whether it changed or not
(measured on Explore: 12 bound widgets were ~70 ms of the browser's ~170 ms of work per toggle); a parameter
the page writes itself costs one small message, only when it changes. So: a new link (a first visit, a
shared link, a link from another page) sets the widgets' values (`is_new_link`, then the page puts the
link's values into the session state); after that the widgets hold the view and `sync` writes what changed
into the URL, leaving defaults out so links stay short.

The browser writes the address bar a moment later (pages/parts/ui.py, `deferUrlWrites`: when the view has
rested, when the pointer leaves the page or the page loses focus): each write of the browser's history costs it
~20 ms, on every step. Until then the URL it sends with a rerun is one the page asked for earlier: `SEEN` keeps
them, so such a URL is not taken for a new link, and `catch_up` puts the latest back before anything is written.
"""

from __future__ import annotations

from collections.abc import Mapping

import streamlit as st

SEEN = "_explore_url"  # the link this visit came from, then the query params the page asked for, the latest last
SEEN_MAX = 32


def is_new_link(probe: str) -> bool:
    """True when the URL is none the page asked for in this visit: it comes from a link (a first visit, a shared
    link, a link from another page), so it sets the view. `probe`: a widget key of the page; without it in the
    session state (a first run, or back from another page, which dropped the page's widgets) it is a new link."""
    current = st.query_params.to_dict()
    seen = st.session_state.get(SEEN)
    if probe in st.session_state and seen and current in seen:
        return False
    st.session_state[SEEN] = [current]
    return True


def catch_up() -> None:
    """If the browser has not yet written the URL the page asked for last (it sent an earlier one of ours), put
    that one back, so what is written next adds to it."""
    seen = st.session_state.get(SEEN)
    if seen and st.query_params.to_dict() != seen[-1] and st.query_params.to_dict() in seen:
        st.query_params.from_dict(seen[-1])


def remember() -> None:
    """Record the query params as the page now asks for them."""
    current = st.query_params.to_dict()
    seen = st.session_state.setdefault(SEEN, [])
    if current in seen:
        seen.remove(current)
    seen.append(current)
    del seen[:-SEEN_MAX]


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
    catch_up()
    for key in keys:
        value = st.session_state.get(key)
        wanted = None if value is None or value == defaults[key] else text(value)
        if wanted is None:
            if key in st.query_params:
                del st.query_params[key]
        elif st.query_params.get(key) != wanted:
            st.query_params[key] = wanted
    remember()
