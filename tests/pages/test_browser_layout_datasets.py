"""Subsets & calibration and Curriculum masking on the 6-modality mfeat example, in a real browser at 1400×900
and 1920×1080: every tab with runs trained on it (AECF, late fusion, ModDrop), nothing cut, chart text at
16 px or more. Screenshots go to test-artifacts/layout-datasets/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_layout_datasets.py
"""

from __future__ import annotations

import pytest

from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server, new_page
from tests.support.layout import SIZE_IDS, SIZES, problems_of

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "layout-datasets"
QUERY = "data=example%3Amfeat"
PAGES = {
    "subsets": ["vs drop rate", "per subset", "reliability diagrams", "monotonicity", "mechanisms"],
    "curriculum": ["On the test split", "During training", "Simulator"],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from aecf.app import datasets as D
    from tests.support.dataset_runs import train_runs

    runs = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(runs))
        train_runs(D.resolve("example:mfeat"), runs, ("aecf", "late_fusion", "moddrop"), epochs=8)
    with app_server(SHOTS, {"AECF_APP_RUNS_DIR": str(runs)}) as (url, _proc):
        yield url


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_the_dataset_views_are_not_cut_and_read_on_a_projector(browser, server, width, height):
    from tests.pages.test_browser_layout import _full_shot, _open, _settle
    from tests.support.layout import LAYOUT_PROBLEMS_JS

    context, page = new_page(browser, width, height)
    problems, smallest = [], {}
    try:
        for path, tabs in PAGES.items():
            _open(page, f"{server}/{path}?{QUERY}")
            assert page.get_by_text("6 modalities (fou, fac, kar, pix, zer, mor)").count(), "the dataset view"
            for tab in tabs:
                page.get_by_role("tab", name=tab).click()
                _settle(page)
                if tab == "per subset":  # the subsets evaluated one by one, opened as a reader would
                    page.get_by_text("The subsets evaluated one by one").click()
                    _settle(page)
                view = f"{path}_{tab.split(',')[0].replace(' ', '-')}"
                found = page.evaluate(LAYOUT_PROBLEMS_JS, [16, 16])
                page.screenshot(path=str(SHOTS / f"{view}_{width}.png"))
                _full_shot(page, SHOTS / f"{view}_{width}_full.png")
                problems += [f"{view}: {p}" for p in problems_of(found)]
                smallest[view] = found["smallestChartPx"]
    finally:
        context.close()
    print(f"smallest chart text at {width}×{height} (px):", smallest)
    assert not problems, "\n".join(problems)
    assert all(px is None or px >= 16 for px in smallest.values()), smallest


def test_the_downloads_arrive_whole(browser, server, tmp_path):
    """The figures zip is built when clicked (on a server thread, PNGs through kaleido) and arrives whole."""
    import io
    import json
    import zipfile

    from tests.pages.test_browser_layout import _open

    context, page = new_page(browser, timeout_ms=120_000, accept_downloads=True)
    try:
        _open(page, f"{server}/subsets?{QUERY}")
        with page.expect_download() as got:
            page.get_by_role("button", name="Evaluation (JSON)").click()
        evaluation = json.loads(got.value.path().read_text())
        assert len(evaluation["methods"]) == 3 and evaluation["meta"]["modalities"][0] == "fou"
        with page.expect_download() as got:
            page.get_by_role("button", name="Figures (zip: HTML + PNG)").click()
        blob = got.value.path().read_bytes()
        assert got.value.suggested_filename == "mfeat-figures.zip"
    finally:
        context.close()
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = zf.namelist()
        print("figures zip:", len(blob), "bytes;", names)
        assert "figures.html" in names and "evaluation.json" in names
        assert any(n.endswith(".png") for n in names) or "png/NOT-MADE.txt" in names
