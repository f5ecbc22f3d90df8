"""The specialists: one model per modality subset, trained on that subset alone, chosen per example by
which modalities are present. No fusion can know more about an example than the specialist of its
subset, so their accuracy under random drop is the reference limit of the benchmark (docs/method.md §6).

    python -m aecf train --specialists [--epochs N] [--seed N] [--out checkpoints/fusion/specialists]

Each specialist is the late-fusion architecture (concatenation MLP, no regulariser) on
`split.select_modalities(subset)`; the ensemble behaves like a FusionModel (`forward(x, present)`,
`forward_subsets`, `head_type`, `config`) so that `aecf.evaluate.evaluate_model` reports it like any method.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import torch
import torch.nn as nn

from aecf.checkpoint import load_checkpoint, read_checkpoint_config, save_checkpoint
from aecf.constants import subset_name
from aecf.data.cache import FeatureSplit
from aecf.errors import InputError
from aecf.fusion import FusionModel, presence
from aecf.metrics import nonempty_subsets
from aecf.paths import FUSION_DIR
from aecf.train import METHODS, build_parser, load_data, make_config, train

SPECIALISTS_DIR = "specialists"  # under checkpoints/fusion


class SpecialistEnsemble(nn.Module):
    """Routes every example to the specialist of its present subset: logits [B, C]."""

    def __init__(self, specialists: dict[tuple[int, ...], FusionModel], modalities: tuple[str, ...]):
        super().__init__()
        self.modalities = tuple(modalities)
        self.keys = sorted(specialists, key=lambda s: (len(s), s))
        self.members = nn.ModuleList([specialists[k] for k in self.keys])
        self.member_names = [subset_name(modalities[i] for i in k) for k in self.keys]
        full = specialists[tuple(range(len(modalities)))]
        # the interface evaluate_model reads: the full-input specialist's config, with all modalities
        self.config = replace(full.config, method="specialists", modalities=self.modalities)
        self.head_type = full.head_type
        self.gate = None
        self.register_buffer("uncertainty_scale", torch.tensor(0.0))

    def forward(self, x: torch.Tensor, present: torch.Tensor | None = None, experts: bool = False) -> dict:
        present = presence(x, present)
        logits = None
        for key, model in zip(self.keys, self.members, strict=True):
            pattern = torch.zeros(len(self.modalities), dtype=torch.bool)
            pattern[list(key)] = True
            rows = (present == pattern).all(dim=1)
            if not bool(rows.any()):
                continue
            out = model(x[rows][:, list(key)])["logits"]
            if logits is None:
                logits = out.new_zeros(x.shape[0], out.shape[-1])
            logits[rows] = out
        return {"logits": logits, "gate": None, "fused": None}

    def probs(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        return self.head_type.probs(logits / (1.0 if temperature is None else temperature))

    forward_subsets = FusionModel.forward_subsets


def train_specialists(
    split_train: FeatureSplit,
    split_val: FeatureSplit | None = None,
    epochs: int = 20,
    seed: int = 0,
    out: str | Path | None = None,
    progress=None,
) -> SpecialistEnsemble:
    """Train the 2^M - 1 specialists (late-fusion preset on each subset); with `out`, save each as
    OUT/<subset name>.safetensors (+ .json)."""
    modalities = tuple(split_train.modalities)
    models = {}
    for s in nonempty_subsets(len(modalities)):
        names = [modalities[i] for i in s]
        config = make_config("late_fusion", epochs=epochs, seed=seed)
        config = replace(config, method="specialist")
        tr = split_train.select_modalities(names)
        va = split_val.select_modalities(names) if split_val is not None else None
        model, history = train(config, tr, va)
        models[s] = model
        if out is not None:
            save_checkpoint(
                model,
                Path(out) / subset_name(names),
                train_config=config.to_dict(),
                extra={
                    "specialist_of": names,
                    **({k: history["epochs"][-1][k] for k in ("val_acc",)} if history["epochs"] else {}),
                },
            )
        if progress:
            last = history["epochs"][-1] if history["epochs"] else {}
            progress(f"specialist {subset_name(names)}: val acc {last.get('val_acc', float('nan')):.4f}")
    return SpecialistEnsemble(models, modalities)


def load_specialists(directory: str | Path) -> SpecialistEnsemble | None:
    """The ensemble saved by `train_specialists(out=directory)`; None unless every subset is there."""
    directory = Path(directory)
    if not directory.is_dir():
        return None
    models, modalities = {}, None
    for path in sorted(directory.glob("*.safetensors")):
        doc = read_checkpoint_config(path)
        names = (doc.get("extra") or {}).get("specialist_of")
        if not names:
            continue
        models[tuple(names)] = load_checkpoint(path)
        if len(names) > len(modalities or ()):
            modalities = tuple(names)
    if not models or modalities is None:
        return None
    by_index = {}
    for names, model in models.items():
        by_index[tuple(modalities.index(n) for n in names)] = model
    if set(by_index) != set(nonempty_subsets(len(modalities))):
        return None
    return SpecialistEnsemble(by_index, modalities)


def main(argv: list[str] | None = None) -> int:
    """`python -m aecf train --specialists [--features DIR] [--epochs N] [--seed N] [--out DIR] [--quiet]`: the same
    options as `python -m aecf train` (its parser), one late-fusion model per modality subset."""
    args = build_parser().parse_args(["--specialists", *(argv or [])])
    try:
        split_train, split_val = load_data(args)
    except InputError as e:
        print(f"error: {e}")
        return 1
    out = args.out or str(FUSION_DIR / SPECIALISTS_DIR)
    t0 = time.perf_counter()
    train_specialists(
        split_train,
        split_val if len(split_val) else None,
        epochs=args.epochs or METHODS["late_fusion"].epochs,
        seed=args.seed,
        out=out,
        progress=None if args.quiet else print,
    )
    print(f"specialists: {out} ({time.perf_counter() - t0:.1f} s)")
    return 0
