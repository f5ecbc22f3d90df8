"""Real inputs -> what the frozen encoders were trained on.

Images: any file, size or mode -> float32 [28, 28] in [0, 1], white ink on black, MNIST style. MNIST
itself was made by size-normalising *bilevel* NIST digits into a 20x20 box with anti-aliasing and
centring them by mass in 28x28 (LeCun et al.); we do the same to a binary ink mask:

    decode (size cap, EXIF rotation, alpha, 16-bit, palette, CMYK) -> grayscale working image
    -> polarity from the border (light paper -> dark ink) -> remove the paper background
    (morphological closing/opening at a large scale, for uneven light in photos)
    -> Otsu threshold -> drop specks far from the digit -> normalise stroke width
    -> crop to the ink -> fit into 20x20 keeping aspect -> centre by mass in 28x28.

Audio: any file soundfile or ffmpeg can decode -> float32 mono 16 kHz, silence trimmed by an energy
VAD, peak-normalised like the benchmark clips. Inputs longer than MAX_AUDIO_SECONDS are refused
(InputError) rather than cropped: a recording that long holds more than one spoken digit, and
guessing which part was meant would silently hide the problem.

Captions: Unicode NFKC, control characters removed, whitespace collapsed. Long text is fine: the
tokenizer truncates it to the text tower's context. `known_caption_words` says which words of a caption the
digits caption tower learned (`caption_vocabulary`: the tokens of every caption it was trained on).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import unicodedata
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageOps, UnidentifiedImageError
from scipy import ndimage

from aecf.constants import NUM_CLASSES, SAMPLE_RATE
from aecf.data import captions as grammar
from aecf.errors import InputError

# ---------------------------------------------------------------------------------------------- image

MAX_IMAGE_PIXELS = 50_000_000
# Pillow warns above this and refuses above twice this; we refuse above it ourselves (with a message).
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
MIN_IMAGE_SIDE = 8
WORK_LONG_SIDE = (256, 512)  # working resolution: small inputs are upscaled, big ones reduced
MIN_CONTRAST = 0.08  # p99 - p1 of the grayscale image below this: nothing is written on it
NOISE_SIGMAS = 8.0  # ink must rise this many background sigmas above the paper
MNIST_BOX = 20
MNIST_SIZE = 28
# stroke width relative to the digit's longest side, as in MNIST (about 2.5 px in a 20 px box)
STROKE_TARGET = 0.12
STROKE_RANGE = (0.07, 0.26)
INK_THRESHOLD_RANGE = (0.2, 0.7)  # Otsu's threshold on the [0, 1] ink map, clipped to this
# in a photo, at least this: a shadow's soft edge left over once the paper is flattened (ink ~0.3 of the
# digit's) must not be the class Otsu splits off from the paper, nor merge with the digit
PHOTO_MIN_THRESHOLD = 0.35

ImageSource = str | os.PathLike | bytes | bytearray | memoryview | Image.Image | np.ndarray


def _read_bytes(source) -> bytes | None:
    """Bytes of a path / bytes / file-like source (an app's uploaded file too); None for arrays."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        if not path.is_file():
            raise InputError(f"File {path} not found.")
        return path.read_bytes()
    if hasattr(source, "getvalue"):
        return bytes(source.getvalue())
    if hasattr(source, "read"):
        return bytes(source.read())
    return None


def _open_image(data: bytes) -> Image.Image:
    if not data:
        raise InputError("The image file is empty.")
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
            w, h = im.size
            if w * h > MAX_IMAGE_PIXELS:
                raise InputError(
                    f"The image is {w}x{h} pixels ({w * h / 1e6:.0f} megapixels); the limit is "
                    f"{MAX_IMAGE_PIXELS / 1e6:.0f} megapixels. Please send a smaller image."
                )
            if im.format == "JPEG" and max(w, h) > 2 * WORK_LONG_SIDE[1]:
                im.draft(im.mode, (2 * WORK_LONG_SIDE[1],) * 2)  # decode a 12 MP photo at 1/4 scale
            im = ImageOps.exif_transpose(im)  # phone photos carry their rotation in EXIF
            im.load()
        except InputError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
            raise InputError(
                f"The image is too large (over {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels). "
                "Please send a smaller image."
            ) from e
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as e:
            raise InputError(
                "This file is not a readable image (corrupt, truncated or an unsupported format). "
                "Please upload a PNG or JPEG."
            ) from e
    return im


def _shrink(im: Image.Image) -> Image.Image:
    """Box-reduce big images in PIL before they become float arrays (a 48 MP RGB image would need
    over half a GB as float32); the working resolution is far below this anyway."""
    factor = max(im.size) // (2 * WORK_LONG_SIDE[1])
    if factor < 2:
        return im
    if im.mode == "P" or im.mode not in ("1", "L", "LA", "RGB", "RGBA", "I", "F", "I;16", "CMYK"):
        im = im.convert(
            "RGBA" if (im.mode in ("P", "PA", "La", "RGBa") or "transparency" in im.info) else "RGB"
        )
    try:
        return im.reduce(factor)
    except (ValueError, NotImplementedError):
        return im.convert("RGBA" if "A" in im.mode else "RGB").reduce(factor)


def _pil_to_arrays(im: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """PIL image of any mode -> (luminance float32 [H,W] in [0,1], alpha [H,W] in [0,1] or None)."""
    mode = im.mode
    if mode.startswith("I;16"):
        return np.asarray(im, dtype=np.float32) / 65535.0, None
    if mode == "I":
        a = np.asarray(im, dtype=np.float32)
        return np.clip(a / (65535.0 if a.max() > 255 else 255.0), 0, 1), None
    if mode == "F":
        return _normalise_float(np.asarray(im, dtype=np.float32)), None
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in im.info)
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
        return _luminance(rgba[..., :3]), rgba[..., 3]
    if mode in ("1", "L"):
        return np.asarray(im.convert("L"), dtype=np.float32) / 255.0, None
    return _luminance(np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0), None


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return (rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)).astype(np.float32)


