"""Where Explore's redraw time goes: the page rebuilt from a mock-up one feature at a time, each step its own
small Streamlit app, all toggled in ONE browser, interleaved (a bare mouse click at the Image switch, then
the wait until the "Modalities used" value changes and the script is idle, as in benchmarks/measure_app.py).

    .venv/bin/python benchmarks/speed_decomposition.py [--rounds 8]

Steps (each adds to the one before, except `full_rerun`, the same widgets without fragments):
  reference    the two-element app of measure_app.py (Streamlit's own floor);
  layout       Explore's layout: sidebar of 4 widgets, three bordered columns, each a switch fragment that
               writes the result into one shared placeholder, a source fragment, a corruption fragment;
  full_rerun   the same widgets, no fragments (every toggle reruns the page);
  navigation   + st.navigation over six pages, wide layout (how app.py serves every page);
  extras       + the teaching expander and its "try this" box, the caption text box and its example
               selector, the sample image, the details expander;
  results      + the results as the page's own html block (pages/parts/ui.html_block), 120 changing rows;
  url          + one URL write per toggle (st.query_params), as Explore keeps its view in the address bar;
  explore      the real Explore page (app.py, /explore), measured alongside.
Prints the median ms per app and each step's cost over the previous one. Speed is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aecf.paths import ROOT, SAMPLES_DIR  # noqa: E402
from tests.support.browser import (  # noqa: E402
    chromium_path,
    free_port,
    launch_args,
    metric_value_js,
    wait_healthy,
    wait_idle,
    wait_rerun,
)

MOCK = """
import os, sys
import streamlit as st
sys.path.insert(0, {root!r})
FLAGS = set(os.environ.get("MOCK_FLAGS", "").split(","))
st.title("Explore one example")
if "extras" in FLAGS:
    with st.expander("What is going on here", icon=":material/menu_book:"):
        st.write("equations")
    st.info("**Try this:** something", icon=":material/lightbulb:")
with st.sidebar:
    st.header("View")
    st.selectbox("Checkpoint", ["aecf", "moddrop"])
    st.selectbox("Baseline", ["none", "late_fusion"])
    st.select_slider("MC-dropout passes K", [1, 5, 10, 20], value=20)
    st.number_input("Corruption seed", 0, 9999)
cols = st.columns(3, border=True)
results = st.empty()
FRAGMENTS = "full_rerun" not in FLAGS

def used():
    ss = st.session_state
    return " + ".join(m for m, k in (("image", "img_on"), ("caption", "cap_on"), ("audio", "aud_on")) if ss.get(k, True))

def draw():
    u = used()
    if "results" in FLAGS:
        from pages.parts.ui import html_block
        rows = "".join(f'<div style="display:flex"><span>row {{i}}</span><div style="width:{{(i * 7 + len(u)) % 100}}%;'
                       f'background:#4a8">{{(i * 13 + len(u)) % 97}}</div></div>' for i in range(120))
        html_block('<div data-testid="stMetric"><div>Modalities used</div><div data-testid="stMetricValue">'
                   f"{{u}}</div></div>" + rows, "mock_results", results)
    else:
        results.metric("Modalities used", u)
    if "url" in FLAGS:
        st.query_params["used"] = u.replace(" ", "")

def fragment(fn):
    return st.fragment(fn) if FRAGMENTS else fn

@fragment
def switch(label, key):
    st.toggle(label, True, key=key)
    if FRAGMENTS:
        draw()

@fragment
def source(i):
    st.segmented_control("From", ["sample", "upload", "draw"], default="sample", key=f"src{{i}}")
    st.selectbox("Sample", ["a", "b", "c"], key=f"sample{{i}}")

@fragment
def caption_box():
    st.text_area("Caption", "a seven", key="caption", height=100)
    st.selectbox("...or take an example caption", ["exact: a seven", "wrong: a two"], index=None, key="example")

@fragment
def corruption(i):
    st.slider("Corruption", 0.0, 1.0, 0.0, 0.05, key=f"corrupt{{i}}")
    st.caption("severity 0")

