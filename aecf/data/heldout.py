"""`python -m aecf heldout build [--out DIR] [--per-set N] [--seed S]`: our own held-out evaluation sets.

Real users draw, photograph and say digits; MNIST test and the benchmark's test voices say little about
that. These sets come from sources the encoders never see in training (no MNIST pixel, no espeak-ng or
flite voice), built locally and deterministically from the seed into `data/heldout/` (git-ignored):

    handwriting  digits rendered from Debian font families, handwriting/script and ordinary ones
                 (weights, slants, stroke widths, sizes, positions), dark on light like a scan
    canvas       digits drawn as scripted strokes (several styles per digit; varied thickness, speed,
                 size and placement) rasterised like the app's canvas: white polyline, RGBA PNG 196x196
    photos       font and canvas digits on paper: perspective, rotation up to ±20°, uneven light and a
                 shadow, blur, JPEG quality 30-90, the digit 10-50 % of the frame height
    voices       "zero".."nine" from festival voices (ked diphone, slt HTS), rate and pitch varied, WAV
    voices_room  the same voices in a simulated room: early reflections + reverberant tail, background
                 noise (pink, fan hum, babble) at 0-20 dB SNR, 0.3-1 s of room tone around the word,
                 44.1/48 kHz stereo, FLAC/MP3/OGG

Every set has two halves, named `val` and `test` (alternate items, so both see every font/voice):
`val` may be used to choose recipes and checkpoints, `test` only to report. Each set's
`manifest.json` lists file, label, half and source of every item. The report
(`python -m aecf encoders report`) scores the `test` halves through the public `aecf.load().predict`,
one modality at a time, taking that modality's own zero-shot opinion (`Prediction.experts`), i.e.
exactly what a user's upload gets.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from aecf.constants import CLASSES, DATA_DIR

HELDOUT_DIR = DATA_DIR / "heldout"
SETS: tuple[str, ...] = ("handwriting", "photos", "canvas", "voices", "voices_room")
HALVES: tuple[str, ...] = ("val", "test")
IMAGE_SETS = ("handwriting", "photos", "canvas")
AUDIO_SETS = ("voices", "voices_room")
DEFAULT_PER_SET = {"handwriting": 1000, "photos": 600, "canvas": 600, "voices": 400, "voices_room": 400}
CANVAS_SIZE = 196  # pages/explore.py: st_canvas(width=196, height=196, stroke_width=18, white on black)
MANIFEST = "manifest.json"
VERSION = 1

# Font families (Debian packages in scripts/setup.sh). Symbol/math fonts are left out.
HANDWRITING_FAMILIES = (
    "Because We Build",
    "Because We Connect",
    "Because We Create",
    "Because We Learn",
    "Because We Mentor",
    "Because We Organize",
    "Breip",
    "Comic Neue",
    "Dancing Script",
    "DkgHandwriting",
    "Humor Sans",
    "Kaushan Script",
    "Kristi",
    "femkeklaver",
    "Z003",
)
ORDINARY_FAMILIES = (
    "DejaVu Sans",
    "DejaVu Serif",
    "DejaVu Sans Mono",
    "Liberation Sans",
    "Liberation Serif",
    "Liberation Mono",
    "Liberation Sans Narrow",
    "FreeSans",
    "FreeSerif",
    "FreeMono",
    "Nimbus Sans",
    "Nimbus Roman",
    "Nimbus Mono PS",
    "Nimbus Sans Narrow",
    "URW Gothic",
    "URW Bookman",
    "C059",
    "P052",
    "Cantarell",
)
# festival voices (Debian festvox-*). kal_diphone is left out: flite's kal, a training voice, is the same
# diphone database.
FESTIVAL_VOICES = ("ked_diphone", "cmu_us_slt_arctic_hts")
# what the background talkers of the rooms say (other words by the same voices)
BABBLE_WORDS = ("hello", "table", "window", "morning")


def _rng(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(str(k).encode()) for k in keys)])


def half_of(i: int) -> str:
    return HALVES[i % 2]


# --------------------------------------------------------------------------------------------- fonts


@dataclass(frozen=True)
class Font:
    path: str
    family: str
    style: str
    kind: str  # "handwriting" | "ordinary"


@lru_cache(maxsize=1)
def available_fonts() -> tuple[Font, ...]:
    """The installed .ttf/.otf files of our families whose ten digits render as distinct glyphs."""
    fc = shutil.which("fc-list")
    if fc is None:
        return []
    out = subprocess.run(
        [fc, "--format", "%{file}|%{family[0]}|%{style[0]}\n"], capture_output=True, text=True, check=False
    ).stdout
    seen: dict[str, Font] = {}
    for line in sorted(set(out.splitlines())):
        parts = line.split("|")
        if len(parts) != 3 or not parts[0].lower().endswith((".ttf", ".otf")):
            continue
        path, family, style = parts
        kind = (
            "handwriting"
            if family in HANDWRITING_FAMILIES
            else "ordinary"
            if family in ORDINARY_FAMILIES
            else None
        )
        if kind is None:
            continue
        key = (family, style)
        if key in seen:
            continue
        if _digits_ok(path):
            seen[key] = Font(path, family, style, kind)
    return tuple(sorted(seen.values(), key=lambda f: (f.kind, f.family, f.style)))


def _glyph(path: str, ch: str, size: int = 48) -> np.ndarray:
    font = ImageFont.truetype(path, size)
    img = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(img).text((size, size // 2), ch, fill=255, font=font)
    return np.asarray(img) > 127


def _digits_ok(path: str) -> bool:
    try:
        glyphs = [_glyph(path, ch) for ch in "0123456789"]
    except OSError:
        return False
    if any(g.sum() < 20 for g in glyphs):
        return False
    # a missing glyph renders as the same .notdef box for every digit
    return len({g.tobytes() for g in glyphs}) == 10


def render_font_digit(font: Font, digit: int, rng: np.random.Generator, px: int = 160) -> np.ndarray:
    """Ink mask float32 [H, W] in [0, 1] of one digit, tightly cropped: size, weight, slant, rotation."""
    size = px
    f = ImageFont.truetype(font.path, size)
    canvas = Image.new("L", (size * 3, size * 3), 0)
    stroke = int(rng.choice([0, 0, 0, 1, 2, 3, 5])) * size // 100  # thickening
    ImageDraw.Draw(canvas).text(
        (size, size // 2), str(digit), fill=255, font=f, stroke_width=stroke, stroke_fill=255
    )
    # slant (shear) and a small rotation, as handwriting leans
    shear = rng.uniform(-0.3, 0.3)
    canvas = canvas.transform(
        canvas.size, Image.AFFINE, (1, shear, -shear * canvas.size[1] / 2, 0, 1, 0), resample=Image.BILINEAR
    )
    canvas = canvas.rotate(rng.uniform(-10, 10), resample=Image.BILINEAR)
    a = np.asarray(canvas, np.float32) / 255.0
    if rng.random() < 0.25:  # thinner strokes
        from scipy import ndimage

        a = ndimage.grey_erosion(a, size=(int(rng.integers(2, 5)),) * 2)
    ys, xs = np.nonzero(a > 0.3)
    if len(ys) == 0:
        raise ValueError(f"{font.family} {font.style}: digit {digit} rendered empty")
    return a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def _place(
    ink: np.ndarray,
    shape: tuple[int, int],
    height_frac: float,
    rng: np.random.Generator,
    centre_jitter: float,
) -> np.ndarray:
    """Scale an ink mask to height_frac of the frame height and place it (jittered) in a frame."""
    h, w = shape
    th = max(8, int(round(height_frac * h)))
    tw = max(2, int(round(ink.shape[1] * th / ink.shape[0])))
    if tw > 0.9 * w:
        tw = int(0.9 * w)
        th = max(8, int(round(ink.shape[0] * tw / ink.shape[1])))
    small = np.asarray(
        Image.fromarray(ink).resize((tw, th), Image.BILINEAR if th > ink.shape[0] else Image.BOX)
    )
    out = np.zeros(shape, np.float32)
    cy = h / 2 + rng.uniform(-centre_jitter, centre_jitter) * (h - th) / 2
    cx = w / 2 + rng.uniform(-centre_jitter, centre_jitter) * (w - tw) / 2
    y0 = int(np.clip(round(cy - th / 2), 0, h - th))
    x0 = int(np.clip(round(cx - tw / 2), 0, w - tw))
    out[y0 : y0 + th, x0 : x0 + tw] = np.clip(small, 0, 1)
    return out


def handwriting_image(font: Font, digit: int, rng: np.random.Generator) -> Image.Image:
    """A scan-like image: dark ink on light paper (1 in 8 light on dark), varied size and position."""
    side = int(rng.choice([48, 64, 96, 128, 192, 256]))
    shape = (side, int(round(side * rng.uniform(0.8, 1.25))))
    ink = _place(render_font_digit(font, digit, rng), shape, rng.uniform(0.4, 0.9), rng, 0.8)
    paper, level = rng.uniform(0.85, 1.0), rng.uniform(0.6, 0.95)
    gray = paper * (1 - level * ink) + rng.normal(0, 0.01, shape)
    if rng.random() < 0.125:
        gray = 1.0 - gray
    return Image.fromarray(np.clip(gray * 255, 0, 255).astype(np.uint8), mode="L")


# -------------------------------------------------------------------------------------------- canvas


def _arc(cx, cy, rx, ry, a0, a1, n=24):
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], 1)


def _line(*pts, n=8):
    out = []
    for p, q in zip(pts[:-1], pts[1:], strict=True):
        t = np.linspace(0, 1, n)[:, None]
        out.append(np.asarray(p) * (1 - t) + np.asarray(q) * t)
    return np.concatenate(out)


def digit_strokes(digit: int, style: int) -> list[np.ndarray]:
    """Strokes (polylines in a unit box, y down) of one digit in one of a few writing styles."""
    pi = math.pi
    if digit == 0:
        return [_arc(0.5, 0.5, 0.3 + 0.05 * (style % 2), 0.45, -pi / 2, 1.5 * pi + 0.25 * (style == 2), 40)]
    if digit == 1:
        if style == 0:
            return [_line((0.52, 0.05), (0.48, 0.95))]
        if style == 1:
            return [_line((0.3, 0.25), (0.55, 0.05), (0.5, 0.95))]
        return [_line((0.3, 0.25), (0.55, 0.05), (0.5, 0.95)), _line((0.3, 0.95), (0.7, 0.95))]
    if digit == 2:
        top = _arc(0.5, 0.3, 0.28, 0.25, pi * 1.05, pi * 2.25, 20)
        if style == 1:  # with a loop at the bottom
            return [
                np.concatenate(
                    [
                        top,
                        _line(top[-1], (0.2, 0.92)),
                        _arc(0.3, 0.85, 0.08, 0.07, pi, 2.5 * pi, 10),
                        _line((0.3, 0.92), (0.85, 0.92)),
                    ]
                )
            ]
        return [np.concatenate([top, _line(top[-1], (0.18, 0.93), (0.85, 0.93))])]
    if digit == 3:
        if style == 1:  # flat top
            return [
                np.concatenate(
                    [
                        _line((0.2, 0.05), (0.8, 0.05), (0.45, 0.4)),
                        _arc(0.5, 0.67, 0.3, 0.28, -pi / 2 - 0.3, pi * 0.85, 24),
                    ]
                )
            ]
        return [
            np.concatenate(
                [
                    _arc(0.48, 0.27, 0.27, 0.22, pi * 1.1, pi * 2.5, 20),
                    _arc(0.48, 0.72, 0.3, 0.24, -pi / 2, pi * 0.9, 20),
                ]
            )
        ]
    if digit == 4:
        if style == 1:  # open four: two strokes
            return [_line((0.3, 0.05), (0.2, 0.6), (0.85, 0.6)), _line((0.65, 0.3), (0.65, 0.95))]
        return [_line((0.65, 0.95), (0.65, 0.05), (0.15, 0.65), (0.88, 0.65))]
    if digit == 5:
        return [
            np.concatenate(
                [_line((0.3, 0.08), (0.27, 0.45)), _arc(0.48, 0.66, 0.3, 0.27, -pi * 0.75, pi * 0.85, 24)]
            ),
            _line((0.3, 0.08), (0.8, 0.07)),
        ]
    if digit == 6:
        bowl = _arc(0.5, 0.7, 0.27, 0.24, pi, 3 * pi, 30)
        return [
            np.concatenate(
                [
                    _line((0.7, 0.05), (0.35, 0.4), n=6)
                    if style == 0
                    else _arc(0.75, 0.55, 0.52, 0.5, -pi * 0.55, -pi, 14),
                    bowl,
                ]
            )
        ]
    if digit == 7:
        strokes = [_line((0.15, 0.08), (0.85, 0.08), (0.4, 0.95))]
        if style == 1:
            strokes.append(_line((0.35, 0.5), (0.8, 0.5)))
        if style == 2:
            strokes = [_line((0.15, 0.2), (0.2, 0.08), (0.85, 0.08), (0.45, 0.95))]
        return strokes
    if digit == 8:
        top = _arc(0.5, 0.27, 0.22, 0.22, pi / 2, 2.5 * pi, 28)
        bottom = _arc(0.5, 0.72, 0.28, 0.24, -pi / 2, 1.5 * pi, 28)
        if style == 1:
            return [top, bottom]
        return [np.concatenate([top, bottom])]
    if digit == 9:
        loop = _arc(0.5, 0.3, 0.26, 0.24, 0.0, 2 * pi, 30)
        tail = (
            _line((0.76, 0.3), (0.72, 0.95)) if style == 0 else _arc(0.3, 0.3, 0.46, 0.65, 0.0, pi * 0.55, 14)
        )
        return [np.concatenate([loop, tail])]
    raise ValueError(digit)


STYLES = {0: 3, 1: 3, 2: 2, 3: 2, 4: 2, 5: 1, 6: 2, 7: 3, 8: 2, 9: 2}


def _smooth_noise(n: int, rng: np.random.Generator, scale: float) -> np.ndarray:
    k = max(2, n // 6)
    base = rng.normal(0, scale, (k, 2))
    return np.stack([np.interp(np.linspace(0, k - 1, n), np.arange(k), base[:, j]) for j in range(2)], 1)


def stroke_mask(
    digit: int,
    rng: np.random.Generator,
    size: int = CANVAS_SIZE,
    width: float | None = None,
    fill_range: tuple[float, float] = (0.4, 0.9),
    supersample: int = 3,
) -> np.ndarray:
    """Ink float32 [size, size] of a scripted drawing: random style, wobble, speed, affine, thickness."""
    strokes = digit_strokes(digit, int(rng.integers(STYLES[digit])))
    angle = math.radians(rng.uniform(-15, 15))
    shear = rng.uniform(-0.3, 0.3)
    aspect = math.exp(rng.uniform(-0.25, 0.25))
    c, s = math.cos(angle), math.sin(angle)
    m = np.array([[c, -s], [s, c]]) @ np.array([[aspect, shear], [0, 1 / aspect]])
    speed = rng.uniform(0, 1)  # fast strokes: few sampled points (straight segments between them)
    pts_all = []
    for st in strokes:
        st = st + _smooth_noise(len(st), rng, 0.02)
        keep = max(3, int(len(st) * (1 - 0.75 * speed)))
        idx = np.unique(np.round(np.linspace(0, len(st) - 1, keep)).astype(int))
        pts_all.append((st[idx] - 0.5) @ m.T)
    allp = np.concatenate(pts_all)
    lo, hi = allp.min(0), allp.max(0)
    extent = float((hi - lo).max())
    fill = rng.uniform(*fill_range)
    scale = fill * size / max(extent, 1e-6)
    width = float(width if width is not None else rng.uniform(10, 26))
    room = size - (hi - lo) * scale - width
    offset = np.array([rng.uniform(width / 2, width / 2 + max(0.0, room[k])) for k in range(2)]) - lo * scale
    ss = supersample
    img = Image.new("L", (size * ss, size * ss), 0)
    draw = ImageDraw.Draw(img)
    w = max(1, int(round(width * ss)))
    for st in pts_all:
        p = (st * scale + offset) * ss
        pts = [tuple(map(float, q)) for q in p]
        draw.line(pts, fill=255, width=w, joint="curve")
        for x, y in pts:  # fabric.js freedraw uses round caps and joins
            r = w / 2
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    return np.asarray(img.resize((size, size), Image.LANCZOS), np.float32) / 255.0


def canvas_image(digit: int, rng: np.random.Generator) -> Image.Image:
    """What the app's canvas returns: RGBA 196x196, white strokes; transparent or black background."""
    ink = stroke_mask(digit, rng)
    a = (np.clip(ink, 0, 1) * 255).astype(np.uint8)
    rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = a
    if rng.random() < 0.5:  # the canvas background painted in (#000000), fully opaque
        rgba[..., :3] = a[..., None]
        rgba[..., 3] = 255
    return Image.fromarray(rgba, mode="RGBA")


