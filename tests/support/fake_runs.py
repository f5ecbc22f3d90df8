"""Stand-in training targets for aecf.app.training.RunManager: they write a run directory the way the training
process does (step records, then maybe a final status), without torch, in a few milliseconds a step."""

from __future__ import annotations

import time


def fake_target(
    steps: int = 50, delay: float = 0.01, fail: bool = False, linger: float = 0.0, saving: float = 0.0
):
    """A target that logs `steps` step records `delay` s apart (stopping early when asked, after `saving` s,
    as the real one validates and saves), then raises if `fail`. With `linger` it writes its final status
    itself and only returns `linger` s later, like a training process that writes "finished", then exits."""

    def target(config, run_dir, stop):
        from aecf import runs

        writer = runs.RunWriter(run_dir)
        for i in range(steps):
            if stop.is_set():
                time.sleep(saving)
                break
            writer.log({"kind": "step", "epoch": 0, "step": i, "loss": 1.0 / (i + 1)})
            time.sleep(delay)
        if fail:
            raise RuntimeError("boom")
        if linger:
            writer.set_status("stopped" if stop.is_set() else "finished")
            time.sleep(linger)

    return target
