"""`python -m aecf data build [--small] [--seed N] [--out DIR] [--assets]`: the raw tri-modal benchmark.

Each MNIST digit is paired, by label, with a spoken clip from its split's voices and a caption, and
gets per-sample corruption severities (applied later, from a per-sample seed, by
`aecf.data.corruption`). Layout and dtypes: docs/architecture.md, "Raw benchmark".

The severities are drawn so that every modality alone is unreliable while the three together are
strong: each is drawn independently (a sample rarely loses all three), and `BenchmarkConfig` holds
every knob, so the difficulty can be tuned in one place.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from aecf.constants import NUM_CLASSES, SAMPLE_RATE
from aecf.data import captions as cap
from aecf.data import speech
from aecf.data.assets import write_assets
from aecf.data.corruption import audio_severity
from aecf.data.mnist import load_mnist
from aecf.errors import InputError
from aecf.paths import BENCHMARK_DIR, SMALL_BENCHMARK_DIR, show

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class BenchmarkConfig:
    """Everything that decides what the benchmark contains and how hard it is."""

    # Samples per split (drawn from MNIST train / val / test respectively).
    train_size: int = 50_000
    val_size: int = 5_000
    test_size: int = 5_000

    # Voices. Each espeak variant (timbre) is spoken in `accents_per_variant` of the English accents and
    # belongs to one split as a whole; flite speakers likewise, one held out for val and one for test.
    voice_split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    max_espeak_variants: int | None = None  # None: every allowed variant
    accents_per_variant: int = 3
    espeak_augmentations: int = 1  # renderings (rate, pitch) per digit and voice
    flite_augmentations: int = 6  # flite has only 5 voices: more renderings each

    # Image severity s in [0, 1] (see corruption.corrupt_image): a mixture of light and heavy. A small
    # supervised CNN reads ~0.9 of digits up to s = 0.7 but only ~0.5 above 0.8, so "heavy" starts there.
    image_heavy_prob: float = 0.45
    image_light_range: tuple[float, float] = (0.0, 0.7)
    image_heavy_range: tuple[float, float] = (0.7, 1.0)

    # Audio: additive noise, SNR uniform in this range (dB).
    audio_snr_db_range: tuple[float, float] = (-12.0, 8.0)

    # Caption level probabilities: exact, partial, none, wrong.
    caption_level_probs: tuple[float, float, float, float] = (0.30, 0.35, 0.25, 0.10)

    # When a sample draws all three modalities unusable (image severity >= image_hard, SNR <=
    # audio_hard_snr_db, caption none or wrong), redraw its image or audio from the usable range, so
    # that the fused task stays solvable. Off: fully independent draws.
    ensure_one_usable: bool = True
    image_hard: float = 0.7
    audio_hard_snr_db: float = -4.0

    workers: int = 2  # speech synthesis processes

    @classmethod
    def small(cls) -> BenchmarkConfig:
        """A fast variant for tests and demos (seconds, not minutes)."""
        return cls(
            train_size=2_000,
            val_size=500,
            test_size=500,
            max_espeak_variants=24,
            accents_per_variant=2,
            flite_augmentations=2,
        )

    def size(self, split: str) -> int:
        return {"train": self.train_size, "val": self.val_size, "test": self.test_size}[split]


# ------------------------------------------------------------------------------------------ voices


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    # Stable across runs and Python versions (unlike hash()): one stream per purpose.
    return np.random.default_rng([seed, *(zlib.crc32(str(k).encode()) for k in keys)])


def _split_groups(
    groups: Sequence[str],
    fractions: Sequence[float],
    rng: np.random.Generator,
) -> dict[str, list[str]]:
    """Shuffle groups and cut them by `fractions`; val and test get at least one each."""
    order = [groups[i] for i in rng.permutation(len(groups))]
    n_val = max(1, int(round(fractions[1] * len(order))))
    n_test = max(1, int(round(fractions[2] * len(order))))
    return {"test": order[:n_test], "val": order[n_test : n_test + n_val], "train": order[n_test + n_val :]}


def select_voices(
    config: BenchmarkConfig,
    seed: int,
    voices: Sequence[speech.Voice] | None = None,
) -> dict[str, list[speech.Voice]]:
    """Voices of each split. No voice, espeak variant or flite speaker is in two splits."""
    voices = list(voices) if voices is not None else speech.available_voices()
    by_group: dict[str, list[speech.Voice]] = {}
    for v in voices:
        by_group.setdefault(v.group, []).append(v)
    espeak_groups = sorted(g for g in by_group if g.startswith("espeak:"))
    flite_groups = sorted(g for g in by_group if g.startswith("flite:"))
    # The split of a group depends only on the seed, not on --small: a small build's test voices
    # are test voices of the full build too.
    espeak_split = _split_groups(espeak_groups, config.voice_split, _rng(seed, "espeak-split"))
    flite_split = _split_groups(flite_groups, (0.5, 0.25, 0.25), _rng(seed, "flite-split"))
    chosen: dict[str, list[speech.Voice]] = {}
    for split in SPLITS:
        groups = espeak_split[split]
        if config.max_espeak_variants is not None:
            share = config.voice_split[SPLITS.index(split)]
            groups = groups[: max(1, int(round(share * config.max_espeak_variants)))]
        selected = []
        for g in groups:
            accents = by_group[g]
            pick = _rng(seed, "accents", g).permutation(len(accents))[: config.accents_per_variant]
            selected += [accents[i] for i in sorted(pick)]
        for g in flite_split[split]:
            selected += by_group[g]
        chosen[split] = selected
    return chosen


# ---------------------------------------------------------------------------------------- severities


def draw_severities(
    labels: np.ndarray,
    config: BenchmarkConfig,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Per-sample caption, caption level, image severity, SNR and derived severities."""
    n = len(labels)
    heavy = rng.random(n) < config.image_heavy_prob
    image_sev = np.where(
        heavy, rng.uniform(*config.image_heavy_range, n), rng.uniform(*config.image_light_range, n)
    )
    snr = rng.uniform(*config.audio_snr_db_range, n)
    captions, levels = cap.sample_captions(labels, config.caption_level_probs, rng)

    rescued = np.zeros(n, dtype=bool)
    if config.ensure_one_usable:
        hopeless = (image_sev >= config.image_hard) & (snr <= config.audio_hard_snr_db) & (levels >= cap.NONE)
        rescued = hopeless
        fix_image = rng.random(n) < 0.5
        lo, _ = config.image_light_range
        new_image = rng.uniform(lo, config.image_hard, n)
        new_snr = rng.uniform(config.audio_hard_snr_db, config.audio_snr_db_range[1], n)
        image_sev = np.where(hopeless & fix_image, new_image, image_sev)
        snr = np.where(hopeless & ~fix_image, new_snr, snr)

    caption_sev = cap.caption_severity(levels)
    audio_sev = audio_severity(snr)
    image_sev = image_sev.astype(np.float32)
    return {
        "caption": captions,
        "caption_level": levels.astype(np.int8),
        "image_severity": image_sev,
        "audio_snr_db": snr.astype(np.float32),
        "audio_severity": audio_sev,
        "caption_severity": caption_sev,
        "severity": ((image_sev + audio_sev + caption_sev) / 3).astype(np.float32),
        "_rescued": rescued,
    }


