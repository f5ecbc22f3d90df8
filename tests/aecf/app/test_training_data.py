"""The Train page's view-model on datasets other than the digits: runs that record their dataset and evaluate
themselves, progress with an ETA, the per-modality curves of any dataset, the checkpoint to take away."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

import pytest

from aecf import runs
from aecf.app import datasets as D
from aecf.app import training as T
from aecf.errors import InputError
from aecf.train import epochs_for, make_config, train
from tests.support.dataset_zips import SIX, six_modalities, zip_folder
from tests.support.fake_runs import fake_target


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture
def uploaded(runs_dir, tmp_path) -> D.DatasetChoice:
    return D.store_upload(zip_folder(six_modalities(tmp_path / "six")), "six.zip")


def _info(**kw) -> T.RunInfo:
    return T.RunInfo(**{"id": "r", "path": None, "state": "running", "config": {"epochs": 4}} | kw)


def test_progress_counts_steps_and_says_the_time_left_at_the_runs_pace():
    # 10 steps of 40 done, 60 s after the start: the whole run takes 240 s at this pace, 180 s are left, of
    # which 10 have passed since the last record
    rows = [{"kind": "step", "epoch": 0, "step": 5}, {"kind": "step", "epoch": 1, "step": 10}]
    running = _info(started=100.0, last_update=160.0)
    p = T.run_progress(rows, running, steps_per_epoch=10, now=170.0)
    assert p.fraction == pytest.approx(0.25) and p.seconds_left == pytest.approx(170.0)
    assert p.words == "epoch 1 of 4 · about 2 min 50 s left"
    # after an epoch its record gives the steps per epoch, whatever the caller guessed
    rows.append({"kind": "epoch", "epoch": 0, "step": 20})
    p = T.run_progress(rows, running, steps_per_epoch=None, now=160.0)
    assert p.fraction == pytest.approx(20 / 80) and p.words.startswith("epoch 2 of 4 · about 3 min")
    # nothing logged yet: no guess; finished: all done, nothing left
    assert T.run_progress([], running, 10, now=170.0).seconds_left is None
    done = T.run_progress(rows, _info(state="finished", config={"epochs": 1}), 10)
    assert done.fraction == 1.0 and done.seconds_left is None
    assert [T.duration_words(s) for s in (0.4, 59, 61, 3725)] == ["0 s", "59 s", "1 min 1 s", "1 h 2 min"]


def test_auto_epochs_are_the_librarys_default():
    assert T.auto_epochs(1400) == epochs_for(1400, make_config("aecf").batch_size) > T.auto_epochs(100_000)


def test_mask_rate_curves_follow_any_datasets_modalities():
    rows = [
        {"kind": "step", "epoch": 0, "step": 1, "mask_rate": 0.1, "pi": 0.1}
        | {f"mask_rate_{m}": 0.1 * i for i, m in enumerate(SIX)}
    ]
    series = T.curve_series(rows, "Mask rates")
    assert list(series) == ["overall", "π(t), curriculum", *SIX]


def _run_dir(root, name: str, state: str, data: D.DatasetChoice | None = None, **status):
    path = root / name
    writer = runs.RunWriter(path)
    writer.write_config({"method": "aecf", "epochs": 2, "seed": 0})
    writer.set_status(state, **status)
    if data is not None:
        runs.write_data(path, data.key, data.spec.name, data.path)
    return path


def test_runs_say_their_dataset_and_when_they_are_evaluating(runs_dir, uploaded):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    _run_dir(runs_dir, "a-digits", "finished")
    _run_dir(runs_dir, "b-six", "finished", uploaded, evaluating=True)
    _run_dir(runs_dir, "c-six", "stopped", uploaded, evaluating=True, pid=gone.pid)  # its process died
    manager = T.RunManager(runs_dir)
    found = {r.id: r for r in T.list_runs(runs_dir, manager)}
    assert found["b-six"].evaluating and found["b-six"].busy and not found["c-six"].evaluating
    words = {r["run"]: (r["dataset"], r["state"]) for r in T.runs_table(list(found.values()), None, manager)}
    assert words == {
        "a-digits": ("digits", "finished"),
        "b-six": ("six views", "finished · evaluating on the test split"),
        "c-six": ("six views", "stopped early"),
    }
    assert T.state_words(found["c-six"], 2, mine=True) == "stopped by you"
    # Compare: the runs on the chosen dataset, then that dataset's shipped yardsticks (none for an upload)
    shipped = {"shipped: aecf": runs_dir / "aecf.metrics.jsonl"}
    upload_shipped = D.shipped_runs(uploaded).metrics
    assert upload_shipped == {}
    assert set(T.compare_sources(list(found.values()), uploaded.key, upload_shipped)) == {"b-six", "c-six"}
    assert list(T.compare_sources(list(found.values()), D.DIGITS, shipped)) == ["a-digits", "shipped: aecf"]
    mfeat = D.resolve("example:mfeat")
    sources = T.compare_sources(list(found.values()), mfeat.key, D.shipped_runs(mfeat).metrics)
    assert sources == D.shipped_runs(mfeat).metrics and list(sources)[0] == T.SHIPPED_YARDSTICK
    assert T.compare_default([], list(sources)) == ["shipped: aecf", "shipped: late_fusion"]


def test_a_run_on_a_dataset_records_it_before_it_trains(runs_dir, uploaded):
    seen = {}

    def target(config, run_dir, stop):
        seen["data"] = runs.read_data(run_dir)
        fake_target(steps=3)(config, run_dir, stop)

    manager = T.RunManager(runs_dir, target=target)
    run_id = manager.start(T.TrainKnobs(epochs=2, data=uploaded.key).to_config())
    assert manager.state().active.dataset == "six views"
    assert " on six views, 2 epochs) is training" in T.busy_message(manager.state(), None, manager)
    manager.join(10)
    assert seen["data"]["key"] == uploaded.key and D.run_dataset(runs_dir / run_id) == (
        uploaded.key,
        "six views",
    )
    before = sorted(p.name for p in runs_dir.iterdir())
    with pytest.raises(InputError, match="No dataset"):
        manager.start(T.TrainKnobs(data="upload:0123456789abcdef").to_config())
    assert sorted(p.name for p in runs_dir.iterdir()) == before and not manager.is_running()


def test_the_training_process_trains_on_the_dataset_and_evaluates_it(runs_dir, uploaded):
    """The real thing, through the process the Train page starts: 1 epoch on the uploaded dataset, then its
    evaluation on that dataset's test split, written beside the run."""
    manager = T.RunManager(runs_dir)
    run_id = manager.start(T.TrainKnobs(epochs=1, mc_samples=2, data=uploaded.key).to_config())
    manager.join(240)
    run_dir = runs_dir / run_id
    status = runs.read_status(run_dir)
    assert status["state"] == "finished" and status["evaluating"] is False and not status["evaluation_error"]
    found = D.read_evaluation(run_dir)
    assert found["meta"]["dataset"]["key"] == uploaded.key and found["meta"]["modalities"] == list(SIX)
    assert found["meta"]["n_test"] == 150 and 0 <= found["methods"][run_id]["full"]["acc"] <= 1
    info = T.read_run(run_dir, manager)
    assert info.has_checkpoint and info.has_evaluation and not info.busy


