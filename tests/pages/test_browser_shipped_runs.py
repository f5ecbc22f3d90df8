"""The example dataset's views on a fresh clone, in a real browser at 1400×900: with an empty runs folder, Explore,
Subsets & calibration and Curriculum on mfeat show its shipped runs (a prediction, the accuracy-vs-drop chart, the
schedule), nothing cut, too small or overlapping. Screenshots in test-artifacts/shipped-runs/."""

from __future__ import annotations

import pytest

from aecf.paths import ROOT
from tests.support.browser import app_server, new_page
from tests.support.layout import SVG_MIN_PX, problems_of

SHOTS = ROOT / "test-artifacts" / "shipped-runs"
QUERY = "data=example%3Amfeat"
VIEWS = {  # view -> (path and query, what shows that it has content)
    "explore": (f"explore?{QUERY}", '[data-testid="explore-headline"]'),
    "subsets": (f"subsets?{QUERY}", '[data-testid="stPlotlyChart"]:has-text("Accuracy vs drop rate")'),
    "curriculum": (
        f"curriculum?{QUERY}&tab=During+training",
        '[data-testid="stPlotlyChart"]:has-text("curriculum vs flat")',
    ),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("empty-runs")  # a fresh clone: nobody has trained anything
    with app_server(SHOTS, {"AECF_APP_RUNS_DIR": str(runs)}) as (url, _proc):
        yield url


def test_the_example_views_show_the_shipped_runs_from_an_empty_runs_folder(browser, server):
    from tests.pages.test_browser_layout import _full_shot, _open
    from tests.support.layout import LAYOUT_PROBLEMS_JS

    context, page = new_page(browser)
    problems = []
    try:
        for view, (path, content) in VIEWS.items():
            _open(page, f"{server}/{path}")
            found = page.evaluate(LAYOUT_PROBLEMS_JS, [16, SVG_MIN_PX[1400]])
            page.screenshot(path=str(SHOTS / f"{view}_1400.png"))
            _full_shot(page, SHOTS / f"{view}_1400_full.png")
            assert page.locator(content).count(), f"{view}: no content"
            text = page.evaluate(  # the page's text and its inputs' values (a selectbox shows its pick in one)
                "() => document.body.innerText + [...document.querySelectorAll('input')].map(i => i.value)"
                ".join(' ')"
            )
            assert "No run has" not in text, f"{view}: says no run yet"
            assert "shipped: aecf" in text, f"{view}: the shipped aecf is not named"
            problems += [f"{view}: {p}" for p in problems_of(found)]
    finally:
        context.close()
    assert not problems, "\n".join(problems)
