"""End to end in a real browser: `streamlit run app.py` on a free local port, driven by Debian's chromium
through playwright (never `playwright install`). Screenshots go to test-artifacts/browser/.

    .venv/bin/python -m pytest -m browser tests/pages/test_browser.py
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from playwright.sync_api import expect

from aecf.paths import ROOT
from tests.support.browser import BROWSER_MARKS, app_server, assets_env

pytestmark = BROWSER_MARKS

SHOTS = ROOT / "test-artifacts" / "browser"


@pytest.fixture(scope="module")
def server(app_assets, tmp_path_factory):
    from tests.support.devassets import build_features

    runs = tmp_path_factory.mktemp("browser-runs")
    # a bigger (synthetic) cache than the AppTests use, so that a 3-epoch run lasts long enough to watch
    features = build_features(tmp_path_factory.mktemp("browser-features"), n_train=4000)
    env = {**assets_env(app_assets, runs), "AECF_APP_FEATURE_DIR": str(features)}
    with app_server(SHOTS, env) as (url, proc):
        SERVER_PROC[url], SERVER_RUNS[url] = proc, runs
        yield url


SERVER_PROC: dict = {}  # url -> the server's process (a test freezes it)
SERVER_RUNS: dict = {}  # url -> the server's runs/ directory


@pytest.fixture(scope="module")
def fake_mic_wav(app_assets, tmp_path_factory):
    """The sample recording, padded with silence: what chromium's fake microphone plays (in a loop)."""
    import soundfile as sf

    from aecf.app.samples import default_samples, list_samples

    _, name = default_samples(
        list_samples("image", app_assets["samples"]), list_samples("audio", app_assets["samples"])
    )
    wave, sr = sf.read(app_assets["samples"] / name, dtype="float32")
    pad = np.zeros(int(0.4 * sr), np.float32)
    path = tmp_path_factory.mktemp("mic") / "mic.wav"
    sf.write(path, np.concatenate([pad, wave, pad]), sr, subtype="PCM_16")
    return path


@pytest.fixture(scope="module")
def browser(fake_mic_wav):
    from playwright.sync_api import sync_playwright

    from tests.support.browser import chromium_path, launch_args

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=launch_args(fake_audio=fake_mic_wav))
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["microphone"])
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    yield pg
    context.close()


