"""Guided lessons for teaching AECF, and the "try this" prompts of every page — each a claim that is checked.

A lesson is a few steps. A step opens a view (an Explore link with its URL state, or a tab of another page), says
what to look at, and states a claim about what the learner will see there. Every claim carries the measurement
that decides it, run on the shipped model (or on the shipped evaluation results): the Lessons page and the guided
bar on the page a step opens show the measured value beside the claim, and tests/aecf/app/test_lessons.py asserts
that every claim holds. A claim that stops holding after a retrain fails the test suite; the fix is a model that
acts as described, or a claim that tells the truth.

An Explore step also has a premise: what each modality of its example says alone (its own encoder's zero-shot
reading, Explore's "Each modality alone"; and the one-modality nodes of the lattice). A premise is measured and
tested like a claim: a lesson that says "the image reads 4" shows an image that reads 4, at confidence ≥ CLEAR, or
says that the step ruined it on purpose. Names a step tells the learner to look at are written *like this* in its
`look`, exactly as the page shows them (the tests find each on the page the step opens).

    claim.measure(ctx) -> Finding(holds, measured)      ctx: LessonContext (models, Explore views, results)
    premise.measure(ctx, view) -> Finding
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from aecf import paths
from aecf.app import masking as A
from aecf.app import samples as S
from aecf.app.checkpoints import resolve
from aecf.app.explore import ExploreInputs, ExploreView, explore
from aecf.app.results import load_results
from aecf.app.state import (
    DEFAULT_IMAGE_SAMPLE,
    DETAILS_KEY,
    LESSON_KEY,
    SNR_CLEAN,
    STEP_KEY,
    TAB_KEY,
    ExploreState,
)
from aecf.app.training import METRIC_NAMES, TrainKnobs, make_train_config
from aecf.checkpoint import read_checkpoint_config
from aecf.constants import MODALITIES
from aecf.data.cache import load_split
from aecf.lattice import VIOLATION_TOL, build_lattice
from aecf.train import train

SHIPPED = "aecf"  # the checkpoint every lesson is about (the app's default)
CLEAR = 0.8  # a modality "reads" a digit when its own encoder gives that digit at least this confidence
PAGES = ("explore", "subsets", "curriculum", "train")  # the pages a step opens (their URL paths)


# ------------------------------------------------------------------------------------ claims


@dataclass(frozen=True)
class Finding:
    holds: bool
    measured: str  # what was measured, in words and numbers, e.g. "p(image) 0.52 → 0.08 (moved 0.44)"


@dataclass(frozen=True)
class Claim:
    text: str  # what the learner is told they will see
    measure: Callable[[LessonContext], Finding]


@dataclass(frozen=True)
class Premise:
    """What each modality of an Explore step's example says alone: every present modality reads `digit` (or the
    digit `says` gives it: a wrong caption on purpose) with confidence ≥ CLEAR from its own encoder, and its
    one-modality lattice node reads the same digit; a modality in `unclear` (modality -> the step's word for
    it: "ruined", "noisy", "vague") is one the step spoils on purpose, and then it must NOT read `digit` at CLEAR."""

    digit: int
    says: dict[str, int] = field(default_factory=dict)
    unclear: dict[str, str] = field(default_factory=dict)

    def reads(self, modality: str) -> int:
        return self.says.get(modality, self.digit)

    def text(self, present: tuple[str, ...] = MODALITIES) -> str:
        clear = [m for m in present if m not in self.unclear]
        spoilt = [m for m in present if m in self.unclear]
        parts = []
        if clear:
            reads = [f"the {m} reads {self.reads(m)}" for m in clear]
            each = ", each" if len(clear) > 1 else ""
            parts.append(f"Alone, {_join(reads)}{each} with confidence ≥ {CLEAR:.2f}")
        if spoilt:
            who = _join([f"the {self.unclear[m]} {m}" for m in spoilt])
            verb = "does" if len(spoilt) == 1 else "do"
            parts.append(
                f"{who} {verb} not read {self.digit} at that confidence"
                if clear
                else f"Alone, {who} {verb} not read {self.digit} with confidence ≥ {CLEAR:.2f}"
            )
        return "; ".join(parts) + "."

    def measure(self, ctx: LessonContext, view: dict) -> Finding:
        pred = ctx.prediction(**view)
        ok, shown = set(pred.present) == set(state_for(view).present), []
        for m in pred.present:
            expert = np.asarray(pred.experts[m])
            label, conf, node = int(expert.argmax()), float(expert.max()), pred.subsets[m].label
            if m in self.unclear:
                ok &= not (label == self.digit and conf >= CLEAR)
            else:
                ok &= label == self.reads(m) and conf >= CLEAR and node == self.reads(m)
            shown.append(f"{m} {label} at {conf:.2f} (lattice node {node})")
        return Finding(bool(ok), "alone: " + ", ".join(shown))


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True)
class Step:
    title: str
    page: str  # one of PAGES
    look: str  # what to look at; every *name* in it is shown on the page the step opens, as written there
    claim: Claim
    view: dict = field(default_factory=dict)  # ExploreState fields for an Explore step (the shared link)
    tab: str = ""  # the tab the page opens on (its label, exactly as on the page); "" = the page's first
    premise: Premise | None = None  # an Explore step: what each modality of its example says alone

    def query(self) -> dict[str, str]:
        """The URL query of the step's view (Explore: the ExploreState fields that differ from the default)."""
        if self.page != "explore":
            return {}
        return state_for(self.view).to_query()

    def names(self) -> list[str]:
        """The names the step tells the learner to look at (the *names* of `look`)."""
        return re.findall(r"\*([^*]+)\*", self.look)

    def measure_premise(self, ctx: LessonContext) -> Finding | None:
        return None if self.premise is None else self.premise.measure(ctx, self.view)


@dataclass(frozen=True)
class Lesson:
    slug: str
    title: str
    why: str  # the question the lesson answers
    steps: tuple[Step, ...]
    takeaway: str  # what a learner should take from it


