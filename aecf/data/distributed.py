"""Data parallelism for the feature extractors, on torch.distributed (launched by `torchrun`).

A program calls `start()` once. Under `torchrun` (RANK / WORLD_SIZE / LOCAL_RANK in the environment)
it joins the process group — NCCL when CUDA is available, gloo otherwise — and gets its rank's device;
started as a plain process it runs alone (rank 0 of 1) and every collective below is a no-op.
The work split itself is the caller's: typically rank r takes items r, r + world_size, ...
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

# Ranks wait for each other at barriers while the slowest one finishes its shards; the default
# timeouts (10 min NCCL, 30 min gloo) are shorter than an unbalanced resumed run can take.
BARRIER_TIMEOUT = datetime.timedelta(hours=6)


@dataclass(frozen=True)
class Context:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def start(device: str = "auto") -> Context:
    """Join the process group if launched by torchrun; pick this rank's device.

    device: "auto" (cuda:<local rank> when CUDA is available, else cpu), "cpu" or "cuda".
    """
    rank = int(os.environ.get("RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    use_cuda = torch.cuda.is_available() if device == "auto" else device.startswith("cuda")
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but CUDA is not available on this machine.")
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                f"LOCAL_RANK {local_rank} but this node has {torch.cuda.device_count()} GPU(s): start at most "
                "that many processes per node (torchrun --nproc_per_node), or pass --device cpu."
            )
        torch.cuda.set_device(local_rank)
        dev = torch.device("cuda", local_rank)
    else:
        dev = torch.device("cpu")
    if world_size > 1 and launched_by_torchrun() and not dist.is_initialized():
        kwargs: dict[str, Any] = {"backend": "nccl" if use_cuda else "gloo", "timeout": BARRIER_TIMEOUT}
        if use_cuda:
            kwargs["device_id"] = dev
        dist.init_process_group(**kwargs)
    return Context(rank=rank, world_size=world_size, local_rank=local_rank, device=dev)


def barrier(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.barrier()


def broadcast_object(ctx: Context, obj: Any = None) -> Any:
    """Rank 0's `obj` on every rank (a picklable value; small — a plan, a list of shard ids)."""
    if not (ctx.distributed and dist.is_initialized()):
        return obj
    box = [obj if ctx.is_main else None]
    dist.broadcast_object_list(box, src=0, device=ctx.device if ctx.device.type == "cuda" else None)
    return box[0]


def stop(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
