"""Choose and measure the "does not sound like speech" check (`aecf.encoders.preprocess.not_speech`).

    .venv/bin/python benchmarks/speech_check.py build DIR [--per-kind N] [--seed S]
    .venv/bin/python benchmarks/speech_check.py measure DIR [--json FILE]

`build` renders two disjoint sets, `val` (for choosing the thresholds) and `test` (only for reporting), into
DIR/<half>/ with a manifest.json each:

  speech  spoken digits as the app receives them: the benchmark's engines (espeak-ng, flite; val takes the
          train and val voices of the benchmark's voice split, test its test voices), the audio tower's extra
          training voices (MBROLA, Pico, RHVoice, festival; val only), and the held-out festival voices
          (`aecf.data.heldout`: `voices` and `voices_room`, val and test halves). Each synthesised word comes
          one of four ways: cut to the word (like the shipped samples), with silence and a faint hiss around
          it (an upload), with the benchmark's noise at 0-20 dB SNR, or said in a simulated room with
          other talkers (`aecf.data.heldout.recordings.room_recording`).
  other   sounds that are not speech, generated from the seed: tunes (notes of one length, "pulsing", or
          of mixed lengths; sine, square, sawtooth, triangle, plucked, FM and organ timbres, some with
          vibrato), steady tones and beeps, chords, sirens and glides, rhythmic noise bursts, click tracks,
          drum loops and music (melody + chords + drums); some played in a simulated room.

val and test draw from different seeds, voices and (for the held-out sets) halves. `measure` reads every item
through `preprocess_audio` (as an upload) and gives, as JSON, the thresholds each margin rule proposes from val
speech (RULES) beside the shipped ones, and per half the rates the shipped thresholds give: spoken digits flagged
(false positives) and other sounds flagged (detections), per kind. Items the preprocessing refuses (silence,
steady noise, too short) are counted apart: they never reach a model. A test half that was looked at while
choosing is spent: report on a build with another --seed.

The shipped thresholds: val of `build DIR --seed 0`; reported on the test half of `build DIR2 --seed 1`.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


from aecf.constants import CLASSES, SAMPLE_RATE  # noqa: E402 - after the path insert
from aecf.data import build as B
from aecf.data import speech
from aecf.data.corruption import corrupt_audio
from aecf.data.heldout.build import build_audio_sets
from aecf.data.heldout.recordings import room_recording
from aecf.encoders import preprocess as P
from aecf.encoders.preprocess import preprocess_audio
from aecf.errors import InputError

HALVES = ("val", "test")
SR = SAMPLE_RATE
OTHER_KINDS = (
    "tune",
    "pulsing_tune",
    "tone",
    "beeps",
    "chord",
    "glide",
    "noise_bursts",
    "clicks",
    "drums",
    "music",
)


# ------------------------------------------------------------------------------------------ instruments


def _midi_hz(m: float) -> float:
    return 440.0 * 2.0 ** ((m - 69.0) / 12.0)


def _envelope(n: int, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """Attack-decay-sustain-release over n samples."""
    a = min(n // 4, int(rng.uniform(0.002, 0.04) * sr))
    r = min(n // 3, int(rng.uniform(0.01, 0.12) * sr))
    sustain = rng.uniform(0.4, 1.0)
    env = np.full(n, sustain)
    if a:
        env[:a] = np.linspace(0, 1, a)
    d = min(n - a - r, int(0.05 * sr))
    if d > 0:
        env[a : a + d] = np.linspace(1, sustain, d)
    if r:
        env[n - r :] *= np.linspace(1, 0, r)
    return env


def _oscillator(
    freq: np.ndarray | float, n: int, timbre: str, rng: np.random.Generator, sr: int = SR
) -> np.ndarray:
    f = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(f) / sr
    if timbre == "sine":
        return np.sin(phase)
    if timbre == "square":
        return np.sign(np.sin(phase)) * 0.6
    if timbre == "saw":
        return 2 * ((phase / (2 * np.pi)) % 1.0) - 1
    if timbre == "triangle":
        return 2 * np.abs(2 * ((phase / (2 * np.pi)) % 1.0) - 1) - 1
    if timbre == "organ":
        return sum(np.sin(k * phase) / k for k in (1, 2, 3, 4, 6, 8))
    if timbre == "fm":
        ratio, index = rng.choice([1.0, 2.0, 3.5]), rng.uniform(0.5, 4)
        decay = np.exp(-np.arange(n) / (sr * rng.uniform(0.1, 0.6)))
        return np.sin(phase + index * decay * np.sin(ratio * phase))
    if timbre == "pluck":  # Karplus-Strong
        period = max(2, int(round(sr / float(f[0]))))
        buf = rng.uniform(-1, 1, period)
        out = np.empty(n)
        for i in range(n):
            out[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
        return out
    raise ValueError(timbre)


TIMBRES = ("sine", "square", "saw", "triangle", "organ", "fm", "pluck")


def _note(
    midi: float, seconds: float, timbre: str, rng: np.random.Generator, vibrato: bool = False
) -> np.ndarray:
    n = max(1, int(seconds * SR))
    f = np.full(n, _midi_hz(midi))
    if vibrato:
        f = f * 2 ** (rng.uniform(10, 40) / 1200 * np.sin(2 * np.pi * rng.uniform(4, 7) * np.arange(n) / SR))
    return _oscillator(f, n, timbre, rng) * _envelope(n, rng)


def _scale(rng: np.random.Generator) -> list[int]:
    root = int(rng.integers(48, 72))
    modes = ((0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9))
    steps = modes[int(rng.integers(len(modes)))]
    return [root + s + 12 * o for o in (0, 1) for s in steps]


def tune(rng: np.random.Generator, pulsing: bool) -> np.ndarray:
    """A melody: notes of one length (pulsing, like the 0.25 s notes of a ringtone) or mixed lengths."""
    scale, timbre = _scale(rng), str(rng.choice(TIMBRES))
    total = rng.uniform(0.8, 9.0)
    step = rng.uniform(0.1, 0.5)
    vibrato = rng.random() < 0.3
    gap = rng.uniform(0.0, 0.5) if rng.random() < 0.7 else 0.0
    out, t = [], 0.0
    while t < total:
        length = step if pulsing else step * rng.choice([0.5, 1, 1, 2])
        note = _note(scale[int(rng.integers(len(scale)))], length * (1 - gap), timbre, rng, vibrato)
        out += [note, np.zeros(int(length * gap * SR))]
        t += length
    return np.concatenate(out)


def tone(rng: np.random.Generator) -> np.ndarray:
    return _note(
        rng.uniform(40, 96), rng.uniform(0.3, 4.0), str(rng.choice(TIMBRES[:5])), rng, rng.random() < 0.3
    )


def beeps(rng: np.random.Generator) -> np.ndarray:
    midi, timbre = rng.uniform(60, 100), str(rng.choice(("sine", "square", "triangle")))
    on, off = rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.6)
    return np.concatenate(
        [
            np.concatenate([_note(midi, on, timbre, rng), np.zeros(int(off * SR))])
            for _ in range(int(rng.integers(2, 12)))
        ]
    )


def chord(rng: np.random.Generator) -> np.ndarray:
    scale, timbre = _scale(rng), str(rng.choice(TIMBRES))
    stabs = int(rng.integers(1, 8))
    length = rng.uniform(0.3, 4.0) / stabs**0.5
    parts = []
    for _ in range(stabs):
        root = int(rng.integers(0, 7))
        notes = [scale[(root + k) % len(scale)] for k in (0, 2, 4, 6)[: int(rng.integers(3, 5))]]
        c = sum(_note(m, length, timbre, rng) for m in notes) / len(notes)
        parts += [c, np.zeros(int(rng.uniform(0, 0.3) * SR))]
    return np.concatenate(parts)


def glide(rng: np.random.Generator) -> np.ndarray:
    """A siren, a whistle glide or a chirp: pitch that moves all the time."""
    seconds = rng.uniform(0.3, 4.0)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    lo, hi = sorted(rng.uniform(150, 2500, 2))
    if rng.random() < 0.5:
        f = lo + (hi - lo) * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.3, 3) * t))
    else:
        f = lo * (hi / lo) ** (t / seconds) if rng.random() < 0.5 else hi * (lo / hi) ** (t / seconds)
    return _oscillator(f, n, str(rng.choice(("sine", "square", "triangle", "saw"))), rng) * _envelope(n, rng)


def _noise(n: int, rng: np.random.Generator) -> np.ndarray:
    white = rng.normal(0, 1, n)
    colour = rng.choice(["white", "pink", "band"])
    if colour == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / SR)
    if colour == "pink":
        spec = spec / np.sqrt(np.maximum(f, 20.0))
    else:
        centre, width = rng.uniform(300, 6000), rng.uniform(0.2, 1.0)
        spec = spec * np.exp(-0.5 * (np.log(np.maximum(f, 1.0) / centre) / width) ** 2)
    out = np.fft.irfft(spec, n)
    return out / (out.std() + 1e-12)


def noise_bursts(rng: np.random.Generator) -> np.ndarray:
    period = rng.uniform(0.12, 0.8)
    burst = min(period * 0.8, rng.uniform(0.02, 0.25))
    out = []
    for _ in range(int(rng.integers(3, max(4, int(8.0 / period))))):
        n = int(burst * SR)
        env = np.exp(-np.arange(n) / (SR * rng.uniform(0.3, 1.0) * burst))
        out += [_noise(n, rng) * env, np.zeros(int((period - burst) * SR * rng.uniform(0.97, 1.03)))]
    return np.concatenate(out)


def clicks(rng: np.random.Generator) -> np.ndarray:
    period = rng.uniform(0.08, 1.0)
    n = int(period * SR)
    click = np.zeros(n)
    width = int(rng.integers(1, 40))
    click[:width] = rng.uniform(-1, 1, width) if rng.random() < 0.5 else 1.0
    if rng.random() < 0.5:  # a woodblock: a short ringing tone
        m = min(n, int(0.03 * SR))
        click[:m] += np.sin(2 * np.pi * rng.uniform(800, 3000) * np.arange(m) / SR) * np.exp(
            -np.arange(m) / (0.005 * SR)
        )
    return np.tile(click, int(rng.integers(3, max(4, int(8.0 / period)))))


def _drum_hit(kind: str, rng: np.random.Generator) -> np.ndarray:
    n = int((0.3 if kind == "kick" else 0.15) * SR)
    t = np.arange(n) / SR
    if kind == "kick":
        f = 50 + 100 * np.exp(-t / 0.03)
        return np.sin(2 * np.pi * np.cumsum(f) / SR) * np.exp(-t / 0.12)
    if kind == "snare":
        return (0.7 * rng.normal(0, 1, n) + 0.5 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t / 0.05)
    return rng.normal(0, 1, n) * np.exp(-t / 0.01) * 0.4  # hi-hat


def drums(rng: np.random.Generator, seconds: float | None = None) -> np.ndarray:
    beat = 60.0 / rng.uniform(70, 170) / 2  # eighth notes
    seconds = seconds or rng.uniform(1.0, 8.0)
    n = int(seconds * SR)
    out = np.zeros(n + SR)
    patterns = (
        ("kick", "hat", "snare", "hat"),
        ("kick", "kick", "snare", "hat"),
        ("kick", "hat", "hat", "snare"),
    )
    pattern = patterns[int(rng.integers(len(patterns)))]
    for i in range(int(seconds / beat)):
        kind = str(pattern[i % len(pattern)])
        hit = _drum_hit(kind, rng)
        s = int(i * beat * SR)
        out[s : s + len(hit)] += hit
    return out[:n]


def music(rng: np.random.Generator) -> np.ndarray:
    melody = tune(rng, pulsing=rng.random() < 0.5)
    seconds = len(melody) / SR
    backing = chord(rng)
    backing = np.tile(backing, int(math.ceil(len(melody) / len(backing))))[: len(melody)]
    beat = drums(rng, seconds)[: len(melody)]
    beat = np.pad(beat, (0, len(melody) - len(beat)))
    return melody + 0.5 * backing + rng.uniform(0.2, 0.8) * beat


def other_sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    make = {
        "tune": lambda: tune(rng, pulsing=False),
        "pulsing_tune": lambda: tune(rng, pulsing=True),
        "tone": lambda: tone(rng),
        "beeps": lambda: beeps(rng),
        "chord": lambda: chord(rng),
        "glide": lambda: glide(rng),
        "noise_bursts": lambda: noise_bursts(rng),
        "clicks": lambda: clicks(rng),
        "drums": lambda: drums(rng),
        "music": lambda: music(rng),
    }[kind]
    wave = make()[: int(9.5 * SR)]
    return (wave / (np.abs(wave).max() + 1e-9)).astype(np.float32)


# ------------------------------------------------------------------------------------------ presentation


def _wav(wave: np.ndarray, sr: int = SR) -> bytes:

    buf = io.BytesIO()
    sf.write(buf, np.clip(wave, -1, 1).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def present(
    wave: np.ndarray, way: str, rng: np.random.Generator, babble: list[np.ndarray]
) -> tuple[bytes, str, dict]:
    """A 16 kHz sound as the app would receive it: (file bytes, extension, details)."""

    gain = rng.uniform(0.2, 0.95)
    if way == "cut":
        return _wav(wave / (np.abs(wave).max() + 1e-9) * gain), "wav", {}
    if way == "upload":
        pre, post = (np.zeros(int(rng.uniform(0.1, 1.2) * SR)) for _ in range(2))
        x = np.concatenate([pre, wave / (np.abs(wave).max() + 1e-9), post])
        x = x + rng.normal(0, 10 ** (rng.uniform(-70, -40) / 20), len(x))
        return _wav(x * gain), "wav", {}
    if way == "noise":
        snr = float(rng.uniform(0, 20))
        x = corrupt_audio(wave, snr, int(rng.integers(1 << 30)))
        return _wav(x / (np.abs(x).max() + 1e-9) * gain), "wav", {"snr_db": round(snr, 1)}
    data, info = room_recording(np.asarray(wave, np.float32), SR, rng, babble)
    return data, info["format"], info


# ------------------------------------------------------------------------------------------ building


def _synth(specs) -> list[np.ndarray]:

    def one(spec):
        if spec.voice.engine == "festival":
            with tempfile.TemporaryDirectory() as tmp:
                (r,) = speech.festival_batch(spec.voice.name, [(spec.text, spec.speed)], tmp)
            return speech.process_wave(*r) if r is not None else (None, "nothing")
        return speech.synthesize(spec)

    with ThreadPoolExecutor(2) as pool:
        return [w if reason is None else None for w, reason in pool.map(one, specs)]


def speech_specs(half: str, n: int, seed: int) -> list:
    """n random (voice, digit, rate, pitch) renderings by the half's voices."""

    split = B.select_voices(B.BenchmarkConfig(), 0)  # the benchmark's own voice split (seed 0)
    voices = split["train"] + split["val"] if half == "val" else split["test"]
    if half == "val":  # the audio tower's extra training engines: other timbres, choices only
        try:
            voices = voices + speech.training_extra_voices() * 8
        except Exception:  # noqa: BLE001 - not installed: the benchmark's voices alone
            pass
    rng = np.random.default_rng([seed, 1 if half == "val" else 2])
    specs = []
    for _ in range(n):
        voice = voices[int(rng.integers(len(voices)))]
        spec = speech.clip_specs(voice, 1, int(rng.integers(1 << 30)))[int(rng.integers(len(CLASSES)))]
        specs.append(spec)
    return specs