def state_for(view: dict) -> ExploreState:
    state = ExploreState()
    for name, value in view.items():
        setattr(state, name, value)
    return state


def explore_inputs(state: ExploreState) -> ExploreInputs:
    """The inputs an Explore link opens with: its samples (or the page's defaults), caption, switches, sliders."""
    images, audios = S.list_samples("image"), S.list_samples("audio")
    default_img, default_aud = S.default_samples(images, audios)
    img = state.image_sample if state.image_sample in images else default_img
    aud = state.audio_sample if state.audio_sample in audios else default_aud
    # as the page does: without a caption in the link, the exact caption of the *default* sample
    caption = (
        state.caption
        if state.caption is not None
        else S.default_caption(S.sample_digit(default_img or ""), S.caption_examples())
    )
    return ExploreInputs(
        image=S.sample_path(img) if img else None,
        caption=caption,
        audio=S.sample_path(aud) if aud else None,
        image_on=state.image_on,
        caption_on=state.caption_on,
        audio_on=state.audio_on,
        image_severity=state.image_severity,
        audio_snr=None if state.audio_snr >= SNR_CLEAN else state.audio_snr,
        seed=state.seed,
        mc_samples=state.mc_samples,
    )


class LessonContext:
    """What claims are measured on: `load(key)` gives a model (the app's cached loader, or aecf.app.checkpoints'
    load_model in tests); `results` is the shipped evaluation JSON (a dict), loaded on first use."""

    def __init__(self, load: Callable, results: dict | None = None):
        self.load = load
        self._results = results
        self._views: dict[tuple, ExploreView] = {}

    @cached_property
    def results(self) -> dict:
        if self._results is not None:
            return self._results
        return load_results().methods

    def view(self, baseline: str = "none", **state) -> ExploreView:
        """The Explore view of the shipped model for ExploreState fields `state` (cached per state)."""
        key = (baseline, tuple(sorted(state.items())))
        if key not in self._views:
            st = state_for(state)
            checkpoint = st.checkpoint or SHIPPED
            self._views[key] = explore(self.load, checkpoint, explore_inputs(st), baseline_key=baseline)
        return self._views[key]

    def prediction(self, **state):
        view = self.view(**state)
        if view.prediction is None:
            raise RuntimeError(f"the view {state} has no prediction: {view.warning or view.fatal}")
        return view.prediction

    def baseline_prediction(self, baseline: str, **state):
        view = self.view(baseline=baseline, **state)
        if view.baseline is None:
            raise RuntimeError(f"the baseline {baseline} gave nothing for {state}")
        return view.baseline

    def method(self, name: str) -> dict:
        return self.results[name]

    def short_run(self, method: str, epochs: int, seed: int = 0) -> dict:
        """The last epoch record of a Train-page run with the page's default knobs (cached per context)."""
        key = ("run", method, epochs, seed)
        if key not in self._views:
            config = make_train_config(TrainKnobs(method=method, epochs=epochs, seed=seed).to_config())
            _, history = train(
                config, load_split("train", paths.feature_dir()), load_split("val", paths.feature_dir())
            )
            self._views[key] = history["epochs"][-1]
        return self._views[key]

    def drop_ratios(self, name: str) -> A.DropRatios | None:
        """ACM's drop-probability ratios of a shipped checkpoint on the test split: what the Curriculum page's
        *On the test split* tab shows (the same function on the same checkpoint, so the same numbers)."""
        key = ("drop_ratios", name)
        if key not in self._views:
            self._views[key] = A.drop_ratios(paths.fusion_dir() / f"{name}.safetensors")
        return self._views[key]

    def train_config(self, key: str) -> dict:
        """The training section of a checkpoint's JSON (ACM's rule, π_max, ...)."""
        return read_checkpoint_config(resolve(key) or paths.fusion_dir() / f"{SHIPPED}.safetensors").get(
            "train", {}
        )


def violations(pred, tol: float = VIOLATION_TOL) -> int:
    """Monotonicity violations in a prediction's subset lattice (every A ⊂ B with c(A) > c(B) + tol): the red
    edges Explore draws."""
    return len(_lattice(pred, tol).violations)


def _lattice(pred, tol: float = VIOLATION_TOL):
    nodes = {k: {"label": v.label, "confidence": v.confidence} for k, v in pred.subsets.items()}
    return build_lattice(nodes, tol)


def _gate(pred, m: str) -> float:
    return float((pred.gate or {}).get(m, 0.0))


def _lam_range(ctx: LessonContext) -> tuple[float, float]:
    cfg = ctx.load(SHIPPED).config
    return float(cfg.lambda_min), float(cfg.lambda_max)


def _drop(ctx: LessonContext, name: str, rate: str = "0.5") -> dict:
    return ctx.method(name)["drop"][rate]


# ------------------------------------------------------------------------------------ the lessons
# Names the learner is told to look at, as the pages show them (tests/aecf/app/test_lessons.py finds each there).
GATE_BARS = "Gate weights p"
LATTICE = "Subset lattice"
MC_SECTION = "λ(x): the K = 20 passes"  # Explore's section of the MC-dropout passes, at the default K
ALONE = "Each modality alone, and what the model sees"