for i, (col, key, label) in enumerate(zip(cols, ("img_on", "cap_on", "aud_on"), ("Image", "Caption", "Audio"))):
    with col:
        switch(label, key)
        source(i)
        if "extras" in FLAGS and i == 1:
            caption_box()
        else:
            if "extras" in FLAGS and i == 0:
                st.image({image!r}, width=96)
            corruption(i)
if not FRAGMENTS:
    draw()
if "extras" in FLAGS:
    with st.expander("Each modality alone"):
        st.write("details")
"""

REFERENCE = """import streamlit as st
on = st.toggle("Image", True)
st.metric("Modalities used", "image + caption + audio" if on else "caption + audio")
"""

NAVIGATION = """import streamlit as st
st.set_page_config(layout="wide")
others = [st.Page(lambda: st.write("another page"), title=f"Page {i}", url_path=f"p{i}") for i in range(5)]
st.navigation([st.Page("mock.py", title="Explore one example", default=True)] + others).run()
"""

STEPS = [  # (name, app, flags)
    ("reference", "reference", ""),
    ("layout", "mock", ""),
    ("full_rerun", "mock", "full_rerun"),
    ("navigation", "navigation", ""),
    ("extras", "navigation", "extras"),
    ("results", "navigation", "extras,results"),
    ("url", "navigation", "extras,results,url"),
    ("explore", "app", ""),  # the real page, for comparison (not a step)
]


def measure(rounds: int) -> dict[str, float]:
    image = str(next(p for p in sorted(SAMPLES_DIR.glob("*.png"))))
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "mock.py").write_text(MOCK.format(root=str(ROOT), image=image))
        (Path(tmp) / "reference.py").write_text(REFERENCE)
        (Path(tmp) / "navigation.py").write_text(NAVIGATION)
        try:
            apps = []
            for name, app, flags in STEPS:
                port = free_port()
                script = ROOT / "app.py" if app == "app" else Path(tmp) / f"{app}.py"
                proc = subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "streamlit",
                        "run",
                        str(script),
                        "--server.port",
                        str(port),
                        "--server.address",
                        "127.0.0.1",
                        "--server.headless",
                        "true",
                    ],
                    env=os.environ | {"MOCK_FLAGS": flags},
                    cwd=str(ROOT),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                procs.append(proc)
                apps.append((name, f"http://127.0.0.1:{port}" + ("/explore" if app == "app" else ""), proc))
            for _, url, proc in apps:
                wait_healthy(url.removesuffix("/explore"), 60, proc)
            used = metric_value_js("Modalities used")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium_path(), args=launch_args())
                pages = []
                for name, url, _ in apps:
                    page = browser.new_page(viewport={"width": 1400, "height": 1000})
                    page.goto(url)
                    page.get_by_text("Modalities used").first.wait_for(timeout=120_000)
                    wait_idle(page)
                    box = (
                        page.locator('[data-testid="stCheckbox"]')
                        .filter(has_text="Image")
                        .first.bounding_box()
                    )
                    pages.append((name, page, (box["x"] + 12, box["y"] + box["height"] / 2)))
                times: dict[str, list[float]] = {name: [] for name, _, _ in pages}
                for r in range(rounds + 2):  # two warm-up rounds
                    for name, page, (x, y) in pages:
                        page.bring_to_front()
                        for want in ("caption + audio", "image + caption + audio"):
                            dt = wait_rerun(
                                page, lambda p=page, x=x, y=y: p.mouse.click(x, y), f"{used} === {want!r}"
                            )
                            if r >= 2:
                                times[name].append(1000 * dt)
                browser.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(10)
    return {name: round(statistics.median(ts), 1) for name, ts in times.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    args = ap.parse_args(argv)
    ms = measure(args.rounds)
    added, prev = {}, None
    for name, _, _ in STEPS:
        if name not in ("reference", "layout", "full_rerun", "explore"):
            added[name] = round(ms[name] - ms[prev], 1)
        if name not in ("full_rerun", "explore"):
            prev = name
    print(
        json.dumps(
            {
                "median_ms": ms,
                "added_ms": added,
                "ratio_to_reference": {k: round(v / ms["reference"], 2) for k, v in ms.items()},
            },
            indent=1,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
