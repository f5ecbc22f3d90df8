"""What the training loops of the three stages share: the learning-rate schedule, the weight-decay groups and
the progress lines."""

from __future__ import annotations

import math
import time

import torch


def lr_at(step: int, total: int, warmup: int, base: float) -> float:
    """Linear warmup then cosine decay to zero."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        # no decay on gains, biases, embeddings, the temperature
        if p.ndim < 2 or "embedding" in name or "logit_scale" in name or name.endswith("class_embedding"):
            no_decay.append(p)
        else:
            decay.append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def log(msg: str) -> None:
    print(f"[encoders] {msg}", flush=True)


def progress(stage: str, step: int, total: int, t0: float, loss: float) -> None:
    """One line every ~5 % of a stage: step, loss, elapsed and the time left at the current pace."""
    every = max(1, total // 20)
    if step % every and step != total:
        return
    elapsed = time.time() - t0
    left = elapsed / max(1, step) * (total - step)
    log(
        f"{stage} {step}/{total} ({100 * step / total:.0f} %) loss {loss:.3f}  "
        f"{elapsed / 60:.1f} min elapsed, ~{left / 60:.1f} min left"
    )