# Explore's default view (ExploreState's defaults: the page's default samples and their exact caption), whose
# modalities each read its digit alone, like every lesson example's.
BASE: dict = {}
BASE_PREMISE = Premise(S.sample_digit(DEFAULT_IMAGE_SAMPLE) or 0)
# The gate lesson: a black-on-white scan of a 4 with "four" (the preprocessing turns the scan into MNIST style).
SCAN4 = {"image_sample": "scan_4.png", "audio_sample": "spoken_4_espeak.wav", "caption": "a handwritten four"}
NOISY_AUDIO = -10.0
# Explore's "try this" pushes the audio to -15 dB: the audio tower shipped with the MBROLA/Pico voices reads -10 dB
TRY_NOISY_AUDIO = -15.0
# The promises below are thresholds; what the shipped model measures is shown beside each claim (and in the
# comment, as last measured on the scanned 4).
GATE_SHIFT = 0.10  # gate weight the gate lesson promises to move off a ruined image (0.17: 0.35 -> 0.17)
# ... and off the audio at NOISY_AUDIO: the audio tower heard at three speeds reads -10 dB fairly well, and the gate
# moves less (0.12: 0.41 -> 0.29)
AUDIO_GATE_SHIFT = 0.05
TRY_CONFIDENCE = 0.85  # Explore's "try this": confidence with the image ruined, audio at -15 dB (0.64)
TRY_IMAGE_SHIFT = 0.08  # ... and the gate weight that leaves the ruined image there (0.17)


def _gate_shift(ctx: LessonContext, view: dict, modality: str, **change) -> tuple[float, float, float]:
    """(p_m before, p_m after, weight moved off m) when `change` is applied to `view`."""
    before, after = _gate(ctx.prediction(**view), modality), _gate(ctx.prediction(**view, **change), modality)
    return before, after, before - after


def _gate_moves_off(
    modality: str, view: dict, at_least: float = GATE_SHIFT, **change
) -> Callable[[LessonContext], Finding]:
    def measure(ctx: LessonContext) -> Finding:
        before, after, moved = _gate_shift(ctx, view, modality, **change)
        return Finding(moved >= at_least, f"p({modality}) {before:.2f} → {after:.2f} (moved {moved:.2f})")

    return measure


def _clean_gate_shared(ctx: LessonContext) -> Finding:
    pred = ctx.prediction(**SCAN4)
    low = min(_gate(pred, m) for m in MODALITIES)
    return Finding(
        low >= 0.1 and pred.label == 4,
        "p = " + ", ".join(f"{m} {_gate(pred, m):.2f}" for m in MODALITIES) + f"; predicts {pred.label}",
    )


def _still_right_when_image_ruined(ctx: LessonContext) -> Finding:
    pred = ctx.prediction(**SCAN4, image_severity=1.0)
    return Finding(
        pred.label == 4 and pred.confidence >= 0.8,
        f"predicts {pred.label} with confidence {pred.confidence:.2f}",
    )


LESSON_GATE = Lesson(
    "gate",
    "The gate under corruption",
    "Does the gate notice when one modality goes bad, and move its weight to the others?",
    (
        Step(
            "Clean inputs",
            "explore",
            f"the *{GATE_BARS}* under the prediction; each modality's own reading in *{ALONE}*",
            Claim(
                "A scanned 4 (black on white), its exact caption and a clean spoken “four”: every modality keeps "
                "at least 0.10 of the gate and the model reads a 4.",
                _clean_gate_shared,
            ),
            view=SCAN4,
            premise=Premise(4),
        ),
        Step(
            "Ruin the image",
            "explore",
            f"the image's bar in *{GATE_BARS}* (and where its weight went); the ruined image under the *Image "
            "corruption* slider",
            Claim(
                f"Corrupting the image to 1 moves at least {GATE_SHIFT:.2f} of the gate's weight off the image.",
                _gate_moves_off("image", SCAN4, image_severity=1.0),
            ),
            view={**SCAN4, "image_severity": 1.0},
            premise=Premise(4, unclear={"image": "ruined"}),
        ),
        Step(
            "The answer survives",
            "explore",
            "the *Prediction* and its *Confidence*",
            Claim(
                "With the image ruined the model still reads a 4, with confidence at least 0.80: caption and "
                "audio carry it.",
                _still_right_when_image_ruined,
            ),
            view={**SCAN4, "image_severity": 1.0},
            premise=Premise(4, unclear={"image": "ruined"}),
        ),
        Step(
            "Now the audio",
            "explore",
            f"the audio's bar in *{GATE_BARS}*",
            Claim(
                f"Clean image again, audio at {NOISY_AUDIO:g} dB SNR: the audio loses at least {AUDIO_GATE_SHIFT:.2f} "
                "of the gate.",
                _gate_moves_off("audio", SCAN4, audio_snr=NOISY_AUDIO, at_least=AUDIO_GATE_SHIFT),
            ),
            view={**SCAN4, "audio_snr": NOISY_AUDIO},
            premise=Premise(4, unclear={"audio": "noisy"}),
        ),
        Step(
            "Over the test split",
            "subsets",
            "the *mechanisms* tab: *ρ(p_image, 1 − sev.)* and the *p_caption* columns",
            Claim(
                "On the test split the image's gate weight follows its reliability: Spearman(p_image, 1 − "
                "severity) ≥ 0.6; the caption's weight is highest for exact captions, then partial, then "
                "uninformative ones.",
                lambda ctx: _gate_follows_reliability(ctx),
            ),
            tab="mechanisms",
        ),
    ),
    "The gate is per example: it reads the embeddings and moves weight towards what is reliable on *this* "
    "input — but it moves modestly, not all of its weight: the classifier after it still sees every present "
    "embedding.",
)


def _gate_follows_reliability(ctx: LessonContext) -> Finding:
    mech = ctx.method(SHIPPED).get("mechanisms") or {}
    rho = (mech.get("gate_reliability_spearman") or {}).get("image")
    lv = mech.get("caption_gate_by_level") or {}
    ordered = all(k in lv for k in ("exact", "partial", "none")) and lv["exact"] > lv["partial"] > lv["none"]
    ok = rho is not None and rho >= 0.6 and ordered
    text = (
        (
            f"Spearman(p_image, 1 − severity) = {rho:.2f}; mean caption weight exact {lv.get('exact', 0):.3f}, "
            f"partial {lv.get('partial', 0):.3f}, none {lv.get('none', 0):.3f}"
        )
        if rho is not None
        else "not measured"
    )
    return Finding(ok, text)