def shot(page, name: str, height: int = 2400) -> None:
    """A screenshot of the whole page: Streamlit scrolls inside its main area, so grow the window."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(400)
    page.screenshot(path=str(SHOTS / f"{name}.png"))
    page.set_viewport_size(size)


def _used(page) -> str:
    from tests.support.browser import metric_value_js

    return page.evaluate(f"() => {metric_value_js('Modalities used')}")


def _wait_used(page, want: str, timeout_ms: float = 60_000) -> None:
    from tests.support.browser import metric_value_js

    page.wait_for_function(
        f'() => !!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\') '
        f"&& {metric_value_js('Modalities used')} === {want!r}",
        polling=50,
        timeout=timeout_ms,
    )


def _errors(page) -> list[str]:
    return page.locator('[data-testid="stAlertContentError"]').all_inner_texts()


def _column(page, label: str):
    """The bordered input column whose toggle says `label`."""
    return (
        page.locator('[data-testid="stColumn"]')
        .filter(has=page.locator('[data-testid="stCheckbox"]', has_text=label))
        .first
    )


def _lattice(page, index: int = 0) -> str:
    return page.locator('[data-testid="lattice-svg"]').nth(index).evaluate("e => e.outerHTML")


def _gate_texts(page) -> list[str]:
    return page.locator("[data-bar]").all_inner_texts()


def test_explore_end_to_end(page, server, app_assets, tmp_path):
    from tests.support.browser import wait_idle, wait_rerun, wait_url

    # a deep link opened as the first request of a fresh server still goes through st.navigation
    page.goto(f"{server}/explore")
    page.get_by_text("Prediction:").first.wait_for()
    wait_idle(page)
    assert page.locator('[data-testid="stSidebarNav"]').get_by_text("Explore one example").count() == 1
    _wait_used(page, "image + caption + audio")
    assert not _errors(page)
    shot(page, "explore_default")

    # upload an image (a "7" drawn as strokes) and a WAV
    from PIL import Image, ImageDraw

    img = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(img).line([(40, 40), (160, 40), (90, 170)], fill=0, width=14)
    img_path = tmp_path / "seven.png"
    img.save(img_path)
    image_col, caption_col, audio_col = (
        _column(page, "Image"),
        _column(page, "Caption"),
        _column(page, "Audio"),
    )
    image_col.get_by_role("radio", name="upload").click()
    _wait_used(page, "caption + audio")  # upload chosen, nothing uploaded yet: the image counts as missing
    image_col.locator("input[type=file]").set_input_files(str(img_path))
    _wait_used(page, "image + caption + audio")
    from aecf.app.samples import default_samples, list_samples

    _, wav_name = default_samples(
        list_samples("image", app_assets["samples"]), list_samples("audio", app_assets["samples"])
    )
    audio_col.get_by_role("radio", name="upload").click()
    _wait_used(page, "image + caption")
    audio_col.locator("input[type=file]").set_input_files(str(app_assets["samples"] / wav_name))
    _wait_used(page, "image + caption + audio")
    assert page.locator('[data-testid="stFileChip"]').count() == 2
    assert not _errors(page), _errors(page)

    # type a caption (Ctrl+Enter commits a text area)
    box = caption_col.locator("textarea")
    box.fill("a handwritten seven")
    wait_rerun(page, lambda: box.press("Control+Enter"))
    wait_url(page, "cap=a+handwritten+seven")
    gate_all, lattice_all = _gate_texts(page), _lattice(page)
    shot(page, "explore_uploaded")

    # switch the image off: the gate gives it 0 and the lattice loses every subset with the image
    wait_rerun(page, lambda: image_col.locator('[data-testid="stCheckbox"]').click())
    _wait_used(page, "caption + audio")
    gate_off, lattice_off = _gate_texts(page), _lattice(page)
    assert any("image: absent, p = 0" in t for t in gate_off) and gate_off != gate_all
    assert 'data-subset="image"' in lattice_all and 'data-subset="image"' not in lattice_off
    wait_url(page, "img_on=false")  # the view is in the URL
    shot(page, "explore_image_off")

    # record audio through chromium's fake microphone (it plays the sample recording)
    audio_col.get_by_role("radio", name="record").click()
    _wait_used(page, "caption")  # record chosen, nothing recorded yet
    recorder = audio_col.locator('[data-testid="stAudioInput"]')
    recorder.get_by_role("button", name="Record").click()
    page.wait_for_timeout(2500)
    recorder.get_by_role("button", name="Stop recording").click()
    _wait_used(page, "caption + audio")
    assert not _errors(page), _errors(page)
    shot(page, "explore_recorded")

    # the shared link reproduces the view in a fresh session (settings yes; a recording is not in a URL)
    shared = page.url
    other = page.context.new_page()
    other.goto(shared)
    other.get_by_text("Prediction:").first.wait_for()
    _wait_used(other, "caption")
    # the caption box is drawn by its own fragment, possibly a frame after the results: wait for its value
    expect(other.locator("textarea").first).to_have_value("a handwritten seven", timeout=20_000)
    assert "No recording yet" in other.inner_text("body")
    other.close()


def test_a_switch_and_a_slider_step_show_the_next_view_without_the_server(page, server):
    """The views one click away are sent ahead: with the server frozen, a switch and a slider step still show
    their new view, and the server's own redraw, once it runs again, draws the very same view."""
    import os
    import signal

    from tests.support.browser import SENT_AHEAD_JS, wait_idle, wait_url

    page.goto(f"{server}/explore")
    _wait_used(page, "image + caption + audio")
    page.wait_for_function(f"() => {SENT_AHEAD_JS} > 0")
    results = page.locator('[class*="st-key-explore_results"] [data-html-block]')
    before = results.inner_text()
    proc = SERVER_PROC[server]
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        page.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first.click()
        page.wait_for_function(f"() => {_used_js()} === 'caption + audio'", timeout=5_000)
        switched = results.inner_text()
        page.locator('[data-testid="stCheckbox"]').filter(
            has_text="Image"
        ).first.click()  # back: the view on screen before
        page.wait_for_function(f"() => {_used_js()} === 'image + caption + audio'", timeout=5_000)
        assert results.inner_text() == before
        slider = (
            page.locator('[data-testid="stSlider"]').filter(has_text="Image corruption").get_by_role("slider")
        )
        slider.focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "(b) => document.querySelector('.st-key-explore_results [data-html-block]').innerText !== b",
            arg=before,
            timeout=5_000,
        )
        stepped = results.inner_text()
        assert results.get_attribute("data-stale") is None
        caption = page.locator('[data-testid="stCaptionContainer"]').filter(has_text="severity").first
        assert caption.inner_text().startswith("severity 0.05:")  # the caption under the slider follows it
        page.keyboard.press("ArrowRight")  # a second step: not sent ahead, so the view says it is not current
        page.wait_for_function(
            "() => document.querySelector('.st-key-explore_results [data-html-block]')"
            ".hasAttribute('data-stale')",
            timeout=5_000,
        )
        assert results.inner_text() == stepped
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    assert switched != before and "caption + audio" in switched and stepped != before
    # the server's view of the second step (while Streamlit redraws, the block can be briefly absent: wait on)
    page.wait_for_function(
        '() => { const e = document.querySelector(\'[class*="st-key-explore_results"] '
        "[data-html-block]'); return !!e && !e.hasAttribute('data-stale'); }",
        timeout=30_000,
    )
    wait_idle(page)
    page.wait_for_timeout(1500)  # the queued reruns: the switch twice, the slider twice
    wait_idle(page)
    wait_url(page, "isev=0.1")
    assert results.inner_text() not in (before, stepped)
    assert not _errors(page)


