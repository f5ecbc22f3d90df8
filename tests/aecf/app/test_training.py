"""The Train page's view-model (aecf/app/training.py): the run manager every session shares, runs on disk and
their states in words, the curves and the comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import pytest

from aecf import runs
from aecf.app import training as T
from aecf.paths import ROOT
from tests.support.fake_runs import fake_target

# ============================================================================================ run manager


def test_run_manager_one_run_at_a_time_and_stop(tmp_path):
    manager = T.RunManager(tmp_path, target=fake_target(steps=10_000))
    run_id = manager.start({"method": "aecf", "seed": 0, "epochs": 1})
    with pytest.raises(T.RunBusyError, match="wait"):
        manager.start({"method": "moddrop", "seed": 0})
    assert [r.id for r in T.list_runs(manager=manager)] == [run_id]
    assert T.list_runs(manager=manager)[0].state == "running"
    assert manager.stop()
    manager.join(10)
    assert not manager.is_running()
    assert runs.read_status(tmp_path / run_id)["state"] == "stopped"
    manager.target = fake_target(steps=3)
    second = manager.start({"method": "moddrop", "seed": 1})  # free again
    manager.join(30)
    assert runs.read_status(tmp_path / second)["state"] == "finished"


def test_run_manager_records_failures(tmp_path):
    manager = T.RunManager(tmp_path, target=fake_target(steps=2, fail=True))
    run_id = manager.start({"method": "aecf", "seed": 0})
    manager.join(10)
    status = runs.read_status(tmp_path / run_id)
    assert status["state"] == "failed" and "boom" in status["error"]
    info = T.read_run(tmp_path / run_id, manager)
    assert T.state_words(info, 0, mine=False) == "failed: RuntimeError: boom"


def test_only_the_page_that_started_a_run_may_stop_it(tmp_path):
    manager = T.RunManager(tmp_path, target=fake_target(steps=10_000))
    mine, theirs = T.new_owner_key(), T.new_owner_key()
    run_id = manager.start({"method": "aecf", "seed": 0, "epochs": 1}, owner=mine)
    assert manager.may_stop(mine) and not manager.may_stop(theirs) and not manager.may_stop(None)
    assert not manager.stop_by(theirs) and not manager.stop_by(None) and not manager.stop_by("")
    time.sleep(0.1)
    assert manager.is_running()  # refused stops stopped nothing
    state = manager.state()
    assert "you started it" in T.busy_message(state, mine, manager)
    told = T.busy_message(state, theirs, manager)
    assert "started by another session on this server" in told and "only that session can stop it" in told
    assert "is training on this server now" in told  # what benchmarks/load_app.py waits for
    assert manager.stop_by(mine)
    manager.join(10)
    info = T.read_run(tmp_path / run_id, manager)
    assert T.state_words(info, 0, manager.owns(run_id, mine)) == "stopped by you"
    assert T.state_words(info, 0, manager.owns(run_id, theirs)) == "stopped early"
    assert T.busy_message(manager.state(), mine, manager) is None


def test_a_run_ends_for_the_pages_when_its_process_has_gone_and_not_before(tmp_path):
    """The training process writes "finished" and exits a moment later. A page draws its form from
    `state()` and redraws when `version` moves: the version must move once, after the final status is on disk,
    and every state read says "active" exactly as long as the version has not moved (a page that redrew
    on the file while the form still read "busy" stayed locked)."""
    manager = T.RunManager(tmp_path, target=fake_target(steps=5, delay=0.01, linger=0.6))
    before = manager.state().version
    run_id = manager.start({"method": "aecf", "seed": 0, "epochs": 1})
    started = manager.state()
    assert started.version == before + 1 and started.active.id == run_id
    seen, done = [], threading.Event()

    def watch() -> None:
        while not done.is_set():
            s = manager.state()
            seen.append(
                (s.version, s.active is not None, (runs.read_status(tmp_path / run_id) or {}).get("state"))
            )
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    manager.join(10)
    time.sleep(0.05)
    done.set()
    watcher.join()
    assert any(state == "finished" and active for _, active, state in seen)  # the file said so first
    assert all(active == (version == started.version) for version, active, _ in seen)
    assert {version for version, _, _ in seen} == {started.version, started.version + 1}
    assert all(state == "finished" for version, _, state in seen if version == started.version + 1)
    assert manager.state().active is None


# ============================================================================================ runs on disk


def test_pid_alive_knows_the_living_the_dead_and_the_zombies():
    assert runs.pid_alive(os.getpid()) and not runs.pid_alive(_dead_pid())
    assert not runs.pid_alive(None) and not runs.pid_alive("x") and not runs.pid_alive(-1)
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])  # ended, not waited for: a zombie
    t0 = time.time()
    while runs.pid_alive(zombie.pid) and time.time() - t0 < 30:
        time.sleep(0.05)
    assert not runs.pid_alive(zombie.pid)
    zombie.wait()


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _running_run(root, **status) -> os.PathLike:
    run_dir = runs.create_run_dir("aecf", 0, root)
    writer = runs.RunWriter(run_dir)
    writer.write_config({"method": "aecf", "epochs": 3, "seed": 0})
    writer.set_status("running", **status)
    return run_dir


def test_stale_running_run_is_reported_interrupted(tmp_path):
    run_dir = _running_run(tmp_path)
    assert T.read_run(run_dir).state == "running"  # its writer (this process) is alive
    old = time.time() - T.STALE_AFTER_S - 10
    os.utime(run_dir / "status.json", (old, old))
    info = T.read_run(run_dir)
    assert info.state == "interrupted" and "no news" in T.state_words(info, 0, mine=False)


def test_a_run_whose_server_or_process_died_is_interrupted_at_once(tmp_path):
    """After a server restart the run it trained says "running" on disk: its pids tell it is over, at once."""
    dead = _dead_pid()
    by_dead_server = _running_run(tmp_path / "a", server_pid=dead)
    info = T.read_run(by_dead_server, T.RunManager(tmp_path / "a"))
    assert info.state == "interrupted" and not info.live
    assert T.state_words(info, 1, mine=False) == "interrupted (server restarted)"
    by_dead_process = _running_run(tmp_path / "b")
    status = runs.read_status(by_dead_process)
    (by_dead_process / "status.json").write_text(json.dumps({**status, "pid": dead}))
    assert T.state_words(T.read_run(by_dead_process), 0, False) == "interrupted (its process ended)"
    # started by this server (same pid) but trained by none of its managers: a server before this one
    by_us = _running_run(tmp_path / "c", server_pid=os.getpid())
    assert T.read_run(by_us).state == "interrupted"
    # while one of this process's managers trains it, it is running, whoever asks
    manager = T.RunManager(tmp_path / "d", target=fake_target(steps=10_000))
    run_id = manager.start({"method": "aecf", "seed": 0})
    assert T.read_run(tmp_path / "d" / run_id).state == "running"
    manager.stop()
    manager.join(10)


def test_the_training_process_marks_its_run_interrupted_when_the_server_goes(tmp_path):
    """The real training process: its stdin closing (the server died) stops the run as "interrupted", not as
    "stopped by you"."""
    from tests.support.devassets import build_features

    features = build_features(tmp_path / "features", n_train=2000)
    config = T.TrainKnobs(method="aecf", epochs=20, mc_samples=2).to_config()
    run_dir = _running_run(tmp_path / "runs", server_pid=os.getpid())
    env = {**os.environ, "AECF_APP_FEATURE_DIR": str(features), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aecf.app.training", str(run_dir)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        proc.stdin.write((json.dumps(config) + "\n").encode())
        proc.stdin.flush()
        t0 = time.time()
        while not runs.read_metrics(run_dir) and proc.poll() is None and time.time() - t0 < 180:
            time.sleep(0.1)
        assert runs.read_metrics(run_dir), proc.stderr.read().decode()[-2000:]
        proc.stdin.close()  # what the server's death does to it
        assert proc.wait(180) == 0, proc.stderr.read().decode()[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    status = runs.read_status(run_dir)
    assert status["state"] == "interrupted" and status["reason"] == "server restarted"
    assert status["started"] and status["server_pid"] == os.getpid()  # kept from the status it found
    info = T.read_run(run_dir)
    assert T.state_words(info, 1, mine=True) == "interrupted (server restarted)"


def test_a_server_killed_mid_run_leaves_its_run_interrupted(tmp_path):
    """A server (here a bare process with a RunManager) starts a real run and is killed: a server started
    after it reads the run as interrupted at once, and the orphaned training process, its stdin closed,
    stops and marks it so on disk."""
    from tests.support.devassets import build_features

    features = build_features(tmp_path / "features", n_train=2000)
    runs_dir = tmp_path / "runs"
    server_code = (
        "import sys, time\n"
        "from aecf.app import training as T\n"
        f"m = T.RunManager({str(runs_dir)!r})\n"
        "print(m.start(T.TrainKnobs(epochs=20, mc_samples=2).to_config()), flush=True)\n"
        "time.sleep(600)\n"
    )
    env = {**os.environ, "AECF_APP_FEATURE_DIR": str(features), "PYTHONPATH": str(ROOT)}
    server = subprocess.Popen([sys.executable, "-c", server_code], cwd=ROOT, env=env, stdout=subprocess.PIPE)
    try:
        run_dir = runs_dir / server.stdout.readline().decode().strip()
        t0 = time.time()
        while not runs.read_metrics(run_dir) and time.time() - t0 < 180:
            time.sleep(0.1)
        assert runs.read_metrics(run_dir), "no records from the training process"
        assert T.read_run(run_dir, T.RunManager(runs_dir)).state == "running"  # its server is alive
    finally:
        server.kill()
        server.wait()
    info = T.read_run(run_dir, T.RunManager(runs_dir))  # the next server
    assert T.state_words(info, 0, mine=False) == "interrupted (server restarted)"
    t0 = time.time()
    while (runs.read_status(run_dir) or {}).get("state") != "interrupted" and time.time() - t0 < 180:
        time.sleep(0.1)
    status = runs.read_status(run_dir)
    assert status["state"] == "interrupted" and status["reason"] == "server restarted"
    t0 = time.time()
    while runs.pid_alive(status["pid"]) and time.time() - t0 < 30:
        time.sleep(0.1)
    assert not runs.pid_alive(status["pid"])  # it has gone (a zombie nothing reaps counts as gone)


def test_real_training_run_in_the_background(app_env):
    """A 1-epoch aecf run on the (synthetic) feature cache through the same thread the Train page uses."""
    manager = T.RunManager(app_env["runs"])
    run_id = manager.start(T.TrainKnobs(method="aecf", epochs=1, mc_samples=2).to_config())
    manager.join(120)
    run_dir = app_env["runs"] / run_id
    assert runs.read_status(run_dir)["state"] == "finished"
    rows = runs.read_metrics(run_dir)
    assert any(r["kind"] == "epoch" and "val_acc" in r for r in rows)
    assert (run_dir / "model.safetensors").exists()


# ============================================================================================ in words


def test_states_read_as_words():
    info = T.RunInfo("r", ROOT, "running", config={"epochs": 3})
    assert T.state_words(info, 0, False) == "training (epoch 1 of 3)"
    assert T.state_words(info, 2, False) == "training (epoch 3 of 3)"
    assert T.state_words(info, 3, False) == "training (epoch 3 of 3)"  # the last epoch's validation
    assert T.state_words(T.RunInfo("r", ROOT, "finished"), 3, True) == "finished"
    failed = T.RunInfo("r", ROOT, "failed", error="Traceback\nValueError: bad knob")
    assert T.state_words(failed, 0, False) == "failed: ValueError: bad knob"
    assert T.state_words(T.RunInfo("r", ROOT, "interrupted"), 0, False) == "interrupted (server restarted)"


def test_runs_table_has_words_and_dashes_never_none(tmp_path):
    manager = T.RunManager(tmp_path)
    live = _running_run(tmp_path)  # no records yet
    done = runs.create_run_dir("late_fusion", 1, tmp_path)
    writer = runs.RunWriter(done)
    writer.write_config({"method": "late_fusion", "epochs": 1, "seed": 1})
    writer.log({"kind": "epoch", "epoch": 0, "val_acc": 0.91234, "val_masked_acc": 0.5, "val_ece": None})
    writer.set_status("finished")
    table = {row["run"]: row for row in T.runs_table(T.list_runs(tmp_path, manager), None, manager)}
    assert table[live.name]["state"] == "training (epoch 1 of 3)" and table[live.name]["epochs"] == "0 of 3"
    assert table[done.name]["state"] == "finished" and table[done.name]["val accuracy"] == "0.912"
    assert table[done.name]["val ECE"] == "–"
    for row in table.values():
        for column, cell in row.items():
            assert isinstance(cell, str) and cell and "None" not in cell and "nan" not in cell, (column, cell)
            assert "_" not in column, column


def test_metric_names_are_words_from_one_mapping():
    keys = {key for group in T.CURVE_GROUPS.values() for _, key in group} | set(T.COMPARE_METRICS)
    assert keys <= set(T.METRIC_NAMES)
    assert all("_" not in T.metric_name(k) for k in keys)
    assert T.metric_name("val_masked_acc") == "val accuracy, 50 % drop"
    rows = [
        {
            "kind": "step",
            "epoch": 0,
            "step": i,
            "loss": 2 - i / 10,
            "mask_rate": 0.1 * i,
            "mask_rate_image": 0.2,
        }
        for i in range(4)
    ]
    rows.append({"kind": "epoch", "epoch": 0, "val_acc": 0.5, "val_masked_acc": 0.4, "val_ece": 0.1})
    loss = T.curve_series(rows, "Loss parts")
    assert list(loss) == ["total"] and loss["total"][0] == [0.25, 0.5, 0.75, 1.0]
    assert set(T.curve_series(rows, "Mask rates")) == {
        "overall",
        "image",
    }  # a modality keeps its name (colour)
    accuracy = T.curve_series(rows, "Accuracy")
    assert accuracy["val accuracy"] == ([1], [0.5]) and accuracy["val accuracy, 50 % drop"] == ([1], [0.4])
    assert T.run_summary(rows)["epochs done"] == 1 and T.run_summary([])["epochs done"] == 0
    assert T.number(None) == T.number(float("nan")) == "–" and T.number(0.5) == "0.500"


def test_training_knobs_map_to_the_train_config():
    cfg = T.make_train_config(
        {
            "method": "aecf",
            "epochs": 2,
            "seed": 5,
            "lambda_max": 0.3,
            "mc_samples": 6,
            "cec_weight": 2.0,
            "acm": False,
            "pi_max": 0.7,
        }
    )
    assert (cfg.epochs, cfg.seed, cfg.model.lambda_max, cfg.mc_samples, cfg.cec_weight, cfg.pi_max) == (
        2,
        5,
        0.3,
        6,
        2.0,
        0.7,
    )
    assert cfg.masking == "uniform"  # ACM off -> ModDrop-style masks with the same curriculum
    late = T.make_train_config({"method": "late_fusion", "acm": True, "pi_max": 0.9})
    assert late.masking == "none" and late.pi_max != 0.9  # knobs a method does not use are ignored
    assert T.applicable_knobs("late_fusion") == {"epochs", "seed"}
    assert {"acm", "cec_weight", "lambda_max", "mc_samples", "pi_max"} <= T.applicable_knobs("aecf")


def test_owner_keys_from_an_address_are_checked():
    key = T.new_owner_key()
    assert T.valid_owner_key(key) == key and key != T.new_owner_key()
    for bad in (None, "", "short", "x" * 65, "abc<script>alert(1)</script>", ["a" * 16], 12345678901234):
        assert T.valid_owner_key(bad) is None


# ============================================================================================ compare


def _epochs(values: list[float], metric: str = "val_masked_acc") -> list[dict]:
    return [{"kind": "epoch", "epoch": i, metric: v} for i, v in enumerate(values)]


def test_compare_defaults_to_the_newest_runs_and_the_shipped_aecf():
    shipped = ["shipped: aecf", "shipped: late_fusion", "shipped: moddrop"]
    assert T.compare_default([], shipped) == ["shipped: aecf", "shipped: late_fusion"]
    assert T.compare_default(["new", "older", "oldest"], shipped) == ["new", "older", "shipped: aecf"]
    assert T.compare_default(["new"], ["shipped: moddrop"]) == ["new", "shipped: moddrop"]


def test_a_run_identical_to_a_shipped_one_is_drawn_dashed_and_named():
    series, dash = T.compare_series(
        {
            "run-b": _epochs([0.5, 0.6]),
            "run-a": _epochs([0.3, 0.7, 0.8]),
            "shipped: aecf": _epochs([0.3, 0.7, 0.8]),
            "shipped: late_fusion": _epochs([0.2, 0.4, 0.5]),
            "no epochs yet": [{"kind": "step", "epoch": 0, "loss": 1.0}],
        },
        "val_masked_acc",
    )
    assert list(series) == ["run-b", "shipped: aecf", "shipped: late_fusion", "run-a (same as shipped: aecf)"]
    assert dash == {"run-a (same as shipped: aecf)": "dash"}  # drawn last: on top of the one it equals
    assert series["run-a (same as shipped: aecf)"] == ([1, 2, 3], [0.3, 0.7, 0.8])
    # two runs alike (same knobs twice): the second names the first; a prefix of a curve is not the same
    series, dash = T.compare_series(
        {"r2": _epochs([0.3, 0.7]), "r1": _epochs([0.3, 0.7]), "shipped: aecf": _epochs([0.3, 0.7, 0.8])},
        "val_masked_acc",
    )
    assert dash == {"r1 (same as r2)": "dash"} and "r2" in series