def _lam(ctx: LessonContext, **state) -> float:
    return float(ctx.prediction(**state).lam)


EASY9 = {
    "image_sample": "mnist_9.png",
    "audio_sample": "spoken_9_espeak.wav",
    "caption": "a handwritten nine",
}
HARD9 = {**EASY9, "image_severity": 1.0, "audio_snr": NOISY_AUDIO, "caption": "a digit"}


def _lambda_low_when_clean(ctx: LessonContext) -> Finding:
    lo, hi = _lam_range(ctx)
    lam = _lam(ctx, **EASY9)
    return Finding(lam <= lo + 0.2 * (hi - lo), f"λ(x) = {lam:.4f} on [{lo:g}, {hi:g}]")


def _lambda_rises_when_hard(ctx: LessonContext) -> Finding:
    lo, hi = _lam_range(ctx)
    easy, hard = _lam(ctx, **EASY9), _lam(ctx, **HARD9)
    return Finding(
        hard - easy >= 0.5 * (hi - lo),
        f"λ(x) {easy:.4f} → {hard:.4f} (rose {(hard - easy) / (hi - lo):.0%} of its range)",
    )


def _mc_spread_rises(ctx: LessonContext) -> Finding:
    easy, hard = ctx.prediction(**EASY9), ctx.prediction(**HARD9)
    s_easy, s_hard = float(np.std(easy.mc_confidence)), float(np.std(hard.mc_confidence))
    return Finding(s_hard > s_easy, f"spread of the K passes' confidence {s_easy:.3f} → {s_hard:.3f}")


def _lambda_tracks_severity(ctx: LessonContext) -> Finding:
    mech = ctx.method(SHIPPED).get("mechanisms") or {}
    r = mech.get("lambda_severity_spearman")
    iqr = mech.get("lambda_iqr_fraction")
    ok = r is not None and iqr is not None and r >= 0.5 and iqr >= 0.3
    return Finding(
        ok,
        f"Spearman(λ, severity) = {r:.2f}, IQR of λ = {iqr:.0%} of its range"
        if ok or r is not None
        else "no mechanisms in the results",
    )


HARD9_PREMISE = Premise(9, unclear={"image": "ruined", "caption": "vague", "audio": "noisy"})

LESSON_LAMBDA = Lesson(
    "lambda",
    "λ(x) and uncertainty",
    "What is λ(x), and when does it rise?",
    (
        Step(
            "An easy example",
            "explore",
            f"*λ(x)* and the section *{MC_SECTION}*",
            Claim(
                "A clean 9 with its caption and a clean “nine”: λ(x) stays in the lowest fifth of its range.",
                _lambda_low_when_clean,
            ),
            view=EASY9,
            premise=Premise(9),
        ),
        Step(
            "A hard example",
            "explore",
            "*λ(x)* again, then the *Prediction*",
            Claim(
                f"Ruin the image, put the audio at {NOISY_AUDIO:g} dB and make the caption vague (“a digit”): "
                "λ(x) rises by at least half of its range.",
                _lambda_rises_when_hard,
            ),
            view=HARD9,
            premise=HARD9_PREMISE,
        ),
        Step(
            "Why it rose",
            "explore",
            f"the section *{MC_SECTION}*: each dot is one dropout-noisy pass",
            Claim(
                "The K passes disagree more on the hard example than on the easy one — that disagreement is "
                "u(x), and λ(x) is u(x)'s rank among the training inputs, mapped onto [λ_min, λ_max].",
                _mc_spread_rises,
            ),
            view=HARD9,
            premise=HARD9_PREMISE,
        ),
        Step(
            "Over the whole test split",
            "subsets",
            "the *mechanisms* tab: *IQR of λ / range* and *ρ(λ, severity)*",
            Claim(
                "On the test split λ(x) correlates with corruption severity (Spearman ≥ 0.5) and its "
                "middle half spans at least 30 % of its range.",
                _lambda_tracks_severity,
            ),
            tab="mechanisms",
        ),
    ),
    "λ(x) is the per-example weight of the entropy reward: where the model is unsure (its dropout passes "
    "disagree), training asks the gate to stay spread out rather than bet on one modality. It follows the "
    "passes' disagreement, not the corruption itself: an input that is corrupted but still unambiguous keeps a "
    "low λ(x).",
)


def _lattice_violations(ctx: LessonContext, baseline: str, **state) -> tuple[int, int]:
    return violations(ctx.prediction(**state)), violations(ctx.baseline_prediction(baseline, **state))


# a scanned 4, "a four" and "four" at -10 dB: late fusion's lattice has violations (2 red edges), AECF's has none
# (at -5 dB and above neither has). The handwritten 3 at -5 dB of the towers before RHVoice's voices now has
# violations in both (AECF 2, late fusion 3), so the example changed with the audio tower; the test-split rate is
# the claim below.
LATTICE_VIEW = {
    "image_sample": "scan_4.png",
    "audio_sample": "spoken_4_espeak.wav",
    "caption": "a four",
    "audio_snr": NOISY_AUDIO,
}


def _lattice_monotone_here(ctx: LessonContext) -> Finding:
    ours, late = _lattice_violations(ctx, "late_fusion", **LATTICE_VIEW)
    return Finding(ours == 0 and late >= 1, f"violations (red edges): AECF {ours}, late fusion {late}")


def _consistent_lattice(ctx: LessonContext) -> Finding:
    ours = ctx.method(SHIPPED)["monotonicity"]["consistent"]
    modd = ctx.method("moddrop")["monotonicity"]["consistent"]
    late = ctx.method("late_fusion")["monotonicity"]["consistent"]
    return Finding(
        ours <= 2 / 3 * modd and ours <= 2 / 3 * late,
        f"violation rate where the caption is not wrong: AECF {ours:.3f}, ModDrop {modd:.3f}, "
        f"late fusion {late:.3f}",
    )


