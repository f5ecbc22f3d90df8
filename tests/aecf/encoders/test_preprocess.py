"""Real-input preprocessing: odd files in, MNIST-style digits / clean 16 kHz speech / tidy text out."""

from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

from aecf.constants import SAMPLE_RATE
from aecf.data.captions import class_prompt
from aecf.data.heldout.recordings import room_recording
from aecf.encoders.audio import MEL, fit_window, logmel, logmel_batch
from aecf.encoders.clip import load_clip
from aecf.encoders.preprocess import (
    MAX_AUDIO_SECONDS,
    NOT_SPEECH_REASONS,
    NOT_SPEECH_THRESHOLDS,
    caption_tower_texts,
    known_caption_words,
    not_speech,
    preprocess_audio,
    preprocess_caption,
    preprocess_image,
)
from aecf.encoders.training.image_caption import CaptionBank
from aecf.errors import InputError
from aecf.paths import SAMPLES_DIR
from tests.support.sounds import chord, click_track, noise_bursts, pulsing_tune, tone

# ------------------------------------------------------------------------------------------ helpers


def digit_seven(size: int = 200, thickness: int = 14) -> np.ndarray:
    """Dark '7' on white paper, uint8 [size, size]."""
    from PIL import ImageDraw

    im = Image.new("L", (size, size), 255)
    d = ImageDraw.Draw(im)
    s = size / 200
    d.line([(55 * s, 45 * s), (145 * s, 45 * s), (90 * s, 160 * s)], fill=0, width=int(thickness * s))
    return np.asarray(im)


def png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def similar(a: np.ndarray, b: np.ndarray, min_corr: float = 0.9) -> bool:
    """Pixel correlation, tolerating the one-pixel shifts that centring by mass can round to."""
    best = max(
        float(np.corrcoef(np.roll(a, (dy, dx), (0, 1)).ravel(), b.ravel())[0, 1])
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )
    return best >= min_corr


@pytest.fixture(scope="module")
def reference() -> np.ndarray:
    return preprocess_image(digit_seven())


# ------------------------------------------------------------------------------------------- images


def test_output_is_mnist_style(reference):
    assert reference.shape == (28, 28) and reference.dtype == np.float32
    assert 0.0 <= reference.min() and reference.max() <= 1.0
    assert reference.max() > 0.9  # white ink
    # MNIST frame: the digit lies within a 20x20 box, centred by mass, with a dark border
    ys, xs = np.nonzero(reference > 0.05)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 <= 21
    cy, cx = np.average(np.indices(reference.shape), axis=(1, 2), weights=reference)
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0


def test_polarity_from_border(reference):
    inverted = preprocess_image(255 - digit_seven())  # white ink on black
    assert similar(inverted, reference, 0.95)


def test_rgba_transparent_background(reference):
    ink = 255 - digit_seven()
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink  # black strokes on a transparent sheet
    assert similar(preprocess_image(png_bytes(Image.fromarray(rgba, "RGBA"))), reference, 0.95)
    rgba[..., :3] = 255  # white strokes on transparent (a drawing canvas)
    assert similar(preprocess_image(png_bytes(Image.fromarray(rgba, "RGBA"))), reference, 0.95)


def test_16bit_png(reference):
    sixteen = digit_seven().astype(np.uint16) * 257
    data = png_bytes(Image.fromarray(sixteen))
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    assert similar(preprocess_image(data), reference, 0.98)


@pytest.mark.parametrize("mode", ["P", "CMYK", "RGB", "1", "LA"])
def test_other_modes(mode, reference):
    im = Image.fromarray(digit_seven()).convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    buf = io.BytesIO()
    im.save(buf, fmt)
    assert similar(preprocess_image(buf.getvalue()), reference, 0.9)


def test_array_inputs(reference):
    img = digit_seven()
    assert similar(preprocess_image(img.astype(np.float32) / 255), reference, 0.98)
    assert similar(preprocess_image(img < 128), reference, 0.95)
    assert similar(preprocess_image(np.stack([img] * 3, -1)), reference, 0.98)
    assert similar(preprocess_image(Image.fromarray(img)), reference, 0.98)


