"""The command line on anyone's data: `python -m aecf train --data DIR ...` and `python -m aecf evaluate
--data DIR --checkpoints PATH ... --json FILE` on a small generated dataset, and the JSON they agree on."""

from __future__ import annotations

import json

import pytest
import torch

from aecf.__main__ import main as cli
from aecf.checkpoint import read_checkpoint_config
from aecf.data.generated import generate_dataset

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = generate_dataset(
        root / "data",
        {"image": 24, "text": 10, "audio": 6},
        n_train=500,
        n_test=150,
        num_classes=4,
        missing=0.2,
    )
    for method in ("aecf", "late_fusion", "moddrop"):
        argv = ["train", "--data", str(data), "--method", method, "--epochs", "2", "--seed", "1"]
        assert cli(argv + ["--out", str(root / "ckpt" / method), "--no-run-dir"]) == 0
    assert (
        cli(
            [
                "train",
                "--data",
                str(data),
                "--specialists",
                "--epochs",
                "2",
                "--out",
                str(root / "specialists"),
            ]
        )
        == 0
    )
    return root, data


def test_train_writes_a_checkpoint_with_its_dataset_and_statistics(trained, capsys):
    root, data = trained
    doc = read_checkpoint_config(root / "ckpt" / "aecf")
    assert doc["model"]["dims"] == [24, 10, 6] and doc["model"]["standardize"] is True
    assert doc["train"]["epochs"] == 2 and doc["extra"]["dataset"]["val"].startswith("held out of train.npz")
    assert len(list((root / "specialists").glob("*.safetensors"))) == 7


def test_train_logs_progress_lines_with_an_eta_when_not_on_a_terminal(trained, capsys):
    root, data = trained
    assert cli(["train", "--data", str(data), "--method", "gate", "--epochs", "2", "--no-run-dir"]) == 0
    captured = capsys.readouterr()
    assert "ETA" in captured.err and "step" in captured.err
    assert "val: held out of train.npz" in captured.out and "inputs standardised" in captured.out


def test_evaluate_keys_each_checkpoint_by_its_stem(trained, capsys):
    root, data = trained
    out = root / "results.json"
    paths = [
        str(root / "ckpt" / "aecf.safetensors"),
        str(root / "ckpt" / "late_fusion"),
        str(root / "specialists"),
    ]
    rc = cli(
        ["evaluate", "--data", str(data), "--checkpoints", *paths, "--json", str(out), "--mask-seeds", "2"]
    )
    assert rc == 0
    res = json.loads(out.read_text())
    methods = res["methods"]
    assert list(methods) == ["aecf", "late_fusion", "specialists"]
    for e in methods.values():
        assert 0 <= e["full"]["acc"] <= 1 and 0 <= e["full"]["map"] <= 1
        assert set(e["drop"]) == {"0.0", "0.1", "0.3", "0.5", "0.7", "0.9"}
        assert {"acc", "map", "ece"} <= set(e["drop"]["0.5"])
        assert len(e["subsets"]) == 7 and "image+text+audio" in e["subsets"]
        assert {"all", "supported"} <= set(e["monotonicity"])
    assert methods["aecf"]["mechanisms"]["acm_adaptive_share"] is not None
    assert methods["late_fusion"].get("mechanisms") is None
    assert methods["specialists"]["reference"] and not methods["specialists"]["estimated"]
    meta = res["meta"]
    assert meta["dataset"] == "generated" and meta["val"].startswith("held out") and meta["n_test"] == 150
    assert "aecf" in capsys.readouterr().out


def test_evaluate_says_what_is_wrong(trained, tmp_path, capsys):
    root, data = trained
    other = generate_dataset(tmp_path / "other", {"a": 5, "b": 5}, n_train=60, n_test=20, num_classes=2)
    ckpt = str(root / "ckpt" / "aecf.safetensors")
    assert (
        cli(["evaluate", "--data", str(other), "--checkpoints", ckpt, "--json", str(tmp_path / "r.json")])
        == 1
    )
    assert "trained on other data" in capsys.readouterr().out
    assert (
        cli(["evaluate", "--data", str(tmp_path / "nothing"), "--checkpoints", ckpt, "--json", "x.json"]) == 1
    )
    assert "not found" in capsys.readouterr().out
    assert not (tmp_path / "r.json").exists()


def test_two_checkpoints_with_one_stem_keep_both(trained, tmp_path):
    import shutil

    from aecf.evaluate import collect_checkpoints

    root, _ = trained
    other = tmp_path / "again"
    other.mkdir()
    for suffix in (".safetensors", ".json"):
        shutil.copy(root / "ckpt" / f"aecf{suffix}", other / f"aecf{suffix}")
    found = collect_checkpoints([root / "ckpt" / "aecf.safetensors", other / "aecf.safetensors"])
    assert list(found) == ["aecf", "again/aecf"]
