"""The Explore page for a multi-label (COCO) checkpoint: image + caption in, the top labels out.

A COCO checkpoint has no audio and takes images as given (the digits' corruption sliders do not apply), so
the page shows two input columns and, instead of one class, the top-k labels of the sigmoid head.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from aecf import app_cache
from aecf import app_explore as X
from aecf import app_figures as F
from aecf.app_guard import Problem, guarded, show
from aecf.app_model import same_directory_baselines
from aecf.app_state import URL_KEYS as K
from aecf.app_ui import svg
from aecf.lattice import lattice_svg

Q = {"bind": "query-params"}
TOP_K = 5
DEFAULT_CAPTION = "a person riding a bicycle down a city street"


def _top_bars(pred, k: int = TOP_K) -> None:
    for name, p in pred.top_labels(k):
        st.progress(min(1.0, max(0.0, float(p))), text=f"{name}: {p:.3f}")


def render(choice, choices, mc: int, seed: int) -> None:
    st.info("This is a multi-label COCO checkpoint: image and caption only, so there is no audio column, and "
            "images are used as given, so the digits' corruption sliders are hidden.", icon=":material/info:")
    bases = same_directory_baselines(choices, choice)
    with st.sidebar:
        base_keys = ["none"] + [c.key for c in bases]
        base = st.selectbox("Baseline, side by side", base_keys, index=min(1, len(base_keys) - 1),
                            key="coco_baseline", format_func=lambda k: "none" if k == "none" else
                            next(c.label for c in bases if c.key == k))
        if not bases:
            st.caption(f"No COCO checkpoint of another method in {choice.path.parent.name}/: no baseline to compare.")

    col_img, col_cap = st.columns(2, border=True)
    raw_image, image_key = None, None
    with col_img:
        img_on = st.toggle(":material/image: Image", True, key=K["image_on"], **Q)
        up = st.file_uploader("Upload a photo", type=["jpg", "jpeg", "png", "webp"], key="coco_img_upload",
                              disabled=not img_on)
        path = st.text_input("…or the path of an image file", key="coco_image_path", disabled=not img_on,
                             help="e.g. a file under your COCO val2014/ folder.")
        if up is not None:
            data = up.getvalue()
            raw_image, image_key = data, "upload:" + X.content_key(data)
        elif path.strip():
            p = Path(path.strip()).expanduser()
            if p.is_file():
                data = p.read_bytes()
                raw_image, image_key = data, "path:" + X.content_key(data)
            else:
                st.error(f"No file at {p}.")
        if raw_image is not None and img_on:
            st.image(raw_image, width=224)
        img_msg = st.empty()
    with col_cap:
        cap_on = st.toggle(":material/chat: Caption", True, key=K["caption_on"], **Q)
        caption = st.text_area("Caption", DEFAULT_CAPTION, key=K["caption"], height=100, disabled=not cap_on,
                               max_chars=5000, help="Describe the photo — or describe another one and watch the gate.",
                               **Q)
        cap_msg = st.empty()

    model, problem = guarded(app_cache.model, choice.key, what="Loading the checkpoint")
    if problem:
        show(problem)
        st.stop()

    use_image = raw_image if img_on else None
    use_caption = caption if cap_on else None
    if img_on and raw_image is None:
        img_msg.info("No image yet: upload one or give a path. Until then the image counts as missing.")
    for modality, value, slot in (("image", use_image, img_msg), ("caption", use_caption, cap_msg)):
        if value is None:
            continue
        _, p = guarded(X.embed_checked, model, modality, value, what=f"Reading the {modality}")
        if p is not None:
            slot.error(p.message)
            if modality == "image":
                use_image = None
            else:
                use_caption = None
    if use_image is None and use_caption is None:
        st.warning("Neither image nor caption is usable: switch one on and give it an input.")
        st.stop()

    pred, problem = guarded(app_cache.prediction, choice.key, image_key if use_image is not None else None,
                            use_caption, None, int(mc), 0.0, None, int(seed), _image=use_image, _audio=None,
                            what="The prediction")
    if problem:
        show(problem)
        st.stop()
    base_pred = None
    if base != "none":
        view_key = X.content_key("|".join(map(str, (choice.key, image_key, use_caption, use_image is None))))
        base_pred, bproblem = guarded(app_cache.baseline_prediction, base, view_key, int(mc), int(seed),
                                      _embeddings=pred.embeddings, what="The baseline")
        if bproblem:
            show(Problem("warning", bproblem.message))

    st.subheader(f"Top label: **{pred.label_name}**")
    spread = X.mc_confidence_spread(pred.mc_probs, pred.label)
    m = st.columns(4)
    m[0].metric("Confidence", f"{pred.confidence:.3f}", help="The sigmoid probability of the top label.")
    m[1].metric("Gate entropy H(p)", "–" if pred.gate_entropy is None else f"{pred.gate_entropy:.3f}",
                help="0 = all weight on one modality; log 2 = spread evenly over image and caption.")
    m[2].metric("λ(x)", "–" if pred.lam is None else f"{pred.lam:.4f}",
                help="Per-instance entropy coefficient, from the variance of the K MC-dropout passes.")
    m[3].metric(f"Spread over K={spread['k']} passes", f"±{spread['std']:.3f}")
    st.columns([2, 2])[0].metric("Modalities used", " + ".join(pred.present))

    c1, c2 = st.columns([3, 2])
    with c1:
        st.markdown(f"**Top labels** ({TOP_K} most probable; independent sigmoids, so several can be high)")
        _top_bars(pred)
        if base_pred is not None:
            st.markdown(f"**Baseline: {next((c.label for c in bases if c.key == base), base)}**")
            _top_bars(base_pred)
    with c2:
        st.markdown("**Gate weights p** (a missing modality gets exactly 0)")
        if pred.gate:
            for name in ("image", "caption"):
                w = float(pred.gate.get(name, 0.0))
                state = f"p = {w:.3f}" if name in pred.present else "absent, p = 0"
                st.progress(min(1.0, max(0.0, w)), text=f"{name}: {state}")
        else:
            st.info(f"{model.name} has no gate (method {model.method}): both modalities count the same.")

    st.markdown("#### Subset lattice: the top label's sigmoid confidence with every subset of the present modalities")
    subsets = {k: {"label": v.label, "confidence": v.confidence} for k, v in pred.subsets.items()}
    c5, c6 = st.columns(2)
    with c5:
        svg(lattice_svg(subsets, title=model.name, class_names=model.classes))
    with c6:
        if base_pred is not None:
            bsub = {k: {"label": v.label, "confidence": v.confidence} for k, v in base_pred.subsets.items()}
            svg(lattice_svg(bsub, title=f"{base} (baseline)", class_names=model.classes))

    tab_mc, tab_experts, tab_sees = st.tabs(
        [f"λ(x): the K = {spread['k']} passes", "Each modality alone", "What the model sees"], key="coco_tab",
        on_change="rerun")
    if tab_mc.open:
        svg(F.mc_passes_svg(pred.mc_probs, pred.label,
                            f"λ(x) reads these K = {spread['k']} MC-dropout passes (p of '{pred.label_name}')"), tab_mc)
        tab_mc.caption(f"Per-pass p({pred.label_name}) from {spread['min']:.2f} to {spread['max']:.2f}. "
                       "The more they disagree, the larger λ(x).")
    if tab_experts.open:
        cols = tab_experts.columns(max(1, len(pred.experts)))
        for col, m_ in zip(cols, [m_ for m_ in pred.present if m_ in pred.experts], strict=False):
            col.markdown(f"**{m_} alone (zero-shot)**")
            probs = pred.experts[m_]
            order = sorted(range(len(probs)), key=lambda i: -float(probs[i]))[:TOP_K]
            for i in order:
                col.progress(min(1.0, max(0.0, float(probs[i]))), text=f"{model.classes[i]}: {float(probs[i]):.3f}")
        tab_experts.caption("CLIP's own zero-shot guess per modality (a softmax over the class prompts: compare the "
                            "ranking, not the values, with the sigmoid head).")
    if tab_sees.open:
        tab_sees.markdown("**Caption after normalisation**")
        tab_sees.code(pred.caption_text if pred.caption_text else "(no caption)", language=None, wrap_lines=True)
