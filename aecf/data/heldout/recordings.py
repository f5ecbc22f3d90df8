"""The held-out audio renderers: digits said by festival voices (engines the encoders never hear in training),
and the same words recorded in a simulated room (reverberation, background noise, silence around the word,
44.1/48 kHz stereo, compressed)."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import fftconvolve

# festival voices (Debian festvox-*). kal_diphone is left out: flite's kal, a training voice, is the same
# diphone database.
FESTIVAL_VOICES = ("ked_diphone", "cmu_us_slt_arctic_hts")
# what the background talkers of the rooms say (other words by the same voices)
BABBLE_WORDS = ("hello", "table", "window", "morning")


def festival_batch(
    voice: str, jobs: Sequence[tuple[str, float]], tmp: str | Path
) -> list[tuple[np.ndarray, int] | None]:
    """[(word, duration stretch)] said by one festival voice, in ONE festival run (it starts in ~0.4 s, a
    word takes ~30 ms) -> [(float32 mono wave, sample rate) or None where it produced nothing]."""
    tmp = Path(tmp)
    lines = [f"(voice_{voice})"]
    for i, (word, stretch) in enumerate(jobs):
        lines.append(f"(Parameter.set 'Duration_Stretch {stretch:.3f})")
        lines.append(
            f'(set! u (Utterance Text "{word}")) (utt.synth u) (utt.save.wave u "{tmp / f"{i}.wav"}" \'riff)'
        )
    script = tmp / f"{voice}.scm"
    script.write_text("\n".join(lines) + "\n")
    subprocess.run(["festival", "-b", str(script)], capture_output=True, timeout=600, check=False)
    out: list[tuple[np.ndarray, int] | None] = []
    for i in range(len(jobs)):
        path = tmp / f"{i}.wav"
        if path.exists():
            wave, sr = sf.read(path, dtype="float32", always_2d=True)
            out.append((wave.mean(1), int(sr)))
        else:
            out.append(None)
    return out


def festival_available() -> bool:
    return shutil.which("festival") is not None


def synthesize_festival(jobs: list[tuple[str, str, float]], tmp: Path) -> list[tuple[np.ndarray, int]]:
    """[(voice, word, duration_stretch)] -> [(float32 mono wave, sample rate)], one festival run per voice."""
    if not festival_available():
        raise RuntimeError(
            "festival is not installed (apt-get install festival festvox-kdlpc16k "
            "festvox-us-slt-hts, or bash scripts/setup.sh)"
        )
    results: list[tuple[np.ndarray, int] | None] = [None] * len(jobs)
    for voice in sorted({v for v, _, _ in jobs}):
        idx = [i for i, (v, _, _) in enumerate(jobs) if v == voice]
        (tmp / voice).mkdir(parents=True, exist_ok=True)
        for i, r in zip(idx, festival_batch(voice, [jobs[i][1:] for i in idx], tmp / voice), strict=True):
            results[i] = r
    missing = [jobs[i] for i, r in enumerate(results) if r is None]
    if missing:
        raise RuntimeError(f"festival produced no audio for {len(missing)} clips, e.g. {missing[0]}")
    return results  # type: ignore[return-value]


def resample(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    return wave if sr == target else soxr.resample(wave, sr, target).astype(np.float32)


def trim(wave: np.ndarray, sr: int) -> np.ndarray:
    frame = max(1, sr // 100)
    n = len(wave) // frame
    if n == 0:
        return wave
    rms = np.sqrt((wave[: n * frame].reshape(n, frame) ** 2).mean(1) + 1e-12)
    on = np.nonzero(20 * np.log10(rms) > 20 * np.log10(rms.max()) - 40)[0]
    return wave[max(0, on[0] - 2) * frame : min(n, on[-1] + 3) * frame]


def room_impulse(sr: int, rng: np.random.Generator) -> np.ndarray:
    """Sparse early reflections (image-source-like) and a tail whose highs die faster (two bands)."""
    rt60 = rng.uniform(0.25, 0.9)
    n = int(sr * min(1.2, rt60 * 1.2))
    t = np.arange(n) / sr
    ir = np.zeros(n, np.float64)
    ir[0] = 1.0
    for _ in range(int(rng.integers(6, 20))):
        k = int(rng.uniform(0.002, 0.04) * sr)
        ir[k] += rng.choice([-1, 1]) * rng.uniform(0.2, 0.7) * math.exp(-6.9 * k / sr / rt60)
    noise = rng.normal(0, 1, n)
    low = np.convolve(noise, np.ones(8) / 8, mode="same")
    high = noise - low
    tail = low * np.exp(-6.9 * t / rt60) + high * np.exp(-6.9 * t / (0.5 * rt60))
    tail[: int(0.01 * sr)] = 0
    drr = 10 ** (rng.uniform(-6, 6) / 10)  # direct-to-reverberant energy ratio
    tail *= math.sqrt(1.0 / drr / max((tail**2).sum(), 1e-12))
    return (ir + tail).astype(np.float32)


def _room_noise(
    n: int, sr: int, rng: np.random.Generator, babble: list[np.ndarray]
) -> tuple[np.ndarray, str]:
    """(unit-scale noise of n samples, its kind: "pink", "fan" or "babble")."""
    kind = str(rng.choice(["pink", "fan", "babble"]))
    if kind == "babble" and babble:
        out = np.zeros(n, np.float32)
        for _ in range(int(rng.integers(2, 5))):
            w = babble[int(rng.integers(len(babble)))]
            pos = int(rng.integers(0, max(1, n - len(w) // 2)))
            seg = w[: n - pos]
            out[pos : pos + len(seg)] += seg * rng.uniform(0.5, 1.0)
        if (out**2).mean() > 0:
            return out, kind
    if kind == "babble":  # no talkers to mix in: the noise is pink
        kind = "pink"
    white = rng.normal(0, 1, n)
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / sr)
    spec = spec / np.sqrt(np.maximum(f, 20.0))
    pink = np.fft.irfft(spec, n)
    if kind == "fan":
        hum = sum(
            math.exp(-k / 3) * np.sin(2 * math.pi * 50 * (k + 1) * np.arange(n) / sr + rng.uniform(0, 6.3))
            for k in range(8)
        )
        pink = np.convolve(pink, np.ones(16) / 16, mode="same") + 0.5 * hum * pink.std() / np.std(hum)
    return pink.astype(np.float32), kind


def room_recording(
    wave: np.ndarray, sr: int, rng: np.random.Generator, babble: list[np.ndarray]
) -> tuple[bytes, dict]:
    """A word said in a room, recorded on a laptop: reverb, noise, silence, 44.1/48 kHz stereo, compressed."""
    out_sr = int(rng.choice([44100, 48000]))
    x = resample(wave, sr, out_sr)
    x = x / max(1e-6, float(np.abs(x).max()))
    wet = fftconvolve(x, room_impulse(out_sr, rng))[: len(x) + int(0.3 * out_sr)].astype(np.float32)
    pre, post = rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)
    a, b = int(pre * out_sr), int(post * out_sr)
    sig = np.concatenate([np.zeros(a, np.float32), wet, np.zeros(b, np.float32)])
    speech = np.zeros(len(sig), bool)
    speech[a : a + len(x)] = True
    babble_sr = [resample(w, 16000, out_sr) for w in babble]
    noise, kind = _room_noise(len(sig), out_sr, rng, babble_sr)
    snr = rng.uniform(0, 20)
    p_sig = float((sig[speech] ** 2).mean())
    p_noise = float((noise**2).mean())
    mix = sig + noise * math.sqrt(p_sig / max(p_noise, 1e-12) / 10 ** (snr / 10))
    delay = int(rng.integers(0, 30))
    right = np.concatenate([np.zeros(delay, np.float32), mix[: len(mix) - delay]]) * rng.uniform(0.7, 1.0)
    stereo = np.stack([mix, right], 1)
    stereo = (stereo / max(1e-6, float(np.abs(stereo).max())) * rng.uniform(0.3, 0.95)).astype(np.float32)
    fmt = str(rng.choice(["FLAC", "MP3", "OGG"]))
    buf = io.BytesIO()
    if fmt == "MP3":
        sf.write(buf, stereo, out_sr, format="MP3", subtype="MPEG_LAYER_III")
    elif fmt == "OGG":
        sf.write(buf, stereo, out_sr, format="OGG", subtype="VORBIS")
    else:
        sf.write(buf, stereo, out_sr, format="FLAC", subtype="PCM_16")
    return buf.getvalue(), {
        "format": fmt.lower(),
        "sample_rate": out_sr,
        "snr_db": round(float(snr), 2),
        "silence_s": [round(pre, 2), round(post, 2)],
        "noise": kind,
    }
