"""The AECF fusion layer and the baseline fusions, behind one interface.

    model(x [B, M, D], present bool [B, M]) -> {"logits": [B, C], "gate": [B, M] | None, "fused": [B, H]}

x holds modality m in x[:, m, :dims[m]] (zeros after it when the widths differ: D is the widest); every
modality has its own projection into the fused width, part of the layer. `AECF` (below) is the drop-in
module for anyone's training loop: it takes a dict of [B, dim_m] tensors.

Reads top to bottom: the config, the classifier heads, the gate, the model, then the per-instance
entropy coefficient λ(x) (MC-dropout), `diagnose`, which returns everything the app shows for one
example, and `AECF`. The equations are in docs/method.md (§ numbers below refer to it).
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import asdict, dataclass, field, fields

import torch
import torch.nn as nn
import torch.nn.functional as F

from aecf.constants import CLASSES, EMBED_DIM, MODALITIES
from aecf.losses import gate_entropy
from aecf.metrics import nonempty_subsets, subset_masks

FUSIONS = ("gate", "mean", "concat")
MIN_MODALITIES, MAX_MODALITIES = 2, 8


def subset_name(modalities, subset) -> str:
    """A subset's name: its modalities joined by '+' in the model's order (`image+audio` for the digits)."""
    return "+".join(modalities[i] for i in subset)


@dataclass
class FusionConfig:
    """Architecture of a fusion model; saved next to its weights (see aecf.checkpoint)."""

    method: str = "aecf"
    fusion: str = (
        "gate"  # gate: f = Σ p_m W_m z_m | mean: average of present W_m z_m | concat: MLP on [z_1..z_M]
    )
    modalities: tuple[str, ...] = MODALITIES
    classes: tuple[str, ...] = CLASSES
    embed_dim: int = EMBED_DIM  # D: the widest modality (every modality's width when `dims` is None)
    dims: tuple[int, ...] | None = None  # each modality's width, when they differ
    hidden_dim: int = 128  # H, the fused width
    gate_hidden: int = 64
    gate_dropout: float = 0.2  # dropout inside g_φ: the MC-dropout passes of λ(x) sample it
    feature_dropout: float = 0.1  # dropout on f before h_ψ (also active in MC passes)
    head: str = "softmax"  # softmax/CE (one label) | sigmoid/BCE (multi-label)
    head_hidden: int = 128  # width of h_ψ's hidden layer; 0: linear h_ψ, as in the paper (docs/method.md §1)
    # "count": f = |S| Σ p_m W_m z_m | "one": f = Σ p_m W_m z_m, the paper's (docs/method.md §1, §7)
    gate_mass: str = "count"
    # standardise each feature with the training split's mean/std (buffers `input_mean`, `input_std`,
    # stored with the weights) before the L2 normalisation: features of any scale and offset
    standardize: bool = False
    normalize_inputs: bool = True  # L2-normalise each embedding (CLIP-style features)
    input_scale: float = 5.0  # z is multiplied by this after normalisation (keeps logits in range)
    lambda_min: float = 0.0  # λ(x) ∈ [lambda_min, lambda_max] (docs/method.md §2)
    lambda_max: float = 0.1
    # how u(x) becomes λ(x): "quantile" — the empirical CDF of u on the training split, stored as
    # `lambda_knots` (so λ spreads over [λ_min, λ_max]); "ratio" — r/(1+r), r = u/ū (older checkpoints;
    # checkpoints without this key load with it). docs/method.md §2
    lambda_map: str = "quantile"
    lambda_knots: tuple[float, ...] | None = None  # quantiles of u at levels 0, 1/n, ..., 1 (training split)
    temperature: float = 1.0  # post-hoc, fit on the validation split after training
    # a learned logit scale per presence pattern (2^M scalars, trained with the task loss): each subset's
    # confidence gets its own calibration, so CEC cannot satisfy the lattice by deflating every small subset
    pattern_scale: bool = False

    @property
    def num_modalities(self) -> int:
        return len(self.modalities)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def widths(self) -> tuple[int, ...]:
        """Each modality's width (all `embed_dim` unless `dims` says otherwise)."""
        return tuple(self.dims) if self.dims is not None else (self.embed_dim,) * self.num_modalities

    def to_dict(self) -> dict:
        d = asdict(self)
        d["modalities"], d["classes"] = list(self.modalities), list(self.classes)
        if self.dims is not None:
            d["dims"] = [int(v) for v in self.dims]
        if self.lambda_knots is not None:
            d["lambda_knots"] = [float(k) for k in self.lambda_knots]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FusionConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown fusion config keys: {sorted(unknown)}")
        d = dict(d)
        d.setdefault("lambda_map", "ratio")  # a checkpoint from before the quantile map
        d.setdefault("pattern_scale", False)
        for key in ("modalities", "classes", "lambda_knots", "dims"):
            if d.get(key) is not None:
                d[key] = tuple(d[key])
        return cls(**d)