def test_large_photo_like_image(reference):
    """4000x3000 JPEG: small off-centre digit, uneven light, a shadow band, sensor noise."""
    rng = np.random.default_rng(0)
    h, w = 3000, 4000
    yy, xx = np.mgrid[0:h:8, 0:w:8] / 1000.0
    paper = np.asarray(Image.fromarray((0.5 + 0.08 * xx + 0.12 * yy).astype(np.float32), "F").resize((w, h)))
    digit = np.asarray(Image.fromarray(digit_seven()).resize((500, 500), Image.BILINEAR)) / 255.0
    photo = paper.copy()
    photo[1700:2200, 2600:3100] *= 0.25 + 0.75 * digit
    photo[:120] *= 0.45
    photo += rng.normal(0, 0.02, photo.shape)
    rgb = Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)).convert("RGB")
    buf = io.BytesIO()
    rgb.save(buf, "JPEG", quality=70)
    assert similar(preprocess_image(buf.getvalue()), reference, 0.85)


def _photo_of_seven(
    shadow, seed: int = 0, h: int = 480, w: int = 640, at=(300, 380), size: int = 90, thickness: int = 14
) -> bytes:
    """JPEG of a small dark 7 on light paper under a shadow (a [h, w] light multiplier), with noise."""
    rng = np.random.default_rng(seed)
    digit = (
        np.asarray(Image.fromarray(digit_seven(thickness=thickness)).resize((size, size), Image.BILINEAR))
        / 255.0
    )
    paper = np.full((h, w), 0.9)
    y, x = at
    paper[y : y + size, x : x + size] *= 0.25 + 0.75 * digit
    photo = paper * shadow + rng.normal(0, 0.015, (h, w))
    buf = io.BytesIO()
    Image.fromarray((np.clip(photo, 0, 1) * 255).astype(np.uint8)).convert("RGB").save(
        buf, "JPEG", quality=75
    )
    return buf.getvalue()


def test_photo_polarity_survives_a_shadow_over_most_of_the_border(reference):
    """A shadow over most of the border once made light paper look dark there: the digit was read
    as light ink and came out as a blob around the strokes."""
    h, w = 480, 640
    xx = np.mgrid[0:h, 0:w][1] / w
    shadow = 1.0 - 0.55 / (
        1.0 + np.exp(-(0.45 - xx) / 0.03)
    )  # left 45 % in shadow, more than half the border
    shadow *= 1.0 - 0.25 * np.mgrid[0:h, 0:w][0] / h
    assert similar(preprocess_image(_photo_of_seven(shadow)), reference, 0.85)


def test_photo_soft_shadow_edge_is_not_taken_for_the_digit(reference):
    """The soft edge of a shadow across the sheet is left as a faint band once the paper is flattened;
    the digit, not the band, must come out."""
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    d = (xx - 0.5) * 0.6 + (yy - 0.5) * 0.8 + 0.25
    shadow = 1.0 - 0.45 / (1.0 + np.exp(-d / 0.06))
    out = preprocess_image(_photo_of_seven(shadow, at=(60, 120), size=70, thickness=10))
    assert similar(out, reference, 0.85)


def test_bold_digit_filling_a_tight_crop_is_not_refused():
    """A bold 0 covering most of a small scan (paper all round it): the median of the image is ink, not
    paper, so the noise level must come from the border."""
    from PIL import ImageDraw

    im = Image.new("L", (64, 54), 230)
    ImageDraw.Draw(im).rounded_rectangle((4, 4, 59, 49), radius=14, fill=50)  # ink: over half the image
    ImageDraw.Draw(im).ellipse((26, 16, 38, 38), fill=230)
    out = preprocess_image(png_bytes(im))  # was refused as blank
    assert out.max() > 0.9 and (out > 0.5).mean() > 0.2
    assert out[13:15, 13:15].mean() < 0.5  # the counter stays open


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P", "I;16"])
def test_huge_images_are_reduced_before_decoding_to_float(mode):
    small = np.asarray(Image.fromarray(digit_seven()).resize((400, 300)))
    big = Image.fromarray(np.asarray(Image.fromarray(small).resize((5200, 3900))))
    big = Image.fromarray(np.asarray(big).astype(np.uint16) * 257) if mode == "I;16" else big.convert(mode)
    assert similar(preprocess_image(png_bytes(big)), preprocess_image(small), 0.95)


def test_mnist_digit_passes_through_unchanged():
    from aecf.data.mnist import load_mnist

    x, _ = load_mnist("test")
    img = x[0].astype(np.float32) / 255.0
    assert np.allclose(preprocess_image(x[0]), img, atol=1e-6)
    assert np.allclose(preprocess_image(255 - x[0]), img, atol=1.5 / 255)


