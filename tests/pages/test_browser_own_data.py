"""The whole "your own data" flow in one real browser (Debian's chromium through playwright), from an empty runs
folder: a generated 6-modality zip (mixed widths, modalities missing in the data) uploaded on Train, validated and
described; AECF then late fusion trained with live curves; Subsets & calibration comparing both on that dataset;
Explore on test example #k with a modality switched off and on; the checkpoint, the evaluation, the figures and
the Python snippet downloaded, opened and run. Then every page at 1400×900 and 1920×1080 with that dataset chosen,
and the bad uploads, each said on the page with nothing written. Screenshots go to test-artifacts/own-data/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser_own_data.py
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aecf.paths import ROOT
from tests.support.browser import (
    BROWSER_MARKS,
    app_server,
    metric_value_js,
    new_page,
    wait_idle,
    wait_rerun,
    wait_url,
)
from tests.support.dataset_zips import zip_folder
from tests.support.layout import SIZE_IDS, SIZES, SVG_MIN_PX, problems_of
from tests.support.train_browser import start_training

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "own-data"
NAME = "six sensors"
# six modalities of mixed widths, a quarter of them missing in the data; rows enough for an AECF epoch to span
# a refresh or two of the Train page's live view (every 2 s), few enough to stay a CI test
DIMS = {"camera": 64, "caption": 48, "audio": 12, "depth": 32, "imu": 6, "weather": 24}
N_TRAIN, N_TEST = 10_000, 150
# AECF long enough for several of the page's 2 s refreshes on a quiet machine
EPOCHS = {"aecf": 8, "late_fusion": 25}
SWITCHED = "audio"  # the modality switched off and on in Explore
BUSY = "is training on this server now"  # aecf.app.training.busy_message

# what the flow made, for the screenshots (they make it with the library when run alone)
MADE: dict = {}


@pytest.fixture(scope="module")
def dataset_folder(tmp_path_factory) -> Path:
    from aecf.data.generated import generate_dataset

    root = tmp_path_factory.mktemp("own-data")
    return generate_dataset(
        root / "six", DIMS, n_train=N_TRAIN, n_test=N_TEST, num_classes=5, missing=0.25, name=NAME
    )


@pytest.fixture(scope="module")
def dataset_zip(dataset_folder) -> Path:
    path = dataset_folder.parent / "six-sensors.zip"
    path.write_bytes(zip_folder(dataset_folder, "six-sensors"))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    runs = tmp_path_factory.mktemp("own-data-runs")  # a fresh runs folder: no dataset, no run
    with app_server(SHOTS, {"AECF_APP_RUNS_DIR": str(runs)}) as (url, _proc):
        yield url, runs


def _page(browser, width: int = 1400, height: int = 900):
    return new_page(browser, width, height, accept_downloads=True)


def _alerts(page) -> list[str]:
    """The error boxes and the exception boxes (a traceback) on the page."""
    return page.locator('[data-testid="stAlertContentError"], [data-testid="stException"]').all_inner_texts()


def _exceptions(page) -> int:
    return page.locator('[data-testid="stException"]').count()


def _nav(page, name: str) -> None:
    """Go to another page through the sidebar's navigation, as a person does."""
    from tests.pages.test_browser_layout import _settle

    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=name).click()
    page.wait_for_function(
        "name => [...document.querySelectorAll('[data-testid=\"stSidebarNav\"] a')]"
        ".some(a => a.getAttribute('aria-current') === 'page' && a.innerText.includes(name))",
        arg=name,
    )
    page.wait_for_selector('[data-testid="stMainBlockContainer"] h1')
    _settle(page)


def _records(body: str) -> int:
    m = re.search(r"· (\d+) records", body)
    return int(m.group(1)) if m else 0


