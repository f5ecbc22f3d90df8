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
  if (box.__html === html) return;  // already on screen (a widget settling as the page mounts): nothing to hold
  show(box, html);
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
