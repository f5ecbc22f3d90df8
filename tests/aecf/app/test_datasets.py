"""The datasets the app offers: digits, the shipped examples, uploads (stored once, listed, zipped again)."""

from __future__ import annotations

import json

import pytest

from aecf import paths
from aecf.app import datasets as D
from aecf.app.checkpoints import checkpoint_choices
from aecf.app.masking import shipped_metrics
from aecf.errors import InputError
from aecf.runs import write_data
from aecf.train import make_config, train
from tests.support.dataset_zips import six_modalities, zip_folder


@pytest.fixture
def runs(tmp_path, monkeypatch):
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


def test_digits_first_then_the_examples(runs):
    choices = D.dataset_choices()
    assert choices[0].key == D.DIGITS and choices[0].is_digits and choices[0].spec.name == "digits"
    assert "example:mfeat" in [c.key for c in choices]
    mfeat = D.resolve("example:mfeat")
    assert mfeat.kind == "example" and len(mfeat.spec.modalities) == 6 and "(example)" in mfeat.title
    for odd in ("", None, "upload:../../etc", "example:nope", "digits\x00"):
        assert D.resolve(odd) is None


def test_an_example_zipped_and_uploaded_is_one_new_choice(runs):
    mfeat = D.resolve("example:mfeat")
    blob = D.dataset_zip(mfeat)
    stored = D.store_upload(blob, "mfeat.zip")
    assert stored.key.startswith(D.UPLOAD) and stored.kind == "uploaded" and stored.filename == "mfeat.zip"
    assert D.resolve(stored.key) == stored and "(uploaded mfeat.zip)" in stored.title
    again = D.store_upload(blob, "copy.zip")
    assert again.key == stored.key and sum(c.kind == "uploaded" for c in D.dataset_choices()) == 1
    info = D.summary(D.open_dataset(stored))
    assert info["rows"] == {"train": 1400, "val": 300, "test": 300} and not info["held_out_val"]
    assert [m["width"] for m in info["modalities"]] == [
        m["width"] for m in D.summary(D.open_dataset(mfeat))["modalities"]
    ]
    assert all(m["present in train"] == 1.0 for m in info["modalities"])


def test_a_bad_upload_is_refused_and_lists_nothing(runs):
    with pytest.raises(InputError, match="not a readable zip"):
        D.store_upload(b"not a zip at all", "x.zip")
    assert [c.kind for c in D.dataset_choices()].count("uploaded") == 0


def test_a_run_on_an_example_records_its_dataset_and_is_evaluated(runs):
    mfeat = D.resolve("example:mfeat")
    data = D.open_dataset(mfeat)
    run_dir = runs / "r1-aecf-s0"
    train(
        make_config("aecf", epochs=1, batch_size=256), data.split("train"), data.split("val"), run_dir=run_dir
    )
    write_data(run_dir, mfeat.key, data.spec.name, mfeat.path)
    assert D.run_dataset_key(run_dir) == mfeat.key and D.runs_on(mfeat.key) == [run_dir]
    assert D.runs_on(D.DIGITS) == []
    D.evaluate_run(run_dir)
    found = D.read_evaluation(run_dir)
    entry = found["methods"]["r1-aecf-s0"]
    assert found["meta"]["dataset"]["key"] == mfeat.key and found["meta"]["modalities"] == list(
        mfeat.spec.names
    )
    assert 0.5 < entry["full"]["acc"] <= 1 and set(entry["drop"]) >= {"0.0", "0.5"}
    write_data(run_dir, "upload:0000", "gone", runs / "nowhere")
    with pytest.raises(InputError, match="no longer has"):
        D.evaluate_run(run_dir)


def test_a_run_on_another_dataset_names_its_classes_and_stays_out_of_the_digits_checkpoints(runs):
    choice = D.resolve("example:mfeat")
    data = D.open_dataset(choice)
    run_dir = runs / "r2-late_fusion-s0"
    model, _ = train(
        make_config("late_fusion", epochs=1), data.split("train"), data.split("val"), run_dir=run_dir
    )
    assert model.config.classes == tuple(choice.spec.classes)
    assert "run:r2-late_fusion-s0" in [
        c.key for c in checkpoint_choices(runs)
    ]  # no data.json yet: a digits run
    write_data(run_dir, choice.key, data.spec.name, choice.path)
    assert "run:r2-late_fusion-s0" not in [c.key for c in checkpoint_choices(runs)]


# ------------------------------------------------------------------------------------ shipped runs


def test_an_example_ships_its_runs_and_their_evaluation_an_upload_none(runs, tmp_path):
    mfeat = D.resolve("example:mfeat")
    shipped = D.shipped_runs(mfeat)
    folder = paths.example_checkpoints("mfeat")
    assert folder == paths.CHECKPOINT_DIR / "datasets" / "mfeat"
    assert [r.method for r in shipped.runs] == ["aecf", "late_fusion", "moddrop"]
    assert [r.name for r in shipped.runs] == ["shipped: aecf", "shipped: late_fusion", "shipped: moddrop"]
    assert shipped.checkpoints == {r.name: folder / f"{r.method}.safetensors" for r in shipped.runs}
    assert shipped.metrics == {r.name: folder / f"{r.method}.metrics.jsonl" for r in shipped.runs}
    assert shipped.results == paths.example_results("mfeat") == paths.RESULTS_DIR / "mfeat" / "results.json"
    assert all(
        p.is_file() for p in [*shipped.checkpoints.values(), *shipped.metrics.values(), shipped.results]
    )
    config_seeds = [
        json.loads(w.with_suffix(".json").read_text())["train"]["seed"] for w in shipped.checkpoints.values()
    ]
    assert [r.seed for r in shipped.runs] == config_seeds

    upload = D.store_upload(zip_folder(six_modalities(tmp_path / "six")), "six.zip")
    assert D.shipped_runs(upload) == D.Shipped() and D.shipped_runs(None) == D.Shipped()
    assert D.Shipped().metrics == {} and D.Shipped().results is None


def test_the_digits_keep_their_own_shipped_runs(runs):
    shipped = D.shipped_runs(D.resolve(D.DIGITS))
    assert shipped.metrics == {f"shipped: {k}": v for k, v in shipped_metrics(paths.fusion_dir()).items()}
    assert all(p.parent == paths.fusion_dir() for p in shipped.checkpoints.values())
    assert shipped.results == (paths.results_json() if paths.results_json().is_file() else None)


def test_an_example_whose_runs_are_not_there_ships_none(runs, tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "EXAMPLE_CHECKPOINT_DIR", tmp_path / "none")
    monkeypatch.setattr(paths, "RESULTS_DIR", tmp_path / "none")
    assert D.shipped_runs(D.resolve("example:mfeat")) == D.Shipped()
    (tmp_path / "none" / "mfeat").mkdir(parents=True)
    (tmp_path / "none" / "mfeat" / "gate.metrics.jsonl").write_text("")  # records without a checkpoint
    runs_found = D.shipped_runs(D.resolve("example:mfeat")).runs
    assert runs_found == (D.ShippedRun("gate", None, tmp_path / "none" / "mfeat" / "gate.metrics.jsonl"),)
