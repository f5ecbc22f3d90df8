"""Training: the end-to-end claim on synthetic data, run directories, stopping, determinism, checkpoints."""

from __future__ import annotations

import copy
import json
import threading

import numpy as np
import pytest
import torch

from aecf import metrics as M
from aecf.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from aecf.data.synthetic import make_synthetic_split
from aecf.errors import CheckpointError
from aecf.evaluate import evaluate_model
from aecf.runs import read_metrics, read_status
from aecf.train import METHODS, Callbacks, TrainConfig, main, make_config, train

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return (
        make_synthetic_split(4000, seed=21),
        make_synthetic_split(1000, seed=22),
        make_synthetic_split(2000, seed=23),
    )


def test_every_method_preset_builds_and_takes_a_step(data):
    tr, va, _ = data
    small, small_val = tr.subset(range(300)), va.subset(range(100))
    for method in METHODS:
        model, history = train(make_config(method, epochs=1, batch_size=150), small, small_val)
        assert len(history["epochs"]) == 1, method
        assert (model(small_val.x)["gate"] is None) == (METHODS[method].model.fusion != "gate")
    assert TrainConfig.from_dict(METHODS["authors_recipe"].to_dict()) == METHODS["authors_recipe"]


def test_aecf_beats_late_fusion_at_half_the_modalities_missing(data):
    tr, va, te = data
    results = {}
    for method in ("aecf", "late_fusion"):
        model, _ = train(make_config(method, epochs=6), tr, va)
        results[method] = evaluate_model(model, te, va, drop_rates=(0.5,), mask_seeds=5, mc_samples=4)
    aecf, late = results["aecf"], results["late_fusion"]
    assert aecf["drop"]["0.5"]["acc"] > late["drop"]["0.5"]["acc"]
    assert aecf["drop"]["0.5"]["ece"] < late["drop"]["0.5"]["ece"]
    assert aecf["full"]["acc"] > late["full"]["acc"] - 0.02


def test_run_directory_metrics_callbacks_and_determinism(data, tmp_path):
    tr, va, _ = data
    tr, va = tr.subset(range(1200)), va.subset(range(300))
    steps, epochs = [], []
    cfg = make_config("aecf", epochs=2, batch_size=200, log_every=2)
    model, history = train(
        cfg, tr, va, run_dir=tmp_path / "run", callbacks=Callbacks(steps.append, epochs.append)
    )
    status = read_status(tmp_path / "run")
    assert status["state"] == "finished" and status["error"] is None
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["method"] == "aecf" and config["model"]["fusion"] == "gate"
    records = read_metrics(tmp_path / "run")
    assert {r["kind"] for r in records} == {"step", "epoch"}
    assert all({"kind", "epoch", "step"} <= set(r) for r in records)
    step = steps[-1]
    for key in (
        "loss",
        "loss_task_full",
        "loss_task_masked",
        "loss_entropy",
        "loss_cec",
        "acc",
        "masked_acc",
        "gate_entropy",
        "lambda",
        "mask_rate",
        "mask_rate_image",
        "mask_rate_caption",
        "mask_rate_audio",
        "examples_per_s",
        "pi",
    ):
        assert key in step, key
    for key in (
        "val_acc",
        "val_ece",
        "val_masked_acc",
        "val_gate_entropy",
        "val_lambda",
        "train_loss",
        "examples_per_s",
    ):
        assert key in epochs[-1], key
    assert len(epochs) == 2 and history["epochs"] == epochs
    reloaded = load_checkpoint(tmp_path / "run")
    assert reloaded.config.temperature == model.config.temperature != 1.0
    # same seed, same data: same weights
    model2, _ = train(cfg, tr, va)
    for (k, a), (_, b) in zip(model.state_dict().items(), model2.state_dict().items(), strict=True):
        assert torch.equal(a, b), k


def test_stop_event_and_failure_are_recorded(data, tmp_path):
    tr, va, _ = data
    stop = threading.Event()
    stop.set()
    _, history = train(
        make_config("moddrop", epochs=3),
        tr.subset(range(500)),
        va.subset(range(100)),
        run_dir=tmp_path / "stopped",
        stop_event=stop,
    )
    assert read_status(tmp_path / "stopped")["state"] == "stopped"
    assert history["epochs"] == []
    bad = tr.subset(range(200))
    bad.label = bad.label + 100  # labels out of range: cross-entropy fails
    with pytest.raises(Exception):  # noqa: B017 (torch raises IndexError or RuntimeError by platform)
        train(make_config("late_fusion", epochs=1), bad, None, run_dir=tmp_path / "failed")
    status = read_status(tmp_path / "failed")
    assert status["state"] == "failed" and status["error"]