def test_specks_are_dropped(reference):
    img = digit_seven().copy()
    img[5:8, 185:188] = 0  # pen dots far from the digit
    img[190:193, 10:13] = 0
    assert similar(preprocess_image(img), reference, 0.97)


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    )


def test_decompression_bomb_refused():
    with pytest.raises(InputError, match="megapixels"):
        preprocess_image(_png_header_only(20_000, 20_000))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not an image at all",
        png_bytes(Image.new("L", (64, 64)))[:60],
        b"\x89PNG\r\n\x1a\n" + b"\0" * 40,
    ],
    ids=["empty", "text", "truncated-png", "broken-png"],
)
def test_corrupt_image_refused(data):
    with pytest.raises(InputError) as e:
        preprocess_image(data)
    assert len(str(e.value)) > 10


@pytest.mark.parametrize("value", [0, 128, 255])
def test_blank_image_refused(value):
    with pytest.raises(InputError, match="[Nn]o digit"):
        preprocess_image(np.full((100, 100), value, np.uint8))


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        preprocess_image(tmp_path / "nope.png")


# -------------------------------------------------------------------------------------------- audio


def tone_word(seconds: float = 0.5, sr: int = SAMPLE_RATE, pad: float = 0.3) -> np.ndarray:
    """A voiced-ish burst (harmonics with an envelope) between two stretches of near silence."""
    t = np.arange(int(seconds * sr)) / sr
    word = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1))
    word *= np.hanning(len(word))
    p = np.zeros(int(pad * sr))
    rng = np.random.default_rng(0)
    return (np.concatenate([p, 0.5 * word, p]) + 1e-4 * rng.standard_normal(2 * len(p) + len(word))).astype(
        np.float32
    )


def wav_bytes(wave: np.ndarray, sr: int, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, wave, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def test_stereo_44k_wav_is_downmixed_resampled_and_trimmed():
    mono = tone_word(sr=44_100)
    stereo = np.stack([mono, 0.5 * mono], axis=1)
    out = preprocess_audio(wav_bytes(stereo, 44_100, subtype="PCM_16"))
    assert out.ndim == 1 and out.dtype == np.float32
    assert 0.45 < len(out) / SAMPLE_RATE < 0.7  # the 0.3 s silences are trimmed (50 ms margins kept)
    assert abs(float(np.abs(out).max()) - 0.9) < 1e-3


def test_stereo_takes_the_louder_channel_not_the_comb_filtered_mix():
    # the second microphone hears the word 0.5 ms later: their mean would cancel 1, 3, 5 ... kHz
    rng = np.random.default_rng(3)
    sr = 16_000
    word = np.concatenate([np.zeros(4000), rng.standard_normal(8000) * np.hanning(8000), np.zeros(4000)])
    delayed = np.concatenate([np.zeros(8), word[:-8]])
    stereo = np.stack([0.8 * delayed, word], axis=1).astype(np.float32)
    out = preprocess_audio((stereo, sr))
    ref = preprocess_audio((stereo[:, 1].copy(), sr))  # the louder channel alone
    assert len(out) == len(ref) and np.allclose(out, ref, atol=1e-6)
    spec = np.abs(np.fft.rfft(out)) ** 2
    f = np.fft.rfftfreq(len(out), 1 / sr)
    notch = spec[(f > 900) & (f < 1100)].mean() / spec[(f > 1700) & (f < 2300)].mean()
    assert notch > 0.3  # the mean of the two channels has a deep notch at 1 kHz (ratio ~0.01)


def test_array_and_path_inputs(tmp_path):
    wave = tone_word()
    a = preprocess_audio((wave, SAMPLE_RATE))
    path = tmp_path / "word.flac"
    sf.write(path, wave, SAMPLE_RATE)
    b = preprocess_audio(path)
    c = preprocess_audio((wave.T[None], SAMPLE_RATE))  # [channels, samples]
    assert abs(len(a) - len(b)) < 400 and len(c) == len(a)


def test_ogg_vorbis():
    out = preprocess_audio(wav_bytes(tone_word(), SAMPLE_RATE, fmt="OGG", subtype="VORBIS"))
    assert 0.4 < len(out) / SAMPLE_RATE < 0.7


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
@pytest.mark.parametrize("ext", ["mp3", "webm"])
def test_compressed_formats_via_ffmpeg(tmp_path, ext):
    src = tmp_path / "word.wav"
    sf.write(src, tone_word(), SAMPLE_RATE)
    dst = tmp_path / f"word.{ext}"
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(src), str(dst)], check=True, timeout=60)
    out = preprocess_audio(dst.read_bytes())
    assert 0.4 < len(out) / SAMPLE_RATE < 0.8