def _train(page, method: str, runs: Path) -> tuple[str, list[tuple[int, int]], int]:
    """Train `method` from the page; follow it until the page shows its evaluation on the test split. Returns
    the run's id, (records, curve panels) each time the page was looked at while it said the run trained, and
    the records it showed at the end."""
    start_training(page, method, EPOCHS[method])
    page.wait_for_function(f"() => document.body.innerText.includes({BUSY!r})", timeout=60_000)
    run_id = max((p for p in runs.iterdir() if p.name != "datasets"), key=lambda p: p.stat().st_mtime).name
    assert run_id.endswith(f"-{method}-s0"), run_id
    live, t0 = [], time.monotonic()
    while time.monotonic() - t0 < 300:
        body = page.inner_text("body")
        if BUSY in body:
            live.append((_records(body), page.locator('[data-testid="curve-svg"]').count()))
            if len(live) == 3:
                _shot(page, f"train_{method}_live")
        elif "Test accuracy" in body and (runs / run_id / "evaluation.json").exists():
            break
        page.wait_for_timeout(250)
    wait_idle(page)
    assert page.get_by_text("Test accuracy", exact=True).count(), f"{method}: no evaluation shown"
    return run_id, live, _records(page.inner_text("body"))


def _shot(page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _download(page, button: str, folder: Path) -> Path:
    with page.expect_download(timeout=120_000) as got:
        page.get_by_role("button", name=button).click()
    path = folder / got.value.suggested_filename
    got.value.save_as(path)
    return path


def _test_example(folder: Path) -> int:
    """#k: the first test example missing exactly one modality (not the one switched), so that the view shows
    a missing modality beside a switched one."""
    with np.load(folder / "test.npz", allow_pickle=False) as z:
        present = z["present"]
    j = list(DIMS).index(SWITCHED)
    return int(next(i for i, row in enumerate(present) if row.sum() == len(DIMS) - 1 and row[j]))


# what the page shows of the view, as the snippet prints it (aecf.app.explore_dataset.ExampleView.printed)
SHOWN_JS = r"""() => {
  const head = document.querySelector('[data-testid="explore-headline"]');
  const headline = head.childNodes[0].textContent + head.querySelector('b').textContent
    + [...head.childNodes].slice(2).filter(n => n.nodeType === 3).map(n => n.textContent).join('');
  const gate = [...document.querySelectorAll('.aecf-row:first-child .aecf-side [data-bar]')]
    .map(b => '  ' + b.getAttribute('data-bar'));
  const metric = (label) => {
    const m = [...document.querySelectorAll('[data-metric]')].find(e => e.getAttribute('data-metric') === label);
    return `${label}: ${m.querySelector('[data-metric-value]').innerText}`;
  };
  return [headline.trim(), 'Gate weights p:', ...gate, metric('Gate entropy H(p)'), metric('λ(x)')];
}"""


def _flip_switched(page, switches) -> None:
    """Click the SWITCHED modality's switch in Explore; wait for the results to change and the page to settle."""
    wait_rerun(
        page,
        lambda: switches.filter(has_text=SWITCHED).click(),
        change_js="document.querySelector('.st-key-explore_dataset_results [data-html-block]').innerText",
    )
    wait_idle(page, settle_ms=800)
    wait_idle(page)


def _layout_problems(page, svg_min: int = 14) -> list[str]:
    from tests.support.layout import LAYOUT_PROBLEMS_JS

    found = page.evaluate(LAYOUT_PROBLEMS_JS, [16, svg_min])
    return problems_of(found)


def test_upload_train_compare_explore_and_take_it_away(
    browser, server, dataset_folder, dataset_zip, tmp_path
):
    url, runs = server
    context, page = _page(browser)
    try:
        # ---- upload on Train: validated, stored, chosen and described
        page.goto(f"{url}/train")
        page.get_by_text("Train a fusion layer").first.wait_for()
        wait_idle(page)
        page.get_by_text("Upload a dataset").click()
        page.locator("input[type=file]").set_input_files(str(dataset_zip))
        page.get_by_text(f"Dataset: {NAME}").wait_for(timeout=120_000)
        wait_idle(page)
        assert not _alerts(page), _alerts(page)
        assert re.search(f"Stored {NAME} .*and chose it", page.inner_text("body"))
        key = "upload:" + re.search(r"data=upload(?:%3A|:)(\w+)", page.url).group(1)
        assert (runs / "datasets" / key.split(":")[1] / "dataset.json").is_file()
        table = page.locator('[data-testid="stTable"]').filter(has_text="camera").inner_text()
        for name, width in DIMS.items():  # each modality with its width, and how often it is there
            assert re.search(rf"{name}\s+{width}\s", table), (name, width, table)
        assert "%" in table
        cards = [" ".join(c.split()) for c in page.locator('[data-testid="stMetric"]').all_inner_texts()]
        assert "Modalities 6" in cards, cards
        train_rows = round(N_TRAIN * 0.85)
        assert any(f"{train_rows:,} / {N_TRAIN - train_rows:,} / {N_TEST}" in c for c in cards), cards
        _shot(page, "flow_1_uploaded")

        # ---- AECF, then late fusion, each with its curves growing while it trains, then evaluated
        made = {}
        for method in ("aecf", "late_fusion"):
            run_id, live, final = _train(page, method, runs)
            shown = [records for records, panels in live if records and panels]
            # growing live is asserted on AECF's run; late fusion's, many times cheaper a step, may end between
            # two refreshes on a quick machine: its curves must be there at the end
            if method == "aecf":
                assert shown and min(shown) < final, (
                    f"{method}: no curves while it trained: {live}, {final} at the end"
                )
            assert final > 0 and page.locator('[data-testid="curve-svg"]').count(), (method, live, final)
            print(f"{method}: the page showed {sorted(set(shown))} of its {final} records while it trained")
            assert not _alerts(page), _alerts(page)
            made[method] = run_id
            _shot(page, f"flow_2_{method}_trained")
            if method == "aecf":  # the run on screen: the AECF run's checkpoint and evaluation
                ckpt = _download(page, "Checkpoint (.zip)", tmp_path)
                run_eval = json.loads(_download(page, "Evaluation (.json)", tmp_path).read_text())
        compare = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Compare runs").inner_text()
        assert made["aecf"] in compare and made["late_fusion"] in compare
        MADE.update(key=key, runs=made)

        # ---- Subsets & calibration, reached through the navigation: this dataset, both runs compared
        _nav(page, "Subsets & calibration")
        wait_url(page, "data=upload")
        assert f"Dataset {NAME} · 6 modalities ({', '.join(DIMS)})" in page.inner_text("body")
        chosen = page.locator('[data-testid="stMultiSelect"]').filter(has_text="Runs").inner_text()
        assert "aecf (s0," in chosen and "late_fusion (s0," in chosen, chosen
        tables = page.locator('[data-testid="stTable"]').all_inner_texts()  # the summary: a row per run
        assert any("aecf (s0," in t and "late_fusion (s0," in t and "ECE" in t for t in tables), tables
        assert not _alerts(page), _alerts(page)
        _shot(page, "flow_3_subsets")
        compared = json.loads(_download(page, "Evaluation (JSON)", tmp_path).read_text())
        figures = _download(page, "Figures (zip: HTML + PNG)", tmp_path)

        # ---- Explore, through the navigation: test example #k, a modality switched off and on again
        k = _test_example(dataset_folder)
        _nav(page, "Explore one example")
        page.locator('[data-testid="explore-headline"]').first.wait_for(timeout=120_000)
        example = (
            page.locator('[data-testid="stNumberInput"]').filter(has_text="Test example").locator("input")
        )
        results = page.locator(".st-key-explore_dataset_results [data-html-block]")
        wait_rerun(
            page,
            lambda: (example.fill(str(k)), example.press("Enter")),
            change_js=f"{metric_value_js('Test example')}",
        )
        assert page.evaluate(f"() => {metric_value_js('Test example')}") == f"#{k} of {N_TEST}"
        switches = page.locator('.st-key-dx_switches [data-testid="stCheckbox"]')
        assert switches.all_inner_texts() == list(DIMS)
        assert page.evaluate(f"() => {metric_value_js('Modalities used')}") == "5 of 6"
        assert "missing, p = 0" in results.inner_text()
        before = results.inner_text()
        problems = _layout_problems(page)
        _shot(page, "flow_4_explore_example")

        _flip_switched(page, switches)
        off = results.inner_text()
        assert off != before and f"{SWITCHED}: off, p = 0" in off
        assert page.evaluate(f"() => {metric_value_js('Modalities used')}") == "4 of 6"
        wait_url(page, f"off={SWITCHED}", f"i={k}", "data=upload")
        problems += _layout_problems(page)
        _shot(page, "flow_5_explore_switched_off")
        shown = page.evaluate(SHOWN_JS)
        snippet = _download(page, "Download a Python snippet of this view", tmp_path)

        _flip_switched(page, switches)
        assert results.inner_text() == before  # on again: the first view, whole
        problems += _layout_problems(page)
        assert not problems, "\n".join(problems)
        assert not _alerts(page), _alerts(page)
    finally:
        _shot(page, "flow_last")  # where it ended (on a failure: where it failed)
        context.close()

    # ---- what was taken away opens, and the snippet prints what the page showed
    with zipfile.ZipFile(ckpt) as zf:
        assert sorted(n.split("/")[-1] for n in zf.namelist()) == ["model.json", "model.safetensors"]
        zf.extractall(tmp_path / "checkpoint")
    from aecf.inference import load

    model = load(next((tmp_path / "checkpoint").rglob("model.safetensors")))
    assert list(model.config.modalities) == list(DIMS) and model.method == "aecf"
    assert run_eval["methods"][made["aecf"]]["full"]["acc"] >= 0
    assert run_eval["meta"]["modalities"] == list(DIMS)
    assert set(compared["meta"]["runs"].values()) == set(made.values())
    with zipfile.ZipFile(figures) as zf:
        names = zf.namelist()
        assert "figures.html" in names and "evaluation.json" in names
        assert "aecf" in zf.read("figures.html").decode()
    # as its docstring says: saved in the project's folder and run there, in a fresh Python
    assert f"run `python {snippet.name}` there" in snippet.read_text()
    beside = ROOT / snippet.name
    assert not beside.exists(), beside
    shutil.copy(snippet, beside)
    try:
        done = subprocess.run(
            [sys.executable, snippet.name], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
        )
    finally:
        beside.unlink()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == shown, (done.stdout, shown)


# ------------------------------------------------------------------------------------------------ every page
# each page as the sidebar's navigation names it, with its tabs
VIEWS = {
    "Home": [],
    "Explore one example": [],
    "Subsets & calibration": [
        "vs drop rate",
        "per subset",
        "reliability diagrams",
        "monotonicity",
        "mechanisms",
    ],
    "Curriculum masking": ["On the test split", "During training", "Simulator"],
    "Train": [],
    "Lessons": [],
}


@pytest.fixture(scope="module")
def own_runs(server, dataset_folder) -> dict:
    """The uploaded dataset's key and its runs: the flow's, or (the flow not run) made with the library as the
    page makes them."""
    if not MADE:
        from aecf.app import datasets as D
        from tests.support.dataset_runs import train_runs

        _url, runs = server
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("AECF_APP_RUNS_DIR", str(runs))
            choice = D.store_upload(zip_folder(dataset_folder, "six-sensors"), "six-sensors.zip")
            made = train_runs(choice, runs, ("aecf", "late_fusion"), epochs=1)
        MADE.update(key=choice.key, runs={p.name.rsplit("-", 2)[1]: p.name for p in made})
    return MADE


@pytest.mark.parametrize(("width", "height"), SIZES, ids=SIZE_IDS)
def test_every_page_with_the_uploaded_dataset_chosen_reads_whole(browser, server, own_runs, width, height):
    from tests.pages.test_browser_layout import _full_shot, _settle

    url, _runs = server
    context, page = _page(browser, width, height)
    problems, seen = [], []
    try:
        page.goto(f"{url}/train?data={own_runs['key']}")  # chosen once, kept by the navigation
        page.get_by_text(f"Dataset: {NAME}").wait_for()
        wait_idle(page)
        for name, tabs in VIEWS.items():
            _nav(page, name)
            slug = name.split()[0].lower()
            if name not in ("Home", "Lessons"):  # the pages with a dataset picker: still the upload
                wait_url(page, "data=" + own_runs["key"].replace(":", "%3A"))
            for tab in tabs or [None]:
                view = slug
                if tab:
                    page.get_by_role("tab", name=tab).click()
                    _settle(page)
                    if tab == "per subset":  # the subsets one by one, opened as a reader would
                        page.get_by_text("The subsets evaluated one by one").click()
                        _settle(page)
                    view = f"{slug}_{tab.split(',')[0].replace(' ', '-')}"
                assert not _exceptions(page), view
                problems += [f"{view}: {p}" for p in _layout_problems(page, SVG_MIN_PX[width])]
                _shot(page, f"{view}_{width}")
                _full_shot(page, SHOTS / f"{view}_{width}_full.png")
                seen.append(view)
    finally:
        context.close()
    print(f"{width}×{height}: {len(seen)} views:", ", ".join(seen))
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ bad uploads
LIMIT_MB = 10  # the strict server's upload limit: an upload over it is one of the bad ones
BAD = ("path escapes", "zip bomb", "pickled array", "no dataset.json", "not a zip", "nine modalities")


@pytest.fixture(scope="module")
def strict_server(tmp_path_factory, dataset_folder):
    """A server with a small upload limit, its runs folder holding a dataset uploaded before and a run on it."""
    from tests.support.dataset_runs import train_run

    runs = tmp_path_factory.mktemp("own-data-strict-runs")
    with pytest.MonkeyPatch.context() as mp:
        from aecf.app import datasets as D

        mp.setenv("AECF_APP_RUNS_DIR", str(runs))
        choice = D.store_upload(zip_folder(dataset_folder, "six-sensors"), "six-sensors.zip")
        train_run(choice, "late_fusion", epochs=1, run_id="late-fusion-before")
    env = {"AECF_APP_RUNS_DIR": str(runs), "AECF_APP_UPLOAD_MB": str(LIMIT_MB)}
    with app_server(SHOTS, env, "streamlit_strict.log") as (url, _proc):
        yield url, runs


def _tree(root: Path) -> dict[str, tuple[int, int] | None]:
    """Every file under `root` with its size and time of change, and every folder (a folder's own time changes
    when an upload is unpacked beside it and removed: that writes nothing)."""
    return {
        str(p.relative_to(root)): None if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)
        for p in root.rglob("*")
    }