def test_checkpoint_round_trip_and_errors(data, tmp_path):
    tr, va, _ = data
    model, _ = train(make_config("aecf", epochs=1), tr.subset(range(400)), va.subset(range(100)))
    path = save_checkpoint(model, tmp_path / "aecf", train_config={"method": "aecf"})
    assert path.name == "aecf.safetensors" and (tmp_path / "aecf.json").exists()
    loaded = load_checkpoint(tmp_path / "aecf.safetensors")
    x = va.x[:50]
    torch.testing.assert_close(loaded(x)["logits"], model.eval()(x)["logits"])
    assert float(loaded.uncertainty_scale) == float(model.uncertainty_scale) > 0
    assert read_checkpoint_config(tmp_path / "aecf")["model"]["method"] == "aecf"

    # the config also lives in the safetensors metadata: the weights alone suffice
    (tmp_path / "aecf.json").unlink()
    load_checkpoint(tmp_path / "aecf")

    # corrupt weights
    (tmp_path / "bad.safetensors").write_bytes(b"\x00\x01not a safetensors file")
    (tmp_path / "bad.json").write_text(
        (tmp_path / "aecf.json").read_text()
        if (tmp_path / "aecf.json").exists()
        else json.dumps(read_checkpoint_config(tmp_path / "aecf"))
    )
    with pytest.raises(CheckpointError, match="corrupt"):
        load_checkpoint(tmp_path / "bad")

    # config describing another shape
    doc = read_checkpoint_config(tmp_path / "aecf")
    doc["model"]["hidden_dim"] = 17
    save_checkpoint(model, tmp_path / "mismatch")
    (tmp_path / "mismatch.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match="shape mismatch"):
        load_checkpoint(tmp_path / "mismatch")

    # no config anywhere
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "bare.safetensors"))
    with pytest.raises(CheckpointError, match="no config"):
        load_checkpoint(tmp_path / "bare")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing")
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_checkpoint(tmp_path / "junk")