def test_too_short_clip_refused():
    with pytest.raises(InputError, match="too short"):
        preprocess_audio((tone_word(seconds=0.1), SAMPLE_RATE))


def test_silence_refused():
    with pytest.raises(InputError, match="silent"):
        preprocess_audio((np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE))
    noise = np.random.default_rng(0).standard_normal(2 * SAMPLE_RATE).astype(np.float32) * 0.1
    with pytest.raises(InputError, match="[Nn]o speech"):
        preprocess_audio((noise, SAMPLE_RATE))


def test_too_long_refused():
    long = np.tile(tone_word(), int(MAX_AUDIO_SECONDS / 1.1) + 2)
    with pytest.raises(InputError, match="limit"):
        preprocess_audio((long, SAMPLE_RATE))


@pytest.mark.parametrize(
    "data", [b"RIFF\x00\x00\x00\x00WAVEjunk", b"\x00" * 1000, b"hello"], ids=["wav", "zeros", "text"]
)
def test_corrupt_audio_refused(data):
    with pytest.raises(InputError) as e:
        preprocess_audio(data)
    assert len(str(e.value)) > 10


def test_logmel_torch_matches_librosa():
    wave = tone_word(pad=0.1)
    ref = logmel(wave)
    fast = logmel_batch(__import__("torch").from_numpy(fit_window(wave))[None])[0].numpy()
    assert ref.shape == (MEL.n_mels, MEL.n_frames)
    assert np.abs(ref - fast).max() < 1e-3


def test_logmel_is_gain_invariant():
    wave = tone_word()
    assert np.abs(logmel(wave) - logmel(0.05 * wave)).max() < 1e-3


def test_fit_window_pads_and_crops():
    assert len(fit_window(np.ones(100))) == MEL.window_samples
    long = np.zeros(3 * MEL.window_samples, np.float32)
    long[-MEL.window_samples // 2 :] = 1.0  # the word is at the end
    assert fit_window(long).sum() == MEL.window_samples // 2


# ------------------------------------------------------------------------------------------ caption


def test_caption_normalisation():
    assert preprocess_caption("  a\tｓｅｖｅｎ\n\u200b  ") == "a seven"
    assert preprocess_caption("the digit ５") == "the digit 5"
    assert len(preprocess_caption("seven " * 1000)) > 1000  # truncated later, by the tokenizer


@pytest.mark.parametrize("bad", ["", "   \n\t", "\u200b"])
def test_empty_caption_refused(bad):
    with pytest.raises(InputError, match="empty"):
        preprocess_caption(bad)


def test_shipped_sample_recordings_are_accepted():
    """Demo WAVs are cut to the word (no silence around it) or noisy; the VAD must keep them, not refuse them."""
    wavs = sorted(SAMPLES_DIR.glob("*.wav"))
    assert wavs, "no sample recordings shipped"
    for wav in wavs:
        wave = preprocess_audio(wav)
        assert 0.1 < len(wave) / 16000 < 2.0, wav.name


def test_long_steady_noise_is_refused():
    from aecf.encoders.preprocess import preprocess_audio

    noise = np.random.default_rng(0).normal(0, 0.1, 16000 * 3).astype(np.float32)
    with pytest.raises(InputError, match="No speech"):
        preprocess_audio((noise, 16000))


@pytest.mark.parametrize("ms", [20, 50, 100])
def test_short_noise_burst_refused(ms):
    """A click or a 50 ms noise burst is not a word: refused with a message, not classified."""
    burst = np.random.default_rng(ms).standard_normal(SAMPLE_RATE * ms // 1000).astype(np.float32) * 0.3
    with pytest.raises(InputError, match="too short to be a spoken word"):
        preprocess_audio((burst, SAMPLE_RATE))
    # the same burst inside a second of near-silence: the VAD finds only the burst
    padded = np.concatenate(
        [np.zeros(SAMPLE_RATE // 2, np.float32), burst, np.zeros(SAMPLE_RATE // 2, np.float32)]
    )
    padded += np.random.default_rng(1).standard_normal(len(padded)).astype(np.float32) * 1e-4
    with pytest.raises(InputError, match="too short"):
        preprocess_audio((padded, SAMPLE_RATE))


def test_word_of_two_tenths_of_a_second_accepted():
    out = preprocess_audio((tone_word(seconds=0.2), SAMPLE_RATE))
    assert len(out) / SAMPLE_RATE >= 0.15


def test_word_in_a_noisy_room_is_not_taken_for_steady_noise():
    """A word at 3 dB SNR with most of two seconds of room noise around it: speech, not "no speech"."""
    rng = np.random.default_rng(2)
    t = np.arange(int(0.5 * SAMPLE_RATE)) / SAMPLE_RATE
    word = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((150, 300, 450, 900), 1)) * np.hanning(
        len(t)
    )
    pad = int(0.8 * SAMPLE_RATE)
    clean = np.concatenate([np.zeros(pad), word, np.zeros(pad)])
    noise = rng.standard_normal(len(clean))
    noise *= np.sqrt(np.mean(word**2) / np.mean(noise**2) / 10 ** (3 / 10))
    out = preprocess_audio(((0.3 * (clean + noise)).astype(np.float32), SAMPLE_RATE))
    assert 0.3 < len(out) / SAMPLE_RATE <= 2.1


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.normal(size=n))
    return np.fft.irfft(spec / np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / SAMPLE_RATE), 20.0)), n)


