"""The Explore page for a dataset other than the digits (`?data=<key>`, the sidebar's dataset picker): a run trained
on it (or one that ships with it), a test example by index (or a random one), a switch per modality, and the view (aecf.app.explore_dataset)
as one HTML block, with the views one switch away sent ahead (pages/parts/ui.instant_views) and a snippet that
reproduces it.

The view's state is in the link: `data`, `run`, `i`, `off` (the modalities switched off) and `k` (MC-dropout
passes), written by the page itself (pages/parts/url.py) like the digits view's.
"""

from __future__ import annotations

from collections import OrderedDict
from html import escape

import streamlit as st

from aecf.app import explore_dataset as X
from aecf.app.datasets import DatasetChoice
from aecf.app.state import MC_CHOICES
from aecf.errors import CheckpointError, InputError
from aecf.figures import palette
from aecf.figures.app import bars_html, metric_cards_html
from aecf.inference import load
from pages.parts import cache, url
from pages.parts.dataset import train_link
from pages.parts.explore_view import headline_html
from pages.parts.ui import html_block, instant_views

DATA, RUN, INDEX, OFF, K = "data", X.QUERY["run"], X.QUERY["index"], X.QUERY["off"], X.QUERY["mc_samples"]
LINK_KEYS = (DATA, RUN, INDEX, OFF, K)  # the view's URL keys (RUN, INDEX and K are also its widgets' keys)
SWITCH = "dx_on_{}"  # a modality's switch, by its position in the dataset (names may hold spaces and dots)
OFF_STATE = "_dx_off"  # the modalities switched off, kept while a modality is missing for an example
AVAILABLE = "_dx_available"  # which modalities the example on screen has
RESULTS_KEY = "explore_dataset_results"
DRAWN, DRAWN_KEPT = "_dx_drawn", 24  # the views this browser session drew last, with their markup (`_drawn`)
DEFAULTS = {RUN: None, INDEX: 0, K: X.DEFAULT_K}  # None: always in the link (a newer run must not change it)


@st.cache_resource(show_spinner="Loading the run's model…", max_entries=8)
def run_model(weights: str, modified: float):
    """A run's model, once per server (`modified`: a resumed run saves new weights under the same name)."""
    return load(weights)


def forget_link() -> None:
    """The digits view calls this: the keys only this view writes leave the link."""
    for key in (RUN, INDEX, OFF):
        if key in st.query_params:
            del st.query_params[key]


def page(choice: DatasetChoice) -> None:
    name = choice.spec.name if choice.spec else choice.path.name
    st.title(f"Explore one example of {name}")
    st.caption(
        "Each modality's embedding goes through the run's gate: its weights **p** (0 for a modality that is off "
        "or missing), their entropy H(p), λ(x) from K dropout-noisy passes, and the confidence with every "
        "subset of the modalities used, which CEC trained never to fall when a modality is added."
    )
    try:
        data = cache.dataset(choice.key)
    except InputError as e:
        st.error(str(e))
        return
    split = data.split(X.SPLIT)
    runs = X.run_choices(choice)
    new_link = url.is_new_link()
    if new_link:  # a link from the digits view may carry its keys: they are not this view's
        for key in [k for k in st.session_state.get(url.VIEW, {}) if k not in LINK_KEYS]:
            url.put(key, None)
    url.put(DATA, choice.key)
    if not runs:
        st.info(
            f"No run has been trained on {name} yet. Train AECF (and a baseline to compare) on the Train page; "
            "its finished runs appear here, with every test example to explore.",
            icon=":material/info:",
        )
        train_link(choice, f"Train on {name}")
        return
    keys = [r.key for r in runs]
    ss = st.session_state
    if new_link:
        link = X.state_from_query(st.query_params.to_dict(), keys, len(split), split.modalities)
        ss[RUN], ss[INDEX], ss[K] = link.run or X.default_run(runs), link.index, link.mc_samples
        ss[OFF_STATE] = set(link.off)
        ss.pop(AVAILABLE, None)
    if ss.get(RUN) not in keys:  # a run removed since, or a view of another dataset before
        ss[RUN] = X.default_run(runs)
    labels = {r.key: r.label for r in runs}
    with st.sidebar:
        st.header("View")
        run_key = st.selectbox(
            "Run",
            keys,
            key=RUN,
            format_func=labels.get,
            help=f"The finished runs trained on {name}, newest first, then the ones that ship with it.",
        )
        k = st.select_slider("MC-dropout passes K", MC_CHOICES, key=url.seeded(K, X.DEFAULT_K))
        st.markdown(
            "---\n\n**Share this view**: the address bar holds the dataset, the run, the example and the switches."
        )
    url.sync(DEFAULTS, RUN, K)
    run = next(r for r in runs if r.key == run_key)
    try:
        model = run_model(str(run.weights), run.weights.stat().st_mtime)
    except (CheckpointError, OSError) as e:
        st.error(f"The run {run.key} cannot be loaded: {e}")
        return
    example(model, split, run, choice, int(k))


def _random(n_rows: int) -> None:
    st.session_state[INDEX] = X.random_index(n_rows, int(st.session_state.get(INDEX) or 0))