def test_the_address_bar_follows_the_view_with_no_message_to_streamlits_client(page, server):
    """The page writes its address itself (pages/parts/url.py): no page-info message reaches Streamlit's client
    (on one it re-renders the whole app), the URL still follows every change, a full rerun (the client still
    sends the link it was opened with) does not reset the view to that link, and Back steps back through it."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    from tests.support.browser import wait_idle, wait_rerun, wait_url

    kinds: list[str] = []

    def on_socket(ws) -> None:
        def frame(payload) -> None:
            if isinstance(payload, bytes):
                with contextlib.suppress(Exception):
                    kinds.append(ForwardMsg.FromString(payload).WhichOneof("type") or "")

        ws.on("framereceived", frame)

    page.on("websocket", on_socket)
    page.goto(f"{server}/explore?cap_on=false")
    _wait_used(page, "image + audio")
    wait_idle(page)
    wait_rerun(page, lambda: _column(page, "Caption").locator('[data-testid="stCheckbox"]').click())
    _wait_used(page, "image + caption + audio")
    page.wait_for_function("() => !location.search.includes('cap_on')", timeout=10_000)
    wait_rerun(page, lambda: _column(page, "Image").locator('[data-testid="stCheckbox"]').click())
    _wait_used(page, "caption + audio")
    wait_url(page, "img_on=false")
    seed = page.locator('[data-testid="stSidebar"] [data-testid="stNumberInput"] input')
    seed.fill("3")
    wait_rerun(page, lambda: seed.press("Enter"))  # a full run: the client sends ?cap_on=false again
    wait_idle(page)
    assert _used(page) == "caption + audio"
    assert "cap_on" not in wait_url(page, "img_on=false", "seed=3")
    assert "delta" in kinds and "page_info_changed" not in kinds, sorted(set(kinds))

    page.go_back()  # the view before the seed
    page.wait_for_function("() => !location.search.includes('seed')", timeout=10_000)
    page.wait_for_function(
        '() => document.querySelector(\'[data-testid="stSidebar"] '
        "[data-testid=\"stNumberInput\"] input').value === '0'",
        timeout=30_000,
    )
    wait_idle(page)
    assert _used(page) == "caption + audio" and "img_on=false" in page.url
    page.go_back()  # and before the image went off
    _wait_used(page, "image + caption + audio")
    assert "img_on" not in page.url
    assert not _errors(page)


def test_the_address_bar_is_written_once_the_view_rests_or_when_the_person_may_use_it(page, server):
    """A history entry costs the browser ~30 ms of CPU (pages/parts/ui.py, writeUrl): the page writes its address
    once the view has rested (URL_REST_MS, 2 s) or at once when the address bar or Back may be next (focus or
    pointer leaving the page); steps quicker than the rest make one entry, not one each; Back still steps back."""
    import time

    from tests.support.browser import SENT_AHEAD_JS, wait_idle, wait_url

    def click_and_wait_for_the_server(want: str) -> None:  # its redraw carries the address (and the next set)
        sets = page.evaluate(f"() => {SENT_AHEAD_JS}")
        toggle.click()
        page.wait_for_function(
            f"() => {SENT_AHEAD_JS} !== {sets} && "
            '!!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')',
            timeout=60_000,
        )
        _wait_used(page, want)

    page.goto(f"{server}/explore")
    _wait_used(page, "image + caption + audio")
    wait_idle(page)
    toggle = _column(page, "Image").locator('[data-testid="stCheckbox"]')
    url_state = "() => ({pending: window.__aecfUrl.pending, search: location.search, writes: window.__aecfUrl.writes})"
    page.wait_for_function(f"() => {SENT_AHEAD_JS} > 0")
    click_and_wait_for_the_server("caption + audio")
    state = page.evaluate(url_state)
    if state["pending"] is not None:  # the usual case: written after the rest, not with the view
        assert "img_on=false" in state["pending"]["search"] and "img_on=false" not in state["search"], state
        page.evaluate(
            "() => window.dispatchEvent(new Event('blur'))"
        )  # focus leaves, e.g. to the address bar
        assert "img_on=false" in page.evaluate("() => location.search")
    else:  # a machine slow enough for the rest to have passed already
        assert "img_on=false" in state["search"], state
    writes, entries = page.evaluate("() => [window.__aecfUrl.writes, history.length]")

    # on -> off -> on, each drawn by the server: one entry once the view rests (when it all took < the rest)
    t0 = time.perf_counter()
    for want in ("image + caption + audio", "caption + audio", "image + caption + audio"):
        click_and_wait_for_the_server(want)
    quick = time.perf_counter() - t0 < 1.8
    page.wait_for_function("() => window.__aecfUrl.pending === null", timeout=15_000)
    assert "img_on" not in page.evaluate("() => location.search")
    made = page.evaluate("() => window.__aecfUrl.writes") - writes
    assert made == 1 if quick else 1 <= made <= 3, made
    assert page.evaluate("() => history.length") == entries + made

    # the pointer leaving the page (to the address bar, Back, a tab) writes at once
    click_and_wait_for_the_server("caption + audio")
    page.evaluate("() => document.documentElement.dispatchEvent(new MouseEvent('mouseleave'))")
    wait_url(page, "img_on=false", timeout_ms=500)

    # Back steps back to the view before, and stays there
    page.go_back()
    _wait_used(page, "image + caption + audio")
    page.wait_for_timeout(2500)  # past the rest
    assert "img_on" not in page.evaluate("() => location.search")
    assert _used(page) == "image + caption + audio"
    assert not _errors(page)


_ANIMATED_IN = """(sel) => document.getAnimations().filter(a => a.effect && a.effect.target
                                                  && a.effect.target.closest(sel)).length"""


def test_a_view_from_the_set_is_not_faded_while_the_server_catches_up(page, server):
    """Switches and sliders snap (a transition is frames of the whole page, in every browser of a class), and
    while the server's redraw is slow, Streamlit's stale fade (opacity on the element's container, marked
    data-stale) is held off the results and the watched controls when the view on screen came from the set:
    it is the right view. Other elements still fade, and the server's view ends the hold."""
    import os
    import signal

    from tests.support.browser import SENT_AHEAD_JS, wait_idle

    page.goto(f"{server}/explore")
    _wait_used(page, "image + caption + audio")
    page.wait_for_function(f"() => {SENT_AHEAD_JS} > 0")
    proc = SERVER_PROC[server]
    # what Streamlit does to a stale element (its styled container: opacity, a 1 s transition after 0.5 s)
    faded = """(key) => { const el = document.querySelector(`.stElementContainer.st-key-${key}`);
                          el.setAttribute("data-stale", "true"); el.style.transition = "none"; el.style.opacity = "0.33";
                          const seen = getComputedStyle(el).opacity;
                          el.setAttribute("data-stale", "false"); el.style.opacity = ""; el.style.transition = "";
                          return seen; }"""
    assert page.evaluate(faded, "img_on") == "0.33"  # nothing held before a view came from the set
    os.kill(proc.pid, signal.SIGSTOP)
    try:
        page.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first.click()
        assert page.evaluate(_ANIMATED_IN, '[data-testid="stCheckbox"]') == 0  # it snapped
        page.wait_for_function(f"() => {_used_js()} === 'caption + audio'", timeout=5_000)  # from the set
        for key in ("img_on", "aud_on", "isev", "explore_results"):
            assert page.evaluate(faded, key) == "1", key
        for key in ("cap", "isrc"):  # the caption box, the image source: not in the set, they fade
            assert page.evaluate(faded, key) == "0.33", key
    finally:
        os.kill(proc.pid, signal.SIGCONT)
    page.wait_for_function("() => !document.body.hasAttribute('data-aecf-ahead-shown')", timeout=30_000)
    wait_idle(page)
    assert page.evaluate(faded, "img_on") == "0.33"  # the server's view came: the hold is over
    slider = (
        page.locator('[data-testid="stSlider"]').filter(has_text="Image corruption").get_by_role("slider")
    )
    slider.focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate(_ANIMATED_IN, '[data-testid="stSlider"]') == 0  # its labels do not fade on focus
    wait_idle(page)
    assert not _errors(page)


