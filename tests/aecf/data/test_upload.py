"""Dataset zips: unsafe or broken ones are refused with a message and leave nothing; good ones are stored once."""

from __future__ import annotations

import io
import json
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aecf.data import upload as U
from aecf.errors import InputError

SPEC = {
    "name": "tiny",
    "task": "multiclass",
    "classes": ["a", "b"],
    "modalities": [{"name": "x", "dim": 3}, {"name": "y", "dim": 2}],
}


def npz_bytes(n: int = 8, seed: int = 0) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    np.savez(
        buf,
        x=rng.normal(size=(n, 3)).astype("float32"),
        y=rng.normal(size=(n, 2)).astype("float32"),
        label=np.arange(n) % 2,
    )
    return buf.getvalue()


def check(folder: Path) -> None:
    """A stand-in for the library's check: the manifest parses and every array loads without pickle."""
    spec = json.loads((folder / "dataset.json").read_text())
    for split in ("train", "test"):
        with np.load(folder / f"{split}.npz", allow_pickle=False) as z:
            for m in spec["modalities"]:
                if z[m["name"]].shape[1] != m["dim"]:
                    raise InputError(f"{split}.npz: {m['name']} is not {m['dim']} wide")


def make_zip(
    files: dict[str, bytes], compression=zipfile.ZIP_STORED, extra: list[zipfile.ZipInfo] = ()
) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for info in extra:
            zf.writestr(info, b"x")
    return buf.getvalue()


def good_files(prefix: str = "", seed: int = 0) -> dict[str, bytes]:
    return {
        f"{prefix}dataset.json": json.dumps(SPEC).encode(),
        f"{prefix}train.npz": npz_bytes(16, seed),
        f"{prefix}test.npz": npz_bytes(8, seed + 1),
    }


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name != ".lock") if root.exists() else []


def test_a_good_zip_is_stored_once_by_content(tmp_path):
    first = U.store_upload(make_zip(good_files()), check, "mine.zip", root=tmp_path)
    assert first.new and (first.path / "train.npz").is_file() and first.filename == "mine.zip"
    # the same files, zipped in a folder, deflated, with macOS's extras: the same dataset
    again = make_zip(
        good_files("tiny/") | {"__MACOSX/._x": b"", "tiny/notes.txt": b"hi"}, zipfile.ZIP_DEFLATED
    )
    second = U.store_upload(again, check, "again.zip", root=tmp_path)
    assert second.digest == first.digest and not second.new
    assert second.ignored == ("tiny/notes.txt",)
    assert leftovers(tmp_path) == [first.digest]
    assert [d.digest for d in U.list_datasets(tmp_path)] == [first.digest]
    other = U.store_upload(make_zip(good_files(seed=5)), check, "other.zip", root=tmp_path)
    assert other.digest != first.digest and len(U.list_datasets(tmp_path)) == 2


def symlink_info() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("train.npz")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize(
    ("zip_bytes", "message"),
    [
        (make_zip(good_files() | {"../evil.npz": b"x"}), "leaves its folder"),
        (make_zip(good_files() | {"/etc/evil": b"x"}), "leaves its folder"),
        (make_zip(good_files() | {"C:/evil": b"x"}), "leaves its folder"),
        (
            make_zip(
                {"dataset.json": json.dumps(SPEC).encode(), "test.npz": npz_bytes()}, extra=[symlink_info()]
            ),
            "link",
        ),
        (make_zip({"train.npz": npz_bytes(), "test.npz": npz_bytes()}), "no dataset.json"),
        (make_zip({"dataset.json": json.dumps(SPEC).encode(), "train.npz": npz_bytes()}), "no test.npz"),
        (b"PK\x03\x04 this is not a zip", "not a readable zip"),
        (make_zip(good_files() | {"train.npz": b"\0" * (8 << 20)}, zipfile.ZIP_DEFLATED), "zip bomb"),
    ],
    ids=["dotdot", "absolute", "drive", "symlink", "no-manifest", "no-test", "not-zip", "bomb-ratio"],
)
def test_unsafe_or_broken_zips_are_refused_and_leave_nothing(tmp_path, zip_bytes, message):
    U.store_upload(make_zip(good_files(seed=9)), check, "kept.zip", root=tmp_path)
    before = leftovers(tmp_path)
    with pytest.raises(InputError, match=message):
        U.store_upload(zip_bytes, check, "bad.zip", root=tmp_path)
    assert leftovers(tmp_path) == before
    assert not (tmp_path.parent / "evil.npz").exists()


def test_a_member_that_unpacks_larger_than_declared_is_refused(tmp_path):
    data = bytearray(make_zip(good_files() | {"train.npz": np.random.default_rng(0).bytes(3 << 20)}))
    # lie in the central directory: train.npz says it is 1 MiB
    info = zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("train.npz")
    cd = [
        i
        for i in range(len(data))
        if data[i : i + 4] == b"PK\x01\x02" and data[i + 46 : i + 55] == b"train.npz"
    ]
    assert cd and info.file_size == 3 << 20
    data[cd[0] + 24 : cd[0] + 28] = (1 << 20).to_bytes(4, "little")
    with pytest.raises(InputError):
        U.store_upload(bytes(data), check, "liar.zip", root=tmp_path)
    assert leftovers(tmp_path) == []


def test_an_encrypted_member_is_refused(tmp_path):
    data = bytearray(make_zip(good_files()))
    for i in range(len(data)):  # set the "encrypted" bit in every header of the directory
        if data[i : i + 4] == b"PK\x01\x02":
            data[i + 8] |= 0x1
    with pytest.raises(InputError, match="encrypted"):
        U.store_upload(bytes(data), check, "locked.zip", root=tmp_path)


def test_a_dataset_the_library_refuses_leaves_nothing(tmp_path):
    bad = good_files()
    bad["dataset.json"] = json.dumps(
        SPEC | {"modalities": [{"name": "x", "dim": 4}, {"name": "y", "dim": 2}]}
    ).encode()
    with pytest.raises(InputError, match="not 4 wide"):
        U.store_upload(make_zip(bad), check, "wide.zip", root=tmp_path)
    assert leftovers(tmp_path) == []


def test_size_limit_and_quota_come_with_their_numbers(tmp_path, monkeypatch):
    big = make_zip(good_files() | {"train.npz": np.random.default_rng(1).bytes(2_500_000)})
    monkeypatch.setenv("AECF_APP_UPLOAD_MB", "2")
    with pytest.raises(InputError, match="limited to 2 MB"):
        U.store_upload(big, check, "big.zip", root=tmp_path)
    monkeypatch.delenv("AECF_APP_UPLOAD_MB")
    monkeypatch.setenv("AECF_APP_UPLOAD_QUOTA_MB", "1")
    U.store_upload(make_zip(good_files()), check, "small.zip", root=tmp_path)
    with pytest.raises(InputError, match="of 1 MB on this server"):
        U.store_upload(big, check, "big.zip", root=tmp_path)
    assert len(leftovers(tmp_path)) == 1


def test_two_uploads_at_once(tmp_path):
    zips = [make_zip(good_files()), make_zip(good_files()), make_zip(good_files(seed=3))]
    results, errors = [], []

    def go(z):
        try:
            results.append(U.store_upload(z, check, "at-once.zip", root=tmp_path))
        except Exception as e:  # noqa: BLE001 - the test reports any
            errors.append(e)

    threads = [threading.Thread(target=go, args=(z,)) for z in zips]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({r.digest for r in results}) == 2 and sum(r.new for r in results) == 2
    assert len(leftovers(tmp_path)) == 2
