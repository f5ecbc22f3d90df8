"""The html block's JavaScript and CSS live in files beside pages/parts/ui.py and are what the component gets."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from aecf.paths import ROOT
from pages.parts import ui

PARTS = ROOT / "pages" / "parts"


def test_the_component_gets_the_files_as_they_are():
    assert ui.HTML_BLOCK_JS == (PARTS / "html_block.js").read_text(encoding="utf-8")
    assert ui.HTML_BLOCK_CSS == (PARTS / "html_block.css").read_text(encoding="utf-8")
    # the component's entry point, and the hooks the tests and scripts/measure_app.py read
    assert "export default function" in ui.HTML_BLOCK_JS
    for name in ("window.__aecfAhead", "window.__aecfUrl", "data-aecf-ahead-shown", "data-stale"):
        assert name in ui.HTML_BLOCK_JS, name
    # the rules the script relies on: the stale fade and the hidden sent-ahead element
    assert re.search(r"\[data-html-block\]\[data-stale\]\s*\{", ui.HTML_BLOCK_CSS)
    assert 'st-key-sent_ahead_"' in ui.HTML_BLOCK_CSS
    assert ui.HTML_BLOCK_CSS.count("{") == ui.HTML_BLOCK_CSS.count("}")


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node to parse the module")
def test_the_javascript_parses_as_a_module(tmp_path):
    module = tmp_path / "html_block.mjs"
    module.write_text(ui.HTML_BLOCK_JS, encoding="utf-8")
    done = subprocess.run(["node", "--check", str(module)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
