"""Measure the app's two speed targets in a real browser (Debian chromium via playwright):

  cold start   launch `streamlit run app.py` -> the Home page is drawn and idle (target ≤ 15 s),
               and -> the Explore page shows its first prediction (model loaded);
  redraw       on Explore, after the first load: toggle a modality / move a slider -> the new view is
               drawn (the metric shows the new value and the script is idle); target ≤ 1.5× the same
               toggle on a two-widget app measured in the same run (printed as ratio_to_reference).

    .venv/bin/python benchmarks/measure_app.py [--repeats 8] [--screenshots test-artifacts/measure]

Times are wall-clock from the click (a playwright click, itself ~30-60 ms) to the moment the new view is on
screen (polled every 5 ms); `settled` adds the wait until the server's redraw is done too and the script is
idle. Explore sends the views one click away ahead (pages/parts/ui.py, `instant_views`), so its new view is
often on screen before the server has even started; on the reference the two are the same moment. The toggle
is measured a second time with a bare mouse click at the switch (`toggle_redraw_bare_click`,
`ratio_to_reference.toggle_bare_click`): playwright's click waits for the switch to be stable over two
animation frames and hit-tests it first (tens of ms, more on a bigger page). `press_to_view_in_page` is timed
inside the page, from the press itself (pointerdown / keydown) to the DOM change that showed the new view: no
automation in it, and `press_to_view_ratio_to_reference` compares it with the same on the reference.
The same toggle on a two-element app is measured too ("reference"): Streamlit's
own floor on this machine at that moment, so numbers taken on a busy machine can be read fairly.
On a machine shared with other jobs that floor still moves between runs (we saw the same code at 1.7x and
2.8x within minutes), so the browser's own work per redraw is printed too (`browser_task_ms`: the main
thread's busy time from Chrome's Performance metrics, the script, style, layout and paint of the redraw):
it does not count time spent waiting for a CPU, so it shows what a change saves even on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.browser import (  # noqa: E402
    SENT_AHEAD_JS,
    VIEW_SIGNATURE_JS,
    chromium_path,
    launch_args,
    metric_value_js,
    streamlit_server,
    wait_idle,
    wait_rerun,
    wait_view,
)


class _BrowserWork:
    """Chrome's main-thread busy time (ms) of the page between `start()` and `stop()` (CDP Performance)."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Performance.enable")
        self.ms: list[float] = []

    def _task_s(self) -> float:
        return next(
            m["value"]
            for m in self.cdp.send("Performance.getMetrics")["metrics"]
            if m["name"] == "TaskDuration"
        )

    def timed(self, fn):
        t0 = self._task_s()
        out = fn()
        self.ms.append(1000 * (self._task_s() - t0))
        return out

    def median(self) -> float:
        return round(statistics.median(self.ms), 1) if self.ms else float("nan")


def _summary(xs: list[float]) -> dict:
    ms = sorted(1000 * x for x in xs)
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 1),
        "p90_ms": round(ms[int(0.9 * (len(ms) - 1))], 1),
        "max_ms": round(ms[-1], 1),
        "all_ms": [round(m, 1) for m in ms],
    }


def toggle_series(
    page,
    toggle,
    used_js: str,
    repeats: int,
    bare: bool = False,
    settled_js: str | None = None,
    values: tuple[str, str] = ("caption + audio", "image + caption + audio"),
) -> dict:
    """`repeats` toggles, alternating off/on (the toggle starts on): their redraw times and browser work.
    `values`: what `used_js` reads with the toggle off, then on (the digits Explore's "Modalities used").

    bare: a plain mouse click at the switch (what a person's click is) instead of playwright's
    `locator.click`, whose actionability checks (visible, stable over two animation frames, hit-target
    test) add ~40 ms to every click on both apps, which brings any ratio closer to 1.
    The redraw is the new view on screen; `settled` adds the wait until the server's redraw is also done
    (`settled_js` changed and the script idle; by default the view itself, as on a page that draws
    everything through the server)."""
    if bare:
        box = toggle.bounding_box()
        x, y = box["x"] + 12, box["y"] + box["height"] / 2
        click = lambda: page.mouse.click(x, y)  # noqa: E731
    else:
        click = toggle.click
    views, settled, in_page, work = [], [], [], _BrowserWork(page)
    for i in range(repeats + repeats % 2):  # an even count: the toggle ends on, as it started
        want = values[0] if i % 2 == 0 else values[1]
        view, done, press = work.timed(
            lambda w=want: wait_view(page, click, f"{used_js} === {w!r}", settled_js=settled_js or used_js)
        )
        views.append(view)
        settled.append(done)
        in_page += [] if press is None else [press]
    return _summary(views) | {
        "browser_task_ms": work.median(),
        "settled": _summary(settled),
        "press_to_view_in_page": _summary(in_page) if in_page else None,
    }


