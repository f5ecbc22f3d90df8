"""The held-out image renderers: digits typeset in Debian font families (handwriting and ordinary, like a
scan), digits drawn as scripted strokes (like the app's canvas), and either of them written on paper and
photographed."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont
from scipy import ndimage

CANVAS_SIZE = 196  # pages/explore.py: st_canvas(width=196, height=196, stroke_width=18, white on black)

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
        if digits_ok(path):
            seen[key] = Font(path, family, style, kind)
    return tuple(sorted(seen.values(), key=lambda f: (f.kind, f.family, f.style)))


def _glyph(path: str, ch: str, size: int = 48) -> np.ndarray:
    font = ImageFont.truetype(path, size)
    img = Image.new("L", (size * 3, size * 3), 0)
    ImageDraw.Draw(img).text((size, size // 2), ch, fill=255, font=font)
    return np.asarray(img) > 127


def digits_ok(path: str) -> bool:
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