def _used_js() -> str:
    from tests.support.browser import metric_value_js

    return metric_value_js("Modalities used")


def test_draw_a_digit_on_the_canvas(page, server):
    from tests.support.browser import wait_idle

    page.goto(f"{server}/explore?isrc=draw&details=true")
    page.get_by_text("Prediction:").first.wait_for()
    wait_idle(page)
    _wait_used(page, "caption + audio")  # nothing drawn yet: the image counts as missing
    canvas = _column(page, "Image").locator("canvas").last
    box = canvas.bounding_box()
    x, y = box["x"], box["y"]
    from aecf.app.explore import CANVAS_TOOLBAR_PX

    top = y + CANVAS_TOOLBAR_PX + 4  # a stroke that starts at the top edge of the drawing square
    page.mouse.move(x + 140, top)
    page.mouse.down()
    for i in range(40):  # a "1"
        page.mouse.move(x + 140, top + 6 * i)
    page.mouse.up()
    _wait_used(page, "image + caption + audio")
    assert not _errors(page), _errors(page)
    shot(page, "explore_canvas")


def test_training_run_grows_live(page, server):
    import re

    from tests.support.browser import wait_idle, wait_rerun, wait_url

    page.goto(f"{server}/train")
    page.get_by_text("Train a fusion layer").first.wait_for()
    wait_idle(page)
    # 8 epochs, not the default 3: on an idle machine 3 epochs can finish between two of the page's 2-s refreshes
    epochs = page.locator('[data-testid="stSlider"]').filter(has_text="Epochs")
    epochs.get_by_role("slider").focus()
    for _ in range(5):
        wait_rerun(page, lambda: page.keyboard.press("ArrowRight"))
    assert epochs.locator('[data-testid="stSliderThumbValue"]').inner_text().strip() == "8"
    wait_rerun(page, lambda: page.get_by_role("button", name="Start training").click())

    def records() -> int:
        m = re.search(r"· (\d+) records", page.inner_text("body"))
        return int(m.group(1)) if m else 0

    seen = []
    for _ in range(240):
        seen.append(records())
        if "finished" in page.locator('[data-testid="stMetric"]').first.inner_text():
            break
        page.wait_for_timeout(500)
    grew = sorted(set(seen))
    assert len(grew) >= 3, f"the curves did not grow live: {seen}"
    page.wait_for_function(
        "() => document.body.innerText.includes('Open this run in Explore')", timeout=60_000
    )
    assert page.locator('[data-testid="curve-svg"]').count() >= 4  # the live curves: one block of SVGs
    shot(page, "train_finished")

    # the run survives a refresh
    page.reload()
    page.get_by_text("Open this run in Explore").first.wait_for()
    shot(page, "train_after_refresh")

    # and opens in Explore: the link from the Train page sets the checkpoint (also after Explore was open in
    # this browser session, with another checkpoint), and a change there keeps it
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Explore").click()
    page.get_by_text("Prediction:").first.wait_for(timeout=60_000)
    wait_idle(page)
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text="Train").click()
    page.get_by_role("button", name="Open this run in Explore").wait_for(timeout=60_000)
    wait_idle(page)
    page.get_by_role("button", name="Open this run in Explore").click()
    page.get_by_text("Prediction:").first.wait_for(timeout=60_000)
    wait_idle(page)
    ckpt = page.locator('[data-testid="stSidebar"]').get_by_role("combobox", name="Checkpoint")
    expect(ckpt).to_have_value(re.compile("^run:"), timeout=20_000)
    wait_rerun(
        page, lambda: page.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first.click()
    )
    _wait_used(page, "caption + audio")
    wait_url(page, "ckpt=run", "img_on=false")
    expect(ckpt).to_have_value(re.compile("^run:"))