def test_cli_trains_and_saves(tmp_path, capsys):
    out = tmp_path / "ckpt" / "aecf"
    rc = main(
        [
            "--method",
            "aecf",
            "--epochs",
            "1",
            "--synthetic",
            "600",
            "--out",
            str(out),
            "--runs",
            str(tmp_path / "runs"),
            "--quiet",
            "--lambda-max",
            "0.3",
            "--mc-samples",
            "3",
            "--cec-weight",
            "0.5",
            "--pi-max",
            "0.6",
            "--no-acm",
        ]
    )
    assert rc == 0
    doc = read_checkpoint_config(out)
    assert doc["model"]["lambda_max"] == 0.3
    assert (
        doc["train"]["masking"] == "uniform"
        and doc["train"]["mc_samples"] == 3
        and doc["train"]["pi_max"] == 0.6
    )
    assert len(list((tmp_path / "runs").iterdir())) == 1
    lines = (tmp_path / "ckpt" / "aecf.metrics.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["kind"] == "epoch"
    assert "val acc" in capsys.readouterr().out


def test_gate_follows_reliability_with_the_responsibility_term(data):
    """Synthetic captions are graded like the real ones: the AECF preset's gate must trust an exact caption
    more than a partial one, and a partial one more than an uninformative one."""
    tr, va, te = data
    model, history = train(make_config("aecf", epochs=6), tr, va)
    assert "loss_gate" in history["steps"][-1] and "loss_task_subsets" in history["steps"][-1]
    from aecf.evaluate import mechanisms

    mech = mechanisms(model, te, make_config("aecf").to_dict(), mc_samples=8)
    cap = mech["caption_gate_by_level"]
    assert cap["exact"] > cap["partial"] > cap["none"]
    assert cap["wrong"] < cap["exact"]
    # the responsibility term is what does it: the same recipe without it follows reliability less
    plain, _ = train(make_config("aecf", epochs=6, gate_weight=0.0), tr, va)
    plain_mech = mechanisms(plain, te, make_config("aecf").to_dict(), mc_samples=8)
    assert (
        mech["gate_reliability_spearman"]["image"] > plain_mech["gate_reliability_spearman"]["image"] + 0.05
    )
    # ACM's drop probabilities differ ≥ 2× for many examples — far more than with the old entropy blend
    from aecf.evaluate import acm_drop_ratios

    legacy = acm_drop_ratios(model, te.x, {**make_config("aecf").to_dict(), "acm_sharpness": "entropy"})
    assert mech["acm_adaptive_share"] > 0.1 > float((legacy >= 2).float().mean())
    assert mech["lambda_iqr_fraction"] >= 0.3


def test_cli_trains_the_specialists(tmp_path, capsys):
    out = tmp_path / "specialists"
    from aecf.__main__ import main as cli

    assert (
        cli(["train", "--synthetic", "600", "--specialists", "--epochs", "1", "--out", str(out), "--quiet"])
        == 0
    )
    assert len(list(out.glob("*.safetensors"))) == 7
    from aecf.specialists import load_specialists

    ens = load_specialists(out)
    assert ens is not None and ens.member_names[-1] == "image+caption+audio"
    assert "specialists" in capsys.readouterr().out


# --------------------------------------------------------------- anyone's data: widths, missing rows


def _generated(tmp_path, dims, missing=0.0, n_train=400, multilabel=False, classes=3):
    from aecf.data.dataset import read_dataset
    from aecf.data.generated import generate_dataset

    path = generate_dataset(
        tmp_path / "data",
        dims,
        n_train=n_train,
        n_test=120,
        num_classes=classes,
        missing=missing,
        multilabel=multilabel,
    )
    return read_dataset(path)


@pytest.mark.parametrize("M", [2, 5, 8])
def test_training_on_mixed_widths_with_modalities_missing_in_the_data(tmp_path, M):
    widths = (7, 30, 4, 12, 9, 5, 16, 3)
    data = _generated(tmp_path, {f"m{i}": widths[i] for i in range(M)}, missing=0.3)
    tr, va, te = data.split("train"), data.split("val"), data.split("test")
    assert not bool(tr.present.all())
    model, history = train(make_config("aecf", epochs=2, batch_size=100), tr, va)
    assert model.config.dims == widths[:M] and model.config.standardize  # raw features: standardised
    assert len(history["epochs"]) == 2 and all(np.isfinite(r["loss"]) for r in history["steps"])
    out = model(te.x, te.present)
    assert torch.all(out["gate"][~te.present] == 0)  # a modality missing in the data never gets weight
    res = evaluate_model(model, te, va, drop_rates=(0.0, 0.5), mask_seeds=1, mc_samples=4)
    sizes = res["subsets_by_size"]
    assert set(sizes) == {str(k) for k in range(1, M + 1)} and sizes["1"]["count"] == M
    if M <= 4:
        assert len(res["subsets"]) == 2**M - 1
        scored = [v["n"] for v in res["subsets"].values() if "n" in v]
        assert scored and max(scored) < len(te)  # subsets scored on the rows where they are present
    else:
        assert len(res["subsets"]) < 2**M - 1 and "m0" in res["subsets"]


def test_cec_never_counts_a_pair_with_a_modality_missing_in_the_data():
    from aecf.train import Trainer

    torch.manual_seed(0)
    tr = make_synthetic_split(64, seed=3)
    present = torch.ones(64, 3, dtype=torch.bool)
    present[:32, 2] = False  # audio missing in half the rows
    cfg = make_config("aecf", epochs=1, batch_size=64)
    model, _ = train(cfg, tr)
    records = []
    for fill in (0.0, 1e3):
        x = tr.x.clone()
        x[:32, 2] = fill  # whatever the data holds where audio is absent
        torch.manual_seed(1)
        trainer = Trainer(cfg, copy.deepcopy(model), 10, torch.Generator().manual_seed(0))
        records.append(trainer.step(x, tr.label, present, 0))
    assert records[0]["loss_cec"] == records[1]["loss_cec"] and records[0]["loss"] == records[1]["loss"]
    # and the pairs that end in a subset with audio count only where audio is there
    sub = model.forward_subsets(tr.x, present, M.subset_masks(M.nonempty_subsets(3), 3))
    audio = [i for i, s in enumerate(M.nonempty_subsets(3)) if 2 in s]
    assert not sub["valid"][audio][:, :32].any() and sub["valid"][audio][:, 32:].all()


def test_unit_vector_inputs_are_used_as_they_are_and_others_standardised(tmp_path):
    from aecf.train import resolve_inputs

    digits_like = make_synthetic_split(200, seed=4)
    assert resolve_inputs(make_config("aecf"), digits_like) == (False, None)
    raw = _generated(tmp_path, {"a": 6, "b": 4}).split("train")
    standardize, (mean, std) = resolve_inputs(make_config("aecf"), raw)
    assert standardize and mean.shape == (2, 6) and float(std[1, 4:].min()) == 1.0  # padding untouched
    assert resolve_inputs(make_config("aecf", inputs="as_is"), raw) == (False, None)
    assert resolve_inputs(make_config("aecf", inputs="standardize"), digits_like)[0]


def test_default_epochs_follow_the_number_of_steps():
    from aecf.train import DEFAULT_STEPS, MAX_EPOCHS, epochs_for

    assert epochs_for(12_000, 256) == 20  # the shipped digits runs
    assert epochs_for(100_000, 256) == round(DEFAULT_STEPS / 391)
    assert epochs_for(50, 256) == MAX_EPOCHS and epochs_for(10**8, 256) == 1


# ------------------------------------------------------------------------------------ torchrun

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]

