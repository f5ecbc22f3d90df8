"""`python -m aecf heldout build`: build the held-out sets that are missing, deterministically from the seed."""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import soundfile as sf

from aecf.constants import CLASSES
from aecf.data.heldout.images import (
    available_fonts,
    canvas_image,
    handwriting_image,
    photo_image,
    render_font_digit,
    stroke_mask,
)
from aecf.data.heldout.recordings import (
    BABBLE_WORDS,
    FESTIVAL_VOICES,
    resample,
    room_recording,
    synthesize_festival,
    trim,
)
from aecf.data.heldout.sets import (
    AUDIO_SETS,
    DEFAULT_PER_SET,
    HALVES,
    IMAGE_SETS,
    SETS,
    VERSION,
    half_of,
    manifest,
    write_manifest,
)
from aecf.encoders.audio import speed_perturb
from aecf.paths import HELDOUT_DIR


def _rng(seed: int, *keys) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(str(k).encode()) for k in keys)])


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
        write_manifest(root, name, items, seed)


def build_audio_sets(root: Path, per_set: dict[str, int], seed: int, sets=AUDIO_SETS) -> None:
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
                    resample(trim(w, s), s, 16000) for w, s in synthesize_festival(bj, Path(tmp) / "babble")
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
            w = speed_perturb(trim(wave, sr), pitch)  # resampling shifts pitch (and rate) a little
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
        write_manifest(root, name, items, seed)


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
