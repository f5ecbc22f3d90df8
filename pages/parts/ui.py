"""The pages' shared look: teaching boxes, HTML/SVG blocks, messages, and the first line of every page."""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st
import streamlit.components.v2  # noqa: F401  (st.components.v2)

from aecf.app.problems import Problem
from aecf.app.teaching import equations
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
    rerun: the rerun goes through app.py and lands on the same page with the same query params."""
    from streamlit.runtime.pages_manager import PagesManager
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    url.note_page(getattr(get_script_run_ctx(), "page_script_hash", None))


# One element whose HTML the browser parses itself (innerHTML): Streamlit's markdown element runs every redraw's
# HTML through react-markdown (a parse in JavaScript and one React node per HTML node, ~400 for the Explore
# results); this sets it directly, and only when it changed. Mounted in the page's DOM (no shadow root), so the
# page's fonts apply and tests can read it.
_HTML_JS = """
// Bring the live nodes in line with the new markup in place: a redraw changes numbers, widths and colours,
// rarely the shape, so most nodes keep their identity and only what changed is restyled and repainted.
function morph(live, next) {
  if (live.nodeType === 1 && next.nodeType === 1) {
    for (let i = live.attributes.length - 1; i >= 0; i--) {
      const name = live.attributes[i].name;
      if (!next.hasAttribute(name)) live.removeAttribute(name);
    }
    for (const attr of next.attributes) {
      if (live.getAttribute(attr.name) !== attr.value) live.setAttribute(attr.name, attr.value);
    }
  }
  let a = live.firstChild, b = next.firstChild;
  while (b) {
    const after = b.nextSibling;
    if (!a) {
      live.appendChild(b);
    } else if (a.nodeType !== b.nodeType || a.nodeName !== b.nodeName) {
      live.replaceChild(b, a);
      a = b.nextSibling;
    } else {
      if (a.nodeType === 1) morph(a, b);
      else if (a.nodeValue !== b.nodeValue) a.nodeValue = b.nodeValue;
      a = a.nextSibling;
    }
    b = after;
  }
  while (a) {
    const after = a.nextSibling;
    live.removeChild(a);
    a = after;
  }
}

function show(box, html) {
  box.__html = html;
  const next = document.createElement("template");
  next.innerHTML = html;
  morph(box, next.content);
}

// Views sent ahead (instant_views): when a watched switch or slider lands on one of them, show it now; the
// server's redraw of the same view, a moment later, then changes nothing.
function widgetKey(controls) {
  const parts = [];
  for (const [key, digits] of controls) {
    const scope = document.querySelector(`.st-key-${key}`);
    const el = scope && scope.querySelector(digits === null ? 'input[type="checkbox"]' : 'input[type="range"]');
    if (!el) return null;
    parts.push(digits === null ? (el.checked ? "1" : "0") : Number(el.value).toFixed(digits));
  }
  return parts.join("|");
}

function showSentAhead() {
  const ahead = window.__aecfAhead;
  if (!ahead) return;
  // (a block drawn twice in one script run takes the key `${target}_2`: _free_key)
  const box = document.querySelector(`.st-key-${ahead.target} [data-html-block], [class*="st-key-${ahead.target}_"] [data-html-block]`);
  // only from a view these were computed around (not after a caption or a sample changed since)
  if (!box || !ahead.around.has(box.__html)) return;
  const key = widgetKey(ahead.controls);
  const html = key === null ? undefined : ahead.views[key];
  if (html === undefined) {
    box.setAttribute("data-stale", "");  // not sent ahead (a jump of several steps): faded until the server's view
    return;
  }
  box.removeAttribute("data-stale");
  if (box.__html !== html) show(box, html);
  // the view on screen is the right one: Streamlit's own stale fade (after 0.5 s of a slow server) is held off
  // the results and these controls until the server's view comes (a 1 s opacity animation in every browser)
  document.body.setAttribute("data-aecf-ahead-shown", "");
  for (const [key, digits] of ahead.controls) {
    const text = digits === null ? undefined : (ahead.captions[key] || {})[widgetValue(key, digits)];
    if (text !== undefined) setCaptionAfter(key, text);
  }
}

function widgetValue(key, digits) {
  const el = document.querySelector(`.st-key-${key} input[type="range"]`);
  return el ? Number(el.value).toFixed(digits) : null;
}

// The caption the page writes right under a slider: its one text node is changed in place (the node stays
// the one React knows, so the server's redraw of the same caption later finds it as it left it).
function setCaptionAfter(key, text) {
  const scope = document.querySelector(`.st-key-${key}`);
  const p = scope && scope.nextElementSibling && scope.nextElementSibling.querySelector('[data-testid="stCaptionContainer"] p');
  if (p && p.childNodes.length === 1 && p.firstChild.nodeType === 3 && p.firstChild.nodeValue !== text) {
    p.firstChild.nodeValue = text;
  }
}

function holdFade(data) {
  // one rule for the widgets this page watches (their keys come with the data) and the results block
  if (document.getElementById("aecf-ahead-style")) return;
  const style = document.createElement("style");
  style.id = "aecf-ahead-style";
  // (a slider's caption is the element right after it: it is set from the set too)
  const scopes = data.controls.flatMap(([key, digits]) => digits === null ? [`.st-key-${key}`]
                                                          : [`.st-key-${key}`, `.st-key-${key} + .stElementContainer`]);
  scopes.push(`[class*="st-key-${data.target}"]`);
  style.textContent = `body[data-aecf-ahead-shown] :is(${scopes.join(", ")})[data-stale="true"] ` +
                      "{ opacity: 1 !important; transition: none !important; }";
  document.head.appendChild(style);
}

