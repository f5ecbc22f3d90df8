"""The Train page on a dataset of one's own, through AppTest: upload a zip, see it described, train on it, the
run evaluated and its checkpoint and evaluation offered; every bad upload gives its message and writes nothing.

Runs against the `app_env` fixture (tests/conftest.py): a fresh runs/ directory (uploads go under it) and the
app's test assets for the digits.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from aecf.paths import ROOT
from tests.support.apptest import all_text, metric
from tests.support.dataset_zips import BAD_UPLOADS, SIX, bad_zips, six_modalities, zip_folder

PAGES = ROOT / "pages"


def page(name: str = "train", query: dict | None = None, timeout: float = 120):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    return at.run()


def no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def table(at, column: str):
    """The first table or dataframe with this column (AppTest keeps no keys on them)."""
    return next(d.value for d in [*at.table, *at.dataframe] if column in d.value.columns)


def tree(root) -> dict[str, tuple[int, int] | str]:
    """Every file under root (the lock file aside) with its size and modification time, and every folder: what a
    failed upload must leave as it was (a folder's own time moves when a staging folder comes and goes in it)."""
    if not root.exists():
        return {}
    return {
        str(p.relative_to(root)): "folder" if p.is_dir() else (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.name != ".lock"
    }


@pytest.fixture(scope="module")
def six(tmp_path_factory):
    folder = six_modalities(tmp_path_factory.mktemp("six") / "six")
    return folder, zip_folder(folder)


@pytest.fixture(scope="module")
def bad(six):
    found = bad_zips(six[0])
    assert tuple(found) == BAD_UPLOADS
    return found


def _existing(app_env, six):
    """A dataset already uploaded and a finished run on it: what every failed upload must leave untouched."""
    from aecf import runs
    from aecf.app import datasets as D

    kept = D.store_upload(six[1], "kept.zip")
    run = runs.create_run_dir("aecf", 0, app_env["runs"])
    writer = runs.RunWriter(run)
    writer.write_config({"method": "aecf", "epochs": 1, "seed": 0, "data": kept.key})
    writer.set_status("finished")
    runs.write_data(run, kept.key, kept.spec.name, kept.path)
    return kept


def test_upload_describe_train_evaluate_download(app_env, six):
    """A zip through the uploader is stored, chosen and described; a 1-epoch run trains on it and evaluates
    itself on its test split; the run offers its checkpoint and evaluation; Compare shows the runs of this
    dataset only, and the digits' Compare does not show it."""
    from aecf.app import training as T
    from aecf.app.datasets import read_evaluation
    from aecf.data.upload import upload_limit_mb

    at = page()
    no_exception(at)
    uploader = at.file_uploader[0]
    assert uploader.proto.max_upload_size_mb == upload_limit_mb() == 300
    said = all_text(at)
    for words in ("up to 300 MB", "2,000 MB unpacked", "every session of this server", "docs/data-format.md"):
        assert words in said, words
    assert [b.label for b in at.get("download_button")] == ["mfeat.zip (mfeat)"]  # an example to try it with

    uploader.set_value(("six.zip", six[1], "application/zip")).run()
    no_exception(at)
    key = at.query_params["data"]
    assert key.startswith("upload:") and at.selectbox(key="dataset_choice").value == key
    assert any("Stored **six views (uploaded six.zip)**" in i.value for i in at.info)
    assert "Dataset: six views" in [s.value for s in at.subheader]
    assert (
        metric(at, "Modalities") == "6"
        and metric(at, "Classes") == "5"
        and metric(at, "Task") == "multiclass"
    )
    assert metric(at, "Rows (train / val / test)") == "511 / 89 / 150"
    modalities = table(at, "modality")
    assert modalities["modality"].tolist() == list(SIX) and modalities["width"].tolist() == [
        str(d) for d in SIX.values()
    ]
    shares = [float(v.rstrip(" %")) for v in modalities["present in train"]]
    assert all(70 < v < 95 for v in shares)  # 20 % of each modality's rows are missing (one always kept)
    assert "held out of train.npz" in all_text(at)

    epochs = at.number_input(key="train_epochs_auto")
    assert epochs.value is None and epochs.proto.placeholder == f"auto: {T.auto_epochs(511)}"
    epochs.set_value(1)
    at.slider(key="train_k").set_value(2)
    next(b for b in at.button if b.label == "Start training").click().run()
    no_exception(at)
    manager = T.get_run_manager()
    run_id = manager.active_id
    assert run_id and run_id.endswith("-aecf-s0")
    manager.join(240)

    at = page(query=dict(at.query_params))  # a refresh: the run, evaluated, comes back from disk
    no_exception(at)
    assert metric(at, "State") == "finished" and metric(at, "Epochs done") == "1 of 1"
    run_dir = app_env["runs"] / run_id
    found = read_evaluation(run_dir)
    assert found["meta"]["dataset"]["key"] == key and found["meta"]["n_test"] == 150
    assert metric(at, "Test accuracy") == f"{found['methods'][run_id]['full']['acc']:.3f}"
    assert [b.label for b in at.get("download_button")][-2:] == ["Checkpoint (.zip)", "Evaluation (.json)"]
    assert table(at, "run")["dataset"].tolist() == ["six views"]
    assert at.multiselect(key="compare_runs").value == [run_id]  # no shipped digits yardstick here
    assert at.multiselect(key="compare_runs").options == [run_id]

    digits = page()
    no_exception(digits)
    assert run_id not in digits.multiselect(key="compare_runs").options
    assert "shipped: aecf" in digits.multiselect(key="compare_runs").options


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_a_bad_upload_gives_its_message_and_writes_nothing(app_env, six, bad, case):
    kept = _existing(app_env, six)
    before = tree(app_env["runs"])
    at = page(query={"data": kept.key})
    zipped, words = bad[case]
    at.file_uploader[0].set_value((f"{case}.zip", zipped, "application/zip")).run()
    no_exception(at)
    errors = " ".join(e.value for e in at.error)
    assert words in errors, errors
    assert tree(app_env["runs"]) == before  # nothing written, the dataset and the run untouched
    assert at.query_params["data"] == kept.key and at.selectbox(key="dataset_choice").value == kept.key


def test_over_the_limit_or_the_quota_is_refused_with_the_numbers(app_env, six, monkeypatch):
    kept = _existing(app_env, six)
    before = tree(app_env["runs"])
    padding = np.random.default_rng(0).bytes(1_200_000)
    monkeypatch.setenv("AECF_APP_UPLOAD_MB", "1")
    at = page(query={"data": kept.key})
    assert at.file_uploader[0].proto.max_upload_size_mb == 1 and "up to 1 MB" in all_text(at)
    big = zip_folder(six[0], extra={"dataset/notes.bin": padding})
    at.file_uploader[0].set_value(("big.zip", big, "application/zip")).run()
    no_exception(at)
    assert any("uploads are limited to 1 MB" in e.value for e in at.error)
    assert tree(app_env["runs"]) == before

    monkeypatch.delenv("AECF_APP_UPLOAD_MB")
    monkeypatch.setenv("AECF_APP_UPLOAD_QUOTA_MB", "1")  # the kept dataset takes ~0.4 MB of it
    other = zip_folder(six_modalities(app_env["runs"].parent / "other", n_train=1500, seed=3, name="other"))
    at = page(query={"data": kept.key})
    at.file_uploader[0].set_value(("other.zip", other, "application/zip")).run()
    no_exception(at)
    assert any("of 1 MB on this server" in e.value for e in at.error), [e.value for e in at.error]
    assert tree(app_env["runs"]) == before


def test_two_uploads_at_once(app_env, six, bad):
    """Two people upload the same zip, a third another, a fourth a broken one, at the same moment: each good
    dataset is stored once, the broken one is refused, no half-written folder is left."""
    from aecf.app import datasets as D
    from aecf.errors import InputError

    kept = _existing(app_env, six)
    other = zip_folder(six_modalities(app_env["runs"].parent / "other", seed=3, name="other"))
    zips = {"a.zip": other, "b.zip": other, "c.zip": six[1], "bad.zip": bad["nan"][0]}
    stored, refused = {}, {}
    start = threading.Barrier(len(zips))

    def upload(name: str) -> None:
        start.wait()
        try:
            stored[name] = D.store_upload(zips[name], name)
        except InputError as e:
            refused[name] = str(e)

    threads = [threading.Thread(target=upload, args=(name,)) for name in zips]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert set(stored) == {"a.zip", "b.zip", "c.zip"} and "NaN or inf" in refused["bad.zip"]
    assert stored["a.zip"].key == stored["b.zip"].key != kept.key and stored["c.zip"].key == kept.key
    folders = sorted(p.name for p in (app_env["runs"] / "datasets").iterdir() if p.name != ".lock")
    assert folders == sorted({kept.key[len(D.UPLOAD) :], stored["a.zip"].key[len(D.UPLOAD) :]})


def test_an_example_dataset_is_described_with_auto_epochs(app_env):
    """?data=example:mfeat: the example described (six feature sets of their own widths, its own val split),
    the epochs default to auto, no run on it yet, and its shipped runs to compare."""
    from aecf.app import datasets as D
    from aecf.app import training as T

    at = page(query={"data": "example:mfeat"})
    no_exception(at)
    assert "Dataset: mfeat" in [s.value for s in at.subheader]
    assert metric(at, "Rows (train / val / test)") == "1,400 / 300 / 300"
    widths = table(at, "modality")["width"].tolist()
    assert widths == ["76", "216", "64", "240", "47", "6"]
    assert "val.npz (the dataset's own validation split)" in all_text(at)
    assert at.number_input(key="train_epochs_auto").proto.placeholder == f"auto: {T.auto_epochs(1400)}"
    assert any("No runs on mfeat" in i.value for i in at.info)
    compare = at.multiselect(key="compare_runs")  # the example's own shipped runs, not the digits' yardsticks
    assert compare.options == list(D.shipped_runs(D.resolve("example:mfeat")).metrics)
    assert compare.value == ["shipped: aecf", "shipped: late_fusion"]


def test_explores_uploaders_keep_their_own_limit(app_env):
    from aecf.app.explore import INPUT_UPLOAD_MB

    at = page("explore", {"isrc": "upload", "asrc": "upload"})
    no_exception(at)
    assert len(at.file_uploader) == 2
    assert [u.proto.max_upload_size_mb for u in at.file_uploader] == [INPUT_UPLOAD_MB] * 2 == [25, 25]


def test_the_same_zip_again_is_the_same_dataset(app_env, six):
    at = page()
    at.file_uploader[0].set_value(("six.zip", six[1], "application/zip")).run()
    first = at.query_params["data"]
    at = page()  # another session uploads the same files under another name
    at.file_uploader[0].set_value(("copy.zip", six[1], "application/zip")).run()
    no_exception(at)
    assert at.query_params["data"] == first
    assert any("was already on this server" in i.value for i in at.info)
    assert [k for k in at.selectbox(key="dataset_choice").options if "six views" in k] == [
        "six views (uploaded six.zip)"
    ]


def test_a_digits_run_trains_as_before_and_is_evaluated_on_request(app_env):
    """A digits run ends unevaluated (its process does not evaluate it: the digits Train page is as it was);
    the page offers to evaluate it on the digits test split, then its evaluation to download."""
    from aecf.app.training import RunManager, TrainKnobs

    manager = RunManager(app_env["runs"])
    run_id = manager.start(TrainKnobs(method="late_fusion", epochs=1).to_config())
    manager.join(120)
    run_dir = app_env["runs"] / run_id
    assert not (run_dir / "evaluation.json").exists() and not (run_dir / "data.json").exists()
    at = page()
    no_exception(at)
    assert [b.label for b in at.get("download_button")][-1:] == ["Checkpoint (.zip)"]
    next(b for b in at.button if b.label == "Evaluate on the test split").click().run()
    no_exception(at)
    assert (run_dir / "evaluation.json").exists()
    assert [b.label for b in at.get("download_button")][-2:] == ["Checkpoint (.zip)", "Evaluation (.json)"]
    assert metric(at, "Test accuracy") != "–"


def test_a_multilabel_run_leads_with_its_map(app_env):
    from aecf.app.datasets import read_evaluation
    from aecf.app.training import get_run_manager
    from aecf.data.generated import generate_dataset

    folder = generate_dataset(
        app_env["runs"].parent / "ml", {"a": 16, "b": 8, "c": 12}, n_train=400, n_test=100, multilabel=True
    )
    at = page()
    at.file_uploader[0].set_value(("ml.zip", zip_folder(folder), "application/zip")).run()
    assert metric(at, "Task") == "multilabel"
    at.number_input(key="train_epochs_auto").set_value(1)
    at.slider(key="train_k").set_value(2)
    next(b for b in at.button if b.label == "Start training").click().run()
    manager = get_run_manager()
    run_id = manager.active_id
    manager.join(240)
    at = page(query=dict(at.query_params))
    no_exception(at)
    entry = read_evaluation(app_env["runs"] / run_id)["methods"][run_id]
    assert metric(at, "Test mAP") == f"{entry['full']['map']:.3f}"
    assert metric(at, "Test mAP, 50 % drop") == f"{entry['drop']['0.5']['map']:.3f}"
