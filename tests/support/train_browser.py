"""The Train page in a real browser as two people use it: A starts a run, B opens Train, A refreshes, A stops
it (or it finishes); how long after the run's end each page offers Start again, and whether B saw a Stop.
Used by tests/pages/test_browser.py and benchmarks/measure_train.py; `start_training` by the browser tests of
training on a dataset of one's own.

A page's moment is taken inside the page (Date.now() when its form first reads usable, checked every 20 ms),
the run's end from its status.json ("updated": when the final state was written); both are this machine's
clock.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.support.browser import wait_idle, wait_rerun

BUSY = "is training on this server now"  # aecf.app.training.busy_message
# the form can start a run: its button is enabled and no busy note is on the page
USABLE_JS = (
    "(() => { const b = [...document.querySelectorAll('button')]"
    ".find(e => e.innerText.trim() === 'Start training');"
    f" return !!b && !b.disabled && !document.body.innerText.includes({BUSY!r}); }})()"
)
HAS_STOP_JS = "[...document.querySelectorAll('button')].some(e => e.innerText.trim() === 'Stop')"
# from now on, in the page: when the form first reads usable, and whether a Stop button ever showed
FOLLOW_JS = (
    "() => { const w = window.__train = {usableAt: null, sawStop: false, sawBusy: false};"
    " if (window.__trainTick) clearInterval(window.__trainTick);"
    " window.__trainTick = setInterval(() => {"
    f"  if (w.usableAt === null && w.sawBusy && {USABLE_JS}) w.usableAt = Date.now();"
    f"  if (document.body.innerText.includes({BUSY!r})) w.sawBusy = true;"
    f"  if ({HAS_STOP_JS}) w.sawStop = true;"
    " }, 20); }"
)


def open_train(page, url: str) -> None:
    page.goto(f"{url}/train")
    page.get_by_text("Train a fusion layer").first.wait_for(timeout=90_000)
    wait_idle(page)


def start_training(page, method: str, epochs: int) -> None:
    """In the Train page's form (the one a dataset of one's own shows): pick the method, type the epochs, start."""
    form = page.locator('[data-testid="stForm"]')
    method_box = form.locator('[data-testid="stSelectbox"]').filter(has_text="Method")
    for _ in range(3):  # a redraw (the page follows the server every few seconds) may close the list
        method_box.click()
        try:
            page.get_by_role("option", name=method, exact=True).click(timeout=5_000)
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    wait_idle(page)
    assert method_box.get_by_role("combobox").input_value() == method
    box = form.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    box.fill(str(epochs))
    box.press("Tab")
    wait_rerun(page, lambda: page.get_by_role("button", name="Start training").click())


def set_epochs(page, key: str) -> str:
    """Move the Epochs slider to its start ("Home": 1) or end ("End": 20); returns the value it shows."""
    slider = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs")
    slider.get_by_role("slider").focus()
    page.keyboard.press(key)
    page.wait_for_timeout(200)
    return slider.locator('[data-testid="stSliderThumbValue"]').inner_text().strip()


def newest_run(runs_dir: Path) -> Path:
    return max((p for p in Path(runs_dir).iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)


def final_status(run_dir: Path, timeout_s: float = 300.0) -> dict:
    t0 = time.time()
    while time.time() - t0 < timeout_s:
        try:
            status = json.loads((run_dir / "status.json").read_text())
        except (OSError, ValueError):
            status = {}
        if status.get("state") not in (None, "running"):
            return status
        time.sleep(0.02)
    raise TimeoutError(f"{run_dir.name} still running after {timeout_s:.0f} s")


def usable_after(pages: dict, t_end: float, timeout_s: float) -> dict[str, float | None]:
    """Seconds from `t_end` to each page's usable form, for the pages that showed the run (a page that opened
    after it had ended never did: its entry is 0.0 if its form is usable now); None: not within timeout_s."""
    out: dict[str, float | None] = {}
    while len(out) < len(pages) and time.time() < t_end + timeout_s:
        for name, page in pages.items():
            if name in out:
                continue
            w = page.evaluate("() => window.__train")
            if w["usableAt"] is not None:
                out[name] = w["usableAt"] / 1000 - t_end
            elif not w["sawBusy"] and page.evaluate(f"() => {USABLE_JS}"):
                out[name] = 0.0
        time.sleep(0.05)
    return {name: out.get(name) for name in pages}


def two_viewers(a, b, url: str, runs_dir: Path, stop: bool, timeout_s: float = 15.0, mid_run=None) -> dict:
    """A (already on Train) starts a run — 20 epochs to stop it, else 1 to watch it finish —, B opens Train, A
    refreshes, A stops it (or it finishes). `mid_run(a, b)` runs while it trains (screenshots). Returns what
    happened: seconds from the run's end to each page's usable form, from the Stop click to the end, whether B
    ever saw a Stop button, and the final state."""
    a.wait_for_function(USABLE_JS, timeout=120_000)
    epochs = set_epochs(a, "End" if stop else "Home")
    a.get_by_role("button", name="Start training").click()
    a.wait_for_function(f"() => document.body.innerText.includes({BUSY!r})", timeout=60_000)
    run_dir = newest_run(runs_dir)
    open_train(b, url)
    b.evaluate(FOLLOW_JS)
    a.reload()
    a.get_by_text("Train a fusion layer").first.wait_for(timeout=60_000)
    wait_idle(a)
    a.evaluate(FOLLOW_JS)
    b_stop_at_open = b.evaluate(f"() => {HAS_STOP_JS}")
    if mid_run is not None and json.loads((run_dir / "status.json").read_text()).get("state") == "running":
        mid_run(a, b)
    t_click = None
    if stop:
        a.get_by_role("button", name="Stop").wait_for(timeout=30_000)
        t_click = time.time()
        a.get_by_role("button", name="Stop").click()
    status = final_status(run_dir)
    t_end = float(status["updated"])
    usable = usable_after({"A": a, "B": b}, t_end, timeout_s)
    return {
        "run": run_dir.name,
        "epochs": epochs,
        "state": status["state"],
        "usable_after_s": usable,
        "stop_to_end_s": None if t_click is None else t_end - t_click,
        "b_saw_stop": bool(b_stop_at_open or b.evaluate("() => window.__train.sawStop")),
        "b_saw_busy": bool(b.evaluate("() => window.__train.sawBusy")),
    }
