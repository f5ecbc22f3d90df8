"""Drive the real app in a real browser: start `streamlit run app.py` on a free local port, open Debian's
chromium through playwright, wait for reruns. Used by tests/pages/test_browser.py and benchmarks/measure_app.py.

Never downloads a browser (no `playwright install`): it uses the chromium on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from aecf.paths import ROOT

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


# every browser test module's marks: `-m browser` selects it, and it is skipped where Debian's chromium is absent
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(url: str, timeout: float = 60.0, proc: subprocess.Popen | None = None) -> float:
    """Poll <url>/_stcore/health until it answers 'ok'; returns the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return time.perf_counter() - t0
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy in {timeout:.0f} s")


@contextlib.contextmanager
def streamlit_server(
    port: int | None = None,
    env: dict | None = None,
    log_path: str | Path | None = None,
    timeout: float = 90.0,
    script: str | Path | None = None,
) -> Iterator[tuple[str, subprocess.Popen, float]]:
    """Start the app (or another Streamlit `script`); yields (url, process, seconds from launch to healthy).
    Stops it on exit."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(script or ROOT / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = open(log_path, "w") if log_path else subprocess.DEVNULL  # noqa: SIM115
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_healthy(url, timeout, proc)
        yield url, proc, time.perf_counter() - t0
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        if log_path:
            log.close()


def assets_env(app_assets: dict, runs: Path) -> dict[str, str]:
    """The AECF_APP_* variables of a server on the test assets (tests/conftest.py `app_assets`) and `runs`."""
    return {
        "AECF_APP_CHECKPOINT_DIR": str(app_assets["checkpoints"]),
        "AECF_APP_SAMPLES_DIR": str(app_assets["samples"]),
        "AECF_APP_FEATURE_DIR": str(app_assets["features"]),
        "AECF_APP_RESULTS_JSON": str(app_assets["results"]),
        "AECF_APP_RUNS_DIR": str(runs),
    }


@contextlib.contextmanager
def app_server(
    shots: Path, env: dict | None = None, log_name: str = "streamlit.log"
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`streamlit_server` with its log in the screenshots folder `shots` (made if missing); yields (url, process)."""
    shots.mkdir(parents=True, exist_ok=True)
    with streamlit_server(env=env, log_path=shots / log_name) as (url, proc, _healthy_s):
        yield url, proc


def new_page(browser, width: int = 1400, height: int = 900, timeout_ms: float = 60_000, **options):
    """A fresh context (`options`: more of new_context's) and a page in it at width×height: (context, page)."""
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    page = context.new_page()
    page.set_default_timeout(timeout_ms)
    return context, page


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("chromium not found on PATH (Debian package `chromium`)")
    return path


def launch_args(fake_audio: str | Path | None = None) -> list[str]:
    args = list(CHROMIUM_ARGS)
    if fake_audio is not None:
        args += [
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={fake_audio}",
        ]
    return args


def wait_idle(page, timeout_ms: float = 60_000, settle_ms: int = 0) -> None:
    """Wait until the script run triggered by the last interaction has finished."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout_ms)
    if settle_ms:
        page.wait_for_timeout(settle_ms)


_WATCH_RERUN_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  window.__rerun = {saw: false, done: false};
  if (window.__rerunObserver) window.__rerunObserver.disconnect();
  window.__rerunObserver = new MutationObserver(() => {
    const state = app.getAttribute('data-test-script-state');
    if (state === 'running') window.__rerun.saw = true;
    else if (state === 'notRunning' && window.__rerun.saw) window.__rerun.done = true;
  });
  window.__rerunObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
}"""


def wait_url(page, *parts: str, timeout_ms: float = 10_000) -> str:
    """The page's URL once it holds every one of `parts` (the page writes its address after the view it
    draws: pages/parts/url.py), or an AssertionError naming what it holds."""
    try:
        page.wait_for_function(
            "parts => parts.every(p => location.href.includes(p))",
            arg=list(parts),
            polling=20,
            timeout=timeout_ms,
        )
    except Exception as exc:
        raise AssertionError(f"{page.url} does not hold {parts}") from exc
    return page.url


def wait_rerun(
    page, action, until_js: str | None = None, change_js: str | None = None, timeout_ms: float = 60_000
) -> float:
    """Run `action` (a click, a key press) and wait for the view it causes; returns the seconds taken.

    Say what the new view looks like, either `until_js` (a JS expression that becomes true) or
    `change_js` (a JS expression whose value must change), and the wait ends — polled every 5 ms — when
    that holds and the script is idle: the moment the person sees the new view. (A fast rerun may never
    show the 'running' state in the DOM: React batches running -> notRunning into one render.) Without
    either, it waits for a 'running' state seen by a MutationObserver, or 1 s, then for idle."""
    idle = '!!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')'
    before = page.evaluate(f"() => JSON.stringify({change_js})") if change_js else None
    page.evaluate(_WATCH_RERUN_JS)
    t0 = time.perf_counter()
    action()
    if until_js is None and change_js is None:
        with contextlib.suppress(Exception):
            page.wait_for_function("() => window.__rerun.saw", polling=5, timeout=1000)
        page.wait_for_function(f"() => {idle}", polling=5, timeout=timeout_ms)
        return time.perf_counter() - t0
    cond = [idle]
    if until_js:
        cond.append(f"({until_js})")
    if change_js:
        cond.append(f"JSON.stringify({change_js}) !== {json.dumps(before)}")
    page.wait_for_function("() => " + " && ".join(cond), polling=5, timeout=timeout_ms)
    return time.perf_counter() - t0


