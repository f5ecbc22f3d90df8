"""The AECF Explorer app: its view-models (aecf/app/) and every page through AppTest.

Pages run against the test assets of the `app_env` fixture (tests/conftest.py): copies of the shipped
checkpoints and samples when they exist, stand-ins otherwise, a small synthetic feature cache, a fresh
runs/ directory.
"""

from __future__ import annotations

import io
import json
import re
import wave

import numpy as np
import pytest

from aecf.constants import SAMPLE_RATE
from aecf.paths import ROOT

APP = str(ROOT / "app.py")
PAGES = ROOT / "pages"


# ============================================================================================ helpers


def page(name: str, query: dict | None = None, timeout: float = 90):
    """Run one page file (the way st.navigation runs it) and return the AppTest."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def page_without_checkpoints(name: str, tmp_path, monkeypatch):
    """Run one page with the app pointed at a checkpoint folder that holds no fusion checkpoint."""
    (tmp_path / "empty" / "fusion").mkdir(parents=True)
    monkeypatch.setenv("AECF_APP_CHECKPOINT_DIR", str(tmp_path / "empty"))
    return page(name)


from tests.support.apptest import bars, metric  # noqa: E402
from tests.support.apptest import page_html as html  # noqa: E402


def png_bytes(array: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def wav_bytes(samples: np.ndarray, sr: int = SAMPLE_RATE) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def sample_wav(env) -> bytes:
    """The recording the Explore page starts with (a digit that also has an image sample)."""
    from aecf.app.samples import default_samples, list_samples

    _, name = default_samples(list_samples("image", env["samples"]), list_samples("audio", env["samples"]))
    return (env["samples"] / name).read_bytes()


def tone(seconds: float, freq: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return 0.5 * np.sin(2 * np.pi * freq * t) * np.hanning(len(t))


# ============================================================================================ state


def test_explore_state_round_trips_through_the_url():
    from aecf.app.state import ExploreState

    s = ExploreState(
        checkpoint="run:20260101-aecf-s0",
        image_on=False,
        image_severity=0.35,
        audio_snr=-5.0,
        caption="an odd number",
        seed=3,
        mc_samples=5,
        image_source="draw",
    )
    q = s.to_query()
    assert q["img_on"] == "false" and q["isev"] == "0.35" and "cap_on" not in q  # defaults stay out
    assert ExploreState.from_query(q) == s
    assert ExploreState().to_query() == {}


def test_explore_state_ignores_bad_values():
    from aecf.app.state import SNR_CLEAN, ExploreState

    s = ExploreState.from_query(
        {"isev": "7", "snr": "nan-ish", "k": "3", "isrc": "ftp", "img_on": "maybe", "seed": "-4"}
    )
    assert s.image_severity == 1.0 and s.audio_snr == SNR_CLEAN and s.mc_samples == 20
    assert s.image_source == "sample" and s.image_on is True and s.seed == 0


def test_explore_widget_keys_are_the_url_keys():
    source = (PAGES / "explore.py").read_text()
    from aecf.app.state import URL_KEYS

    for field in URL_KEYS:
        assert f'K["{field}"]' in source, field


# ============================================================================================ helpers


def test_curves_svg_draws_every_series():
    from aecf.figures.app import MODALITY_COLORS, curves_svg

    svg = curves_svg(
        {"overall": ([0.5, 1.0], [0.1, 0.3]), "image": ([0.5, 1.0], [0.2, 0.4]), "empty": ([], [])},
        "Mask rates",
        y_range=(0, 1),
    )
    assert 'data-testid="curve-svg"' in svg and 'data-title="Mask rates"' in svg
    assert 'data-series="overall|image"' in svg and svg.count("<polyline") == 2  # an empty series is left out
    assert (
        f'stroke="{MODALITY_COLORS["image"]}"' in svg
        and svg.count(f'stroke="{MODALITY_COLORS["image"]}"') == 1
    )
    assert "-0<" not in svg and curves_svg({}, "nothing yet").endswith("</svg>")


def test_mask_simulator_uses_the_real_sampler():
    from aecf.app.masking import entropy, gate_with_entropy, normalise_gate, simulate_masks

    present = ("image", "caption", "audio")
    gate = gate_with_entropy(0.4, "image", present)
    assert abs(entropy(gate) - 0.4) < 1e-6 and gate.argmax() == 0
    acm = simulate_masks(gate, present, 0.5, "acm", n=3000)
    flat = simulate_masks(gate, present, 0.5, "uniform", n=3000)
    assert acm.drop_freq["image"] > 2 * acm.drop_freq["caption"]  # the favourite is hidden most
    assert max(flat.drop_freq.values()) - min(flat.drop_freq.values()) < 0.05  # ModDrop is flat
    assert "" not in acm.kept and abs(sum(acm.kept.values()) - 1) < 1e-9  # never everything dropped
    uniform_gate = gate_with_entropy(np.log(3), "image", present)
    assert np.allclose(simulate_masks(uniform_gate, present, 0.5, "acm").drop_probs["image"], 0.5, atol=1e-4)
    assert normalise_gate({"image": 1, "audio": 1}, ("image",)).tolist() == [1.0, 0.0, 0.0]


def test_samples_captions_and_canvas():
    from aecf.app import samples as X
    from aecf.app.explore import canvas_image

    assert X.sample_digit("mnist_7.png") == 7 and X.sample_digit("spoken_5_noisy_0db.wav") == 5
    assert X.sample_digit("canvas.png") is None
    assert X.default_samples(
        ["scan_4.png", "mnist_3.png", "mnist_9.png"], ["spoken_3_x.wav", "spoken_9.wav"]
    ) == ("mnist_3.png", "spoken_3_x.wav")
    ex = [X.CaptionExample("exact", "a hand-drawn 7", 7)]
    assert X.default_caption(7, ex) == "a hand-drawn 7" and X.default_caption(2, ex) == "a handwritten two"
    blank = np.zeros((50, 50, 4), np.uint8)
    assert canvas_image(blank) is None and canvas_image(None) is None
    blank[10:40, 20:25] = 255
    assert canvas_image(blank).max() == 255
    with pytest.raises(Exception, match="not a sample"):
        X.sample_path("../secrets.txt")


def test_caption_examples_parse_the_shipped_format(tmp_path):
    from aecf.app.samples import caption_examples

    (tmp_path / "captions.txt").write_text(
        "# level\tcaption\tdigit\nexact\ta hand-drawn 7\t7\nwrong\t8\t5\njust text\n"
    )
    ex = caption_examples(tmp_path)
    assert [(e.level, e.text, e.digit) for e in ex] == [
        ("exact", "a hand-drawn 7", 7),
        ("wrong", "8", 5),
        ("exact", "just text", None),
    ]


def test_any_error_becomes_a_message():
    from aecf.app.problems import describe
    from aecf.errors import CheckpointError, InputError

    p = describe(InputError("The caption is empty."))
    assert p.level == "error" and p.message == "The caption is empty."
    assert "aecf.safetensors not found" in describe(CheckpointError("aecf.safetensors not found")).message
    p = describe(ZeroDivisionError("x"), what="The prediction")
    assert (
        "The prediction failed unexpectedly (ZeroDivisionError)" in p.message and "Traceback" not in p.message
    )


def test_results_loading(tmp_path):
    from aecf.app.results import EVALUATE_COMMAND, ResultsUnavailable, load_results, subset_rows

    with pytest.raises(ResultsUnavailable, match="python -m aecf evaluate"):
        load_results(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ResultsUnavailable, match="unreadable"):
        load_results(tmp_path / "bad.json")
    (tmp_path / "r.json").write_text(
        json.dumps({"methods": {"aecf": {"subsets": {"image": {"acc": 0.5, "ece": 0.1}}}}})
    )
    rows = subset_rows(load_results(tmp_path / "r.json").methods)
    assert rows[0]["method"] == "aecf" and rows[0]["accuracy"] == 0.5 and EVALUATE_COMMAND


# ============================================================================================ pages


def test_navigation_lists_every_page(app_env):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=90).run()
    no_exception(at)
    assert "AECF Explorer" in texts(at, "title")
    for name in ("explore", "subsets", "curriculum", "train"):
        at.switch_page(f"pages/{name}.py").run()
        no_exception(at)


def test_home_says_which_checkpoint_is_loaded(app_env):
    at = page("home")
    no_exception(at)
    assert any("Using **aecf**" in s for s in texts(at, "success"))
    assert not at.latex  # the equations are drawn only while the teaching box is open
    at.session_state["teaching_box"] = True
    at.run()
    assert at.latex, "the home page shows its equations"
    assert any("Try this" in s for s in texts(at, "info"))


def test_home_without_checkpoints_explains(app_env, tmp_path, monkeypatch):
    at = page_without_checkpoints("home", tmp_path, monkeypatch)
    no_exception(at)
    assert any("python -m aecf train" in s for s in texts(at, "warning"))


def test_explore_default_view_shows_every_diagnostic(app_env):
    at = page("explore")
    no_exception(at)
    assert not at.error, texts(at, "error")
    assert metric(at, "Modalities used") == "image + caption + audio"
    float(metric(at, "Confidence"))
    float(metric(at, "Gate entropy"))
    float(metric(at, "λ(x)"))
    assert metric(at, "Baseline: ")  # a baseline side by side
    assert len([b for b in bars(at) if b.startswith(("image:", "caption:", "audio:"))]) == 3  # gate weights
    body = html(at)
    assert body.count('data-testid="lattice-svg"') == 2  # AECF and the baseline
    assert 'data-testid="probs-svg"' in body and 'data-testid="mc-svg"' in body  # and the K passes
    assert any("Try this" in s for s in texts(at, "info"))


def test_explore_toggle_changes_gate_and_lattice(app_env):
    at = page("explore")
    before_lattice = html(at)
    at.toggle(key="img_on").set_value(False).run()
    no_exception(at)
    assert metric(at, "Modalities used") == "caption + audio"
    assert "image: absent, p = 0" in bars(at)
    after = html(at)
    assert after != before_lattice and 'data-subset="image"' not in after.split("lattice-svg")[1]


def test_explore_every_modality_off_is_a_warning(app_env):
    at = page("explore", {"img_on": "false", "cap_on": "false", "aud_on": "false"})
    no_exception(at)
    assert any("Every modality is switched off" in s for s in texts(at, "warning"))


def test_explore_sliders_corrupt_on_purpose(app_env):
    at = page("explore")
    clean = metric(at, "Gate entropy"), metric(at, "Confidence")
    at.slider(key="isev").set_value(1.0).run()
    at.slider(key="snr").set_value(-10.0).run()
    no_exception(at)
    assert not at.error
    assert (metric(at, "Gate entropy"), metric(at, "Confidence")) != clean


def test_explore_view_comes_from_the_url(app_env):
    at = page(
        "explore", {"img_on": "false", "isev": "0.5", "k": "5", "cap": "an odd number", "base": "moddrop"}
    )
    no_exception(at)
    assert at.toggle(key="img_on").value is False
    assert at.slider(key="isev").value == 0.5
    assert at.text_area(key="cap").value == "an odd number"
    assert metric(at, "Spread over K=5")
    assert metric(at, "Baseline: moddrop")


def test_explore_example_caption_fills_the_text(app_env):
    at = page("explore")
    options = at.selectbox(key="caption_example").options
    wrong = next(o for o in options if o.startswith("wrong"))
    at.selectbox(key="caption_example").set_value(wrong).run()
    no_exception(at)
    assert at.text_area(key="cap").value == wrong.split(": ", 1)[1]


def test_explore_uploads_an_image_and_a_wav(app_env):
    at = page("explore", {"isrc": "upload", "asrc": "upload"})
    img = np.zeros((64, 64), np.uint8)
    img[12:52, 28:36] = 255  # a "1"
    at.file_uploader(key="img_upload").upload("one.png", png_bytes(img), "image/png").run()
    at.file_uploader(key="aud_upload").upload("clip.wav", sample_wav(app_env), "audio/wav").run()
    no_exception(at)
    assert not at.error, texts(at, "error")
    assert metric(at, "Modalities used") == "image + caption + audio"


def test_explore_records_audio(app_env):
    at = page("explore", {"asrc": "record"})
    assert any("No recording yet" in s for s in texts(at, "info"))
    at.audio_input(key="aud_record").upload("recording.wav", sample_wav(app_env)).run()
    no_exception(at)
    assert not at.error, texts(at, "error")
    assert metric(at, "Modalities used") == "image + caption + audio"


BAD_INPUTS = [
    ("image", "corrupt.png", b"\x89PNG\r\n\x1a\n" + b"\x00garbage" * 50, "not a readable image"),
    (
        "image",
        "notes.png",
        b"just some text, not a picture",
        "not a readable image",
    ),  # a text file named .png
    ("audio", "song.wav", b"RIFF....WAVEfmt garbage", "not readable audio"),
    ("audio", "photo.mp3", None, "not readable audio"),  # an image named like a recording
]


@pytest.mark.parametrize("modality,name,data,message", BAD_INPUTS)
def test_explore_bad_uploads_are_clear_errors(app_env, modality, name, data, message):
    at = page("explore", {"isrc": "upload", "asrc": "upload"} if modality == "audio" else {"isrc": "upload"})
    if data is None:
        data = png_bytes(np.full((40, 40), 200, np.uint8))
    key = "img_upload" if modality == "image" else "aud_upload"
    at.file_uploader(key=key).upload(name, data).run()
    no_exception(at)
    assert any(message in s for s in texts(at, "error")), texts(at, "error")
    # the other modalities still give a prediction
    assert metric(at, "Modalities used")


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_explore_uploader_says_what_it_takes(app_env, fmt):
    """The uploader declares every format it reads (its help says them), and GIF / WebP do work."""
    from PIL import Image

    from aecf.app.explore import IMAGE_TYPES, IMAGE_TYPES_TEXT

    at = page("explore", {"isrc": "upload"})
    up = at.file_uploader(key="img_upload")
    assert sorted(up.proto.type) == sorted(f".{t}" for t in IMAGE_TYPES) and IMAGE_TYPES_TEXT in up.proto.help
    assert fmt.lower() in IMAGE_TYPES_TEXT.lower()
    img = np.zeros((64, 64), np.uint8)
    img[12:52, 28:36] = 255
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format=fmt)
    at.file_uploader(key="img_upload").upload(
        f"one.{fmt.lower()}", buf.getvalue(), f"image/{fmt.lower()}"
    ).run()
    no_exception(at)
    assert not at.error, texts(at, "error")
    assert metric(at, "Modalities used") == "image + caption + audio"


def test_explore_fifty_megapixel_image_is_refused(app_env):
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8000, 6500), 255).save(buf, format="PNG")  # 52 MP, compresses to ~50 kB
    at = page("explore", {"isrc": "upload"})
    at.file_uploader(key="img_upload").upload("huge.png", buf.getvalue(), "image/png").run()
    no_exception(at)
    assert any("megapixels" in s for s in texts(at, "error")), texts(at, "error")


@pytest.mark.parametrize("seconds,signal,message", [(300, "tone", "limit is 10 s"), (2, "silence", "silent")])
def test_explore_long_or_silent_audio_is_refused(app_env, seconds, signal, message):
    samples = tone(seconds) if signal == "tone" else np.zeros(int(seconds * SAMPLE_RATE))
    at = page("explore", {"asrc": "upload"})
    at.file_uploader(key="aud_upload").upload("clip.wav", wav_bytes(samples), "audio/wav").run()
    no_exception(at)
    assert any(message in s for s in texts(at, "error")), texts(at, "error")
    assert metric(at, "Modalities used") == "image + caption"


@pytest.mark.parametrize("caption,ok", [("", False), ("   ", False), ("seven " * 1000, True)])
def test_explore_empty_or_huge_caption(app_env, caption, ok):
    at = page("explore")
    at.text_area(key="cap").input(caption).run()
    no_exception(at)
    if ok:
        assert not at.error and metric(at, "Modalities used") == "image + caption + audio"
    else:
        assert any("caption is empty" in s for s in texts(at, "error"))
        assert metric(at, "Modalities used") == "image + audio"


def test_explore_missing_and_corrupt_checkpoints(app_env, tmp_path, monkeypatch):
    import shutil

    broken = tmp_path / "ckpt"
    shutil.copytree(app_env["checkpoints"], broken)
    (broken / "fusion" / "aecf.safetensors").write_bytes(b"definitely not safetensors")
    monkeypatch.setenv("AECF_APP_CHECKPOINT_DIR", str(broken))
    at = page("explore")
    no_exception(at)
    assert any("Checkpoint problem" in s and "corrupt" in s for s in texts(at, "error")), texts(at, "error")
    # another checkpoint still works from the same page
    at.selectbox(key="ckpt").set_value("late_fusion").run()
    no_exception(at)
    assert not at.error and metric(at, "Modalities used")

    (broken / "fusion" / "aecf.safetensors").unlink()
    (broken / "fusion" / "aecf.json").unlink()
    at = page("explore", {"ckpt": "aecf"})
    no_exception(at)
    assert not any("Traceback" in s for s in texts(at, "error"))


def test_explore_no_checkpoint_at_all(app_env, tmp_path, monkeypatch):
    at = page_without_checkpoints("explore", tmp_path, monkeypatch)
    no_exception(at)
    assert any("python -m aecf train" in s for s in texts(at, "error"))


def test_explore_canvas_and_tabs(app_env):
    at = page("explore", {"isrc": "draw", "details": "true"})
    no_exception(at)
    assert any("No image yet" in s for s in texts(at, "info"))  # nothing drawn yet: image counts as missing
    assert metric(at, "Modalities used") == "caption + audio"
    assert at.image, "the log-mel is shown as an image"


def test_subsets_page(app_env):
    at = page("subsets")
    no_exception(at)
    assert at.table and len(at.get("plotly_chart")) >= 2
    summary = at.table[0].value  # a missing value (late fusion has no gate, so no H(p)) reads "–", not None
    assert not summary.astype(str).isin(["None", "nan", "NaN", "<NA>"]).any().any()
    gateless = summary[summary["method"] == "late_fusion"]
    assert list(gateless["H(p)"]) == ["–"]
    at.multiselect(key="methods").set_value(["aecf"]).run()
    no_exception(at)


def test_subsets_page_without_results(app_env, monkeypatch, tmp_path):
    from aecf import paths

    monkeypatch.setenv("AECF_APP_RESULTS_JSON", str(tmp_path / "missing.json"))
    monkeypatch.setattr(paths, "results_dirs", lambda: [tmp_path / "no-results"])  # nor any committed ones
    at = page("subsets")
    no_exception(at)
    assert any("python -m aecf evaluate" in s for s in texts(at, "warning"))
    assert any("python -m aecf evaluate" in c.value for c in at.code)


def test_curriculum_simulator(app_env):
    at = page("curriculum")
    no_exception(at)
    n_charts = len(at.get("plotly_chart"))
    at.segmented_control(key="sim_mode").set_value("entropy").run()
    at.slider(key="sim_h").set_value(0.1).run()
    at.toggle(key="sim_audio").set_value(False).run()
    no_exception(at)
    assert len(at.get("plotly_chart")) >= n_charts - 1
    for m in ("image", "caption"):
        at.toggle(key=f"sim_{m}").set_value(False).run()
    assert any("nothing to mask" in s for s in texts(at, "error"))


def test_curriculum_reads_a_run(app_env):
    from aecf import runs

    run_dir = runs.create_run_dir("aecf", 0, app_env["runs"])
    writer = runs.RunWriter(run_dir)
    writer.write_config({"method": "aecf", "pi_max": 0.5, "mask_warmup": 0.3})
    for i in range(5):
        writer.log(
            {
                "kind": "step",
                "epoch": 0,
                "step": i,
                "mask_rate": 0.1 * i,
                "pi": 0.1 * i,
                "mask_rate_image": 0.2 * i,
                "mask_rate_caption": 0.05,
                "mask_rate_audio": 0.05,
                "gate_entropy": 1.0 - 0.1 * i,
            }
        )
    writer.set_status("finished")
    at = page("curriculum")
    no_exception(at)
    assert at.selectbox(key="curriculum_run").value.startswith(("run:", "shipped:"))
    titles = [c.proto.spec for c in at.get("plotly_chart")]
    assert any("mask rate" in t for t in titles)


def test_train_page_before_any_run_shows_the_shipped_training(app_env):
    """A fresh clone has no runs: the page still shows curves (the shipped aecf's own training) and compares the
    shipped aecf with the shipped late fusion at 50 % drop, where the page's "try this" says aecf ends higher."""
    import json

    at = page("train", timeout=120)
    no_exception(at)
    assert any("No runs yet" in s for s in texts(at, "info"))
    curves = re.findall(r'data-testid="curve-svg" data-title="([^"]*)"', html(at))
    assert "Accuracy" in curves and "Loss parts" in curves and "Mask rates" in curves
    assert at.multiselect(key="compare_runs").value == ["shipped: aecf", "shipped: late_fusion"]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    last = {tr["name"]: tr["y"][-1] for tr in spec["data"]}
    assert set(last) == {"shipped: aecf", "shipped: late_fusion"}
    assert last["shipped: aecf"] > last["shipped: late_fusion"]
    assert not at.get("arrow_data_frame") and "Watch run" not in [s.label for s in at.selectbox]


def test_train_page_runs_one_epoch(app_env):
    from aecf.app.training import get_run_manager

    at = page("train", timeout=120)
    no_exception(at)
    assert any("No runs yet" in s for s in texts(at, "info"))
    at.selectbox(key="train_method").set_value("aecf")
    at.slider(key="train_epochs").set_value(1)
    at.slider(key="train_k").set_value(2)
    start = lambda: next(b for b in at.button if b.label == "Start training")  # noqa: E731
    start().click().run()
    no_exception(at)
    manager = get_run_manager()
    run_id = manager.active_id
    assert run_id and run_id.endswith("-aecf-s0")
    if manager.is_running():  # every session is told, and cannot start a second run
        other = page("train", timeout=120)
        if manager.is_running():
            assert any("One run at a time" in s for s in texts(other, "info"))
            assert next(b for b in other.button if b.label == "Start training").disabled
    manager.join(180)
    at = page("train", timeout=120)  # what a refresh shows: the run and its curves come back from disk
    no_exception(at)
    assert at.selectbox(key="watch_select").value == run_id
    assert metric(at, "State") == "finished"
    curves = re.findall(
        r'data-testid="curve-svg" data-title="([^"]*)"', html(at)
    )  # loss parts, accuracy, ECE,
    assert len(curves) >= 4 and "Accuracy" in curves and "Loss parts" in curves  # H(p)/λ(x), mask rates
    assert at.dataframe
    assert any("Open this run in Explore" in b.label for b in at.button)
    offered = at.multiselect(key="compare_runs")
    assert offered.value == [run_id, "shipped: aecf"]  # the new run, with the shipped aecf as the yardstick


def test_finished_run_opens_in_explore(app_env, monkeypatch):
    import streamlit as st

    from aecf.app.training import RunManager

    manager = RunManager(app_env["runs"])
    run_id = manager.start({"method": "late_fusion", "epochs": 1, "seed": 0})
    manager.join(120)
    calls = []
    monkeypatch.setattr(st, "switch_page", lambda page, query_params=None: calls.append((page, query_params)))
    at = page("train")
    next(b for b in at.button if "Open this run in Explore" in b.label).click().run()
    assert calls == [("pages/explore.py", {"ckpt": f"run:{run_id}"})]
    # and that link opens the run's model in Explore
    at = page("explore", {"ckpt": f"run:{run_id}"})
    no_exception(at)
    assert at.selectbox(key="ckpt").value == f"run:{run_id}"
    assert not at.error and metric(at, "Modalities used") == "image + caption + audio"


def _train_manager(app_env, monkeypatch, **fake):
    from aecf.app import training
    from tests.support.fake_runs import fake_target

    manager = training.RunManager(app_env["runs"], target=fake_target(**fake))
    monkeypatch.setattr(training, "_MANAGER", manager)
    return manager


def _button(at, label: str):
    return next((b for b in at.button if b.label == label), None)


def test_only_the_page_that_started_a_run_can_stop_it(app_env, monkeypatch):
    """A starts a run; B opens Train: B is told who runs what since when, and gets no Stop; A refreshes (its
    address keeps its key) and stops it; then both pages offer Start again, and say who stopped it."""
    from aecf import runs
    from aecf.app.training import new_owner_key, valid_owner_key

    manager = _train_manager(app_env, monkeypatch, steps=100_000, saving=2.0)
    a = page("train")
    a.slider(key="train_epochs").set_value(1)
    _button(a, "Start training").click().run()
    no_exception(a)
    run_id, key = manager.active_id, a.query_params.get("owner")
    assert run_id and valid_owner_key(key)
    assert metric(a, "State") == "training (epoch 1 of 1)" and _button(a, "Stop") is not None
    assert any("you started it" in s for s in texts(a, "info"))

    b = page("train")  # another person
    no_exception(b)
    assert b.selectbox(key="watch_select").value == run_id and _button(b, "Stop") is None
    told = " ".join(texts(b, "info"))
    assert "started by another session on this server" in told and run_id in told
    assert any("only that session can stop it" in s for s in texts(b, "caption"))
    assert _button(b, "Start training").disabled
    assert _button(page("train", {"owner": new_owner_key()}), "Stop") is None  # a key of its own: no Stop

    a = page("train", dict(a.query_params))  # A refreshes
    _button(a, "Stop").click().run()
    assert metric(a, "State") == "stopping (saving)" and _button(a, "Stop") is None
    manager.join(10)
    assert runs.read_status(app_env["runs"] / run_id)["state"] == "stopped"
    a, b = page("train", dict(a.query_params)), page("train")
    for at, words in ((a, "stopped by you"), (b, "stopped early")):
        no_exception(at)
        assert metric(at, "State") == words
        assert not _button(at, "Start training").disabled and not any(
            "training on this" in s for s in texts(at, "info")
        )
        assert at.dataframe[0].value["state"].tolist() == [words]


def test_train_page_all_runs_in_words(app_env, monkeypatch):
    """Every state in words, every empty metric as "–": never a raw None, never "running · 0 · None"."""
    import subprocess
    import sys

    from aecf import runs

    def run_dir(method: str, seed: int, state: str, rows=(), **status):
        path = runs.create_run_dir(method, seed, app_env["runs"])
        writer = runs.RunWriter(path)
        writer.write_config({"method": method, "epochs": 2, "seed": seed})
        for row in rows:
            writer.log(row)
        writer.set_status(state, **status)
        return path.name

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    ids = {
        run_dir("aecf", 1, "running", server_pid=gone.pid): "interrupted (server restarted)",
        run_dir("moddrop", 2, "failed", error="ValueError: no features"): "failed: ValueError: no features",
        run_dir(
            "late_fusion", 3, "finished", [{"kind": "epoch", "epoch": 1, "val_acc": 0.8, "val_ece": None}]
        ): "finished",
    }
    manager = _train_manager(app_env, monkeypatch, steps=100_000)
    ids[manager.start({"method": "gate", "epochs": 2, "seed": 4})] = "training (epoch 1 of 2)"
    at = page("train")
    no_exception(at)
    table = at.dataframe[0].value
    assert dict(zip(table["run"], table["state"], strict=True)) == ids
    assert "val accuracy, 50 % drop" in table.columns and not [c for c in table.columns if "_" in c]
    cells = [str(v) for v in table.to_numpy().ravel()]
    assert not [c for c in cells if c in ("None", "nan", "") or "None" in c], cells
    finished = table[table["state"] == "finished"].iloc[0]
    assert finished["val accuracy"] == "0.800" and finished["val ECE"] == "–"
    assert finished["epochs"] == "2 of 2"
    assert metric(at, "val accuracy, 50 % drop") == "–"  # the live run, no epoch yet


def test_train_page_compare_takes_in_new_runs_and_shows_copies(app_env, monkeypatch):
    """After a run, Compare shows it beside the shipped aecf; a run whose curve is the shipped aecf's, point
    for point, is drawn dashed and its legend says so."""
    import json
    import shutil

    from aecf import runs

    at = page("train")
    assert at.multiselect(key="compare_runs").value == ["shipped: aecf", "shipped: late_fusion"]
    copy = runs.create_run_dir("aecf", 0, app_env["runs"])
    writer = runs.RunWriter(copy)
    writer.write_config({"method": "aecf", "epochs": 3, "seed": 0})
    shutil.copy(app_env["checkpoints"] / "fusion" / "aecf.metrics.jsonl", copy / "metrics.jsonl")
    writer.set_status("finished")
    at.run()  # the same page, next redraw (a run ended here or elsewhere)
    no_exception(at)
    assert at.multiselect(key="compare_runs").value == [copy.name, "shipped: aecf"]
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    traces = {tr["name"]: tr for tr in spec["data"]}
    assert set(traces) == {"shipped: aecf", f"{copy.name} (same as shipped: aecf)"}
    assert traces[f"{copy.name} (same as shipped: aecf)"]["line"]["dash"] == "dash"
    assert "val accuracy, 50 % drop" in json.dumps(spec["layout"]["title"])
    assert any("dashed curve" in s for s in texts(at, "caption"))
    at.multiselect(key="compare_runs").set_value(["shipped: late_fusion"]).run()
    later = runs.create_run_dir("late_fusion", 1, app_env["runs"])
    runs.RunWriter(later).write_config({"method": "late_fusion", "epochs": 1, "seed": 1})
    at.run()
    assert at.multiselect(key="compare_runs").value == [later.name, copy.name, "shipped: aecf"]


def test_train_page_without_features(app_env, monkeypatch, tmp_path):
    monkeypatch.setenv("AECF_APP_FEATURE_DIR", str(tmp_path / "nothing"))
    at = page("train")
    no_exception(at)
    assert any("python -m aecf features" in s for s in texts(at, "warning"))


def test_every_page_has_equations_and_a_try_this_prompt():
    for name in ("home", "explore", "subsets", "curriculum", "train"):
        source = (PAGES / f"{name}.py").read_text()
        assert "teaching_box(" in source and "ensure_navigation()" in source, name


def test_server_config_is_local_and_capped():
    import tomllib

    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["address"] == "127.0.0.1"
    # the server's limit is the Train page's dataset zips' (each smaller uploader sets its own: test_app_train_data)
    assert cfg["server"]["maxUploadSize"] == 300
    assert cfg["client"]["showErrorDetails"] == "none"
    assert cfg["browser"]["gatherUsageStats"] is False


def test_seed_checkpoints_are_distinct_choices(tmp_path, monkeypatch):
    """aecf.seed1.safetensors must not be listed as a second 'aecf' (Path.with_suffix ate '.seed1')."""
    import shutil

    from aecf import paths
    from aecf.app import checkpoints as app_model
    from aecf.paths import CHECKPOINT_DIR

    src = CHECKPOINT_DIR / "fusion"
    for stem in ("aecf", "aecf.seed1"):
        for ext in (".safetensors", ".json"):
            shutil.copy(src / f"{stem}{ext}", tmp_path / f"{stem}{ext}")
    monkeypatch.setattr(paths, "fusion_dir", lambda: tmp_path)
    keys = [c.key for c in app_model.checkpoint_choices(include_runs=False)]
    assert sorted(keys) == ["aecf", "aecf.seed1"]
    assert app_model.resolve("aecf.seed1").name == "aecf.seed1.safetensors"
