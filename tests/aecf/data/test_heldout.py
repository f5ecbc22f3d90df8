"""The held-out real-input sets (aecf.data.heldout): sources, determinism, halves, formats.

Builds a small subset (a few items per set, seconds) into a temporary directory; the full sets are
built by `python -m aecf heldout build` and scored by `python -m aecf encoders report` (tests/aecf/encoders/test_report.py)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from aecf.data.heldout.build import build_heldout
from aecf.data.heldout.images import CANVAS_SIZE, HANDWRITING_FAMILIES, ORDINARY_FAMILIES, available_fonts
from aecf.data.heldout.recordings import FESTIVAL_VOICES
from aecf.data.heldout.sets import AUDIO_SETS, HALVES, MANIFEST, SETS, items, manifest
from aecf.encoders import preprocess_audio, preprocess_image
from aecf.errors import InputError

PER_SET = {s: 12 for s in SETS}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("heldout")
    build_heldout(root, PER_SET, seed=3)
    return root


def test_fonts_of_both_kinds_are_installed():
    fonts = available_fonts()
    families = {k: {f.family for f in fonts if f.kind == k} for k in ("handwriting", "ordinary")}
    assert len(families["handwriting"]) >= 8, families
    assert len(families["ordinary"]) >= 10, families
    assert all(f.family in HANDWRITING_FAMILIES + ORDINARY_FAMILIES for f in fonts)


def test_every_set_has_named_disjoint_halves(built):
    for name in SETS:
        m = manifest(built, name)
        assert m is not None and m["halves"] == ["val", "test"]
        files = {h: {it["file"] for it in m["items"] if it["half"] == h} for h in HALVES}
        assert len(files["val"]) == len(files["test"]) == PER_SET[name] // 2
        assert not files["val"] & files["test"]
        assert all(f.startswith(h + "/") for h in HALVES for f in files[h])
        labels = [it["label"] for it in m["items"]]
        assert set(labels) == set(range(10)), (name, labels)
        assert all((built / name / it["file"]).is_file() for it in m["items"])


def test_build_is_deterministic_and_skips_what_exists(built, tmp_path):
    again = tmp_path / "again"
    build_heldout(again, PER_SET, seed=3, sets=("handwriting", "canvas"))
    for name in ("handwriting", "canvas"):
        a, b = manifest(built, name), manifest(again, name)
        assert a == b
        first = a["items"][0]["file"]
        assert (built / name / first).read_bytes() == (again / name / first).read_bytes()
    stamp = (again / "canvas" / MANIFEST).stat().st_mtime_ns
    build_heldout(again, PER_SET, seed=3, sets=("canvas",))
    assert (again / "canvas" / MANIFEST).stat().st_mtime_ns == stamp  # present: not rebuilt
    build_heldout(again, PER_SET, seed=4, sets=("canvas",))
    assert manifest(again, "canvas")["seed"] == 4  # another seed: rebuilt


def test_handwriting_uses_every_font_once_then_both_kinds_at_random(tmp_path):
    fonts = available_fonts()
    build_heldout(tmp_path, {"handwriting": len(fonts) + 20}, seed=0, sets=("handwriting",))
    items = manifest(tmp_path, "handwriting")["items"]
    assert [it["font"] for it in items[: len(fonts)]] == [f"{f.family} {f.style}" for f in fonts]
    assert {it["kind"] for it in items} == {"handwriting", "ordinary"}
    assert {it["kind"] for it in items[::2]} == {it["kind"] for it in items[1::2]}  # in both halves


def test_canvas_images_are_what_the_app_canvas_returns(built):
    for path, _label, _ in items(built, "canvas", None):
        im = Image.open(path)
        assert im.mode == "RGBA" and im.size == (CANVAS_SIZE, CANVAS_SIZE)
        x = preprocess_image(path)
        assert x.shape == (28, 28) and x.max() > 0.9
        ys, xs = np.nonzero(x > 0.1)
        assert max(np.ptp(ys), np.ptp(xs)) + 1 <= 21  # fitted into the 20 px box by the preprocessing


def test_photos_are_jpeg_frames_with_a_small_digit(built):
    read = 0
    photos = items(built, "photos", None)
    for path, _, _ in photos:
        im = Image.open(path)
        assert im.format == "JPEG" and im.mode == "RGB" and max(im.size) >= 480 and min(im.size) >= 360
        gray = np.asarray(im.convert("L"), np.float32)
        assert np.percentile(gray, 50) > 60  # mostly paper, not ink
        try:
            read += preprocess_image(path).max() > 0.9
        except InputError:  # a few dim, small digits are refused (about 1 % of the full set)
            pass
    assert read >= len(photos) - 2


def test_voice_sets_use_engines_outside_the_benchmark(built):
    for name in AUDIO_SETS:
        voices = {it["voice"] for it in manifest(built, name)["items"]}
        assert voices == {f"festival:{v}" for v in FESTIVAL_VOICES}
        assert not any(v.startswith(("espeak", "flite")) for v in voices)


def test_room_recordings_are_stereo_44_or_48_khz_compressed(built):
    formats, trimmed = set(), 0
    recordings = items(built, "voices_room", None)
    for path, _, info in recordings:
        wave, sr = sf.read(io.BytesIO(path.read_bytes()), always_2d=True)
        assert sr in (44100, 48000) and wave.shape[1] == 2
        assert 0.0 <= info["snr_db"] <= 20.0
        assert all(0.3 <= s <= 1.0 for s in info["silence_s"])
        assert info["noise"] in ("pink", "fan", "babble")
        assert len(wave) / sr >= 0.6 + 0.2  # the word plus at least 0.3 s of room on each side
        formats.add(path.suffix)
        seconds = len(preprocess_audio(path)) / 16000
        assert seconds <= len(wave) / sr + 0.01
        trimmed += seconds < len(wave) / sr - 0.2  # the VAD trims the room tone (not at the lowest SNRs)
    assert formats <= {".flac", ".mp3", ".ogg"} and len(formats) >= 2
    assert trimmed >= len(recordings) // 4  # in loud rooms the VAD keeps most of the clip (fit_window crops)


def test_clean_voices_are_readable_words(built):
    for path, _, _ in items(built, "voices", None):
        info = {}
        out = preprocess_audio(path, info)
        assert 0.2 < len(out) / 16000 < 1.6
        assert info["sounds"] == 1  # one word: Explore says nothing of other sounds


def test_cli_builds_a_subset(tmp_path, capsys):
    from aecf.__main__ import main

    assert main(["heldout", "build", "--out", str(tmp_path), "--per-set", "4", "--sets", "canvas"]) == 0
    assert json.loads((tmp_path / "canvas" / MANIFEST).read_text())["items"]
    assert "canvas" in capsys.readouterr().out
