"""The dataset format: a folder of embeddings from anyone's frozen encoders (docs/data-format.md).

    dataset.json   {"name": str, "task": "multiclass" | "multilabel", "classes": [str, ...],
                    "modalities": [{"name": str, "dim": int}, ...]}                 2 to 8 modalities
    train.npz      one array per modality name, [N, dim] float16/32/64;
                   "label": [N] int class index (multiclass) or [N, C] 0/1 (multilabel);
                   optional "present": [N, M] bool (modalities missing in the data itself);
                   optional "severity": [N, M] float in [0, 1] (how degraded each input is, when known);
                   any other array is an extra, carried along and never trained on
    val.npz        optional: when absent, a seeded 15 % of train is held out (stratified by class)
    test.npz

    spec = DatasetSpec("mine", "multiclass", ("cat", "dog"), (("image", 512), ("text", 384)))
    write_dataset("my-data", spec, {"train": {"image": ..., "text": ..., "label": ...}, "test": {...}})
    data = read_dataset("my-data")            # validates everything; bad input -> aecf.errors.InputError
    train = data.split("train")               # a FeatureSplit: features, label, present, severity

Arrays are read with `allow_pickle=False` and never through pickle. Members of an `.npz` written by
`np.savez` (stored, not compressed) are memory-mapped in place, so a dataset larger than memory trains from
disk; members of `np.savez_compressed` files are decompressed into memory.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from aecf.errors import InputError
from aecf.files import write_atomic, write_json_atomic

TASKS = ("multiclass", "multilabel")
SPLITS = ("train", "val", "test")
MIN_MODALITIES, MAX_MODALITIES = 2, 8
RESERVED = ("label", "present", "severity")  # array names that are not modalities
FLOAT_DTYPES = (np.float16, np.float32, np.float64)
VAL_FRACTION = 0.15  # held out of train when there is no val.npz
VAL_SEED = 0
SPEC_KEYS = ("name", "task", "classes", "modalities", "description")
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\- ]*$")  # a modality name is an array name in the .npz
_CHUNK_NUMBERS = 2**21  # values per pass when checking or summarising a big array (16 MB as float64)


def _chunk(width: int) -> int:
    """Rows per pass over an array `width` values wide."""
    return max(1, _CHUNK_NUMBERS // max(1, width))


# ------------------------------------------------------------------------------------------ the spec


@dataclass(frozen=True)
class DatasetSpec:
    """What `dataset.json` says: the dataset's name, task, class names and modalities with their widths."""

    name: str
    task: str
    classes: tuple[str, ...]
    modalities: tuple[tuple[str, int], ...]  # (name, dim), in the order the model sees them
    description: str = ""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m for m, _ in self.modalities)

    @property
    def dims(self) -> tuple[int, ...]:
        return tuple(int(d) for _, d in self.modalities)

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    def to_dict(self) -> dict:
        d = {
            "name": self.name,
            "task": self.task,
            "classes": list(self.classes),
            "modalities": [{"name": m, "dim": int(d)} for m, d in self.modalities],
        }
        if self.description:
            d["description"] = self.description
        return d

    @classmethod
    def from_dict(cls, d, where: str = "dataset.json") -> DatasetSpec:
        """Validate and build; every problem is an InputError that names `where` and the key."""
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected a JSON object with name, task, classes and modalities.")
        unknown = sorted(set(d) - set(SPEC_KEYS))
        if unknown:
            raise InputError(f"{where}: unknown key(s) {unknown}; the keys are {list(SPEC_KEYS)}.")
        missing = [k for k in ("name", "task", "classes", "modalities") if k not in d]
        if missing:
            raise InputError(f"{where}: missing key(s) {missing} (see docs/data-format.md).")
        name = d["name"]
        if not isinstance(name, str) or not name.strip():
            raise InputError(f'{where}: "name" must be a non-empty string.')
        if d["task"] not in TASKS:
            raise InputError(f'{where}: "task" is {d["task"]!r}; use "multiclass" or "multilabel".')
        classes = d["classes"]
        if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
            raise InputError(f'{where}: "classes" must be a list of non-empty strings.')
        if len(classes) < 2:
            raise InputError(f'{where}: "classes" lists {len(classes)} class(es); a task needs at least 2.')
        if len(set(classes)) != len(classes):
            raise InputError(f'{where}: "classes" has duplicates; give every class a distinct name.')
        mods = d["modalities"]
        if not isinstance(mods, list):
            raise InputError(f'{where}: "modalities" must be a list of {{"name": ..., "dim": ...}}.')
        if not MIN_MODALITIES <= len(mods) <= MAX_MODALITIES:
            raise InputError(
                f"{where}: {len(mods)} modalities; AECF fuses {MIN_MODALITIES} to {MAX_MODALITIES}. "
                + ("Add another modality." if len(mods) < MIN_MODALITIES else "Merge or drop some.")
            )
        pairs = []
        for i, m in enumerate(mods):
            if not isinstance(m, dict) or set(m) != {"name", "dim"}:
                raise InputError(
                    f'{where}: modality #{i + 1} must be {{"name": str, "dim": int}}, got {m!r}.'
                )
            mname, dim = m["name"], m["dim"]
            if not isinstance(mname, str) or not _NAME.match(mname):
                raise InputError(
                    f"{where}: modality name {mname!r} must start with a letter, digit or _ and use only "
                    "letters, digits, _ . - and spaces (it names an array in the .npz files)."
                )
            if mname in RESERVED:
                raise InputError(f"{where}: {mname!r} is reserved for another array; rename the modality.")
            if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
                raise InputError(f"{where}: modality {mname!r} has dim {dim!r}; give a positive integer.")
            pairs.append((mname, dim))
        if len({m for m, _ in pairs}) != len(pairs):
            raise InputError(f"{where}: two modalities share a name; names must be distinct.")
        return cls(name.strip(), d["task"], tuple(classes), tuple(pairs), str(d.get("description", "") or ""))


