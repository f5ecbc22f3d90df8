"""Fixtures shared by the browser tests of the pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import chromium_path, launch_args


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium through playwright, one for each test module that asks for it."""
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        yield b
        b.close()
