"""Dataset zips for the upload tests: a generated dataset zipped as a person would, and zips that must be
refused (each with the words its message must hold)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np

from aecf.data.generated import generate_dataset

SIX = {"view_a": 24, "view_b": 16, "view_c": 32, "view_d": 8, "view_e": 12, "view_f": 20}


def six_modalities(
    folder: Path, n_train: int = 600, n_test: int = 150, name: str = "six views", **kw
) -> Path:
    """A generated 6-modality dataset (some rows missing modalities), no val.npz (15 % held out)."""
    return generate_dataset(folder, SIX, n_train=n_train, n_test=n_test, missing=0.2, name=name, **kw)


def zip_folder(folder: Path, top: str | None = "dataset", extra: dict[str, bytes] | None = None) -> bytes:
    """The folder's files in a zip (under `top`/, as "Compress" on a folder does), plus `extra` members."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(Path(folder).iterdir()):
            if path.is_file():
                zf.write(path, f"{top}/{path.name}" if top else path.name)
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return buf.getvalue()


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def _zip(files: dict[str, bytes], compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _arrays(data: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


BAD_UPLOADS = (
    "path escapes",
    "zip bomb",
    "pickled array",
    "no dataset.json",
    "rows mismatch",
    "nan",
    "width",
    "label outside",
    "class absent",
    "nine modalities",
    "constant",
    "not a zip",
)


def bad_zips(good: Path) -> dict[str, tuple[bytes, str]]:
    """name -> (zip bytes, words its message holds): each breaks one rule of the upload or of the format,
    starting from the dataset folder `good` (two modalities at least, written by `six_modalities`)."""
    files = _files(good)
    spec = json.loads(files["dataset.json"])
    first = spec["modalities"][0]["name"]
    train = _arrays(files["train.npz"])

    def with_train(**changes) -> bytes:
        return _zip(files | {"train.npz": _npz(**(train | changes))})

    def with_spec(**changes) -> bytes:
        return _zip(files | {"dataset.json": json.dumps(spec | changes).encode()})

    objects = np.empty(len(train["label"]), dtype=object)
    objects[:] = [np.zeros(3)] * len(objects)
    nan = train[first].copy()
    nan[np.argmax(train.get("present", np.ones((len(nan), 1), bool))[:, 0]), 0] = np.nan
    wide = [dict(m, dim=m["dim"] + 1) if i == 0 else m for i, m in enumerate(spec["modalities"])]
    nine = [{"name": f"m{i}", "dim": 2} for i in range(9)]
    label = train["label"].copy()
    label[0] = len(spec["classes"])
    absent = train["label"].copy()
    absent[absent == 0] = 1
    return {
        "path escapes": (_zip(files | {"../escape.npz": b"x"}), "leaves its folder"),
        "zip bomb": (
            _zip(files | {"train.npz": b"\0" * (16 << 20)}, zipfile.ZIP_DEFLATED),
            "zip bomb",
        ),
        "pickled array": (with_train(**{first: objects}), "Python objects"),
        "no dataset.json": (_zip({k: v for k, v in files.items() if k != "dataset.json"}), "no dataset.json"),
        "rows mismatch": (with_train(**{first: train[first][:-1]}), "rows"),
        "nan": (with_train(**{first: nan}), "NaN or inf"),
        "width": (with_spec(modalities=wide), "wide but dataset.json says"),
        "label outside": (with_train(label=label), "outside the"),
        "class absent": (with_train(label=absent), "no training example"),
        "nine modalities": (with_spec(modalities=nine), "2 to 8"),
        "constant": (with_train(**{first: np.ones_like(train[first])}), "the same in every row"),
        "not a zip": (b"PK\x03\x04 not really a zip", "not a readable zip"),
    }