# -------------------------------------------------------------------------------------------- photos


def photo_image(ink: np.ndarray, rng: np.random.Generator) -> bytes:
    """A phone photo (JPEG bytes) of an ink mask written on paper."""
    w = int(rng.choice([480, 640, 800, 1024]))
    h = int(round(w * float(rng.choice([0.75, 1.0, 1.333]))))
    frac = rng.uniform(0.10, 0.50)
    pad = 1.6  # render on a larger sheet so rotation/perspective leave no empty corners
    H, W = int(h * pad), int(w * pad)
    big = _place(ink, (H, W), frac / pad * (h / H) * pad, rng, 0.35 / pad)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    # paper: tint, grain; ink: colour and strength
    tint = np.array([1.0, rng.uniform(0.93, 1.0), rng.uniform(0.82, 1.0)], np.float32)
    grain = np.asarray(
        Image.fromarray(rng.normal(0, 1, (H // 8 + 1, W // 8 + 1)).astype(np.float32)).resize(
            (W, H), Image.BILINEAR
        )
    )
    paper = 0.9 + 0.02 * grain
    ink_rgb = np.array(
        rng.choice([[0.1, 0.1, 0.12], [0.1, 0.15, 0.45], [0.35, 0.35, 0.38], [0.05, 0.05, 0.05]]), np.float32
    )
    strength = rng.uniform(0.65, 0.95)
    rgb = paper[..., None] * tint * (1 - strength * big[..., None]) + strength * big[..., None] * ink_rgb
    # uneven light: a gradient from a random direction plus a vignette
    theta = rng.uniform(0, 2 * math.pi)
    grad = (xx / W - 0.5) * math.cos(theta) + (yy / H - 0.5) * math.sin(theta)
    light = rng.uniform(0.65, 1.0) * (1 - rng.uniform(0.1, 0.45) * (grad + 0.5)) - rng.uniform(0, 0.3) * (
        ((xx - W / 2) / W) ** 2 + ((yy - H / 2) / H) ** 2
    )
    # a soft shadow (a hand or a phone) over part of the sheet
    if rng.random() < 0.7:
        nx, ny = math.cos(rng.uniform(0, 2 * math.pi)), math.sin(rng.uniform(0, 2 * math.pi))
        d = (xx / W - 0.5) * nx + (yy / H - 0.5) * ny - rng.uniform(0.0, 0.3)
        soft = rng.uniform(0.01, 0.08)
        light = light * (1 - rng.uniform(0.2, 0.5) / (1 + np.exp(np.clip(-d / soft, -50, 50))))
    rgb = np.clip(rgb * light[..., None], 0, 1)
    im = Image.fromarray((rgb * 255).astype(np.uint8), mode="RGB")
    # rotation up to ±20° and a perspective view, then crop the frame
    im = im.rotate(rng.uniform(-20, 20), resample=Image.BICUBIC, center=(W / 2, H / 2))
    x0, y0 = (W - w) / 2, (H - h) / 2
    j = 0.08
    quad = [
        x0 + rng.uniform(-j, j) * w,
        y0 + rng.uniform(-j, j) * h,
        x0 + rng.uniform(-j, j) * w,
        y0 + h + rng.uniform(-j, j) * h,
        x0 + w + rng.uniform(-j, j) * w,
        y0 + h + rng.uniform(-j, j) * h,
        x0 + w + rng.uniform(-j, j) * w,
        y0 + rng.uniform(-j, j) * h,
    ]
    im = im.transform((w, h), Image.QUAD, quad, resample=Image.BICUBIC)
    sigma = rng.uniform(0.0, 2.0)
    if sigma > 0.3:
        im = im.filter(ImageFilter.GaussianBlur(sigma))
    a = np.asarray(im, np.float32) + rng.normal(0, rng.uniform(1, 5), (h, w, 1))
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), mode="RGB")
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(rng.integers(30, 91)))
    return buf.getvalue()


