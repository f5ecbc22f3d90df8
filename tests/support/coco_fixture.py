"""A tiny MS-COCO 2014 look-alike for tests: same layout, same JSON schema, same category ids.

`make_coco(root)` writes train2014/ (16 JPEGs, one without any instance: the protocol skips it),
val2014/ (8 JPEGs, one grayscale), annotations/instances_{train,val}2014.json listing the real 80
categories (ids 1..90 with gaps) of which a few are used, and annotations/captions_{train,val}2014.json
with 2-5 captions per image. `write_tiny_clip(dir)` writes a small open_clip model config (~0.1 s to
build on CPU) for the feature pipeline, so no test needs a big model. `coco_features(base, ...)` runs that
pipeline on a fresh look-alike.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

# The 80 COCO "thing" categories with their official ids (instances_*2014.json).
COCO_CATEGORIES: tuple[tuple[int, str, str], ...] = (
    (1, "person", "person"),
    (2, "bicycle", "vehicle"),
    (3, "car", "vehicle"),
    (4, "motorcycle", "vehicle"),
    (5, "airplane", "vehicle"),
    (6, "bus", "vehicle"),
    (7, "train", "vehicle"),
    (8, "truck", "vehicle"),
    (9, "boat", "vehicle"),
    (10, "traffic light", "outdoor"),
    (11, "fire hydrant", "outdoor"),
    (13, "stop sign", "outdoor"),
    (14, "parking meter", "outdoor"),
    (15, "bench", "outdoor"),
    (16, "bird", "animal"),
    (17, "cat", "animal"),
    (18, "dog", "animal"),
    (19, "horse", "animal"),
    (20, "sheep", "animal"),
    (21, "cow", "animal"),
    (22, "elephant", "animal"),
    (23, "bear", "animal"),
    (24, "zebra", "animal"),
    (25, "giraffe", "animal"),
    (27, "backpack", "accessory"),
    (28, "umbrella", "accessory"),
    (31, "handbag", "accessory"),
    (32, "tie", "accessory"),
    (33, "suitcase", "accessory"),
    (34, "frisbee", "sports"),
    (35, "skis", "sports"),
    (36, "snowboard", "sports"),
    (37, "sports ball", "sports"),
    (38, "kite", "sports"),
    (39, "baseball bat", "sports"),
    (40, "baseball glove", "sports"),
    (41, "skateboard", "sports"),
    (42, "surfboard", "sports"),
    (43, "tennis racket", "sports"),
    (44, "bottle", "kitchen"),
    (46, "wine glass", "kitchen"),
    (47, "cup", "kitchen"),
    (48, "fork", "kitchen"),
    (49, "knife", "kitchen"),
    (50, "spoon", "kitchen"),
    (51, "bowl", "kitchen"),
    (52, "banana", "food"),
    (53, "apple", "food"),
    (54, "sandwich", "food"),
    (55, "orange", "food"),
    (56, "broccoli", "food"),
    (57, "carrot", "food"),
    (58, "hot dog", "food"),
    (59, "pizza", "food"),
    (60, "donut", "food"),
    (61, "cake", "food"),
    (62, "chair", "furniture"),
    (63, "couch", "furniture"),
    (64, "potted plant", "furniture"),
    (65, "bed", "furniture"),
    (67, "dining table", "furniture"),
    (70, "toilet", "furniture"),
    (72, "tv", "electronic"),
    (73, "laptop", "electronic"),
    (74, "mouse", "electronic"),
    (75, "remote", "electronic"),
    (76, "keyboard", "electronic"),
    (77, "cell phone", "electronic"),
    (78, "microwave", "appliance"),
    (79, "oven", "appliance"),
    (80, "toaster", "appliance"),
    (81, "sink", "appliance"),
    (82, "refrigerator", "appliance"),
    (84, "book", "indoor"),
    (85, "clock", "indoor"),
    (86, "vase", "indoor"),
    (87, "scissors", "indoor"),
    (88, "teddy bear", "indoor"),
    (89, "hair drier", "indoor"),
    (90, "toothbrush", "indoor"),
)

# The categories the fixture draws, each with a shape and a colour so images differ by label.
_USED = {
    1: ("circle", (220, 40, 40)),
    3: ("rectangle", (40, 90, 220)),
    17: ("triangle", (240, 200, 30)),
    18: ("ellipse", (40, 180, 60)),
    59: ("square", (200, 100, 20)),
    90: ("bar", (150, 50, 200)),
}

TINY_CLIP = {
    "embed_dim": 32,
    "vision_cfg": {
        "image_size": 32,
        "patch_size": 8,
        "width": 64,
        "head_width": 32,
        "layers": 2,
        "mlp_ratio": 2.0,
    },
    "text_cfg": {"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


def write_tiny_clip(directory: str | Path, name: str = "coco-test-tiny") -> Path:
    """A small open_clip config JSON; pass its path as --clip (registered under the file stem)."""
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(TINY_CLIP, indent=2))
    return path


def _draw(categories: list[int], rng: random.Random, size: tuple[int, int], grayscale: bool):
    from PIL import Image, ImageDraw

    image = Image.new("RGB", size, tuple(rng.randrange(200, 256) for _ in range(3)))
    pen = ImageDraw.Draw(image)
    w, h = size
    for cid in categories:
        shape, colour = _USED[cid]
        x0, y0 = rng.randrange(0, w // 2), rng.randrange(0, h // 2)
        x1, y1 = x0 + rng.randrange(w // 4, w // 2), y0 + rng.randrange(h // 4, h // 2)
        if shape in ("circle", "ellipse"):
            pen.ellipse((x0, y0, x1, y1), fill=colour)
        elif shape == "triangle":
            pen.polygon([(x0, y1), ((x0 + x1) // 2, y0), (x1, y1)], fill=colour)
        elif shape == "bar":
            pen.rectangle((x0, y0, x0 + 4, y1), fill=colour)
        else:
            pen.rectangle((x0, y0, x1, y1), fill=colour)
    return image.convert("L") if grayscale else image


def make_coco(
    root: str | Path, n_train: int = 16, n_val: int = 8, seed: int = 0, side: tuple[int, int] = (40, 72)
) -> Path:
    """Write the fixture under `root` and return it. Image ids are COCO-like (not contiguous).

    side: the range of image widths and heights in pixels (real COCO images are ~640x480).
    """
    root = Path(root)
    rng = random.Random(seed)
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    categories = [{"id": cid, "name": name, "supercategory": sup} for cid, name, sup in COCO_CATEGORIES]
    names = {cid: name for cid, name, _ in COCO_CATEGORIES}
    used = sorted(_USED)
    ann_id = 1
    for source, count, id_base in (("train", n_train, 100_000), ("val", n_val, 500_000)):
        folder = root / f"{source}2014"
        folder.mkdir(exist_ok=True)
        images, instances, captions = [], [], []
        for n in range(count):
            image_id = id_base + 37 * n + rng.randrange(37)
            file_name = f"COCO_{source}2014_{image_id:012d}.jpg"
            size = (rng.randrange(*side), rng.randrange(*side))
            # the last train image has no instance annotation (the protocol leaves such images out)
            cats = [] if (source == "train" and n == count - 1) else rng.sample(used, rng.randint(1, 3))
            _draw(cats, rng, size, grayscale=(source == "val" and n == 0)).save(
                folder / file_name, quality=90
            )
            images.append({"id": image_id, "file_name": file_name, "width": size[0], "height": size[1]})
            for cid in cats:
                for _ in range(rng.randint(1, 2)):
                    instances.append(
                        {
                            "id": ann_id,
                            "image_id": image_id,
                            "category_id": cid,
                            "iscrowd": 0,
                            "bbox": [1.0, 1.0, 10.0, 10.0],
                            "area": 100.0,
                            "segmentation": [],
                        }
                    )
                    ann_id += 1
            subject = " and ".join(f"a {names[c]}" for c in cats) or "an empty table"
            for j in range(rng.randint(2, 5)):
                captions.append(
                    {
                        "id": ann_id,
                        "image_id": image_id,
                        "caption": f"Picture {j} of {subject} on a plain background.",
                    }
                )
                ann_id += 1
        # annotations are not grouped by image in the real files either
        rng.shuffle(instances)
        rng.shuffle(captions)
        info = {"description": "AECF test fixture in the COCO 2014 format", "year": 2014}
        (root / "annotations" / f"instances_{source}2014.json").write_text(
            json.dumps({"info": info, "images": images, "annotations": instances, "categories": categories})
        )
        (root / "annotations" / f"captions_{source}2014.json").write_text(
            json.dumps({"info": info, "images": images, "annotations": captions})
        )
    return root


def expected_labels(root: str | Path, source: str) -> dict[int, set[int]]:
    """image id -> set of category ids, read back from the fixture's instances file."""
    data = json.loads((Path(root) / "annotations" / f"instances_{source}2014.json").read_text())
    labels: dict[int, set[int]] = {}
    for a in data["annotations"]:
        labels.setdefault(a["image_id"], set()).add(a["category_id"])
    return labels


def coco_features(base: str | Path, n_train: int, n_val: int) -> tuple[Path, Path]:
    """A look-alike in base/coco and its features (tiny open_clip, seed 7) in base/features: (root, features)."""
    from aecf.data import coco  # open_clip with it: seconds to import, only for the tests that build features

    base = Path(base)
    root = make_coco(base / "coco", n_train=n_train, n_val=n_val)
    config = write_tiny_clip(base)
    features = base / "features"
    rc = coco.main(
        [
            "--root",
            str(root),
            "--clip",
            str(config),
            "--pretrained",
            "none",
            "--seed",
            "7",
            "--out",
            str(features),
        ]
        + ["--num-workers", "0", "--batch-size", "16", "--device", "cpu"]
    )
    assert rc == 0
    return root, features


if __name__ == "__main__":
    import sys

    print(make_coco(sys.argv[1] if len(sys.argv) > 1 else "coco-fixture"))
