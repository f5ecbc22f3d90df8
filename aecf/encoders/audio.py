"""Audio tower: a fixed window of log-mel spectrogram -> small CNN -> 64-d unit vector.

open_clip has no audio tower, so this is our own, trained CLAP-style (see `train.py`): a clip must
land near the caption-tower embedding of its digit's class prompt.

Two implementations of the features, kept equal by a test: `logmel` (one clip, librosa, the
reference) and `logmel_batch` (torch, many clips at once, used for training and the feature cache).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from functools import lru_cache

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from aecf.constants import EMBED_DIM, SAMPLE_RATE
from aecf.encoders.removed import strip_removed


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = SAMPLE_RATE
    window_seconds: float = 1.28  # a spoken digit fits; longer inputs are cropped around the energy
    n_fft: int = 512
    win_length: int = 400  # 25 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 40
    fmin: float = 40.0
    fmax: float = 8000.0
    top_db: float = 80.0  # dB below the clip's loudest bin that map to 0

    @classmethod
    def from_dict(cls, d: dict) -> MelConfig:
        """From encoders.json "audio" -> "mel" (options the code no longer has: `aecf.encoders.removed`)."""
        return cls(**strip_removed("audio.mel", d, {f.name for f in fields(cls)}))

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        return 1 + self.window_samples // self.hop_length

    def to_dict(self) -> dict:
        return asdict(self)


MEL = MelConfig()


def fit_window(wave: np.ndarray, n: int = MEL.window_samples) -> np.ndarray:
    """Pad (centred) or crop (around the energy centroid) a mono clip to exactly n samples."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    if len(wave) <= n:
        left = (n - len(wave)) // 2
        return np.pad(wave, (left, n - len(wave) - left))
    energy = wave.astype(np.float64) ** 2
    total = energy.sum()
    centre = int(np.round((energy * np.arange(len(wave))).sum() / total)) if total > 0 else len(wave) // 2
    start = int(np.clip(centre - n // 2, 0, len(wave) - n))
    return wave[start : start + n].copy()


def speed_perturb(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play `factor` times faster (pitch shifts with it), by linear interpolation."""
    n = max(2, int(round(len(wave) / factor)))
    return np.interp(np.linspace(0, len(wave) - 1, n), np.arange(len(wave)), wave).astype(np.float32)


@lru_cache(maxsize=4)
def mel_filterbank(cfg: MelConfig = MEL) -> np.ndarray:
    import librosa  # deferred: half a second to import; the filterbank is built once, at the first clip

    return librosa.filters.mel(
        sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax
    ).astype(np.float32)


def _to_scaled_db(power_mel, cfg: MelConfig, xp):
    """Power mel -> dB relative to the clip's loudest bin, floored at -top_db, scaled to [0, 1].

    Relative dB makes the features invariant to recording gain."""
    if xp is np:
        db = 10.0 * np.log10(np.maximum(power_mel, 1e-10))
        ref = db.max(axis=(-2, -1), keepdims=True)
        return (np.maximum(db, ref - cfg.top_db) - ref) / cfg.top_db + 1.0
    db = 10.0 * torch.log10(power_mel.clamp_min(1e-10))
    ref = db.amax(dim=(-2, -1), keepdim=True)
    return (torch.maximum(db, ref - cfg.top_db) - ref) / cfg.top_db + 1.0


def logmel(wave: np.ndarray, cfg: MelConfig = MEL) -> np.ndarray:
    """One mono 16 kHz clip -> float32 [n_mels, n_frames] (reference implementation, librosa)."""
    import librosa  # deferred: half a second to import; the app needs it only once a recording comes

    y = fit_window(wave, cfg.window_samples)
    spec = (
        np.abs(
            librosa.stft(
                y,
                n_fft=cfg.n_fft,
                hop_length=cfg.hop_length,
                win_length=cfg.win_length,
                window="hann",
                center=True,
                pad_mode="constant",
            )
        )
        ** 2
    )
    mel = mel_filterbank(cfg) @ spec
    return _to_scaled_db(mel, cfg, np).astype(np.float32)


def logmel_batch(waves: torch.Tensor, cfg: MelConfig = MEL) -> torch.Tensor:
    """Windowed clips float32 [B, window_samples] -> [B, n_mels, n_frames] (torch, batched)."""
    window = torch.hann_window(cfg.win_length, periodic=True, dtype=waves.dtype, device=waves.device)
    spec = (
        torch.stft(
            waves,
            n_fft=cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.win_length,
            window=window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        .abs()
        .pow(2)
    )
    fb = torch.from_numpy(mel_filterbank(cfg)).to(waves)
    return _to_scaled_db(fb @ spec, cfg, torch)


def logmel_many(waves: list[np.ndarray], cfg: MelConfig = MEL, batch_size: int = 512) -> np.ndarray:
    """Clips of any length -> float32 [N, n_mels, n_frames], windowed and batched."""
    out = []
    for i in range(0, len(waves), batch_size):
        chunk = np.stack([fit_window(w, cfg.window_samples) for w in waves[i : i + batch_size]])
        out.append(logmel_batch(torch.from_numpy(chunk), cfg).numpy())
    return np.concatenate(out) if out else np.zeros((0, cfg.n_mels, cfg.n_frames), np.float32)


@dataclass(frozen=True)
class AudioNetConfig:
    n_mels: int = MEL.n_mels
    channels: tuple[int, ...] = (24, 48, 64, 96)
    hidden: int = 128
    embed_dim: int = EMBED_DIM
    dropout: float = 0.2

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> AudioNetConfig:
        """From encoders.json "audio" -> "net" (options the code no longer has: `aecf.encoders.removed`)."""
        d = strip_removed("audio.net", d, {f.name for f in fields(cls)})
        d["channels"] = tuple(d["channels"])
        return cls(**d)


def _conv_block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class AudioEncoder(nn.Module):
    """log-mel [B, n_mels, T] -> L2-normalised [B, embed_dim].

    A strided first conv halves both axes (cheap on CPU), then conv + 2x2 max-pool stages; mean and
    max pooling over what is left make it tolerant to where the word sits in the window.
    """

    def __init__(self, cfg: AudioNetConfig = AudioNetConfig()):
        super().__init__()
        self.cfg = cfg
        c = cfg.channels
        layers: list[nn.Module] = [_conv_block(1, c[0], stride=2)]
        for c_in, c_out in zip(c[:-1], c[1:], strict=True):
            layers += [_conv_block(c_in, c_out), nn.MaxPool2d(2, ceil_mode=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Linear(2 * c[-1], cfg.hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, cfg.embed_dim),
        )

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        h = self.features(mel[:, None])
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return F.normalize(self.head(h), dim=-1)