# ------------------------------------------------------------------------------------------- speech


def festival_available() -> bool:
    return shutil.which("festival") is not None


def synthesize_festival(jobs: list[tuple[str, str, float]], tmp: Path) -> list[tuple[np.ndarray, int]]:
    """[(voice, word, duration_stretch)] -> [(float32 mono wave, sample rate)], one festival run per voice."""
    if not festival_available():
        raise RuntimeError(
            "festival is not installed (apt-get install festival festvox-kdlpc16k "
            "festvox-us-slt-hts, or bash scripts/setup.sh)"
        )
    from aecf.data.speech import festival_batch

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


def _resample(wave: np.ndarray, sr: int, target: int) -> np.ndarray:
    import soxr

    return wave if sr == target else soxr.resample(wave, sr, target).astype(np.float32)


def _trim(wave: np.ndarray, sr: int) -> np.ndarray:
    frame = max(1, sr // 100)
    n = len(wave) // frame
    if n == 0:
        return wave
    rms = np.sqrt((wave[: n * frame].reshape(n, frame) ** 2).mean(1) + 1e-12)
    on = np.nonzero(20 * np.log10(rms) > 20 * np.log10(rms.max()) - 40)[0]
    return wave[max(0, on[0] - 2) * frame : min(n, on[-1] + 3) * frame]


def _pitch_speed(wave: np.ndarray, factor: float) -> np.ndarray:
    n = max(2, int(round(len(wave) / factor)))
    return np.interp(np.linspace(0, len(wave) - 1, n), np.arange(len(wave)), wave).astype(np.float32)


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
    import soundfile as sf

    out_sr = int(rng.choice([44100, 48000]))
    x = _resample(wave, sr, out_sr)
    x = x / max(1e-6, float(np.abs(x).max()))
    from scipy.signal import fftconvolve

    wet = fftconvolve(x, room_impulse(out_sr, rng))[: len(x) + int(0.3 * out_sr)].astype(np.float32)
    pre, post = rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0)
    a, b = int(pre * out_sr), int(post * out_sr)
    sig = np.concatenate([np.zeros(a, np.float32), wet, np.zeros(b, np.float32)])
    speech = np.zeros(len(sig), bool)
    speech[a : a + len(x)] = True
    babble_sr = [_resample(w, 16000, out_sr) for w in babble]
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


