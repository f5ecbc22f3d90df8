"""Datasets uploaded as a zip: checked before a byte is written, stored once by content, listed by name.

A person uploads a `.zip` of the folder that `docs/data-format.md` describes (`dataset.json`, `train.npz`,
optional `val.npz`, `test.npz`), flat or inside one top folder. `store_upload` reads the zip's directory first
and refuses, with an `InputError` that says why:

- paths that leave the folder (absolute, `..`, a drive letter), links, encrypted members;
- a zip bomb: more than `MAX_RATIO` times compression on a member, or more uncompressed bytes than
  `max_unpacked_bytes()` in all — counted again while unpacking, since a zip's directory can lie;
- no `dataset.json`, a zip over `upload_limit_mb()`, or a dataset that would take the uploads over
  `quota_bytes()`.

Only the dataset's own files are unpacked (anything else in the zip is ignored and named), into a temporary
folder beside the store, where the library's own check (`validate`, normally `aecf.data.dataset.read_dataset`)
reads it. Only a dataset that passes is renamed into place, as `<store>/<digest>/`, where the digest is the
SHA-256 of the dataset files' names and bytes: the same files uploaded twice are one dataset, however they were
zipped. A failed upload leaves nothing behind; existing datasets are never touched. Two uploads at once each
unpack into their own temporary folder; the quota check and the rename hold a lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import stat
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from aecf import paths
from aecf.errors import InputError
from aecf.files import write_json_atomic

DATASET_FILES = ("dataset.json", "train.npz", "val.npz", "test.npz")
REQUIRED_FILES = ("dataset.json", "train.npz", "test.npz")
IGNORED_PREFIXES = ("__MACOSX/",)  # what macOS's "Compress" adds beside the folder
MAX_RATIO = 200  # uncompressed / compressed for one member; random-ish float features compress ~1.1x
RATIO_FLOOR = 1 << 20  # members under 1 MiB unpacked are never refused for their ratio
MAX_MEMBERS = 256  # entries in the zip's directory, ignored ones included
CHUNK = 1 << 20
UPLOAD_JSON = "upload.json"  # beside the dataset: its original file name, when, how big
DIGEST_CHARS = 16


def upload_limit_mb() -> int:
    """The largest zip the Train page accepts, in MB (AECF_APP_UPLOAD_MB; default 300)."""
    return _env_int(paths.ENV["upload_mb"], 300)


def quota_bytes() -> int:
    """All uploaded datasets together may take this many bytes unpacked (AECF_APP_UPLOAD_QUOTA_MB; 2 GB)."""
    return _env_int(paths.ENV["upload_quota_mb"], 2000) * 1_000_000


def max_unpacked_bytes() -> int:
    """One upload may unpack to at most this many bytes: four times the zip limit (npz members are stored
    uncompressed by `np.savez`, so a real dataset unpacks to about its zip's size)."""
    return 4 * upload_limit_mb() * 1_000_000


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return max(1, int(value)) if value else default
    except ValueError:
        return default


@dataclass(frozen=True)
class StoredDataset:
    """A dataset in the store: its folder (named by digest), what the upload was called, and its size."""

    digest: str
    path: Path
    filename: str
    uploaded: float
    bytes: int
    ignored: tuple[str, ...] = field(default=())  # zip members that were not unpacked
    new: bool = True  # False when the same files were already stored


def datasets_root() -> Path:
    return paths.datasets_dir()


def store_upload(
    source: bytes | BinaryIO | str | Path,
    validate: Callable[[Path], object],
    filename: str = "dataset.zip",
    root: Path | None = None,
) -> StoredDataset:
    """Check the zip `source`, unpack its dataset, `validate(folder)` it, and store it by content.

    Raises `InputError` (nothing written) for any zip or dataset that cannot be used."""
    root = datasets_root() if root is None else Path(root)
    size = _source_size(source)
    limit = upload_limit_mb()
    if size > limit * 1_000_000:
        raise InputError(
            f"{filename} is {size / 1e6:.0f} MB; uploads are limited to {limit} MB. Store the features as "
            "float16, or leave out rows, and zip again."
        )
    try:
        with _open_zip(source) as zf:
            members, ignored = _plan(zf, filename)
            unpacked = sum(info.file_size for info in members.values())
            _check_quota(root, unpacked, filename)
            root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=root))
            try:
                digest = _unpack(zf, members, staging, filename)
                validate(staging)
                return _commit(root, staging, digest, filename, ignored)
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    except zipfile.BadZipFile as e:
        raise InputError(
            f"{filename} is not a readable zip file ({e}). Zip the dataset folder again."
        ) from None
    except (zipfile.LargeZipFile, NotImplementedError) as e:
        raise InputError(f"{filename} uses a zip feature this app does not read ({e}).") from None