def _normalise_float(a: np.ndarray) -> np.ndarray:
    if not np.isfinite(a).all():
        raise InputError("The image contains invalid (NaN or infinite) pixel values.")
    lo, hi = float(a.min()), float(a.max())
    if lo >= 0 and hi <= 1:
        return a.astype(np.float32)
    if lo >= 0 and hi <= 255:
        return (a / 255.0).astype(np.float32)
    return ((a - lo) / max(hi - lo, 1e-12)).astype(np.float32)


def _array_to_arrays(a: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """ndarray [H,W], [H,W,C] (C in 1,3,4) or [1,H,W] of uint8/uint16/bool/float -> (gray, alpha)."""
    a = np.asarray(a)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[-1] not in (3, 4)):
        raise InputError(f"An image array must be [H, W], [H, W, 3] or [H, W, 4]; got shape {a.shape}.")
    if a.dtype == np.bool_:
        f = a.astype(np.float32)
    elif a.dtype == np.uint8:
        f = a.astype(np.float32) / 255.0
    elif a.dtype == np.uint16:
        f = a.astype(np.float32) / 65535.0
    elif np.issubdtype(a.dtype, np.number):
        f = _normalise_float(a.astype(np.float32))
    else:
        raise InputError(f"Unsupported image array type {a.dtype}.")
    if f.ndim == 2:
        return f, None
    return _luminance(f[..., :3]), (f[..., 3] if f.shape[-1] == 4 else None)


