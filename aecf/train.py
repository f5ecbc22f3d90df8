"""Training a fusion method on a dataset folder: the config, the method presets, and the loop.

    python -m aecf train [--data DIR] --method METHOD [--epochs N] [--seed S] [--out PATH]
    python -m aecf train --specialists [--data DIR] [--out DIR]     # one model per modality subset
    torchrun --nproc_per_node 2 -m aecf train --data DIR ...        # data-parallel (gloo on CPU)

DIR is a folder in the dataset format (docs/data-format.md; default: the shipped digits features). Without
--epochs a run takes about DEFAULT_STEPS optimisation steps whatever the dataset's size. In-process (the app
runs this in a background thread):

    model, history = train(make_config("aecf", epochs=10), split_train, split_val,
                           run_dir=create_run_dir("aecf", 0), callbacks=Callbacks(on_epoch=print),
                           stop_event=threading.Event())

Multi-label data (label [N, C]) selects the sigmoid head with BCE. Inputs that are already unit vectors
(CLIP-style embeddings, the digits, COCO) are used as they are; any other features are standardised with
the training split's per-feature mean and std, stored in the checkpoint (`TrainConfig.inputs`). For COCO
features the CLIP that made them comes from `<features>/meta.json` (`feature_meta`) and is saved in the
checkpoint's `extra["encoder"]` so that `aecf.load` can rebuild it (docs/coco.md §5).

One step, in the order of docs/method.md §4: (1) λ(x) from K MC-dropout passes (no gradient), (2) a mask
drawn by ACM from the detached gate, or uniformly (ModDrop), (3) one batched forward of the full input,
the masked input and the modality subsets, (4) the composite loss. Everything honours `present`: a
modality missing in the data is never masked, weighted or compared by CEC.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from aecf import metrics as M
from aecf.checkpoint import save_checkpoint
from aecf.data import distributed
from aecf.data.dataset import Dataset, FeatureSplit, describe, read_dataset
from aecf.errors import InputError
from aecf.fusion import (
    FusionConfig,
    FusionModel,
    adaptive_lambda,
    map_lambda,
    mc_forward,
    no_dropout,
    predictive_uncertainty,
    uncertainty_knots,
)
from aecf.losses import (
    cec_loss,
    cec_subsets,
    chance_log_likelihood,
    entropy_term,
    expert_consistency_loss,
    gate_entropy,
    gate_responsibility_loss,
    scheduled_lambda,
    supported_pairs,
)
from aecf.masking import (
    ACM_SHARPNESS,
    acm_drop_probs,
    curriculum_rate,
    random_modality_drop,
    sample_keep_mask,
    uniform_drop_probs,
)
from aecf.paths import FEATURE_DIR, FUSION_DIR, RUNS_DIR
from aecf.runs import RunWriter, create_run_dir
from aecf.specialists import SPECIALISTS_DIR, train_specialists

ENTROPY_MODES = ("adaptive", "fixed", "schedule", "none")
CEC_MODES = ("subset", "expert_mse", "none")
MASKING_MODES = ("acm", "uniform", "none")
CEC_PAIRS = ("all", "supported")
INPUTS = ("auto", "standardize", "as_is")
# Without --epochs, a run takes about this many optimisation steps (the shipped digits runs: 20 epochs of
# 47 batches of 256), at least MIN_EPOCHS and at most MAX_EPOCHS passes over the training split.
DEFAULT_STEPS = 940
MIN_EPOCHS, MAX_EPOCHS = 1, 500
# Keys of earlier configs for knobs that every shipped run left at one value and that are gone: read and
# ignored (the value each had in every shipped checkpoint).
REMOVED_KEYS = {"cec_margin": 0.0, "cec_superset_only": False, "gate_lr_scale": 1.0, "acm_gamma": 1.0}


@dataclass
class TrainConfig:
    """Everything a run needs; every term of the composite loss is switched here (docs/method.md §4)."""

    method: str = "aecf"
    model: FusionConfig = field(default_factory=FusionConfig)
    epochs: int | None = None  # None: about DEFAULT_STEPS steps (`epochs_for`)
    batch_size: int = 256
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    # how raw features enter the layer: "auto" standardises unless every training input is a unit vector
    # (CLIP-style embeddings are then used as they are); "standardize" | "as_is" force one
    inputs: str = "auto"
    # task loss: full input and masked input
    full_weight: float = 1.0
    masked_weight: float = 1.0
    # entropy term -λ·H(p): adaptive λ(x) | one global λ | the authors' per-epoch schedule | off
    entropy: str = "adaptive"
    mc_samples: int = 4  # K MC-dropout passes for λ(x) during training (the app shows K = 20)
    uncertainty_momentum: float = 0.9  # EMA of the batch-mean uncertainty ū used by the λ(x) map
    lambda_fixed: float | None = None  # "fixed": None means the midpoint of [lambda_min, lambda_max]
    schedule_lambda_max: float = 0.05  # "schedule" (authors): 0 → linear ramp → cosine decay at the end
    schedule_free_epochs: int = 0
    schedule_warmup_epochs: int = 3
    schedule_decay_fraction: float = 0.1
    # calibration term: subset-lattice CEC | the authors' per-modality MSE | off
    cec: str = "subset"
    cec_weight: float = 10.0  # β (chosen on the validation split, docs/method.md §7)
    cec_ramp_epochs: int = 0  # β ramps linearly over these epochs (authors: 5)
    cec_deterministic: bool = True  # subset rows of CEC without dropout (their noise is not a violation)
    cec_squared: bool = True  # squared hinge (the paper's) or plain
    cec_pairs: str = "all"  # "all" pairs A ⊊ B | "supported": only where B \ A supports the true label
    # subsets compared per step: all 2^M - 1 up to this many (M ≤ 4), else a sampled family (losses.cec_subsets)
    max_subsets: int = 16
    # task loss on every modality subset row (the rows CEC compares), mean over subsets
    subset_weight: float = 0.0
    # gate supervision: cross-entropy from the experts' responsibilities r_m ∝ p(y|z_m)^(1/τ) to the gate
    gate_weight: float = 0.0
    gate_tau: float = 1.0
    # masking: ACM from the gate | uniform ModDrop | off; the rate follows π_t = π_max·min(1, t / warmup·T)
    masking: str = "acm"
    pi_max: float = 0.5
    mask_warmup: float = 0.3  # fraction of training over which π_t ramps (0: constant π_max)
    acm_sharpness: str = "power"  # q_m ∝ p_m ("power") | the entropy blend of earlier runs ("entropy")
    # the quantile λ map's knots: u on the training split after training, with this many MC passes
    lambda_calibration_passes: int = 20
    # monitoring
    val_drop_rate: float = 0.5  # validation accuracy is also reported under this random drop rate
    log_every: int = 10  # steps between on_step records

    def __post_init__(self):
        for name, value, allowed in (
            ("entropy", self.entropy, ENTROPY_MODES),
            ("cec", self.cec, CEC_MODES),
            ("masking", self.masking, MASKING_MODES),
            ("cec_pairs", self.cec_pairs, CEC_PAIRS),
            ("acm_sharpness", self.acm_sharpness, ACM_SHARPNESS),
            ("inputs", self.inputs, INPUTS),
        ):
            if value not in allowed:
                raise ValueError(f"{name}={value!r}; choose from {allowed}")
        if self.model.fusion != "gate" and (self.entropy != "none" or self.masking == "acm"):
            raise ValueError(f"{self.method}: the entropy term and ACM need a gate (fusion='gate')")
        if self.model.fusion == "concat" and self.cec == "expert_mse":
            raise ValueError("the per-modality consistency loss needs per-modality projections")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["model"] = self.model.to_dict()
        return d

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Read a saved config; keys of removed knobs are ignored (REMOVED_KEYS), unknown keys are an error."""
        d = {k: v for k, v in d.items() if k not in REMOVED_KEYS}
        d.setdefault("acm_sharpness", "entropy")  # a run from before the power rule
        d.setdefault("inputs", "as_is")  # a run from before standardisation
        model = FusionConfig.from_dict(d.pop("model", {}))
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown training config keys: {sorted(unknown)}")
        return cls(model=model, **d)