@pytest.mark.parametrize("snr", [5.0, 15.0])
def test_recording_snr_is_estimated_from_the_room_around_the_word(snr):
    from aecf.encoders.preprocess import recording_snr_db

    rng = np.random.default_rng(1)
    word = tone_word(pad=0.0)
    sig = np.concatenate([np.zeros(int(0.6 * SAMPLE_RATE)), word, np.zeros(int(0.6 * SAMPLE_RATE))])
    noise = _pink(len(sig), rng)
    noise *= np.sqrt(np.mean(word**2) / np.mean(noise**2) / 10 ** (snr / 10))
    info = {}
    preprocess_audio(((sig + noise).astype(np.float32), SAMPLE_RATE), info)
    assert abs(info["snr_db"] - snr) < 6.0
    assert recording_snr_db(sig.astype(np.float32)) > 60  # digital silence around: clean
    info = {}
    preprocess_audio((word, SAMPLE_RATE), info)  # a short clip, all word: not measured
    assert info["snr_db"] is None


def test_separate_sounds_counts_words_apart_in_time_not_a_words_own_gaps_or_a_click():
    from aecf.encoders.preprocess import SOUND_GAP_S, separate_sounds

    word = tone_word(pad=0.0)
    quiet = lambda s: np.zeros(int(s * SAMPLE_RATE), np.float32)  # noqa: E731
    assert separate_sounds(np.concatenate([quiet(0.5), word, quiet(0.5)])) == 1
    two = np.concatenate([quiet(0.5), word, quiet(0.4), 0.5 * word, quiet(0.5)])
    assert separate_sounds(two) == 2
    assert separate_sounds(np.concatenate([two, quiet(0.3), word])) == 3
    # a word's own closure (a stop, 50 ms) is shorter than SOUND_GAP_S: still one word
    assert SOUND_GAP_S > 0.05
    assert separate_sounds(np.concatenate([quiet(0.5), word, quiet(0.05), word, quiet(0.5)])) == 1
    click = np.zeros(int(0.02 * SAMPLE_RATE), np.float32)
    click[::7] = 0.8  # 20 ms: a mouse click before the word is not a sound
    assert separate_sounds(np.concatenate([quiet(0.3), click, quiet(0.4), word, quiet(0.5)])) == 1
    info = {}
    preprocess_audio((two, SAMPLE_RATE), info)
    assert info["sounds"] == 2


# ------------------------------------------------------------------------------- not speech (music, beats)


NOT_SPEECH = {
    "an 8 s tune of 0.25 s notes": (lambda: pulsing_tune(), "tonal"),
    "a 2 s tune": (lambda: pulsing_tune(2.0, 0.3, seed=1), "tonal"),
    "a steady 1 s tone": (lambda: tone(330, 1.0), "tonal"),
    "a chord": (lambda: chord((262, 330, 392), 1.5), "tonal"),
    "rhythmic noise bursts": (lambda: noise_bursts(), "beat"),
    "a click track": (lambda: click_track(), "beat"),
}