def _composite(gray: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Flatten transparency. A scan with a transparent background goes over white paper; light
    strokes on a transparent canvas (a drawing widget) go over black, or they would vanish."""
    if alpha is None or alpha.min() > 0.99:
        return gray
    opaque = alpha > 0.5
    light_strokes = opaque.mean() < 0.5 and opaque.any() and float(np.median(gray[opaque])) > 0.5
    background = 0.0 if light_strokes else 1.0
    return (gray * alpha + background * (1.0 - alpha)).astype(np.float32)


def _resize(a: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    h, w = size_hw
    if (h, w) == a.shape:
        return a
    shrink = h < a.shape[0] or w < a.shape[1]
    method = Image.Resampling.BOX if shrink else Image.Resampling.BILINEAR
    return np.asarray(
        Image.fromarray(a.astype(np.float32), mode="F").resize((w, h), method), dtype=np.float32
    )


def _working_image(gray: np.ndarray) -> np.ndarray:
    h, w = gray.shape
    long_side = max(h, w)
    lo, hi = WORK_LONG_SIDE
    target = min(max(long_side, lo), hi)
    if target == long_side:
        return gray
    s = target / long_side
    return _resize(gray, (max(1, round(h * s)), max(1, round(w * s))))


def _border(a: np.ndarray) -> np.ndarray:
    b = max(2, round(0.04 * min(a.shape)))
    return np.concatenate([a[:b].ravel(), a[-b:].ravel(), a[:, :b].ravel(), a[:, -b:].ravel()])


def _illumination(gray: np.ndarray, dark_ink: bool, iterations: int = 3) -> np.ndarray:
    """Smooth paper brightness: a quadratic surface fitted to the paper, ignoring the ink (robust
    refits that drop pixels on the ink side of the fit). No border artefacts, unlike morphology."""
    h, w = gray.shape
    step = max(1, max(h, w) // 128)
    ys, xs = np.mgrid[0:h:step, 0:w:step]
    v = gray[::step, ::step].ravel().astype(np.float64)
    y, x = ys.ravel() / h - 0.5, xs.ravel() / w - 0.5
    basis = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    keep = np.ones(len(v), bool)
    for _ in range(iterations):
        coef, *_ = np.linalg.lstsq(basis[keep], v[keep], rcond=None)
        resid = v - basis @ coef
        sigma = 1.4826 * np.median(np.abs(resid[keep] - np.median(resid[keep]))) + 1e-6
        keep = resid > -2.5 * sigma if dark_ink else resid < 2.5 * sigma
    gy, gx = np.mgrid[0:h, 0:w]
    gy, gx = gy / h - 0.5, gx / w - 0.5
    full = np.stack([np.ones_like(gx), gx, gy, gx * gx, gx * gy, gy * gy], axis=-1) @ coef
    return full.astype(np.float32)


def _flatten_background(gray: np.ndarray, dark_ink: bool) -> np.ndarray:
    """Ink strength with the paper removed: smooth illumination first (quadratic fit), then what is
    left of local shading (a morphological closing/opening wider than any stroke, on the flattened
    image). Dark ink on paper is a reflectance, so it is divided out; light ink on a dark ground
    is subtracted (dividing by a near-black ground would blow up its noise)."""
    k = max(15, max(gray.shape) // 6) | 1
    illumination = _illumination(gray, dark_ink)
    if dark_ink:  # closing erases dark strokes narrower than k and keeps the paper
        flat = gray / np.maximum(illumination, 1e-3)
        local = ndimage.gaussian_filter(
            ndimage.grey_closing(flat, size=(k, k), mode="nearest"), k / 4, mode="nearest"
        )
        return 1.0 - flat / np.maximum(local, 1e-3)
    flat = gray - illumination
    local = ndimage.gaussian_filter(
        ndimage.grey_opening(flat, size=(k, k), mode="nearest"), k / 4, mode="nearest"
    )
    return flat - local


def _dark_ink(gray: np.ndarray) -> bool:
    """Polarity of a photo from the ink itself, not the border (a shadow or a vignette over part of the
    border puts its median near the dark end though the paper is light): against a local median
    background (a window wider than bold strokes), dark ink is a far deeper dip than anything on
    the paper rises, and light ink the other way round."""
    h, w = gray.shape
    f = max(1, max(h, w) // 128)
    hs, ws = h // f, w // f
    small = gray[: hs * f, : ws * f].reshape(hs, f, ws, f).mean((1, 3))
    bg = ndimage.median_filter(small, size=max(5, max(hs, ws) // 3) | 1, mode="nearest")
    bg = np.asarray(
        Image.fromarray(bg.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR)
    )
    d = ndimage.gaussian_filter(gray - bg, 1.0)
    lo, hi = np.percentile(d, [0.05, 99.95])
    return bool(-lo > hi)


def _uniform_border(gray: np.ndarray) -> bool:
    """A scan or a drawing (even paper all round the border), not a photo with uneven light."""
    lo, hi = np.percentile(gray, [1, 99])
    b5, b95 = np.percentile(_border(gray), [5, 95])
    return bool((b95 - b5) < 0.1 * (hi - lo))


def _ink_map(gray: np.ndarray) -> np.ndarray:
    """Grayscale working image -> ink strength in [0, 1] (1 = ink), background removed."""
    lo, hi = np.percentile(gray, [1, 99])
    if hi - lo < MIN_CONTRAST:
        raise InputError("No digit found: the image is blank or has almost no contrast.")
    border = _border(gray)
    paper = float(np.median(border))
    light_paper = (paper - lo) > (hi - paper)  # the border is closer to the bright end: dark ink
    uniform = _uniform_border(gray)
    if uniform:  # a scan or a drawing: the border tells the paper's level
        ink = 1.0 - gray / max(paper, 1e-3) if light_paper else gray - paper
    else:  # a photo: uneven light. A shadow over the border can make light paper look dark there, so
        # unless the border is clearly light paper (a bold digit may fill the rest), the ink itself
        # tells the polarity
        clearly_light = (paper - lo) - (hi - paper) > 0.5 * (hi - lo)
        ink = _flatten_background(gray, dark_ink=clearly_light or _dark_ink(gray))
    ink = np.clip(ink, 0.0, None)
    # Strokes are spatially coherent, sensor/JPEG noise is not: after a light blur a digit's ink
    # stands far above the background's spread (robust sigma); on a blank sheet nothing does.
    smooth = ndimage.gaussian_filter(ink, 1.0)
    level = float(np.median(smooth))
    sigma = 1.4826 * float(np.median(np.abs(smooth - level)))
    edge = _border(smooth)
    if float(np.median(edge)) < level:  # a bold digit filling most of a tight crop
        level = float(np.median(edge))
        sigma = 1.4826 * float(np.median(np.abs(edge - level)))
    peak = float(smooth.max())
    if peak - level < max(MIN_CONTRAST, NOISE_SIGMAS * sigma):
        raise InputError("No digit found: the image is blank or has almost no contrast.")
    return np.clip((ink - level) / (peak - level), 0.0, 1.0).astype(np.float32)


def _otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins, range=(0.0, 1.0))
    p = hist.astype(np.float64) / max(hist.sum(), 1)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(p)
    mu = np.cumsum(p * centres)
    w1 = 1.0 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mu[-1] * w0 - mu) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(centres[int(np.argmax(between))])


def _digit_mask(ink: np.ndarray, min_threshold: float = INK_THRESHOLD_RANGE[0]) -> np.ndarray:
    """Threshold, then keep the main ink component and the pieces that belong to it."""
    t = float(np.clip(_otsu(ink), max(min_threshold, INK_THRESHOLD_RANGE[0]), INK_THRESHOLD_RANGE[1]))
    mask = ink > t
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), bool))
    if n == 0:
        raise InputError("No digit found in the image.")
    areas = np.bincount(labels.ravel())[1:]
    boxes = ndimage.find_objects(labels)
    h, w = mask.shape

    def frame_like(sl) -> bool:  # a thin shadow or paper edge running along the image border
        (y, x) = sl
        along_h = (
            (y.start == 0 or y.stop == h) and x.stop - x.start >= 0.6 * w and y.stop - y.start <= 0.25 * h
        )
        along_v = (
            (x.start == 0 or x.stop == w) and y.stop - y.start >= 0.6 * h and x.stop - x.start <= 0.25 * w
        )
        return along_h or along_v

    def touches_border(sl) -> bool:
        return sl[0].start == 0 or sl[1].start == 0 or sl[0].stop == h or sl[1].stop == w

    order = [int(i) for i in np.argsort(-areas)]
    inner = [i for i in order if not frame_like(boxes[i])]
    if not inner:
        raise InputError("No digit found: only shadows or edges along the border of the image.")
    large = [i for i in inner if areas[i] >= 2e-4 * h * w]
    main = large[0] if large else inner[0]
    my0, my1 = boxes[main][0].start, boxes[main][0].stop
    mx0, mx1 = boxes[main][1].start, boxes[main][1].stop
    size = max(my1 - my0, mx1 - mx0)
    keep = np.zeros(n + 1, bool)
    keep[main + 1] = True
    for i in range(n):
        if i == main or areas[i] < max(3, 0.05 * areas[main]) or frame_like(boxes[i]):
            continue
        sy, sx = boxes[i]
        gap = max(my0 - sy.stop, sy.start - my1, mx0 - sx.stop, sx.start - mx1, 0)
        if gap > 0 and touches_border(boxes[i]) and not touches_border(boxes[main]):
            continue  # something at the edge of the photo, apart from the digit
        if gap <= 0.25 * size or (gap <= 0.5 * size and areas[i] >= 0.3 * areas[main]):
            keep[i + 1] = True
    return keep[labels]


def _normalise_stroke(mask: np.ndarray) -> np.ndarray:
    """Thicken hairlines (pen on a big photo) and thin marker blobs towards MNIST's stroke width."""
    ys, xs = np.nonzero(mask)
    size = max(ys.max() - ys.min() + 1, xs.max() - xs.min() + 1)
    width = 4.0 * float(ndimage.distance_transform_edt(mask)[mask].mean()) - 1.0
    rel = width / size
    if rel < STROKE_RANGE[0]:
        r = max(1, round((STROKE_TARGET * size - width) / 2))
        return ndimage.binary_dilation(mask, structure=_disk(r))
    if rel > STROKE_RANGE[1]:
        r = max(1, round((width - STROKE_TARGET * 1.5 * size) / 2))
        thinner = ndimage.binary_erosion(mask, structure=_disk(r))
        if thinner.sum() >= 0.3 * mask.sum():
            return thinner
    return mask


def _disk(r: int) -> np.ndarray:
    y, x = np.ogrid[-r : r + 1, -r : r + 1]
    return x * x + y * y <= r * r + r


def mnist_frame(mask: np.ndarray) -> np.ndarray:
    """Binary/gray digit (ink high) -> [28, 28]: crop, fit into 20x20 keeping aspect, centre by mass."""
    ys, xs = np.nonzero(mask > 0)
    crop = mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1].astype(np.float32)
    h, w = crop.shape
    s = MNIST_BOX / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    patch = np.clip(_resize(crop, (nh, nw)), 0.0, 1.0)
    cy, cx = ndimage.center_of_mass(patch)
    top = int(np.clip(round(MNIST_SIZE / 2 - 0.5 - cy), 0, MNIST_SIZE - nh))
    left = int(np.clip(round(MNIST_SIZE / 2 - 0.5 - cx), 0, MNIST_SIZE - nw))
    out = np.zeros((MNIST_SIZE, MNIST_SIZE), np.float32)
    out[top : top + nh, left : left + nw] = patch
    return out


