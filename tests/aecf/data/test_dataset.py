"""The dataset format: round trip, memory mapping, the held-out validation split, and every bad input."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
import torch

from aecf.data.cache import load_split
from aecf.data.dataset import DatasetSpec, FeatureSplit, read_dataset, write_dataset
from aecf.errors import InputError
from aecf.paths import FEATURE_DIR


def make_arrays(n: int, spec: DatasetSpec, seed: int = 0, present: bool = False) -> dict:
    rng = np.random.default_rng(seed)
    C = len(spec.classes)
    out = {m: rng.normal(size=(n, d)).astype(np.float32) for m, d in spec.modalities}
    if spec.multilabel:
        label = (rng.random((n, C)) < 0.4).astype(np.int64)
        label[np.arange(n), np.arange(n) % C] = 1
    else:
        label = np.arange(n) % C
    out["label"] = label
    if present:
        p = rng.random((n, len(spec.modalities))) < 0.7
        p[np.arange(n), np.arange(n) % len(spec.modalities)] = True
        out["present"] = p
    return out


SPEC = DatasetSpec("toy", "multiclass", ("a", "b", "c"), (("img", 5), ("txt", 3), ("aud", 7)))


@pytest.fixture
def folder(tmp_path):
    splits = {"train": make_arrays(60, SPEC, 0, present=True), "test": make_arrays(20, SPEC, 1)}
    splits["train"]["severity"] = np.random.default_rng(2).random((60, 3)).astype(np.float32)
    return write_dataset(tmp_path / "toy", SPEC, splits), splits


def test_round_trip_memory_maps_and_holds_out_val(folder):
    path, splits = folder
    data = read_dataset(path)
    assert data.spec == SPEC
    tr, va, te = data.split("train"), data.split("val"), data.split("test")
    assert len(tr) + len(va) == 60 and len(te) == 20
    assert data.held_out_val and "15 %" in data.val_source
    assert len(va) == 9 and sorted(va.label.tolist()) == [
        0,
        0,
        0,
        1,
        1,
        1,
        2,
        2,
        2,
    ]  # stratified: 3 of 20 each
    assert isinstance(tr.features[0], np.memmap)  # np.savez stores members: read in place
    rows = np.setdiff1d(np.arange(60), tr.rows)
    assert np.array_equal(va.rows, rows)
    assert tr.dims == (5, 3, 7) and tr.x.shape == (len(tr), 3, 7)
    base = splits["train"]
    present = base["present"][tr.rows]
    for m, name in enumerate(("img", "txt", "aud")):
        d = SPEC.dims[m]
        want = np.where(present[:, m : m + 1], base[name][tr.rows], 0)
        assert np.array_equal(tr.x[:, m, :d].numpy(), want)
        assert tr.x[:, m, d:].abs().sum() == 0  # padding
    assert torch.equal(tr.present, torch.from_numpy(present))
    assert np.allclose(tr.modality_severity.numpy(), base["severity"][tr.rows])
    assert te.modality_severity is None and te.severity is None and bool(te.present.all())
    # batches read only their rows, in the order asked
    idx = np.array([5, 0, 3])
    assert torch.equal(tr.batch(idx), tr.x[idx])


def test_given_val_is_used_and_compressed_files_load(tmp_path):
    splits = {s: make_arrays(30, SPEC, i) for i, s in enumerate(("train", "val", "test"))}
    data = read_dataset(write_dataset(tmp_path / "d", SPEC, splits, compress=True))
    assert not data.held_out_val and len(data.split("val")) == 30
    assert not isinstance(data.split("train").features[0], np.memmap)
    assert np.array_equal(data.split("val").features[1], splits["val"]["txt"])


def test_multilabel_round_trip(tmp_path):
    spec = DatasetSpec("ml", "multilabel", ("x", "y", "z", "w"), (("a", 4), ("b", 4)))
    data = read_dataset(
        write_dataset(
            tmp_path / "ml", spec, {"train": make_arrays(40, spec), "test": make_arrays(10, spec, 1)}
        )
    )
    tr = data.split("train")
    assert tr.multilabel and tr.label.shape == (len(tr), 4) and len(data.split("val")) == 6


def test_the_shipped_digits_cache_reads_through_the_same_door():
    data = read_dataset(FEATURE_DIR)
    assert data.spec.names == ("image", "caption", "audio") and data.spec.classes[9] == "nine"
    test = load_split("test")
    assert torch.equal(test.x, data.split("test").x) and test.caption_level is not None
    assert test.class_embeddings.shape == (10, 64) and test.logit_scale > 0


def test_feature_split_selections():
    x = torch.randn(10, 3, 4)
    present = torch.ones(10, 3, dtype=torch.bool)
    present[2, 0] = False
    s = FeatureSplit.from_stacked(x, torch.arange(10) % 2, ("a", "b", "c"), present=present)
    assert torch.equal(s.subset([1, 3]).x, x[[1, 3]])
    only_a = s.select_modalities(["a"])
    assert len(only_a) == 9 and only_a.x.shape == (9, 1, 4)  # the row without "a" is gone
    assert len(s.complete_rows()) == 9
    mean, std, unit = s.feature_stats()
    assert not unit
    keep = present[:, 0]
    assert torch.allclose(mean[0], x[keep, 0].mean(0), atol=1e-5)
    assert torch.allclose(std[0], x[keep, 0].std(0, unbiased=False), atol=1e-5)


# ------------------------------------------------------------------------------------ bad inputs


def _write(tmp_path, spec_doc: dict, train: dict, test: dict | None = None):
    d = tmp_path / "bad"
    d.mkdir(exist_ok=True)
    (d / "dataset.json").write_text(json.dumps(spec_doc))
    np.savez(d / "train.npz", **train)
    np.savez(d / "test.npz", **(test if test is not None else make_arrays(10, SPEC, 9)))
    return d


def _expect(tmp_path, spec_doc, train, *words, test=None):
    d = _write(tmp_path, spec_doc, train, test)
    before = sorted(p.name for p in d.iterdir())
    with pytest.raises(InputError) as e:
        read_dataset(d)
    for w in words:
        assert w in str(e.value), str(e.value)
    assert sorted(p.name for p in d.iterdir()) == before  # nothing written
    return str(e.value)


def good():
    return make_arrays(30, SPEC, 3)


DOC = SPEC.to_dict()


def test_pickled_or_object_array(tmp_path):
    t = good()
    t["img"] = np.array([object()] * 30, dtype=object)
    _expect(tmp_path, DOC, t, "train.npz", "'img'", "objects")


def test_mismatched_row_counts(tmp_path):
    t = good()
    t["txt"] = t["txt"][:29]
    _expect(tmp_path, DOC, t, "train.npz", "'txt'", "one row per example")


def test_nan_or_inf_where_present(tmp_path):
    t = good()
    t["aud"][4, 2] = np.inf
    _expect(tmp_path, DOC, t, "train.npz", "'aud'", "row 4")


def test_nan_where_absent_is_fine(tmp_path):
    t = good()
    t["present"] = np.ones((30, 3), dtype=bool)
    t["present"][4, 2] = False
    t["aud"][4] = np.nan
    data = read_dataset(_write(tmp_path, DOC, t))
    assert torch.isfinite(data.split("train").x).all() and torch.isfinite(data.split("val").x).all()


def test_width_disagrees_with_dataset_json(tmp_path):
    t = good()
    t["img"] = np.zeros((30, 6), np.float32)
    _expect(tmp_path, DOC, t, "train.npz", "'img'", "6 wide", "dim 5")


def test_labels_outside_the_classes(tmp_path):
    t = good()
    t["label"][7] = 3
    _expect(tmp_path, DOC, t, "train.npz", '"label"', "row 7", "outside the 3 classes")


def test_a_class_absent_from_train(tmp_path):
    t = good()
    t["label"] = np.arange(30) % 2
    _expect(tmp_path, DOC, t, "train.npz", "['c']", "no training example")


@pytest.mark.parametrize("count", [1, 9])
def test_too_few_or_too_many_modalities(tmp_path, count):
    doc = {**DOC, "modalities": [{"name": f"m{i}", "dim": 2} for i in range(count)]}
    _expect(tmp_path, doc, good(), "dataset.json", f"{count} modalities", "2 to 8")


def test_a_modality_missing_in_every_row(tmp_path):
    t = good()
    t["present"] = np.ones((30, 3), dtype=bool)
    t["present"][:, 1] = False
    _expect(tmp_path, DOC, t, "train.npz", "'txt'", "every row")


def test_a_constant_modality(tmp_path):
    t = good()
    t["img"][:] = 0.5
    _expect(tmp_path, DOC, t, "train.npz", "'img'", "same in every row")


def test_an_empty_split(tmp_path):
    empty = {m: np.zeros((0, d), np.float32) for m, d in SPEC.modalities} | {"label": np.zeros(0, np.int64)}
    _expect(tmp_path, DOC, good(), "test.npz", "empty", test=empty)


def test_a_multilabel_row_with_no_label(tmp_path):
    spec = DatasetSpec("ml", "multilabel", ("x", "y"), (("a", 3), ("b", 3)))
    t = make_arrays(20, spec)
    t["label"][11] = 0
    _expect(tmp_path, spec.to_dict(), t, "train.npz", "row 11", "no class", test=make_arrays(5, spec, 1))


def test_other_bad_specs_and_files(tmp_path):
    _expect(tmp_path, {**DOC, "task": "regression"}, good(), "dataset.json", "multiclass")
    _expect(tmp_path, {**DOC, "modality": []}, good(), "dataset.json", "unknown key")
    _expect(tmp_path, {**DOC, "classes": ["a", "a", "b"]}, good(), "dataset.json", "duplicates")
    t = good()
    del t["txt"]
    _expect(tmp_path, DOC, t, "train.npz", "no array 'txt'")
    t = good()
    t["present"] = np.ones((30, 3), dtype=np.int64)
    _expect(tmp_path, DOC, t, "train.npz", '"present"', "bool")
    t = good()
    t["label"] = t["label"].astype(np.float32)
    _expect(tmp_path, DOC, t, "train.npz", '"label"', "integer")
    d = _write(tmp_path, DOC, good())
    (d / "test.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="test.npz is not a readable .npz"):
        read_dataset(d)
    (d / "test.npz").unlink()
    with pytest.raises(InputError, match="test.npz not found"):
        read_dataset(d)


def test_stored_members_are_memory_mapped_at_the_right_offset(tmp_path):
    a = np.arange(24, dtype=np.float16).reshape(6, 4)
    np.savez(tmp_path / "x.npz", label=np.arange(6), feature_with_a_long_name=a)
    with zipfile.ZipFile(tmp_path / "x.npz") as z:
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
    from aecf.data.dataset import _npz_arrays

    arrays = _npz_arrays(tmp_path / "x.npz")
    assert isinstance(arrays["feature_with_a_long_name"], np.memmap)
    assert np.array_equal(arrays["feature_with_a_long_name"], a)