def _no_cec_worse(ctx: LessonContext) -> Finding:
    ours = ctx.method(SHIPPED)["monotonicity"]["consistent"]
    ablation = ctx.method("aecf_no_cec")["monotonicity"]["consistent"]
    return Finding(
        ablation > ours,
        f"violation rate where the caption is not wrong: AECF {ours:.3f}, without CEC {ablation:.3f}",
    )


LESSON_LATTICE = Lesson(
    "lattice",
    "The subset lattice, CEC and late fusion's violations",
    "Should a model be more sure when it is given more? What does CEC do about it?",
    (
        Step(
            "One example, two models",
            "explore",
            f"the two lattices under *{LATTICE}*, side by side (a red edge is a violation: the confidence fell "
            "when a modality was added)",
            Claim(
                f"A scanned 4, the caption “a four” and “four” drowned in noise at {NOISY_AUDIO:g} dB: AECF's "
                "lattice has no violation, late fusion's has at least one.",
                _lattice_monotone_here,
            ),
            view={**LATTICE_VIEW, "baseline": "late_fusion"},
            premise=Premise(4, unclear={"audio": "noisy"}),
        ),
        Step(
            "Over the test split",
            "subsets",
            "the *monotonicity* tab: *violations (caption not wrong)*",
            Claim(
                "Where the caption is not wrong, AECF's violation rate is at most two thirds of ModDrop's and of "
                "late fusion's.",
                _consistent_lattice,
            ),
            tab="monotonicity",
        ),
        Step(
            "Take CEC away",
            "subsets",
            "add *aecf_no_cec* to the *Methods*, then the *monotonicity* tab",
            Claim("The same model trained without CEC has more violations.", _no_cec_worse),
            tab="monotonicity",
        ),
    ),
    "CEC penalises c(A) > c(B) for A ⊂ B during training, over the whole subset lattice; temperature "
    "scaling only sees the full input and cannot fix the order of the subsets.",
)


def _acm_adapts(ctx: LessonContext) -> Finding:
    ratios = ctx.drop_ratios(SHIPPED)
    return Finding(
        ratios is not None and ratios.share_2x >= 0.2,
        f"{ratios.share_2x:.0%} of test examples" if ratios is not None else "not measured",
    )


LEANING = {"image": 0.9, "caption": 0.05, "audio": 0.05}  # the simulator's sliders in the ACM lesson


def _simulate(ctx: LessonContext, weights: dict, method: str = "acm"):
    """The Curriculum simulator for a gate, with the shipped checkpoint's own ACM rule at its π_max."""
    rule = A.acm_rule(ctx.train_config(SHIPPED))
    gate = A.normalise_gate(weights, MODALITIES)
    return A.simulate_masks(gate, MODALITIES, rule.pi_max, method, rule=rule)


def _simulator_drops_dominant(ctx: LessonContext) -> Finding:
    probs = _simulate(ctx, LEANING).drop_probs
    ratio = probs["image"] / max(probs["caption"], probs["audio"])
    return Finding(
        ratio >= 2, "ACM's drop probability " + ", ".join(f"{m} {p:.2f}" for m, p in probs.items())
    )


def _moddrop_flat(ctx: LessonContext) -> Finding:
    probs = _simulate(ctx, LEANING, "uniform").drop_probs
    spread = max(probs.values()) - min(probs.values())
    return Finding(
        spread < 1e-6, "ModDrop's drop probability " + ", ".join(f"{m} {p:.2f}" for m, p in probs.items())
    )


LESSON_ACM = Lesson(
    "acm",
    "ACM versus ModDrop",
    "Which modality should training hide? ModDrop says: any, at random. ACM says: the one the gate leans on.",
    (
        Step(
            "A gate that leans on the image",
            "curriculum",
            "the *Simulator* tab: set the *weight on image* to 0.9 and the other two to 0.05, then read *ACM: "
            "drop probability q_m*",
            Claim(
                "ACM then hides the image at least twice as often as either other modality.",
                _simulator_drops_dominant,
            ),
            tab="Simulator",
        ),
        Step(
            "ModDrop, the same gate",
            "curriculum",
            "*ModDrop: drop probability* beside ACM's, in the *Simulator* tab",
            Claim("ModDrop hides every modality equally often, whatever the gate says.", _moddrop_flat),
            tab="Simulator",
        ),
        Step(
            "On the real test split",
            "curriculum",
            "the *On the test split* tab: *aecf: examples with ratio ≥ 2×* and the distribution of ratios under it",
            Claim(
                "At π = π_max, for at least 20 % of test examples ACM's drop probability for the most-trusted "
                "modality is ≥ 2× that of the least-trusted.",
                _acm_adapts,
            ),
            tab="On the test split",
        ),
    ),
    "ACM turns the gate into an adversary of itself: the more the gate trusts a modality, the more often "
    "training must do without it — a curriculum of hard missing patterns instead of random ones.",
)


def _late_fusion_accuracy_close(ctx: LessonContext) -> Finding:
    ours, late = _drop(ctx, SHIPPED)["acc"], _drop(ctx, "late_fusion")["acc"]
    return Finding(
        abs(ours - late) <= 0.04, f"accuracy at 50 % drop: AECF {ours:.1%}, late fusion {late:.1%}"
    )


def _late_fusion_ece_worse(ctx: LessonContext) -> Finding:
    ours, late = _drop(ctx, SHIPPED)["ece"], _drop(ctx, "late_fusion")["ece"]
    return Finding(late >= 2 * ours, f"raw ECE at 50 % drop: AECF {ours:.3f}, late fusion {late:.3f}")


def _late_fusion_map_lower(ctx: LessonContext) -> Finding:
    ours, late = _drop(ctx, SHIPPED).get("map"), _drop(ctx, "late_fusion").get("map")
    ok = ours is not None and late is not None and ours - late >= 0.01
    return Finding(
        ok,
        f"mAP at 50 % drop: AECF {ours:.3f}, late fusion {late:.3f}"
        if ours is not None
        else "no mAP in the results",
    )


