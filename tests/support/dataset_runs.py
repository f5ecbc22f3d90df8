"""Runs on a dataset other than the digits, the way the Train page leaves them (runs/<id>/ with data.json and
evaluation.json), trained for real but briefly; and small generated datasets stored as uploads, for the
Subsets and Curriculum pages' dataset views."""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path

import torch

from aecf import runs
from aecf.app import datasets as D
from aecf.data.generated import generate_dataset
from aecf.train import make_config, train


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


def generated_upload(tmp: Path, dims: dict[str, int], multilabel: bool = False, **kw) -> D.DatasetChoice:
    """A generated dataset (aecf.data.generated: it records a per-modality severity) stored as an upload (under
    AECF_APP_RUNS_DIR/datasets), the way the Train page stores one."""
    kw = {"n_train": 300, "n_test": 90, "n_val": 120} | kw
    folder = generate_dataset(tmp / "generated", dims, multilabel=multilabel, **kw)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{folder.name}/{path.name}")
    return D.store_upload(buf.getvalue(), f"{folder.name}.zip")
