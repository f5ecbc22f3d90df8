"""The README's example of AECF in one's own loop runs as written and does what it says."""

from __future__ import annotations

import math
import runpy
from pathlib import Path

import torch

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "own_training_loop.py"


def test_the_example_trains_on_plain_tensors(capsys):
    torch.manual_seed(0)
    env = runpy.run_path(str(EXAMPLE), run_name="__main__")
    out, present = env["out"], env["present"]
    assert math.isfinite(env["loss"].item())
    assert torch.all(out["gate"][~present] == 0)  # a missing modality gets no weight
    torch.testing.assert_close(out["gate"].sum(1), torch.ones(len(present)))
    assert float(out["lam"].min()) >= 0 and float(out["lam"].max()) <= env["model"].config.lambda_max
    assert "gate of row 0" in capsys.readouterr().out