def list_datasets(root: Path | None = None) -> list[StoredDataset]:
    """The stored datasets, newest first (folders without an upload record are skipped)."""
    root = datasets_root() if root is None else Path(root)
    found = []
    for folder in root.iterdir() if root.is_dir() else ():
        record = folder / UPLOAD_JSON
        if folder.name.startswith(".") or not record.is_file():
            continue
        try:
            meta = json.loads(record.read_text())
            found.append(
                StoredDataset(
                    digest=folder.name,
                    path=folder,
                    filename=str(meta.get("filename", folder.name)),
                    uploaded=float(meta.get("uploaded", 0.0)),
                    bytes=int(meta.get("bytes", 0)),
                    new=False,
                )
            )
        except (OSError, ValueError, TypeError):
            continue
    return sorted(found, key=lambda d: d.uploaded, reverse=True)


def used_bytes(root: Path | None = None) -> int:
    """Bytes the stored datasets take (what the quota counts)."""
    root = datasets_root() if root is None else Path(root)
    return sum(d.bytes for d in list_datasets(root))


# ------------------------------------------------------------------------------------ steps


def _source_size(source) -> int:
    if isinstance(source, bytes | bytearray):
        return len(source)
    if isinstance(source, str | Path):
        return Path(source).stat().st_size
    here = source.tell()
    source.seek(0, os.SEEK_END)
    end = source.tell()
    source.seek(here)
    return end


@contextmanager
def _open_zip(source) -> Iterator[zipfile.ZipFile]:
    if isinstance(source, bytes | bytearray):
        source = io.BytesIO(source)
    with zipfile.ZipFile(source) as zf:
        yield zf


def _member_path(info: zipfile.ZipInfo, filename: str) -> PurePosixPath | None:
    """The member's path inside the zip, or None for entries that are skipped; InputError for unsafe ones."""
    name = info.filename.replace("\\", "/")
    if info.is_dir() or name.startswith(IGNORED_PREFIXES) or PurePosixPath(name).name.startswith("."):
        return None
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or (path.parts and ":" in path.parts[0]):
        raise InputError(
            f"{filename} holds a path that leaves its folder ({info.filename!r}). Zip the dataset folder itself."
        )
    if stat.S_ISLNK(info.external_attr >> 16):
        raise InputError(f"{filename} holds a link ({info.filename!r}); zip the files themselves.")
    if info.flag_bits & 0x1:
        raise InputError(f"{filename} is encrypted ({info.filename!r}); zip it without a password.")
    return path


