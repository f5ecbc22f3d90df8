"""Demo inputs in `assets/samples/`: digits in several real-world guises, spoken digits, captions.

Written by `python -m aecf data build --assets` (or `python -m aecf.data.assets [--benchmark DIR]`)
from MNIST *test* digits and *test* voices, so that a demo never shows the encoders their training data.
The guises are the ones the preprocessing must handle: MNIST style (white ink on
black), a black-on-white scan, a phone photo (small off-centre digit, uneven light, blur, JPEG) and a
drawing-canvas export (thick strokes on a transparent RGBA canvas).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image, ImageDraw, ImageFilter

from aecf.constants import CLASSES, SAMPLE_RATE
from aecf.data import captions as cap
from aecf.data.corruption import corrupt_audio
from aecf.data.mnist import load_mnist
from aecf.errors import InputError
from aecf.paths import BENCHMARK_DIR, SAMPLES_DIR

MNIST_DIGITS = (0, 2, 3, 5, 7, 9)
SCAN_DIGITS = (4, 1)
PHOTO_DIGIT = 6
SPOKEN_DIGITS = (1, 3, 4, 6, 8, 9)
FLITE_DIGIT = 8  # spoken by a held-out flite voice


def _first_of_each(labels: np.ndarray, digits: tuple[int, ...], skip: int = 0) -> dict[int, int]:
    # The (skip+1)-th occurrence, so the scans are not the same drawings as the MNIST-style files.
    return {d: int(np.flatnonzero(labels == d)[skip]) for d in digits}


def _scan(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """Black ink on off-white paper, 4x upsampled, with paper grain: a flatbed scan."""
    ink = np.asarray(Image.fromarray(digit).resize((112, 112), Image.BICUBIC), dtype=np.float32) / 255
    paper = 242 + rng.normal(0, 3, ink.shape)
    return Image.fromarray(np.clip(paper * (1 - 0.85 * ink), 0, 255).astype(np.uint8), mode="L")


def _photo(digit: np.ndarray, rng: np.random.Generator, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A phone photo of a digit on paper: small, rotated, off-centre, uneven light, blur, JPEG later."""
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # Light falls from the top left and fades towards the opposite corner, plus a soft vignette.
    light = (
        225 - 55 * (xx / w * 0.6 + yy / h * 0.4) - 25 * (((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2)
    )
    ink_img = Image.fromarray(digit).resize((150, 150), Image.BICUBIC).rotate(-9, resample=Image.BICUBIC)
    ink = np.zeros((h, w), np.float32)
    top, left = 120, 360  # off-centre: right of and above the middle
    ink[top : top + 150, left : left + 150] = np.asarray(ink_img, np.float32) / 255
    gray = light * (1 - 0.8 * ink) + rng.normal(0, 2.5, (h, w))
    tint = np.array([1.0, 0.97, 0.9], np.float32)  # warm indoor light on white paper
    rgb = np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)
    return Image.fromarray(rgb, mode="RGB").filter(ImageFilter.GaussianBlur(1.6))


def _canvas(size: int = 280) -> Image.Image:
    """A '2' drawn with a thick round brush on a transparent canvas (what a drawing widget exports)."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    s = size / 280
    arc = [
        (140 + 60 * np.cos(a) * s, 100 + 50 * np.sin(a) * s)
        for a in np.linspace(np.pi * 1.05, np.pi * 2.2, 24)
    ]
    stroke = [(x * 1.0, y * 1.0) for x, y in arc] + [(82 * s, 215 * s), (205 * s, 212 * s)]
    draw.line(stroke, fill=(20, 20, 20, 255), width=int(22 * s), joint="curve")
    for x, y in (stroke[0], stroke[-1]):  # round caps, as a brush leaves them
        r = 11 * s
        draw.ellipse((x - r, y - r, x + r, y + r), fill=(20, 20, 20, 255))
    return img


def _caption_examples(rng: np.random.Generator) -> list[tuple[str, str, int]]:
    rows = []
    for level in (cap.EXACT, cap.PARTIAL, cap.NONE, cap.WRONG):
        for digit in rng.permutation(len(CLASSES))[:4]:
            rows.append((cap.LEVEL_NAMES[level], cap.sample_caption(int(digit), level, rng), int(digit)))
    return rows


def write_assets(
    benchmark_dir: str | Path | None = None, out_dir: str | Path = SAMPLES_DIR, seed: int = 0
) -> list[Path]:
    """Write the demo inputs into `out_dir` from MNIST test and the test voices of a built benchmark."""
    benchmark_dir = Path(benchmark_dir) if benchmark_dir is not None else BENCHMARK_DIR
    clips_path = benchmark_dir / "clips.npz"
    if not clips_path.exists():
        raise InputError(f"{clips_path} not found. Build the benchmark first: `python -m aecf data build`.")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, labels = load_mnist("test")
    written: list[Path] = []
    manifest: dict[str, str] = {}

    for digit, i in _first_of_each(labels, MNIST_DIGITS).items():
        path = out / f"mnist_{digit}.png"
        Image.fromarray(images[i], mode="L").save(path, optimize=True)
        written.append(path)
        manifest[path.name] = f"MNIST test #{i} (white on black, 28x28), digit {digit}"
    for digit, i in _first_of_each(labels, SCAN_DIGITS, skip=1).items():
        path = out / f"scan_{digit}.png"
        _scan(images[i], rng).save(path, optimize=True)
        written.append(path)
        manifest[path.name] = f"MNIST test #{i} as a black-on-white scan (112x112), digit {digit}"
    i = _first_of_each(labels, (PHOTO_DIGIT,), skip=2)[PHOTO_DIGIT]
    path = out / f"photo_{PHOTO_DIGIT}.jpg"
    _photo(images[i], rng).save(path, quality=55)
    written.append(path)
    manifest[path.name] = (
        f"MNIST test #{i} as a phone photo (640x480 JPEG: small, rotated, off-centre, "
        f"uneven light, blurred), digit {PHOTO_DIGIT}"
    )
    path = out / "canvas_2.png"
    _canvas().save(path, optimize=True)
    written.append(path)
    manifest[path.name] = "a hand-drawn 2: dark thick strokes on a transparent RGBA 280x280 canvas"

    with np.load(clips_path, allow_pickle=False) as z:
        audio, length, clip_label = z["audio"], z["length"], z["label"]
        voice, split = z["voice"], z["split"]
    test = split == "test"
    is_flite = np.char.startswith(voice.astype(str), "flite:")
    for digit in SPOKEN_DIGITS:
        pool = np.flatnonzero(test & (clip_label == digit) & (is_flite == (digit == FLITE_DIGIT)))
        if len(pool) == 0:
            pool = np.flatnonzero(test & (clip_label == digit))
        c = int(rng.choice(pool))
        engine = str(voice[c]).split(":")[0]
        path = out / f"spoken_{digit}_{engine}.wav"
        sf.write(path, audio[c, : length[c]], SAMPLE_RATE, subtype="PCM_16")
        written.append(path)
        manifest[path.name] = f"'{CLASSES[digit]}', test voice {voice[c]} (16 kHz mono)"
    # The same kind of word in noise, as the benchmark corrupts it: a demo of an unreliable modality.
    c = int(rng.choice(np.flatnonzero(test & (clip_label == 5))))
    path = out / "spoken_5_noisy_0db.wav"
    noisy = corrupt_audio(audio[c, : length[c]], 0.0, seed=seed)
    sf.write(path, noisy / max(1.0, float(np.abs(noisy).max()) / 0.95), SAMPLE_RATE, subtype="PCM_16")
    written.append(path)
    manifest[path.name] = f"'five', test voice {voice[c]}, mixed with noise at 0 dB SNR"

    path = out / "captions.txt"
    lines = ["# level\tcaption\tdigit (the image it would describe); levels: exact, partial, none, wrong"]
    lines += [f"{level}\t{text}\t{digit}" for level, text, digit in _caption_examples(rng)]
    path.write_text("\n".join(lines) + "\n")
    written.append(path)
    manifest[path.name] = "example captions of every information level (tab-separated)"

    path = out / "manifest.json"
    path.write_text(json.dumps(manifest, indent=2) + "\n")
    written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecf.data.assets", description="Write assets/samples/.")
    parser.add_argument(
        "--benchmark", type=Path, default=None, help="built benchmark (default data/benchmark)"
    )
    parser.add_argument("--out", type=Path, default=SAMPLES_DIR)
    args = parser.parse_args(argv)
    try:
        written = write_assets(args.benchmark, args.out)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{len(written)} files written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