def make_split(
    split: str,
    images: np.ndarray,
    labels: np.ndarray,
    clip_label: np.ndarray,
    clip_split: np.ndarray,
    config: BenchmarkConfig,
    seed: int,
) -> tuple[dict[str, np.ndarray], int]:
    """Sample `config.size(split)` digits, pair each with a same-label clip of this split, draw the rest.

    Returns (arrays per the contract, number of samples rescued by `ensure_one_usable`).
    """
    rng = _rng(seed, "split", split)
    size = config.size(split)
    if size > len(labels):
        raise InputError(f"{split}: asked for {size} samples, MNIST {split} has {len(labels)}.")
    index = np.sort(rng.permutation(len(labels))[:size])
    label = labels[index].astype(np.int64)
    clip = np.empty(size, dtype=np.int32)
    for digit in range(NUM_CLASSES):
        pool = np.flatnonzero((clip_label == digit) & (clip_split == split))
        if len(pool) == 0:
            raise InputError(f"no {split} clip of digit {digit}: every voice of that split was rejected.")
        rows = np.flatnonzero(label == digit)
        clip[rows] = rng.choice(pool, size=len(rows))
    drawn = draw_severities(label, config, rng)
    rescued = int(drawn.pop("_rescued").sum())
    arrays = {
        "image": images[index].astype(np.uint8),
        "label": label,
        "clip": clip,
        **drawn,
        "seed": rng.integers(0, 2**31 - 1, size=size, dtype=np.int64),
    }
    return arrays, rescued


# ---------------------------------------------------------------------------------------------- build


def _engine_versions() -> dict[str, str]:
    versions = {}
    for exe, flag in ((speech.ESPEAK, "--version"), (speech.FLITE, "--version")):
        try:
            out = subprocess.run([exe, flag], capture_output=True, text=True, timeout=10).stdout
            versions[exe] = " ".join(out.split())[:120]
        except (OSError, subprocess.SubprocessError):
            versions[exe] = "unknown"
    return versions


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez_compressed(f, **arrays)


