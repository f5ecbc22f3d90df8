"""The six lessons walked in a real browser, in one tab, through the guided bar: Start, then Next on every step,
then back to the lessons. Runs the app on the shipped checkpoints and results (the claims are about them).
Screenshots of the walk go to test-artifacts/browser/lessons/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_lessons.py
"""

from __future__ import annotations

import re

import pytest

from aecf import paths
from aecf.app import lessons as L
from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server

pytestmark = [
    *BROWSER_MARKS,
    pytest.mark.skipif(
        not ((paths.fusion_dir() / "aecf.safetensors").exists() and paths.results_json().exists()),
        reason="the shipped checkpoints and results/results.json are part of the repo",
    ),
]

SHOTS = ROOT / "test-artifacts" / "browser" / "lessons"
SIZES = {"1400": (1400, 900), "1920": (1920, 1080)}


@pytest.fixture(scope="module")
def server():
    with app_server(SHOTS) as (url, _proc):
        yield url


def _bar(page, lesson: L.Lesson, number: int) -> None:
    """Wait for the guided bar of this step, the page's script at rest."""
    from tests.support.browser import wait_idle

    head = f"step {number} of {len(lesson.steps)}"
    page.locator(".st-key-guide_bar").filter(has_text=head).wait_for(timeout=120_000)
    wait_idle(page, timeout_ms=120_000, settle_ms=300)


def _wait_address(page, path: str, slug: str, number: int) -> None:
    """Wait until the address bar holds the step (Explore writes its own address once the view rests, 2 s)."""
    pattern = rf"/{path}\?(.*&)?lesson={slug}&step={number}(&|$)"
    try:
        page.wait_for_function(
            "p => new RegExp(p).test(location.href)", arg=pattern, polling=50, timeout=15_000
        )
    except Exception as exc:
        raise AssertionError(f"{page.url} is not step {number} of {slug} on {path}") from exc


@pytest.mark.parametrize("size", list(SIZES))
def test_every_lesson_walks_in_one_tab(server, size):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium_path, launch_args, wait_idle

    width, height = SIZES[size]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        context = browser.new_context(viewport={"width": width, "height": height})
        page = context.new_page()
        for number_of_lesson, lesson in enumerate(L.LESSONS, start=1):
            page.goto(f"{server}/lessons?lesson={lesson.slug}")
            page.get_by_role("heading", name=f"{number_of_lesson}. {lesson.title}").wait_for(timeout=120_000)
            wait_idle(page, timeout_ms=120_000)
            page.get_by_role("link", name="Start the lesson").click()
            for number, step in enumerate(lesson.steps, start=1):
                _bar(page, lesson, number)
                assert len(context.pages) == 1, "a step opened another browser tab"
                # the address holds the step (Explore writes its own address once the view rests: 2 s)
                _wait_address(page, step.page, lesson.slug, number)
                bar = page.locator(".st-key-guide_bar")
                assert "Measured on the shipped model" in bar.inner_text()
                assert "Does not hold" not in bar.inner_text()
                if step.tab:  # the step's tab is the one open
                    selected = page.locator('[role="tab"][aria-selected="true"]').inner_text()
                    assert selected.strip() == step.tab, (lesson.slug, number, selected)
                if number <= 2 or step.tab:
                    page.screenshot(path=str(SHOTS / f"{size}_{lesson.slug}_{number}.png"))
                if number < len(lesson.steps):
                    bar.get_by_role("link", name=re.compile("^Next")).click()
                else:
                    bar.get_by_role("link", name=re.compile("^Done")).click()
            page.get_by_role("heading", name=f"{number_of_lesson}. {lesson.title}").wait_for(timeout=120_000)
            assert re.search(rf"/lessons\?lesson={lesson.slug}$", page.url), page.url
            assert len(context.pages) == 1
        browser.close()


def test_a_refresh_keeps_the_step_and_back_goes_back(server):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium_path, launch_args

    lesson = L.lesson("calibration")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{server}/lessons?lesson={lesson.slug}")
        page.get_by_role("link", name=re.compile("^Open in Subsets")).nth(2).click()
        _bar(page, lesson, 3)
        page.reload()
        _bar(page, lesson, 3)
        assert page.locator('[role="tab"][aria-selected="true"]').inner_text().strip() == "vs drop rate"
        page.locator(".st-key-guide_bar").get_by_role("link", name="Back").click()
        _bar(page, lesson, 2)
        browser.close()


@pytest.mark.parametrize("size", list(SIZES))
def test_every_explore_step_shows_the_inputs_and_the_results_on_the_first_screen(server, size):
    """Opened from its link, every Explore step of every lesson (a ruined image with its preview, a noisy voice,
    a wrong caption), and the view Explore's "try this" ends on, shows its guided bar (a step), the three
    switches, the prediction, H(p), λ(x) and the last gate bar without scrolling: what the step tells the learner
    to look at is on the projector's one screen."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium_path, launch_args, wait_idle
    from tests.support.layout import EXPLORE_FIRST_SCREEN_JS

    width, height = SIZES[size]
    problems, bottoms = [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        page = browser.new_context(viewport={"width": width, "height": height}).new_page()
        # every Explore step, and Explore's own "try this" at its end (the image ruined, the voice at -15 dB)
        views = [
            (f"{lesson.slug} {number}", L.step_link(lesson, number).query, (lesson, number))
            for lesson in L.LESSONS
            for number, step in enumerate(lesson.steps, start=1)
            if step.page == "explore"
        ]
        views.append(("try this", {"isev": "1", "snr": "-15"}, None))
        for name, query, guided in views:
            page.goto(f"{server}/explore?{urlencode(query)}")
            if guided:
                _bar(page, *guided)
            page.get_by_text("Prediction:").first.wait_for(timeout=120_000)
            wait_idle(page, timeout_ms=120_000, settle_ms=300)
            seen = page.evaluate(EXPLORE_FIRST_SCREEN_JS)
            found = seen["found"]
            bottoms[name] = max((b for b in found.values() if b is not None), default=None)
            if seen["switches"] != 3:
                problems.append(f"{name}: {seen['switches']} switches")
            missing = {"prediction", "Gate entropy H(p)", "λ(x)", "gate (last bar)"} - set(found)
            below = {k: b for k, b in found.items() if b is None or b > seen["height"]}
            if missing or below:
                problems.append(f"{name}: missing {sorted(missing)}, below the first screen {below}")
                page.screenshot(path=str(SHOTS / f"{size}_first_screen_{name.replace(' ', '_')}.png"))
        browser.close()
    print(f"lowest part of the first screen at {width}×{height} (px):", bottoms)
    assert bottoms, "no Explore step in the lessons"
    assert not problems, "\n".join(problems)