def build(root: Path, per_kind: int, seed: int) -> None:

    held = root / "heldout"
    if not (held / "voices_room" / "manifest.json").exists():
        build_audio_sets(held, {"voices": 4 * per_kind, "voices_room": 4 * per_kind}, seed)
    for h_i, half in enumerate(HALVES):
        out = root / half
        (out / "files").mkdir(parents=True, exist_ok=True)
        items = []
        rng = np.random.default_rng([seed, 10 + h_i])
        specs = speech_specs(half, 8 * per_kind, seed)
        waves = _synth(specs)
        babble_voices = [s.voice for s in specs[:20] if s.voice.engine != "festival"]
        babble = speech.distractor_clips(babble_voices, 2, seed + h_i)
        for i, (spec, wave) in enumerate(zip(specs, waves, strict=True)):
            if wave is None:
                continue
            way = ("cut", "upload", "noise", "room")[i % 4]
            data, ext, info = present(wave, way, rng, babble)
            name = f"files/speech_{i:04d}.{ext}"
            (out / name).write_bytes(data)
            items.append(
                {
                    "file": name,
                    "class": "speech",
                    "kind": f"{spec.voice.engine}:{way}",
                    "source": spec.name,
                    "digit": spec.digit,
                    **info,
                }
            )
        for set_name in ("voices", "voices_room"):
            for path, digit, info in items(held, set_name, half):
                items.append(
                    {
                        "file": str(path.resolve()),
                        "class": "speech",
                        "kind": f"heldout:{set_name}",
                        "digit": digit,
                        **{k: v for k, v in info.items() if k in ("snr_db", "noise")},
                    }
                )
        for k_i, kind in enumerate(OTHER_KINDS):
            for j in range(per_kind):
                r = np.random.default_rng([seed, 100 + h_i, k_i, j])
                wave = other_sound(kind, r)
                way = ("cut", "upload", "room")[j % 3]
                data, ext, info = present(wave, way, r, [])
                name = f"files/{kind}_{j:03d}.{ext}"
                (out / name).write_bytes(data)
                items.append(
                    {
                        "file": name,
                        "class": "other",
                        "kind": f"{kind}:{way}",
                        "seconds": round(len(wave) / SR, 2),
                        **info,
                    }
                )
        (out / "manifest.json").write_text(json.dumps({"half": half, "seed": seed, "items": items}, indent=1))
        print(
            half,
            sum(i["class"] == "speech" for i in items),
            "speech,",
            sum(i["class"] == "other" for i in items),
            "other",
        )


