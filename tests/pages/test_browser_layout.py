"""Readable on a projector, in a real browser at 1400×900 and 1920×1080: no title, axis title, legend, table
column or label cut on any page (every tab included), chart text at 16 px or more (inline SVGs at 16 px at
1920), and Explore's switches, prediction, H(p), λ(x) and gate on the first screen. Screenshots of every view
go to test-artifacts/layout/ (the screen as seen, and the whole page).

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_layout.py
"""

from __future__ import annotations

import pytest

from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server, assets_env, new_page
from tests.support.layout import SIZE_IDS, SIZES, SVG_MIN_PX, problems_of

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "layout"
# each page of the app, and the tabs a reader opens on it
PAGES = {
    "": [None],
    "explore": [None, "Each modality alone, and what the model sees"],  # (an expander, opened like a tab)
    "subsets": ["vs drop rate", "per subset", "reliability diagrams", "monotonicity", "mechanisms"],
    "curriculum": ["On the test split", "During training", "Simulator"],
    "train": [None],
    "lessons": [None],
}


@pytest.fixture(scope="module")
def server(app_assets, tmp_path_factory):
    env = {
        **assets_env(app_assets, tmp_path_factory.mktemp("layout-runs")),
        # the shipped results: all twelve methods, the longest names and the widest tables the page shows
        "AECF_APP_RESULTS_JSON": str(ROOT / "results" / "results.json"),
    }
    with app_server(SHOTS, env) as (url, _proc):
        yield url


def _open(page, url: str) -> None:
    from tests.support.browser import wait_idle

    page.goto(url)
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
    wait_idle(page)
    _settle(page)


def _settle(page) -> None:
    """Wait for the script run and for every plotly chart and html block on screen to be drawn."""
    from tests.support.browser import wait_idle

    wait_idle(page)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stPlotlyChart\"]')]"
        ".filter(c => c.getBoundingClientRect().width > 0).every(c => c.querySelector('svg.main-svg'))",
        timeout=60_000,
    )
    page.wait_for_timeout(600)  # plotly's automargins redraw once after the first draw
    wait_idle(page)


def _full_shot(page, path) -> None:
    """The whole page: Streamlit scrolls inside its main area, so grow the window to its height."""
    size = page.viewport_size
    height = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": min(8000, max(size["height"], height + 40))})
    page.wait_for_timeout(500)
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
    page.wait_for_timeout(300)


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_nothing_is_cut_and_chart_text_reads_on_a_projector(browser, server, width, height):
    from tests.support.layout import LAYOUT_PROBLEMS_JS

    context, page = new_page(browser, width, height)
    problems, smallest = [], {}
    try:
        for path, tabs in PAGES.items():
            _open(page, f"{server}/{path}")
            for tab in tabs:
                view = (path or "home") + (f"_{tab.split(',')[0].replace(' ', '-')}" if tab else "")
                if tab:
                    if page.get_by_role("tab", name=tab).count():
                        page.get_by_role("tab", name=tab).click()
                    else:
                        page.get_by_text(tab, exact=True).click()
                    _settle(page)
                found = page.evaluate(LAYOUT_PROBLEMS_JS, [16, SVG_MIN_PX[width]])
                page.screenshot(path=str(SHOTS / f"{view}_{width}.png"))
                _full_shot(page, SHOTS / f"{view}_{width}_full.png")
                problems += [f"{view}: {p}" for p in problems_of(found)]
                smallest[view] = (found["smallestChartPx"], found["smallestSvgPx"])
    finally:
        context.close()
    print(f"smallest chart / inline-SVG text at {width}×{height} (px):", smallest)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_explore_shows_the_switches_and_what_they_change_on_the_first_screen(browser, server, width, height):
    from tests.support.layout import EXPLORE_FIRST_SCREEN_JS

    context, page = new_page(browser, width, height)
    try:
        _open(page, f"{server}/explore")
        page.get_by_text("Prediction:").first.wait_for()
        seen = page.evaluate(EXPLORE_FIRST_SCREEN_JS)
        page.screenshot(path=str(SHOTS / f"explore_first_screen_{width}.png"))
    finally:
        context.close()
    found = seen["found"]
    print(f"bottom of each part at {width}×{height} (px):", found)
    assert seen["switches"] == 3
    assert {"prediction", "Gate entropy H(p)", "λ(x)", "gate (last bar)"} <= set(found), found
    below = {name: bottom for name, bottom in found.items() if bottom is None or bottom > seen["height"]}
    assert not below, f"below the first screen ({seen['height']} px): {below}"
