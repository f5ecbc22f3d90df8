"""Training augmentations that make the towers read real inputs, not just clean benchmark ones.

Images (`augment_digits`, so that scans, photos and drawings of other writers read like MNIST): random
affine with aspect, rotation, shear and shift; elastic wobble; stroke thickening/thinning (max/min pooling);
a small digit's resolution loss; the preprocessing's own frame and binary ink (what `preprocess_image`
produces from a photo); blur; contrast/gamma; a little noise. `ones_with_flag_and_base` draws the flag and
base many writers give a 1.

Audio (`augment_audio`, the shipped recipe): speed jitter, the clip placed in the tower's window with a
random shift, a random equaliser, room reverberation, band-limiting, then noise or babble of other training
clips at -8..30 dB SNR over the word; `spec_augment` masks the log-mels.

All functions take a torch.Generator so that a training run is reproducible from its seed.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from aecf.constants import SAMPLE_RATE
from aecf.encoders.audio import speed_perturb


def _u(gen: torch.Generator, n: int, lo: float, hi: float) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def _coin(gen: torch.Generator, n: int, p: float) -> torch.Tensor:
    return torch.rand(n, generator=gen) < p


def _gaussian_kernel(sigma: torch.Tensor, radius: int = 2) -> torch.Tensor:
    """Per-sample 2-D Gaussian kernels [B, 1, 2r+1, 2r+1]."""
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-(t[None] ** 2) / (2 * sigma[:, None] ** 2))
    g = g / g.sum(dim=1, keepdim=True)
    return (g[:, :, None] * g[:, None, :])[:, None]


def elastic(
    x: torch.Tensor, gen: torch.Generator, on: torch.Tensor, alpha_px: tuple[float, float] = (0.8, 2.2)
) -> torch.Tensor:
    """Smooth random displacement (a 4x4 field upsampled), up to alpha pixels: a writer's wobble."""
    b, _, h, w = x.shape
    coarse = torch.randn(b, 2, 4, 4, generator=gen)
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    field = field * (_u(gen, b, *alpha_px) * on.float()).view(b, 1, 1, 1) * (2.0 / w)
    theta = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(b, 2, 3)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False) + field.permute(0, 2, 3, 1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def renormalise(x: torch.Tensor, on: torch.Tensor, thr: float = 0.4, box: float = 20.0) -> torch.Tensor:
    """What `preprocess_image` does to every upload, batched: crop to the ink, fit its longest side to
    the 20 px box, centre by mass in 28x28. Samples with `on` False (or no ink) are left as they are."""
    b, _, h, w = x.shape
    peak = x.flatten(1).amax(1)
    ink = x[:, 0] > thr * peak.view(b, 1, 1)
    has = ink.flatten(1).any(1) & on & (peak > 0.2)
    idx_h, idx_w = torch.arange(h), torch.arange(w)
    rows, cols = ink.any(2), ink.any(1)
    y0 = torch.where(rows, idx_h, h).amin(1)
    y1 = torch.where(rows, idx_h, -1).amax(1)
    x0 = torch.where(cols, idx_w, w).amin(1)
    x1 = torch.where(cols, idx_w, -1).amax(1)
    size = torch.maximum(y1 - y0 + 1, x1 - x0 + 1).clamp_min(1).float()
    s = (box / size).clamp(0.6, 2.0)
    mass = x[:, 0].clamp_min(0)
    total = mass.sum((1, 2)).clamp_min(1e-6)
    cy = (mass.sum(2) * idx_h).sum(1) / total
    cx = (mass.sum(1) * idx_w).sum(1) / total
    theta = torch.zeros(b, 2, 3)
    theta[:, 0, 0] = 1 / s
    theta[:, 1, 1] = 1 / s
    theta[:, 0, 2] = (2 * cx + 1) / w - 1
    theta[:, 1, 2] = (2 * cy + 1) / h - 1
    theta[~has] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def binarise_hires(x: torch.Tensor, gen: torch.Generator, on: torch.Tensor, factor: int = 4) -> torch.Tensor:
    """A thresholded high-resolution mask box-reduced to 28 px: the look of a preprocessed photo or
    drawing (binary ink, anti-aliased edges), at a random threshold."""
    b = x.shape[0]
    up = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    thr = (_u(gen, b, 0.25, 0.5) * x.flatten(1).amax(1).clamp_min(1e-3)).view(b, 1, 1, 1)
    y = F.avg_pool2d((up > thr).float(), factor)
    return torch.where(on.view(b, 1, 1, 1), y, x)


def low_resolution(x: torch.Tensor, gen: torch.Generator, on: torch.Tensor) -> torch.Tensor:
    """Down to 10-16 px and back up: a small digit in a big photo, its edges lumpy once thresholded."""
    b, _, h, w = x.shape
    out = x.clone()
    sizes = torch.randint(10, 17, (b,), generator=gen).tolist()
    for i in torch.nonzero(on).flatten().tolist():
        k = sizes[i]
        small = F.interpolate(x[i : i + 1], size=(k, k), mode="area")
        out[i : i + 1] = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return out


def _segment(h: int, w: int, p0: tuple[float, float], p1: tuple[float, float], r: float) -> torch.Tensor:
    """Anti-aliased stroke [h, w] from p0 to p1 (x, y pixels), half-width r."""
    yy, xx = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    x0, y0 = p0
    dx, dy = p1[0] - x0, p1[1] - y0
    t = (((xx - x0) * dx + (yy - y0) * dy) / max(dx * dx + dy * dy, 1e-6)).clamp(0, 1)
    dist = ((xx - x0 - t * dx) ** 2 + (yy - y0 - t * dy) ** 2).sqrt()
    return (r + 0.5 - dist).clamp(0, 1)


def ones_with_flag_and_base(
    x: torch.Tensor, labels: torch.Tensor, gen: torch.Generator, p: float = 0.5
) -> torch.Tensor:
    """Give some MNIST 1s the flag (and often the base) that many writers and most fonts draw.

    MNIST's 1s are almost all a bare stroke; a 1 with a flag and a base was read as 2 or 7 (most of the
    held-out handwriting and canvas errors). x float [B,1,28,28] before the other augmentations."""
    x = x.clone()
    chosen = (labels == 1) & _coin(gen, len(labels), p)
    for i in torch.nonzero(chosen).flatten().tolist():
        ys, xs = torch.nonzero(x[i, 0] > 0.4, as_tuple=True)
        if len(ys) < 5:
            continue
        y0, y1 = int(ys.min()), int(ys.max())
        top_x = float(xs[ys <= y0 + 1].float().mean())
        bottom_x = float(xs[ys >= y1 - 1].float().mean())
        r = float(_u(gen, 1, 0.8, 1.4))
        flag_len, flag_angle = float(_u(gen, 1, 3, 7)), float(_u(gen, 1, 0.5, 1.1))
        base_half = float(_u(gen, 1, 3, 6))
        add_flag, add_base = (
            float(torch.rand(1, generator=gen)) < 0.8,
            float(torch.rand(1, generator=gen)) < 0.6,
        )
        m = torch.zeros(x.shape[-2:])
        if add_flag:
            end = (top_x - flag_len * math.cos(flag_angle), y0 + flag_len * math.sin(flag_angle))
            m = torch.maximum(m, _segment(*x.shape[-2:], (top_x, y0), end, r))
        if add_base:
            m = torch.maximum(
                m, _segment(*x.shape[-2:], (bottom_x - base_half, y1), (bottom_x + base_half, y1), r)
            )
        x[i, 0] = torch.maximum(x[i, 0], m)
    return x


def augment_digits(x: torch.Tensor, gen: torch.Generator, p: float = 0.85) -> torch.Tensor:
    """x float [B, 1, 28, 28] in [0, 1], white ink on black -> augmented copy (same shape).

    Recipe (chosen on the held-out val halves, docs/architecture.md "Encoders"): affine with aspect and
    shear, elastic wobble, stroke thickening/thinning, sometimes a small-digit resolution loss, then
    most often what the preprocessing produces from an upload (crop + fit to 20 px + centre by mass,
    binary ink with anti-aliased edges), blur, contrast and a little noise."""
    b = x.shape[0]
    on = _coin(gen, b, p)

    # affine: rotation, scale, aspect, shear, shift (pixels)
    angle = _u(gen, b, -18, 18) * math.pi / 180
    scale = _u(gen, b, 0.8, 1.1)
    aspect = torch.exp(_u(gen, b, -0.35, 0.35))
    shear = _u(gen, b, -0.35, 0.35)
    shift = _u(gen, 2 * b, -2.0, 2.0).view(b, 2) / 14.0
    cos, sin = torch.cos(angle), torch.sin(angle)
    sx, sy = scale * aspect.sqrt(), scale / aspect.sqrt()
    # output->input map of grid_sample: inverse of (rotate . shear . scale)
    a = torch.stack(
        [
            torch.stack([cos / sx, (sin + shear * cos) / sx], -1),
            torch.stack([-sin / sy, (cos - shear * sin) / sy], -1),
        ],
        1,
    )
    theta = torch.cat([a, shift[:, :, None]], dim=2)
    theta[~on] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    y = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    y = elastic(y, gen, _coin(gen, b, 0.4) & on)

    # stroke width: blend towards a 3x3 max (thicker) or min (thinner) filter
    amount = _u(gen, b, 0.3, 1.0).view(b, 1, 1, 1)
    thick = (_coin(gen, b, 0.3) & on).view(b, 1, 1, 1)
    thin = (_coin(gen, b, 0.15) & on).view(b, 1, 1, 1) & ~thick
    dil = F.max_pool2d(y, 3, 1, 1)
    ero = -F.max_pool2d(-y, 3, 1, 1)
    y = torch.where(thick, y + amount * (dil - y), y)
    y = torch.where(thin, y + amount * (ero - y), y)

    y = low_resolution(y, gen, _coin(gen, b, 0.1) & on)
    # the preprocessing's frame, then its binary ink
    y = renormalise(y, _coin(gen, b, 0.7) & on)
    y = binarise_hires(y, gen, _coin(gen, b, 0.5) & on & ~thin.view(b))

    # blur
    blur = _coin(gen, b, 0.2) & on
    sigma = _u(gen, b, 0.4, 1.1)
    k = _gaussian_kernel(sigma)
    blurred = F.conv2d(y.transpose(0, 1), k, padding=2, groups=b).transpose(0, 1)
    y = torch.where(blur.view(b, 1, 1, 1), blurred, y)

    # contrast: gamma and peak level, then a little noise
    gamma = torch.where(_coin(gen, b, 0.2) & on, torch.exp(_u(gen, b, -0.5, 0.5)), torch.ones(b))
    peak = torch.where(_coin(gen, b, 0.15) & on, _u(gen, b, 0.6, 1.0), torch.ones(b))
    y = y.clamp(0, 1).pow(gamma.view(b, 1, 1, 1)) * peak.view(b, 1, 1, 1)
    noise = (_coin(gen, b, 0.15) & on).view(b, 1, 1, 1) * _u(gen, b, 0.0, 0.08).view(b, 1, 1, 1)
    y = y + noise * torch.randn(y.shape, generator=gen)
    return y.clamp(0, 1)


# ---------------------------------------------------------------------------------------------- audio


def _colored_noise(n: int, length: int, gen: torch.Generator) -> torch.Tensor:
    """Unit-power noise [n, length] with a random spectral tilt (white ... pink ... brown)."""
    white = torch.randn(n, length, generator=gen)
    spec = torch.fft.rfft(white)
    f = torch.fft.rfftfreq(length, d=1.0 / SAMPLE_RATE).clamp_min(20.0)
    tilt = _u(gen, n, 0.0, 2.0)  # power ~ f^-tilt
    y = torch.fft.irfft(spec * f[None] ** (-tilt[:, None] / 2), n=length)
    return y / y.pow(2).mean(dim=1, keepdim=True).sqrt().clamp_min(1e-12)


def _room_response(
    n: int, length: int, gen: torch.Generator, wet_range: tuple[float, float] = (0.2, 1.6)
) -> torch.Tensor:
    """Synthetic impulse responses [n, length]: direct path + exponentially decaying noise tail whose
    energy is `wet_range` times the direct path's (1.6: a direct-to-reverberant ratio of -2 dB)."""
    rt60 = _u(gen, n, 0.15, 0.9)
    t = torch.arange(length) / SAMPLE_RATE
    tail = torch.randn(n, length, generator=gen) * torch.exp(-6.9 * t[None] / rt60[:, None])
    tail[:, : int(0.002 * SAMPLE_RATE)] = 0  # first reflections arrive a little after the direct path
    wet = _u(gen, n, *wet_range)
    tail = tail / tail.pow(2).sum(dim=1, keepdim=True).sqrt().clamp_min(1e-12) * wet[:, None]
    tail[:, 0] = 1.0
    return tail


def place_in_window(
    waves: list[np.ndarray], window: int, gen: torch.Generator, max_shift: float = 0.15
) -> tuple[torch.Tensor, torch.Tensor]:
    """Centre each clip in the window, shifted by up to max_shift seconds; crop what falls outside.

    Returns (windows [B, window], speech mask [B, window]: 1 where the clip lies)."""
    b = len(waves)
    out = torch.zeros(b, window)
    mask = torch.zeros(b, window)
    shifts = (_u(gen, b, -max_shift, max_shift) * SAMPLE_RATE).round().int().tolist()
    for i, w in enumerate(waves):
        start = (window - len(w)) // 2 + shifts[i]
        lo, hi = max(0, start), min(window, start + len(w))
        if hi > lo:
            out[i, lo:hi] = torch.from_numpy(w[lo - start : hi - start])
            mask[i, lo:hi] = 1.0
    return out, mask


def augment_audio(
    waves: list[np.ndarray],
    window: int,
    gen: torch.Generator,
    babble_pool: list[np.ndarray],
    p_reverb: float = 0.45,
    reverb_wet: tuple[float, float] = (0.2, 1.6),
    reverb_s: float = 0.5,
    p_babble: float = 0.3,
) -> torch.Tensor:
    """Clean clips (any length) -> augmented, windowed batch [B, window]. `p_reverb`, `reverb_wet`,
    `reverb_s`: share of clips given a room response, its tail energy over the direct path's, its length;
    `p_babble`: share of the noisy clips whose noise is three talkers from `babble_pool`."""
    b = len(waves)
    factors = _u(gen, b, 0.85, 1.18).tolist()
    jitter = _coin(gen, b, 0.8).tolist()
    waves = [speed_perturb(w, f) if j else w for w, f, j in zip(waves, factors, jitter, strict=True)]
    x, speech = place_in_window(waves, window, gen)

    spec = torch.fft.rfft(x, n=2 * window)
    # another voice / microphone: a smooth random equaliser (+-9 dB over log frequency)
    eq = _coin(gen, b, 0.5)
    if eq.any():
        f_eq = torch.fft.rfftfreq(2 * window, d=1.0 / SAMPLE_RATE).clamp_min(50.0)
        pos = (torch.log2(f_eq / 50.0) / math.log2(SAMPLE_RATE / 2 / 50.0)).clamp(0, 1) * 5
        knots = _u(gen, 6 * b, -9.0, 9.0).view(b, 6)
        lo_i = pos.floor().long().clamp(max=4)
        frac = pos - lo_i
        gain_db = knots[:, lo_i] * (1 - frac) + knots[:, lo_i + 1] * frac
        spec = torch.where(eq[:, None], spec * 10 ** (gain_db / 20), spec)
    # room reverberation
    reverb = _coin(gen, b, p_reverb)
    if reverb.any():
        ir = _room_response(b, int(reverb_s * SAMPLE_RATE), gen, reverb_wet)
        spec = torch.where(reverb[:, None], spec * torch.fft.rfft(ir, n=2 * window), spec)
    # microphone / phone band-limit
    band = _coin(gen, b, 0.2)
    f = torch.fft.rfftfreq(2 * window, d=1.0 / SAMPLE_RATE)
    lo, hi = _u(gen, b, 50, 400), _u(gen, b, 3000, 7500)
    keep = ((f[None] >= lo[:, None]) & (f[None] <= hi[:, None])).float()
    spec = torch.where(band[:, None], spec * keep, spec)
    x = torch.fft.irfft(spec, n=2 * window)[:, :window]

    # additive noise at a random SNR measured over the speech, like the benchmark's corruption
    noisy = _coin(gen, b, 0.75)
    snr_db = _u(gen, b, -8.0, 30.0)
    noise = _colored_noise(b, window, gen)
    use_babble = _coin(gen, b, p_babble).tolist()
    if babble_pool:
        picks = torch.randint(len(babble_pool), (b, 3), generator=gen).tolist()
        for i in range(b):
            if use_babble[i]:
                talkers, _ = place_in_window([babble_pool[j] for j in picks[i]], window, gen, max_shift=0.5)
                mix = talkers.sum(0)
                if mix.pow(2).mean() > 0:
                    noise[i] = mix / mix.pow(2).mean().sqrt()
    whole = _coin(gen, b, 0.5)[:, None]
    noise = torch.where(whole, noise, noise * speech)
    p_sig = (x.pow(2) * speech).sum(1) / speech.sum(1).clamp_min(1)
    p_noise = (noise.pow(2) * torch.where(whole, torch.ones_like(speech), speech)).sum(1) / torch.where(
        whole[:, 0], torch.full((b,), float(window)), speech.sum(1).clamp_min(1)
    )
    gain = (p_sig / (p_noise.clamp_min(1e-12) * 10 ** (snr_db / 10))).sqrt()
    x = torch.where(noisy[:, None], x + gain[:, None] * noise, x)
    return x


def spec_augment(
    mel: torch.Tensor, gen: torch.Generator, p: float = 0.5, max_bins: int = 6, max_frames: int = 12
) -> torch.Tensor:
    """SpecAugment on log-mels [B, n_mels, T]: one frequency band and one time span masked (to the
    clip's floor, 0), each with probability p."""
    b, n_mels, t = mel.shape
    out = mel.clone()
    fw = torch.randint(1, max_bins + 1, (b,), generator=gen)
    f0 = (torch.rand(b, generator=gen) * (n_mels - fw)).long()
    tw = torch.randint(1, max_frames + 1, (b,), generator=gen)
    t0 = (torch.rand(b, generator=gen) * (t - tw)).long()
    fm, tm = _coin(gen, b, p), _coin(gen, b, p)
    bins, frames = torch.arange(n_mels), torch.arange(t)
    fmask = fm[:, None] & (bins[None] >= f0[:, None]) & (bins[None] < (f0 + fw)[:, None])
    tmask = tm[:, None] & (frames[None] >= t0[:, None]) & (frames[None] < (t0 + tw)[:, None])
    out[fmask[:, :, None].expand_as(out)] = 0.0
    out[tmask[:, None, :].expand_as(out)] = 0.0
    return out
