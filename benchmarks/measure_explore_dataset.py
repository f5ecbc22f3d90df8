"""Switching a modality on a dataset of one's own against the same on the digits Explore, in a real browser, in
one run on one server (target: the dataset's redraw within 1.5× the digits'):

    .venv/bin/python benchmarks/measure_explore_dataset.py [--repeats 10] [--rounds 2] [--screenshots DIR]

The dataset is the shipped example mfeat (6 modalities, 63 subsets) with an AECF run trained on it first (into a
temporary runs folder the server reads); its view is test example #145 with the `mor` switch toggled. With
`--modalities 8` it is a generated dataset of 8 modalities (255 subsets) stored as an upload instead, its last
switch toggled. The digits
view is Explore's first view with the Image switch toggled. Both pages stay open in one browser and are measured
in turns (`rounds` of `repeats` toggles each, digits then dataset), so a machine that gets busier or quieter
during the run weighs on both alike. Each toggle is timed as in benchmarks/measure_app.py (`toggle_series`): to
the new view on screen (both pages send the views one switch away ahead, pages/parts/ui.py `instant_views`), to
the server's redraw done (`settled`), and inside the page from the press to the DOM change; once with
playwright's click and once with a bare mouse click.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.measure_app import toggle_series  # noqa: E402
from tests.support.browser import (  # noqa: E402
    SENT_AHEAD_JS,
    chromium_path,
    launch_args,
    metric_value_js,
    streamlit_server,
    wait_idle,
    wait_rerun,
)

DATASET = "example:mfeat"
EXAMPLE = 145
DIGITS_VALUES = ("caption + audio", "image + caption + audio")


def train_run_on(runs: Path, epochs: int, modalities: int) -> tuple[str, str, float]:
    """An AECF run in `runs` on mfeat (6) or on a generated upload of `modalities` modalities, recorded as the app
    records it: (dataset key, the switch to toggle, the seconds the run took)."""
    import torch

    os.environ["AECF_APP_RUNS_DIR"] = str(runs)
    torch.set_num_threads(1)
    from aecf.app import datasets as D
    from tests.support.dataset_runs import train_run, upload_generated

    if modalities == 6:
        choice, switch = D.resolve(DATASET), "mor"
    else:
        dims = {f"m{i}": 16 + 8 * i for i in range(modalities)}
        choice = upload_generated(runs.parent, "wide", dims, n_train=2000, n_test=300, num_classes=10)
        switch = f"m{modalities - 1}"
    t0 = time.perf_counter()
    train_run(choice, "aecf", epochs=epochs, run_id="aecf-bench")
    return choice.key, switch, time.perf_counter() - t0


def _open(browser, url: str, ready: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator(ready).first.wait_for()
    wait_idle(page)
    page.wait_for_function(f"() => {SENT_AHEAD_JS} > 0")
    return page


def _series(page, toggle, values, repeats: int) -> dict:
    used = metric_value_js("Modalities used")
    page.bring_to_front()
    return {
        "click": toggle_series(page, toggle, used, repeats, settled_js=SENT_AHEAD_JS, values=values),
        "bare_click": toggle_series(
            page, toggle, used, repeats, bare=True, settled_js=SENT_AHEAD_JS, values=values
        ),
    }


def _pooled(series: list[dict], click: str, part: str | None) -> list[float]:
    out: list[float] = []
    for s in series:
        entry = s[click] if part is None else s[click][part]
        if entry:
            out += entry["all_ms"]
    return out


def measure(
    repeats: int, rounds: int, epochs: int, screenshots: Path | None, log: Path | None, modalities: int = 6
) -> dict:
    out: dict = {"modalities": modalities}
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        key, switch, seconds = train_run_on(runs, epochs, modalities)
        out["train_run_s"] = round(seconds, 1)
        values = (f"{modalities - 1} of {modalities}", f"{modalities} of {modalities}")
        with streamlit_server(env={"AECF_APP_RUNS_DIR": str(runs)}, log_path=log) as (url, _proc, _healthy):
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
                digits = _open(browser, f"{url}/explore", "text=Prediction:")
                data = _open(
                    browser, f"{url}/explore?data={key}&i={EXAMPLE}", '[data-testid="explore-headline"]'
                )
                digits_toggle = digits.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first
                data_toggle = data.locator('.st-key-dx_switches [data-testid="stCheckbox"]').filter(
                    has_text=switch
                )
                for page, toggle, shows in (
                    (digits, digits_toggle, DIGITS_VALUES),
                    (data, data_toggle, values),
                ):  # warm both states once (the first visit of a state computes it)
                    page.bring_to_front()
                    for want in shows:
                        wait_rerun(page, toggle.click, f"{metric_value_js('Modalities used')} === {want!r}")
                found: dict[str, list[dict]] = {"digits": [], "dataset": []}
                for _ in range(rounds):
                    found["digits"].append(_series(digits, digits_toggle, DIGITS_VALUES, repeats))
                    found["dataset"].append(_series(data, data_toggle, values, repeats))
                if screenshots:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    digits.screenshot(path=str(screenshots / "digits_explore.png"))
                    data.screenshot(path=str(screenshots / "dataset_explore.png"))
                browser.close()
    out["rounds"] = found
    ratios, medians = {}, {}
    for click in ("click", "bare_click"):
        for part, name in (
            (None, "view"),
            ("settled", "settled"),
            ("press_to_view_in_page", "press_to_view"),
        ):
            d, s = _pooled(found["digits"], click, part), _pooled(found["dataset"], click, part)
            if d and s:
                md, ms = statistics.median(d), statistics.median(s)
                medians[f"{click}.{name}"] = {"digits_ms": round(md, 1), "dataset_ms": round(ms, 1)}
                ratios[f"{click}.{name}"] = round(ms / md, 2)
    out["median_ms"] = medians
    out["ratio_dataset_to_digits"] = ratios  # target: <= 1.5 for the view on screen
    out["browser_task_ms"] = {
        name: [s[c]["browser_task_ms"] for s in found[name] for c in ("click", "bare_click")]
        for name in found
    }
    out["load_average"] = [round(x, 2) for x in os.getloadavg()]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=10, help="toggles per series (even)")
    ap.add_argument("--rounds", type=int, default=2, help="digits-then-dataset turns")
    ap.add_argument(
        "--epochs", type=int, default=5, help="of the mfeat run (its speed does not depend on them)"
    )
    ap.add_argument("--modalities", type=int, default=6, choices=range(2, 9), help="6: mfeat; else generated")
    ap.add_argument("--screenshots", type=Path, default=None)
    ap.add_argument("--log", type=Path, default=None, help="streamlit's output (default: discarded)")
    args = ap.parse_args(argv)
    if args.log:
        args.log.parent.mkdir(parents=True, exist_ok=True)
    res = measure(args.repeats, args.rounds, args.epochs, args.screenshots, args.log, args.modalities)
    print(json.dumps({k: v for k, v in res.items() if k != "rounds"}, indent=2))
    if args.log:
        args.log.with_suffix(".json").write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
