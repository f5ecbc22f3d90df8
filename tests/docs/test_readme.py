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


def _readme_block(containing: str) -> str:
    """The one fenced python block of the README that holds `containing`."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"{len(found)} python blocks hold {containing!r}"
    return found[0]


def test_the_readme_example_of_aecf_on_plain_tensors_runs_as_written():
    import torch

    code = _readme_block("from aecf import AECF")
    assert len([line for line in code.splitlines() if line.strip()]) <= 10
    torch.manual_seed(0)
    env: dict = {}
    exec(compile(code, "README.md", "exec"), env)  # the repository's own README, not user input
    model, out, present = env["model"], env["out"], env["present"]
    assert out["logits"].shape == (8, 7) and out["gate"].shape == (8, 3) and out["lam"].shape == (8,)
    assert torch.all(out["gate"][~present] == 0) and not bool(present[4:, 1].any())
    torch.testing.assert_close(out["gate"].sum(1), torch.ones(8))
    assert float(out["lam"].min()) >= model.config.lambda_min - 1e-6
    assert float(out["lam"].max()) <= model.config.lambda_max + 1e-6
    assert torch.isfinite(env["loss"])
    assert any(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in model.parameters())