@pytest.mark.parametrize("name", list(NOT_SPEECH))
def test_music_tones_and_beats_do_not_sound_like_speech(name):
    make, reason = NOT_SPEECH[name]
    info = {}
    preprocess_audio((make(), SAMPLE_RATE), info)  # read, not refused: the check is a note, not an error
    assert info["not_speech"] == reason, info["speech_features"]


def _shipped_words() -> dict[str, np.ndarray]:
    from aecf.constants import ASSETS_DIR

    wavs = sorted((ASSETS_DIR / "samples").glob("*.wav"))
    assert wavs, "no sample recordings shipped"
    return {w.name: preprocess_audio(w) for w in wavs}


def test_every_shipped_recording_sounds_like_speech():
    from aecf.constants import ASSETS_DIR

    for wav in sorted((ASSETS_DIR / "samples").glob("*.wav")):
        info = {}
        preprocess_audio(wav, info)
        assert info["not_speech"] is None, (wav.name, info["speech_features"])


@pytest.mark.parametrize("seed", range(4))
def test_a_spoken_word_in_silence_noise_or_a_room_still_sounds_like_speech(seed):
    """The shipped words as uploads: with silence and hiss around them, in pink noise, and said in a simulated
    room (reverberation, noise at 0-20 dB, 44.1/48 kHz stereo, compressed: aecf.data.heldout.recordings.room_recording)."""
    rng = np.random.default_rng(seed)
    for name, word in _shipped_words().items():
        pad = np.zeros(int(rng.uniform(0.2, 1.0) * SAMPLE_RATE), np.float32)
        upload = np.concatenate([pad, word, pad]) + rng.normal(0, 1e-3, 2 * len(pad) + len(word))
        noisy = np.concatenate([pad, word, pad])
        noise = _pink(len(noisy), rng)
        noisy = noisy + noise * np.sqrt(
            np.mean(word**2) / np.mean(noise**2) / 10 ** (rng.uniform(5, 15) / 10)
        )
        room, _ = room_recording(word, SAMPLE_RATE, rng, [])
        for how, source in (
            ("upload", (upload.astype(np.float32), SAMPLE_RATE)),
            ("noise", (noisy.astype(np.float32), SAMPLE_RATE)),
            ("room", room),
        ):
            info = {}
            preprocess_audio(source, info)
            assert info["not_speech"] is None, (name, how, info["speech_features"])


def test_not_speech_reads_each_threshold_on_its_side():
    word = {"held_pitch_s": 0.1, "held_spectrum_s": 0.2, "notes": 1, "voiced_run_s": 0.3, "beat": 0.0}
    word |= {"onsets": 2, "beat_cv": float("inf")}
    assert not_speech(word) is None
    t = NOT_SPEECH_THRESHOLDS
    for key in ("held_pitch_s", "held_spectrum_s", "notes", "voiced_run_s"):
        assert not_speech(word | {key: t[key]}) == "tonal"
    assert not_speech(word | {"beat": t["beat"]}) == "beat"
    assert not_speech(word | {"beat_cv": t["beat_cv"]}) == "beat"
    assert not_speech(word | {"voiced_run_s": t["unvoiced_s"]}) == "unvoiced"
    assert set(NOT_SPEECH_REASONS) == {"tonal", "beat", "unvoiced"}


# --------------------------------------------------------------------------------- the caption tower's words


def test_the_caption_vocabulary_is_the_caption_towers_training_captions():
    _, _, tokenizer = load_clip()
    bank = CaptionBank.build(tokenizer)
    assert set(caption_tower_texts()) == set(bank.texts) | {class_prompt(d) for d in range(10)}


@pytest.mark.parametrize(
    ("caption", "known"),
    [
        ("a seven", ["a", "seven"]),
        ("It's a SEVEN!!", ["it", "'s", "a", "seven"]),
        ("7", ["7"]),
        ("a hand-drawn 3", ["a", "hand", "drawn", "3"]),
        ("🙂🙂🙂", []),
        ("семь", []),
        ("七", []),
        ("#@%&* ~~ !!", []),
        ("sieben", []),
    ],
)
def test_known_caption_words_from_the_tokenizer_and_the_training_captions(caption, known):
    _, _, tokenizer = load_clip()
    assert known_caption_words(caption, tokenizer) == known