# -------------------------------------------------------------------------------------------- build


def _write_set(root: Path, name: str, items: list[dict], seed: int) -> None:
    d = root / name
    (d / "manifest.json").write_text(
        json.dumps(
            {"set": name, "version": VERSION, "seed": seed, "halves": list(HALVES), "items": items}, indent=1
        )
        + "\n"
    )


def _digit_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    return rng.permutation(np.arange(n) % 10)


def build_image_sets(root: Path, per_set: dict[str, int], seed: int, sets=IMAGE_SETS) -> None:
    fonts = available_fonts()
    if not fonts:
        raise RuntimeError("no usable font found (install the fonts-* packages of scripts/setup.sh)")
    for name in sets:
        n = per_set[name]
        if n <= 0:
            continue
        rng = _rng(seed, name)
        d = root / name
        for h in HALVES:
            (d / h).mkdir(parents=True, exist_ok=True)
        labels = _digit_labels(n, rng)
        items = []
        for i, digit in enumerate(labels.tolist()):
            r = _rng(seed, name, i)
            half = half_of(i)
            if name == "handwriting":
                font = fonts[i % len(fonts)] if i < len(fonts) else fonts[int(r.integers(len(fonts)))]
                im = handwriting_image(font, digit, r)
                rel = f"{half}/{i:05d}_{digit}.png"
                im.save(d / rel, optimize=False)
                src = {"font": f"{font.family} {font.style}", "kind": font.kind}
            elif name == "canvas":
                rel = f"{half}/{i:05d}_{digit}.png"
                canvas_image(digit, r).save(d / rel)
                src = {"kind": "canvas strokes"}
            else:  # photos: half font digits, half canvas-like strokes, written in ink on paper
                if r.random() < 0.5:
                    font = fonts[int(r.integers(len(fonts)))]
                    ink = render_font_digit(font, digit, r, px=200)
                    src = {"font": f"{font.family} {font.style}", "kind": font.kind}
                else:
                    ink = stroke_mask(digit, r, size=256, width=r.uniform(8, 24), fill_range=(0.9, 0.95))
                    ys, xs = np.nonzero(ink > 0.2)
                    ink = ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
                    src = {"kind": "strokes"}
                rel = f"{half}/{i:05d}_{digit}.jpg"
                (d / rel).write_bytes(photo_image(ink, r))
            items.append({"file": rel, "label": digit, "half": half, **src})
        _write_set(root, name, items, seed)


