"""Spoken digits "zero".."nine", synthesized offline with espeak-ng and flite.

No recorded spoken-digit corpus is available offline, so the audio modality is synthetic speech from
many voices. A *voice* is engine + accent + timbre variant (`espeak:en-gb+m3`, `flite:slt`); speaking
rate and pitch are augmentations of one voice, recorded in the clip name
(`espeak:en-gb+m3:s150:p60`). Splits are made by voice so that test accuracy measures generalisation
to unheard speakers; we go one step further and keep each espeak *variant* (its timbre, shared by all
accents) in a single split, and each flite speaker too (kal and kal16 are one speaker).

Every clip is: engine → temp WAV → mono float32 → 16 kHz → silence trimmed → peak-normalised, then
checked (duration, energy, voicing) so that unintelligible renderings never reach the benchmark.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
import soxr
from tqdm.auto import tqdm

from aecf.constants import CLASSES, SAMPLE_RATE
from aecf.errors import InputError

ESPEAK = "espeak-ng"
FLITE = "flite"
PICO = "pico2wave"
RHVOICE = "RHVoice-test"
INSTALL_HINT = (
    "Install the speech engines with `apt-get install espeak-ng flite` (or `bash scripts/setup.sh`)."
)

# Engines only the audio tower's training sees (never the benchmark, never the held-out sets): MBROLA
# diphone voices spoken through espeak-ng's English front end (`mb-us1`, and English with a German,
# French, ... accent: `mb-de1-en`), and SVOX Pico. Both are Debian non-free; scripts/setup.sh adds the
# component. They are natural-sounding concatenative/HMM voices, unlike espeak's formant synthesis.
TRAIN_ONLY_HINT = (
    "The extra training voices need Debian's non-free mbrola, libttspico-utils and rhvoice-english packages "
    "(`bash scripts/setup.sh` installs them)."
)
MBROLA_DIR = "/usr/share/mbrola"
MBROLA_VOICES: tuple[str, ...] = (
    "mb-us1",
    "mb-us2",
    "mb-us3",
    "mb-en1",
    "mb-af1-en",
    "mb-de1-en",
    "mb-de2-en",
    "mb-de3-en",
    "mb-de5-en",
    "mb-fr1-en",
    "mb-fr4-en",
    "mb-gr2-en",
    "mb-hu1-en",
    "mb-nl2-en",
    "mb-pl1-en",
    "mb-ro1-en",
    "mb-sw1-en",
    "mb-sw2-en",
)
PICO_VOICES: tuple[str, ...] = ("en-US", "en-GB")
# RHVoice's English voices (Debian non-free rhvoice-english; statistical parametric voices, the same family as
# the held-out festival HTS voice). Two of its six are left out because their speakers are already taken:
# "slt" is CMU ARCTIC slt (the held-out festival voice and the benchmark's val flite voice); "alan", a Scottish
# male voice, is by all signs ARCTIC awb (Alan W Black: the benchmark's test flite voice). Kept: ARCTIC bdl and
# clb (LGPL), and evgeniy-eng and lyubov (CC BY-NC-ND 4.0: their output trains the tower, nothing of the voices
# is shipped, as with MBROLA's non-commercial voices).
RHVOICE_VOICES: tuple[str, ...] = ("bdl", "clb", "evgeniy-eng", "lyubov")
RHVOICE_EXCLUDED: dict[str, str] = {
    "slt": "CMU ARCTIC slt: held-out festival voice, benchmark val voice",
    "alan": "by all signs CMU ARCTIC awb: the benchmark's test flite voice",
}
RHVOICE_DIR = "/usr/share/RHVoice/voices"

# English accents shipped with espeak-ng (`espeak-ng --voices=en`, the gmw/ ones; the mb/ voices need
# MBROLA databases that are not installed).
ESPEAK_ACCENTS: tuple[str, ...] = (
    "en-gb",
    "en-us",
    "en-gb-x-rp",
    "en-gb-scotland",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-029",
    "en-us-nyc",
)

# Variants (`espeak-ng --voices=variant`, file names under !v/) that are not fit to speak in a digit
# benchmark. Chosen from the variant definitions and a measurement over 2 accents × 10 digits at default
# rate: median voiced-frame fraction (typical voices 0.45-0.97) and a leave-variants-out log-mel
# recogniser (typical voices 100 %).
ESPEAK_VARIANT_DENYLIST: dict[str, str] = {
    "whisper": "whispered (voicing 17, breath noise): voiced fraction 0",
    "whisperf": "whispered (voicing 20, breath noise): voiced fraction 0",
    "croak": "creaky (flutter 20): voiced fraction 0.24",
    "Demonic": "pitch down to 43, 10 ms echo at 100x, breath noise: voiced fraction 0.14",
    "announcer": "vocoder effect (klatt 4, pitch 37-83): voiced fraction 0.13",
    "RicishayMax": "100 ms echo at 100x: the word overlaps its own echo",
    "RicishayMax2": "150 ms echo at 5x: the word overlaps its own echo (duration +55 %)",
    "RicishayMax3": "200 ms echo at 5x: the word overlaps its own echo (duration +60 %)",
    "Lee": "muffled (formants 3 and 5 suppressed): recogniser 75 %",
}

# flite voices (`flite -lv`). awb_time is a limited-domain voice that can only say clock times.
FLITE_VOICES: tuple[str, ...] = ("kal", "kal16", "awb", "rms", "slt")
# kal (8 kHz) and kal16 (16 kHz) are the same speaker: they must share a split.
FLITE_SPEAKER: dict[str, str] = {"kal": "kal", "kal16": "kal", "awb": "awb", "rms": "rms", "slt": "slt"}

# Augmentation ranges: moderate on purpose, extreme rate/pitch combinations hurt intelligibility.
ESPEAK_SPEED_WPM = (135.0, 195.0)  # espeak default 175
ESPEAK_PITCH = (30.0, 70.0)  # 0..99, default 50
FLITE_STRETCH = (0.85, 1.25)  # duration_stretch, 1 = default rate
FLITE_F0_SHIFT = (0.85, 1.2)  # f0_shift multiplier (rms ignores it)
PICO_SPEED = (80.0, 125.0)  # <speed level="…"> in %, 100 = default
PICO_PITCH = (80.0, 125.0)  # <pitch level="…"> in %
RHVOICE_RATE = (80.0, 125.0)  # RHVoice-test -r, % of default rate (100)
RHVOICE_PITCH = (80.0, 125.0)  # RHVoice-test -t, % of default pitch (100)
# Sanity checks on a processed clip (seconds, linear RMS before normalisation) and on a voice (median
# fraction of voiced frames over its clips: whispered or noise-like voices have ~0).
MIN_DURATION_S = 0.2
MAX_DURATION_S = 1.6
MIN_RMS = 1e-3
MIN_VOICED_FRACTION = 0.1
TRIM_TOP_DB = 40.0
TRIM_MARGIN_S = 0.03
PEAK = 0.9


@dataclass(frozen=True)
class Voice:
    """One speaker: engine + accent + timbre variant (espeak) or engine + voice (flite)."""

    engine: str  # "espeak" | "flite" | "mbrola" | "pico" | "rhvoice" (the last three: training only)
    name: str  # "en-gb+m3", "slt", "mb-de1-en", "en-GB"

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"

    @property
    def group(self) -> str:
        """What must stay within one split: the espeak variant (timbre) or the flite speaker."""
        if self.engine == "espeak":
            return "espeak:" + self.name.split("+", 1)[1]
        if self.engine == "flite":
            return "flite:" + FLITE_SPEAKER.get(self.name, self.name)
        return self.id


@dataclass(frozen=True)
class ClipSpec:
    """One rendering of one digit by one voice at a given rate and pitch."""

    voice: Voice
    digit: int
    speed: (
        float  # espeak, mbrola: words per minute; flite: duration stretch; pico, rhvoice: % of default rate
    )
    pitch: float  # espeak, mbrola: 0..99; flite: f0 multiplier; pico, rhvoice: % of default pitch

    @property
    def text(self) -> str:
        return CLASSES[self.digit]

    @property
    def name(self) -> str:
        if self.voice.engine in ("espeak", "mbrola", "pico", "rhvoice"):
            return f"{self.voice.id}:s{self.speed:.0f}:p{self.pitch:.0f}"
        return f"{self.voice.id}:s{self.speed:.2f}:p{self.pitch:.2f}"


@dataclass
class VoiceResult:
    """What synthesising one voice produced: accepted clips, or why the voice was rejected."""

    voice: Voice
    specs: list[ClipSpec] = field(default_factory=list)
    waves: list[np.ndarray] = field(default_factory=list)
    rejected: str | None = None


def voice_identity(clip_name: str) -> str:
    """`espeak:en-gb+m3:s150:p60` → `espeak:en-gb+m3` (drop the rate/pitch augmentation)."""
    return ":".join(clip_name.split(":")[:2])


def check_engines() -> None:
    """Raise InputError if espeak-ng or flite is not installed."""
    missing = [exe for exe in (ESPEAK, FLITE) if shutil.which(exe) is None]
    if missing:
        raise InputError(f"Speech engine(s) not found: {', '.join(missing)}. {INSTALL_HINT}")


def espeak_variants() -> list[str]:
    """Variant file names known to the installed espeak-ng, minus the deny-list, sorted."""
    check_engines()
    out = subprocess.run([ESPEAK, "--voices=variant"], capture_output=True, text=True, check=True).stdout
    names = set()
    for line in out.splitlines()[1:]:
        for token in line.split():
            if token.startswith("!v/"):
                names.add(token[3:])
    return sorted(n for n in names if n not in ESPEAK_VARIANT_DENYLIST)


def available_voices() -> list[Voice]:
    """Every usable voice: each English accent × each allowed variant, plus the flite voices."""
    check_engines()
    variants = espeak_variants()
    voices = [Voice("espeak", f"{a}+{v}") for v in variants for a in ESPEAK_ACCENTS]
    out = subprocess.run([FLITE, "-lv"], capture_output=True, text=True, check=True).stdout
    installed = set(out.replace("Voices available:", "").split())
    voices += [Voice("flite", v) for v in FLITE_VOICES if v in installed]
    return voices


def training_extra_voices() -> list[Voice]:
    """The installed MBROLA, Pico and RHVoice voices (training extras). Raises InputError if none is
    installed."""
    voices = [
        Voice("mbrola", v)
        for v in MBROLA_VOICES
        if shutil.which("mbrola") and os.path.isdir(os.path.join(MBROLA_DIR, v.split("-")[1]))
    ]
    if shutil.which(PICO):
        voices += [Voice("pico", v) for v in PICO_VOICES]
    if shutil.which(RHVOICE):
        voices += [Voice("rhvoice", v) for v in RHVOICE_VOICES if os.path.isdir(os.path.join(RHVOICE_DIR, v))]
    if not voices:
        raise InputError(f"No MBROLA, Pico or RHVoice voice is installed. {TRAIN_ONLY_HINT}")
    return voices


def _stable_rng(seed: int, key: str) -> np.random.Generator:
    # Keyed by the voice, not by its position in a list, so that a voice says the same thing in the
    # full and the small build, whatever else is selected and whichever worker renders it.
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _rate_and_pitch(voice: Voice, rng: np.random.Generator) -> tuple[float, float]:
    speed_range, pitch_range = {
        "espeak": (ESPEAK_SPEED_WPM, ESPEAK_PITCH),
        "mbrola": (ESPEAK_SPEED_WPM, ESPEAK_PITCH),
        "pico": (PICO_SPEED, PICO_PITCH),
        "rhvoice": (RHVOICE_RATE, RHVOICE_PITCH),
    }.get(voice.engine, (FLITE_STRETCH, FLITE_F0_SHIFT))
    speed, pitch = rng.uniform(*speed_range), rng.uniform(*pitch_range)
    # Round as the clip name does, so the name alone reproduces the rendering.
    if voice.engine in ("espeak", "mbrola", "pico", "rhvoice"):
        return float(round(speed)), float(round(pitch))
    return float(round(speed, 2)), float(round(pitch, 2))


def clip_specs(voice: Voice, augmentations: int, seed: int) -> list[ClipSpec]:
    """`augmentations` random (rate, pitch) renderings of each digit by `voice`, deterministic by seed."""
    rng = _stable_rng(seed, voice.id)
    return [
        ClipSpec(voice, digit, *_rate_and_pitch(voice, rng))
        for digit in range(len(CLASSES))
        for _ in range(augmentations)
    ]


def _engine_command(spec: ClipSpec, wav_path: str) -> list[str]:
    word = spec.text
    if spec.voice.engine in ("espeak", "mbrola"):
        return [
            ESPEAK,
            "-v",
            spec.voice.name,
            "-s",
            f"{spec.speed:.0f}",
            "-p",
            f"{spec.pitch:.0f}",
            "-w",
            wav_path,
            word,
        ]
    if spec.voice.engine == "flite":
        return [
            FLITE,
            "-voice",
            spec.voice.name,
            "--setf",
            f"duration_stretch={spec.speed:.2f}",
            "--setf",
            f"f0_shift={spec.pitch:.2f}",
            "-t",
            word,
            "-o",
            wav_path,
        ]
    if spec.voice.engine == "pico":
        markup = f'<speed level="{spec.speed:.0f}"><pitch level="{spec.pitch:.0f}">{word}</pitch></speed>'
        return [PICO, "-l", spec.voice.name, "-w", wav_path, markup]
    if spec.voice.engine == "rhvoice":  # reads the text from stdin (_engine_input)
        return [
            RHVOICE,
            "-p",
            spec.voice.name,
            "-r",
            f"{spec.speed:.0f}",
            "-t",
            f"{spec.pitch:.0f}",
            "-o",
            wav_path,
        ]
    raise ValueError(f"unknown speech engine {spec.voice.engine!r}")


def _engine_input(spec: ClipSpec) -> str | None:
    """What the engine reads on stdin (RHVoice takes its text there), or None."""
    return spec.text if spec.voice.engine == "rhvoice" else None


def trim_silence(
    wave: np.ndarray, sr: int = SAMPLE_RATE, top_db: float = TRIM_TOP_DB, margin_s: float = TRIM_MARGIN_S
) -> np.ndarray:
    """Cut leading/trailing frames quieter than `top_db` below the loudest frame (energy VAD)."""
    frame, hop = int(0.02 * sr), int(0.005 * sr)
    if len(wave) < frame:
        return wave
    n_frames = 1 + (len(wave) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    rms = np.sqrt(np.mean(wave[idx] ** 2, axis=1) + 1e-12)
    active = np.flatnonzero(rms >= rms.max() * 10 ** (-top_db / 20))
    margin = int(margin_s * sr)
    start = max(0, active[0] * hop - margin)
    end = min(len(wave), active[-1] * hop + frame + margin)
    return wave[start:end]


def voiced_fraction(wave: np.ndarray, sr: int = SAMPLE_RATE) -> float:
    """Fraction of the louder 40 ms frames that are periodic at a speech pitch (60-400 Hz)."""
    frame, hop = int(0.04 * sr), int(0.01 * sr)
    if len(wave) < frame:
        return 0.0
    n_frames = 1 + (len(wave) - frame) // hop
    idx = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = wave[idx] - wave[idx].mean(axis=1, keepdims=True)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[rms >= 0.1 * rms.max()]
    # Autocorrelation via FFT (zero-padded to 2x so it is linear, not circular).
    autocorr = np.fft.irfft(np.abs(np.fft.rfft(frames, 2 * frame, axis=1)) ** 2, axis=1)[:, :frame]
    lo, hi = int(sr / 400), int(sr / 60)
    periodicity = autocorr[:, lo:hi].max(axis=1) / (autocorr[:, 0] + 1e-12)
    return float(np.mean(periodicity > 0.5))


def process_wave(wave: np.ndarray, sr: int) -> tuple[np.ndarray, str | None]:
    """Mono → 16 kHz float32 → trimmed → peak-normalised; returns (clip, reason it is unusable or None)."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.ndim == 2:
        wave = wave.mean(axis=1)
    if sr != SAMPLE_RATE:
        wave = soxr.resample(wave, sr, SAMPLE_RATE).astype(np.float32)
    if wave.size == 0 or not np.any(wave):
        return wave, "silent"
    wave = trim_silence(wave)
    duration = len(wave) / SAMPLE_RATE
    if not MIN_DURATION_S <= duration <= MAX_DURATION_S:
        return wave, f"duration {duration:.2f}s outside [{MIN_DURATION_S}, {MAX_DURATION_S}]"
    rms = float(np.sqrt(np.mean(wave**2)))
    if rms < MIN_RMS:
        return wave, f"too quiet (rms {rms:.1e})"
    return (wave * (PEAK / np.abs(wave).max())).astype(np.float32), None