# ------------------------------------------------------------------------------------------ measuring

# threshold -> (feature, side): a "max" threshold sits 1.4x above the largest value on val speech (rounded up to
# 0.05, or to a whole number of notes; the beat, a correlation, 0.15 above it, rounded up to 0.05), a "min" one at
# half the smallest (rounded down to 0.005).
RULES = {
    "held_pitch_s": ("held_pitch_s", "max"),
    "held_spectrum_s": ("held_spectrum_s", "max"),
    "notes": ("notes", "max"),
    "voiced_run_s": ("voiced_run_s", "max"),
    "beat": ("beat", "max"),
    "beat_cv": ("beat_cv", "min"),
    "unvoiced_s": ("voiced_run_s", "min"),
}


def read_half(root: Path, half: str) -> list[dict]:
    """Every item of a half through `preprocess_audio`, as an upload, with the check's features (or why it was
    refused)."""

    items = json.loads((root / half / "manifest.json").read_text())["items"]
    rows = []
    for item in items:
        path = Path(item["file"]) if Path(item["file"]).is_absolute() else root / half / item["file"]
        info: dict = {}
        try:
            preprocess_audio(path.read_bytes(), info)
        except InputError as e:
            rows.append({**item, "refused": str(e)})
            continue
        rows.append(
            {**item, "refused": None, "features": info["speech_features"], "not_speech": info["not_speech"]}
        )
    return rows


