"""The datasets the app offers: the shipped digits, the example datasets, and the ones people upload.

A dataset is a folder in the dataset format (`docs/data-format.md`, `aecf.data.dataset`). Each choice has a key
that fits in a URL (`?data=<key>`):

- `digits`: the shipped digits embeddings (`paths.feature_dir()`), the dataset every other view is about;
- `example:<folder>`: a dataset that ships under `assets/datasets/` (the UCI Multiple Features digits: six
  feature sets of different widths);
- `upload:<digest>`: a zip someone uploaded, stored once by content under `runs/datasets/` (`aecf.data.upload`).

Uploads and the runs trained on them are visible to every session of the server. Besides the runs people train,
a dataset may ship runs of its own (`shipped_runs`): the digits' checkpoints, and an example's trained by its
script, so that its views have something to show on a fresh clone. Nothing here imports Streamlit; the pages
cache what they load.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from aecf import paths, runs
from aecf.checkpoint import read_checkpoint_config
from aecf.data import upload as U
from aecf.data.dataset import SPLITS, Dataset, DatasetSpec, read_dataset, read_spec
from aecf.errors import CheckpointError, InputError
from aecf.evaluate import evaluate_stems
from aecf.files import write_json_atomic

DIGITS = "digits"
EXAMPLE = "example:"
UPLOAD = "upload:"


@dataclass(frozen=True)
class DatasetChoice:
    key: str  # "digits" | "example:<folder>" | "upload:<digest>"
    path: Path  # the dataset folder
    kind: str  # "shipped" | "example" | "uploaded"
    spec: DatasetSpec | None  # None when dataset.json cannot be read (then `problem` says why)
    filename: str = ""  # an upload's original file name
    problem: str | None = None

    @property
    def title(self) -> str:
        name = self.spec.name if self.spec else self.path.name
        if self.kind == "uploaded":
            return f"{name} (uploaded {self.filename})" if self.filename else f"{name} (uploaded)"
        if self.kind == "example":
            return f"{name} (example)"
        return f"{name} (shipped)"

    @property
    def is_digits(self) -> bool:
        return self.key == DIGITS


def dataset_choices() -> list[DatasetChoice]:
    """The shipped digits first, then the examples, then the uploads (newest first). A folder whose
    dataset.json cannot be read is still listed, with its problem, so that nobody wonders where it went."""
    choices = [_choice(DIGITS, paths.feature_dir(), "shipped")]
    examples = paths.DATASETS_DIR
    for folder in sorted(examples.iterdir()) if examples.is_dir() else ():
        if (folder / "dataset.json").is_file():
            choices.append(_choice(EXAMPLE + folder.name, folder, "example"))
    for stored in U.list_datasets(paths.datasets_dir()):
        choices.append(_choice(UPLOAD + stored.digest, stored.path, "uploaded", stored.filename))
    return choices


def resolve(key: str | None) -> DatasetChoice | None:
    """The choice with this key, or None for an unknown or malformed key (a URL may carry anything)."""
    if not key:
        return None
    return next((c for c in dataset_choices() if c.key == key), None)


def _choice(key: str, path: Path, kind: str, filename: str = "") -> DatasetChoice:
    try:
        return DatasetChoice(key, path, kind, read_spec(path), filename)
    except InputError as e:
        return DatasetChoice(key, path, kind, None, filename, problem=str(e))


def open_dataset(choice: DatasetChoice) -> Dataset:
    """The validated dataset (memory-mapped where the files allow it). InputError when it cannot be used."""
    if choice.problem:
        raise InputError(choice.problem)
    return read_dataset(choice.path, allow_absent_classes=choice.is_digits)


def store_upload(source: bytes | BinaryIO, filename: str) -> DatasetChoice:
    """Check, unpack, validate and store an uploaded zip (aecf.data.upload); the new (or same) choice.
    InputError, with nothing written, for anything that cannot be used."""
    stored = U.store_upload(source, read_dataset, filename=filename, root=paths.datasets_dir())
    return _choice(UPLOAD + stored.digest, stored.path, "uploaded", stored.filename)


def summary(data: Dataset) -> dict:
    """What a page shows about a dataset: task, classes, rows per split, where val came from, and per
    modality its width and the share of rows where it is present (in the data itself)."""
    rows = {s: len(data.splits[s]) for s in SPLITS if s in data.splits}
    modalities = []
    for m, (name, dim) in enumerate(data.spec.modalities):
        present = {s: float(data.splits[s].present[:, m].float().mean()) for s in rows}
        modalities.append(
            {"modality": name, "width": int(dim), **{f"present in {s}": v for s, v in present.items()}}
        )
    return {
        "name": data.spec.name,
        "task": data.spec.task,
        "classes": list(data.spec.classes),
        "rows": rows,
        "val_source": data.val_source,
        "held_out_val": data.held_out_val,
        "modalities": modalities,
        "feature_mib": data.nbytes() / 2**20,
        "description": data.spec.description,
    }


# ------------------------------------------------------------------------------------ shipped runs

SHIPPED = "shipped: "  # how a shipped run is named wherever it is listed beside people's runs


@dataclass(frozen=True)
class ShippedRun:
    """A checkpoint that ships with a dataset (seed 0 of its method), with its training records."""

    method: str  # the checkpoint's stem: "aecf", "late_fusion", "aecf.seed1" ...
    weights: Path | None  # <stem>.safetensors (None: only its training records ship)
    metrics: Path | None  # <stem>.metrics.jsonl

    @property
    def name(self) -> str:
        return shipped_name(self.method)

    @property
    def seed(self) -> int | None:
        """The training seed its checkpoint records (None without a checkpoint or a recorded seed)."""
        if self.weights is None:
            return None
        try:
            seed = (read_checkpoint_config(self.weights).get("train") or {}).get("seed")
        except CheckpointError:
            return None
        return seed if isinstance(seed, int) else None


@dataclass(frozen=True)
class Shipped:
    """What ships with a dataset: its runs, and their evaluation (a results JSON), each possibly absent."""

    runs: tuple[ShippedRun, ...] = ()
    results: Path | None = None

    @property
    def metrics(self) -> dict[str, Path]:
        """Name ("shipped: aecf") -> training records, for the runs that have them."""
        return {r.name: r.metrics for r in self.runs if r.metrics is not None}

    @property
    def checkpoints(self) -> dict[str, Path]:
        """Name -> weights, for the runs whose checkpoint ships."""
        return {r.name: r.weights for r in self.runs if r.weights is not None}


def shipped_name(method: str) -> str:
    """A shipped run's name: "shipped: aecf" (the Train page's yardsticks are named so)."""
    return SHIPPED + method


def shipped_runs(choice: DatasetChoice | None) -> Shipped:
    """The runs that ship with a dataset: for `example:<folder>`, the checkpoints in `checkpoints/datasets/<folder>/`
    and their evaluation `results/<folder>/results.json`; for the digits, their own (`paths.fusion_dir()`,
    `paths.results_json()`); none for an upload. Runs sorted by name; absent files are left out."""
    if choice is None or choice.kind == "uploaded":
        return Shipped()
    if choice.is_digits:
        folder, results = paths.fusion_dir(), paths.results_json()
    else:
        folder, results = paths.example_checkpoints(choice.path.name), paths.example_results(choice.path.name)
    return Shipped(_shipped_in(folder), results if results.is_file() else None)


def _shipped_in(folder: Path) -> tuple[ShippedRun, ...]:
    if not folder.is_dir():
        return ()
    weights = {p.name.removesuffix(".safetensors"): p for p in folder.glob("*.safetensors")}
    metrics = {p.name.removesuffix(".metrics.jsonl"): p for p in folder.glob("*.metrics.jsonl")}
    return tuple(
        ShippedRun(m, weights.get(m), metrics.get(m)) for m in sorted(weights.keys() | metrics.keys())
    )


def examples() -> list[DatasetChoice]:
    """The example datasets that ship with the app (each offered as a zip to download and upload again)."""
    return [c for c in dataset_choices() if c.kind == "example" and not c.problem]


def zip_name(choice: DatasetChoice) -> str:
    """The file name `dataset_zip` is offered under: the dataset's folder name."""
    return f"{_folder_name(choice)}.zip"