def measure(repeats: int = 10, screenshots: Path | None = None, log: Path | None = None) -> dict:
    out: dict = {}
    t_launch = time.perf_counter()
    with streamlit_server(log_path=log) as (url, _proc, healthy_s):
        out["server_healthy_s"] = round(healthy_s, 2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_text("AECF Explorer", exact=False).first.wait_for(timeout=60_000)
            wait_idle(page)
            out["cold_start_home_s"] = round(time.perf_counter() - t_launch, 2)
            t0 = time.perf_counter()
            page.goto(f"{url}/explore")
            page.get_by_text("Prediction:", exact=False).first.wait_for(timeout=120_000)
            wait_idle(page)
            out["first_explore_s"] = round(time.perf_counter() - t0, 2)
            out["cold_start_explore_s"] = round(time.perf_counter() - t_launch, 2)
            if screenshots:
                screenshots.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(screenshots / "explore_first.png"), full_page=True)

            used = metric_value_js("Modalities used")
            toggle = page.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first
            # warm both states once (first visit of a state computes its embeddings)
            for want in ("caption + audio", "image + caption + audio"):
                wait_rerun(page, toggle.click, f"{used} === {want!r}")
            out["toggle_redraw"] = toggle_series(page, toggle, used, repeats, settled_js=SENT_AHEAD_JS)
            out["toggle_redraw_bare_click"] = toggle_series(
                page, toggle, used, repeats, bare=True, settled_js=SENT_AHEAD_JS
            )

            # slider: image corruption, moved by keyboard; each step is a new view (a new embedding)
            slider = (
                page.locator('[data-testid="stSlider"]')
                .filter(has_text="Image corruption")
                .get_by_role("slider")
            )
            slider.focus()
            sliders, settled, in_page, work = [], [], [], _BrowserWork(page)
            for _ in range(repeats):
                # the results' numbers change on screen (from a view sent ahead, or from the server's redraw);
                # settled: the server's redraw done too (the caption under the slider is written by it)
                view, done, press = work.timed(
                    lambda: wait_view(
                        page, lambda: page.keyboard.press("ArrowRight"), change_js=VIEW_SIGNATURE_JS
                    )
                )
                sliders.append(view)
                settled.append(done)
                in_page += [] if press is None else [press]
            out["slider_redraw_new_view"] = _summary(sliders) | {
                "browser_task_ms": work.median(),
                "settled": _summary(settled),
                "press_to_view_in_page": _summary(in_page) if in_page else None,
            }
            if screenshots:
                page.screenshot(path=str(screenshots / "explore_after.png"), full_page=True)
            browser.close()
    return out


REFERENCE_APP = """import streamlit as st
on = st.toggle("Image", True)
st.metric("Modalities used", "image + caption + audio" if on else "caption + audio")
"""


def measure_reference(repeats: int = 10) -> dict:
    """The same toggle on a two-element app: Streamlit's own floor on this machine right now."""
    with tempfile.TemporaryDirectory() as tmp:
        app = Path(tmp) / "reference.py"
        app.write_text(REFERENCE_APP)
        with streamlit_server(script=app, timeout=60) as (url, _proc, _healthy_s), sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("Modalities used").wait_for()
            wait_idle(page)
            used = metric_value_js("Modalities used")
            toggle = page.locator('[data-testid="stCheckbox"]').first
            toggle_series(page, toggle, used, 2)  # warm-up
            out = toggle_series(page, toggle, used, repeats)
            out["bare_click"] = toggle_series(page, toggle, used, repeats, bare=True)
            browser.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--screenshots", type=Path, default=None)
    ap.add_argument("--log", type=Path, default=None, help="streamlit's output (default: discarded)")
    args = ap.parse_args(argv)
    res = measure(args.repeats, args.screenshots, args.log)
    res["reference_toggle_two_element_app"] = measure_reference(args.repeats)
    ref = res["reference_toggle_two_element_app"]["median_ms"]
    res["ratio_to_reference"] = {  # target: <= 1.5 for a toggle and a slider step
        "toggle": round(res["toggle_redraw"]["median_ms"] / ref, 2),
        "slider": round(res["slider_redraw_new_view"]["median_ms"] / ref, 2),
        # the same toggle clicked with a bare mouse click on both apps (toggle_series: no playwright checks)
        "toggle_bare_click": round(
            res["toggle_redraw_bare_click"]["median_ms"]
            / res["reference_toggle_two_element_app"]["bare_click"]["median_ms"],
            2,
        ),
    }
    ref_press = res["reference_toggle_two_element_app"]["bare_click"]["press_to_view_in_page"]
    if ref_press:  # from the press to the new view, timed inside the page (no automation in it)
        res["press_to_view_ratio_to_reference"] = {
            name: round(res[key]["press_to_view_in_page"]["median_ms"] / ref_press["median_ms"], 2)
            for name, key in (
                ("toggle", "toggle_redraw"),
                ("toggle_bare_click", "toggle_redraw_bare_click"),
                ("slider", "slider_redraw_new_view"),
            )
            if res[key]["press_to_view_in_page"]
        }
    res["settled_ratio_to_reference"] = {  # the same, until the server's redraw is done too
        "toggle": round(res["toggle_redraw"]["settled"]["median_ms"] / ref, 2),
        "slider": round(res["slider_redraw_new_view"]["settled"]["median_ms"] / ref, 2),
        "toggle_bare_click": round(
            res["toggle_redraw_bare_click"]["settled"]["median_ms"]
            / res["reference_toggle_two_element_app"]["bare_click"]["median_ms"],
            2,
        ),
    }
    ref_work = res["reference_toggle_two_element_app"]["browser_task_ms"]
    res["browser_task_ratio_to_reference"] = {  # the same ratio of the browser's own work (no CPU queueing)
        "toggle": round(res["toggle_redraw"]["browser_task_ms"] / ref_work, 2),
        "slider": round(res["slider_redraw_new_view"]["browser_task_ms"] / ref_work, 2),
    }
    res["load_average"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
