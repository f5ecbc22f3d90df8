"""Home: what AECF does, in plain words and one picture; how to use the app; the loaded checkpoint."""

import streamlit as st

from aecf.app.checkpoints import checkpoint_status
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/aecf/app/test_lessons.py
from aecf.figures.app import architecture_figure
from pages.parts import cache
from pages.parts.ui import ensure_navigation, teaching_box

ensure_navigation()
st.title("AECF Explorer")
st.markdown(
    "**Adaptive Entropy-Gated Contrastive Fusion** (AECF, [arXiv 2505.15417](https://arxiv.org/abs/2505.15417)) "
    "is a small fusion layer that sits on top of *frozen* encoders — here an image of a handwritten digit, "
    "a caption and a spoken word. Each encoder alone is unreliable; together they are strong. AECF's job is "
    "to stay **accurate and honestly confident when some of them are missing or broken**."
)

st.plotly_chart(architecture_figure(), width="stretch", config={"displayModeBar": False})

left, right = st.columns(2)
with left:
    st.subheader("Three ideas, in plain words")
    st.markdown(
        "- **Entropy gate.** A gate decides how much to trust each modality (weights *p*). On inputs the model "
        "is unsure about — measured by how much *K* dropout-noisy passes disagree, λ(x) — it is pushed to keep "
        "*p* spread out instead of betting on one modality.\n"
        "- **Contrastive Expert Calibration (CEC).** Adding information must not lower confidence: "
        "confidence with image+audio should be at least the confidence with the image alone.\n"
        "- **Adaptive Curriculum Masking (ACM).** During training, hide the modality the gate leans on most, "
        "more and more often, so the model learns to cope without it."
    )
with right:
    st.subheader("How to use this app")
    st.markdown(
        "1. **Explore one example** — give an image (upload, draw or sample), a caption and a spoken digit "
        "(upload, record or sample); switch modalities off, corrupt them, and watch gate, λ(x), the subset "
        "lattice and a baseline change live. The URL reproduces the view: share it.\n"
        "2. **Subsets & calibration** — accuracy and calibration of every modality subset, and under random "
        "missing modalities, AECF against baselines.\n"
        "3. **Curriculum masking** — how ACM's masks evolved during training, and a mask simulator.\n"
        "4. **Train** — launch a short run on the shipped embeddings and watch its curves grow.\n"
        "5. **Lessons** — six guided tours for a class: each step opens a view in this tab with a bar that says "
        "what to look at, and every claim it makes is measured on the shipped model."
    )

st.subheader("Loaded checkpoint")
status = checkpoint_status(cache.checkpoint_choices(), cache.model)
if status.problem is not None:
    st.warning(status.problem)
else:
    st.success(status.summary)
if status.available:
    st.caption("Available: " + ", ".join(status.available))

teaching_box(
    ["gate", "loss"],
    "The gate produces weights *p* over the modalities that are present (a missing one gets exactly 0); "
    "the fused vector is the *p*-weighted sum of the projected embeddings, and a linear classifier reads it. "
    "Training adds three terms to the usual task loss: the entropy term, CEC and masked inputs chosen by ACM.",
    TRY_THIS["home"].text,
)