function sendAhead(data) {
  holdFade(data);
  const around = new Set(Object.values(data.views));  // the view drawn in the same run is one of them
  const n = window.__aecfAhead ? window.__aecfAhead.n + 1 : 1;  // how many sets came (benchmarks/measure_app.py)
  window.__aecfAhead = { ...data, around, n };
  if (!window.__aecfAheadWatch) {
    window.__aecfAheadWatch = true;
    // a switch's label flips data-selected, a slider's input its aria-valuetext, in the render of the change
    new MutationObserver(showSentAhead).observe(document.body, { subtree: true, attributes: true,
                                                               attributeFilter: ["data-selected", "aria-valuetext"] });
  }
}

// The view's address (pages/parts/url.py): written here, so that Streamlit's client gets no message for it (on
// one it re-renders the whole app), and once the view rests: a history entry costs ~30 ms of the browser's CPU
// (its own process, the compositor and this page's), measured per click on Explore at ~125 ms in all, and a
// person exploring clicks every second or two. So one entry per view that stayed URL_REST_MS (Back goes back
// through the views that rested, not through every slider step), or at once when the address bar or Back may be
// next: the pointer leaves the page, the page loses focus or is hidden, a Ctrl/Cmd/Alt shortcut, F5, or the
// mouse's back button. A write pending when another page of the app is opened, or Back/Forward moved, is dropped.
const URL_REST_MS = 2000;
const urlState = { pending: null, timer: 0, writes: 0 };  // (writes: counted by tests/pages/test_browser.py)

function flushUrl() {
  clearTimeout(urlState.timer);
  const pending = urlState.pending;
  urlState.pending = null;
  if (pending === null || location.pathname !== pending.path) return;
  const url = pending.path + pending.search + location.hash;
  if (location.search !== pending.search) {
    urlState.writes += 1;
    history.pushState({}, "", url);
  }
}

function dropUrl() {
  clearTimeout(urlState.timer);
  urlState.pending = null;
}

function writeUrl(query) {
  if (!urlState.watching) {
    urlState.watching = true;
    window.__aecfUrl = urlState;
    window.addEventListener("blur", flushUrl);
    window.addEventListener("pagehide", flushUrl);
    window.addEventListener("popstate", dropUrl);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") flushUrl(); });
    document.documentElement.addEventListener("mouseleave", flushUrl);
    window.addEventListener("keydown", (e) => { if (e.ctrlKey || e.metaKey || e.altKey || e.key === "F5") flushUrl(); }, true);
    window.addEventListener("mousedown", (e) => { if (e.button === 3 || e.button === 4) flushUrl(); }, true);
  }
  urlState.pending = { path: location.pathname, search: query ? `?${query}` : "" };
  clearTimeout(urlState.timer);
  urlState.timer = setTimeout(flushUrl, URL_REST_MS);
}

export default function (component) {
  const { data, parentElement } = component;
  if (data !== null && typeof data === "object") {
    if (typeof data.url === "string") writeUrl(data.url);
    if (data.views) sendAhead(data);
    return;
  }
  let box = parentElement.querySelector(":scope > [data-html-block]");
  if (!box) {
    box = document.createElement("div");
    box.setAttribute("data-html-block", "");
    parentElement.appendChild(box);
  }
  box.removeAttribute("data-stale");
  document.body.removeAttribute("data-aecf-ahead-shown");  // the server's view: its own stale fade again
  if (box.__html === data) return;
  show(box, data);
}
"""
_HTML_CSS = """
[data-html-block] { font-family: "Source Sans", sans-serif; color: rgb(49, 51, 63); line-height: 1.6; }
[data-html-block] h3 { font-size: 1.75rem; font-weight: 600; line-height: 1.2; margin: 0 0 1rem 0; padding: 0.5rem 0 0 0; }
[data-html-block] h4 { font-size: 1.5rem; font-weight: 600; line-height: 1.2; margin: 0 0 1rem 0; padding: 0.75rem 0 0 0; }
[data-html-block] p { margin: 0 0 1rem 0; }
[data-html-block] > :last-child { margin-bottom: 0; }
[class*="st-key-sent_ahead_"], [class*="st-key-address_bar"] { display: none; }
[data-html-block][data-stale] { opacity: 0.45; transition: opacity 0.15s 0.05s; }
/* switches and sliders snap: a switch's 150 ms slide, or the 0.3 s fade of a slider's min/max labels when it takes
   the focus, is every frame of the whole pipeline (~40 ms of the browser's CPU for a switch's click) */
[data-testid="stCheckbox"] label *, [data-testid="stCheckbox"] label *::before,
[data-testid="stCheckbox"] label *::after, [data-testid="stSlider"] * { transition: none !important; }
"""
_html_component = None


def _component():
    global _html_component
    if _html_component is None:
        _html_component = st.components.v2.component(
            "aecf_html_block", js=_HTML_JS, css=_HTML_CSS, isolate_styles=False
        )
    return _html_component


def _free_key(key: str) -> str:
    """`key`, or `key_2`, ... if an element took it earlier in this script run: Streamlit runs fragment
    reruns that queued up (clicks faster than the server) one after the other in ONE script run, so a block
    each of them redraws into the same placeholder would otherwise be a duplicate key (the page's error)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

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