def test_train_page_never_locks_for_a_second_viewer(browser, server):
    """Two people: A starts a run, B opens Train, A refreshes, A stops it; then A starts a 1-epoch run that
    finishes. Each time both pages offer Start again, without a reload, soon after the run's end (a page
    asks the server every second while a run trains and redraws whole when it has ended), and B never gets a
    Stop button for A's run. Screenshots of the page mid-run and after, at 1400x900 and 1920x1080."""
    from aecf.app.training import FOLLOW_BUSY_S
    from tests.support.train_browser import open_train, two_viewers

    contexts = [browser.new_context(viewport={"width": 1400, "height": 900}) for _ in range(2)]
    try:
        a, b = (c.new_page() for c in contexts)
        for pg in (a, b):
            pg.set_default_timeout(30_000)
        open_train(a, server)

        def screens(name: str, a, b) -> None:
            for width, height in ((1400, 900), (1920, 1080)):
                for who, pg in (("a", a), ("b", b)):
                    pg.set_viewport_size({"width": width, "height": height})
                    pg.wait_for_timeout(300)
                    pg.screenshot(path=str(SHOTS / f"train_{name}_{who}_{width}.png"))
                shot(a, f"train_{name}_a_{width}_full")
            for pg in (a, b):
                pg.set_viewport_size({"width": 1400, "height": 900})

        stopped = two_viewers(
            a, b, server, SERVER_RUNS[server], stop=True, mid_run=lambda a, b: screens("mid_run", a, b)
        )
        screens("after_stop", a, b)
        finished = two_viewers(a, b, server, SERVER_RUNS[server], stop=False)
    finally:
        for c in contexts:
            c.close()
    print(f"stopped: {stopped}\nfinished: {finished}")
    assert stopped["epochs"] == "20" and stopped["state"] == "stopped" and stopped["b_saw_busy"]
    assert finished["epochs"] == "1" and finished["state"] == "finished"
    # Without a reload, and soon: the 2 s target (one question to the server, then one redraw) is measured by
    # benchmarks/measure_train.py, not asserted here, where a loaded CI machine may take longer.
    bound = 10 * (FOLLOW_BUSY_S + 1.0)
    for result in (stopped, finished):
        assert not result["b_saw_stop"], result
        for who, seconds in result["usable_after_s"].items():
            assert seconds is not None and seconds <= bound, (who, result)