def _preset(method: str, fusion: str = "gate", model: dict | None = None, **kw) -> TrainConfig:
    return TrainConfig(method=method, model=FusionConfig(method=method, fusion=fusion, **(model or {})), **kw)


# What AECF adds to the TrainConfig defaults, each chosen on the validation split
# (docs/method.md §7): the gate learns the experts' responsibilities, every subset row gets the task loss,
# CEC is a plain hinge on the pairs whose added modalities support the truth, ACM drops ∝ p_m, and each
# presence pattern has its own learned logit scale. The aecf_* ablations keep all of it but their one switch.
AECF_RECIPE = dict(
    gate_weight=1.0,
    gate_tau=2.0,
    subset_weight=1.0,
    cec_squared=False,
    cec_weight=10.0,
    cec_pairs="supported",
    acm_sharpness="power",
)
AECF_MODEL = dict(pattern_scale=True)


_NO_REGULARISER = dict(entropy="none", cec="none", masking="none", masked_weight=0.0)

# name -> preset; docs/method.md §5 says what each one isolates
METHODS: dict[str, TrainConfig] = {
    "aecf": _preset("aecf", model=AECF_MODEL, **AECF_RECIPE),
    "late_fusion": _preset("late_fusion", "concat", **_NO_REGULARISER),
    "moddrop": _preset("moddrop", "concat", entropy="none", cec="none", masking="uniform", mask_warmup=0.0),
    "mean": _preset("mean", "mean", **_NO_REGULARISER),
    "gate": _preset("gate", **_NO_REGULARISER),
    "fixed_lambda": _preset("fixed_lambda", entropy="fixed", cec="none", masking="none", masked_weight=0.0),
    "authors_recipe": _preset(
        "authors_recipe",
        entropy="schedule",
        cec="expert_mse",
        cec_weight=0.1,
        cec_ramp_epochs=5,
        masking="uniform",
        pi_max=0.4,
        mask_warmup=0.0,
        full_weight=0.0,
        masked_weight=1.0,
    ),
    "aecf_no_adaptive_lambda": _preset(
        "aecf_no_adaptive_lambda", model=AECF_MODEL, **{**AECF_RECIPE, "entropy": "fixed"}
    ),
    "aecf_no_cec": _preset("aecf_no_cec", model=AECF_MODEL, **{**AECF_RECIPE, "cec": "none"}),
    "aecf_no_acm": _preset("aecf_no_acm", model=AECF_MODEL, **{**AECF_RECIPE, "masking": "uniform"}),
    # AECF with the paper's fusion f = Σ p_m W_m z_m (the gate distributes one unit of evidence)
    "aecf_paper_fusion": _preset(
        "aecf_paper_fusion", model={**AECF_MODEL, "gate_mass": "one"}, **AECF_RECIPE
    ),
}


