"""Per-sample corruption of images and audio, deterministic from a seed (docs/architecture.md).

The benchmark stores clean inputs plus, per sample, a severity and a seed; these functions turn them
into the corrupted input, identically every time. What a severity *means* is fixed here; how
severities are *distributed* over a dataset is `aecf.data.build.BenchmarkConfig`.

Image, in the spirit of AV-MNIST (MNIST with ~75 % of its PCA energy removed): severity s removes the
fraction 0.9·s of the variance about the mean image, carried by the leading principal components
(the shape of the digit; the fine residual is left), then may occlude a block and adds Gaussian noise,
both growing with s.

Audio: additive noise at a given SNR, a random mix of white, pink and babble-like (speech-shaped,
syllable-rate modulated) noise. Audio severity is a fixed monotone map of the SNR.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from aecf.constants import SAMPLE_RATE
from aecf.data.mnist import load_mnist
from aecf.files import write_atomic
from aecf.paths import MNIST_PCA

# Image: severity 1 removes this fraction of PCA energy, adds noise of this std (fraction of full
# scale), and with probability OCCLUSION_PROB·s hides a block of up to this many pixels a side.
MAX_ENERGY_REMOVED = 0.9
MAX_NOISE_STD = 0.25
OCCLUSION_PROB = 0.6
MAX_OCCLUSION_SIDE = 12

# Audio severity: 0 at SNR_CLEAN_DB and above (the word is plainly audible), 1 at SNR_WORST_DB and below.
SNR_CLEAN_DB = 10.0
SNR_WORST_DB = -15.0


# ---------------------------------------------------------------------------------------------- image


def _fit_pca() -> dict[str, np.ndarray]:
    x, _ = load_mnist("train")
    x = x.reshape(len(x), -1).astype(np.float64) / 255.0
    mean = x.mean(axis=0)
    cov = np.cov(x - mean, rowvar=False)
    variance, components = np.linalg.eigh(cov)
    order = np.argsort(variance)[::-1]
    variance = np.clip(variance[order], 0.0, None)
    return {
        "mean": mean.astype(np.float32),
        "components": components[:, order].T.astype(np.float32),  # [K, 784], leading first
        "explained_ratio": (variance / variance.sum()).astype(np.float32),
    }


@lru_cache(maxsize=1)
def mnist_pca(cache: str | Path = MNIST_PCA) -> dict[str, np.ndarray]:
    """PCA of MNIST train (pixels in [0, 1]): mean [784], components [784, 784], explained_ratio [784].

    Fitted once, then read from `data/raw/mnist_pca.npz`.
    """
    cache = Path(cache)
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return {k: z[k] for k in ("mean", "components", "explained_ratio")}
        except (KeyError, ValueError, OSError):
            pass  # unreadable cache: refit
    pca = _fit_pca()
    write_atomic(cache, lambda f: np.savez(f, **pca))
    return pca


def remove_pca_energy(image: np.ndarray, fraction: float) -> np.ndarray:
    """Remove the leading principal components holding `fraction` of MNIST's variance.

    `image` float [28, 28] in [0, 1]; returns float [28, 28] (not clipped). The component that
    straddles the boundary is removed in proportion, so the amount removed is continuous in `fraction`.
    """
    if fraction <= 0:
        return np.asarray(image, dtype=np.float32)
    pca = mnist_pca()
    ratio = pca["explained_ratio"].astype(np.float64)
    before = np.concatenate([[0.0], np.cumsum(ratio)[:-1]])
    weight = np.clip((fraction - before) / np.maximum(ratio, 1e-12), 0.0, 1.0)
    keep = weight > 0
    centred = image.reshape(-1).astype(np.float64) - pca["mean"]
    comps = pca["components"][keep].astype(np.float64)
    centred -= comps.T @ (weight[keep] * (comps @ centred))
    return (centred + pca["mean"]).reshape(28, 28).astype(np.float32)


def corrupt_image(image: np.ndarray, severity: float, seed: int) -> np.ndarray:
    """Corrupt an MNIST-style uint8 [28, 28] image; severity in [0, 1] (0 returns it unchanged)."""
    severity = float(np.clip(severity, 0.0, 1.0))
    image = np.asarray(image)
    if severity == 0.0:
        return image.astype(np.uint8, copy=True)
    rng = np.random.default_rng(seed)
    x = remove_pca_energy(image.astype(np.float32) / 255.0, MAX_ENERGY_REMOVED * severity)
    # Draw every random number whether or not it is used, so that one parameter's effect never shifts
    # the random stream of another.
    occlude = rng.random() < OCCLUSION_PROB * severity
    side = int(round(MAX_OCCLUSION_SIDE * severity))
    top, left = rng.integers(4, 25 - max(side, 1), size=2)
    fill = float(rng.random() < 0.5)  # erased (0) or an ink blot (1)
    noise = rng.standard_normal(x.shape).astype(np.float32)
    if occlude and side > 0:
        x[top : top + side, left : left + side] = fill
    x = x + MAX_NOISE_STD * severity * noise
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------------------------- audio


def audio_severity(snr_db: float | np.ndarray) -> np.ndarray:
    """Monotone map of SNR (dB) into [0, 1]: 0 at >= SNR_CLEAN_DB, 1 at <= SNR_WORST_DB, linear between."""
    snr = np.asarray(snr_db, dtype=np.float32)
    return np.clip((SNR_CLEAN_DB - snr) / (SNR_CLEAN_DB - SNR_WORST_DB), 0.0, 1.0).astype(np.float32)


def _shape_spectrum(white: np.ndarray, gain_of_freq) -> np.ndarray:
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(len(white), d=1.0 / SAMPLE_RATE)
    return np.fft.irfft(spectrum * gain_of_freq(freqs), n=len(white))


def _unit_power(x: np.ndarray) -> np.ndarray:
    return x / np.sqrt(np.mean(x**2) + 1e-20)


def _pink(n: int, rng: np.random.Generator) -> np.ndarray:
    return _shape_spectrum(rng.standard_normal(n), lambda f: 1.0 / np.sqrt(np.maximum(f, 20.0)))


def _babble(n: int, rng: np.random.Generator) -> np.ndarray:
    # Several talkers far away: long-term speech spectrum (flat to ~500 Hz, then about -9 dB/octave)
    # with each talker's level following its own syllable rhythm (3-7 Hz).
    t = np.arange(n) / SAMPLE_RATE
    mix = np.zeros(n)
    for _ in range(4):
        talker = _shape_spectrum(rng.standard_normal(n), lambda f: 1.0 / (1.0 + (f / 500.0) ** 1.5))
        rate, phase = rng.uniform(3.0, 7.0), rng.uniform(0, 2 * np.pi)
        mix += _unit_power(talker) * (1.0 + 0.8 * np.sin(2 * np.pi * rate * t + phase))
    return mix


def make_noise(n: int, seed: int) -> np.ndarray:
    """Unit-power noise of n samples: a random (per seed) mix of white, pink and babble-like noise."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet([1.0, 1.0, 1.0])
    parts = (rng.standard_normal(n), _pink(n, rng), _babble(n, rng))
    return _unit_power(sum(w * _unit_power(p) for w, p in zip(weights, parts, strict=True)))


def corrupt_audio(wave: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    """Add noise to a clean clip so that signal power / noise power = `snr_db` over the clip.

    Pass the clip without its zero padding (`audio[i, :length[i]]`): padding would lower the measured
    signal power. Returns float32 of the same length, not renormalised (loud noise can exceed ±1).
    """
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size == 0:
        return wave.copy()
    signal_power = float(np.mean(wave.astype(np.float64) ** 2))
    noise = make_noise(len(wave), seed) * np.sqrt(signal_power / 10 ** (snr_db / 10))
    return (wave + noise).astype(np.float32)
