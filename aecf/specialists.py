"""The specialists: one model per modality subset, trained on that subset alone, chosen per example by
which modalities are present. No fusion can know more about an example than the specialist of its
subset, so their accuracy under random drop is the reference limit of the benchmark (docs/method.md §6).

    python -m aecf train --specialists [--data DIR] [--epochs N] [--seed N] [--out DIR]

Each specialist is the late-fusion architecture (concatenation MLP, no regulariser) on
`split.select_modalities(subset)`, trained on the rows where that subset is present; the ensemble behaves
like a FusionModel (`forward(x, present)`, `forward_subsets`, `head_type`, `config`) so that
`aecf.evaluate.evaluate_model` reports it like any method.

Up to 4 modalities every subset gets its specialist (at most 15 models). Beyond, `specialist_subsets`
trains a seeded sample of MAX_SPECIALISTS subsets: every single modality, the full set and random subsets
of the other sizes in turn; an example whose subset has no specialist goes to the largest trained subset
of it (the best validation accuracy among equals), so the limit is then estimated from below.
"""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn

from aecf.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from aecf.data.cache import FeatureSplit
from aecf.fusion import FusionModel, presence, subset_name
from aecf.metrics import nonempty_subsets

SPECIALISTS_DIR = "specialists"  # under checkpoints/fusion
MAX_SPECIALISTS = 15  # every subset of 4 modalities; a sample beyond


def specialist_subsets(num_modalities: int, max_models: int = MAX_SPECIALISTS, seed: int = 0):
    """The subsets that get a specialist: all of them when there are at most `max_models`, else every single
    modality, the full set, then one random subset of each size 2..M-1 in turn (seeded) up to `max_models`."""
    M = num_modalities
    every = nonempty_subsets(M)
    if len(every) <= max_models:
        return every
    chosen = [(m,) for m in range(M)] + [tuple(range(M))]
    rng = random.Random(seed)
    by_size = {
        k: rng.sample([s for s in every if len(s) == k], len([s for s in every if len(s) == k]))
        for k in range(2, M)
    }
    while len(chosen) < max_models and any(by_size.values()):
        for k in range(2, M):
            if by_size[k] and len(chosen) < max_models:
                chosen.append(by_size[k].pop())
    return sorted(chosen, key=lambda s: (len(s), s))