def build_benchmark(
    out: str | Path, config: BenchmarkConfig | None = None, seed: int = 0, progress: bool = True
) -> Path:
    """Build the benchmark into `out` atomically: written to a temp dir beside it, then renamed."""
    config = config or BenchmarkConfig()
    out = Path(out).resolve()
    started = time.perf_counter()
    speech.check_engines()
    mnist = {s: load_mnist(s) for s in SPLITS}  # fail early (InputError) before any synthesis

    voices = select_voices(config, seed)
    ordered = [(split, v) for split in SPLITS for v in voices[split]]
    t0 = time.perf_counter()
    results = speech.synthesize_voices(
        [v for _, v in ordered],
        {"espeak": config.espeak_augmentations, "flite": config.flite_augmentations},
        seed=seed,
        workers=config.workers,
        progress=progress,
    )
    speech_s = time.perf_counter() - t0

    names, waves, clip_label, clip_split = [], [], [], []
    kept: dict[str, list[str]] = {s: [] for s in SPLITS}
    rejected: dict[str, str] = {}
    for (split, voice), result in zip(ordered, results, strict=True):
        if result.rejected:
            rejected[voice.id] = result.rejected
            continue
        kept[split].append(voice.id)
        for spec, wave in zip(result.specs, result.waves, strict=True):
            names.append(spec.name)
            waves.append(wave)
            clip_label.append(spec.digit)
            clip_split.append(split)
    if not waves:
        raise InputError("speech synthesis produced no usable clip; check espeak-ng and flite.")
    audio, length = speech.pad_clips(waves)
    clip_label_arr = np.asarray(clip_label, dtype=np.int64)
    clip_split_arr = np.asarray(clip_split, dtype=np.str_)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        _save_npz(
            tmp / "clips.npz",
            {
                "audio": audio,
                "length": length,
                "label": clip_label_arr,
                "voice": np.asarray(names, dtype=np.str_),
                "split": clip_split_arr,
            },
        )
        rescued = {}
        for split in SPLITS:
            images, labels = mnist[split]
            arrays, rescued[split] = make_split(
                split, images, labels, clip_label_arr, clip_split_arr, config, seed
            )
            _save_npz(tmp / f"{split}.npz", arrays)
        meta = {
            "name": "aecf-digits (MNIST + synthesized speech + captions; not AV-MNIST)",
            "seed": seed,
            "sizes": {s: config.size(s) for s in SPLITS},
            "clips": {s: int((clip_split_arr == s).sum()) for s in SPLITS},
            "clip_length": int(audio.shape[1]),
            "sample_rate": SAMPLE_RATE,
            "voices": kept,
            "rejected_voices": rejected,
            "rescued_samples": rescued,
            "caption_levels": list(cap.LEVEL_NAMES),
            "config": asdict(config),
            "engines": _engine_versions(),
            "timings": {"speech_s": round(speech_s, 2), "total_s": round(time.perf_counter() - started, 2)},
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the benchmark is shared
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _swap_into_place(tmp: Path, out: Path) -> None:
    # A directory cannot be os.replace()d over a non-empty one: move the old one aside first, so
    # `out` is at every moment either the complete old or the complete new benchmark (or briefly absent).
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / out.name)
    os.rename(tmp, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aecf data build", description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="2,000/500/500 samples, fewer voices (< 1 min)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output directory (default {show(BENCHMARK_DIR)}, --small: {show(SMALL_BENCHMARK_DIR)})",
    )
    parser.add_argument("--assets", action="store_true", help="then write the demo inputs in assets/samples/")
    parser.add_argument("--workers", type=int, default=2, help="speech synthesis processes")
    args = parser.parse_args(argv)
    config = BenchmarkConfig.small() if args.small else BenchmarkConfig()
    config = replace(config, workers=args.workers)
    out = args.out or (SMALL_BENCHMARK_DIR if args.small else BENCHMARK_DIR)
    try:
        path = build_benchmark(out, config, seed=args.seed)
        meta = json.loads((path / "meta.json").read_text())
        print(
            f"benchmark written to {path} in {meta['timings']['total_s']:.1f} s: "
            f"samples {meta['sizes']}, clips {meta['clips']}, "
            f"voices { {s: len(v) for s, v in meta['voices'].items()} }"
        )
        if args.assets:
            written = write_assets(path)
            print(f"{len(written)} demo inputs written to {written[0].parent}")
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