def _folder_name(choice: DatasetChoice) -> str:
    name = choice.spec.name if choice.spec else choice.path.name
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._") or "dataset"


@dataclass(frozen=True)
class UploadTerms:
    """What the Train page says about uploads on this server: the largest zip, the quota, what is used."""

    limit_mb: int
    quota_mb: float
    used_mb: float

    @property
    def sentence(self) -> str:
        return (
            f"A `.zip` of up to {self.limit_mb} MB. All uploads on this server together may take "
            f"{self.quota_mb:,.0f} MB unpacked; {self.used_mb:,.0f} MB are used."
        )


def upload_terms() -> UploadTerms:
    return UploadTerms(U.upload_limit_mb(), U.quota_bytes() / 1e6, U.used_bytes(paths.datasets_dir()) / 1e6)


def format_section() -> str:
    """§1 of docs/data-format.md (the format and what is refused), as the Train page shows it: the doc is the
    one statement of the format. Empty when the file is absent."""
    try:
        doc = paths.DATA_FORMAT_DOC.read_text()
    except OSError:
        return ""
    start = doc.find("## 1.")
    end = doc.find("\n## 2.", start)
    if start < 0:
        return ""
    body = doc[start : end if end > 0 else None].split("\n", 1)[-1]
    return body.replace("\n### ", "\n#### ").strip()


