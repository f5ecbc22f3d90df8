"""COCO feature extraction on a COCO-format fixture, with random-weight open_clip models.

One reference run (tiny model, single process) is shared; the other tests resume from it, break it,
or redo it with torchrun and compare.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from aecf.data import coco
from aecf.data.cache import load_split
from aecf.encoders.clip import load_clip
from tests.support.coco_fixture import COCO_CATEGORIES, expected_labels, make_coco, write_tiny_clip

REPO = Path(__file__).resolve().parents[3]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def fixture(tmp_path_factory):
    base = tmp_path_factory.mktemp("coco")
    root = make_coco(base / "coco")
    config = write_tiny_clip(base)
    # Seeded random weights saved to a file: the `--pretrained PATH` route users take with real CLIP.
    from safetensors.torch import save_file

    model, _, _ = load_clip(str(config), "none", CPU, seed=7)
    weights = base / "tiny.safetensors"
    save_file(model.state_dict(), weights)
    return SimpleNamespace(base=base, root=root, config=config, weights=weights)


def argv(fx, out, *extra) -> list[str]:
    return [
        "--dataset",
        "coco",
        "--root",
        str(fx.root),
        "--clip",
        str(fx.config),
        "--pretrained",
        str(fx.weights),
        "--out",
        str(out),
        "--num-workers",
        "0",
        "--shard-size",
        "4",
        "--batch-size",
        "3",
        "--device",
        "cpu",
        *extra,
    ]


def vit_b_32_argv(fx, out, *extra) -> list[str]:
    """The command on the fixture with open_clip's real ViT-B-32 config, on the CPU; its weights in `extra`."""
    fixture_args = ["--dataset", "coco", "--root", str(fx.root), "--out", str(out)]
    return [*fixture_args, "--clip", "ViT-B-32", "--device", "cpu", *extra]


@pytest.fixture(scope="module")
def reference(fixture):
    out = fixture.base / "reference"
    assert coco.main(argv(fixture, out)) == 0
    return out


def load_all(out: Path) -> dict[str, dict[str, np.ndarray]]:
    result = {}
    for split in coco.SPLITS:
        with np.load(out / f"{split}.npz", allow_pickle=False) as z:
            result[split] = {k: z[k] for k in z.files}
    return result


