"""The Explore view in the address bar, written by the page itself, without a message to Streamlit's client.

A widget bound to the URL costs the browser several ms on every redraw; and a parameter written through
`st.query_params` sends the client a page-info message, on which it pushes a history entry, stores the query in
its own state and re-renders the whole app (measured with ten sessions in one browser: the browsers' CPU 0.94 ->
0.75 cores and the p90 redraw 212 -> 123 ms without that message). So the page keeps the view's parameters in the
session state (`sync`), sets the server's query params without a message (`st.rerun` and AppTest read them),
and hands the query to the browser with what it draws anyway (`query`: pages/parts/ui.py writes it with
history.pushState, no re-render). The client, not told, keeps sending the query it last knew with every rerun
(the link the page was opened with, or an address the page wrote a moment before), so a rerun's URL is a new
link (a first visit, a link from another page, the browser's Back or Forward: `is_new_link`) only when it is
none of those; a new link sets the widgets' values, then the widgets hold the view and `sync` follows them,
leaving defaults out so links stay short.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

VIEW = "_explore_url"  # the view's query params as the page last wrote them
LINK = "_explore_url_link"  # the link the view was last set from: the client may send it with every rerun
SENT = "_explore_url_sent"  # the last queries written: clicks faster than the server carry the older ones
PAGE, PAGE_BEFORE = "_page", "_page_before"
KEEP = 64


def _ctx():

    return get_script_run_ctx()


def note_page(page: str | None) -> None:
    """Every page's first call (pages/parts/ui.ensure_navigation): the page of this full run and of the one before."""
    st.session_state[PAGE_BEFORE] = st.session_state.get(PAGE)
    st.session_state[PAGE] = page


def is_new_link() -> bool:
    """True when this run's URL is a link to follow (it sets the view), not one the client sends only because it
    was not told of the page's later writes. Call once per full run, before `sync`."""
    ss = st.session_state
    incoming = st.query_params.to_dict()
    if ss.get(PAGE_BEFORE) != ss.get(PAGE):  # from another page: only what this page wrote last is its own
        ss[LINK], ss[SENT] = None, [ss[VIEW]] if VIEW in ss else []
    history = bool(getattr(_ctx(), "is_history_navigation", False))  # the browser's Back or Forward
    new = VIEW not in ss or history or (incoming != ss.get(LINK) and incoming not in ss.get(SENT, []))
    if new:
        ss[VIEW], ss[LINK] = dict(incoming), dict(incoming)
    _write_quietly(ss[VIEW])
    return new


def _write_quietly(params: Mapping[str, str]) -> None:
    """The server's query params set to `params` without a message to the client."""
    ctx = _ctx()
    if ctx is None:
        return
    with ctx.session_state.query_params() as qp:
        for key in [
            k for k in qp._query_params if k not in params
        ]:  # (only set_ / discard_ avoid the message)
            qp.discard_param_no_forward_msg(key)
        for key, value in params.items():
            qp.set_with_no_forward_msg(key, value)
    ctx.query_string = query()


def query() -> str:
    """The view's query string, for the browser's address bar ('' for the defaults)."""
    return urlencode(st.session_state.get(VIEW, {}))


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


def put(key: str, wanted: str | None) -> None:
    """One parameter of the view set (None: left out of the link)."""
    view = dict(st.session_state.get(VIEW, {}))
    if wanted is None:
        view.pop(key, None)
    else:
        view[key] = wanted
    if view != st.session_state.get(VIEW):
        st.session_state[VIEW] = view
        st.session_state[SENT] = [*st.session_state.get(SENT, [])[1 - KEEP :], view]
    _write_quietly(view)


def sync(defaults: Mapping[str, object], *keys: str) -> None:
    """Write these widgets' values into the view's parameters (a default is left out)."""
    for key in keys:
        value = st.session_state.get(key)
        put(key, None if value is None or value == defaults[key] else text(value))