def build_audio_sets(root: Path, per_set: dict[str, int], seed: int, sets=AUDIO_SETS) -> None:
    import soundfile as sf

    for name in sets:
        n = per_set[name]
        if n <= 0:
            continue
        rng = _rng(seed, name)
        labels = _digit_labels(n, rng)
        jobs, params = [], []
        for i, digit in enumerate(labels.tolist()):
            r = _rng(seed, name, i)
            voice = FESTIVAL_VOICES[(i // 2) % len(FESTIVAL_VOICES)]
            stretch = float(r.uniform(0.8, 1.3))
            jobs.append((voice, CLASSES[digit], stretch))
            params.append((r, float(r.uniform(0.92, 1.08))))
        with tempfile.TemporaryDirectory() as tmp:
            waves = synthesize_festival(jobs, Path(tmp))
            babble = []
            if name == "voices_room":  # other words by the same engines, as background talkers
                bj = [(v, w, 1.0) for v in FESTIVAL_VOICES for w in BABBLE_WORDS]
                (Path(tmp) / "babble").mkdir()
                babble = [
                    _resample(_trim(w, s), s, 16000) for w, s in synthesize_festival(bj, Path(tmp) / "babble")
                ]
        d = root / name
        for h in HALVES:
            (d / h).mkdir(parents=True, exist_ok=True)
        items = []
        for i, ((voice, word, stretch), (wave, sr), (r, pitch)) in enumerate(
            zip(jobs, waves, params, strict=True)
        ):
            digit = CLASSES.index(word)
            half = half_of(i)
            w = _pitch_speed(_trim(wave, sr), pitch)  # resampling shifts pitch (and rate) a little
            src = {
                "voice": f"festival:{voice}",
                "duration_stretch": round(stretch, 3),
                "pitch": round(pitch, 3),
            }
            if name == "voices":
                rel = f"{half}/{i:05d}_{digit}.wav"
                pad = np.zeros(int(r.uniform(0.02, 0.15) * sr), np.float32)
                sf.write(
                    d / rel,
                    np.concatenate([pad, w, pad]) * 0.9 / max(1e-6, float(np.abs(w).max())),
                    sr,
                    subtype="PCM_16",
                )
            else:
                data, info = room_recording(w, sr, r, babble)
                rel = f"{half}/{i:05d}_{digit}.{info['format']}"
                (d / rel).write_bytes(data)
                src.update(info)
            items.append({"file": rel, "label": digit, "half": half, **src})
        _write_set(root, name, items, seed)


def manifest(root: Path, name: str) -> dict | None:
    path = Path(root) / name / MANIFEST
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return None


def build_heldout(
    root: Path = HELDOUT_DIR,
    per_set: dict[str, int] | None = None,
    seed: int = 0,
    sets: tuple[str, ...] = SETS,
    force: bool = False,
) -> Path:
    """Build the sets that are missing (or all with force) into root/<set>/{val,test}/ + manifest.json."""
    root = Path(root)
    sizes = dict(DEFAULT_PER_SET)
    sizes.update(per_set or {})
    todo = []
    for name in sets:
        m = manifest(root, name)
        if (
            force
            or m is None
            or m.get("seed") != seed
            or m.get("version") != VERSION
            or len(m.get("items", [])) != sizes[name]
        ):
            if (root / name).exists():
                shutil.rmtree(root / name)
            todo.append(name)
    root.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    image_sets = tuple(s for s in todo if s in IMAGE_SETS)
    audio_sets = tuple(s for s in todo if s in AUDIO_SETS)
    if image_sets:
        build_image_sets(root, sizes, seed, image_sets)
    if audio_sets:
        build_audio_sets(root, sizes, seed, audio_sets)
    if todo:
        print(f"[heldout] built {', '.join(todo)} in {root} ({time.time() - t0:.0f} s)", flush=True)
    return root


def items(root: Path, name: str, half: str | None = "test") -> list[tuple[Path, int, dict]]:
    m = manifest(root, name)
    if m is None:
        raise FileNotFoundError(
            f"{Path(root) / name / MANIFEST} not found: run `python -m aecf heldout build`."
        )
    return [
        (Path(root) / name / it["file"], int(it["label"]), it)
        for it in m["items"]
        if half is None or it["half"] == half
    ]


def heldout_accuracy(
    model,
    root: Path = HELDOUT_DIR,
    half: str = "test",
    sets: tuple[str, ...] = SETS,
    details: dict | None = None,
) -> dict[str, float]:
    """Accuracy of each set's half through `model.predict` (one modality at a time, its expert's argmax).

    An input the preprocessing refuses (InputError) counts as wrong. `details` (a dict) receives
    per-source accuracies and the refusals."""
    from aecf.errors import InputError

    out = {}
    for name in sets:
        modality = "image" if name in IMAGE_SETS else "audio"
        correct, total, refused = 0, 0, 0
        by_src: dict[str, list[int]] = {}
        for path, label, info in items(root, name, half):
            try:
                r = model.predict(**{modality: path}, mc_samples=2)
                ok = int(int(np.argmax(r.experts[modality])) == label)
            except InputError:
                ok, refused = 0, refused + 1
            correct += ok
            total += 1
            key = info.get("voice") or info.get("kind") or "all"
            by_src.setdefault(key, [0, 0])
            by_src[key][0] += ok
            by_src[key][1] += 1
        out[name] = correct / max(1, total)
        if details is not None:
            details[name] = {
                "n": total,
                "refused": refused,
                "by_source": {k: round(c / t, 4) for k, (c, t) in sorted(by_src.items())},
            }
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf heldout build", description=__doc__.splitlines()[0])
    p.add_argument("command", nargs="?", default="build", choices=("build",))
    p.add_argument("--out", type=Path, default=HELDOUT_DIR)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-set", type=int, default=None, help="items per set (default: the full sizes)")
    p.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    p.add_argument("--force", action="store_true", help="rebuild even if present")
    args = p.parse_args(argv)
    per = {s: args.per_set for s in SETS} if args.per_set else None
    try:
        build_heldout(args.out, per, args.seed, tuple(args.sets), force=args.force)
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for name in args.sets:
        m = manifest(args.out, name)
        n = {h: sum(it["half"] == h for it in m["items"]) for h in HALVES} if m else {}
        print(f"  {name:<12} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