def make_config(method: str = "aecf", model: dict | None = None, **overrides) -> TrainConfig:
    """A copy of the METHODS preset with overrides; `model` overrides FusionConfig fields."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {sorted(METHODS)}")
    preset = METHODS[method]
    model_cfg = replace(preset.model, **(model or {}))
    return replace(preset, model=model_cfg, **overrides)


@dataclass
class Callbacks:
    """Streaming hooks: on_step(record) every `log_every` steps, on_epoch(record) after each validation."""

    on_step: Callable[[dict], None] | None = None
    on_epoch: Callable[[dict], None] | None = None


def _as_callbacks(callbacks) -> Callbacks:
    if callbacks is None:
        return Callbacks()
    if isinstance(callbacks, dict):
        return Callbacks(on_step=callbacks.get("on_step"), on_epoch=callbacks.get("on_epoch"))
    return Callbacks(
        on_step=getattr(callbacks, "on_step", None), on_epoch=getattr(callbacks, "on_epoch", None)
    )


def epochs_for(n_train: int, batch_size: int, steps: int = DEFAULT_STEPS) -> int:
    """Passes over a training split of `n_train` rows that make about `steps` optimisation steps."""
    per_epoch = max(1, math.ceil(n_train / batch_size))
    return int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(steps / per_epoch))))


def build_model(config: TrainConfig, split: FeatureSplit, standardize: bool = False) -> FusionModel:
    """The model for `config`, sized to the split: its modalities and their widths, its classes (the split's, as
    its dataset.json names them), the sigmoid/BCE head for multi-label data."""
    classes = tuple(split.classes)
    model_cfg = replace(
        config.model,
        method=config.method,
        modalities=tuple(split.modalities),
        embed_dim=split.embed_dim,
        dims=None if len(set(split.dims)) == 1 else tuple(split.dims),
        classes=classes,
        head="sigmoid" if split.multilabel else config.model.head,
        standardize=standardize,
    )
    return FusionModel(model_cfg)


def _accuracy(head, logits: torch.Tensor, label: torch.Tensor) -> float:
    """Top-1 accuracy from logits (softmax), per-label accuracy at p >= 0.5 (multi-label)."""
    return M.accuracy(head.probs(logits) if M.is_multilabel(label) else logits, label)


def feature_meta(features: str | Path) -> dict:
    """What `<features>/meta.json` (written by `python -m aecf features --dataset coco`) says about the
    features: {"classes": names, "encoder": spec for aecf.inference}; {} when there is no meta.json."""
    path = Path(features) / "meta.json"
    if not path.is_file():
        return {}
    meta = json.loads(path.read_text())
    if not meta.get("categories"):
        return {}  # not features of an open_clip run (aecf.data.coco)
    cfg = meta.get("config", {})
    classes = [c["name"] for c in meta.get("categories", [])]
    pretrained = str(cfg.get("pretrained", "none"))
    m = re.fullmatch(r"(.*) \((\d+) bytes\)", pretrained)  # a weights file, as coco.fingerprint records it
    clip = str(cfg.get("clip", ""))
    if clip.endswith(".json") and Path(clip).expanduser().is_file():
        clip = str(Path(clip).expanduser().resolve())
    encoder = {
        "kind": "open_clip",
        "clip": clip,
        "pretrained": m.group(1) if m else pretrained,
        "seed": int(cfg.get("seed", 0)),
        "class_prompt": meta.get("class_prompt", "a photo of a {}."),
        "classes": classes,
        "logit_scale": meta.get("logit_scale"),
        "embed_dim": meta.get("embed_dim"),
        "features": str(Path(features).resolve()),
        "dataset": meta.get("dataset"),
    }
    return {"classes": classes, "encoder": encoder}


# ------------------------------------------------------------------------------------------ the step


class Trainer:
    """Holds the model, optimiser and RNG of one run; `step` is one optimisation step of the composite loss."""

    def __init__(
        self,
        config: TrainConfig,
        model: FusionModel,
        steps_total: int,
        generator: torch.Generator,
        ctx: distributed.Context | None = None,
    ):
        self.config, self.model, self.generator = config, model, generator
        self.ctx = ctx if ctx is not None and ctx.distributed else None
        self.steps_total = max(1, steps_total)
        self.num_modalities = model.config.num_modalities
        self.sample_subsets = 2**self.num_modalities - 1 > config.max_subsets
        self._set_subsets(cec_subsets(self.num_modalities, config.max_subsets, generator))
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        warm = max(1, int(0.03 * self.steps_total))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer,
            lambda s: (
                min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / self.steps_total)))
            ),
        )
        self.step_index = 0

    def _set_subsets(self, subsets: list[tuple[int, ...]]) -> None:
        self.subsets = subsets
        self.subset_masks = M.subset_masks(subsets, self.num_modalities)

    def lambda_value(self, epoch: int) -> float:
        c, mc = self.config, self.model.config
        if c.entropy == "fixed":
            return c.lambda_fixed if c.lambda_fixed is not None else 0.5 * (mc.lambda_min + mc.lambda_max)
        if c.entropy == "schedule":
            return scheduled_lambda(
                epoch,
                c.epochs,
                c.schedule_lambda_max,
                c.schedule_free_epochs,
                c.schedule_warmup_epochs,
                c.schedule_decay_fraction,
            )
        return 0.0

    def mask_rate(self) -> float:
        c = self.config
        return curriculum_rate(self.step_index / self.steps_total, c.pi_max, c.mask_warmup)

    def step(self, x: torch.Tensor, label: torch.Tensor, present: torch.Tensor, epoch: int) -> dict:
        c, model = self.config, self.model
        model.train()
        B, n_mod = present.shape
        rec: dict = {}
        if self.sample_subsets:  # beyond 4 modalities: a fresh family of subsets for CEC every step
            self._set_subsets(cec_subsets(n_mod, c.max_subsets, self.generator))

        # (1) λ(x) and the gate that ACM reads, both without gradient
        gate_ref, lam = None, None
        if c.entropy == "adaptive":
            mc = mc_forward(model, x, present, c.mc_samples)
            u = predictive_uncertainty(mc["probs"])
            with torch.no_grad():
                scale = model.uncertainty_scale
                new = (
                    u.mean()
                    if float(scale) == 0
                    else c.uncertainty_momentum * scale + (1 - c.uncertainty_momentum) * u.mean()
                )
                scale.copy_(new)
            lam = map_lambda(model, u, scale)
            gate_ref = mc["gate"].mean(dim=0)
            rec["uncertainty"] = float(u.mean())
        elif c.entropy in ("fixed", "schedule"):
            lam = torch.full((B,), self.lambda_value(epoch))
        if c.masking == "acm" and gate_ref is None:
            with torch.no_grad():
                gate_ref = model(x, present)["gate"]

        # (2) the training mask
        rows = [present]
        keep = None
        if c.masking != "none":
            rate = self.mask_rate()
            q = (
                acm_drop_probs(gate_ref, present, rate, c.acm_sharpness)
                if c.masking == "acm"
                else uniform_drop_probs(present, rate)
            )
            keep = sample_keep_mask(present, q, self.generator)
            rows.append(keep)
            dropped = (present & ~keep).float()
            rec["pi"] = rate
            rec["mask_rate"] = float(dropped.sum() / present.sum())
            for i, name in enumerate(model.config.modalities):
                rec[f"mask_rate_{name}"] = float(dropped[:, i].sum() / present[:, i].sum().clamp_min(1))
        n_sub = 0
        if c.cec == "subset" or c.subset_weight > 0 or (c.gate_weight > 0 and model.gate is not None):
            sub = self.subset_masks.unsqueeze(1) & present.unsqueeze(0)  # [S, B, M]
            valid = (sub == self.subset_masks.unsqueeze(1)).all(-1)
            sub = torch.where(sub.any(-1, keepdim=True), sub, present.unsqueeze(0))
            rows.extend(sub.unbind(0))
            n_sub = len(self.subsets)

        # (3) one forward over [full; masked; subsets] (subsets separately when CEC compares them without
        # dropout noise: independent dropout masks per subset row would add spurious violations)
        R = len(rows)
        n_main = R - n_sub if c.cec_deterministic else R
        xn = model.normalize(x)  # once for every row of this step (its presence masks differ, not its inputs)
        out = model.forward_shared(
            xn, torch.stack(rows[:n_main]), experts=c.cec == "expert_mse", normalized=True
        )
        logits = out["logits"]
        if n_main < R:
            with no_dropout(model):
                sub_out = model.forward_shared(xn, torch.stack(rows[n_main:]), normalized=True)
            logits = torch.cat([logits, sub_out["logits"]], dim=0)
        gate = out["gate"]
        head = model.head_type

        # (4) composite loss
        loss_full = head.loss(logits[0], label)
        total = c.full_weight * loss_full
        rec["loss_task_full"] = loss_full.item()
        rec["acc"] = _accuracy(head, logits[0], label)
        if keep is not None:
            loss_masked = head.loss(logits[1], label)
            total = total + c.masked_weight * loss_masked
            rec["loss_task_masked"] = loss_masked.item()
            rec["masked_acc"] = _accuracy(head, logits[1], label)
        if n_sub and c.subset_weight > 0:
            sub_valid = (
                self.subset_masks.unsqueeze(1) & present.unsqueeze(0) == self.subset_masks.unsqueeze(1)
            ).all(-1)
            per = torch.stack([head.loss(lg, label, reduction="none") for lg in logits[R - n_sub :]])
            w = sub_valid.to(per.dtype)
            loss_sub = (per * w).sum() / w.sum().clamp_min(1.0)
            total = total + c.subset_weight * loss_sub
            rec["loss_task_subsets"] = loss_sub.item()
        sub_loglik = None
        if n_sub:
            with torch.no_grad():
                sub_loglik = -torch.stack(
                    [head.loss(lg, label, reduction="none") for lg in logits[R - n_sub :]]
                )
        if gate is not None and c.gate_weight > 0:
            # the single-modality subset rows come first (subsets ordered by size)
            expert_ll = sub_loglik[:n_mod]
            loss_gate = gate_responsibility_loss(gate[0], expert_ll, present, c.gate_tau)
            if keep is not None:
                loss_gate = 0.5 * (loss_gate + gate_responsibility_loss(gate[1], expert_ll, keep, c.gate_tau))
            total = total + c.gate_weight * loss_gate
            rec["loss_gate"] = loss_gate.item()
        if gate is not None:
            h = gate_entropy(gate[0])
            rec["gate_entropy"] = h.detach().mean().item()
            if lam is not None:
                loss_ent = entropy_term(gate[0], lam)
                total = total + loss_ent
                rec["loss_entropy"] = loss_ent.item()
                rec["lambda"] = float(lam.mean())
        beta = c.cec_weight * (min(1.0, (epoch + 1) / c.cec_ramp_epochs) if c.cec_ramp_epochs > 0 else 1.0)
        if c.cec == "subset":
            conf = head.confidence(head.probs(logits[R - n_sub :]))
            pair_mask = None
            if c.cec_pairs == "supported":
                chance = chance_log_likelihood(head.name, logits.shape[-1])
                pair_mask = supported_pairs(sub_loglik, self.subsets, chance)
            loss_cec = cec_loss(conf, self.subsets, valid, c.cec_squared, pair_mask)
            total = total + beta * loss_cec
            rec["loss_cec"] = loss_cec.item()
        elif c.cec == "expert_mse":
            expert_probs = head.probs(out["expert_logits"][:B])
            loss_cec = expert_consistency_loss(expert_probs, head.probs(logits[0]), present)
            total = total + beta * loss_cec
            rec["loss_cec"] = loss_cec.item()

        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if self.ctx is not None:
            self._average_gradients(B)
        self.optimizer.step()
        self.scheduler.step()
        self.step_index += 1
        rec["loss"] = total.item()
        rec["lr"] = self.optimizer.param_groups[0]["lr"]
        return rec

    def _average_gradients(self, rows: int) -> None:
        """Data parallelism: every rank's gradient becomes the row-weighted mean over ranks (one all-reduce
        of a flat buffer), and so does the running uncertainty scale, so the ranks stay identical."""
        params = [p for p in self.model.parameters() if p.requires_grad]
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
        flat = torch.cat(
            [p.grad.flatten() * rows for p in params] + [self.model.uncertainty_scale.reshape(1) * rows]
        )
        flat = torch.cat([flat, torch.tensor([float(rows)])])
        dist.all_reduce(flat)
        flat = flat[:-1] / flat[-1]
        offset = 0
        for p in params:
            n = p.numel()
            p.grad.copy_(flat[offset : offset + n].view_as(p))
            offset += n
        self.model.uncertainty_scale.copy_(flat[offset])


# ------------------------------------------------------------------------------------ validation


# A whole split goes through the model in chunks of at most this many input numbers (rows x M x D_max): the
# digits' validation split (5,000 x 3 x 64) in one, a 15,000 x 3 x 512 one in twelve, so that memory stays
# bounded whatever the split's size. The λ knots take CALIBRATION_NUMBERS per K-pass chunk (2,048 digits rows).
CHUNK_NUMBERS = 2**21
CALIBRATION_NUMBERS = 2048 * 3 * 64


def chunk_rows(split: FeatureSplit, numbers: int = CHUNK_NUMBERS) -> int:
    return max(1, numbers // (len(split.modalities) * split.embed_dim))


@torch.no_grad()
def forward_split(model: FusionModel, split: FeatureSplit, present: torch.Tensor | None = None) -> dict:
    """logits [N, C] and gate [N, M] (or None) of a whole split, chunk by chunk (eval mode)."""
    present = split.present if present is None else present
    logits, gates = [], []
    for idx, xb in split.iter_batches(chunk_rows(split)):
        out = model(xb, present[idx])
        logits.append(out["logits"])
        gates.append(out["gate"])
    return {"logits": torch.cat(logits), "gate": None if gates[0] is None else torch.cat(gates)}


@torch.no_grad()
def validate(
    model: FusionModel, split: FeatureSplit, drop_rate: float = 0.5, mc_samples: int = 0, seed: int = 0
) -> dict:
    """Accuracy, ECE and NLL with every input the data has, accuracy under random drop, mean H(p) and
    (optionally) mean λ(x)."""
    model.eval()
    y, present = split.label, split.present
    out = forward_split(model, split)
    probs = model.head_type.probs(out["logits"])
    rec = {
        "val_acc": M.accuracy(probs, y),
        "val_ece": M.expected_calibration_error(probs, y),
        "val_nll": M.nll(out["logits"], y),
    }
    if M.is_multilabel(y):
        rec["val_map"] = M.mean_average_precision(probs, y)
    if drop_rate > 0:
        keep = random_modality_drop(present, drop_rate, torch.Generator().manual_seed(seed))
        rec["val_masked_acc"] = _accuracy(model.head_type, forward_split(model, split, keep)["logits"], y)
    if out["gate"] is not None:
        rec["val_gate_entropy"] = float(gate_entropy(out["gate"]).mean())
    if mc_samples and float(model.uncertainty_scale) > 0:
        lam = [
            adaptive_lambda(model, xb, present[idx], mc_samples)["lam"]
            for idx, xb in split.iter_batches(chunk_rows(split))
        ]
        rec["val_lambda"] = float(torch.cat(lam).mean())
    return rec


# ---------------------------------------------------------------------------------------- the loop


def _mean_records(records: list[dict]) -> dict:
    keys = {k for r in records for k in r}
    return {k: sum(r[k] for r in records if k in r) / sum(1 for r in records if k in r) for k in sorted(keys)}


def resolve_inputs(config: TrainConfig, split: FeatureSplit) -> tuple[bool, tuple | None]:
    """(standardize?, (mean, std) or None) for `config.inputs` on the training split: "auto" standardises
    unless every present training input is a unit vector (within 1 %)."""
    if config.inputs == "as_is":
        return False, None
    mean, std, unit = split.feature_stats()
    if config.inputs == "auto" and unit:
        return False, None
    return True, (mean, std)


class Progress:
    """A bar with an ETA on a terminal; a log line every `every` seconds (and at each epoch's end) otherwise."""

    def __init__(self, total: int, desc: str, enabled: bool, every: float = 10.0, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.desc, self.enabled, self.every = total, desc, enabled, every
        self.tty = enabled and self.stream.isatty()
        self.bar = tqdm(total=total, desc=desc, unit="step", file=self.stream) if self.tty else None
        self.t0 = self.last = time.perf_counter()
        self.done = 0

    def update(self, n: int = 1, **postfix) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
            if postfix:
                self.bar.set_postfix(postfix, refresh=False)
        else:
            self.line(postfix)

    def line(self, info: dict, force: bool = False) -> None:
        """A log line (no terminal): at most one per `every` seconds unless forced."""
        if not self.enabled or self.bar is not None:
            return
        if not force and time.perf_counter() - self.last < self.every:
            return
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / max(self.done, 1) * (self.total - self.done)
        extra = "".join(f", {k} {v}" for k, v in info.items())
        print(
            f"{self.desc}: step {self.done}/{self.total} ({100 * self.done / max(self.total, 1):.0f} %), "
            f"{elapsed:.0f} s elapsed, ETA {eta:.0f} s{extra}",
            file=self.stream,
            flush=True,
        )
        self.last = time.perf_counter()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(
    config: TrainConfig,
    split_train: FeatureSplit,
    split_val: FeatureSplit | None = None,
    run_dir: str | Path | None = None,
    callbacks: Callbacks | dict | None = None,
    stop_event: threading.Event | None = None,
    progress: bool = False,
    checkpoint_extra: dict | None = None,
    ctx: distributed.Context | None = None,
) -> tuple[FusionModel, dict]:
    """Train `config` on a split; returns (model, history) with history = {"steps", "epochs"}.

    Seeded and deterministic for a given config and data. Batches are read from the split's arrays (memory-
    mapped where the file allows), so only a batch is ever copied. With `run_dir`, writes config.json,
    metrics.jsonl, status.json and model.safetensors there. Setting `stop_event` ends the run after the
    current step (state "stopped"; the model so far is kept and saved). `checkpoint_extra` is added to
    the run's checkpoint `extra` (e.g. {"encoder": ...} from `feature_meta`). Under torchrun (`ctx` from
    aecf.data.distributed.start), each rank takes its share of every batch and gradients are averaged;
    rank 0 validates, calibrates and writes.
    """
    distributed_run = ctx is not None and ctx.distributed
    main_rank = ctx is None or ctx.is_main
    cb = _as_callbacks(callbacks)
    writer = RunWriter(run_dir) if run_dir is not None and main_rank else None
    history: dict = {"steps": [], "epochs": []}
    try:
        torch.manual_seed(config.seed)
        generator = torch.Generator().manual_seed(config.seed)
        N = len(split_train)
        if config.epochs is None:
            config = replace(config, epochs=epochs_for(N, config.batch_size))
        standardize, stats = resolve_inputs(config, split_train)
        model = build_model(config, split_train, standardize)  # the same initial weights on every rank
        if stats is not None:
            model.set_standardization(*stats)
        # the order of the data: one generator shared by every rank; dropout and masks: each rank its own
        # (one process: the same generator for both, as before data parallelism)
        order_gen = generator
        if distributed_run:
            torch.manual_seed(config.seed + 1000 * (ctx.rank + 1))
            generator = torch.Generator().manual_seed(config.seed + 1000 * (ctx.rank + 1))
        config = replace(config, model=model.config)
        if writer:
            writer.write_config(config.to_dict())
            writer.set_status("running", method=config.method, epochs=config.epochs)
        steps_per_epoch = math.ceil(N / config.batch_size)
        trainer = Trainer(config, model, config.epochs * steps_per_epoch, generator, ctx)
        bar = Progress(config.epochs * steps_per_epoch, config.method, progress and main_rank)
        stopped = False
        for epoch in range(config.epochs):
            perm = torch.randperm(N, generator=order_gen)
            window, epoch_records = [], []
            t_window, n_window, t_epoch = time.perf_counter(), 0, time.perf_counter()
            for i in range(steps_per_epoch):
                if stop_event is not None and stop_event.is_set():
                    stopped = True
                    break
                idx = perm[i * config.batch_size : (i + 1) * config.batch_size]
                if distributed_run:
                    idx = idx.tensor_split(ctx.world_size)[ctx.rank]
                rec = trainer.step(
                    split_train.batch(idx), split_train.label[idx], split_train.present[idx], epoch
                )
                window.append(rec)
                epoch_records.append(rec)
                n_window += len(idx)
                if len(window) == config.log_every or i == steps_per_epoch - 1:
                    elapsed = time.perf_counter() - t_window
                    step_rec = {
                        "kind": "step",
                        "epoch": epoch,
                        "step": trainer.step_index,
                        **_mean_records(window),
                    }
                    step_rec["examples_per_s"] = n_window / max(elapsed, 1e-9)
                    history["steps"].append(step_rec)
                    if writer:
                        writer.log(step_rec)
                    if cb.on_step:
                        cb.on_step(step_rec)
                    window, t_window, n_window = [], time.perf_counter(), 0
                bar.update(1, loss=f"{rec['loss']:.3f}")
            if not epoch_records:
                break
            epoch_rec = {"kind": "epoch", "epoch": epoch, "step": trainer.step_index}
            epoch_rec.update({f"train_{k}": v for k, v in _mean_records(epoch_records).items()})
            epoch_rec["epoch_seconds"] = time.perf_counter() - t_epoch
            epoch_rec["examples_per_s"] = (
                len(epoch_records) * config.batch_size / max(epoch_rec["epoch_seconds"], 1e-9)
            )
            if split_val is not None and main_rank:
                epoch_rec.update(
                    validate(
                        model,
                        split_val,
                        config.val_drop_rate,
                        config.mc_samples if config.entropy == "adaptive" else 0,
                        config.seed,
                    )
                )
            history["epochs"].append(epoch_rec)
            if writer:
                writer.log(epoch_rec)
            if cb.on_epoch:
                cb.on_epoch(epoch_rec)
            bar.line(
                {"epoch": f"{epoch + 1}/{config.epochs}"}
                | {k: f"{epoch_rec[k]:.4f}" for k in ("val_acc", "val_map") if k in epoch_rec},
                force=epoch + 1 == config.epochs,
            )
            if stopped:
                break
        bar.close()
        if main_rank:
            calibrate(model, config, split_train, split_val, history)
        if distributed_run:  # every rank leaves with rank 0's calibration (and together)
            cfg = distributed.broadcast_object(ctx, (model.config.lambda_knots, model.config.temperature))
            model.config.lambda_knots, model.config.temperature = cfg
        model.eval()
        if writer:
            save_checkpoint(
                model,
                writer.dir / "model",
                train_config=config.to_dict(),
                extra={**_summary(history), **(checkpoint_extra or {})},
            )
            writer.set_status("stopped" if stopped else "finished", **_summary(history))
        return model, history
    except BaseException as e:
        if writer:
            writer.set_status("failed", error=f"{type(e).__name__}: {e}", **_summary(history))
        raise


def calibrate(
    model: FusionModel,
    config: TrainConfig,
    split_train: FeatureSplit,
    split_val: FeatureSplit | None,
    history,
) -> None:
    """After training: the λ map's knots (quantiles of u(x) on the training split, with the inference K)
    and the temperature (fit on the validation split: NLL, or BCE for multi-label)."""
    if config.entropy == "adaptive" and model.config.lambda_map == "quantile" and history["epochs"]:
        torch.manual_seed(config.seed)
        u = torch.cat(
            [
                predictive_uncertainty(
                    mc_forward(model, xb, split_train.present[idx], config.lambda_calibration_passes)["probs"]
                )
                for idx, xb in split_train.iter_batches(chunk_rows(split_train, CALIBRATION_NUMBERS))
            ]
        )
        model.config.lambda_knots = uncertainty_knots(u)
    if split_val is not None:
        model.eval()
        val_logits = forward_split(model, split_val)["logits"]
        model.config.temperature = M.fit_temperature(val_logits, split_val.label)


def _summary(history: dict) -> dict:
    last = history["epochs"][-1] if history["epochs"] else {}
    return {
        k: last[k] for k in ("epoch", "step", "val_acc", "val_map", "val_ece", "val_masked_acc") if k in last
    }


# ------------------------------------------------------------------------------------------- CLI


def load_dataset(args) -> Dataset:
    """The dataset of the command line (--data, or the shipped digits features). The feature caches this
    project builds (the digits', COCO's: they have meta.json) may have classes without a training example
    (their small test versions do); anyone else's dataset may not."""
    directory = Path(args.data)
    ours = directory.resolve() == FEATURE_DIR.resolve() or (directory / "meta.json").is_file()
    return read_dataset(directory, allow_absent_classes=ours)


def load_data(args) -> tuple[FeatureSplit, FeatureSplit | None]:
    """(train, val) for the command line: --synthetic N, else the dataset folder."""
    if args.synthetic:
        from aecf.data.synthetic import (
            make_synthetic_split,
        )  # a test and demo generator, not the product path

        return make_synthetic_split(args.synthetic, seed=1), make_synthetic_split(
            max(500, args.synthetic // 4), seed=2
        )
    data = load_dataset(args)
    return data.split("train"), data.split("val")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m aecf train",
        description="Train a fusion method on a dataset folder (docs/data-format.md).",
    )
    p.add_argument(
        "--data",
        "--features",
        dest="data",
        default=str(FEATURE_DIR),
        metavar="DIR",
        help="dataset folder: dataset.json, train.npz, [val.npz], test.npz (default: the shipped digits features)",
    )
    p.add_argument("--method", default="aecf", choices=sorted(METHODS))
    p.add_argument("--epochs", type=int, help=f"passes over train (default: about {DEFAULT_STEPS} steps)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--out",
        help="save the model as a checkpoint: OUT.safetensors + OUT.json (a folder with --specialists)",
    )
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--lambda-min", type=float)
    p.add_argument("--lambda-max", type=float)
    p.add_argument("--mc-samples", type=int)
    p.add_argument("--cec-weight", type=float)
    p.add_argument(
        "--no-acm", action="store_true", help="replace ACM by uniform random masking (same curriculum)"
    )
    p.add_argument("--pi-max", type=float)
    p.add_argument(
        "--inputs", choices=INPUTS, help="feature standardisation (default auto: unless unit vectors)"
    )
    p.add_argument(
        "--synthetic", type=int, default=0, metavar="N", help="train on N synthetic samples instead"
    )
    p.add_argument("--runs", default=None, help="runs root (default runs/)")
    p.add_argument("--no-run-dir", action="store_true", help="do not write runs/<id>/")
    p.add_argument(
        "--threads", type=int, default=1, help="torch CPU threads (default 1: fastest for this small model)"
    )
    p.add_argument(
        "--specialists",
        action="store_true",
        help="train the reference specialists instead (one late-fusion model per modality subset, up to "
        "15; --out defaults to checkpoints/fusion/specialists for the digits)",
    )
    p.add_argument("--quiet", action="store_true")
    return p


def _config_from_args(args, meta: dict) -> TrainConfig:
    overrides = {
        k: v
        for k, v in {
            "epochs": args.epochs,
            "batch_size": args.batch_size,
            "lr": args.lr,
            "mc_samples": args.mc_samples,
            "cec_weight": args.cec_weight,
            "pi_max": args.pi_max,
            "inputs": args.inputs,
        }.items()
        if v is not None
    }
    model_overrides = {
        k: v
        for k, v in {"lambda_min": args.lambda_min, "lambda_max": args.lambda_max}.items()
        if v is not None
    }
    if args.no_acm:
        overrides["masking"] = "uniform"
    if meta.get("classes"):
        model_overrides["classes"] = tuple(meta["classes"])
    return make_config(args.method, model=model_overrides, seed=args.seed, **overrides)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # tiny matmuls: one thread is several times faster than two on a busy 2-core machine
    torch.set_num_threads(args.threads)
    ctx = distributed.start("cpu")
    say = print if ctx.is_main else (lambda *a, **k: None)
    try:
        meta = {} if args.synthetic else feature_meta(args.data)
        config = _config_from_args(args, meta)
        if args.synthetic:
            split_train, split_val = load_data(args)
        else:
            data = load_dataset(args)
            split_train, split_val = data.split("train"), data.split("val")
            say(describe(data))
    except InputError as e:
        say(f"error: {e}")
        return 1
    if args.specialists:
        return _main_specialists(args, split_train, split_val, say)
    extra = {"encoder": meta["encoder"]} if meta.get("encoder") else {}
    if not args.synthetic:
        extra["dataset"] = {
            "name": data.spec.name,
            "path": str(Path(args.data).resolve()),
            "val": data.val_source,
        }
    run_dir = None
    if not args.no_run_dir and ctx.is_main:
        run_dir = create_run_dir(config.method, config.seed, args.runs or RUNS_DIR)
    t0 = time.perf_counter()
    model, history = train(
        config,
        split_train,
        split_val,
        run_dir=run_dir,
        progress=not args.quiet,
        checkpoint_extra=extra,
        ctx=ctx,
    )
    seconds = time.perf_counter() - t0
    distributed.barrier(ctx)
    distributed.stop(ctx)
    if not ctx.is_main:
        return 0
    last = history["epochs"][-1] if history["epochs"] else {}
    map_text = f"val mAP {last['val_map']:.4f}, " if "val_map" in last else ""
    inputs = "standardised (train statistics)" if model.config.standardize else "as they are"
    print(
        f"{config.method} seed {config.seed}: {len(history['epochs'])} epochs in {seconds:.1f} s"
        f"{f' on {ctx.world_size} processes' if ctx.distributed else ''}, inputs {inputs}, {map_text}"
        f"val acc {last.get('val_acc', float('nan')):.4f}, val ECE {last.get('val_ece', float('nan')):.4f}, "
        f"val acc @ {config.val_drop_rate:.0%} drop {last.get('val_masked_acc', float('nan')):.4f}, "
        f"T = {model.config.temperature:.3f}"
    )
    if run_dir:
        print(f"run: {run_dir}")
    if args.out:
        path = save_checkpoint(
            model,
            args.out,
            train_config=replace(
                config, model=model.config, epochs=len(history["epochs"]) or config.epochs
            ).to_dict(),
            extra={**_summary(history), "train_seconds": seconds, **extra},
        )
        # the training curves travel with the checkpoint (the app's curriculum page reads them)
        metrics_path = path.with_name(path.name[: -len(".safetensors")] + ".metrics.jsonl")
        writer = RunWriter(metrics_path.parent)
        writer.metrics_path = metrics_path
        metrics_path.unlink(missing_ok=True)
        for rec in sorted(
            history["steps"] + history["epochs"], key=lambda r: (r["step"], r["kind"] == "epoch")
        ):
            writer.log(rec)
        print(f"checkpoint: {path}")
    return 0


def _main_specialists(args, split_train: FeatureSplit, split_val: FeatureSplit | None, say) -> int:
    """`--specialists`: one late-fusion model per modality subset (all of them up to 4 modalities, a
    documented sample beyond: aecf.specialists.specialist_subsets), saved in the --out folder."""
    if args.out:
        out = Path(args.out)
    elif Path(args.data).resolve() == FEATURE_DIR.resolve() and not args.synthetic:
        out = FUSION_DIR / SPECIALISTS_DIR
    else:
        say("error: give --out DIR for the specialists of this dataset")
        return 2
    t0 = time.perf_counter()
    train_specialists(
        split_train,
        split_val if split_val is not None and len(split_val) else None,
        epochs=args.epochs,
        seed=args.seed,
        out=out,
        progress=None if args.quiet else say,
    )
    say(f"specialists: {out} ({time.perf_counter() - t0:.1f} s)")
    return 0