def _specialists_limit(ctx: LessonContext) -> Finding:
    ours, spec = _drop(ctx, SHIPPED)["acc"], _drop(ctx, "specialists")["acc"]
    return Finding(ours >= spec - 0.005, f"accuracy at 50 % drop: AECF {ours:.1%}, specialists {spec:.1%}")


LESSON_CALIBRATION = Lesson(
    "calibration",
    "Late fusion holds up in accuracy, not in calibration and ranking",
    "If late fusion is nearly as accurate under missing modalities, what does AECF buy?",
    (
        Step(
            "Accuracy",
            "subsets",
            "the *vs drop rate* tab: *Accuracy vs drop rate*",
            Claim(
                "At 50 % random drop, late fusion's accuracy is within 4 pp of AECF's.",
                _late_fusion_accuracy_close,
            ),
            tab="vs drop rate",
        ),
        Step(
            "The limit",
            "subsets",
            "the *Summary* table: the *specialists (reference)* row",
            Claim(
                "AECF is within 0.5 pp of the specialists (one model per subset) at 50 % drop: no fusion can do "
                "much better on this benchmark.",
                _specialists_limit,
            ),
        ),
        Step(
            "Calibration",
            "subsets",
            "the *vs drop rate* tab: *ECE vs drop rate (raw)*; then the *reliability "
            "diagrams* tab at *random drop 0.5*",
            Claim(
                "At 50 % drop late fusion's raw ECE is at least twice AECF's: its confidence does not fall when "
                "inputs go missing.",
                _late_fusion_ece_worse,
            ),
            tab="vs drop rate",
        ),
        Step(
            "Ranking (mAP)",
            "subsets",
            "the *vs drop rate* tab: *mAP vs drop rate*",
            Claim(
                "At 50 % drop AECF's macro mAP is at least 1 pp above late fusion's: mixing examples with "
                "different missing modalities, its confidences rank them better.",
                _late_fusion_map_lower,
            ),
            tab="vs drop rate",
        ),
    ),
    "With frozen, aligned encoders and zero-filled missing inputs, late fusion's *answers* degrade gracefully; "
    "its *confidence* does not. What AECF buys here is calibration and ranking across missingness patterns — "
    "the paper's +18 pp is COCO mAP, a ranking metric.",
)

# A clean 9 and a clean "nine" (each read alone as a 9 at ≥ 0.8), with a caption that says 1.
CONTRA = {"image_sample": "mnist_9.png", "audio_sample": "spoken_9_espeak.wav"}
WRONG_CAPTION = "a photo of the number one"
EXACT_CAPTION = "a photo of the number nine"
WRONG = {**CONTRA, "caption": WRONG_CAPTION}
# ... and the same with the voice drowned at NOISY_AUDIO: image+audio is less sure, and the caption now counts
WRONG_NOISY = {**WRONG, "audio_snr": NOISY_AUDIO}
GATE_NOTICES = 0.05  # how much less gate weight the wrong caption gets than the exact one here (0.06)
DOUBT = 0.05  # how far the confidence falls when the wrong caption joins a noisy voice (0.10: 0.99 -> 0.89)


def _wrong_caption_outvoted(ctx: LessonContext) -> Finding:
    pred = ctx.prediction(**WRONG)
    pair = pred.subsets["image+audio"].confidence
    return Finding(
        pred.label == 9 and pred.confidence >= pair - VIOLATION_TOL,
        f"predicts {pred.label} with confidence {pred.confidence:.2f}; image+audio alone {pair:.2f}",
    )


def _wrong_caption_weight(ctx: LessonContext) -> Finding:
    right = _gate(ctx.prediction(**CONTRA, caption=EXACT_CAPTION), "caption")
    wrong = _gate(ctx.prediction(**WRONG), "caption")
    levels = (ctx.method(SHIPPED).get("mechanisms") or {}).get("caption_gate_by_level") or {}
    on_average = "wrong" in levels and "exact" in levels and levels["wrong"] < levels["exact"]
    return Finding(
        right - wrong >= GATE_NOTICES and on_average,
        f"here p(caption): exact {right:.2f}, wrong {wrong:.2f}; test-split mean: exact "
        f"{levels.get('exact', float('nan')):.2f}, wrong {levels.get('wrong', float('nan')):.2f}",
    )


def _noisy_voice_doubts(ctx: LessonContext) -> Finding:
    """The wrong caption lowers image+audio's confidence, and every violation adds a modality that reads
    another digit than the node it joins (the right direction for the confidence to go)."""
    pred = ctx.prediction(**WRONG_NOISY)
    pair, full = pred.subsets["image+audio"].confidence, pred.confidence
    lattice = _lattice(pred)
    node = {k: v.label for k, v in pred.subsets.items()}
    disagree = [
        any(node[m] != node[lower] for m in upper.split("+") if m not in lower.split("+"))
        for lower, upper in lattice.violations
    ]
    return Finding(
        pred.label == 9 and pair - full >= DOUBT and all(disagree),
        f"confidence image+audio {pair:.2f} → all three {full:.2f} (predicts {pred.label}); "
        f"{sum(disagree)} of {len(disagree)} violations add a modality that reads another digit",
    )


def _wrong_caption_share(ctx: LessonContext) -> Finding:
    share = {
        m: ctx.method(m)["monotonicity"]["wrong_caption_lowers_confidence"] for m in (SHIPPED, "moddrop")
    }
    return Finding(
        share[SHIPPED] < share["moddrop"],
        f"adding a wrong caption lowers the confidence on {share[SHIPPED]:.0%} of wrong-caption test "
        f"examples for AECF, {share['moddrop']:.0%} for ModDrop",
    )


