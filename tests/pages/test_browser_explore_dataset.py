"""Explore on a dataset of one's own in a real browser: mfeat (6 modalities) with a short run on it. A switch on
test example #k shows its new view at once (sent ahead), the server's redraw agrees and the address bar follows;
at 1400×900 and 1920×1080 nothing is cut or too small, and the switches, the prediction, H(p), λ(x) and the
gate are on the first screen. Screenshots go to test-artifacts/explore_dataset/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_explore_dataset.py
"""

from __future__ import annotations

import pytest

from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server, new_page
from tests.support.layout import SIZE_IDS, SIZES, SVG_MIN_PX, problems_of

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "explore_dataset"
EXAMPLE = 145
QUERY = f"data=example:mfeat&i={EXAMPLE}"

# the bottom of each part the first screen must show (px from the top of the viewport)
FIRST_SCREEN_JS = r"""() => {
  const bottom = (el) => el ? el.getBoundingClientRect().bottom : null;
  const found = {};
  document.querySelectorAll('.st-key-dx_switches [data-testid="stCheckbox"]')
    .forEach((el, i) => { found[`switch ${el.innerText.trim() || i}`] = bottom(el); });
  found["prediction"] = bottom(document.querySelector('[data-testid="explore-headline"]'));
  for (const m of document.querySelectorAll('[data-metric]')) {
    const label = m.getAttribute('data-metric');
    if (label.startsWith('Gate entropy') || label.startsWith('λ(x)')) found[label] = bottom(m);
  }
  const gate = [...document.querySelectorAll('.aecf-row:first-child .aecf-side [data-bar]')];
  found["gate (last bar)"] = gate.length ? bottom(gate[gate.length - 1]) : null;
  return {found, height: window.innerHeight};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    import torch

    from aecf.app import datasets as D
    from tests.support.dataset_runs import train_run

    torch.set_num_threads(1)
    runs = tmp_path_factory.mktemp("explore-dataset-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(runs))
        train_run(D.resolve("example:mfeat"), "aecf", epochs=3, run_id="aecf-mfeat")
    with app_server(SHOTS, {"AECF_APP_RUNS_DIR": str(runs)}) as (url, proc):
        PROC[url] = proc
        yield url


PROC: dict = {}


def _open(browser, url: str, width: int, height: int):
    from tests.support.browser import SENT_AHEAD_JS, wait_idle

    context, page = new_page(browser, width, height)
    page.goto(url)
    page.locator('[data-testid="explore-headline"]').first.wait_for(timeout=120_000)
    wait_idle(page)
    page.wait_for_function(f"() => {SENT_AHEAD_JS} > 0")
    return context, page


def _used(page) -> str:
    from tests.support.browser import metric_value_js

    return page.evaluate(f"() => {metric_value_js('Modalities used')}")


def test_a_switch_on_example_k_shows_its_view_at_once_and_the_link_follows(browser, server):
    import os
    import signal

    from tests.support.browser import metric_value_js, wait_idle, wait_url

    context, page = _open(browser, f"{server}/explore?{QUERY}", 1400, 900)
    try:
        switches = page.locator('.st-key-dx_switches [data-testid="stCheckbox"]')
        assert switches.all_inner_texts() == ["fou", "fac", "kar", "pix", "zer", "mor"]
        assert _used(page) == "6 of 6"
        assert page.evaluate(f"() => {metric_value_js('Test example')}") == f"#{EXAMPLE} of 300"
        results = page.locator(".st-key-explore_dataset_results [data-html-block]")
        before = results.inner_text()
        proc = PROC[server]
        os.kill(proc.pid, signal.SIGSTOP)  # the server frozen: only a view sent ahead can show the switch
        try:
            switches.filter(has_text="mor").click()
            page.wait_for_function(f"() => {metric_value_js('Modalities used')} === '5 of 6'", timeout=5_000)
            switched = results.inner_text()
        finally:
            os.kill(proc.pid, signal.SIGCONT)
        assert "mor: off, p = 0" in switched and switched != before
        wait_idle(page)
        page.wait_for_timeout(1000)
        wait_idle(page)
        assert results.inner_text() == switched  # the server's redraw is the view sent ahead
        assert results.get_attribute("data-stale") is None
        url = wait_url(page, "off=mor", f"i={EXAMPLE}", "data=example%3Amfeat", "run=aecf-mfeat")
        assert not page.locator('[data-testid="stAlertContentError"]').count()
        page.screenshot(path=str(SHOTS / "switched_mor_1400.png"))
    finally:
        context.close()
    # the link reproduces the view
    context, page = _open(browser, url, 1400, 900)
    try:
        assert _used(page) == "5 of 6"
        assert page.locator(".st-key-explore_dataset_results [data-html-block]").inner_text() == switched
    finally:
        context.close()


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_readable_at_both_sizes_with_the_first_screen_complete(browser, server, width, height):
    from tests.support.layout import LAYOUT_PROBLEMS_JS

    context, page = _open(browser, f"{server}/explore?{QUERY}", width, height)
    try:
        page.wait_for_timeout(500)
        seen = page.evaluate(FIRST_SCREEN_JS)
        found = page.evaluate(LAYOUT_PROBLEMS_JS, [16, SVG_MIN_PX[width]])
        page.screenshot(path=str(SHOTS / f"explore_mfeat_{width}.png"))
        full = page.evaluate("() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight")
        page.set_viewport_size({"width": width, "height": min(8000, full + 40)})
        page.wait_for_timeout(500)
        page.screenshot(path=str(SHOTS / f"explore_mfeat_{width}_full.png"))
    finally:
        context.close()
    problems = problems_of(found)
    assert not problems, "\n".join(problems)
    parts = seen["found"]
    assert sum(name.startswith("switch ") for name in parts) == 6
    assert {"prediction", "Gate entropy H(p)", "λ(x)", "gate (last bar)"} <= set(parts), parts
    below = {name: b for name, b in parts.items() if b is None or b > seen["height"]}
    assert not below, f"below the first screen ({seen['height']} px): {below}"
