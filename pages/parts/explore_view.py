"""Render an `aecf.app.explore.ExploreView`: the same parts for a digits and a COCO checkpoint."""

from __future__ import annotations

import streamlit as st

from aecf.app.explore import ExploreView
from pages.parts.ui import bars, show, svg

Q = {"bind": "query-params"}


def notes(view: ExploreView, slots: dict) -> None:
    """Each modality's message in the placeholder under its input."""
    for modality, slot in slots.items():
        show(view.notes.get(modality), slot)


def results(view: ExploreView, tab_key: str = "tab") -> None:
    """Everything under the inputs. Built from light elements (metrics, progress bars, inline SVG): this
    redraws on every change, and a plotly chart costs the browser tens of ms per redraw. Details sit in
    tabs that render only when open."""
    if view.fatal is not None:
        show(view.fatal)
        return
    if view.warning:
        st.warning(view.warning)
        return
    st.subheader(view.headline)
    for col, m in zip(st.columns(4), view.metrics, strict=False):
        col.metric(m.label, m.value, help=m.help)
    for col, m in zip(st.columns([2, 1, 1]), view.compare, strict=False):
        col.metric(m.label, m.value, help=m.help)
    show(view.baseline_problem)

    left, right = st.columns([3, 2])
    with left:
        svg(view.probs_svg)
        for title, rows in view.top_labels:
            st.markdown(f"**{title}**")
            bars(rows)
    with right:
        st.markdown("**Gate weights p** (a missing modality gets exactly 0)")
        for text, weight in view.gate:
            st.progress(weight, text=text)
        if view.gate_note:
            (st.caption if view.gate else st.info)(view.gate_note)

    st.markdown(f"#### {view.lattice_title}")
    left, right = st.columns(2)
    svg(view.lattices[0], left)
    if len(view.lattices) > 1:
        svg(view.lattices[1], right)
    else:
        right.caption("Pick a baseline in the sidebar to see its lattice here.")

    tab_mc, tab_experts, tab_sees = st.tabs([view.mc_tab, "Each modality alone", "What the model sees"],
                                            key=tab_key, on_change="rerun", **Q)
    if tab_mc.open:
        svg(view.mc_svg, tab_mc)
        tab_mc.caption(view.mc_caption)
    if tab_experts.open:
        svg(view.experts_svg, tab_experts)
        for col, (title, rows) in zip(tab_experts.columns(max(1, len(view.experts_bars))), view.experts_bars,
                                      strict=False):
            col.markdown(f"**{title}**")
            bars(rows, col)
        tab_experts.caption(view.experts_caption)
    if tab_sees.open:
        _what_the_model_sees(view, tab_sees)


def _what_the_model_sees(view: ExploreView, tab) -> None:
    if view.multilabel:
        tab.markdown("**Caption after normalisation**")
        tab.code(view.caption_text or "(no caption)", language=None, wrap_lines=True)
        return
    s1, s2, s3 = tab.columns([1, 2, 1])
    if view.image_28 is not None:
        s1.image(view.image_28, caption="28×28 after preprocessing + corruption", width=168)
    else:
        s1.caption("No image.")
    if view.logmel is not None:
        s2.image(view.logmel, caption="log-mel spectrogram (time →, pitch ↑)", width="stretch")
        if view.wave is not None:
            s2.audio(view.wave, format="audio/wav")
    else:
        s2.caption("No audio.")
    s3.markdown("**Caption after normalisation**")
    s3.code(view.caption_text or "(no caption)", language=None, wrap_lines=True)