DDP_SCRIPT = """
import sys, torch
from aecf.data import distributed
from aecf.data.dataset import read_dataset
from aecf.train import make_config, train
from safetensors.torch import save_file
torch.set_num_threads(1)
ctx = distributed.start("cpu")
data = read_dataset(sys.argv[1])
config = make_config("late_fusion", epochs=2, batch_size=64, model={"feature_dropout": 0.0})
model, _ = train(config, data.split("train"), data.split("val"), ctx=ctx)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f"{sys.argv[2]}.{ctx.rank}.safetensors")
distributed.barrier(ctx)
distributed.stop(ctx)
"""


def _torchrun(args, tmp_path):
    import os
    import subprocess
    import sys

    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_two_processes_average_gradients_exactly_like_one(tmp_path):
    """Data parallel on gloo: each rank takes half of every batch; with dropout off (the only randomness of
    late fusion) two processes train the same weights as one process on whole batches."""
    from safetensors.torch import load_file

    from aecf.data.dataset import read_dataset
    from aecf.data.generated import generate_dataset

    data = generate_dataset(tmp_path / "d", {"a": 8, "b": 5, "c": 3}, n_train=300, n_test=50, num_classes=3)
    (tmp_path / "ddp.py").write_text(DDP_SCRIPT)
    _torchrun([str(tmp_path / "ddp.py"), str(data), str(tmp_path / "w")], tmp_path)
    ranks = [load_file(tmp_path / f"w.{r}.safetensors") for r in (0, 1)]
    ds = read_dataset(data)
    config = make_config("late_fusion", epochs=2, batch_size=64, model={"feature_dropout": 0.0})
    one, _ = train(config, ds.split("train"), ds.split("val"))
    for k, v in one.state_dict().items():
        torch.testing.assert_close(ranks[1][k], ranks[0][k], rtol=0, atol=0)  # the ranks stay identical
        torch.testing.assert_close(ranks[0][k], v, rtol=1e-4, atol=1e-5)


def test_torchrun_trains_aecf_from_the_command_line(tmp_path):
    from aecf.data.dataset import read_dataset
    from aecf.data.generated import generate_dataset

    data = generate_dataset(tmp_path / "d", {"a": 12, "b": 6, "c": 4}, n_train=800, n_test=200, num_classes=4)
    argv = ["--data", str(data), "--method", "aecf", "--epochs", "3", "--no-run-dir", "--quiet"]
    done = _torchrun(["-m", "aecf", "train", *argv, "--out", str(tmp_path / "two")], tmp_path)
    assert "on 2 processes" in done.stdout and done.stdout.count("checkpoint:") == 1
    assert main([*argv, "--out", str(tmp_path / "one")]) == 0
    test = read_dataset(data).split("test")
    acc = {}
    for name in ("one", "two"):
        model = load_checkpoint(tmp_path / name)
        assert model.config.lambda_knots is not None and model.config.standardize
        acc[name] = float((model(test.x, test.present)["logits"].argmax(1) == test.label).float().mean())
    assert acc["two"] > 0.5 and abs(acc["two"] - acc["one"]) < 0.08, acc
