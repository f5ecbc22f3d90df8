"""Datasets of one's own and runs trained on them, for the tests of the pages that show them: a generated dataset
stored as an upload (as the Train page stores one), and a short run on any dataset the app offers, recorded the
way the app records it (runs/<id>/data.json)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from aecf import paths
from aecf.app import datasets as D
from aecf.data.generated import generate_dataset
from aecf.runs import write_data
from aecf.train import make_config, train


def zip_folder(folder: str | Path, top: str = "dataset") -> bytes:
    """A dataset folder as the zip a person uploads (its files inside one top folder)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(Path(folder).iterdir()):
            zf.write(f, f"{top}/{f.name}")
    return buf.getvalue()


def upload_generated(
    scratch: str | Path,
    name: str,
    dims: dict[str, int],
    missing: float = 0.0,
    multilabel: bool = False,
    n_train: int = 300,
    n_test: int = 40,
    num_classes: int = 4,
) -> D.DatasetChoice:
    """A generated dataset (aecf.data.generated), zipped and stored as an upload under the runs folder the app
    reads now (AECF_APP_RUNS_DIR)."""
    folder = generate_dataset(
        Path(scratch) / name,
        dims,
        n_train=n_train,
        n_test=n_test,
        num_classes=num_classes,
        missing=missing,
        multilabel=multilabel,
        name=name,
    )
    return D.store_upload(zip_folder(folder), f"{name}.zip")


def train_run(
    choice: D.DatasetChoice, method: str = "aecf", epochs: int = 1, run_id: str | None = None
) -> Path:
    """A short run of `method` on a dataset the app offers, in the app's runs folder, recording its dataset."""
    data = D.open_dataset(choice)
    run_dir = paths.runs_dir() / (run_id or f"{method}-{choice.key.replace(':', '-')}")
    train(
        make_config(method, epochs=epochs, batch_size=128),
        data.split("train"),
        data.split("val"),
        run_dir=run_dir,
    )
    write_data(run_dir, choice.key, data.spec.name, choice.path)
    return run_dir
