"""The front door and the reference docs read correctly against the project: length, links, commands, names."""

import ast
import json
import re

from aecf.app.lessons import LESSONS
from aecf.paths import ENCODER_DIR, ROOT

README = ROOT / "README.md"
DOCS = ROOT / "docs"
REFERENCE = [README, *sorted(DOCS.glob("*.md"))]  # the journal is a dated record and may quote anything
EVERY_DOC = [*REFERENCE, *sorted((DOCS / "journal").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_is_short():
    assert len(README.read_text().splitlines()) <= 250


def test_reference_pages_speak_of_the_project_not_its_history():
    pattern = re.compile(r"this session|last session|issue [0-9]+|DESIGN\.md", re.I)
    for path in REFERENCE:
        found = pattern.findall(path.read_text())
        assert not found, (path.name, found)


def test_every_relative_link_resolves():
    for path in EVERY_DOC:
        for target in LINK.findall(path.read_text()):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            file = (path.parent / target.split("#")[0]).resolve()
            assert file.exists(), (path.relative_to(ROOT), target)


def test_the_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in ci
    assert "bash scripts/test.sh" in README.read_text()


def test_the_readme_names_the_shipped_image_tower():
    clip = json.loads((ENCODER_DIR / "encoders.json").read_text())["clip"]
    assert clip["model_name"] == "aecf-digits-resnet"
    assert isinstance(clip["model_config"]["vision_cfg"]["layers"], list)  # open_clip builds a ModifiedResNet
    for path in (README, DOCS / "encoders.md"):
        text = path.read_text()
        assert "ModifiedResNet" in text and "tiny ViT" not in text, path.name


def _app_pages() -> list[str]:
    """The url path of every page app.py serves (Streamlit names it after the file)."""
    tree = ast.parse((ROOT / "app.py").read_text())
    files = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "Page"
    ]
    assert files
    return [file.removeprefix("pages/").removesuffix(".py") for file in files]


def test_the_readme_table_links_every_page_and_every_lesson():
    text = README.read_text()
    app = "http://127.0.0.1:8501/"
    for page in _app_pages():
        assert f"({app})" in text if page == "home" else f"({app}{page})" in text, page
    for lesson in LESSONS:
        assert f"({app}lessons?lesson={lesson.slug})" in text, lesson.slug
        assert lesson.title in text, lesson.title
    linked = re.findall(r"\(http://127\.0\.0\.1:8501/([a-z]*)", text)
    assert set(linked) <= {*_app_pages(), ""} - {"home"}  # no link to a page the app does not serve


def test_the_readme_picture_is_committed():
    pictures = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README.read_text())
    assert pictures and all((ROOT / p).is_file() and p.startswith("docs/") for p in pictures)
