"""`python -m aecf features`: encode a dataset into the embedding cache the fusion layer trains on.

    python -m aecf features                      # digits benchmark -> assets/features/ (train: 12,000)
    python -m aecf features --train-limit 0      # every train sample -> data/features/
    python -m aecf features --data data/benchmark-small --out /tmp/feats

For the digits benchmark each sample's corruption is applied here, deterministically from its seed
(`corrupt_image(image, image_severity, seed)`, `corrupt_audio(clip, audio_snr_db, seed)`), then the
frozen encoders (`aecf.encoders.load_encoders`) embed the corrupted image, the clip and the caption.
The result is written with `aecf.data.cache.save_split` (format: docs/architecture.md).

Datasets are entries of DATASETS: a function (args, encoders) -> list of written files.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from aecf.data import coco
from aecf.data.cache import save_split
from aecf.data.corruption import corrupt_audio, corrupt_image
from aecf.encoders import load_encoders
from aecf.errors import InputError
from aecf.paths import ALL_FEATURE_DIR, BENCHMARK_DIR, FEATURE_DIR, show

SPLITS = ("train", "val", "test")
SHIPPED_TRAIN_LIMIT = 12_000
CHUNK = 1024  # samples corrupted and encoded at a time


def corrupted_images(images: np.ndarray, severity: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """uint8 [N,28,28] -> float32 [N,1,28,28] in [0,1], each corrupted from its own seed."""
    out = np.stack(
        [corrupt_image(img, float(s), int(sd)) for img, s, sd in zip(images, severity, seed, strict=True)]
    )
    return (out.astype(np.float32) / 255.0)[:, None]


def corrupted_clips(
    clips: np.ndarray, lengths: np.ndarray, index: np.ndarray, snr_db: np.ndarray, seed: np.ndarray
) -> list[np.ndarray]:
    """The clip of each sample (without its zero padding) with noise at that sample's SNR."""
    return [
        corrupt_audio(clips[c, : lengths[c]], float(snr), int(sd))
        for c, snr, sd in zip(index, snr_db, seed, strict=True)
    ]


def encode_digits_split(
    split: dict[str, np.ndarray], clips: dict[str, np.ndarray], encoders, desc: str = ""
) -> dict[str, np.ndarray]:
    """Embeddings {image, caption, audio} float32 [N,64] of one (possibly limited) benchmark split."""
    n = len(split["label"])
    out = {
        m: np.zeros((n, encoders.class_embeddings().shape[1]), np.float32)
        for m in ("image", "caption", "audio")
    }
    # captions repeat a lot (a few hundred distinct strings): encode each once
    uniq, inverse = np.unique(split["caption"], return_inverse=True)
    out["caption"] = encoders.encode_text([str(c) for c in uniq]).numpy()[inverse]
    for i in tqdm(range(0, n, CHUNK), desc=desc, unit="chunk", leave=False):
        s = slice(i, min(n, i + CHUNK))
        imgs = corrupted_images(split["image"][s], split["image_severity"][s], split["seed"][s])
        out["image"][s] = encoders.encode_image(torch.from_numpy(imgs)).numpy()
        waves = corrupted_clips(
            clips["audio"], clips["length"], split["clip"][s], split["audio_snr_db"][s], split["seed"][s]
        )
        out["audio"][s] = encoders.encode_waves(waves).numpy()
    return out


def load_npz(path: Path, keys: tuple[str, ...] | None = None) -> dict[str, np.ndarray]:
    """Arrays of a benchmark .npz (all, or `keys`), read without pickle; InputError if it is missing."""
    if not path.exists():
        raise InputError(f"{path} not found. Build the benchmark with `python -m aecf data build`.")
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in (keys or z.files)}


def digits_features(args: argparse.Namespace, encoders) -> list[Path]:
    """The tri-modal digits benchmark (`python -m aecf data build`) -> <out>/{train,val,test}.npz."""
    data = Path(args.data or BENCHMARK_DIR)
    clips = load_npz(data / "clips.npz", ("audio", "length"))
    class_emb = encoders.class_embeddings().numpy()
    written = []
    for name in args.splits:
        split = load_npz(data / f"{name}.npz")
        if name == "train" and args.train_limit > 0:
            split = {k: v[: args.train_limit] for k, v in split.items()}
        t0 = time.time()
        emb = encode_digits_split(split, clips, encoders, desc=name)
        path = save_split(
            Path(args.out) / f"{name}.npz",
            emb,
            split["label"],
            {
                "image": split["image_severity"],
                "caption": split["caption_severity"],
                "audio": split["audio_severity"],
            },
            class_emb,
            encoders.logit_scale,
            caption_level=split["caption_level"],
        )
        os.chmod(path, 0o644)  # save_split's temp file is private; the cache is shared
        print(
            f"[features] {name}: {len(split['label'])} samples -> {path} "
            f"({path.stat().st_size / 1e6:.1f} MB, {time.time() - t0:.0f} s)",
            flush=True,
        )
        written.append(path)
    return written


DATASETS: dict[str, Callable[[argparse.Namespace, object], list[Path]]] = {"digits": digits_features}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--dataset=coco" in argv or any(
        a == "--dataset" and b == "coco" for a, b in zip(argv, argv[1:], strict=False)
    ):
        # COCO has its own options (open_clip model, sharding, torchrun): see aecf/data/coco.py
        return coco.main(argv)
    p = argparse.ArgumentParser(
        prog="python -m aecf features", description="Encode a dataset into the embedding cache."
    )
    p.add_argument("--dataset", choices=sorted([*DATASETS, "coco"]), default="digits")
    p.add_argument("--data", type=Path, default=None, help="raw dataset dir (digits: data/benchmark)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output dir (default {show(FEATURE_DIR)} with the train limit, {show(ALL_FEATURE_DIR)} with "
        "--train-limit 0)",
    )
    p.add_argument(
        "--train-limit",
        type=int,
        default=SHIPPED_TRAIN_LIMIT,
        help="train samples to encode (0 = all); the shipped cache holds the first 12,000",
    )
    p.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    p.add_argument(
        "--checkpoint-dir", type=Path, default=None, help="encoder checkpoints (default checkpoints/)"
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = p.parse_args(argv)
    if args.out is None:
        args.out = FEATURE_DIR if args.train_limit > 0 else ALL_FEATURE_DIR
    if args.threads:
        torch.set_num_threads(args.threads)

    encoders = load_encoders() if args.checkpoint_dir is None else load_encoders(args.checkpoint_dir)
    t0 = time.time()
    DATASETS[args.dataset](args, encoders)
    print(f"[features] done in {time.time() - t0:.0f} s", flush=True)
    return 0