def test_other_pages_render(page, server):
    from tests.support.browser import wait_idle

    for path, text in (
        ("", "AECF Explorer"),
        ("subsets", "Subsets & calibration"),
        ("curriculum", "Adaptive Curriculum Masking"),
    ):
        page.goto(f"{server}/{path}")
        page.get_by_text(text).first.wait_for()
        wait_idle(page)
        page.wait_for_timeout(800)  # plotly draws after the script run
        assert not _errors(page), _errors(page)
        shot(page, path or "home")


def test_the_in_page_wait_wakes_on_a_change_and_gives_up_after_its_timeout(browser):
    """benchmarks/load_app.py waits inside the page (WAIT_IN_PAGE_JS) instead of polling it: a DOM change wakes
    it, a change outside the DOM is seen within its 100 ms tick, and a condition that never holds rejects."""
    from tests.support.browser import WAIT_IN_PAGE_JS

    context = browser.new_context()
    try:
        pg = context.new_page()
        pg.set_content("<div id='x'>0</div>")
        pg.evaluate("() => setTimeout(() => { document.getElementById('x').textContent = '1'; }, 150)")
        t_set = pg.evaluate(WAIT_IN_PAGE_JS, ["document.getElementById('x').textContent === '1'", 5_000])
        assert t_set > 0 and pg.inner_text("#x") == "1"
        pg.evaluate("() => setTimeout(() => { window.__n = 1; }, 150)")  # no DOM change at all
        assert pg.evaluate(WAIT_IN_PAGE_JS, ["window.__n === 1", 5_000]) > 0
        with pytest.raises(Exception, match="timed out"):
            pg.evaluate(WAIT_IN_PAGE_JS, ["window.__never === 1", 300])
    finally:
        context.close()