LESSON_CONTRADICTION = Lesson(
    "contradiction",
    "A caption that contradicts the image",
    "CEC assumes more information never hurts. What happens when the added information is wrong?",
    (
        Step(
            "Outvoted",
            "explore",
            f"the *Prediction*, its *Confidence*, and the *image+audio* node of the *{LATTICE}*",
            Claim(
                f"Image and voice say 9, the caption says “{WRONG_CAPTION}”: the model still reads a 9, as sure "
                "as image and voice are together — two clear witnesses outvote the caption.",
                _wrong_caption_outvoted,
            ),
            view=WRONG,
            premise=Premise(9, says={"caption": 1}),
        ),
        Step(
            "The gate notices",
            "explore",
            f"the caption's bar in *{GATE_BARS}*; then type “{EXACT_CAPTION}” in the *Caption* box instead",
            Claim(
                f"The gate reads all the embeddings together: here it gives the wrong caption at least "
                f"{GATE_NOTICES:.2f} less weight than “{EXACT_CAPTION}”, and over the test split wrong captions "
                "get less weight than exact ones on average.",
                _wrong_caption_weight,
            ),
            view=WRONG,
            premise=Premise(9, says={"caption": 1}),
        ),
        Step(
            "Less sure — rightly",
            "explore",
            f"the *{LATTICE}*: the top node against *image+audio*, and the red edges",
            Claim(
                f"Now the voice is drowned in noise at {NOISY_AUDIO:g} dB: the wrong caption lowers the confidence "
                f"of image+audio by at least {DOUBT:.2f}, and every violation (red edge) adds a modality that "
                "reads another digit than the node it joins — here a violation is the right answer, not a "
                "failure.",
                _noisy_voice_doubts,
            ),
            view=WRONG_NOISY,
            premise=Premise(9, says={"caption": 1}, unclear={"audio": "noisy"}),
        ),
        Step(
            "How often",
            "subsets",
            "the *monotonicity* tab: the *wrong caption lowers confidence* column",
            Claim(
                "The price of CEC: on the test split a wrong caption lowers AECF's confidence *less often* than "
                "ModDrop's — pushing confidence to grow along the lattice also props it up where it should fall.",
                _wrong_caption_share,
            ),
            tab="monotonicity",
        ),
    ),
    "The paper's monotonicity assumption breaks on contradictory inputs; a good fusion layer should become "
    "less sure there. With two clear witnesses AECF stays sure, and with a weak one it doubts; over the test split "
    "CEC, trained only on pairs whose added modalities support the true label, still costs some of the right "
    "doubt. We report it.",
)

LESSONS: tuple[Lesson, ...] = (
    LESSON_GATE,
    LESSON_LAMBDA,
    LESSON_LATTICE,
    LESSON_ACM,
    LESSON_CALIBRATION,
    LESSON_CONTRADICTION,
)


def find_lesson(slug: object) -> Lesson | None:
    """The lesson with this slug, or None (a URL parameter may be anything)."""
    return next((les for les in LESSONS if les.slug == slug), None)


def lesson(slug: str) -> Lesson:
    """The lesson with this slug; the first lesson for an unknown one (a URL parameter may be anything)."""
    return find_lesson(slug) or LESSONS[0]


def all_claims() -> list[tuple[str, Claim]]:
    """(where, claim) for every claim the app makes: each lesson step and each page's "try this"."""
    out = [(f"{les.slug}/{i + 1}", step.claim) for les in LESSONS for i, step in enumerate(les.steps)]
    out += [(f"try/{page}", claim) for page, claim in TRY_THIS.items()]
    return out


def all_premises() -> list[tuple[str, Step]]:
    """(where, step) for every step with a premise (the Explore steps)."""
    return [
        (f"{les.slug}/{i + 1}", step)
        for les in LESSONS
        for i, step in enumerate(les.steps)
        if step.premise is not None
    ]


def check(claim: Claim, ctx: LessonContext) -> Finding:
    """Measure one claim; a measurement that cannot run is a claim that does not hold, with the reason."""
    return _safely(lambda: claim.measure(ctx))


def check_premise(step: Step, ctx: LessonContext) -> Finding | None:
    """Measure a step's premise (None without one), as safely as a claim."""
    return None if step.premise is None else _safely(lambda: step.measure_premise(ctx))


def _safely(measure: Callable[[], Finding]) -> Finding:
    try:
        return measure()
    except Exception as e:  # noqa: BLE001 - a broken measurement must show as a failed claim, not a crash
        return Finding(False, f"could not be measured: {e}")


# ------------------------------------------------------------------------------------ the guided mode


@dataclass(frozen=True)
class Link:
    """A page of the app (its URL path: one of PAGES, or "lessons") and the query it opens with."""

    page: str
    query: dict[str, str]


def lesson_link(les: Lesson) -> Link:
    """The lesson on the Lessons page."""
    return Link("lessons", {LESSON_KEY: les.slug})


def step_link(les: Lesson, number: int) -> Link:
    """Step `number` (from 1) of a lesson, guided: the page it opens, on its tab, with its view, and the lesson
    and step in the URL (the page draws the guided bar from them, so a refresh keeps it). An Explore step opens
    with each modality's own reading shown, where its premise can be checked."""
    step = les.steps[number - 1]
    query = {LESSON_KEY: les.slug, STEP_KEY: str(number), **step.query()}
    if step.page == "explore":
        query[DETAILS_KEY] = "true"
    if step.tab:
        query[TAB_KEY] = step.tab
    return Link(step.page, query)


@dataclass(frozen=True)
class GuidedStep:
    """The step of a lesson a guided page shows, with where Back and Next lead."""

    lesson: Lesson
    number: int  # from 1

    @property
    def step(self) -> Step:
        return self.lesson.steps[self.number - 1]

    @property
    def total(self) -> int:
        return len(self.lesson.steps)

    @property
    def where(self) -> str:
        """The step's key in all_claims() / all_premises()."""
        return f"{self.lesson.slug}/{self.number}"

    @property
    def back(self) -> Link:
        """The step before; the lesson itself before the first."""
        return lesson_link(self.lesson) if self.number == 1 else step_link(self.lesson, self.number - 1)

    @property
    def next(self) -> Link | None:
        """The step after; None after the last (the page then leads back to the lessons)."""
        return None if self.number == self.total else step_link(self.lesson, self.number + 1)


