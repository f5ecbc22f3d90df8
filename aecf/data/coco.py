"""MS-COCO 2014 → embedding cache, with any open_clip model, data-parallel under `torchrun`.

    python -m aecf features --dataset coco --root COCO --clip ViT-B-32 --pretrained openai --out DIR
    torchrun --nproc_per_node 8 -m aecf features --dataset coco ...        (same command, N GPUs)

The protocol is the authors' (leochlon/aecf, `make_coco_split` / `CocoPairDataset`), see docs/coco.md:
- images: those with at least one instance annotation. Python's `random.Random(seed)` shuffles the
  train2014 ids, then the val2014 ids (one generator, in that order); train = the first 60,000
  shuffled train2014 ids, val = the next 5,000, test = the first 5,000 shuffled val2014 ids. With
  seed 42 this is the authors' draw. With fewer images than that (a fixture, a subset), train and val
  share all the annotated train2014 images in the ratio 60:5 and test takes val2014's (at most 5,000).
- labels: multi-hot over the categories of instances_*.json sorted by category id (80 for COCO).
- caption: `first` (the authors' choice: the first caption of the image in captions_*.json),
  `random` (one chosen per image from seed and image id), or `all` (the mean of all its caption
  embeddings, re-normalised).
- embeddings: open_clip `encode_image` / `encode_text`, L2-normalised, stored float16 (the authors
  kept them un-normalised in bfloat16). class_embeddings are the text embeddings of
  "a photo of a {category}." and logit_scale is the model's temperature exp(logit_scale) (100 for
  OpenAI CLIP).

Work is cut into shards of `--shard-size` images numbered per split; shard k is written atomically to
`<out>/shards/<split>-<k>.npz` (image, caption float16, image_id int64) and skipped when it exists, so an
interrupted run resumes where it stopped, with any number of ranks. Rank 0 reads the annotations once
and writes `<out>/plan.json` (the split, labels, chosen captions and the settings that shaped them);
every rank then encodes its share of the missing shards; after a barrier rank 0 merges the shards into
`<out>/{train,val,test}.npz` (aecf.data.cache format, label int64 [N, 80]), `<out>/<split>.index.npz`
(image_id, file_name, caption) and `<out>/meta.json`.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from tqdm.auto import tqdm

from aecf.data import distributed
from aecf.data.cache import save_split
from aecf.encoders.clip import load_clip
from aecf.errors import CheckpointError, InputError
from aecf.files import write_atomic

SPLITS = ("train", "val", "test")
# The authors' split of COCO-2014: 60k/5k of the annotated train2014 images, 5k of val2014's.
TRAIN_SIZE, VAL_SIZE, TEST_SIZE = 60_000, 5_000, 5_000
CAPTION_MODES = ("first", "random", "all")
CLASS_PROMPT = "a photo of a {}."
PLAN_VERSION = 1


# ----------------------------------------------------------------------------------- annotations


def _read_json(path: Path) -> dict:
    if not path.is_file():
        raise InputError(
            f"{path} not found. --root must hold the COCO-2014 layout: train2014/, val2014/, "
            "annotations/instances_{train,val}2014.json and annotations/captions_{train,val}2014.json."
        )
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise InputError(f"{path} is not a readable COCO annotation file ({e}).") from e


def read_source(root: Path, source: str) -> dict[str, Any]:
    """Read one COCO-2014 source ('train' or 'val'): categories, files, labels and captions per image.

    Images are listed in the order of their first instance annotation (pycocotools' `imgToAnns`
    order, which the authors' shuffle starts from); images without any instance are left out.
    """
    instances = _read_json(root / "annotations" / f"instances_{source}2014.json")
    captions = _read_json(root / "annotations" / f"captions_{source}2014.json")
    categories = sorted(
        ({"id": int(c["id"]), "name": str(c["name"])} for c in instances["categories"]), key=lambda c: c["id"]
    )
    column = {c["id"]: i for i, c in enumerate(categories)}
    files = {int(im["id"]): str(im["file_name"]) for im in instances["images"]}
    labels: dict[int, set[int]] = {}
    for ann in instances["annotations"]:
        labels.setdefault(int(ann["image_id"]), set()).add(column[int(ann["category_id"])])
    image_captions: dict[int, list[str]] = defaultdict(list)
    for ann in captions["annotations"]:
        image_captions[int(ann["image_id"])].append(" ".join(str(ann["caption"]).split()))
    missing = [i for i in labels if not image_captions.get(i)]
    if missing:
        raise InputError(
            f"{len(missing)} {source}2014 images have instances but no caption (e.g. id {missing[0]})."
        )
    return {
        "categories": categories,
        "ids": list(labels),
        "files": {i: f"{source}2014/{files[i]}" for i in labels},
        "labels": {i: sorted(labels[i]) for i in labels},
        "captions": image_captions,
    }


def split_sizes(num_train2014: int, num_val2014: int) -> tuple[int, int, int]:
    """(train, val, test) sizes: the authors' 60k/5k/5k, or proportional when there are fewer images."""
    if num_train2014 >= TRAIN_SIZE + VAL_SIZE:
        train, val = TRAIN_SIZE, VAL_SIZE
    else:
        val = round(num_train2014 * VAL_SIZE / (TRAIN_SIZE + VAL_SIZE))
        val = max(val, 1) if num_train2014 >= 2 else 0
        train = num_train2014 - val
    return train, val, min(TEST_SIZE, num_val2014)


def choose_captions(captions: list[str], mode: str, seed: int, image_id: int) -> list[str]:
    if mode == "first":
        return captions[:1]
    if mode == "random":
        # Seeded by image id, not by position, so the choice does not depend on order or sharding.
        return [random.Random(f"{seed}:{image_id}").choice(captions)]
    return list(captions)


def build_plan(root: Path, seed: int, captions: str, limit: int | None) -> dict[str, Any]:
    """The split, labels and captions of every image to encode (no pixels are read here)."""
    train2014, val2014 = read_source(root, "train"), read_source(root, "val")
    if train2014["categories"] != val2014["categories"]:
        raise InputError("instances_train2014.json and instances_val2014.json list different categories.")
    rng = random.Random(seed)
    train_ids, val_ids = list(train2014["ids"]), list(val2014["ids"])
    rng.shuffle(train_ids)
    rng.shuffle(val_ids)
    n_train, n_val, n_test = split_sizes(len(train_ids), len(val_ids))
    chosen = {
        "train": (train2014, train_ids[:n_train]),
        "val": (train2014, train_ids[n_train : n_train + n_val]),
        "test": (val2014, val_ids[:n_test]),
    }
    splits = {}
    for split, (source, ids) in chosen.items():
        ids = sorted(ids[:limit] if limit else ids)
        splits[split] = [
            {
                "id": i,
                "file": source["files"][i],
                "labels": source["labels"][i],
                "captions": choose_captions(source["captions"][i], captions, seed, i),
            }
            for i in ids
        ]
    return {"categories": train2014["categories"], "splits": splits}


# ------------------------------------------------------------------------------------ settings


def fingerprint(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that shape the features; a resumed run must match them."""
    weights = args.pretrained
    path = Path(weights).expanduser()
    if path.is_file():
        weights = f"{path.resolve()} ({path.stat().st_size} bytes)"
    return {
        "version": PLAN_VERSION,
        "clip": args.clip,
        "pretrained": weights,
        "seed": args.seed,
        "captions": args.captions,
        "limit": args.limit,
        "shard_size": args.shard_size,
    }


# ----------------------------------------------------------------------------------- shards


class _Images(torch.utils.data.Dataset):
    def __init__(self, root: Path, files: list[str], transform):
        self.root, self.files, self.transform = root, files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        path = self.root / self.files[i]
        try:
            with Image.open(path) as im:
                return self.transform(im.convert("RGB"))
        except OSError as e:
            raise InputError(f"Cannot read image {path}: {e}") from e


def shard_path(out: Path, split: str, k: int) -> Path:
    return out / "shards" / f"{split}-{k:05d}.npz"


def all_shards(plan: dict, shard_size: int) -> list[tuple[str, int]]:
    return [
        (split, k)
        for split in SPLITS
        for k in range((len(plan["splits"][split]) + shard_size - 1) // shard_size)
    ]


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write atomically: a killed run leaves a stray temp file, never a truncated shard."""
    write_atomic(path, lambda f: np.savez(f, **arrays))


@torch.no_grad()
def encode_texts(
    model, tokenizer, texts: list[str], device: torch.device, batch_size: int = 256
) -> torch.Tensor:
    out = []
    for i in range(0, len(texts), batch_size):
        tokens = tokenizer(texts[i : i + batch_size]).to(device)
        with _autocast(device):
            out.append(model.encode_text(tokens, normalize=True).float().cpu())
    return torch.cat(out)


def _autocast(device: torch.device):
    # fp16 on GPUs (the cache is float16 anyway); exact fp32 on CPUs.
    return torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda")


@torch.no_grad()
def encode_shards(
    shards: list[tuple[str, int]],
    plan: dict,
    args: argparse.Namespace,
    model,
    transform,
    tokenizer,
    ctx: distributed.Context,
) -> None:
    """Encode and write the given shards; one DataLoader over all of them, batches never cross a shard."""
    root, out, size = Path(args.root), Path(args.out), args.shard_size
    files: list[str] = []
    entries: list[dict] = []
    batches: list[list[int]] = []
    ends: dict[int, tuple[str, int, int]] = {}  # index of a shard's last batch -> (split, k, first row)
    for split, k in shards:
        rows = plan["splits"][split][k * size : (k + 1) * size]
        first = len(files)
        files += [r["file"] for r in rows]
        entries += rows
        batches += [
            list(range(i, min(i + args.batch_size, first + len(rows))))
            for i in range(first, first + len(rows), args.batch_size)
        ]
        ends[len(batches) - 1] = (split, k, first)
    if not batches:
        return
    loader = torch.utils.data.DataLoader(
        _Images(root, files, transform),
        batch_sampler=batches,
        num_workers=args.num_workers,
        pin_memory=ctx.device.type == "cuda",
    )
    image_parts: list[torch.Tensor] = []
    caption_parts: list[torch.Tensor] = []
    bar = tqdm(
        total=len(files),
        desc=f"rank {ctx.rank} images",
        unit="img",
        position=ctx.rank,
        dynamic_ncols=True,
        mininterval=1.0,
    )
    for b, pixels in enumerate(loader):
        with _autocast(ctx.device):
            image_parts.append(
                model.encode_image(pixels.to(ctx.device, non_blocking=True), normalize=True).float().cpu()
            )
        rows = [entries[i] for i in batches[b]]
        texts = [c for r in rows for c in r["captions"]]
        owner = torch.tensor([j for j, r in enumerate(rows) for _ in r["captions"]])
        per_caption = encode_texts(model, tokenizer, texts, ctx.device)
        # one caption per image, or the mean of all of them (`--captions all`), re-normalised
        mean = torch.zeros(len(rows), per_caption.shape[1]).index_add_(0, owner, per_caption)
        caption_parts.append(torch.nn.functional.normalize(mean, dim=-1))
        bar.update(len(rows))
        if b in ends:
            split, k, first = ends[b]
            _save_npz(
                shard_path(out, split, k),
                image=torch.cat(image_parts).numpy().astype(np.float16),
                caption=torch.cat(caption_parts).numpy().astype(np.float16),
                image_id=np.asarray([e["id"] for e in entries[first : batches[b][-1] + 1]], dtype=np.int64),
            )
            image_parts, caption_parts = [], []
    bar.close()


# ----------------------------------------------------------------------------------- merge


def merge(plan: dict, args: argparse.Namespace, model, tokenizer, device: torch.device) -> dict[str, int]:
    """Shards → `<out>/<split>.npz` (embedding cache), `<split>.index.npz` and `meta.json`."""
    out = Path(args.out)
    categories = plan["categories"]
    class_embeddings = encode_texts(
        model, tokenizer, [CLASS_PROMPT.format(c["name"]) for c in categories], device
    )
    logit_scale = float(model.logit_scale.exp()) if hasattr(model, "logit_scale") else 100.0
    sizes = {}
    for split in SPLITS:
        rows = plan["splits"][split]
        n_shards = (len(rows) + args.shard_size - 1) // args.shard_size
        parts: dict[str, list[np.ndarray]] = {"image": [], "caption": [], "image_id": []}
        for k in range(n_shards):
            with np.load(shard_path(out, split, k), allow_pickle=False) as z:
                for key in parts:
                    parts[key].append(z[key])
        ids = np.asarray([r["id"] for r in rows], dtype=np.int64)
        dim = class_embeddings.shape[1]
        emb = {
            m: np.concatenate(parts[m]) if parts[m] else np.zeros((0, dim), np.float16)
            for m in ("image", "caption")
        }
        got = np.concatenate(parts["image_id"]) if parts["image_id"] else np.zeros(0, np.int64)
        if not np.array_equal(got, ids):
            raise InputError(
                f"The shards of {split} in {out / 'shards'} do not match plan.json; "
                "delete the shards folder and run again."
            )
        label = np.zeros((len(rows), len(categories)), dtype=np.int64)
        for n, r in enumerate(rows):
            label[n, r["labels"]] = 1
        zeros = np.zeros(len(rows), dtype=np.float32)  # COCO is not synthetically corrupted
        save_split(
            out / f"{split}.npz",
            emb,
            label,
            {"image": zeros, "caption": zeros},
            class_embeddings.numpy(),
            logit_scale,
            classes=[c["name"] for c in categories],
            name="coco",
        )
        _save_npz(
            out / f"{split}.index.npz",
            image_id=ids,
            file_name=np.asarray([r["file"] for r in rows], dtype=np.str_),
            caption=np.asarray(["\n".join(r["captions"]) for r in rows], dtype=np.str_),
        )
        sizes[split] = len(rows)
    meta = {
        "dataset": "coco2014",
        "config": plan["config"],
        "sizes": sizes,
        "categories": categories,
        "class_prompt": CLASS_PROMPT,
        "logit_scale": logit_scale,
        "embed_dim": int(class_embeddings.shape[1]),
        "label": "multi-hot int64 [N, C], C = len(categories)",
    }
    write_atomic(out / "meta.json", json.dumps(meta, indent=2))
    return sizes


# ----------------------------------------------------------------------------------- program


def prepare(args: argparse.Namespace) -> tuple[dict, list[tuple[str, int]]]:
    """Rank 0: load or build plan.json, and list the shards still to encode."""
    out = Path(args.out)
    plan_file = out / "plan.json"
    config = fingerprint(args)
    if plan_file.exists():
        plan = json.loads(plan_file.read_text())
        if plan.get("config") != config:
            raise InputError(
                f"{out} holds features made with other settings ({plan.get('config')}); "
                f"this run asks for {config}. Use another --out, or delete {out} to start over."
            )
    else:
        t = time.time()
        print(f"reading COCO-2014 annotations under {args.root} ...", file=sys.stderr)
        try:
            plan = build_plan(Path(args.root), args.seed, args.captions, args.limit)
        except (KeyError, TypeError) as e:
            raise InputError(f"The COCO annotations under {args.root} are malformed (missing {e}).") from e
        plan["config"] = config
        out.mkdir(parents=True, exist_ok=True)
        write_atomic(plan_file, json.dumps(plan))
        counts = ", ".join(f"{split} {len(plan['splits'][split])}" for split in SPLITS)
        print(f"plan: {counts} images ({time.time() - t:.0f} s)", file=sys.stderr)
    for stray in (out / "shards").glob(".*.tmp"):  # left by a killed run
        stray.unlink(missing_ok=True)
    pending = [s for s in all_shards(plan, args.shard_size) if not shard_path(out, *s).exists()]
    return plan, pending


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m aecf features --dataset coco",
        description="Encode MS-COCO 2014 with an open_clip model into the embedding cache "
        "(sharded, resumable; data-parallel under torchrun).",
    )
    p.add_argument("--dataset", choices=["coco"], default="coco")
    p.add_argument("--root", required=True, help="COCO-2014 folder: train2014/, val2014/, annotations/")
    p.add_argument(
        "--clip",
        default="ViT-B-32",
        help="open_clip model name, local-dir:DIR, or a model-config .json file (default ViT-B-32)",
    )
    p.add_argument(
        "--pretrained",
        default="openai",
        help="open_clip tag found in the local cache (openai), a weights file, or none (default openai)",
    )
    p.add_argument("--out", required=True, help="output folder (shared by all nodes under torchrun)")
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--num-workers", type=int, default=4, help="image-decoding workers per rank")
    p.add_argument("--limit", type=int, default=None, help="at most N images per split (a smoke run)")
    p.add_argument(
        "--seed", type=int, default=42, help="split draw (42 = the authors'), caption choice, `none` weights"
    )
    p.add_argument(
        "--captions",
        choices=CAPTION_MODES,
        default="first",
        help="first (the authors'), random (seeded, per image), all (mean of all captions)",
    )
    p.add_argument("--shard-size", type=int, default=1024, help="images per shard file")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument(
        "--cache-dir", default=None, help="open_clip weights cache (default: the Hugging Face cache)"
    )
    args = p.parse_args(argv)
    for name in ("batch_size", "shard_size"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.limit is not None and args.limit < 1:
        p.error("--limit must be at least 1")
    return args


def run(args: argparse.Namespace, ctx: distributed.Context) -> dict[str, int] | None:
    out = Path(args.out)
    # The model first: a weights problem must fail before plan.json pins this run's settings.
    model, transform, tokenizer = load_clip(args.clip, args.pretrained, ctx.device, args.seed, args.cache_dir)
    message: tuple[str, Any] | None = None
    if ctx.is_main:
        try:
            _, pending = prepare(args)
            message = ("ok", pending)
        except InputError as e:
            message = ("error", str(e))
    status, payload = distributed.broadcast_object(ctx, message)
    if status == "error":
        raise InputError(payload)
    plan = json.loads((out / "plan.json").read_text())
    mine = payload[ctx.rank :: ctx.world_size]
    if ctx.is_main:
        done = len(all_shards(plan, args.shard_size)) - len(payload)
        print(
            f"{len(payload)} shards to encode on {ctx.world_size} rank(s), {done} already done",
            file=sys.stderr,
        )
    encode_shards(mine, plan, args, model, transform, tokenizer, ctx)
    distributed.barrier(ctx)
    sizes = None
    if ctx.is_main:
        sizes = merge(plan, args, model, tokenizer, ctx.device)
        print(
            f"wrote {out}/{{train,val,test}}.npz: " + ", ".join(f"{s} {n}" for s, n in sizes.items()),
            file=sys.stderr,
        )
    distributed.barrier(ctx)
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Entry point; takes the argv after `features`, `--dataset coco` included."""
    args = parse_args(argv)
    ctx = distributed.start(args.device)
    try:
        run(args, ctx)
    except (InputError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    finally:
        distributed.stop(ctx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
