"""A classroom on one server: N concurrent sessions toggle and slide on Explore while one of them trains.

    .venv/bin/python benchmarks/load_app.py [--sessions 10] [--seconds 60] [--think 1 2] [--rounds 3] [--json FILE]

One `streamlit run app.py` on 127.0.0.1 (its own runs/ directory, so nothing is left in the project), one
Debian chromium (playwright, never `playwright install`), one browser context per session. Bounded: at most
--max-sessions contexts and --seconds of load, every wait has a timeout. Phases:

  1. single user: one session toggles the image and steps the image-corruption slider (the redraw baseline);
  2. classroom: session 0 starts a training run (not with --no-train) on the Train page (its default, 3 epochs) and the others
     open Train all at once and must be told that a run is going on (and be unable to start one; a look
     after the run has finished does not count); then every session does the same as in 1 for --seconds,
     all at once, the training thread still running for as long as it takes (`training` in the output
     says its state at the start and the end of the phase);
  3. afterwards every session opens every page: no error box and no exception on any of them.

Rounds: phases 1 and 2 are repeated --rounds times (default 3), each with fresh browser contexts (no page of
the other phase open while one is timed) and, unless --no-train, a new training run. On this 2-core machine
the same code's ratio moved by +-0.7 from one run to the next (2.0-3.7x over eleven single-round runs), so the
headline `p90_ratio_classroom_to_single` is the median of the rounds' ratios; every round's own figures are in
`each_round`, and `pooled` gives the ratio of all rounds' redraws taken together.

Pacing: a student acts at human pace, so every session waits a think time drawn uniformly from --think
(default 1-2 s, its own seeded random stream) after each redraw before its next action, in the single-user
phase too; `--think 0 0` fires actions back to back (a stress test, not a classroom). With 10 sessions that
is still 5-10 actions a second on one server, each a fragment rerun with a new view to compute and draw.

Redraw (the headline, `press_to_paint_in_page`): timed by the browser itself, from its own time stamp of the
press (the mouse button or key going down: the time the input waited for a busy page counts) to the frame that
shows the new view painted (the view from the set sent ahead, or the server's) - the interval the web's
"interaction to next paint" measures. The driver's own clock (`wall_clock_*`, a summary's top-level p50/p90:
from sending the press to hearing back that the view is there) adds the transport of both through the one
playwright driver and browser process that serve all sessions; "settled" adds the server's redraw finishing;
"press_to_view_in_page" runs from the page's handling of the press to the DOM change that shows the view, and
"release_to_view_in_page" from the browser's time stamp of the input that acts (a click's release, a key's
press) to that change; "by_action" splits switch clicks from slider steps. Prints JSON: single-user and
classroom p50/p90, their ratios (target: classroom p90 <= 3x the single-user p90), where the cores went, errors
per page, what the training sessions saw, and the machine's load average.

The instrument shares the 2 cores with what it measures, ten times over. `--clicks person` (default) clicks
a switch as a person does, a mouse click at it, and waits inside the page, woken by its changes
(tests/support/browser.WAIT_IN_PAGE_JS). Its press and release go out together, as a hand's do: playwright's
mouse sends the release only once the browser has handled the press (CDP answers a mouse event then), a round
trip through the browser that ten busy sessions lengthen and no mouse has; `--clicks person-acked` is that
(an earlier version of this instrument). `--clicks playwright` is the first version: playwright's
`locator.click` (visible, stable over two animation frames, a hit test, before the press) and waits polled
every 10 ms. One user alone, per action: ~160 against ~200 ms of chromium CPU, ~23 against ~30 ms of the
playwright driver. A slider step is the keyboard on the focused slider in both.

`--clock-from press` (default, with person clicks): the clock starts when the driver presses (mouse button or
key down). The driver's approach to the control before that (reading the switch's box, moving the pointer to it,
focusing the slider: three to four round trips through the browser, which under ten sessions took p90 45 ms of
the 133 ms view p90 for the box read alone) is done first: a person's hand makes it without the page.
`--clock-from approach` starts the clock before the approach, as the first versions of this instrument did.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import async_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.browser import (  # noqa: E402
    IN_PAGE_JS,
    SENT_AHEAD_JS,
    VIEW_SIGNATURE_JS,
    WAIT_IN_PAGE_JS,
    chromium_path,
    launch_args,
    metric_value_js,
    streamlit_server,
)

IDLE = '!!document.querySelector(\'[data-testid="stApp"][data-test-script-state="notRunning"]\')'
USED = metric_value_js("Modalities used")
PAGES = {
    "": "AECF Explorer",
    "explore": "Prediction:",
    "subsets": "Subsets & calibration",
    "curriculum": "Adaptive Curriculum Masking",
    "train": "Train a fusion layer",
}
BUSY = "is training on this server now"  # aecf.app.training.busy_message
# the caption under the image corruption slider, written by the server's redraw (pages/explore.py)
SEVERITY = (
    "[...document.querySelectorAll('[data-testid=\"stCaptionContainer\"]')].map(e => e.innerText)"
    ".filter(t => t.startsWith('severity')).join('|')"
)
ERRORS_JS = (
    '() => [...document.querySelectorAll(\'[data-testid="stAlertContentError"], '
    '[data-testid="stException"]\')].map(e => e.innerText)'
)


def _proc_table() -> dict[int, tuple[int, str, float, float]]:
    """pid -> (parent pid, command name, CPU seconds used so far, by its reaped children), from /proc (Linux)."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            raw = (d / "stat").read_text()
        except OSError:
            continue
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        # own CPU, and in a 4th field that of its children already waited for (a training process that ended)
        out[int(d.name)] = (
            int(fields[1]),
            name,
            (int(fields[11]) + int(fields[12])) / tick,
            (int(fields[13]) + int(fields[14])) / tick,
        )
    return out