class SpecialistEnsemble(nn.Module):
    """Routes every example to the specialist of its present subset (or, for a subset without one, of the
    largest trained subset inside it): logits [B, C]."""

    def __init__(
        self,
        specialists: dict[tuple[int, ...], FusionModel],
        modalities: tuple[str, ...],
        val_acc: dict[tuple[int, ...], float] | None = None,
    ):
        super().__init__()
        self.modalities = tuple(modalities)
        M = len(self.modalities)
        self.keys = sorted(specialists, key=lambda s: (len(s), s))
        self.members = nn.ModuleList([specialists[k] for k in self.keys])
        self.member_names = [subset_name(self.modalities, k) for k in self.keys]
        self.estimated = len(self.keys) < 2**M - 1  # some subsets are routed to a smaller specialist
        val_acc = val_acc or {}
        # presence pattern (bit m = modality m) -> index of the member that answers it
        route = []
        for pattern in range(2**M):
            inside = [i for i, k in enumerate(self.keys) if all(pattern >> m & 1 for m in k)]
            route.append(
                max(inside, key=lambda i: (len(self.keys[i]), val_acc.get(self.keys[i], 0.0)), default=-1)
            )
        self.register_buffer("route", torch.tensor(route), persistent=False)
        full = specialists[tuple(range(M))]
        # the interface evaluate_model reads: the full-input specialist's config, with all modalities
        self.config = replace(full.config, method="specialists", modalities=self.modalities)
        self.head_type = full.head_type
        self.gate = None
        self.register_buffer("uncertainty_scale", torch.tensor(0.0))

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return x  # each specialist normalises its own inputs

    def forward(
        self,
        x: torch.Tensor,
        present: torch.Tensor | None = None,
        experts: bool = False,
        normalized: bool = False,
    ) -> dict:
        present = presence(x, present)
        bits = 2 ** torch.arange(present.shape[1])
        member = self.route[(present.long() * bits).sum(1)]
        logits = None
        for i, (key, model) in enumerate(zip(self.keys, self.members, strict=True)):
            rows = member == i
            if not bool(rows.any()):
                continue
            out = model(x[rows][:, list(key), : model.config.embed_dim])["logits"]
            if logits is None:
                logits = out.new_zeros(x.shape[0], out.shape[-1])
            logits[rows] = out
        return {"logits": logits, "gate": None, "fused": None}

    def forward_shared(
        self, x: torch.Tensor, presents: torch.Tensor, experts: bool = False, normalized: bool = False
    ) -> dict:
        """R presence masks [R, B, M] over the same inputs: logits [R, B, C]."""
        R, B, M = presents.shape
        out = self(x.repeat(R, 1, 1), presents.reshape(R * B, M))
        return {"logits": out["logits"].reshape(R, B, -1), "gate": None, "fused": None}

    def probs(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        return self.head_type.probs(logits / (1.0 if temperature is None else temperature))

    forward_subsets = FusionModel.forward_subsets


def train_specialists(
    split_train: FeatureSplit,
    split_val: FeatureSplit | None = None,
    epochs: int | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    progress=None,
    max_models: int = MAX_SPECIALISTS,
) -> SpecialistEnsemble:
    """Train the specialists of `specialist_subsets` (late-fusion preset on each subset, on the rows where
    it is present; epochs None: by steps); with `out`, save each as OUT/<subset name>.safetensors (+ .json)."""
    from aecf.train import make_config, train  # aecf.train imports this module (its --specialists)

    modalities = tuple(split_train.modalities)
    models, accs = {}, {}
    for s in specialist_subsets(len(modalities), max_models, seed):
        names = [modalities[i] for i in s]
        config = make_config("late_fusion", epochs=epochs, seed=seed)
        config = replace(config, method="specialist")
        tr = split_train.select_modalities(names).complete_rows()
        va = split_val.select_modalities(names).complete_rows() if split_val is not None else None
        model, history = train(config, tr, va if va is not None and len(va) else None)
        models[s] = model
        last = history["epochs"][-1] if history["epochs"] else {}
        accs[s] = float(last.get("val_acc", 0.0))
        if out is not None:
            save_checkpoint(
                model,
                Path(out) / subset_name(modalities, s),
                train_config=replace(config, model=model.config, epochs=len(history["epochs"])).to_dict(),
                extra={
                    "specialist_of": names,
                    "modalities": list(modalities),
                    **({"val_acc": last["val_acc"]} if "val_acc" in last else {}),
                },
            )
        if progress:
            progress(
                f"specialist {subset_name(modalities, s)}: val acc {last.get('val_acc', float('nan')):.4f}"
            )
    return SpecialistEnsemble(models, modalities, accs)


def load_specialists(directory: str | Path) -> SpecialistEnsemble | None:
    """The ensemble saved by `train_specialists(out=directory)`; None unless the full set and every single
    modality have their specialist (so that every example can be routed)."""

    directory = Path(directory)
    if not directory.is_dir():
        return None
    models, accs, modalities = {}, {}, None
    for path in sorted(directory.glob("*.safetensors")):
        doc = read_checkpoint_config(path)
        extra = doc.get("extra") or {}
        names = extra.get("specialist_of")
        if not names:
            continue
        models[tuple(names)] = load_checkpoint(path)
        accs[tuple(names)] = float(extra.get("val_acc", 0.0))
        if extra.get("modalities"):
            modalities = tuple(extra["modalities"])
        elif len(names) > len(modalities or ()):
            modalities = tuple(names)
    if not models or modalities is None:
        return None
    by_index, acc_by_index = {}, {}
    for names, model in models.items():
        if not set(names) <= set(modalities):
            return None
        key = tuple(sorted(modalities.index(n) for n in names))
        by_index[key], acc_by_index[key] = model, accs[names]
    needed = {(m,) for m in range(len(modalities))} | {tuple(range(len(modalities)))}
    if not needed <= set(by_index):
        return None
    return SpecialistEnsemble(by_index, modalities, acc_by_index)
