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