def _plan(zf: zipfile.ZipFile, filename: str) -> tuple[dict[str, zipfile.ZipInfo], tuple[str, ...]]:
    """Which members to unpack (by dataset file name) and which are ignored."""
    infos = zf.infolist()
    if len(infos) > MAX_MEMBERS:
        raise InputError(
            f"{filename} holds {len(infos)} entries; a dataset is {len(DATASET_FILES)} files. Zip only the "
            "dataset folder."
        )
    paths_by_info = [(info, _member_path(info, filename)) for info in infos]
    manifests = [p for _, p in paths_by_info if p is not None and p.name == "dataset.json"]
    if not manifests:
        raise InputError(
            f"{filename} has no dataset.json. A dataset zip holds dataset.json, train.npz, test.npz (and "
            "optionally val.npz), at its top or in one folder: see docs/data-format.md."
        )
    folder = min(manifests, key=lambda p: len(p.parts)).parent
    members: dict[str, zipfile.ZipInfo] = {}
    ignored = []
    for info, path in paths_by_info:
        if path is None:
            continue
        if path.parent == folder and path.name in DATASET_FILES:
            if path.name in members:
                raise InputError(f"{filename} holds {path.name} twice.")
            members[path.name] = info
        else:
            ignored.append(str(path))
    missing = [name for name in REQUIRED_FILES if name not in members]
    if missing:
        raise InputError(
            f"{filename} has no {' or '.join(missing)} beside its dataset.json. See docs/data-format.md."
        )
    total = 0
    for name, info in members.items():
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_FLOOR and ratio > MAX_RATIO:
            raise InputError(
                f"{filename}: {name} unpacks {ratio:.0f} times larger than it is stored (a zip bomb?); the "
                f"limit is {MAX_RATIO} times."
            )
        total += info.file_size
    if total > max_unpacked_bytes():
        raise InputError(
            f"{filename} would unpack to {total / 1e6:.0f} MB; one upload may unpack to at most "
            f"{max_unpacked_bytes() / 1e6:.0f} MB."
        )
    return members, tuple(sorted(ignored))


def _check_quota(root: Path, incoming: int, filename: str) -> None:
    used = used_bytes(root)
    quota = quota_bytes()
    if used + incoming > quota:
        raise InputError(
            f"{filename} needs {incoming / 1e6:.0f} MB, and the uploaded datasets already take "
            f"{used / 1e6:.0f} of {quota / 1e6:.0f} MB on this server. Ask whoever runs it to remove old "
            "datasets under runs/datasets or to raise AECF_APP_UPLOAD_QUOTA_MB."
        )


def _unpack(zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], staging: Path, filename: str) -> str:
    """Copy the members into `staging`, counting real bytes against the declared sizes; return the digest."""
    digest = hashlib.sha256()
    budget = max_unpacked_bytes()
    for name in sorted(members):
        info = members[name]
        digest.update(name.encode() + b"\0")
        written = 0
        with zf.open(info) as src, open(staging / name, "wb") as dst:
            while chunk := src.read(CHUNK):
                written += len(chunk)
                budget -= len(chunk)
                if written > info.file_size or budget < 0:
                    raise InputError(
                        f"{filename}: {name} unpacks to more than its zip says (a zip bomb?); nothing was kept."
                    )
                digest.update(chunk)
                dst.write(chunk)
        digest.update(b"\0")
    return digest.hexdigest()[:DIGEST_CHARS]


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / ".lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _commit(root: Path, staging: Path, digest: str, filename: str, ignored: tuple[str, ...]) -> StoredDataset:
    """Rename the checked dataset into place (or find the same one already there), under the lock."""
    size = sum(p.stat().st_size for p in staging.iterdir())
    final = root / digest
    with _locked(root):
        if (final / UPLOAD_JSON).is_file():
            existing = next(d for d in list_datasets(root) if d.digest == digest)
            return StoredDataset(**{**existing.__dict__, "ignored": ignored, "new": False})
        _check_quota(root, size, filename)
        record = {"filename": Path(filename).name, "uploaded": time.time(), "bytes": size}
        write_json_atomic(staging / UPLOAD_JSON, record)
        if final.exists():  # a folder without its record: a crash between rename and record cannot happen,
            shutil.rmtree(final)  # but a person may have emptied it by hand
        os.replace(staging, final)
    return StoredDataset(digest, final, record["filename"], record["uploaded"], size, ignored, True)