def test_evaluation_after_training_is_marked_and_its_failure_said(runs_dir, uploaded, monkeypatch):
    run_dir = _run_dir(runs_dir, "r-six", "stopped", uploaded)
    (run_dir / "model.safetensors").write_bytes(b"stand-in")
    during = []

    def evaluate(path):
        during.append(runs.read_status(path)["evaluating"])
        raise InputError("the test split is gone")

    monkeypatch.setattr(D, "evaluate_run", evaluate)
    assert not T.evaluate_after_training({"data": uploaded.key}, run_dir)
    status = runs.read_status(run_dir)
    assert during == [True] and status["state"] == "stopped" and status["evaluating"] is False
    assert "the test split is gone" in status["evaluation_error"]
    assert "the test split is gone" in T.read_run(run_dir).evaluation_error
    # digits runs, and runs that saved no model, are not evaluated by their process
    assert not T.evaluate_after_training({"data": D.DIGITS}, run_dir) and during == [True]
    (run_dir / "model.safetensors").unlink()
    assert not T.evaluate_after_training({"data": uploaded.key}, run_dir) and during == [True]


def test_the_checkpoint_zip_opens_with_the_library(runs_dir, uploaded, tmp_path):
    """The zip holds the run's weights and config; the library builds the same model from them."""
    import torch

    from aecf.checkpoint import load_checkpoint

    data = D.open_dataset(uploaded)
    run_dir = runs_dir / "r-six"
    model, _ = train(
        make_config("late_fusion", epochs=1), data.split("train"), data.split("val"), run_dir=run_dir
    )
    with zipfile.ZipFile(io.BytesIO(T.checkpoint_zip(run_dir))) as zf:
        assert sorted(zf.namelist()) == ["r-six/model.json", "r-six/model.safetensors"]
        zf.extractall(tmp_path / "away")
    away = load_checkpoint(tmp_path / "away" / "r-six" / "model.safetensors")
    test = data.split("test")
    rows = torch.arange(16)
    with torch.no_grad():
        ours = model.eval()(test.batch(rows), test.present[rows])["logits"]
        theirs = away(test.batch(rows), test.present[rows])["logits"]
    assert away.config.modalities == tuple(SIX) and torch.allclose(ours, theirs, atol=1e-6)
    os.remove(run_dir / "model.json")
    with pytest.raises(InputError, match="no checkpoint"):
        T.checkpoint_zip(run_dir)