def _cpu_split(server_pid: int | None) -> dict[str, float]:
    """CPU seconds used so far by the app's server, its training process, the browser, and the machine."""
    table = _proc_table()
    kids: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out = {"server": 0.0, "training": 0.0, "browser": 0.0}
    if server_pid in table:
        out["server"] = table[server_pid][2]
        out["training"] = table[server_pid][3]  # the server's only children are training processes
        todo = list(kids.get(server_pid, []))
        while todo:
            pid = todo.pop()
            out["training"] += table[pid][2]
            todo += kids.get(pid, [])
    out["browser"] = sum(cpu + done for _, name, cpu, done in table.values() if "chrom" in name.lower())
    with open("/proc/stat") as f:
        jiffies = [int(x) for x in f.readline().split()[1:]]
    out["machine_busy"] = (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")
    return out


def _stats(ms: list[float]) -> dict:
    if not ms:
        return {"n": 0}
    xs = sorted(ms)
    return {
        "n": len(xs),
        "p50_ms": round(statistics.median(xs), 1),
        "p90_ms": round(xs[int(0.9 * (len(xs) - 1))], 1),
        "max_ms": round(xs[-1], 1),
    }


# one redraw: (ms until the new view is on screen, ms until the server's redraw is done too, ms from the press to
# the new view timed inside the page or None, ms of the driver's approach before the clock, "switch" | "slider",
# ms from the browser's time stamp of the input that acts (a click's release, a key's press) to the new view, or None,
# ms from the browser's time stamp of the press to the frame that shows the new view painted, or None)
Redraw = tuple[float, float, float | None, float, str, float | None, float | None]


def _summary(times: list[Redraw], by_action: bool = True) -> dict:
    """The redraws (new view on screen) and, under "settled", the same actions until the server's redraw was
    done too; under "press_to_view_in_page", from the press to the new view, timed inside the page; under
    "approach_to_view", with the driver's approach before the press counted too (the first versions' window);
    under "release_to_view_in_page", from the browser's time stamp of the input that acts (the release of a
    click: between a click's press and release lies the driver's own round trip, which ten sessions slow; a key's
    press) to the new view; under "by_action", the same for the switch clicks and the slider steps apart."""
    if not times:
        return {"n": 0}
    out = _stats([t[0] for t in times]) | {
        "settled": _stats([t[1] for t in times]),
        "press_to_view_in_page": _stats([t[2] for t in times if t[2] is not None]),
        "approach_to_view": _stats([t[0] + t[3] for t in times]),
        "release_to_view_in_page": _stats([t[5] for t in times if t[5] is not None]),
        "press_to_paint_in_page": _stats([t[6] for t in times if len(t) > 6 and t[6] is not None]),
    }
    if by_action:
        out["by_action"] = {
            kind: _summary([t for t in times if t[4] == kind], by_action=False)
            for kind in ("switch", "slider")
        }
    return out


HEADLINE = "press_to_paint_in_page"  # the redraw as a person sees it, on the browser's own clock
RATIOS = {  # name in the output -> (the window's stats, from a summary)
    # the headline: from the browser's time stamp of the press to the frame that shows the new view painted
    "p90_ratio_classroom_to_single": lambda x: x[HEADLINE],
    # the driver's wall clock (a summary's own p50/p90): from sending the press to hearing the view is there
    "wall_clock_p90_ratio_classroom_to_single": lambda x: x,
    "settled_p90_ratio_classroom_to_single": lambda x: x["settled"],
    "approach_to_view_p90_ratio_classroom_to_single": lambda x: x["approach_to_view"],
    "press_to_view_p90_ratio_classroom_to_single": lambda x: x["press_to_view_in_page"],
    "release_to_view_p90_ratio_classroom_to_single": lambda x: x["release_to_view_in_page"],
}


def _ratios(single: dict, classroom: dict) -> dict[str, float]:
    """Classroom p90 / single-user p90 for each window both summaries have."""
    out = {}
    for name, window in RATIOS.items():
        s, c = window(single) if single.get("n") else {}, window(classroom) if classroom.get("n") else {}
        if s.get("n") and c.get("n") and s["p90_ms"] > 0:
            out[name] = round(c["p90_ms"] / s["p90_ms"], 2)
    return out


def combine_rounds(rounds: list[dict]) -> dict:
    """The headline ratios over rounds (each with its own "single" and "classroom" redraw lists): the median of
    the rounds' ratios for each window, with every round's ratio and p90s kept, and `pooled`, the same ratios
    of all rounds' redraws taken together."""
    per_round = [_ratios(_summary(r["single"]), _summary(r["classroom"])) for r in rounds]
    out = {
        name: round(statistics.median(rs[name] for rs in per_round), 2)
        for name in RATIOS
        if per_round and all(name in rs for rs in per_round)
    }
    single = [t for r in rounds for t in r["single"]]
    classroom = [t for r in rounds for t in r["classroom"]]
    out["pooled"] = _ratios(_summary(single), _summary(classroom))
    out["ratio_of_each_round"] = [rs.get("p90_ratio_classroom_to_single") for rs in per_round]
    return out


async def _redraw(
    page,
    action,
    until_js: str,
    kind: str,
    timeout_ms: float = 60_000,
    person: bool = True,
    prepare=None,
    watch_while_acting: bool = False,
) -> Redraw:
    """(ms until the new view is on screen, ms until the server's redraw is done too, ms from the press to
    the new view timed inside the page or None, ms of the driver's approach before the clock): a view the page sent ahead (pages/parts/ui.py) shows before
    the server has redrawn it (tests/support/browser.wait_view measures the same way). `prepare` (awaited
    before the clock starts): the driver's own approach to the control, before the press.

    person: wait inside the page, woken by its changes (WAIT_IN_PAGE_JS); else playwright's wait_for_function
    polled every 10 ms (the first version of this instrument: ten pages polled at 100 Hz).

    watch_while_acting (with person): the wait is sent along with the action, not after the browser has
    answered it (CDP answers an input event once the page has handled it): the clock stops when the driver hears
    the view is on screen, not at whichever is later, that or the answer plus one more round trip."""
    settled = await page.evaluate(f"() => {SENT_AHEAD_JS}")
    await page.evaluate(IN_PAGE_JS, until_js)
    done_js = f"{IDLE} && {SENT_AHEAD_JS} !== {settled}"
    t_approach = time.perf_counter()
    if prepare is not None:
        await prepare()
    t0 = time.perf_counter()
    approach = 1000 * (t0 - t_approach)
    if person and watch_while_acting:
        acting = asyncio.ensure_future(action())
        try:
            await page.evaluate(WAIT_IN_PAGE_JS, [until_js, timeout_ms])
        finally:
            t_view = time.perf_counter()
            await acting
    elif person:
        await action()
        await page.evaluate(WAIT_IN_PAGE_JS, [until_js, timeout_ms])
    else:
        await action()
        await page.wait_for_function(f"() => ({until_js})", polling=10, timeout=timeout_ms)
    view = 1000 * ((t_view if person and watch_while_acting else time.perf_counter()) - t0)
    if person:
        await page.evaluate(WAIT_IN_PAGE_JS, [done_js, timeout_ms])
    else:
        await page.wait_for_function(f"() => {done_js}", polling=10, timeout=timeout_ms)
    done = 1000 * (time.perf_counter() - t0)
    press, release, painted = await page.evaluate(
        "() => { const w = window.__inPage; return w.view === null ? [null, null, null] : "
        "[w.input === null ? null : w.view - w.input, w.release === null ? null : w.view - w.release, "
        "w.painted === null || w.stamp === null ? null : w.painted - w.stamp]; }"
    )
    return view, done, press, approach, kind, release, painted


async def _cdp(page):
    """The page's own CDP session (one per page, made on first use)."""
    session = getattr(page, "_load_cdp", None)
    if session is None:
        session = page._load_cdp = await page.context.new_cdp_session(page)
    return session


async def _open_explore(context, url: str):
    page = await context.new_page()
    page.set_default_timeout(90_000)
    await page.goto(f"{url}/explore")
    await page.get_by_text("Prediction:").first.wait_for(timeout=180_000)
    await page.wait_for_function(f"() => {IDLE}", timeout=90_000)
    return page


async def _interact(
    page,
    deadline: float,
    times: list[Redraw],
    max_steps: int | None = None,
    think: tuple[float, float] = (0.0, 0.0),
    seed: int = 0,
    person: bool = True,
    from_press: bool = True,
    acked: bool = False,
) -> None:
    """Alternate: toggle the image off/on, one slider step right (or left at the end); record each redraw,
    then think (a pause drawn from `think`, in seconds) before the next action.

    person: a switch is clicked as a person clicks it, a mouse click at the switch (its box read first), and
    the waits are woken by the page; else playwright's `locator.click` (its checks before the press: visible,
    stable over two animation frames, a hit test) and waits polled at 100 Hz. A slider step is the keyboard
    on the focused slider either way.

    from_press: the clock starts at the press (the mouse button going down, the key going down); the driver's
    approach before it — reading the switch's box and moving the pointer there, focusing the slider, a few
    round trips to the browser that a person's hand makes without the page — is done first. Else (earlier
    sessions' window) the clock starts before the approach."""
    rng = random.Random(seed)
    toggle = page.locator('[data-testid="stCheckbox"]').filter(has_text="Image").first
    slider = (
        page.locator('[data-testid="stSlider"]').filter(has_text="Image corruption").get_by_role("slider")
    )
    step, direction = 0, "ArrowRight"
    while time.perf_counter() < deadline and (max_steps is None or step < max_steps):
        if step % 2 == 0:
            want = "caption + audio" if (step // 2) % 2 == 0 else "image + caption + audio"
            at: dict = {}

            async def approach(at=at):
                box = await toggle.bounding_box()
                at.update(x=box["x"] + 12, y=box["y"] + box["height"] / 2)
                await page.mouse.move(at["x"], at["y"])

            async def press_release(at=at):
                if acked:  # playwright's mouse: the release is sent once the browser has handled the press
                    await page.mouse.down()
                    await page.mouse.up()
                    return
                # a hand: press and release go out together; the release does not wait for the page to have
                # handled the press (CDP answers Input.dispatchMouseEvent only then, so awaiting each in turn
                # puts a round trip through the busy browser between them that no mouse has)
                cdp = await _cdp(page)
                event = {"x": at["x"], "y": at["y"], "button": "left", "buttons": 1, "clickCount": 1}
                await asyncio.gather(
                    cdp.send("Input.dispatchMouseEvent", event | {"type": "mousePressed"}),
                    cdp.send("Input.dispatchMouseEvent", event | {"type": "mouseReleased", "buttons": 0}),
                )

            async def click():
                if not person:
                    return await toggle.click()
                await approach()
                await press_release()

            if person and from_press:
                times.append(
                    await _redraw(
                        page,
                        press_release,
                        f"{USED} === {want!r}",
                        "switch",
                        person=person,
                        prepare=approach,
                        watch_while_acting=not acked,
                    )
                )
            else:
                times.append(
                    await _redraw(
                        page,
                        click,
                        f"{USED} === {want!r}",
                        "switch",
                        person=person,
                        watch_while_acting=not acked,
                    )
                )
        else:
            # the new view on screen: the results change (sent ahead or redrawn), or, with the image switched
            # off (the results do not depend on the slider then), the caption under the slider (the server's)
            before = await page.evaluate(f"() => ({VIEW_SIGNATURE_JS})")
            caption = await page.evaluate(f"() => ({SEVERITY})")
            value = float(await slider.input_value())
            direction = "ArrowLeft" if value >= 0.95 else "ArrowRight" if value <= 0.05 else direction

            async def press(key=direction, focus=not (person and from_press)):
                if focus:
                    await slider.focus()
                await page.keyboard.press(key)

            times.append(
                await _redraw(
                    page,
                    press,
                    f"({VIEW_SIGNATURE_JS}) !== {json.dumps(before)} || "
                    f"({SEVERITY}) !== {json.dumps(caption)}",
                    "slider",
                    person=person,
                    prepare=slider.focus if person and from_press else None,
                    watch_while_acting=not acked,
                )
            )
        step += 1
        pause = rng.uniform(*think)
        if pause > 0 and time.perf_counter() + pause < deadline:
            await asyncio.sleep(pause)


async def _train_sessions(contexts, url: str) -> dict:
    """Session 0 starts a run; every other session opens Train and must be told a run is going on."""
    first = await contexts[0].new_page()
    await first.goto(f"{url}/train")
    await first.get_by_text("Train a fusion layer").first.wait_for(timeout=90_000)
    await first.wait_for_function(f"() => {IDLE}", timeout=90_000)
    # (a run of an earlier round may still be going: its button comes back when it ends)
    await first.get_by_role("button", name="Start training").click(timeout=600_000)
    await first.wait_for_function(f"() => document.body.innerText.includes({BUSY!r})", timeout=120_000)

    async def check(context) -> tuple[bool, bool, bool]:
        page = await context.new_page()
        await page.goto(f"{url}/train")
        await page.get_by_text("Train a fusion layer").first.wait_for(timeout=90_000)
        # idle, or already telling: under the classroom's load a Train page that follows the run live may not
        # rest between its redraws for a minute and more (one round of one run timed out here waiting for rest)
        await page.wait_for_function(
            f"() => ({IDLE}) || document.body.innerText.includes({BUSY!r})", timeout=90_000
        )
        told = BUSY in await page.inner_text("body")
        could_start = await page.get_by_role("button", name="Start training").is_enabled()
        await page.close()
        # the look was during the run if the page told of it (it says so only while a run goes on) or if the run
        # still goes on after the look; a page that was not told after the run had ended was right not to tell
        state = (await _train_state(first)).lower()
        return told, could_start, told or "training (" in state or "stopping" in state

    # all at once, as a class opening the page together (and so that the run is still going when they look)
    checks = await asyncio.gather(*(check(c) for c in contexts[1:]))
    return {
        "first_started": True,
        "others_told": sum(t for t, _, _ in checks),
        "others_could_start": sum(c for _, c, _ in checks),
        "others": len(contexts) - 1,
        "checks_while_running": sum(r for _, _, r in checks),  # the run still going after the look
        "wrong_while_running": sum(r and (not t or c) for t, c, r in checks),
        "page": first,
    }


async def _train_state(page) -> str:
    """The trainer's State metric ('training (epoch 1 of 3)', 'finished', ...), as its live fragment shows it."""
    metric = page.locator('[data-testid="stMetric"]').first
    return " ".join((await metric.inner_text()).split()) if await metric.count() else ""


async def _check_pages(context, url: str) -> dict[str, list[str]]:
    page = await context.new_page()
    out = {}
    for path, text in PAGES.items():
        await page.goto(f"{url}/{path}")
        await page.get_by_text(text).first.wait_for(timeout=120_000)
        await page.wait_for_function(f"() => {IDLE}", timeout=120_000)
        await page.wait_for_timeout(300)
        errors = await page.evaluate(ERRORS_JS)
        if errors:
            out[path or "home"] = errors
    await page.close()
    return out


async def _single_user(
    browser,
    url: str,
    single_steps: int,
    think: tuple[float, float],
    person: bool,
    from_press: bool,
    acked: bool = False,
) -> list[Redraw]:
    """Phase 1: one session alone, its own context, closed afterwards."""
    solo = await browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = await _open_explore(solo, url)
        warm: list[Redraw] = []
        await _interact(
            page, time.perf_counter() + 120, warm, max_steps=4, person=person, acked=acked
        )  # first visits compute embeddings
        single: list[Redraw] = []
        await _interact(
            page,
            time.perf_counter() + 120,
            single,
            max_steps=single_steps,
            think=think,
            seed=-1,
            person=person,
            from_press=from_press,
            acked=acked,
        )
        return single
    finally:
        await solo.close()


async def _classroom(
    contexts,
    url: str,
    seconds: float,
    think: tuple[float, float],
    person: bool,
    from_press: bool,
    server_pid: int | None,
    train: bool,
    seed: int,
    acked: bool = False,
) -> dict:
    """Phase 2: every context opens Explore; with `train`, session 0 starts a run and the others must be told;
    then all of them act at once for `seconds`."""
    out: dict = {}
    pages = await asyncio.gather(*(_open_explore(c, url) for c in contexts))
    train_page = None
    if train:
        training = await _train_sessions(contexts, url)
        train_page = training.pop("page")
        out["training"] = training
        out["training"]["state_at_classroom_start"] = await _train_state(train_page)
    times: list[list[Redraw]] = [[] for _ in pages]
    load_before = os.getloadavg()
    cpu_before, t_start = _cpu_split(server_pid), time.perf_counter()
    deadline = time.perf_counter() + seconds
    outcomes = await asyncio.gather(
        *(
            _interact(
                pg, deadline, t, think=think, seed=seed + i, person=person, from_press=from_press, acked=acked
            )
            for i, (pg, t) in enumerate(zip(pages, times, strict=True))
        ),
        return_exceptions=True,
    )
    out["load_average_during"] = [round(x, 2) for x in os.getloadavg()]
    cpu_after, wall = _cpu_split(server_pid), time.perf_counter() - t_start
    # where the 2 cores went during the classroom minute (cores busy on average; "others" is everything else on
    # the machine: the playwright driver, other people's jobs)
    used = {k: (cpu_after[k] - cpu_before[k]) / wall for k in cpu_after}
    used["others"] = used["machine_busy"] - used["server"] - used["training"] - used["browser"]
    out["cores_used_during"] = {k: round(v, 2) for k, v in used.items()}
    out["load_average_before"] = [round(x, 2) for x in load_before]
    out["redraws"] = [x for t in times for x in t]
    out["per_session_redraws"] = [len(t) for t in times]
    out["session_failures"] = [f"{type(o).__name__}: {o}" for o in outcomes if isinstance(o, BaseException)]
    out["explore_errors"] = [e for pg in pages for e in await pg.evaluate(ERRORS_JS)]
    if train_page is not None:
        out["training"]["state_after"] = await _train_state(train_page)
    return out


async def run(
    url: str,
    sessions: int,
    seconds: float,
    single_steps: int,
    think: tuple[float, float],
    server_pid: int | None = None,
    train: bool = True,
    person: bool = True,
    from_press: bool = True,
    rounds: int = 3,
    acked: bool = False,
) -> dict:
    res: dict = {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": list(think),
        "rounds": rounds,
        "clicks": ("person-acked" if acked else "person") if person else "playwright",
        "clock_from": "press" if person and from_press else "approach",
    }
    measured: list[dict] = []
    res["each_round"] = []
    res["session_failures"], res["explore_errors"] = [], []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=launch_args())
        try:
            for k in range(rounds):
                # 1. one user alone; 2. the classroom (fresh contexts: no page of one phase open during the other)
                single = await _single_user(browser, url, single_steps, think, person, from_press, acked)
                contexts = [
                    await browser.new_context(viewport={"width": 1400, "height": 1000})
                    for _ in range(sessions)
                ]
                room = await _classroom(
                    contexts,
                    url,
                    seconds,
                    think,
                    person,
                    from_press,
                    server_pid,
                    train,
                    seed=100 * k,
                    acked=acked,
                )
                redraws = room.pop("redraws")
                measured.append({"single": single, "classroom": redraws})
                s, c = _summary(single), _summary(redraws)
                res["each_round"].append(
                    {
                        "single_user_p90_ms": s.get(HEADLINE, {}).get("p90_ms"),
                        "classroom_p90_ms": c.get(HEADLINE, {}).get("p90_ms"),
                        "wall_clock_single_user_p90_ms": s.get("p90_ms"),
                        "wall_clock_classroom_p90_ms": c.get("p90_ms"),
                        **_ratios(s, c),
                        **room,
                    }
                )
                res["session_failures"] += room["session_failures"]
                res["explore_errors"] += room["explore_errors"]
                if k < rounds - 1:
                    for c in contexts:
                        await c.close()
            # 3. every page, every session (of the last round)
            checks = await asyncio.gather(*(_check_pages(c, url) for c in contexts))
            res["page_errors"] = {i: c for i, c in enumerate(checks) if c}
            for c in contexts:
                await c.close()
        finally:
            await browser.close()
    res["single_user"] = _summary([t for m in measured for t in m["single"]])
    res["classroom"] = _summary([t for m in measured for t in m["classroom"]])
    res |= combine_rounds(measured)
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument(
        "--single-steps",
        type=int,
        default=40,
        help="redraws of the one user alone (default 40: the p90 of 16 was its second largest, noisy)",
    )
    ap.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=(1.0, 2.0),
        metavar=("MIN", "MAX"),
        help="seconds a session waits after each redraw, uniform in [MIN, MAX] (default 1 2; 0 0 = none)",
    )
    ap.add_argument(
        "--no-train", action="store_true", help="leave out the training run (the classroom alone)"
    )
    ap.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="repeat phases 1 and 2 this many times; the headline ratio is the median of the rounds' "
        "(default 3)",
    )
    ap.add_argument(
        "--clicks",
        choices=("person", "person-acked", "playwright"),
        default="person",
        help="person (default): a mouse click at the switch, press and release sent together, and "
        "waits woken by the page; person-acked: the same, but the release sent once the browser "
        "has handled the press (playwright's mouse); playwright: locator.click "
        "with its checks and waits polled at 100 Hz (the first version of this instrument)",
    )
    ap.add_argument(
        "--clock-from",
        choices=("press", "approach"),
        default="press",
        help="press (default): a redraw is timed from the press (mouse button or key down), the "
        "driver's approach (reading the switch's box, moving the pointer, focusing the slider) "
        "done before; approach: from before the approach (the first versions' window)",
    )
    ap.add_argument("--max-sessions", type=int, default=12, help="refuse more than this many contexts")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--log", type=Path, default=None, help="streamlit's output (default: discarded)")
    args = ap.parse_args(argv)
    if not 1 <= args.sessions <= args.max_sessions or not 0 < args.seconds <= 300:
        ap.error("--sessions must be 1..--max-sessions and --seconds 0..300")
    if not 1 <= args.rounds <= 10:
        ap.error("--rounds must be 1..10")
    if not 0 <= args.think[0] <= args.think[1] <= 30:
        ap.error("--think MIN MAX: 0 <= MIN <= MAX <= 30")
    with tempfile.TemporaryDirectory() as runs:
        env = {"AECF_APP_RUNS_DIR": runs}
        with streamlit_server(env=env, log_path=args.log) as (url, proc, _healthy):  # binds 127.0.0.1 only
            res = asyncio.run(
                asyncio.wait_for(
                    run(
                        url,
                        args.sessions,
                        args.seconds,
                        args.single_steps,
                        tuple(args.think),
                        proc.pid,
                        not args.no_train,
                        args.clicks != "playwright",
                        args.clock_from == "press",
                        args.rounds,
                        args.clicks == "person-acked",
                    ),
                    timeout=args.rounds * (args.seconds + 600) + 300,
                )
            )
    # in every round, a session that looked while the run was going must be told, and unable to start one
    trained = [r["training"] for r in res["each_round"] if "training" in r]
    res["ok"] = (
        not res["session_failures"]
        and not res["explore_errors"]
        and not res["page_errors"]
        and all(t["checks_while_running"] > 0 and t["wrong_while_running"] == 0 for t in trained)
    )
    text = json.dumps(res, indent=2)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    return 0 if res["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
