"""The pages' shared look: teaching boxes, HTML/SVG blocks, messages, and the first line of every page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import streamlit as st
import streamlit.components.v2  # noqa: F401  (st.components.v2)
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner import get_script_run_ctx

from aecf.app.problems import Problem
from aecf.app.teaching import equations
from aecf.figures.palette import css_variables
from pages.parts import url


def teaching_box(topics: Sequence[str], explanation: str, try_this: str, expanded: bool = False) -> None:
    """A short explanation with its equations (from docs/method.md) and a 'try this' prompt.

    The equations are drawn only while the box is open: a dozen typeset equations on the page would be
    redrawn by the browser on every rerun, and most visitors read them once."""
    box = st.expander(
        "What is going on here — and the equations",
        expanded=expanded,
        icon=":material/menu_book:",
        key="teaching_box",
        on_change="rerun",
    )
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
    rerun: the rerun goes through app.py and lands on the same page with the same query params.
    Then the page's CSS (app.css, with the palette's colours), as a style-only element."""

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    url.note_page(getattr(get_script_run_ctx(), "page_script_hash", None))
    st.html(_APP_STYLE)


_HERE = Path(__file__).parent
# Every page's CSS (room at 1400 and 1920 px, tables that wrap their headers), with the palette's colours as
# CSS variables: sent once per full run, as a style-only element (it takes no space on the page).
APP_CSS = (_HERE / "app.css").read_text(encoding="utf-8")
_APP_STYLE = f"<style>{css_variables()}{APP_CSS}</style>"

# One element whose HTML the browser parses itself (innerHTML): Streamlit's markdown element runs every redraw's
# HTML through react-markdown (a parse in JavaScript and one React node per HTML node, ~400 for the Explore
# results); this sets it directly, and only when it changed. Mounted in the page's DOM (no shadow root), so the
# page's fonts apply and tests can read it. Its JavaScript and CSS are files beside this one, read once.
HTML_BLOCK_JS = (_HERE / "html_block.js").read_text(encoding="utf-8")
HTML_BLOCK_CSS = (_HERE / "html_block.css").read_text(encoding="utf-8")
_html_component = None


def _component():
    global _html_component
    if _html_component is None:
        _html_component = st.components.v2.component(
            "aecf_html_block", js=HTML_BLOCK_JS, css=css_variables() + HTML_BLOCK_CSS, isolate_styles=False
        )
    return _html_component


def _free_key(key: str) -> str:
    """`key`, or `key_2`, ... if an element took it earlier in this script run: Streamlit runs fragment
    reruns that queued up (clicks faster than the server) one after the other in ONE script run, so a block
    each of them redraws into the same placeholder would otherwise be a duplicate key (the page's error)."""

    ctx = get_script_run_ctx()
    shared = getattr(ctx, "shared", ctx)
    taken = getattr(shared, "widget_user_keys_this_run", None)
    if taken is None:
        return key
    free, n = key, 1
    while free in taken:
        n += 1
        free = f"{key}_{n}"
    return free


def _mount(data, key: str, container=None) -> None:
    key = _free_key(key)
    if container is None:
        _component()(data=data, key=key)
    else:
        with container:
            _component()(data=data, key=key)


def html_block(markup: str, key: str, container=None) -> None:
    """Show trusted HTML/SVG (built by aecf.figures from escaped values) as ONE element set with innerHTML.

    Use it for a block that redraws on every interaction; `key` keeps the element's identity across reruns
    so the browser updates it in place."""
    _mount(markup, key, container)


def instant_views(
    views: dict[str, str],
    target: str,
    controls: list,
    key: str,
    container=None,
    captions: dict[str, dict[str, str]] | None = None,
    query: str | None = None,
) -> None:
    """Send the HTML of views the html block `target` may show next, unseen (hidden by the block's CSS):
    `views` maps a key built from the widgets `controls` — (widget key, digits of a slider's value, or None
    for a switch), joined by '|' — to the block's markup. When such a widget changes in the browser and the
    new key is in `views`, the block shows that view at once, without waiting for the server's redraw (which
    then finds it on screen already). Only views computed around the one on screen are used. `captions`
    (widget key -> the slider's value as in the key -> text): the caption right under that slider follows it
    too. `query`: the address bar's query string, written with them (`address_bar`)."""
    data = {
        "views": views,
        "target": target,
        "controls": [list(c) for c in controls],
        "captions": captions or {},
    }
    if query is not None:
        data["url"] = query
    _mount(data, f"sent_ahead_{key}", container)


def address_bar(query: str, container=None) -> None:
    """Put the view's query string (pages/parts/url.py, `url.query()`) into the browser's address bar, with no
    message to Streamlit's client (a hidden element; a page that mounts `instant_views` anyway passes it there)."""
    _mount({"url": query}, "address_bar", container)


def show(problem: Problem | None, container=None) -> None:
    """A Problem as st.error / st.warning / st.info (nothing for None)."""
    if problem is not None:
        level = problem.level if problem.level in ("error", "warning", "info") else "error"
        getattr(container or st, level)(problem.message)