def _already_mnist(gray: np.ndarray) -> np.ndarray | None:
    """A 28x28 digit already in MNIST's frame (ink within a 20x20 box, clean margin) is kept as is,
    inverted if it is dark on light: re-thresholding it would only lose its anti-aliasing."""
    if gray.shape != (MNIST_SIZE, MNIST_SIZE):
        return None
    ink = gray if np.median(_border(gray)) < 0.5 else 1.0 - gray
    margin = _border(ink)
    if np.median(margin) > 0.05 or (margin > 0.1).mean() > 0.05 or ink.max() < 0.5:
        return None
    ys, xs = np.nonzero(ink > 0.1)
    if max(np.ptp(ys), np.ptp(xs)) + 1 > MNIST_BOX:
        return None
    return np.clip(ink, 0.0, 1.0).astype(np.float32)


def preprocess_image(source: ImageSource) -> np.ndarray:
    """An image of one handwritten digit -> float32 [28, 28] in [0, 1], white ink on black.

    Accepts a path, bytes, a file-like object, a PIL image or an ndarray ([H,W], [H,W,3|4];
    uint8, uint16, bool or float). Raises InputError for unreadable, oversized or blank images.
    """
    if isinstance(source, Image.Image):
        if source.width * source.height > MAX_IMAGE_PIXELS:
            raise InputError(f"The image is larger than {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.")
        gray, alpha = _pil_to_arrays(_shrink(source))
    elif isinstance(source, np.ndarray):
        if source.size > MAX_IMAGE_PIXELS * 4:
            raise InputError(f"The image is larger than {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.")
        gray, alpha = _array_to_arrays(source)
    else:
        data = _read_bytes(source)
        if data is None:
            raise InputError(f"Cannot read an image from a {type(source).__name__}.")
        gray, alpha = _pil_to_arrays(_shrink(_open_image(data)))
    if gray.shape[0] * gray.shape[1] > MAX_IMAGE_PIXELS:
        raise InputError(f"The image is larger than {MAX_IMAGE_PIXELS / 1e6:.0f} megapixels.")
    if min(gray.shape) < MIN_IMAGE_SIDE:
        raise InputError(f"The image is too small ({gray.shape[1]}x{gray.shape[0]} pixels).")
    if not np.isfinite(gray).all():
        raise InputError("The image contains invalid (NaN or infinite) pixel values.")
    gray = _composite(gray, alpha)
    framed = _already_mnist(gray)
    if framed is not None:
        return framed
    work = _working_image(gray)
    floor = INK_THRESHOLD_RANGE[0] if _uniform_border(work) else PHOTO_MIN_THRESHOLD
    mask = _normalise_stroke(_digit_mask(_ink_map(work), floor))
    return mnist_frame(mask)


# ---------------------------------------------------------------------------------------------- audio

MAX_AUDIO_SECONDS = 10.0
MAX_AUDIO_BYTES = 50_000_000
MIN_VOICED_SECONDS = 0.12  # a spoken digit lasts 0.2 s or more
VAD_FRAME, VAD_HOP = 400, 160  # 25 ms / 10 ms at 16 kHz
VAD_MARGIN_SECONDS = 0.05
# loudest vs quietest-10 % frames (dB). Steady noise spreads ~1-2 dB; a word in a noisy room at 0 dB SNR
# 4-8 dB (the held-out room recordings: 10 dB refused 7 % of them as "no speech").
MIN_CONTRAST_DB = 5.0
SHORT_CLIP_SECONDS = 1.5  # a lone spoken digit; below this, a clip without contrast is kept whole
PEAK = 0.9  # the benchmark clips are peak-normalised to this
MIN_SNR_SECONDS = 1.0  # `recording_snr_db` measures only recordings this long (a word with room around it)
# Explore tells a recording whose word is less than this far above its background that the audio tower is less
# sure of it: the held-out rooms (0-20 dB SNR) read 0.77 where clean held-out voices read 0.97
NOISY_RECORDING_DB = 20.0
# `separate_sounds`: a sound is >= SOUND_MIN_S of frames more than SOUND_ABOVE_DB over the recording's floor (its
# quietest 10 %) and within SOUND_RANGE_DB of its peak; sounds closer than SOUND_GAP_S are one (a word's own stops
# and closures are shorter). Chosen on val2's 2,000 recordings: no clean held-out word and 1 of 673 steady-noise
# rooms count two; 51 % of the rooms with other talkers do.
SOUND_ABOVE_DB, SOUND_RANGE_DB = 10.0, 30.0
SOUND_GAP_S, SOUND_MIN_S = 0.15, 0.08


