"""Sounds that are not speech, for the tests of the "does not sound like speech" check: a ringtone-like tune,
a steady tone, a chord, rhythmic noise bursts, a click track (16 kHz float32, seeded)."""

from __future__ import annotations

import numpy as np

from aecf.constants import SAMPLE_RATE


def note(freq: float, seconds: float, harmonics: int = 3) -> np.ndarray:
    """One note: a tone with `harmonics` partials, a 10 ms attack and a decay."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    env = np.minimum(1.0, t / 0.01) * np.exp(-t / max(0.15, seconds / 2))
    return sum(np.sin(2 * np.pi * k * freq * t) / k for k in range(1, harmonics + 1)) * env


def pulsing_tune(seconds: float = 8.0, step: float = 0.25, seed: int = 0) -> np.ndarray:
    """A ringtone-like tune: notes of one length (`step` s) from a major scale."""
    rng = np.random.default_rng(seed)
    notes = [
        note(440 * 2 ** (rng.choice([0, 2, 4, 5, 7, 9, 11, 12]) / 12), step)
        for _ in range(int(seconds / step))
    ]
    x = np.concatenate(notes)
    return (0.5 * x / np.abs(x).max()).astype(np.float32)


def noise_bursts(period: float = 0.4, n: int = 12, seed: int = 0) -> np.ndarray:
    """Drum-like bursts of white noise, one every `period` seconds."""
    rng = np.random.default_rng(seed)
    hit = int(0.08 * SAMPLE_RATE)
    burst = rng.normal(0, 0.3, hit) * np.exp(-np.arange(hit) / (0.02 * SAMPLE_RATE))
    return np.concatenate([np.pad(burst, (0, int(period * SAMPLE_RATE) - hit)) for _ in range(n)]).astype(
        np.float32
    )


def click_track(period: float = 0.5, n: int = 10) -> np.ndarray:
    """A metronome: a 20 ms woodblock-like click every `period` seconds."""
    beat = np.zeros(int(period * SAMPLE_RATE), np.float32)
    m = int(0.02 * SAMPLE_RATE)
    beat[:m] = 0.8 * np.sin(2 * np.pi * 2000 * np.arange(m) / SAMPLE_RATE) * np.exp(-np.arange(m) / 40)
    return np.tile(beat, n)


def tone(freq: float = 330.0, seconds: float = 1.0) -> np.ndarray:
    return (0.5 * note(freq, seconds)).astype(np.float32)


def chord(freqs: tuple[float, ...] = (262.0, 330.0, 392.0), seconds: float = 1.5) -> np.ndarray:
    return (0.6 / len(freqs) * sum(note(f, seconds) for f in freqs)).astype(np.float32)