# How many sets of views sent ahead the Explore page's browser side has received (pages/parts/ui.py): one
# comes at the end of every redraw of the results, so a change of it means the server's redraw is done.
SENT_AHEAD_JS = "(window.__aecfAhead ? window.__aecfAhead.n : 0)"


IN_PAGE_JS = """(cond) => {
  // in the page itself: the last press (pointer or key) and the first DOM change after it that makes cond true;
  // `release`: the browser's own time stamp of the input that acts (a click's pointerup, a key's keydown);
  // `stamp`: the browser's own time stamp of the press (pointerdown, keydown), taken when the input was made,
  // so the time it waited for a busy page counts; `painted`: once the frame that shows the view has been
  // painted (the next animation frame after the change, then a task after that frame)
  const w = window.__inPage = {input: null, view: null, release: null, stamp: null, painted: null};
  const test = new Function("return (" + cond + ");");
  if (!window.__inPageInput) {
    window.__inPageInput = true;
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, (e) => {
        if (window.__inPage) { window.__inPage.input = performance.now(); window.__inPage.stamp = e.timeStamp; }
      }, true);
    }
    for (const type of ["pointerup", "keydown"]) {
      document.addEventListener(type, (e) => { if (window.__inPage) window.__inPage.release = e.timeStamp; }, true);
    }
  }
  if (window.__inPageObserver) window.__inPageObserver.disconnect();
  window.__inPageObserver = new MutationObserver(() => {
    if (w.input !== null && w.view === null && test()) {
      w.view = performance.now();
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => { w.painted = performance.now(); };
        channel.port2.postMessage(0);
      });
    }
  });
  window.__inPageObserver.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


# Wait inside the page for a condition, woken by the page's own changes instead of polling it (a
# wait_for_function polled every 10 ms in ten pages is CPU the pages being measured then lack): the condition
# is tested once per animation frame after the DOM changed, and every 100 ms for changes that are not in the
# DOM (a counter in window). Resolves with performance.now() when it holds; rejects after the timeout.
WAIT_IN_PAGE_JS = """([cond, timeoutMs]) => new Promise((resolve, reject) => {
  const test = new Function("return (" + cond + ");");
  if (test()) return resolve(performance.now());
  let frame = 0;
  const done = () => { obs.disconnect(); clearInterval(tick); clearTimeout(timer); if (frame) cancelAnimationFrame(frame); };
  const check = () => { frame = 0; if (test()) { done(); resolve(performance.now()); } };
  const obs = new MutationObserver(() => { if (!frame) frame = requestAnimationFrame(check); });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true, attributes: true});
  const tick = setInterval(check, 100);
  const timer = setTimeout(() => { done(); reject(new Error("timed out waiting for " + cond)); }, timeoutMs);
})"""


def wait_view(
    page,
    action,
    until_js: str | None = None,
    change_js: str | None = None,
    settled_js: str = SENT_AHEAD_JS,
    timeout_ms: float = 60_000,
) -> tuple[float, float, float | None]:
    """Like `wait_rerun`, but three times (s): until the new view is on screen (the condition holds, whatever
    the server is doing), until the server's redraw has also finished (`settled_js` changed and the script is
    idle), and, measured inside the page, from the press itself (pointerdown or keydown) to the DOM change
    that showed the new view (None if not caught): the first two include the automation's own time (a
    playwright click checks the element for tens of ms before it presses). On a page that shows views sent
    ahead the first can come before the server has even started; on any other page the first two are the
    same moment."""
    idle = '!!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')'
    before = page.evaluate(f"() => JSON.stringify({change_js})") if change_js else None
    settled_before = page.evaluate(f"() => JSON.stringify({settled_js})")
    cond = []
    if until_js:
        cond.append(f"({until_js})")
    if change_js:
        cond.append(f"JSON.stringify({change_js}) !== {json.dumps(before)}")
    shown = " && ".join(cond or ["true"])
    page.evaluate(IN_PAGE_JS, shown)
    t0 = time.perf_counter()
    action()
    page.wait_for_function("() => " + shown, polling=5, timeout=timeout_ms)
    t_view = time.perf_counter() - t0
    page.wait_for_function(
        f"() => {idle} && JSON.stringify({settled_js}) !== {json.dumps(settled_before)}",
        polling=5,
        timeout=timeout_ms,
    )
    t_settled = time.perf_counter() - t0
    in_page = page.evaluate(
        "() => window.__inPage.view !== null && window.__inPage.input !== null"
        " ? (window.__inPage.view - window.__inPage.input) / 1000 : null"
    )
    return t_view, t_settled, in_page


VIEW_SIGNATURE_JS = (
    '[...document.querySelectorAll(\'[data-testid="stMetricValue"], [data-metric-value], [data-testid="stImage"] img\')]'
    ".map(e => e.tagName === 'IMG' ? e.src : e.innerText).join('|')"
)


def metric_value_js(label: str) -> str:
    """JS expression: the value of the metric whose label contains `label` ('' if none): an st.metric, or
    a metric card of the Explore page (aecf.figures.app.metric_cards_html: data-metric=<label>)."""
    return (
        "(() => { for (const m of document.querySelectorAll('[data-metric]')) {"
        f" if (m.getAttribute('data-metric').includes({label!r})) {{ const v = m.querySelector('[data-metric-value]');"
        " return v ? v.innerText : ''; } }"
        " for (const m of document.querySelectorAll('[data-testid=\"stMetric\"]')) {"
        f" if (m.innerText.includes({label!r})) {{ const v = m.querySelector('[data-testid=\"stMetricValue\"]');"
        " return v ? v.innerText : ''; } } return ''; })()"
    )