def synthesize(spec: ClipSpec, workdir: str | None = None) -> tuple[np.ndarray, str | None]:
    """Render one clip to a temp WAV, load and process it. Returns (clip float32 16 kHz, reject reason)."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        wav_path = os.path.join(tmp, "clip.wav")
        try:
            subprocess.run(
                _engine_command(spec, wav_path),
                input=_engine_input(spec),
                text=True,
                check=True,
                capture_output=True,
                timeout=30,
            )
        except FileNotFoundError as e:
            raise InputError(f"Speech engine not found ({e.filename}). {INSTALL_HINT}") from e
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
            return np.zeros(0, np.float32), f"engine failed: {e}"
        wave, sr = sf.read(wav_path, dtype="float32", always_2d=False)
    return process_wave(wave, sr)


def synthesize_voice(voice: Voice, augmentations: int, seed: int) -> VoiceResult:
    """Every digit × augmentation of one voice. A voice that fails any check is dropped whole, so
    that every kept voice says all ten digits (no voice is a cue for some digits only)."""
    result = VoiceResult(voice)
    specs = clip_specs(voice, augmentations, seed)
    rendered = (synthesize(spec) for spec in specs)
    for spec, (wave, reason) in zip(specs, rendered, strict=True):
        if reason is not None:
            return VoiceResult(voice, rejected=f"{spec.name} ({CLASSES[spec.digit]}): {reason}")
        result.specs.append(spec)
        result.waves.append(wave)
    voiced = float(np.median([voiced_fraction(w) for w in result.waves]))
    if voiced < MIN_VOICED_FRACTION:
        return VoiceResult(voice, rejected=f"noise-like: median voiced fraction {voiced:.2f}")
    return result


def synthesize_voices(
    voices: Sequence[Voice],
    augmentations: dict[str, int] | int,
    seed: int,
    workers: int = 2,
    progress: bool = True,
) -> list[VoiceResult]:
    """Synthesize many voices with `workers` threads; results come back in the order of `voices`.

    `augmentations` may depend on the engine, e.g. {"espeak": 1, "flite": 6}.
    """
    check_engines()
    per_engine = augmentations if isinstance(augmentations, dict) else {}
    n_aug = [per_engine.get(v.engine, 1) if per_engine else int(augmentations) for v in voices]
    results: list[VoiceResult | None] = [None] * len(voices)
    bar = tqdm(total=len(voices), desc="speech", unit="voice", disable=not progress)
    if workers <= 1:
        for i, voice in enumerate(voices):
            results[i] = synthesize_voice(voice, n_aug[i], seed)
            bar.update()
    else:
        # Threads, not processes: the work is espeak-ng/flite subprocesses and numpy/soxr calls that
        # release the GIL. A process pool is fragile here: fork copies the parent's threads (torch, tqdm),
        # and spawn re-runs the parent's __main__, which under the app (or its tests) is a page script.
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {pool.submit(synthesize_voice, v, n_aug[i], seed): i for i, v in enumerate(voices)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [r for r in results if r is not None]


def pad_clips(waves: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack clips into float32 [C, L] (zero-padded at the end) and their lengths int32 [C]."""
    waves = list(waves)
    lengths = np.array([len(w) for w in waves], dtype=np.int32)
    audio = np.zeros((len(waves), int(lengths.max(initial=0))), dtype=np.float32)
    for i, w in enumerate(waves):
        audio[i, : len(w)] = w
    return audio, lengths