@st.fragment
def example(model, split, run: X.RunChoice, choice: DatasetChoice, k: int) -> None:
    """The example's inputs and its view: a switch or a new index reruns only this."""
    ss = st.session_state
    n = len(split)
    if not isinstance(ss.get(INDEX), int) or not 0 <= ss[INDEX] < n:
        ss[INDEX] = 0
    pick, rand, about = st.columns([2, 1.4, 4], vertical_alignment="bottom")
    index = pick.number_input(f"Test example (0 to {n - 1:,})", 0, n - 1, step=1, key=INDEX)
    rand.button(
        "Random example",
        on_click=_random,
        args=(n,),
        icon=":material/casino:",
        help="Another test example, drawn from a generator seeded by this one: the link keeps the pick.",
    )
    url.sync(DEFAULTS, INDEX)
    _, available = X.example_inputs(split, index)
    off = ss.setdefault(OFF_STATE, set())
    before = ss.get(AVAILABLE)
    modalities = split.modalities
    with st.container(key="dx_switches", border=True):
        columns = st.columns(len(modalities))
        for j, (m, width) in enumerate(zip(modalities, split.dims, strict=True)):
            key = SWITCH.format(j)
            if not available[j]:
                ss[key] = False
            elif before is None or not before[j] or key not in ss:
                ss[key] = m not in off
            columns[j].toggle(
                m,
                key=key,
                disabled=not available[j],
                help=f"{m}: {width} wide"
                + (
                    ""
                    if available[j]
                    else "; missing in the data for this example, so it cannot be switched on"
                ),
            )
            if available[j]:
                (off.discard if ss[key] else off.add)(m)
    ss[AVAILABLE] = available
    missing = [m for m, has in zip(modalities, available, strict=True) if not has]
    about.caption(
        f"{n:,} test examples. "
        + (
            f"Missing in the data for this one: {', '.join(missing)}."
            if missing
            else "This one has every modality."
        )
    )
    url.put(OFF, X.off_query(off, modalities))
    on = {m: m not in off for m in modalities}
    name = choice.spec.name if choice.spec else ""
    view, markup = _drawn(model, split, run, index, on, k, name)
    html_block(markup, RESULTS_KEY)
    # then the views one switch away, sent ahead unseen (most of them drawn already when the switches go back
    # and forth)
    ahead = {
        key: _drawn(model, split, run, index, o, k, name)[1] for key, o in X.one_switch_away(view).items()
    }
    controls = [(SWITCH.format(j), None) for j in range(len(modalities)) if available[j]]
    instant_views(
        {"|".join("1" if v else "0" for v in key): html for key, html in ahead.items()},
        RESULTS_KEY,
        controls,
        "explore_dataset_next",
        None,
        None,
        url.query(),
    )
    st.download_button(
        "Download a Python snippet of this view",
        X.snippet(run.weights, choice.path, view, k),
        file_name=X.snippet_name(view),
        mime="text/x-python",
        on_click="ignore",
        icon=":material/code:",
        help="Loads the run's checkpoint with the library, reads the dataset, picks this example, switches the "
        "same modalities and prints the prediction, the gate, H(p) and λ(x) as shown here.",
    )


def _drawn(
    model, split, run: X.RunChoice, index: int, on: dict, k: int, name: str
) -> tuple[X.ExampleView, str]:
    """A view and its markup, kept for the session's last DRAWN_KEPT views (a switch flipped back finds its view)."""
    kept = st.session_state.setdefault(DRAWN, OrderedDict())
    key = (run.key, run.weights.stat().st_mtime_ns, index, tuple(sorted(on.items())), k)
    if key in kept:
        kept.move_to_end(key)
        return kept[key]
    view = X.explore_example(model, split, index, on, k, name, run.key)
    kept[key] = (view, results_markup(view))
    while len(kept) > DRAWN_KEPT:
        kept.popitem(last=False)
    return kept[key]


def results_markup(view: X.ExampleView) -> str:
    """The view as HTML (one html_block): the prediction, the metrics and the gate on the first screen; the
    classes beside the K passes; then the subsets by size beside CEC's rule along the chains."""
    if view.prediction is None:
        return f'<p data-testid="explore-warning" class="aecf-warning">{escape(view.warning or "")}</p>'
    if view.correct is None:
        mark = ""
    elif view.correct:
        mark = f' <span style="color:{palette.BLUISH_GREEN}">✓ right</span>'
    else:
        mark = f' <span style="color:{palette.VERMILLION}">✗ true: {escape(", ".join(view.truth) or "none")}</span>'
    metrics = [(m.label, m.value, m.help) for m in view.metrics]
    compare = [(m.label, m.value, m.help) for m in view.compare]
    compare.append(("Test example", f"#{view.index} of {view.n_rows:,}", None))
    # each modality in its own colour (a dataset's names take the figure palette's free colours)
    names = [text.split(":", 1)[0] for text, _ in view.gate]  # a gate row reads "<modality>: p = …"
    colors = palette.series_colors(names)
    gate = bars_html(view.gate, [colors[n] for n in names]) if view.gate else ""
    note = f'<p class="aecf-note">{escape(view.gate_note)}</p>' if view.gate_note else ""
    return (
        '<div class="aecf-row"><div class="aecf-main">'
        f'<h3 data-testid="explore-headline">{headline_html(view.headline)}{mark}</h3>'
        + metric_cards_html(metrics, 4)
        + metric_cards_html(compare, 3)
        + '</div><div class="aecf-side"><p class="aecf-head"><b>Gate weights p</b> (off or missing: exactly 0)</p>'
        + f"{gate}{note}</div></div>"
        + f'<div class="aecf-row"><div class="aecf-main"><p><b>{escape(view.top_title)}</b></p>'
        + bars_html(view.top, palette.BLUE)
        + f'</div><div class="aecf-side">{view.mc_svg}<p class="aecf-note">{escape(view.mc_caption)}</p>'
        + "</div></div>"
        + f'<div class="aecf-row"><div class="aecf-main">{view.subsets_svg}</div>'
        + f'<div class="aecf-side">{view.monotonicity_html}</div></div>'
    )
