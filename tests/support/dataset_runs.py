"""Datasets of one's own and runs trained on them, for the tests of the pages that show them: generated datasets
stored as uploads (as the Train page stores one), and short runs on any dataset the app offers, recorded the way
the app records them (runs/<id>/data.json, and evaluation.json when asked)."""

from __future__ import annotations

import time
from pathlib import Path

import torch

from aecf import paths, runs
from aecf.app import datasets as D
from aecf.data.generated import generate_dataset
from aecf.train import make_config, train
from tests.support.dataset_zips import zip_folder


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


def generated_upload(tmp: Path, dims: dict[str, int], multilabel: bool = False, **kw) -> D.DatasetChoice:
    """A generated dataset (it records a per-modality severity) stored as an upload, with its val split."""
    kw = {"n_train": 300, "n_test": 90, "n_val": 120} | kw
    folder = generate_dataset(tmp / "generated", dims, multilabel=multilabel, **kw)
    return D.store_upload(zip_folder(folder, folder.name), f"{folder.name}.zip")


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
    runs.write_data(run_dir, choice.key, data.spec.name, choice.path)
    return run_dir


def train_runs(
    choice: D.DatasetChoice,
    runs_dir: Path,
    methods=("aecf", "late_fusion"),
    epochs: int = 3,
    evaluate: bool = True,
) -> list[Path]:
    """One run per method on `choice` (seed 0), in `runs_dir`, each evaluated unless `evaluate` is False;
    oldest first (a second apart, so that their start times order them)."""
    torch.set_num_threads(1)
    data = D.open_dataset(choice)
    made = []
    for method in methods:
        run_dir = runs.create_run_dir(method, 0, runs_dir)
        train(make_config(method, epochs=epochs), data.split("train"), data.split("val"), run_dir=run_dir)
        runs.write_data(run_dir, choice.key, data.spec.name, choice.path)
        if evaluate:
            D.evaluate_run(run_dir)
        made.append(run_dir)
        time.sleep(1.05)  # run ids and start times to the second
    return made