def _decode_audio_bytes(data: bytes) -> tuple[np.ndarray, int]:
    try:
        wave, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        return wave, int(sr)
    except Exception:  # libsndfile does not know the container: let ffmpeg try (webm, m4a, ...)
        pass
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise InputError(
            "This audio format cannot be read (WAV, FLAC, OGG and MP3 are supported; install ffmpeg "
            "for webm/m4a), or the file is corrupt."
        )
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "input"
        src.write_bytes(data)
        proc = subprocess.run(
            [
                ffmpeg,
                "-nostdin",
                "-v",
                "error",
                "-i",
                str(src),
                "-t",
                str(MAX_AUDIO_SECONDS + 1),
                "-ac",
                "1",
                "-ar",
                str(SAMPLE_RATE),
                "-f",
                "wav",
                "-",
            ],
            capture_output=True,
            timeout=60,
            check=False,
        )
    if proc.returncode != 0 or not proc.stdout:
        raise InputError("This file is not readable audio (corrupt or an unsupported format).")
    try:
        wave, sr = sf.read(io.BytesIO(proc.stdout), dtype="float32", always_2d=True)
    except Exception as e:
        raise InputError("This file is not readable audio (corrupt or an unsupported format).") from e
    return wave, int(sr)


def _frame_db(wave: np.ndarray) -> np.ndarray:
    if len(wave) < VAD_FRAME:
        wave = np.pad(wave, (0, VAD_FRAME - len(wave)))
    n = 1 + (len(wave) - VAD_FRAME) // VAD_HOP
    idx = np.arange(VAD_FRAME)[None, :] + VAD_HOP * np.arange(n)[:, None]
    rms = np.sqrt(np.mean(wave[idx].astype(np.float64) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-8))


def _check_long_enough(seconds: float) -> None:
    if seconds < MIN_VOICED_SECONDS:
        raise InputError(
            f"The sound is too short to be a spoken word ({1000 * seconds:.0f} ms of sound; a digit takes at "
            f"least {1000 * MIN_VOICED_SECONDS:.0f} ms). Please say one digit clearly."
        )


def trim_bounds(wave: np.ndarray) -> tuple[int, int]:
    """Energy VAD: (start, stop) of first..last frame within 35 dB of the loudest and 12 dB above the noise
    floor. Raises InputError for silence, steady noise only, or a sound too short to be a word."""
    if float(np.max(np.abs(wave), initial=0.0)) < 1e-4:
        raise InputError("The recording is silent. Please say a digit (zero to nine) clearly.")
    db = _frame_db(wave)
    floor, peak = float(np.percentile(db, 10)), float(db.max())
    if peak - floor < MIN_CONTRAST_DB:
        # No energy contrast. A long recording like that is noise; a short one is a word already cut to
        # its voiced part (our samples, a trimmed clip) or a word in heavy noise: keep it whole.
        if len(wave) / SAMPLE_RATE > SHORT_CLIP_SECONDS:
            raise InputError("No speech found: the recording is only silence or steady noise.")
        _check_long_enough(len(wave) / SAMPLE_RATE)
        return 0, len(wave)
    # The 10th percentile is a noise floor only when the recording has some silence; in a clip that is
    # all word (peak - floor small) every frame within 20 dB of the peak is speech.
    voiced = db > max(peak - 35.0, min(floor + 12.0, peak - 20.0))
    # n frames at hop h, each frame_len long, overlap a sound of about n*h - (frame_len - h) samples
    _check_long_enough(max(0, int(voiced.sum()) * VAD_HOP - (VAD_FRAME - VAD_HOP)) / SAMPLE_RATE)
    frames = np.nonzero(voiced)[0]
    margin = int(VAD_MARGIN_SECONDS * SAMPLE_RATE)
    start = max(0, frames[0] * VAD_HOP - margin)
    stop = min(len(wave), frames[-1] * VAD_HOP + VAD_FRAME + margin)
    return int(start), int(stop)


def trim_silence(wave: np.ndarray) -> np.ndarray:
    """The recording cut to its word (`trim_bounds`)."""
    start, stop = trim_bounds(wave)
    return wave[start:stop]


def recording_snr_db(wave: np.ndarray) -> float | None:
    """The word's power over the background's in dB, for a recording (before the trim) of at least
    MIN_SNR_SECONDS: the loudest 30 % of its 25 ms frames against its quietest 20 %. None for a shorter clip:
    that is most likely all word (our samples), whose quiet frames are the word's own edges. On the held-out
    rooms' val half it reads a median 6 / 13 / 17 dB at 0-7 / 7-14 / 14-20 dB; talkers are not steady noise,
    and a babble room with silence between the talkers reads as clean."""
    if len(wave) < MIN_SNR_SECONDS * SAMPLE_RATE:
        return None
    db = _frame_db(wave)
    power = 10.0 ** (db / 10.0)
    quiet = float(power[db <= np.percentile(db, 20)].mean())
    loud = float(power[db >= np.percentile(db, 70)].mean())
    return 10.0 * float(np.log10(max(loud - quiet, 1e-3 * quiet) / max(quiet, 1e-20)))


