"""Render an `aecf.app.explore.ExploreView`: the same parts for a digits and a COCO checkpoint."""

from __future__ import annotations

from html import escape

import streamlit as st

from aecf.app.explore import ExploreView
from aecf.app.problems import Problem
from aecf.figures.app import bars_html, metric_cards_html
from aecf.figures.palette import MODALITY_COLORS, NEUTRAL
from pages.parts.ui import html_block, instant_views, show


def notes(view: ExploreView) -> None:
    """Each modality's message (missing or bad input, what was cut from the caption), named by modality,
    above the results."""
    for modality in ("image", "caption", "audio"):
        problem = view.notes.get(modality)
        if problem is not None:
            show(Problem(problem.level, f"**{modality.capitalize()}** — {problem.message}"))


def is_one_element(view: ExploreView) -> bool:
    """True when `results` draws a single element (no note, no message): the page can then put it straight
    into its placeholder, without a container around it (one element fewer per redraw)."""
    return view.is_plain


def results(view: ExploreView, container=None) -> None:
    """Everything under the inputs as ONE element (`html_block`): this redraws on every change, and the
    browser's cost of a redraw grows with the number of elements (an st.metric or st.progress costs ~4 ms,
    a plotly chart tens of ms, tabs or an expander ~40 ms) and with the nodes rebuilt (a markdown element
    re-parses its ~480 HTML/SVG nodes in JavaScript every time, ~60-90 ms of the browser's work per toggle;
    the block updates the changed nodes in place). The heavier details (`details`) go into an expander the
    page draws outside."""
    if view.fatal is not None:
        show(view.fatal)
        return
    if view.warning:
        st.warning(view.warning)
        return
    show(view.baseline_problem)
    html_block(results_markup(view), RESULTS_KEY, container)


RESULTS_KEY = "explore_results"


def next_views(
    views: dict[str, ExploreView],
    controls: list,
    container,
    captions: dict[str, dict[str, str]] | None = None,
    query: str | None = None,
) -> None:
    """Send the views one click away (aecf.app.explore.explore_next) to the browser, unseen: when a switch
    or a slider of `controls` ((widget key, digits of a slider's value, None for a switch), in the order of
    aecf.app.explore.view_key) lands on one of them, the browser shows it at once and the server's own
    redraw, a moment later, finds it already on screen (pages/parts/ui.py, `instant_views`). `captions`
    (widget key -> slider value -> text) are what the caption under a slider says at those values; `query` the
    address bar's, sent with them (pages/parts/url.py)."""
    instant_views(
        {key: results_markup(view) for key, view in views.items()},
        RESULTS_KEY,
        controls,
        "explore_next",
        container,
        captions if views else None,
        query,
    )


def results_markup(view: ExploreView) -> str:
    """The results of a plain view as HTML (the one element `results` draws), laid out so that the prediction,
    the metrics (H(p), λ(x)) and the gate sit side by side right under the inputs, on the first screen at
    1400×900 and 1920×1080; then the class probabilities beside the K passes; then the lattices, side by side
    where there is room for both at full size (classes from html_block.css)."""
    metrics = [(m.label, m.value, m.help) for m in view.metrics]
    compare = [(m.label, m.value, m.help) for m in view.compare]
    left = view.probs_svg + "".join(
        f"<p><b>{escape(title)}</b></p>" + bars_html(rows) for title, rows in view.top_labels
    )
    gate = bars_html(view.gate, [_modality_color(text) for text, _ in view.gate]) if view.gate else ""
    note = f'<p class="aecf-note">{escape(view.gate_note)}</p>' if view.gate_note else ""
    lattices = "".join(f"<div>{svg_markup}</div>" for svg_markup in view.lattices)
    if len(view.lattices) < 2:
        lattices += '<div class="aecf-note">Pick a baseline in the sidebar to see its lattice here.</div>'
    return (
        '<div class="aecf-row"><div class="aecf-main">'
        f'<h3 data-testid="explore-headline">{headline_html(view.headline)}</h3>'
        + metric_cards_html(metrics, 4)
        + metric_cards_html(compare, 3)
        + '</div><div class="aecf-side"><p class="aecf-head"><b>Gate weights p</b> (a missing modality gets '
        f"exactly 0)</p>{gate}{note}</div></div>"
        + f'<div class="aecf-row"><div class="aecf-main">{left}</div>'
        + f'<div class="aecf-side"><h4>{escape(view.mc_tab)}</h4>{view.mc_svg}'
        + f'<p class="aecf-note">{escape(view.mc_caption)}</p></div></div>'
        + f"<h4>{escape(view.lattice_title)}</h4>"
        + f'<div class="aecf-lattices">{lattices}</div>'
    )


def _modality_color(gate_row: str) -> str:
    """A gate row ('image: p = 0.262', 'audio: absent, p = 0') in its modality's colour."""
    return MODALITY_COLORS.get(gate_row.split(":", 1)[0].strip(), NEUTRAL)


def details(view: ExploreView, container) -> None:
    """Each modality's own opinion and what the model sees (the page draws this only while it is open)."""
    if view.prediction is None:
        return
    bars = "".join(
        f'<div class="aecf-main"><p><b>{escape(title)}</b></p>{bars_html(rows)}</div>'
        for title, rows in view.experts_bars
    )
    html_block(
        view.experts_svg + (f'<div class="aecf-row">{bars}</div>' if bars else ""),
        "explore_experts",
        container,
    )
    container.caption(view.experts_caption)
    _what_the_model_sees(view, container)


def headline_html(headline: str) -> str:
    """'Prediction: **7 (seven)**' -> HTML (markdown bold inside inline HTML is not parsed)."""
    head, _, rest = headline.partition("**")
    bold, _, tail = rest.partition("**")
    return f"{escape(head)}<b>{escape(bold)}</b>{escape(tail)}"


def _what_the_model_sees(view: ExploreView, tab) -> None:
    if view.multilabel:
        tab.markdown("**Caption after normalisation**")
        tab.code(view.caption_text or "(no caption)", language=None, wrap_lines=True)
        return
    tab.markdown("**What the model sees**")
    s1, s2, s3 = tab.columns([1, 2, 1])
    image, logmel, wave = view.model_sees()
    if image is not None:
        s1.image(image, caption="28×28 after preprocessing + corruption", width=168)
    else:
        s1.caption("No image.")
    if logmel is not None:
        s2.image(logmel, caption="log-mel spectrogram (time →, pitch ↑)", width="stretch")
        if wave is not None:
            s2.audio(wave, format="audio/wav")
    else:
        s2.caption("No audio.")
    s3.markdown("**Caption after normalisation**")
    s3.code(view.caption_text or "(no caption)", language=None, wrap_lines=True)