# ------------------------------------------------------------------------------------ one split


def _rows_of(value) -> np.ndarray:
    return np.asarray(value.cpu() if torch.is_tensor(value) else value)


def _tensor(value) -> torch.Tensor:
    """A tensor that owns its memory (labels, presence and severity are small; features are not copied)."""
    return value if torch.is_tensor(value) else torch.from_numpy(np.array(value))


class FeatureSplit:
    """One split: a feature array per modality (memory-mapped where possible), labels, presence, severity.

    `x` is the whole split as one padded float32 tensor [N, M, D_max] (modality m in x[:, m, :dims[m]],
    zeros after it and wherever the modality is absent), built once on first use: fine for evaluation and
    the app. Training takes `batch(rows)` instead, which reads only those rows (no copy of the split).
    """

    def __init__(
        self,
        *,
        modalities,
        features,
        label,
        present=None,
        modality_severity=None,
        classes=None,
        task: str | None = None,
        extras: dict | None = None,
        rows=None,
    ):
        self.modalities = tuple(str(m) for m in modalities)
        self.features = list(features)  # [N_base, d_m] arrays (np.memmap, ndarray)
        if len(self.features) != len(self.modalities):
            raise ValueError("one feature array per modality")
        self.dims = tuple(int(f.shape[1]) for f in self.features)
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        n = len(self.rows) if self.rows is not None else int(self.features[0].shape[0])
        self.label = _tensor(label).long()
        if len(self.label) != n:
            raise ValueError(f"{len(self.label)} labels for {n} rows")
        M = len(self.modalities)
        self.present = torch.ones(n, M, dtype=torch.bool) if present is None else _tensor(present).bool()
        self.modality_severity = None if modality_severity is None else _tensor(modality_severity).float()
        self.task = task or ("multilabel" if self.label.ndim == 2 else "multiclass")
        n_classes = self.label.shape[1] if self.label.ndim == 2 else int(self.label.max()) + 1 if n else 0
        self.classes = tuple(classes) if classes is not None else tuple(str(i) for i in range(n_classes))
        self.extras = dict(extras or {})  # row-aligned arrays (already indexed) and others (whole)
        self._x: torch.Tensor | None = None

    @classmethod
    def from_stacked(cls, x: torch.Tensor, label, modalities, **kwargs) -> FeatureSplit:
        """A split from one [N, M, D] tensor (equal widths), e.g. synthetic data."""
        x = torch.as_tensor(x).float()
        return cls(
            modalities=modalities,
            features=[x[:, i].numpy() for i in range(x.shape[1])],
            label=label,
            **kwargs,
        )

    def __len__(self) -> int:
        return int(self.label.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"

    @property
    def embed_dim(self) -> int:
        return max(self.dims)

    @property
    def severity(self) -> torch.Tensor | None:
        """Mean severity over the modalities [N] (None when the data has none)."""
        return None if self.modality_severity is None else self.modality_severity.mean(dim=1)

    # the digits benchmark's extras (None elsewhere)
    @property
    def caption_level(self) -> torch.Tensor | None:
        v = self.extras.get("caption_level")
        return None if v is None else torch.as_tensor(np.asarray(v))

    @property
    def class_embeddings(self) -> torch.Tensor | None:
        v = self.extras.get("class_embeddings")
        return None if v is None else torch.as_tensor(np.asarray(v, dtype=np.float32))

    @property
    def logit_scale(self) -> float | None:
        v = self.extras.get("logit_scale")
        return None if v is None else float(np.asarray(v))

    # --------------------------------------------------------------------------------- features

    def _base_rows(self, index) -> np.ndarray:
        index = np.asarray(_rows_of(index), dtype=np.int64).reshape(-1)
        return index if self.rows is None else self.rows[index]

    def batch(self, index) -> torch.Tensor:
        """Rows `index` of the split as a padded float32 tensor [B, M, D_max] (absent modalities zero)."""
        base = self._base_rows(index)
        out = np.zeros((len(base), len(self.modalities), self.embed_dim), dtype=np.float32)
        order = np.argsort(base, kind="stable")  # ascending reads are kinder to a memory-mapped file
        for m, f in enumerate(self.features):
            out[order, m, : self.dims[m]] = f[base[order]]
        x = torch.from_numpy(out)
        pres = self.present[torch.as_tensor(np.asarray(_rows_of(index), dtype=np.int64).reshape(-1))]
        return x.masked_fill(~pres.unsqueeze(-1), 0.0)

    @property
    def x(self) -> torch.Tensor:
        """The whole split, padded float32 [N, M, D_max], built on first use and kept."""
        if self._x is None:
            self._x = (
                self.batch(np.arange(len(self)))
                if len(self)
                else torch.zeros(0, len(self.modalities), self.embed_dim)
            )
        return self._x

    def iter_batches(self, size: int = 4096):
        """(index, x) over the split in order, `size` rows at a time."""
        for start in range(0, len(self), size):
            index = np.arange(start, min(start + size, len(self)))
            yield index, self.batch(index)

    def feature_stats(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """Per-modality mean and std [M, D_max] over the rows where the modality is present (float64 sums,
        in chunks; std 1 where a feature is constant and in the padding), and whether every present input
        is a unit vector (within 1 %: CLIP-style embeddings). The standardisation of aecf.fusion."""
        M, D = len(self.modalities), self.embed_dim
        mean, std = torch.zeros(M, D, dtype=torch.float64), torch.ones(M, D, dtype=torch.float64)
        unit = True
        for m, f in enumerate(self.features):
            d, s, ss, n = self.dims[m], np.zeros(self.dims[m]), np.zeros(self.dims[m]), 0
            step = _chunk(d)
            for start in range(0, len(self), step):
                base = self._base_rows(np.arange(start, min(start + step, len(self))))
                keep = self.present[start : start + len(base), m].numpy()
                chunk = np.asarray(f[np.sort(base[keep])], dtype=np.float64)
                s += chunk.sum(0)
                ss += np.square(chunk).sum(0)
                n += len(chunk)
                unit = unit and bool(np.all(np.abs(np.linalg.norm(chunk, axis=1) - 1) <= 0.01))
            if n:
                mu = s / n
                sd = np.sqrt(np.maximum(ss / n - mu**2, 0.0))
                mean[m, :d] = torch.from_numpy(mu)
                std[m, :d] = torch.from_numpy(np.where(sd > 1e-6 * np.maximum(1.0, np.abs(mu)), sd, 1.0))
        return mean.float(), std.float(), unit

    # ------------------------------------------------------------------------------ selections

    def subset(self, index) -> FeatureSplit:
        """Some rows of the split (no copy of the features)."""
        index = np.asarray(_rows_of(index), dtype=np.int64).reshape(-1)
        t = torch.as_tensor(index)
        n = len(self)
        extras = {k: (np.asarray(v)[index] if _row_aligned(v, n) else v) for k, v in self.extras.items()}
        return FeatureSplit(
            modalities=self.modalities,
            features=self.features,
            label=self.label[t],
            present=self.present[t],
            modality_severity=None if self.modality_severity is None else self.modality_severity[t],
            classes=self.classes,
            task=self.task,
            extras=extras,
            rows=self._base_rows(index),
        )

    def select_modalities(self, modalities) -> FeatureSplit:
        """Keep only some modalities, in the order given (rows where none of them is present are dropped)."""
        keep = [self.modalities.index(m) for m in modalities]
        present = self.present[:, keep]
        rows = torch.nonzero(present.any(dim=1)).flatten().numpy()
        split = FeatureSplit(
            modalities=modalities,
            features=[self.features[i] for i in keep],
            label=self.label,
            present=present,
            modality_severity=None if self.modality_severity is None else self.modality_severity[:, keep],
            classes=self.classes,
            task=self.task,
            extras=self.extras,
            rows=self.rows,
        )
        return split if len(rows) == len(self) else split.subset(rows)

    def complete_rows(self) -> FeatureSplit:
        """Only the rows where every modality is present."""
        return self.subset(torch.nonzero(self.present.all(dim=1)).flatten().numpy())


def _row_aligned(value, n: int) -> bool:
    return isinstance(value, np.ndarray | torch.Tensor) and value.ndim >= 1 and value.shape[0] == n


# ------------------------------------------------------------------------------ reading .npz files

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip member's local file header


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of an .npz, without pickle: stored members memory-mapped, compressed ones decompressed.

    An object array (which only pickle could read) is an InputError naming the file and the array."""
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise InputError(f"{path.name} is not a readable .npz file ({e}); write it with numpy.savez.") from e
    arrays = {}
    with zf, open(path, "rb") as raw:
        for info in zf.infolist():
            if not info.filename.endswith(".npy"):
                raise InputError(
                    f"{path.name}: member {info.filename!r} is not a numpy array; write it with numpy.savez."
                )
            name = info.filename[: -len(".npy")]
            with zf.open(info) as f:
                try:
                    version = np.lib.format.read_magic(f)
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(f)
                except ValueError as e:
                    raise InputError(f"{path.name}: array {name!r} has a broken header ({e}).") from e
                if dtype.hasobject:
                    raise InputError(
                        f"{path.name}: array {name!r} holds Python objects (a pickled or object array), which "
                        "this project never loads. Save plain numeric arrays (e.g. np.asarray(x, np.float32))."
                    )
                header_len = f.tell()
                if info.compress_type == zipfile.ZIP_STORED and int(np.prod(shape)) > 0:
                    raw.seek(info.header_offset)
                    fields = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
                    start = info.header_offset + _LOCAL_HEADER.size + fields[-2] + fields[-1] + header_len
                    arrays[name] = np.memmap(
                        path, dtype=dtype, mode="r", offset=start, shape=shape, order="F" if fortran else "C"
                    )
                else:
                    try:
                        with zf.open(info) as again:  # read_array reads the header itself
                            arrays[name] = np.lib.format.read_array(again, allow_pickle=False)
                    except (ValueError, OSError, zipfile.BadZipFile) as e:
                        raise InputError(f"{path.name}: array {name!r} cannot be read ({e}).") from e
    return arrays


# --------------------------------------------------------------------------------------- reader


@dataclass
class Dataset:
    """A validated dataset folder. `split(name)` gives a FeatureSplit; `val_source` says where val came from."""

    directory: Path
    spec: DatasetSpec
    splits: dict[str, FeatureSplit] = field(default_factory=dict)
    val_source: str = "val.npz"

    @property
    def held_out_val(self) -> bool:
        return self.val_source != "val.npz"

    def split(self, name: str) -> FeatureSplit:
        if name not in SPLITS:
            raise ValueError(f"split {name!r}; choose from {SPLITS}")
        return self.splits[name]

    def nbytes(self) -> int:
        """Bytes of the feature arrays over every split file (what training reads from disk)."""
        seen, total = set(), 0
        for s in self.splits.values():
            for f in s.features:
                if id(f) not in seen:
                    seen.add(id(f))
                    total += f.nbytes
        return total


def read_spec(directory: str | Path) -> DatasetSpec:
    path = Path(directory) / "dataset.json"
    if not path.is_file():
        raise InputError(
            f"{path} not found: a dataset folder holds dataset.json, train.npz, test.npz and optionally "
            "val.npz (docs/data-format.md)."
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"dataset.json is not valid JSON ({e}).") from e
    return DatasetSpec.from_dict(doc)


def read_dataset(directory: str | Path, *, allow_absent_classes: bool = False) -> Dataset:
    """Read and validate a dataset folder (nothing is written). Every problem is an InputError naming the
    file, the array and what to do. `allow_absent_classes` accepts classes with no training example (our
    own test fixtures and feature caches of a few rows; a user's dataset should not need it)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputError(f"Dataset folder {directory} not found.")
    spec = read_spec(directory)
    raw = {}
    for name in SPLITS:
        path = directory / f"{name}.npz"
        if not path.is_file():
            if name == "val":
                continue
            raise InputError(f"{name}.npz not found in {directory}; a dataset needs train.npz and test.npz.")
        raw[name] = _read_split_file(path, spec)
    train_file = raw["train"]
    _check_train(train_file, spec, allow_absent_classes)
    splits = {name: _to_split(arrays, spec) for name, arrays in raw.items()}
    val_source = "val.npz"
    if "val" not in splits:
        train_rows, val_rows = held_out_rows(splits["train"], VAL_FRACTION, VAL_SEED)
        splits["val"] = splits["train"].subset(val_rows)
        splits["train"] = splits["train"].subset(train_rows)
        val_source = f"held out of train.npz: {len(val_rows)} rows ({VAL_FRACTION * 100:.0f} %, seed {VAL_SEED}, stratified)"
    return Dataset(directory, spec, {s: splits[s] for s in SPLITS}, val_source)


def held_out_rows(split: FeatureSplit, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, val rows): a seeded `fraction` of each class (multiclass; every class keeps at least one
    training row), or of all rows (multilabel); both sorted."""
    rng = np.random.default_rng(seed)
    n = len(split)
    if split.multilabel:
        perm = rng.permutation(n)
        k = min(n - 1, max(1, round(fraction * n)))
        val = perm[:k]
    else:
        label = split.label.numpy()
        val = []
        for c in np.unique(label):
            idx = rng.permutation(np.flatnonzero(label == c))
            val.extend(idx[: min(len(idx) - 1, round(fraction * len(idx)))].tolist())
        val = np.asarray(val, dtype=np.int64)
        if len(val) == 0 and n > 1:
            val = rng.permutation(n)[:1]
    val = np.sort(np.asarray(val, dtype=np.int64))
    return np.setdiff1d(np.arange(n), val), val


def _read_split_file(path: Path, spec: DatasetSpec) -> dict:
    """The arrays of one split file, checked against the spec (shapes, dtypes, values)."""
    f = path.name
    arrays = _npz_arrays(path)
    if "label" not in arrays:
        raise InputError(f'{f}: no "label" array; add one ([N] class indices or [N, C] 0/1).')
    label = np.asarray(arrays["label"])
    n = label.shape[0] if label.ndim else 0
    if n == 0:
        raise InputError(f"{f} is empty (0 rows); every split needs at least one example.")
    C = len(spec.classes)
    if spec.multilabel:
        if label.shape != (n, C):
            raise InputError(
                f'{f}: "label" has shape {label.shape}; a multilabel task needs [N, {C}] of 0/1.'
            )
        if (
            not (label.dtype == bool or np.issubdtype(label.dtype, np.number))
            or not np.isin(label, (0, 1)).all()
        ):
            raise InputError(f'{f}: "label" must hold only 0 and 1 (multilabel).')
        label = label.astype(np.int64)
        empty = np.flatnonzero(label.sum(1) == 0)
        if len(empty):
            raise InputError(
                f'{f}: "label" row {empty[0]} (and {len(empty) - 1} more) has no class; every multilabel row '
                "needs at least one 1. Drop those rows or add a class for them (e.g. 'none')."
            )
    else:
        if label.ndim != 1 or not np.issubdtype(label.dtype, np.integer):
            raise InputError(
                f'{f}: "label" is {label.dtype} {label.shape}; a multiclass task needs [N] integer class '
                f"indices 0..{C - 1}."
            )
        bad = np.flatnonzero((label < 0) | (label >= C))
        if len(bad):
            raise InputError(
                f'{f}: "label" row {bad[0]} is {label[bad[0]]}, outside the {C} classes of dataset.json '
                f"(0..{C - 1}); fix the labels or list the class."
            )
        label = label.astype(np.int64)
    M = len(spec.modalities)
    present = arrays.get("present")
    if present is not None:
        present = np.asarray(present)
        if present.shape != (n, M) or present.dtype != bool:
            raise InputError(
                f'{f}: "present" is {present.dtype} {present.shape}; it must be bool [N, M] = [{n}, {M}], '
                "columns in dataset.json's modality order."
            )
        none = np.flatnonzero(~present.any(1))
        if len(none):
            raise InputError(
                f'{f}: "present" row {none[0]} (and {len(none) - 1} more) has no modality; drop rows with nothing.'
            )
    else:
        present = np.ones((n, M), dtype=bool)
    severity = arrays.get("severity")
    if severity is not None:
        severity = np.asarray(severity)
        if severity.shape != (n, M) or not np.issubdtype(severity.dtype, np.floating):
            raise InputError(
                f'{f}: "severity" is {severity.dtype} {severity.shape}; it must be float [{n}, {M}].'
            )
        if not (np.isfinite(severity).all() and severity.min() >= 0 and severity.max() <= 1):
            raise InputError(f'{f}: "severity" must lie in [0, 1] (no NaN); rescale it or leave it out.')
    features = []
    for i, (m, dim) in enumerate(spec.modalities):
        if m not in arrays:
            raise InputError(f"{f}: no array {m!r}; dataset.json lists it as a modality ({dim} columns).")
        a = arrays[m]
        if a.ndim != 2 or a.shape[0] != n:
            raise InputError(
                f'{f}: array {m!r} has shape {a.shape} but "label" has {n} rows; every array needs one row '
                "per example, in the same order."
            )
        if a.shape[1] != dim:
            raise InputError(
                f"{f}: array {m!r} is {a.shape[1]} wide but dataset.json says dim {dim}; fix one of them."
            )
        if a.dtype.type not in FLOAT_DTYPES:
            raise InputError(f"{f}: array {m!r} is {a.dtype}; features must be float16, float32 or float64.")
        _check_finite(a, present[:, i], f, m)
        features.append(a)
    extras = {k: np.asarray(a) for k, a in arrays.items() if k not in spec.names and k not in RESERVED}
    return {
        "features": features,
        "label": label,
        "present": present,
        "severity": severity,
        "extras": extras,
        "file": f,
    }


def _check_finite(a: np.ndarray, present: np.ndarray, f: str, m: str) -> None:
    step = _chunk(a.shape[1])
    for start in range(0, a.shape[0], step):
        chunk = np.asarray(a[start : start + step])
        bad = ~np.isfinite(chunk).all(axis=1) & present[start : start + step]
        if bad.any():
            row = start + int(np.flatnonzero(bad)[0])
            raise InputError(
                f"{f}: array {m!r} has NaN or inf in row {row} where the modality is present; fix those rows "
                'or mark the modality absent there ("present").'
            )


def _check_train(arrays: dict, spec: DatasetSpec, allow_absent_classes: bool) -> None:
    """What only the training split must satisfy: every class seen, every modality present and varying."""
    f, label, present = arrays["file"], arrays["label"], arrays["present"]
    if not allow_absent_classes:
        counts = label.sum(0) if spec.multilabel else np.bincount(label, minlength=len(spec.classes))
        absent = [spec.classes[c] for c in np.flatnonzero(counts == 0)]
        if absent:
            raise InputError(
                f"{f}: class(es) {absent[:5]}{' ...' if len(absent) > 5 else ''} have no training example; "
                "add examples or remove the class from dataset.json."
            )
    for i, (m, _) in enumerate(spec.modalities):
        if not present[:, i].any():
            raise InputError(
                f'{f}: modality {m!r} is absent ("present" false) in every row; a model cannot learn it. '
                "Remove it from dataset.json or provide it."
            )
        a = arrays["features"][i]
        rows = np.flatnonzero(present[:, i])
        first = np.asarray(a[rows[0]])
        constant = True
        step = _chunk(a.shape[1])
        for start in range(0, len(rows), step):
            if not (np.asarray(a[rows[start : start + step]]) == first).all():
                constant = False
                break
        if constant:
            raise InputError(
                f"{f}: array {m!r} is the same in every row; it carries no information. Check the encoder "
                "that produced it, or remove the modality."
            )


def _to_split(arrays: dict, spec: DatasetSpec) -> FeatureSplit:
    return FeatureSplit(
        modalities=spec.names,
        features=arrays["features"],
        label=arrays["label"],
        present=arrays["present"],
        modality_severity=None if arrays["severity"] is None else np.asarray(arrays["severity"], np.float32),
        classes=spec.classes,
        task=spec.task,
        extras=arrays["extras"],
    )


# --------------------------------------------------------------------------------------- writer


def write_dataset(
    directory: str | Path, spec: DatasetSpec, splits: dict[str, dict], compress: bool = False
) -> Path:
    """Write dataset.json and one .npz per split given ("train" and "test" required, "val" optional).

    Each split is {modality: [N, dim], "label": ..., optional "present", "severity", extras}. Files are
    written with numpy.savez (memory-mappable) or savez_compressed (`compress`), atomically, and the folder
    is read back with read_dataset so that what was written is known to be valid."""
    directory = Path(directory)
    missing = [s for s in ("train", "test") if s not in splits]
    if missing or set(splits) - set(SPLITS):
        raise ValueError(f"splits must be train, test and optionally val; got {sorted(splits)}")
    DatasetSpec.from_dict(spec.to_dict())  # the same checks as reading
    directory.mkdir(parents=True, exist_ok=True)
    save = np.savez_compressed if compress else np.savez
    for name, arrays in splits.items():
        clean = {k: np.asarray(v.cpu() if torch.is_tensor(v) else v) for k, v in arrays.items()}
        write_atomic(directory / f"{name}.npz", lambda fh, c=clean: save(fh, **c))
    write_json_atomic(directory / "dataset.json", spec.to_dict())
    return directory


def describe(data: Dataset) -> str:
    """One paragraph about a dataset: sizes, modalities, where val came from."""
    sizes = ", ".join(f"{s} {len(data.splits[s]):,}" for s in SPLITS)
    mods = ", ".join(f"{m} ({d})" for m, d in data.spec.modalities)
    missing = sum(int((~s.present).sum()) for s in data.splits.values())
    text = (
        f"{data.spec.name}: {data.spec.task}, {len(data.spec.classes)} classes; {sizes}; modalities {mods}; "
        f"val: {data.val_source}"
    )
    if missing:
        text += f"; {missing:,} modality inputs missing in the data"
    return text + f"; features {data.nbytes() / 2**20:.1f} MiB"