def separate_sounds(wave: np.ndarray) -> int:
    """How many separate sounds a 16 kHz recording holds (see SOUND_ABOVE_DB): 1 for a lone word; 2 or more when
    other words or talkers stand apart from it in time. A sound under SOUND_MIN_S (a click) is not counted."""
    db = _frame_db(wave)
    loud = db > max(float(db.max()) - SOUND_RANGE_DB, float(np.percentile(db, 10)) + SOUND_ABOVE_DB)
    gap, shortest = SOUND_GAP_S * SAMPLE_RATE / VAD_HOP, SOUND_MIN_S * SAMPLE_RATE / VAD_HOP
    edges = np.flatnonzero(np.diff(np.concatenate([[0], loud.astype(np.int8), [0]])))
    sounds: list[list[int]] = []
    for start, stop in zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True):
        if sounds and start - sounds[-1][1] < gap:
            sounds[-1][1] = stop
        else:
            sounds.append([start, stop])
    return sum(stop - start >= shortest for start, stop in sounds)


# `not_speech`: does a recording (its sound, as `trim_bounds` cuts it) sound like a spoken word, or like music,
# tones, a beat, noise? Simple measures on 40 ms frames every 10 ms: held pitch (notes), held spectrum, the longest
# unbroken voice, and a beat (a flux envelope that repeats at a steady period, or onsets evenly spaced). Each
# threshold is a margin beyond the most extreme spoken digit of the val half of `benchmarks/speech_check.py` (1.4x the
# largest, or half the smallest): spoken digits by the benchmark's train and val voices, the audio tower's extra
# training voices and the held-out festival voices, cut, padded, in noise and in simulated rooms, against generated
# tunes, tones, beeps, chords, glides, noise bursts, clicks, drums and music. Its test half only reports: on a
# rendering never looked at before (seed 1), no spoken digit of 480 is flagged, and 313 of the 371 other sounds
# that the preprocessing reads are (84 %; glides 56 %, drums 68 %, chords 78 %, the rest 83-97 %).
SPEECH_WIN, SPEECH_HOP = 640, 160  # 40 ms / 10 ms at 16 kHz
SPEECH_LOUD_DB = 25.0  # the frames within this of the loudest are the sound
PITCH_LAGS = (8, 320)  # periodicity is searched from 2 kHz (a high note) down to 50 Hz (in samples)
VOICE_LAGS = (32, 320)  # a voice's pitch: 500 Hz down to 50 Hz
VOICED_NACF = 0.5  # voiced: the frame repeats at a voice's pitch this well (normalised autocorrelation)
TONAL_NACF = 0.8  # strongly periodic, as a note or a tone is
STEADY_CENTS = 10.0  # a held pitch moves less than this from one frame to the next
STATIONARY_SIMILARITY = 0.97  # a held spectrum (up to 4 kHz) is this similar (cosine) to the last frame's
HELD_MIN_S = 0.06  # stretches of held pitch or spectrum shorter than this do not count
ONSET_MIN_GAP_S = 0.05
BEAT_LAG_S = (0.1, 1.5)  # a beat repeats every 0.1-1.5 s
BEAT_MIN_ONSETS = 5  # evenly spaced onsets count from this many (three gaps are evenly spaced by chance)
NOT_SPEECH_THRESHOLDS = {
    "held_pitch_s": 0.5,  # seconds of held pitch; val speech <= 0.35 (espeak's flat "steph" voices)
    "held_spectrum_s": 0.8,  # seconds of held spectrum; val speech <= 0.56
    "notes": 6,  # stretches of held pitch; val speech <= 4
    "voiced_run_s": 0.95,  # the longest unbroken voice, at least; val speech <= 0.67 (a slow "seven")
    "beat": 0.65,  # the flux envelope's correlation with itself one and two periods on; val speech <= 0.49
    "beat_cv": 0.09,  # std / mean of the gaps between >= BEAT_MIN_ONSETS onsets, at most; val speech >= 0.187
    "unvoiced_s": 0.015,  # the longest unbroken voice, at most; val speech >= 0.03
}
NOT_SPEECH_REASONS = {
    "tonal": "it holds steady pitches, like musical notes or a tone",
    "beat": "it is a regular beat of separate sounds",
    "unvoiced": "there is no voice in it, only noise or clicks",
}


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """(start, stop) of every stretch of True."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


@lru_cache(maxsize=1)
def _window_autocorrelation() -> tuple[np.ndarray, np.ndarray]:
    window = np.hanning(SPEECH_WIN)
    ac = np.fft.irfft(np.abs(np.fft.rfft(window, 2 * SPEECH_WIN)) ** 2)[:SPEECH_WIN]
    return window, ac / ac[0]


def _periodicity(envelope: np.ndarray, shortest: int, longest: int) -> float:
    """How well an envelope repeats at a steady period: the best, over lags of `shortest` to `longest` frames,
    of the smaller of its correlations with itself one lag and two lags on (a beat lines up again after every
    period; a smooth or reverberant envelope correlates at a short shift, not at twice it). 0 when the envelope
    holds fewer than four periods of any lag."""
    e = envelope - envelope.mean()

    def corr(lag: int) -> float:
        a, b = e[:-lag], e[lag:]
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return float((a * b).sum()) / den if den > 0 else 0.0

    lags = range(shortest, min(longest, len(e) // 4) + 1)
    return max((min(corr(lag), corr(2 * lag)) for lag in lags), default=0.0)


def _onsets(flux: np.ndarray, loud: np.ndarray) -> np.ndarray:
    """Frames where a new sound starts: peaks of the spectral flux well above its local median, at least
    ONSET_MIN_GAP_S apart."""
    floor = ndimage.median_filter(flux, size=21, mode="nearest")
    gap = max(1, round(ONSET_MIN_GAP_S * SAMPLE_RATE / SPEECH_HOP))
    local_max = flux == ndimage.maximum_filter(flux, size=2 * gap + 1, mode="nearest")
    return np.flatnonzero(local_max & (flux > floor + 0.25 * float(flux.max())) & loud)


def speech_features(wave: np.ndarray) -> dict[str, float]:
    """What `not_speech` reads from a 16 kHz sound (a recording cut to its sound): seconds of held pitch and of
    held spectrum (stretches of HELD_MIN_S or more), the number of held notes, the longest unbroken voice (s), the
    beat (`_periodicity` of the spectral flux) and how evenly the onsets are spaced (inf under BEAT_MIN_ONSETS)."""
    x = np.asarray(wave, dtype=np.float64)
    if len(x) < SPEECH_WIN:
        x = np.pad(x, (0, SPEECH_WIN - len(x)))
    n = 1 + (len(x) - SPEECH_WIN) // SPEECH_HOP
    frames = x[np.arange(SPEECH_WIN)[None, :] + SPEECH_HOP * np.arange(n)[:, None]]
    frames = frames - frames.mean(axis=1, keepdims=True)
    db = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-16)
    loud = db > db.max() - SPEECH_LOUD_DB
    hop_s = SPEECH_HOP / SAMPLE_RATE
    held = max(1, round(HELD_MIN_S / hop_s))

    window, window_ac = _window_autocorrelation()
    power = np.abs(np.fft.rfft(frames * window, 2 * SPEECH_WIN, axis=1)) ** 2
    ac = np.fft.irfft(power, axis=1)[:, :SPEECH_WIN]
    nacf = ac / (ac[:, :1] + 1e-20) / np.maximum(window_ac, 1e-3)  # corrected for the window (Boersma 1993)

    # pitch: the shortest lag whose peak comes within 10 % of the best one (not a multiple of the period),
    # refined by a parabola through it and its neighbours
    lags = nacf[:, PITCH_LAGS[0] : PITCH_LAGS[1]]
    best = lags.max(axis=1)
    peak = np.zeros_like(lags, bool)
    peak[:, 1:-1] = (lags[:, 1:-1] >= lags[:, :-2]) & (lags[:, 1:-1] > lags[:, 2:])
    peak &= lags >= 0.9 * best[:, None]
    peak[~peak.any(axis=1), 1] = True
    k = np.clip(np.argmax(peak, axis=1), 1, lags.shape[1] - 2)
    rows = np.arange(n)
    a, b, c = lags[rows, k - 1], lags[rows, k], lags[rows, k + 1]
    curve = a - 2.0 * b + c
    safe = np.where(np.abs(curve) > 1e-12, curve, 1.0)
    shift = np.where(np.abs(curve) > 1e-12, np.clip(0.5 * (a - c) / safe, -1.0, 1.0), 0.0)
    f0 = SAMPLE_RATE / (PITCH_LAGS[0] + k + shift)
    tonal = loud & (best > TONAL_NACF)
    cents = np.abs(1200.0 * np.log2(f0[1:] / f0[:-1]))
    held_pitch = np.concatenate([[False], tonal[1:] & tonal[:-1] & (cents < STEADY_CENTS)])
    notes = [stop - start for start, stop in _runs(held_pitch) if stop - start >= held]

    mag = np.sqrt(power[:, : 2 * SPEECH_WIN * 4000 // SAMPLE_RATE])
    norms = np.sqrt((mag**2).sum(axis=1)) + 1e-20
    cosine = (mag[1:] * mag[:-1]).sum(axis=1) / (norms[1:] * norms[:-1])
    held_spectrum = np.concatenate([[False], loud[1:] & loud[:-1] & (cosine > STATIONARY_SIMILARITY)])
    held_spectrum_frames = sum(stop - start for start, stop in _runs(held_spectrum) if stop - start >= held)

    voiced = loud & (nacf[:, VOICE_LAGS[0] : VOICE_LAGS[1]].max(axis=1) > VOICED_NACF)
    logspec = np.log1p(1e3 * power / max(float(power.max()), 1e-20))
    flux = np.concatenate([[0.0], np.maximum(logspec[1:] - logspec[:-1], 0.0).mean(axis=1)])
    onsets = _onsets(flux, loud)
    gaps = np.diff(onsets)
    return {
        "held_pitch_s": sum(notes) * hop_s,
        "held_spectrum_s": held_spectrum_frames * hop_s,
        "notes": len(notes),
        "voiced_run_s": max((stop - start for start, stop in _runs(voiced)), default=0) * hop_s,
        "beat": _periodicity(flux, round(BEAT_LAG_S[0] / hop_s), round(BEAT_LAG_S[1] / hop_s)),
        "onsets": len(onsets),
        "beat_cv": float(gaps.std() / gaps.mean()) if len(onsets) >= BEAT_MIN_ONSETS else float("inf"),
    }


def not_speech(features: dict[str, float]) -> str | None:
    """Why a sound (`speech_features`) does not sound like a spoken word, as a key of NOT_SPEECH_REASONS, or
    None when it may be speech."""
    t = NOT_SPEECH_THRESHOLDS
    if (
        features["held_pitch_s"] >= t["held_pitch_s"]
        or features["held_spectrum_s"] >= t["held_spectrum_s"]
        or features["notes"] >= t["notes"]
        or features["voiced_run_s"] >= t["voiced_run_s"]
    ):
        return "tonal"
    if features["beat"] >= t["beat"] or features["beat_cv"] <= t["beat_cv"]:
        return "beat"
    if features["voiced_run_s"] <= t["unvoiced_s"]:
        return "unvoiced"
    return None


def preprocess_audio(source, info: dict | None = None) -> np.ndarray:
    """A recording of one spoken digit -> float32 mono 16 kHz, silence trimmed, peak 0.9.

    Accepts a path, bytes, a file-like object, or a tuple (ndarray [n] or [n, channels], sample_rate).
    Raises InputError for unreadable, silent, too short or too long (> 10 s) recordings. `info` (a dict)
    receives "snr_db": the word over the recording's background (`recording_snr_db`; None for a short clip),
    "sounds": how many separate sounds the recording holds (`separate_sounds`), "speech_features" and
    "not_speech": why the sound does not sound like speech (`not_speech`; None when it may be speech).
    """
    if isinstance(source, tuple):
        if len(source) != 2:
            raise InputError("Audio arrays must be given as (samples, sample_rate).")
        wave, sr = np.asarray(source[0]), source[1]
        if not isinstance(sr, int | np.integer) or sr <= 0:
            raise InputError(f"Invalid sample rate {sr!r}.")
        if wave.dtype == np.int16:
            wave = wave.astype(np.float32) / 32768.0
        elif wave.dtype == np.int32:
            wave = wave.astype(np.float32) / 2147483648.0
        wave = wave.astype(np.float32)
        if wave.ndim == 1:
            wave = wave[:, None]
        elif wave.ndim != 2:
            raise InputError(f"Audio arrays must be [samples] or [samples, channels]; got {wave.shape}.")
        elif wave.shape[0] < wave.shape[1] and wave.shape[0] <= 8:  # [channels, samples]
            wave = wave.T
        sr = int(sr)
    else:
        data = _read_bytes(source)
        if data is None:
            raise InputError(f"Cannot read audio from a {type(source).__name__}.")
        if not data:
            raise InputError("The audio file is empty.")
        if len(data) > MAX_AUDIO_BYTES:
            raise InputError(f"The audio file is larger than {MAX_AUDIO_BYTES // 1_000_000} MB.")
        wave, sr = _decode_audio_bytes(data)
    if wave.size == 0:
        raise InputError("The recording is empty.")
    if not np.isfinite(wave).all():
        raise InputError("The recording contains invalid (NaN or infinite) samples.")
    seconds = wave.shape[0] / sr
    if seconds > MAX_AUDIO_SECONDS:
        raise InputError(
            f"The recording is {seconds:.1f} s long; the limit is {MAX_AUDIO_SECONDS:.0f} s. "
            "Please record a single spoken digit."
        )
    # Several channels: the one with the most energy, not their mean. Two microphones a few cm apart hear a
    # word a fraction of a millisecond apart, and their sum cancels whole bands (a comb filter: a 0.5 ms
    # delay notches 1, 3, 5 kHz). Chosen on the held-out room recordings' val half: 0.53 -> 0.695.
    mono = (
        wave[:, int(np.argmax(np.square(wave, dtype=np.float64).sum(axis=0)))]
        if wave.shape[1] > 1
        else wave[:, 0]
    )
    if sr != SAMPLE_RATE:
        import librosa  # deferred: half a second to import, and most uploads are already 16 kHz

        mono = librosa.resample(mono, orig_sr=sr, target_sr=SAMPLE_RATE)
    mono = mono.astype(np.float32)
    start, stop = trim_bounds(mono)
    if info is not None:
        info["snr_db"] = recording_snr_db(mono)
        info["sounds"] = separate_sounds(mono)
        info["speech_features"] = speech_features(mono[start:stop])
        info["not_speech"] = not_speech(info["speech_features"])
    mono = mono[start:stop]
    return (mono * (PEAK / float(np.max(np.abs(mono))))).astype(np.float32)


# -------------------------------------------------------------------------------------------- caption

_CONTROL = re.compile(r"[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028\u2029\ufeff]")


def preprocess_caption(text: str) -> str:
    """Normalise a caption: Unicode NFKC, no control characters, single spaces. Empty -> InputError."""
    if not isinstance(text, str):
        raise InputError(f"A caption must be text, not {type(text).__name__}.")
    text = unicodedata.normalize("NFKC", text)
    text = _CONTROL.sub(" ", text)
    text = " ".join(text.split())
    if not text:
        raise InputError("The caption is empty. Type a few words describing the digit.")
    return text


def caption_tower_texts() -> tuple[str, ...]:
    """Every caption the digits caption tower is trained on (`aecf.encoders.training.image_caption.CaptionBank`): the benchmark
    grammar's exact captions of each digit (a wrong caption is another digit's exact one), its partial and its
    none captions, and the class prompts it is scored against."""
    texts = [t for d in range(NUM_CLASSES) for t in grammar.exact_captions(d)]
    texts += list(grammar.PARTIAL_CAPTIONS) + list(grammar.NONE_CAPTIONS)
    texts += [grammar.class_prompt(d) for d in range(NUM_CLASSES)]
    return tuple(dict.fromkeys(texts))


@lru_cache(maxsize=4)
def caption_vocabulary(tokenizer) -> frozenset[int]:
    """The words the digits caption tower knows: the ids of the tokens (as open_clip's tokenizer cuts them) of
    `caption_tower_texts()` that hold a letter or a digit (a bare "-" or "'" is not a word). The one place that
    decides which caption words the tower knows."""
    ids = {i for text in caption_tower_texts() for i in tokenizer.encode(text)}
    return frozenset(i for i in ids if any(ch.isalnum() for ch in tokenizer.decode([i])))


def known_caption_words(text: str, tokenizer) -> list[str]:
    """The tokens of `text` that the caption tower knows (`caption_vocabulary`), as text; [] when it knows none
    (emoji, another script, symbols, words it never saw)."""
    known = caption_vocabulary(tokenizer)
    return [tokenizer.decode([i]).strip() for i in tokenizer.encode(text) if i in known]
