"""Explore one test example of a dataset of one's own: the Explore page's view-model when `?data=` names a dataset
other than the digits (aecf.app.datasets).

    a run trained on the dataset or shipped with it (`run_choices`) + the dataset's test split + an example index + a switch per
    modality -> Model.predict_embeddings (the example's stored embeddings, each at its own width; seeded
    MC-dropout) -> `ExampleView`: the prediction, the true label(s), the gate, H(p), λ(x), the K passes and a
    subset view that stays readable at 6-8 modalities (`SubsetSummary`: confidence by subset size, and CEC's rule
    along the chains of the switched-on modalities)

A dataset may have 2 to 8 modalities with any names and widths, be multiclass or multilabel, and miss
modalities in the data itself (`present` false): such a modality is shown as missing for that example and
cannot be switched on. The view's state fits in a link (`ViewState`: run, i, off, k); odd values fall back
quietly. `snippet` writes the Python that reproduces a view with the library alone. Nothing here imports
Streamlit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from aecf import runs
from aecf.app.datasets import DatasetChoice, runs_on, shipped_runs
from aecf.app.explore import Metric, fmt, mc_confidence_spread
from aecf.app.state import MC_CHOICES
from aecf.checkpoint import checkpoint_info
from aecf.figures.app import mc_passes_svg
from aecf.figures.subsets_many import monotonicity_html, subset_strips_svg
from aecf.lattice import VIOLATION_TOL

SPLIT = "test"  # the split Explore opens: examples the run never trained or chose anything on
SEED = 0  # the MC-dropout passes are drawn from this seed: the same view gives the same numbers (and the snippet)
DEFAULT_K = 20
TOP_K = 5  # classes listed with their probabilities
QUERY = {"run": "run", "index": "i", "off": "off", "mc_samples": "k"}  # field -> URL key (with `data`)


# ------------------------------------------------------------------------------------------------ runs


@dataclass(frozen=True)
class RunChoice:
    key: str  # the run's folder name (its id); a shipped run's name ("shipped: aecf")
    path: Path  # the run folder (a shipped run's: the folder of its checkpoint)
    weights: Path
    method: str
    label: str
    shipped: bool = False  # ships with the dataset (aecf.app.datasets.shipped_runs), not trained here


def run_choices(choice: DatasetChoice, runs_dir: str | Path | None = None) -> list[RunChoice]:
    """The runs trained on this dataset that saved a model (finished or stopped), newest first; then the ones
    that ship with it (`shipped_runs`: an example's checkpoints)."""
    out = []
    for run_dir in runs_on(choice.key, runs_dir):
        weights = run_dir / "model.safetensors"
        state = (runs.read_status(run_dir) or {}).get("state")
        if weights.is_file() and state in ("finished", "stopped"):
            method = checkpoint_info(weights).method
            out.append(RunChoice(run_dir.name, run_dir, weights, method, f"{run_dir.name} ({method})"))
    for name, weights in shipped_runs(choice).checkpoints.items():
        out.append(
            RunChoice(name, weights.parent, weights, checkpoint_info(weights).method, name, shipped=True)
        )
    return out


def default_run(choices: Sequence[RunChoice]) -> str:
    """The run a view opens without one in its link: the newest AECF run, else the newest run ("" for none); a
    shipped run only when no run trained here has saved a model."""
    own = [c for c in choices if not c.shipped]
    choices = own or list(choices)
    aecf = [c for c in choices if c.method == "aecf"]
    return (aecf or list(choices))[0].key if choices else ""


# ------------------------------------------------------------------------------------------ the link


@dataclass(frozen=True)
class ViewState:
    """What the link holds besides the dataset: the run ("" = `default_run`), the example, the modalities
    switched off, and K."""

    run: str = ""
    index: int = 0
    off: tuple[str, ...] = ()
    mc_samples: int = DEFAULT_K

    def to_query(self, modalities: Sequence[str]) -> dict[str, str]:
        """Only what differs from the defaults (the default run, example 0, everything on, K = 20)."""
        q = {}
        if self.run:
            q[QUERY["run"]] = self.run
        if self.index:
            q[QUERY["index"]] = str(self.index)
        off = off_query(self.off, modalities)
        if off:
            q[QUERY["off"]] = off
        if self.mc_samples != DEFAULT_K:
            q[QUERY["mc_samples"]] = str(self.mc_samples)
        return q


def state_from_query(
    params: Mapping[str, object], run_keys: Sequence[str], n_rows: int, modalities: Sequence[str]
) -> ViewState:
    """Decode a link; a run this dataset has not, an index out of range or not a number, an unknown modality or
    a K not offered falls back quietly to its default."""
    get = {k: str(v[-1] if isinstance(v, list | tuple) else v) for k, v in dict(params).items()}
    run = get.get(QUERY["run"], "")
    run = run if run in run_keys else ""
    try:
        index = int(get.get(QUERY["index"], "0"))
    except ValueError:
        index = 0
    index = index if 0 <= index < n_rows else 0
    asked = {name.strip() for name in get.get(QUERY["off"], "").split(",")}
    off = tuple(m for m in modalities if m in asked)
    try:
        k = int(get.get(QUERY["mc_samples"], str(DEFAULT_K)))
    except ValueError:
        k = DEFAULT_K
    return ViewState(run, index, off, k if k in MC_CHOICES else DEFAULT_K)


def off_query(off: Sequence[str], modalities: Sequence[str]) -> str | None:
    """The switched-off modalities for a link, in the dataset's order ('mor,zer'; None when all are on).
    Modality names never hold a comma (aecf.data.dataset checks them)."""
    chosen = set(off)
    text = ",".join(m for m in modalities if m in chosen)
    return text or None


def random_index(n_rows: int, current: int) -> int:
    """Another example, drawn from a generator seeded by the current one: the pick goes into the link (`i`), so
    the link reproduces the view, and the same press from the same example always lands on the same one."""
    if n_rows <= 1:
        return 0
    pick = int(np.random.default_rng([int(current), int(n_rows)]).integers(n_rows - 1))
    return pick + 1 if pick >= current else pick


# ------------------------------------------------------------------------------------------ the example


@dataclass(frozen=True)
class Switch:
    """One modality's switch for this example."""

    name: str
    width: int
    in_data: bool  # the example has this modality (false: missing in the data, the switch is disabled)
    on: bool  # the switch (kept when the modality is missing, so that it comes back as it was)

    @property
    def used(self) -> bool:
        return self.in_data and self.on


def example_inputs(split, index: int) -> tuple[dict[str, np.ndarray], tuple[bool, ...]]:
    """The example's embedding per modality (float32, at its own width) and which modalities it has."""
    x = split.batch([int(index)])[0]
    present = tuple(bool(v) for v in split.present[int(index)])
    emb = {m: x[j, : split.dims[j]].numpy() for j, m in enumerate(split.modalities)}
    return emb, present


def truth(split, index: int) -> tuple[str, ...]:
    """The example's true class names (several for a multilabel dataset)."""
    label = split.label[int(index)]
    if split.multilabel:
        return tuple(split.classes[c] for c in np.flatnonzero(label.numpy()))
    return (split.classes[int(label)],)


# ------------------------------------------------------------------------------------------ subsets


@dataclass(frozen=True)
class SubsetPoint:
    members: tuple[str, ...]  # in the model's order
    name: str  # the full name, "fou+kar"
    short: str  # what the figure writes: "fou+kar", "all but mor", "all 6" (cut at SHORT_CHARS)
    confidence: float
    right: bool | None  # predicts the true label(s) (None: no truth given)


@dataclass(frozen=True)
class ChainStep:
    added: str  # the modality this step adds
    point: SubsetPoint
    violated: bool  # the confidence fell by more than the tolerance at this step


@dataclass
class SubsetSummary:
    """Every subset of the switched-on modalities (2^k − 1, up to 255), read two ways that stay readable at 8
    modalities: by size (a strip per size, its best and worst named), and along chains (adding one modality at
    a time, the order CEC asks never to lose confidence)."""

    present: tuple[str, ...]
    by_size: list[list[SubsetPoint]]  # sizes 1..k, each most confident first
    steps: int  # the steps S -> S + m between subsets (cover edges)
    violated_steps: int  # ... where the confidence falls by more than `tol`
    pairs: int  # the pairs A ⊊ B
    violated_pairs: int
    chains: int  # k!: the orders in which the k modalities can be added
    monotone_chains: int  # ... whose every step keeps the confidence (within `tol`)
    by_modality: list[tuple[str, int, int]]  # (m, steps adding m that lose confidence, steps adding m)
    worst: tuple[SubsetPoint, SubsetPoint] | None  # the largest fall at one step, (before, after)
    chain: list[ChainStep] = field(default_factory=list)
    # "gate": in the gate's order | "confidence": by each one's own confidence | "worst": through the largest fall
    chain_kind: str = "gate"
    tol: float = VIOLATION_TOL


SHORT_CHARS = 20
CHAIN_LABELS = {  # the chain the subset view draws, by SubsetSummary.chain_kind
    "gate": "line: adding the gate's most trusted first",
    "confidence": "line: adding the most confident alone first",
    "worst": "line: the chain through the largest fall",
}


def short_name(members: Sequence[str], present: Sequence[str], limit: int = SHORT_CHARS) -> str:
    """A subset named for a figure row: the members joined by '+', 'all but x, y' when that is shorter for a
    large subset, 'all k' for every switched-on modality; cut with '…' past `limit` characters."""
    k = len(present)
    if len(members) == k and k > 1:
        return f"all {k}"
    plain = "+".join(members)
    if k >= 4 and len(members) > k / 2:
        rest = [m for m in present if m not in members]
        but = "all but " + ", ".join(rest)
        plain = but if len(but) < len(plain) else plain
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def subset_summary(
    subsets: Mapping[str, object],
    present: Sequence[str],
    right: Mapping[str, bool] | None = None,
    order: Sequence[str] | None = None,
    order_kind: str = "gate",
    tol: float = VIOLATION_TOL,
) -> SubsetSummary:
    """Read `Prediction.subsets` ({"a+b": SubsetPrediction or {"confidence": ...}}, names in the model's order)
    over the switched-on modalities `present`. `right`: subset name -> whether it predicts the truth. `order`:
    the modalities in the order the drawn chain adds them (`order_kind`: "gate", the gate's, most trusted first;
    "confidence": by each one's own confidence), unless a step loses confidence: then the chain goes through the
    largest fall ("worst")."""
    present = tuple(present)
    k = len(present)
    conf: dict[int, float] = {}  # bitmask over `present` -> confidence
    points: dict[int, SubsetPoint] = {}
    for mask in range(1, 1 << k):
        members = tuple(present[i] for i in range(k) if mask >> i & 1)
        name = "+".join(members)
        info = subsets[name]
        c = float(info["confidence"] if isinstance(info, Mapping) else info.confidence)
        conf[mask] = c
        points[mask] = SubsetPoint(
            members, name, short_name(members, present), c, None if right is None else bool(right.get(name))
        )
    by_size = [
        sorted((points[m] for m in points if m.bit_count() == s), key=lambda p: -p.confidence)
        for s in range(1, k + 1)
    ]
    # steps S -> S + {m} (cover edges): which lose confidence
    steps = violated = 0
    per_mod = [[0, 0] for _ in range(k)]
    worst, worst_drop = None, tol
    falls: set[tuple[int, int]] = set()
    for mask in conf:
        for i in range(k):
            if mask >> i & 1:
                continue
            up = mask | 1 << i
            drop = conf[mask] - conf[up]
            steps += 1
            per_mod[i][1] += 1
            if drop > tol:
                violated += 1
                per_mod[i][0] += 1
                falls.add((mask, up))
                if drop > worst_drop:
                    worst, worst_drop = (mask, up), drop
    pairs = violated_pairs = 0
    for big in conf:  # every A ⊊ B: the proper non-empty submasks of B
        sub = (big - 1) & big
        while sub:
            pairs += 1
            violated_pairs += conf[sub] > conf[big] + tol
            sub = (sub - 1) & big
    # orders of adding the modalities whose every step keeps the confidence: paths through the lattice
    ways = {1 << i: 1 for i in range(k)}
    for mask in sorted(conf, key=int.bit_count):
        if mask.bit_count() > 1:
            ways[mask] = sum(
                ways[mask ^ 1 << i] for i in range(k) if mask >> i & 1 and (mask ^ 1 << i, mask) not in falls
            )
    full = (1 << k) - 1
    summary = SubsetSummary(
        present=present,
        by_size=by_size,
        steps=steps,
        violated_steps=violated,
        pairs=pairs,
        violated_pairs=int(violated_pairs),
        chains=math.factorial(k),
        monotone_chains=ways.get(full, 0) if k else 0,
        by_modality=[(present[i], per_mod[i][0], per_mod[i][1]) for i in range(k)],
        worst=None if worst is None else (points[worst[0]], points[worst[1]]),
        tol=tol,
    )
    ranked = [m for m in (order or present) if m in present] + [m for m in present if m not in (order or ())]
    sequence, kind = ranked, order_kind
    if worst is not None:  # through the largest fall: the smaller subset's members, the one added, the rest
        before = [m for m in ranked if m in points[worst[0]].members]
        added = [m for m in points[worst[1]].members if m not in points[worst[0]].members]
        sequence, kind = before + added + [m for m in ranked if m not in before + added], "worst"
    mask = 0
    for m in sequence:
        nxt = mask | 1 << present.index(m)
        summary.chain.append(ChainStep(m, points[nxt], (mask, nxt) in falls))
        mask = nxt
    summary.chain_kind = kind
    return summary


# ------------------------------------------------------------------------------------------ the view


@dataclass
class ExampleView:
    """Everything the page shows for one example. `prediction` is None when every modality is off or missing
    (`warning` says why)."""

    dataset: str
    run: str
    index: int
    n_rows: int
    multilabel: bool
    switches: list[Switch]
    truth: tuple[str, ...]
    warning: str | None = None
    prediction: object | None = None  # aecf.inference.Prediction
    headline: str = ""
    correct: bool | None = None
    metrics: list[Metric] = field(default_factory=list)
    compare: list[Metric] = field(default_factory=list)
    top: list[tuple[str, float]] = field(default_factory=list)  # (text, probability), most probable first
    top_title: str = ""
    above_half: tuple[str, ...] = ()  # multilabel: the labels the model gives (p > 0.5)
    gate: list[tuple[str, float]] = field(default_factory=list)  # (text, weight) per modality
    gate_note: str = ""
    mc_svg: str = ""
    mc_caption: str = ""
    subsets: SubsetSummary | None = None
    subsets_svg: str = ""
    monotonicity_html: str = ""

    @property
    def used(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.switches if s.used)

    def printed(self) -> list[str]:
        """The lines `snippet` prints for this view: the headline, the gate, H(p) and λ(x), as the page shows
        them."""
        if self.prediction is None:
            return [self.warning or ""]
        lines = [self.headline.replace("**", "")]
        lines += (
            ["Gate weights p:"] + [f"  {text}" for text, _ in self.gate] if self.gate else [self.gate_note]
        )
        lines += [f"{m.label}: {m.value}" for m in self.metrics if m.label in (H_LABEL, LAMBDA_LABEL)]
        return lines


H_LABEL = "Gate entropy H(p)"
LAMBDA_LABEL = "λ(x)"


def mismatch(model, split) -> str | None:
    """Why this run's model cannot read this dataset's examples (other modalities, widths or classes), or None."""
    cfg = model.config
    if tuple(cfg.modalities) != tuple(split.modalities) or tuple(cfg.widths) != tuple(split.dims):
        takes = ", ".join(f"{m} ({w})" for m, w in zip(cfg.modalities, cfg.widths, strict=False))
        return f"This run's model takes {takes}, not this dataset's modalities: pick a run trained on it."
    if cfg.num_classes != split.num_classes:
        return f"This run's model has {cfg.num_classes} classes, the dataset {split.num_classes}."
    return None


def headline(pred, classes: Sequence[str], multilabel: bool) -> str:
    """'Prediction: **7** (p = 0.981)'; multilabel: the labels above 0.5, or the most probable one."""
    top = f"**{classes[pred.label]}** (p = {float(pred.probs[pred.label]):.3f})"
    if not multilabel:
        return f"Prediction: {top}"
    above = [classes[c] for c in np.flatnonzero(np.asarray(pred.probs) > 0.5)]
    if above:
        return "Labels above 0.5: **" + ", ".join(above) + "**"
    return f"No label above 0.5: most probable {top}"


def gate_rows(pred, switches: Sequence[Switch]) -> list[tuple[str, float]]:
    """(text, weight) per modality: a used one's weight, an off or missing one says so and weighs exactly 0."""
    if pred.gate is None:
        return []
    rows = []
    for s in switches:
        if s.used:
            w = float(pred.gate[s.name])
            rows.append((f"{s.name}: p = {w:.3f}", min(1.0, max(0.0, w))))
        else:
            rows.append((f"{s.name}: {'off' if s.in_data else 'missing'}, p = 0", 0.0))
    return rows


def _is_right(probs: np.ndarray, true: set[int], multilabel: bool) -> bool:
    if multilabel:
        return set(np.flatnonzero(np.asarray(probs) > 0.5).tolist()) == true
    return int(np.argmax(probs)) in true


def explore_example(
    model,
    split,
    index: int,
    on: Mapping[str, bool] | None = None,
    mc_samples: int = DEFAULT_K,
    dataset: str = "",
    run: str = "",
) -> ExampleView:
    """One test example through a run's model (aecf.inference.Model, loaded from the run). `on`: modality ->
    its switch (absent: on). Never raises on an odd index (it is clamped) or on every modality being off."""
    n = len(split)
    index = min(max(int(index), 0), max(n - 1, 0))
    emb, present = example_inputs(split, index)
    switches = [
        Switch(m, int(split.dims[j]), present[j], bool((on or {}).get(m, True)))
        for j, m in enumerate(split.modalities)
    ]
    view = ExampleView(
        dataset=dataset,
        run=run,
        index=index,
        n_rows=n,
        multilabel=split.multilabel,
        switches=switches,
        truth=truth(split, index),
    )
    misfit = mismatch(model, split)
    if misfit:
        view.warning = misfit
        return view
    used = {s.name: emb[s.name] for s in switches if s.used}
    if not used:
        missing = [s.name for s in switches if not s.in_data]
        view.warning = (
            "Every modality this example has is switched off: there is nothing to fuse. Switch one on."
            if len(missing) < len(switches)
            else "This example has no modality."
        )
        return view
    k = max(2, int(mc_samples))
    pred = model.predict_embeddings(used, k, seed=SEED, cache_key=(run, SPLIT, index, tuple(sorted(used))))
    view.prediction = pred
    classes = tuple(split.classes)  # the dataset's names (a run's checkpoint may carry other ones)
    true_idx = {classes.index(t) for t in view.truth}
    view.headline = headline(pred, classes, view.multilabel)
    view.correct = _is_right(pred.probs, true_idx, view.multilabel)
    spread = mc_confidence_spread(pred.mc_probs, pred.label)
    n_used = len(pred.present)
    view.metrics = [
        Metric(
            "Confidence",
            fmt(pred.confidence),
            "Mean over the labels of max(p, 1 − p)." if view.multilabel else "The top class's probability.",
        ),
        Metric(
            H_LABEL,
            fmt(pred.gate_entropy),
            f"0 = all weight on one modality; log {n_used} = {math.log(max(1, n_used)):.3f} = spread evenly over "
            f"the {n_used} used.",
        ),
        Metric(
            LAMBDA_LABEL, fmt(pred.lam, 4), "Per-instance entropy coefficient, from the K passes' variance."
        ),
        Metric(
            f"Spread over K={spread['k']} passes",
            f"±{fmt(spread['std'])}",
            "Std of the predicted class's probability over the MC-dropout passes.",
        ),
    ]
    view.compare = [
        Metric("Modalities used", f"{n_used} of {len(switches)}", " + ".join(pred.present)),
        Metric(
            "True labels" if view.multilabel else "True label",
            ", ".join(view.truth) or "none",
            None,
        ),
    ]
    probs = np.asarray(pred.probs, dtype=float)
    order = np.argsort(-probs, kind="stable")
    shown = [int(c) for c in order[:TOP_K]]
    if view.multilabel:
        view.above_half = tuple(classes[c] for c in order if probs[c] > 0.5)
        shown = sorted(set(shown) | {c for c in order if probs[c] > 0.5} | true_idx, key=lambda c: -probs[c])
        view.top_title = "Labels: independent sigmoid probabilities (the model gives those above 0.5)"
    else:
        shown = sorted(set(shown) | true_idx, key=lambda c: -probs[c])
        view.top_title = f"Top classes (of {len(classes)})"
    view.top = [
        (f"{classes[c]}{' ✓ true' if c in true_idx else ''}: {probs[c]:.3f}", probs[c]) for c in shown
    ]

    view.gate = gate_rows(pred, switches)
    if not view.gate:
        view.gate_note = f"This run ({pred_method(model)}) has no gate: every used modality counts the same."
    label = classes[pred.label]
    view.mc_svg = mc_passes_svg(
        pred.mc_probs, pred.label, f"λ(x) reads these K = {spread['k']} MC-dropout passes", label_text=label
    )
    view.mc_caption = (
        f"{spread['agree']:.0%} of the passes vote for {label}; per-pass p({label}) from {spread['min']:.2f} to "
        f"{spread['max']:.2f}. The more they disagree, the larger λ(x)."
    )
    temperature = float(getattr(model.config, "temperature", 1.0) or 1.0)
    if abs(temperature - 1.0) > 0.01:  # the passes are raw; the prediction is calibrated
        view.mc_caption += (
            f" The passes are the model's raw probabilities; the prediction divides its logits by the "
            f"temperature T = {temperature:.2f} fitted on validation."
        )
    right = {name: _is_right(s.probs, true_idx, view.multilabel) for name, s in pred.subsets.items()}
    if pred.gate is not None:  # the drawn chain adds the most trusted first
        order, kind = sorted(pred.present, key=lambda m: -pred.gate[m]), "gate"
    else:  # no gate: the most confident alone first
        order, kind = sorted(pred.present, key=lambda m: -pred.subsets[m].confidence), "confidence"
    view.subsets = subset_summary(pred.subsets, pred.present, right, order, kind)
    summary = view.subsets
    label = CHAIN_LABELS[summary.chain_kind]
    view.subsets_svg = subset_strips_svg(
        [[(p.name, p.short, p.confidence, p.right) for p in row] for row in summary.by_size],
        [(s.point.name, s.violated) for s in summary.chain],
        title=f"Confidence with every subset of the {n_used} used modalities",
        chain_label=label,
        tol=summary.tol,
    )
    worst = summary.worst
    view.monotonicity_html = monotonicity_html(
        len(summary.present),
        summary.steps,
        summary.violated_steps,
        summary.chains,
        summary.monotone_chains,
        summary.by_modality,
        None if worst is None else (worst[0].name, worst[1].name, worst[0].confidence, worst[1].confidence),
        [(s.added, s.point.confidence, s.violated) for s in summary.chain],
        label,
        summary.tol,
    )
    return view


def pred_method(model) -> str:
    return str(getattr(model, "method", "") or "this method")


def one_switch_away(view: ExampleView) -> dict[tuple[bool, ...], dict[str, bool]]:
    """The switches of the views one switch from `view` (each modality the example has, flipped) and of `view`
    itself, by the switches of the modalities the example has, in the dataset's order (the key under which the
    page's browser side finds a view sent ahead)."""
    on = {s.name: s.on for s in view.switches}
    avail = [s.name for s in view.switches if s.in_data]
    out = {tuple(on[m] for m in avail): on}
    for m in avail:
        flipped = {**on, m: not on[m]}
        out[tuple(flipped[a] for a in avail)] = flipped
    return out


def views_one_click_away(
    model, split, view: ExampleView, mc_samples: int
) -> dict[tuple[bool, ...], ExampleView]:
    """The views one switch away and `view` itself, by `one_switch_away`'s keys: the page sends them ahead."""
    here = tuple(s.on for s in view.switches if s.in_data)
    return {
        key: view
        if key == here
        else explore_example(model, split, view.index, on, mc_samples, view.dataset, view.run)
        for key, on in one_switch_away(view).items()
    }


# ------------------------------------------------------------------------------------------ take it away


def snippet(
    weights: str | Path, dataset_dir: str | Path, view: ExampleView, mc_samples: int = DEFAULT_K
) -> str:
    """A Python script that reproduces `view` with the library: load the run's checkpoint, read the dataset,
    pick the example, switch the modalities, and print the prediction, the gate, H(p) and λ(x) as the page
    shows them (`ExampleView.printed`)."""
    off = [s.name for s in view.switches if not s.on]
    return f'''"""Reproduce an AECF Explorer view: run {view.run or Path(weights).parent.name} on {view.dataset or "a dataset"}, \
test example #{view.index}.

Save it in the AECF Explorer folder and run `python {snippet_name(view)}` there: Python finds the `aecf` package
beside it (from elsewhere: `PYTHONPATH=<that folder> python {snippet_name(view)}`). The two paths are the server's:
on another machine, download the run's checkpoint and the dataset and point them there.
"""

from aecf.data.dataset import read_dataset
from aecf.inference import load

CHECKPOINT = {str(Path(weights).resolve())!r}
DATASET = {str(Path(dataset_dir).resolve())!r}
INDEX = {view.index}  # the example, in the test split
OFF = {off!r}  # modalities switched off
K, SEED = {max(2, int(mc_samples))}, {SEED}  # MC-dropout passes for λ(x), and their seed

model = load(CHECKPOINT)
test = read_dataset(DATASET).split("test")
row = test.batch([INDEX])[0]  # [modalities, widest width], zeros where a modality is missing
has = test.present[INDEX]
embeddings = {{
    m: row[j, : test.dims[j]].numpy()
    for j, m in enumerate(test.modalities)
    if bool(has[j]) and m not in OFF
}}
pred = model.predict_embeddings(embeddings, mc_samples=K, seed=SEED)

top = f"{{test.classes[pred.label]}} (p = {{pred.probs[pred.label]:.3f}})"  # the dataset's class names
if model.task == "multilabel":
    above = [test.classes[c] for c, p in enumerate(pred.probs) if p > 0.5]
    print("Labels above 0.5: " + ", ".join(above) if above else f"No label above 0.5: most probable {{top}}")
else:
    print(f"Prediction: {{top}}")
if pred.gate is None:
    print(f"This run ({{model.method}}) has no gate: every used modality counts the same.")
else:
    print("Gate weights p:")
    for j, m in enumerate(test.modalities):
        state = "off" if bool(has[j]) else "missing"
        print(f"  {{m}}: p = {{pred.gate[m]:.3f}}" if m in embeddings else f"  {{m}}: {{state}}, p = 0")
h, lam = pred.gate_entropy, pred.lam  # (H(p) of one modality is 0, computed as a tiny negative number)
print("Gate entropy H(p): " + ("–" if h is None else f"{{max(h, 0.0):.3f}}"))
print("λ(x): " + ("–" if lam is None else f"{{lam:.4f}}"))
'''


def snippet_name(view: ExampleView) -> str:
    """The snippet's file name: explore_<run>_<example>.py (characters a file name may hold)."""
    safe = "".join(c if c.isalnum() or c in "-_" else " " for c in (view.run or "run"))
    return f"explore_{'_'.join(safe.split())}_{view.index}.py"