def index(out: Path, split: str) -> dict[str, np.ndarray]:
    with np.load(out / f"{split}.index.npz", allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def count_decoded(monkeypatch) -> list[int]:
    """Record which images are decoded (num_workers 0 keeps the loader in this process)."""
    seen: list[int] = []
    original = coco._Images.__getitem__

    def spy(self, i):
        seen.append(i)
        return original(self, i)

    monkeypatch.setattr(coco._Images, "__getitem__", spy)
    return seen


def test_split_sizes_follow_the_authors_and_scale_down():
    assert coco.split_sizes(82_081, 40_137) == (60_000, 5_000, 5_000)  # full COCO-2014
    assert coco.split_sizes(15, 8) == (14, 1, 8)
    assert coco.split_sizes(1_300, 9_000) == (1_200, 100, 5_000)


def test_caption_choice_is_seeded_per_image():
    caps = [f"caption {i}" for i in range(5)]
    assert coco.choose_captions(caps, "first", 0, 1) == ["caption 0"]
    assert coco.choose_captions(caps, "all", 0, 1) == caps
    picks = {coco.choose_captions(caps, "random", 3, i)[0] for i in range(40)}
    assert len(picks) > 1
    assert coco.choose_captions(caps, "random", 3, 17) == coco.choose_captions(caps, "random", 3, 17)


def test_features_follow_the_annotations_and_the_model(fixture, reference):
    splits = {s: load_split(s, reference) for s in coco.SPLITS}
    assert {s: len(v) for s, v in splits.items()} == {"train": 14, "val": 1, "test": 8}
    column = {cid: i for i, (cid, _, _) in enumerate(COCO_CATEGORIES)}  # sorted category ids
    truth = {**expected_labels(fixture.root, "train"), **expected_labels(fixture.root, "val")}
    ids = {}
    for split, data in splits.items():
        assert data.modalities == ("image", "caption")
        assert data.x.shape == (len(data), 2, 32) and data.label.shape == (len(data), 80)
        assert data.num_classes == 80 and data.severity.abs().sum() == 0
        assert data.logit_scale == pytest.approx(1 / 0.07, rel=1e-4)  # open_clip's initial temperature
        assert torch.allclose(data.x.norm(dim=-1), torch.ones(len(data), 2), atol=1e-2)
        idx = index(reference, split)
        ids[split] = idx["image_id"]
        source = "val2014" if split == "test" else "train2014"
        assert all(str(f).startswith(f"{source}/") for f in idx["file_name"])
        for row, image_id in enumerate(idx["image_id"]):
            expected = np.zeros(80, dtype=np.int64)
            expected[[column[c] for c in truth[int(image_id)]]] = 1
            assert np.array_equal(data.label[row].numpy(), expected)
    assert not set(ids["train"]) & set(ids["val"])
    assert len(set(ids["train"]) | set(ids["val"])) == 15  # the 16th train image has no instance

    # The authors' draw (pycocotools imgToAnns order, random.seed(42), train2014 then val2014).
    def img_to_anns_order(source):
        data = json.loads((fixture.root / "annotations" / f"instances_{source}2014.json").read_text())
        return list(dict.fromkeys(a["image_id"] for a in data["annotations"]))

    random.seed(42)
    train_ids, val_ids = img_to_anns_order("train"), img_to_anns_order("val")
    random.shuffle(train_ids)
    random.shuffle(val_ids)
    assert sorted(ids["train"]) == sorted(train_ids[:14]) and list(ids["val"]) == train_ids[14:15]
    assert sorted(ids["test"]) == sorted(val_ids[:8])

    # `first` caption: the first one of the image in captions_*.json; embeddings are the model's.
    captions = json.loads((fixture.root / "annotations" / "captions_train2014.json").read_text())
    first = {}
    for a in captions["annotations"]:
        first.setdefault(a["image_id"], a["caption"])
    train_index = index(reference, "train")
    assert [first[int(i)] for i in train_index["image_id"]] == list(train_index["caption"])
    model, transform, tokenizer = load_clip(str(fixture.config), str(fixture.weights), CPU)
    from PIL import Image

    with torch.no_grad(), Image.open(fixture.root / str(train_index["file_name"][5])) as im:
        image = model.encode_image(transform(im.convert("RGB"))[None], normalize=True)[0]
    text = coco.encode_texts(model, tokenizer, [str(train_index["caption"][5]), "a photo of a person."], CPU)
    assert torch.allclose(splits["train"].x[5, 0], image, atol=2e-3)
    assert torch.allclose(splits["train"].x[5, 1], text[0], atol=2e-3)
    assert torch.allclose(splits["train"].class_embeddings[0], text[1], atol=1e-4)
    meta = json.loads((reference / "meta.json").read_text())
    assert meta["categories"][0] == {"id": 1, "name": "person"} and len(meta["categories"]) == 80


def test_resume_skips_finished_shards(fixture, reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    for name in ("train.npz", "val.npz", "test.npz"):
        (out / name).unlink()
    (out / "shards" / "test-00001.npz").unlink()
    (out / "shards" / "train-00003.npz").unlink()
    (out / "shards" / ".train-00002-killed.tmp").write_bytes(b"half a shard")
    # A finished shard is trusted, not recomputed: mark one to see it come through the merge.
    marked = out / "shards" / "train-00001.npz"
    with np.load(marked) as z:
        shard = {k: z[k] for k in z.files}
    np.savez(marked, **{**shard, "image": np.full_like(shard["image"], 0.5)})

    seen = count_decoded(monkeypatch)
    assert coco.main(argv(fixture, out)) == 0
    assert len(seen) == 4 + 2  # test-00001 (rows 4-7) and train-00003 (rows 12-13)
    assert not list((out / "shards").glob("*.tmp"))
    new, old = load_all(out), load_all(reference)
    assert np.all(new["train"]["image"][4:8] == np.float16(0.5))
    np.testing.assert_array_equal(new["train"]["image"][8:], old["train"]["image"][8:])
    np.testing.assert_allclose(new["test"]["image"], old["test"]["image"], atol=1e-3)


def test_interrupted_run_resumes(fixture, reference, tmp_path, monkeypatch):
    out = tmp_path / "out"
    written = []
    save = coco._save_npz

    def killed_at_third_shard(path, **arrays):
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(path)
        save(path, **arrays)

    monkeypatch.setattr(coco, "_save_npz", killed_at_third_shard)
    with pytest.raises(KeyboardInterrupt):
        coco.main(argv(fixture, out))
    assert sorted(p.name for p in (out / "shards").iterdir()) == ["train-00000.npz", "train-00001.npz"]
    assert not (out / "train.npz").exists()

    monkeypatch.setattr(coco, "_save_npz", save)
    seen = count_decoded(monkeypatch)
    assert coco.main(argv(fixture, out)) == 0
    assert len(seen) == 23 - 8
    new, old = load_all(out), load_all(reference)
    for split in coco.SPLITS:
        for key in old[split]:
            np.testing.assert_array_equal(new[split][key], old[split][key])


def test_other_settings_do_not_mix_into_a_run(fixture, reference, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(reference, out)
    assert coco.main(argv(fixture, out, "--seed", "1")) == 2
    assert "other settings" in capsys.readouterr().err


def test_captions_all_is_the_mean_of_every_caption(fixture, tmp_path):
    out = tmp_path / "out"
    assert coco.main(argv(fixture, out, "--captions", "all", "--limit", "2")) == 0
    split = load_split("test", out)
    captions = str(index(out, "test")["caption"][1]).split("\n")
    assert len(split) == 2 and len(captions) >= 2
    model, _, tokenizer = load_clip(str(fixture.config), str(fixture.weights), CPU)
    mean = torch.nn.functional.normalize(coco.encode_texts(model, tokenizer, captions, CPU).mean(0), dim=0)
    assert torch.allclose(split.x[1, 1], mean, atol=2e-3)


def test_clear_messages_offline(fixture, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOME", str(tmp_path))
    out = tmp_path / "out"
    args = vit_b_32_argv(fixture, out, "--cache-dir", str(tmp_path / "cache"))
    assert coco.main([*args, "--pretrained", "openai"]) == 2
    err = capsys.readouterr().err
    assert "not cached" in err and "--pretrained PATH" in err
    assert not (out / "plan.json").exists()  # a failed start pins nothing
    assert coco.main([*args, "--pretrained", str(tmp_path / "missing.safetensors")]) == 2
    assert "not found" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert coco.main(argv(fixture, out)[:2] + ["--root", str(empty)] + argv(fixture, out)[4:]) == 2
    assert "COCO-2014 layout" in capsys.readouterr().err


def test_torchrun_two_processes_match_one(fixture, reference, tmp_path):
    out = tmp_path / "out"
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "aecf.data.coco",
        *argv(fixture, out),
    ]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "on 2 rank(s)" in done.stderr
    # every 2nd pending shard: rank 0 takes train 0, 2, val 0, test 1 (13 images), rank 1 the rest (10)
    assert "13/13" in done.stderr and "10/10" in done.stderr
    new, old = load_all(out), load_all(reference)
    for split in coco.SPLITS:
        assert set(new[split]) == set(old[split])
        for key, value in old[split].items():
            if value.dtype.kind in "fi":
                np.testing.assert_allclose(new[split][key], value, atol=1e-3)
            else:
                np.testing.assert_array_equal(new[split][key], value)


@pytest.mark.slow
def test_vit_b_32_builds_with_random_weights(fixture, tmp_path):
    out = tmp_path / "out"
    args = vit_b_32_argv(
        fixture, out, "--pretrained", "none", "--limit", "2", "--num-workers", "0", "--batch-size", "2"
    )
    assert coco.main(args) == 0
    split = load_split("train", out)
    assert split.x.shape == (2, 2, 512) and split.class_embeddings.shape == (80, 512)
    assert torch.isfinite(split.x).all()