def modality_rows(info: dict) -> list[dict[str, str]]:
    """`summary(...)["modalities"]` as the page's table: the width and, per split, the share of rows where the
    modality is present, in words ("100 %", "62.5 %")."""
    rows = []
    for m in info["modalities"]:
        row = {"modality": m["modality"], "width": str(m["width"])}
        for split in info["rows"]:
            share = m[f"present in {split}"] * 100
            row[f"present in {split}"] = f"{share:.0f} %" if share in (0, 100) else f"{share:.1f} %"
        rows.append(row)
    return rows


def val_words(info: dict) -> str:
    """Where the validation split came from, in words."""
    if not info["held_out_val"]:
        return "val.npz (the dataset's own validation split)"
    return info["val_source"].replace("held out of train.npz", "held out of train.npz (no val.npz)")


def dataset_zip(choice: DatasetChoice) -> bytes:
    """The dataset's files as a zip in the upload format (one folder named after the dataset): an example to
    download, look at and upload again, or a copy of an upload."""
    if choice.problem:
        raise InputError(choice.problem)
    buf = io.BytesIO()
    folder = _folder_name(choice)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:  # .npz members are already compressed or raw
        for name in U.DATASET_FILES:
            if (choice.path / name).is_file():
                zf.write(choice.path / name, f"{folder}/{name}")
    return buf.getvalue()


# ------------------------------------------------------------------------------------ runs on a dataset


def run_dataset(run_dir: str | Path) -> tuple[str, str]:
    """(key, name) of the dataset a run trained on: ("digits", "digits") for runs that record none."""
    found = runs.read_data(run_dir)
    if not found:
        return DIGITS, "digits"
    return str(found.get("key") or DIGITS), str(found.get("name") or found.get("key") or "?")


def run_dataset_key(run_dir: str | Path) -> str:
    """The dataset key a run trained on (`digits` for runs that record none)."""
    found = runs.read_data(run_dir)
    return found["key"] if found else DIGITS


def runs_on(key: str, runs_dir: str | Path | None = None) -> list[Path]:
    """Run folders trained on this dataset, newest first."""
    root = paths.runs_dir() if runs_dir is None else Path(runs_dir)
    return [r for r in runs.list_runs(root) if run_dataset_key(r) == key]


def evaluate_run(run_dir: str | Path, progress=None) -> Path:
    """Evaluate a finished run on its dataset's test split (validation for the temperature fits) and write
    runs/<id>/evaluation.json: `{"methods": {<run id>: ...}, "meta": ...}`, the layout of
    `python -m aecf evaluate --data`. InputError when its dataset is gone or its model was not saved."""
    run_dir = Path(run_dir)
    weights = run_dir / "model.safetensors"
    if not weights.is_file():
        raise InputError(f"Run {run_dir.name} saved no model: there is nothing to evaluate.")
    key = run_dataset_key(run_dir)
    choice = resolve(key)
    if choice is None:
        raise InputError(f"Run {run_dir.name} trained on a dataset this server no longer has ({key}).")
    data = open_dataset(choice)
    results = evaluate_stems(
        {run_dir.name: weights}, data.split("test"), data.split("val"), progress=progress
    )
    results["meta"]["dataset"] = {"key": key, "name": data.spec.name, "val_source": data.val_source}
    return write_json_atomic(run_dir / runs.EVALUATION_FILE, results)


def read_evaluation(run_dir: str | Path) -> dict | None:
    """A run's evaluation.json, or None when it has none (yet) or it cannot be read."""
    try:
        found = json.loads((Path(run_dir) / runs.EVALUATION_FILE).read_text())
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) and isinstance(found.get("methods"), dict) else None