def test_each_bad_upload_says_why_and_writes_nothing(browser, strict_server, dataset_folder):
    from tests.support.dataset_zips import bad_zips

    url, runs = strict_server
    zips = bad_zips(dataset_folder)
    cases = {name: zips[name] for name in BAD}
    cases["over the limit"] = (np.random.default_rng(0).bytes((LIMIT_MB + 1) << 20), f"{LIMIT_MB}")
    before = _tree(runs)
    context, page = _page(browser)
    said = {}
    try:
        page.goto(f"{url}/train")
        page.get_by_text("Train a fusion layer").first.wait_for()
        wait_idle(page)
        page.get_by_text("Upload a dataset").click()
        assert f"up to {LIMIT_MB} MB" in page.inner_text("body")
        for name, (blob, words) in cases.items():
            file_name = name.replace(" ", "-").replace(".", "-") + ".zip"
            page.locator("input[type=file]").set_input_files(
                files=[{"name": file_name, "mimeType": "application/zip", "buffer": blob}]
            )
            if (
                name == "over the limit"
            ):  # refused by the browser, never sent: its file is marked, and says why
                chip = page.locator(
                    f'[data-testid="stFileChip"][aria-invalid="true"][aria-label^="{file_name}"]'
                )
                message = chip.get_by_role("alert").filter(has_text=f"{LIMIT_MB}.0MB or smaller")
                message.wait_for(state="attached")
                chip.hover()  # the reason shows beside it
                page.get_by_text(f"File must be {LIMIT_MB}.0MB or smaller.", exact=True).wait_for()
                said[name] = message.text_content()
            else:
                message = page.locator('[data-testid="stAlert"]').filter(has_text=words)  # its own words
                message.first.wait_for(timeout=60_000)
                said[name] = " ".join(message.first.inner_text().split())
            wait_idle(page)
            _shot(page, f"bad_upload_{file_name[:-4]}")
            assert not _exceptions(page) and "Traceback" not in page.inner_text("body"), name
            assert _tree(runs) == before, f"{name}: something was written under the runs folder"
        assert "upload:" not in page.url  # none was chosen
    finally:
        _shot(page, "bad_upload_last")  # where it ended (on a failure: where it failed)
        context.close()
    for name, text in said.items():
        print(f"{name}: {text}")