def guided_step(params: Mapping, page: str) -> GuidedStep | None:
    """The lesson step a page's URL names (`lesson=<slug>&step=<n>`) when that step opens this page; None for
    anything else — no guide, an unknown lesson, a step out of range or of another page — quietly."""
    get = {k: (v[-1] if isinstance(v, list | tuple) and v else v) for k, v in dict(params).items()}
    les = find_lesson(get.get(LESSON_KEY))
    raw = str(get.get(STEP_KEY, ""))
    if les is None or not raw.isdigit() or not 1 <= int(raw) <= len(les.steps):
        return None
    guided = GuidedStep(les, int(raw))
    return guided if guided.step.page == page else None


# ------------------------------------------------------------------------------------ "try this"


def _try_explore(ctx: LessonContext) -> Finding:
    before, after, moved = _gate_shift(ctx, BASE, "image", image_severity=1.0)
    lo, hi = _lam_range(ctx)
    clean = ctx.prediction(**BASE)
    noisy = ctx.prediction(**BASE, image_severity=1.0, audio_snr=TRY_NOISY_AUDIO)
    ok = (
        moved >= TRY_IMAGE_SHIFT
        and noisy.lam >= lo + 0.8 * (hi - lo)
        and noisy.lam > clean.lam
        and noisy.confidence < TRY_CONFIDENCE
    )
    return Finding(
        ok,
        f"p(image) {before:.2f} → {after:.2f}; image at 1 and {TRY_NOISY_AUDIO:g} dB: λ(x) {clean.lam:.3f} → "
        f"{noisy.lam:.3f} (λ_max {hi:g}), confidence {clean.confidence:.2f} → {noisy.confidence:.2f}",
    )


def _try_curriculum(ctx: LessonContext) -> Finding:
    leaning = _simulate(ctx, LEANING).kept
    top = max(leaning, key=leaning.get)
    flat = _simulate(ctx, {m: 1.0 for m in MODALITIES}).drop_probs
    moddrop = _simulate(ctx, {m: 1.0 for m in MODALITIES}, "uniform").drop_probs
    gap = max(abs(flat[k] - moddrop[k]) for k in moddrop)
    return Finding(
        top == "caption+audio" and gap < 1e-6,
        f"most frequent mask with p(image) = 0.9 keeps {top} ({leaning[top]:.0%}); with an even gate "
        f"ACM's drop probabilities differ from ModDrop's by {gap:.3f}",
    )


def _try_home(ctx: LessonContext) -> Finding:
    on, off = ctx.prediction(**BASE), ctx.prediction(**BASE, image_on=False)
    rest = _gate(off, "caption") + _gate(off, "audio")
    rises = all(_gate(off, m) > _gate(on, m) for m in ("caption", "audio"))
    return Finding(
        _gate(off, "image") == 0.0 and abs(rest - 1) < 1e-5 and rises,
        "p with the image: "
        + ", ".join(f"{m} {_gate(on, m):.2f}" for m in MODALITIES)
        + "; without: "
        + ", ".join(f"{m} {_gate(off, m):.2f}" for m in MODALITIES),
    )


TRAIN_TRY_EPOCHS = 3


def _try_train(ctx: LessonContext) -> Finding:
    """Train the page's defaults for late_fusion and aecf (3 epochs, seed 0) and compare the last validation."""
    last = {m: ctx.short_run(m, TRAIN_TRY_EPOCHS) for m in ("late_fusion", "aecf")}
    ours, late = last["aecf"], last["late_fusion"]
    return Finding(
        ours["val_masked_acc"] > late["val_masked_acc"],
        f"after {TRAIN_TRY_EPOCHS} epochs, {METRIC_NAMES['val_masked_acc']}: aecf {ours['val_masked_acc']:.1%}, "
        f"late fusion {late['val_masked_acc']:.1%}",
    )


TRY_THIS: dict[str, Claim] = {
    "home": Claim(
        "open **Explore one example**, switch the image off: its gate weight becomes exactly 0 and both "
        "caption and audio gain weight.",
        _try_home,
    ),
    "train": Claim(
        f"train `late_fusion` and `aecf` for {TRAIN_TRY_EPOCHS} epochs each with the same seed, then compare "
        f"their *{METRIC_NAMES['val_masked_acc']}* curves (the metric *Compare runs* offers): aecf ends higher.",
        _try_train,
    ),
    "explore": Claim(
        f"on the default sample, slide *image corruption* up to 1: the gate moves at least "
        f"{TRY_IMAGE_SHIFT:.2f} of its weight away from the image. Leave it there and push the *audio "
        "SNR* down to −15 dB: λ(x) climbs "
        f"to the top fifth of its range and the confidence falls below {TRY_CONFIDENCE:g}. Copy the URL to "
        "share a view.",
        _try_explore,
    ),
    "curriculum": Claim(
        "in the simulator, put 0.9 of the gate on *image*: *caption+audio* (the image hidden) becomes "
        "the most frequent mask; then spread the gate evenly (maximal H(p)) and ACM is ModDrop.",
        _try_curriculum,
    ),
    "subsets": Claim(
        "compare AECF with late fusion at 50 % drop: similar accuracy, but late fusion's ECE is at least "
        "twice AECF's.",
        lambda ctx: _combine(_late_fusion_accuracy_close(ctx), _late_fusion_ece_worse(ctx)),
    ),
}


def _combine(*findings: Finding) -> Finding:
    return Finding(all(f.holds for f in findings), "; ".join(f.measured for f in findings))


def with_view(step: Step, **changes) -> Step:
    return replace(step, view={**step.view, **changes})
