"""The Train page on a dataset of one's own in a real browser (Debian's chromium through playwright): upload a
generated 6-modality zip through the page's file input, see it described, train AECF and late fusion with live
curves, each run evaluated on its test split; the checkpoint and the evaluation download. Screenshots go to
test-artifacts/browser/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_train_data.py
"""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server, assets_env
from tests.support.dataset_zips import six_modalities, zip_folder
from tests.support.train_browser import start_training

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def server(app_assets, tmp_path_factory):
    runs = tmp_path_factory.mktemp("browser-data-runs")
    with app_server(SHOTS, assets_env(app_assets, runs), "streamlit_train_data.log") as (url, _proc):
        yield url, runs


@pytest.fixture(scope="module")
def six_zip(tmp_path_factory):
    """Big enough that an epoch spans a few of the page's 2-s refreshes on a busy machine."""
    root = tmp_path_factory.mktemp("six-zip")
    path = root / "six-views.zip"
    path.write_bytes(zip_folder(six_modalities(root / "six", n_train=6000, n_test=600)))
    return path


@pytest.fixture
def page(server):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium_path, launch_args

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        pg = context.new_page()
        pg.set_default_timeout(60_000)
        yield pg
        context.close()
        browser.close()


def shot(page, name: str, height: int = 2600) -> None:
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def _errors(page) -> list[str]:
    return page.locator('[data-testid="stAlertContentError"]').all_inner_texts()


def _records(page) -> int:
    m = re.search(r"· (\d+) records", page.inner_text("body"))
    return int(m.group(1)) if m else 0


def _train(page, method: str, epochs: int, runs) -> tuple[str, list[int], list[str]]:
    """Pick the method, type the epochs, start; sample the records the live view shows until the run has
    finished and been evaluated. Returns the run's id, the record counts seen and the time-left estimates."""
    from tests.support.browser import wait_idle

    start_training(page, method, epochs)
    page.wait_for_function(
        "() => document.body.innerText.includes('is training on this server now')", timeout=60_000
    )
    run_id = max((p for p in runs.iterdir() if p.name != "datasets"), key=lambda p: p.stat().st_mtime).name
    assert run_id.endswith(f"-{method}-s0"), run_id
    seen, left = [], []
    for _ in range(600):
        seen.append(_records(page))
        m = re.search(r"epoch \d+ of \d+ · about [\w ]+ left", page.inner_text("body"))
        if m and not left:
            shot(page, f"train_data_{method}_mid_run")
        left += [m.group(0)] if m else []
        if (
            page.get_by_text("Test accuracy", exact=True).count()
            and (runs / run_id / "evaluation.json").exists()
        ):
            break
        page.wait_for_timeout(500)
    page.wait_for_function(
        "() => !document.body.innerText.includes('is training on this server now')", timeout=120_000
    )
    wait_idle(page)
    return run_id, seen, left


def test_upload_then_train_aecf_and_late_fusion_live(page, server, six_zip):
    from tests.support.browser import wait_idle

    url, runs = server
    page.goto(f"{url}/train")
    page.get_by_text("Train a fusion layer").first.wait_for()
    wait_idle(page)
    page.get_by_text("Upload a dataset").click()
    assert "up to 300 MB" in page.inner_text("body")
    page.locator("input[type=file]").set_input_files(str(six_zip))
    page.get_by_text("Dataset: six views").wait_for(timeout=120_000)
    wait_idle(page)
    assert not _errors(page), _errors(page)
    assert re.search(r"data=upload%3A|data=upload:", page.url), page.url
    body = page.inner_text("body")
    for words in ("view_a", "view_f", "Rows (train / val / test)", "held out of train.npz"):
        assert words in body, words
    epochs = page.locator('[data-testid="stNumberInput"]').filter(has_text="Epochs").locator("input")
    assert re.fullmatch(r"auto: \d+", epochs.get_attribute("placeholder"))
    shot(page, "train_data_described")

    results = {}
    for method, epochs in (("aecf", 6), ("late_fusion", 40)):  # late fusion's steps are ~10x cheaper
        run_id, seen, left = _train(page, method, epochs, runs)
        grew = sorted(set(seen))
        # growing live (and the time left) is asserted on AECF's run; late fusion's, many times cheaper a step,
        # may end between two of the page's refreshes on a quick machine: its curves must be there at the end
        if method == "aecf":
            assert len(grew) >= 3, f"{method}: the curves did not grow live: {seen}"
            assert left, f"{method}: no time left was shown while it trained"
        assert grew and grew[-1] > 0, f"{method}: no records shown: {seen}"
        # loss parts, accuracy, ECE; and for aecf the gate's H(p) with λ(x), and the mask rates per modality
        panels = page.locator('[data-testid="curve-svg"]')
        assert panels.count() == (5 if method == "aecf" else 3), panels.count()
        assert not _errors(page), _errors(page)
        results[method] = run_id
        shot(page, f"train_data_{method}_finished")

    found = json.loads((runs / results["late_fusion"] / "evaluation.json").read_text())
    assert found["meta"]["modalities"] == ["view_a", "view_b", "view_c", "view_d", "view_e", "view_f"]
    # the downloads open: the checkpoint zip holds the weights and the config, the JSON the evaluation
    with page.expect_download() as got:
        page.get_by_role("button", name="Checkpoint (.zip)").click()
    with zipfile.ZipFile(io.BytesIO(got.value.path().read_bytes())) as zf:
        assert sorted(n.split("/")[-1] for n in zf.namelist()) == ["model.json", "model.safetensors"]
    with page.expect_download() as got:
        page.get_by_role("button", name="Evaluation (.json)").click()
    assert json.loads(got.value.path().read_text())["methods"][results["late_fusion"]]["full"]["acc"] >= 0
    # Compare: both runs of this dataset, nothing of the digits
    compare = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Compare runs").inner_text()
    assert results["aecf"] in compare and results["late_fusion"] in compare and "shipped" not in compare
    page.wait_for_timeout(800)  # plotly draws after the script run
    shot(page, "train_data_compare")
