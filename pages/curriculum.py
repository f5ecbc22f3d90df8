"""Curriculum masking: how ACM's masks evolved during a run, and a simulator of what ACM would sample."""

import streamlit as st

from aecf import paths
from aecf.app import masking as A
from aecf.app import training as T
from aecf.app.lessons import TRY_THIS
from aecf.app.state import TAB_KEY
from aecf.constants import MODALITIES
from aecf.figures.app import curves_figure, drop_ratio_figure
from pages.parts import acm_views, curriculum_dataset, guide
from pages.parts.dataset import dataset_picker
from pages.parts.ui import ensure_navigation, teaching_box

SHIPPED_ACM = ("aecf", "aecf_paper_fusion")  # shipped checkpoints whose ACM adapts to the gate


@st.cache_data(show_spinner="Reading the gate on the 5,000 test examples…")
def test_split_ratios(name: str):
    return A.drop_ratios(paths.fusion_dir() / f"{name}.safetensors")


@st.cache_data(show_spinner=False)
def shipped_rule() -> A.AcmRule:
    return A.acm_rule(A.train_config_for(paths.fusion_dir() / "aecf.metrics.jsonl"))


ensure_navigation()
guide.bar("curriculum")  # a lesson's step, when the URL names one
st.title("Adaptive Curriculum Masking")
choice = dataset_picker()  # ?data=<key>; absent: the digits below
if not choice.is_digits:
    curriculum_dataset.show(choice)  # a run trained on that dataset
    st.stop()
teaching_box(
    ["masking", "entropy"],
    "ModDrop hides each modality with the same probability, whatever the input. ACM reads the gate: each present "
    "modality is hidden with a probability proportional to the gate's trust in it (p_m^γ), so the modality the gate "
    "leans on is hidden most often and the model must learn to do without it. Averaged over modalities the rate is "
    "still π_t, which ramps up during the first part of training (the curriculum); an even gate gets plain ModDrop. "
    "Every modality is never hidden at once.",
    TRY_THIS["curriculum"].text,
)

tab_test, tab_run, tab_sim = st.tabs(
    ["On the test split", "During training", "Simulator"], key=TAB_KEY, bind="query-params"
)  # ?tab=Simulator opens that tab (a lesson's step links to it)

with tab_test:
    st.markdown(
        "For every test example (all modalities present), how much more often would ACM hide the modality "
        "the trained gate trusts most than the one it trusts least, at the end of the curriculum (π = π_max)? "
        "ModDrop's answer is 1× for every example."
    )
    dists = {
        name: d
        for name in SHIPPED_ACM
        if (paths.fusion_dir() / f"{name}.safetensors").exists()
        and (d := test_split_ratios(name)) is not None
    }
    if not dists:
        st.info(
            "No shipped checkpoint with ACM found under checkpoints/fusion; train `aecf` on the **Train** page "
            "and see its masks in *During training*."
        )
    else:
        cols = st.columns(len(dists))
        for col, (name, d) in zip(cols, dists.items(), strict=True):
            acm_views.ratio_metric(col, name, d)
        st.plotly_chart(
            drop_ratio_figure(
                {n: d.ratios for n, d in dists.items()},
                A.RATIO_CAP,
                "ACM's drop-probability ratio across the test split",
            ),
            key="ratio_hist",
        )

with tab_run:
    sources = A.metrics_sources()
    if not sources:
        st.warning(
            "No training metrics found: the shipped checkpoints came without their metrics.jsonl and there are no "
            "runs yet. Start an `aecf` run on the **Train** page (3 epochs are enough), then come back and pick it here."
        )
    else:
        labels = list(sources)
        aecf_first = sorted(labels, key=lambda s: ("aecf" not in s, s.startswith("run:")))
        label = st.selectbox(
            "Run",
            aecf_first,
            key="curriculum_run",
            help="Pick an aecf run: only ACM adapts its masks to the gate.",
        )
        rows = A.read_metrics_file(sources[label])
        if not A.has_mask_metrics(rows):
            st.info(
                "This run did not mask anything (a method without masking). Pick an `aecf` or `moddrop` run."
            )
        c1, c2 = st.columns(2)
        series = T.curve_series(rows, "Mask rates")
        if series:
            c1.plotly_chart(
                curves_figure(
                    series, "Per-modality mask rate and π_t", y_title="share hidden", y_range=(0, 1)
                ),
                key="mask_rates",
            )
        h = T.curve_series(rows, "Gate entropy H(p) and λ(x)")
        if h:
            c2.plotly_chart(curves_figure(h, "Mean gate entropy H(p) and λ(x)"), key="entropy_curve")
        cfg = A.train_config_for(sources[label])
        pi_max = float(cfg.get("pi_max", 0.5))
        warmup = float(cfg.get("mask_warmup", 0.3))
        xs, acm = A.schedule(pi_max, warmup)
        _, flat = A.schedule(pi_max, 0.0)
        acm_views.schedule_chart(st, xs, acm, flat, pi_max, height=240)
        st.caption("ACM's per-modality rates split π_t unevenly by the gate; ModDrop's are all equal to π.")
        moddrop = next((k for k in labels if k.endswith(": moddrop")), None)
        if moddrop and moddrop != label and A.has_mask_metrics(rows):
            mine, theirs = (
                A.mask_rate_summary(rows),
                A.mask_rate_summary(A.read_metrics_file(sources[moddrop])),
            )
            series = {
                f"{label} overall": mine["overall"],
                "moddrop overall": theirs["overall"],
                f"{label} max − min across modalities": mine["uneven"],
                "moddrop max − min across modalities": theirs["uneven"],
            }
            st.plotly_chart(
                curves_figure(
                    series,
                    "As trained: this run against shipped ModDrop",
                    y_title="share hidden",
                    y_range=(0, 1),
                    dash={k: "dot" for k in series if "max − min" in k},
                ),
                key="vs_moddrop",
            )
            st.caption(
                "Solid: share of modalities hidden. Dotted: how unevenly the masks pick modalities — "
                "zero for ModDrop by design; for ACM it grows when the gate is sure of one modality."
            )

with tab_sim:
    st.markdown(
        "Set one example's gate, and draw 4,000 masks with **aecf.masking**'s sampler, using the ACM rule "
        "the shipped `aecf` was trained with."
    )
    c1, c2 = st.columns([1, 2])
    with c1:
        present = tuple(m for m in MODALITIES if st.toggle(f"{m} present", True, key=f"sim_{m}"))
        if not present:
            st.error("Every modality is off: there is nothing to mask. Switch one on.")
            st.stop()
        gate = acm_views.gate_controls(present, MODALITIES, "image", "sim", str)
        rate = st.slider("overall rate π_t", 0.0, 0.9, 0.5, 0.05, key="sim_rate")
    rule = shipped_rule()
    with c2:
        acm_views.simulator_results(gate, present, rate, rule, MODALITIES)