# --------------------------------------------------------------------------------------------------
# Classifier heads: how logits become probabilities, a loss and a confidence. Pluggable so the same
# fusion serves single-label digits (softmax/CE) and multi-label COCO (sigmoid/BCE).


class SoftmaxHead:
    name = "softmax"

    @staticmethod
    def probs(logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(dim=-1)

    @staticmethod
    def loss(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        return F.cross_entropy(logits, target, reduction=reduction)

    @staticmethod
    def confidence(probs: torch.Tensor) -> torch.Tensor:
        """c = max_y p(y): the quantity CEC keeps monotone and ECE bins."""
        return probs.max(dim=-1).values


class SigmoidHead:
    name = "sigmoid"

    @staticmethod
    def probs(logits: torch.Tensor) -> torch.Tensor:
        return logits.sigmoid()

    @staticmethod
    def loss(logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        per = F.binary_cross_entropy_with_logits(logits, target.float(), reduction="none").mean(dim=-1)
        return per.mean() if reduction == "mean" else per

    @staticmethod
    def confidence(probs: torch.Tensor) -> torch.Tensor:
        """Mean over labels of the confidence of each binary decision, max(p, 1 - p)."""
        return torch.maximum(probs, 1 - probs).mean(dim=-1)


HEADS = {"softmax": SoftmaxHead, "sigmoid": SigmoidHead}


# --------------------------------------------------------------------------------------------------


def masked_softmax(logits: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Softmax over present modalities only; an absent one gets exactly 0."""
    logits = logits.masked_fill(~present, float("-inf"))
    return torch.softmax(logits, dim=-1).masked_fill(~present, 0.0)


def presence(x: torch.Tensor, present: torch.Tensor | None) -> torch.Tensor:
    """The presence mask [B, M] of a batch (all present when None); every example must keep one modality."""
    if present is None:
        present = torch.ones(x.shape[:2], dtype=torch.bool, device=x.device)
    present = present.bool()
    if not bool(present.any(dim=1).all()):
        raise ValueError("every example needs at least one present modality")
    return present


class Gate(nn.Module):
    """g_φ: two-layer MLP with dropout over the zero-filled embeddings (side by side) and the presence mask
    (fc1 reads [Σ dims + M] columns)."""

    def __init__(self, features: int, num_modalities: int, hidden: int, dropout: float):
        super().__init__()
        self.fc1 = nn.Linear(features + num_modalities, hidden)
        self.drop = nn.Dropout(dropout)
        self.fc2 = nn.Linear(hidden, num_modalities)

    def forward_shared(self, z: torch.Tensor, presents: torch.Tensor, by_modality) -> torch.Tensor:
        """Gate weights [R·B, M] for R presence masks [R, B, M] over the same zero-filled inputs z [B, M, D]:
        fc1 of [z ⊙ mask (side by side), mask] is Σ_m mask_m · (fc1's columns of m) z_m + fc1's columns of the
        mask · mask + bias, so each modality's part is computed once (`by_modality` maps fc1's columns)."""
        R, B, M = presents.shape
        P = presents.to(z.dtype)
        parts = torch.einsum("bmd,hmd->bmh", z, by_modality(self.fc1.weight[:, :-M]))
        pre = torch.einsum("rbm,bmh->rbh", P, parts) + P @ self.fc1.weight[:, -M:].T + self.fc1.bias
        h = self.drop(F.gelu(pre.reshape(R * B, -1)))
        return masked_softmax(self.fc2(h), presents.reshape(R * B, M))


class FusionModel(nn.Module):
    """One model class for every method; `config.fusion` picks how modalities are combined."""

    def __init__(self, config: FusionConfig):
        super().__init__()
        if config.fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {config.fusion!r}; choose from {FUSIONS}")
        if config.head not in HEADS:
            raise ValueError(f"unknown head {config.head!r}; choose from {tuple(HEADS)}")
        if config.lambda_map not in LAMBDA_MAPS:
            raise ValueError(f"unknown lambda_map {config.lambda_map!r}; choose from {LAMBDA_MAPS}")
        M, D, H = config.num_modalities, config.embed_dim, config.hidden_dim
        widths = config.widths
        if len(widths) != M or max(widths) != D or min(widths) < 1:
            raise ValueError(f"dims {widths} do not fit {M} modalities of at most embed_dim = {D}")
        self.config = config
        self.head_type = HEADS[config.head]
        # the real feature columns of the flattened [M·D] input (None: every column, equal widths)
        self.register_buffer(
            "_columns",
            None
            if min(widths) == D
            else torch.cat([torch.arange(m * D, m * D + w) for m, w in enumerate(widths)]),
            persistent=False,
        )
        packed = sum(widths)
        if config.fusion == "concat":
            # late fusion: concatenation of the zero-filled embeddings, then an MLP
            self.trunk = nn.Sequential(nn.Linear(packed, H), nn.GELU())
        else:
            # W_m: one linear projection per modality, stored as a [M, D, H] tensor (one einsum); rows past a
            # narrower modality's width only ever meet zeros
            self.proj_weight = nn.Parameter(torch.empty(M, D, H))
            self.proj_bias = nn.Parameter(torch.zeros(M, H))
            if min(widths) == D:
                bound = 1 / math.sqrt(D)
                nn.init.uniform_(self.proj_weight, -bound, bound)
            else:
                with torch.no_grad():
                    self.proj_weight.zero_()
                    for m, w in enumerate(widths):
                        nn.init.uniform_(self.proj_weight[m, :w], -1 / math.sqrt(w), 1 / math.sqrt(w))
        self.gate = (
            Gate(packed, M, config.gate_hidden, config.gate_dropout) if config.fusion == "gate" else None
        )
        self.feature_drop = nn.Dropout(config.feature_dropout)
        head_in = H
        if config.head_hidden:
            self.head = nn.Sequential(
                nn.Linear(head_in, config.head_hidden),
                nn.GELU(),
                nn.Linear(config.head_hidden, config.num_classes),
            )
        else:
            self.head = nn.Linear(head_in, config.num_classes)  # h_ψ
        if config.pattern_scale:
            self.pattern_log_scale = nn.Parameter(torch.zeros(2**M))
        # running scale ū of the MC-dropout uncertainty, used by the λ(x) map (docs/method.md §2)
        self.register_buffer("uncertainty_scale", torch.tensor(0.0))
        if (
            config.standardize
        ):  # the training split's statistics (set_standardization), saved with the weights
            self.register_buffer("input_mean", torch.zeros(M, D))
            self.register_buffer("input_std", torch.ones(M, D))

    def set_standardization(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Per-modality feature mean and std [M, D] (e.g. FeatureSplit.feature_stats of the training split)."""
        if not self.config.standardize:
            raise ValueError("this model was built without standardize=True")
        self.input_mean.copy_(torch.as_tensor(mean).reshape(self.input_mean.shape))
        self.input_std.copy_(torch.as_tensor(std).reshape(self.input_std.shape).clamp_min(1e-12))

    @property
    def has_gate(self) -> bool:
        return self.gate is not None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Standardise (train statistics) and L2-normalise each modality, as the config says; row by row, so
        a batch repeated for several presence masks can be normalised once (`forward(normalized=True)`)."""
        if self.config.standardize:
            x = (x - self.input_mean) / self.input_std
        if self.config.normalize_inputs:
            x = F.normalize(x, dim=-1)
        return x

    def prepare(self, x: torch.Tensor, present: torch.Tensor, normalized: bool = False) -> torch.Tensor:
        """Normalise and zero-fill: nothing of an absent modality (not even a NaN) reaches the model, and the
        padding past a narrower modality stays zero."""
        if not normalized:
            x = self.normalize(x)
        return x.masked_fill(~present.unsqueeze(-1), 0.0) * self.config.input_scale

    def flat(self, z: torch.Tensor) -> torch.Tensor:
        """[B, M, D] -> [B, Σ dims]: the modalities side by side, without the padding."""
        z = z.flatten(1)
        return z if self._columns is None else z.index_select(1, self._columns)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """W_m z_m for every modality: [B, M, D] -> [B, M, H]."""
        return torch.einsum("bmd,mdh->bmh", z, self.proj_weight) + self.proj_bias

    def by_modality(self, weight: torch.Tensor) -> torch.Tensor:
        """The columns of a weight that reads `flat(z)` [.., Σ dims], as [out, M, D] (zero for the padding)."""
        M, D = self.config.num_modalities, self.config.embed_dim
        if self._columns is None:
            return weight.reshape(weight.shape[0], M, D)
        full = weight.new_zeros(weight.shape[0], M * D).index_copy(1, self._columns, weight)
        return full.reshape(weight.shape[0], M, D)

    def forward(
        self,
        x: torch.Tensor,
        present: torch.Tensor | None = None,
        experts: bool = False,
        normalized: bool = False,
    ) -> dict:
        """x [B, M, D] (or `normalize(x)` with normalized=True), present bool [B, M] (None: all)."""
        present = presence(x, present)
        out = self.forward_shared(x, present.unsqueeze(0), experts, normalized)
        return {k: v if v is None or k == "expert_logits" else v[0] for k, v in out.items()}

    def forward_shared(
        self, x: torch.Tensor, presents: torch.Tensor, experts: bool = False, normalized: bool = False
    ) -> dict:
        """R presence masks over the same inputs in one pass: x [B, M, D], presents bool [R, B, M] ->
        logits [R, B, C], gate [R, B, M] | None, fused [R, B, H] (and expert_logits [R·B, M, C]).

        Every layer that reads the inputs is linear in each modality, so what each modality contributes is
        computed once per example and the R masks only choose which contributions add up: the same model as
        R separate forwards with zero-filled absent modalities, at the cost of one pass over the inputs."""
        R, B, M = presents.shape
        presents = presents.bool()
        if not bool(presents.any(dim=-1).all()):
            raise ValueError("every example needs at least one present modality")
        z = self.prepare(x, presents.any(dim=0), normalized)  # zero where no mask uses a modality
        P = presents.to(z.dtype)
        rows = presents.reshape(R * B, M)
        out: dict = {"gate": None}
        if self.config.fusion == "concat":
            linear, act = self.trunk
            parts = torch.einsum("bmd,hmd->bmh", z, self.by_modality(linear.weight))
            fused = act(torch.einsum("rbm,bmh->rbh", P, parts) + linear.bias).reshape(R * B, -1)
        else:
            proj = self.project(z)  # [B, M, H]
            if self.gate is not None:
                weights = self.gate.forward_shared(z, presents, self.by_modality)
                out["gate"] = weights.reshape(R, B, M)
            else:
                weights = rows.to(z.dtype) / rows.sum(dim=1, keepdim=True)
            # f = Σ_m p_m W_m z_m
            fused = (weights.reshape(R, B, M, 1) * proj.unsqueeze(0)).sum(dim=2).reshape(R * B, -1)
            if self.gate is not None and self.config.gate_mass == "count":
                fused = fused * rows.sum(dim=1, keepdim=True).to(fused.dtype)
            if experts:
                # each modality alone through the same head, h_ψ(W_m z_m): "experts" for diagnostics and
                # for the authors' per-modality consistency loss
                alone = torch.eye(M, dtype=torch.bool, device=proj.device).expand(R * B, -1, -1)
                out["expert_logits"] = self.classify(
                    proj.unsqueeze(0).expand(R, -1, -1, -1).reshape(R * B, M, -1), alone
                )
        out["fused"] = fused.reshape(R, B, -1)
        out["logits"] = self.classify(fused, rows).reshape(R, B, -1)
        return out

    def classify(self, fused: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """h_ψ(f), with dropout on f; with `pattern_scale`, times the learned scale of the presence pattern."""
        logits = self.head(self.feature_drop(fused))
        if self.config.pattern_scale:
            bits = 2 ** torch.arange(present.shape[-1], device=present.device)
            pattern = (present.long() * bits).sum(-1)
            logits = logits * self.pattern_log_scale.exp()[pattern].unsqueeze(-1).to(logits.dtype)
        return logits

    def probs(self, logits: torch.Tensor, temperature: float | None = None) -> torch.Tensor:
        t = self.config.temperature if temperature is None else temperature
        return self.head_type.probs(logits / t)

    def forward_subsets(
        self, x: torch.Tensor, present: torch.Tensor, subsets: torch.Tensor, normalized: bool = False
    ) -> dict:
        """Run every subset (rows of the bool mask `subsets` [S, M]) in one batch: logits [S, B, C].

        The presence used for subset s and example b is s ∩ present_b; when that is empty the row falls back
        to present_b and `valid[s, b]` is False (valid means s ⊆ present_b).
        """
        subsets, present = subsets.bool(), present.bool()
        masks = subsets.unsqueeze(1) & present.unsqueeze(0)  # [S, B, M]
        valid = (masks == subsets.unsqueeze(1)).all(-1)
        masks = torch.where(masks.any(-1, keepdim=True), masks, present.unsqueeze(0))
        out = self.forward_shared(x, masks, normalized=normalized)
        return {"logits": out["logits"], "gate": out["gate"], "present": masks, "valid": valid}


# --------------------------------------------------------------------------------------------------
# λ(x): the meta-adaptive entropy coefficient (docs/method.md §2)


@contextlib.contextmanager
def mc_dropout(model: nn.Module):
    """Dropout layers active (MC-dropout), everything else as it was; restores the modes on exit."""
    modes = {m: m.training for m in model.modules()}
    try:
        for m in model.modules():
            if isinstance(m, nn.Dropout):
                m.train(True)
        yield model
    finally:
        for m, mode in modes.items():
            m.train(mode)


@contextlib.contextmanager
def no_dropout(model: nn.Module):
    """Dropout layers off (eval), everything else as it was; gradients still flow."""
    modes = {m: m.training for m in model.modules() if isinstance(m, nn.Dropout)}
    try:
        for m in modes:
            m.train(False)
        yield model
    finally:
        for m, mode in modes.items():
            m.train(mode)


@torch.no_grad()
def mc_forward(model: FusionModel, x: torch.Tensor, present: torch.Tensor, passes: int) -> dict:
    """K stochastic passes with dropout on, batched as one [K·B] forward: probs [K, B, C], gate [K, B, M]."""
    with mc_dropout(model):
        out = model.forward_shared(x, present.unsqueeze(0).expand(passes, -1, -1))
    probs = model.head_type.probs(out["logits"])
    gate = out["gate"]
    return {"probs": probs, "gate": gate}


def predictive_uncertainty(mc_probs: torch.Tensor) -> torch.Tensor:
    """u(x) = Σ_y Var_k[p_k(y|x)] (unbiased over the K passes): [K, B, C] -> [B]."""
    return mc_probs.var(dim=0, unbiased=True).sum(dim=-1)


def lambda_from_uncertainty(
    u: torch.Tensor, scale: float | torch.Tensor, lambda_min: float, lambda_max: float
) -> torch.Tensor:
    """λ(x) = λ_min + (λ_max - λ_min) · r / (1 + r), r = u(x) / ū: an input as uncertain as the running mean
    gets the midpoint; the map is monotone, bounded, and has no gradient (stop-gradient)."""
    scale = torch.as_tensor(scale, dtype=u.dtype)
    r = u.detach() / scale.clamp_min(1e-12)
    return lambda_min + (lambda_max - lambda_min) * r / (1 + r)


LAMBDA_MAPS = ("quantile", "ratio")
N_LAMBDA_KNOTS = 100  # the quantile map keeps u's quantiles at levels 0, 1/100, ..., 1


def uncertainty_knots(u: torch.Tensor, n: int = N_LAMBDA_KNOTS) -> tuple[float, ...]:
    """Quantiles of u at levels 0, 1/n, ..., 1: the knots of the quantile λ map (made non-decreasing)."""
    q = torch.quantile(u.detach().double().flatten(), torch.linspace(0, 1, n + 1, dtype=torch.float64))
    return tuple(float(v) for v in torch.cummax(q, dim=0).values)


def rank_fraction(u: torch.Tensor) -> torch.Tensor:
    """Mid-rank of each u within its batch, in (0, 1): the batch's own empirical CDF (ties share a rank)."""
    u = u.detach()
    less = (u.unsqueeze(0) < u.unsqueeze(1)).sum(1).to(u.dtype)
    equal = (u.unsqueeze(0) == u.unsqueeze(1)).sum(1).to(u.dtype)
    return (less + 0.5 * equal) / len(u)


def cdf_from_knots(u: torch.Tensor, knots) -> torch.Tensor:
    """F(u): piecewise-linear interpolation of the levels 0..1 through the knots (0 below, 1 above)."""
    k = torch.as_tensor(knots, dtype=torch.float64)
    n = len(k) - 1
    x = u.detach().double().flatten()
    idx = torch.searchsorted(k, x, right=True).clamp(1, n)  # k[idx-1] <= x < k[idx]
    lo, hi = k[idx - 1], k[idx]
    frac = torch.where(hi > lo, (x - lo) / (hi - lo).clamp_min(1e-300), torch.ones_like(x))
    level = ((idx - 1).double() + frac.clamp(0, 1)) / n
    level = torch.where(
        x < k[0], torch.zeros_like(level), torch.where(x >= k[-1], torch.ones_like(level), level)
    )
    return level.reshape(u.shape).to(u.dtype)


def lambda_from_quantile(u: torch.Tensor, knots, lambda_min: float, lambda_max: float) -> torch.Tensor:
    """λ(x) = λ_min + (λ_max - λ_min) · F(u(x)), F the empirical CDF of u on the training split: an input
    more uncertain than a share q of the training inputs gets the q-quantile of [λ_min, λ_max]. Monotone,
    bounded, spread over the whole range whatever u's tail; no gradient. Without knots (during training,
    before they exist) F is the rank within the batch."""
    level = rank_fraction(u) if knots is None else cdf_from_knots(u, knots)
    return lambda_min + (lambda_max - lambda_min) * level


def map_lambda(model: FusionModel, u: torch.Tensor, scale=None) -> torch.Tensor:
    """The model's own λ map (config.lambda_map) applied to u."""
    cfg = model.config
    if cfg.lambda_map == "quantile":
        return lambda_from_quantile(u, cfg.lambda_knots, cfg.lambda_min, cfg.lambda_max)
    if scale is None:
        scale = model.uncertainty_scale if float(model.uncertainty_scale) > 0 else u.mean()
    return lambda_from_uncertainty(u, scale, cfg.lambda_min, cfg.lambda_max)


@torch.no_grad()
def adaptive_lambda(model: FusionModel, x: torch.Tensor, present: torch.Tensor, passes: int) -> dict:
    """λ(x) from K MC-dropout passes, with the model's running uncertainty scale. Returns lam, u, mc."""
    mc = mc_forward(model, x, present, passes)
    u = predictive_uncertainty(mc["probs"])
    return {"lam": map_lambda(model, u), "u": u, "mc": mc}


# --------------------------------------------------------------------------------------------------
# Diagnostics of one example (used by the app and aecf.inference)


@dataclass
class Diagnosis:
    """Everything the fusion layer can say about one example."""

    probs: torch.Tensor  # [C] calibrated (temperature) probabilities with the given modalities
    label: int
    confidence: float
    gate: torch.Tensor | None  # [M], 0 for absent modalities
    gate_entropy: float | None  # H(p) in nats
    lam: float | None  # λ(x) from K MC-dropout passes (None: the model was not trained with an adaptive λ)
    uncertainty: float  # u(x)
    mc_probs: torch.Tensor  # [K, C]
    experts: dict[str, torch.Tensor] = field(default_factory=dict)  # modality -> probs of that modality alone
    subsets: dict[str, torch.Tensor] = field(
        default_factory=dict
    )  # subset name -> probs with only that subset


@torch.no_grad()
def diagnose(
    model: FusionModel, x: torch.Tensor, present: torch.Tensor | None = None, mc_samples: int = 20
) -> Diagnosis:
    """Gate, H(p), λ(x) with the K passes' probabilities, and the prediction of every present subset.

    x: [M, D] (or [1, M, D]); present: bool [M] (default: all).
    """
    was_training = model.training
    model.eval()
    try:
        x = x.reshape(1, model.config.num_modalities, -1).float()
        present = (
            torch.ones(1, x.shape[1], dtype=torch.bool) if present is None else present.reshape(1, -1).bool()
        )
        out = model(x, present)
        probs = model.probs(out["logits"])[0]
        conf = model.head_type.confidence(probs.unsqueeze(0))[0]
        lam_out = adaptive_lambda(model, x, present, mc_samples)
        gate = None if out["gate"] is None else out["gate"][0]
        names = model.config.modalities
        idx = [i for i in range(len(names)) if bool(present[0, i])]
        subsets = [s for s in nonempty_subsets(len(names)) if set(s) <= set(idx)]
        sub = model.forward_subsets(x, present, subset_masks(subsets, len(names)))
        sub_probs = model.probs(sub["logits"])[:, 0]
        by_name = {subset_name(names, s): sub_probs[k] for k, s in enumerate(subsets)}
        experts = {names[s[0]]: sub_probs[k] for k, s in enumerate(subsets) if len(s) == 1}
        return Diagnosis(
            probs=probs,
            label=int(probs.argmax()),
            confidence=float(conf),
            gate=gate,
            gate_entropy=None if gate is None else float(gate_entropy(gate.unsqueeze(0))[0]),
            lam=float(lam_out["lam"][0]) if float(model.uncertainty_scale) > 0 else None,
            uncertainty=float(lam_out["u"][0]),
            mc_probs=lam_out["mc"]["probs"][:, 0],
            experts=experts,
            subsets=by_name,
        )
    finally:
        model.train(was_training)


# --------------------------------------------------------------------------------------------------
# The drop-in module: AECF over anyone's frozen encoders


class AECF(nn.Module):
    """The AECF fusion layer as a `torch.nn.Module` for your own training loop.

        model = AECF(dims={"image": 512, "text": 384, "audio": 40}, num_classes=7)
        out = model({"image": x1, "text": x2, "audio": x3}, present=None, return_lambda=True)
        out["logits"] [B, C], out["gate"] [B, M], out["lam"] [B] (λ(x) from MC-dropout, no gradient)

    Inputs are [B, dim] tensors keyed by modality name; a modality left out of the dict, or False in
    `present` (bool [B, M] in `dims` order), is absent for that row. `multilabel=True` gives sigmoid
    outputs (train with BCE); `standardize=True` adds per-feature standardisation whose statistics you set
    with `set_standardization` (raw features of any scale). The loss terms live in `aecf.losses`
    (`task_loss`, `entropy_term`, `cec_loss`) and the ACM mask sampler in `aecf.masking`; `subsets` runs the
    modality subsets that CEC compares. `model.fusion` is the FusionModel that `aecf.checkpoint` saves.
    """

    def __init__(
        self,
        dims: dict[str, int],
        num_classes: int | None = None,
        classes=None,
        multilabel: bool = False,
        standardize: bool = False,
        **config,
    ):
        super().__init__()
        names = tuple(dims)
        if not MIN_MODALITIES <= len(names) <= MAX_MODALITIES:
            raise ValueError(f"AECF fuses {MIN_MODALITIES} to {MAX_MODALITIES} modalities, got {len(names)}")
        if classes is None:
            if not num_classes or num_classes < 2:
                raise ValueError("give num_classes (at least 2) or the class names")
            classes = tuple(str(i) for i in range(num_classes))
        widths = tuple(int(dims[m]) for m in names)
        cfg = FusionConfig(
            modalities=names,
            classes=tuple(classes),
            embed_dim=max(widths),
            dims=None if len(set(widths)) == 1 else widths,
            head="sigmoid" if multilabel else "softmax",
            standardize=standardize,
            pattern_scale=config.pop("pattern_scale", True),
            **config,
        )
        self.fusion = FusionModel(cfg)

    @property
    def config(self) -> FusionConfig:
        return self.fusion.config

    def pack(self, inputs: dict[str, torch.Tensor], present: torch.Tensor | None = None):
        """A dict of [B, dim_m] tensors -> (x [B, M, D] padded, present bool [B, M])."""
        names, widths = self.config.modalities, self.config.widths
        unknown = set(inputs) - set(names)
        if unknown:
            raise ValueError(f"unknown modalities {sorted(unknown)}; this layer fuses {list(names)}")
        first = next(iter(inputs.values()))
        B = first.shape[0]
        x = first.new_zeros(B, len(names), self.config.embed_dim, dtype=torch.float32)
        given = torch.zeros(B, len(names), dtype=torch.bool, device=first.device)
        for m, name in enumerate(names):
            if name in inputs:
                t = inputs[name]
                if t.shape != (B, widths[m]):
                    raise ValueError(f"{name}: expected [{B}, {widths[m]}], got {list(t.shape)}")
                x[:, m, : widths[m]] = t.float()
                given[:, m] = True
        present = given if present is None else present.bool() & given
        return x, present

    def forward(
        self,
        inputs: dict[str, torch.Tensor],
        present: torch.Tensor | None = None,
        return_lambda: bool = False,
    ) -> dict:
        x, present = self.pack(inputs, present)
        out = self.fusion(x, present)
        result = {"logits": out["logits"], "gate": out["gate"]}
        if return_lambda:
            result["lam"] = adaptive_lambda(self.fusion, x, present, passes=4)["lam"]
        return result

    def probs(self, logits: torch.Tensor) -> torch.Tensor:
        return self.fusion.probs(logits)

    def subsets(
        self, inputs: dict[str, torch.Tensor], present: torch.Tensor | None = None, subsets=None
    ) -> dict:
        """Every non-empty modality subset (or the given index tuples) in one batch: logits [S, B, C],
        confidence [S, B], valid [S, B] (the subset is present for that row), and the subsets themselves."""
        x, present = self.pack(inputs, present)
        subsets = subsets or nonempty_subsets(self.config.num_modalities)
        out = self.fusion.forward_subsets(x, present, subset_masks(subsets, self.config.num_modalities))
        head = self.fusion.head_type
        out["confidence"] = head.confidence(head.probs(out["logits"]))
        out["subsets"] = subsets
        return out

    def set_standardization(self, mean: dict, std: dict) -> None:
        """Feature mean and std per modality ({name: [dim]}), e.g. from your training set."""
        D = self.config.embed_dim
        M, S = torch.zeros(self.config.num_modalities, D), torch.ones(self.config.num_modalities, D)
        for m, (name, w) in enumerate(zip(self.config.modalities, self.config.widths, strict=True)):
            M[m, :w], S[m, :w] = torch.as_tensor(mean[name]).float(), torch.as_tensor(std[name]).float()
        self.fusion.set_standardization(M, S)