def propose(rows: list[dict]) -> dict[str, dict]:
    """Each threshold by the margin rule from the val half's speech, beside the extreme it comes from."""
    speech = [r["features"] for r in rows if r["class"] == "speech" and r["refused"] is None]
    out = {}
    for name, (feature, side) in RULES.items():
        values = np.array([f[feature] for f in speech], dtype=np.float64)
        values = values[np.isfinite(values)]
        if side == "min":
            extreme = float(values.min())
            proposal = math.floor(extreme / 2 / 0.005 + 1e-9) * 0.005
        else:
            extreme = float(values.max())
            if name == "beat":
                proposal = math.ceil((extreme + 0.15) / 0.05 - 1e-9) * 0.05
            elif name == "notes":
                proposal = math.ceil(1.4 * extreme)
            else:
                proposal = math.ceil(1.4 * extreme / 0.05 - 1e-9) * 0.05
        out[name] = {"val_speech_" + side: round(extreme, 4), "proposed": round(proposal, 4)}
    return out


def summarise(rows: list[dict]) -> dict:
    out: dict = {}
    for cls in ("speech", "other"):
        sel = [r for r in rows if r["class"] == cls]
        read = [r for r in sel if r["refused"] is None]
        by_kind: dict[str, dict] = {}
        for r in sel:
            kind = r["kind"].split(":")[0] if cls == "other" else r["kind"]
            k = by_kind.setdefault(kind, {"items": 0, "refused": 0, "flagged": 0})
            k["items"] += 1
            k["refused"] += r["refused"] is not None
            k["flagged"] += bool(r.get("not_speech"))
        flagged = [r for r in read if r["not_speech"]]
        out[cls] = {
            "items": len(sel),
            "refused": len(sel) - len(read),
            "read": len(read),
            "flagged": len(flagged),
            "flagged_share": round(len(flagged) / max(1, len(read)), 4),
            "reasons": {
                k: sum(r["not_speech"] == k for r in flagged)
                for k in sorted({r["not_speech"] for r in flagged})
            },
            "by_kind": dict(sorted(by_kind.items())),
        }
        if cls == "speech":
            out[cls]["flagged_items"] = [(r["file"], r["kind"], r["not_speech"]) for r in flagged]
    return out


def measure(root: Path, json_path: Path | None, halves: list[str]) -> None:

    report: dict = {"thresholds": P.NOT_SPEECH_THRESHOLDS, "halves": {}}
    for half in halves:
        rows = read_half(root, half)
        report["halves"][half] = summarise(rows)
        if half == "val":
            report["proposed_from_val"] = propose(rows)
    text = json.dumps(report, indent=1)
    print(text)
    if json_path is not None:
        json_path.write_text(text + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("dir", type=Path)
    b.add_argument(
        "--per-kind", type=int, default=40, help="other sounds per kind and half (speech: 8x this)"
    )
    b.add_argument("--seed", type=int, default=0)
    m = sub.add_parser("measure")
    m.add_argument("dir", type=Path)
    m.add_argument("--json", type=Path)
    m.add_argument("--halves", nargs="+", default=list(HALVES), choices=HALVES)
    args = p.parse_args(argv)
    if args.cmd == "build":
        build(args.dir, args.per_kind, args.seed)
    else:
        measure(args.dir, args.json, args.halves)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
