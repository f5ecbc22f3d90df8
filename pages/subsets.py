"""Subsets & calibration: accuracy and ECE per modality subset and under random drop, from results.json."""

import streamlit as st

from aecf import figures, paths
from aecf.app import results as R
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/aecf/app/test_lessons.py
from aecf.app.state import TAB_KEY
from pages.parts import guide, subsets_dataset, subsets_views
from pages.parts.dataset import dataset_picker
from pages.parts.downloads import downloads
from pages.parts.ui import ensure_navigation, teaching_box

ensure_navigation()
guide.bar("subsets")  # a lesson's step, when the URL names one
st.title("Subsets & calibration")
choice = dataset_picker()  # ?data=<key>; absent: the digits below
if not choice.is_digits:
    subsets_dataset.show(choice)  # the runs trained on that dataset
    st.stop()
teaching_box(
    ["calibration", "cec"],
    "A model is **calibrated** when it is right 80 % of the time on the inputs where it says 80 %. ECE measures "
    "the gap, in 15 confidence bins. With missing modalities most fusions become *over*-confident. CEC asks the "
    "confidence of every subset to be monotone on the subset lattice — adding a modality may not lower it.",
    TRY_THIS["subsets"].text,
)

files = R.results_files()
with st.sidebar:
    picked = st.selectbox(
        "Results file",
        files,
        key="results_file",
        format_func=paths.show,
        help="results/*.json under the project and <features>/results/*.json (e.g. a COCO "
        "evaluation); `python -m aecf evaluate --json results/NAME.json` adds one.",
    )
try:
    results = R.load_results(picked)
except R.ResultsUnavailable as e:
    st.warning(str(e))
    st.code(R.EVALUATE_COMMAND, language="bash")
    st.stop()

names = list(results.methods)
default = [n for n in ("aecf", "late_fusion", "moddrop", "specialists") if n in names] or names[:3]
chosen = st.multiselect("Methods", names, default=default, key="methods")
if not chosen:
    st.info("Pick at least one method.")
    st.stop()
methods = R.choose(results.methods, chosen)
meta = results.meta
multilabel = R.is_multilabel(results)
if multilabel:
    st.info(
        "Multi-label results (e.g. COCO): mAP is the headline metric and is shown where digits show accuracy; "
        "acc and ECE are per (example, class) decision at 0.5."
    )
st.caption(
    f"Test split: {meta.get('n_test', '?')} examples · ECE with {meta.get('ece_bins', 15)} bins · drop: each "
    f"modality hidden with probability r (≥ 1 kept), mean over {meta.get('mask_seeds', '?')} draws · from `{results.path.name}`."
)

st.subheader("Summary")
# every table is static (st.table): headers wrap instead of being cut, a missing value reads "–"
st.table(R.readable(R.summary_rows(methods)), hide_index=True)

tab_drop, tab_subsets, tab_rel, tab_mono, tab_mech = st.tabs(
    ["vs drop rate", "per subset", "reliability diagrams", "monotonicity", "mechanisms"],
    key=TAB_KEY,
    bind="query-params",  # ?tab=monotonicity opens that tab (a lesson's step links to it)
)
with tab_drop:
    ts = st.toggle(
        "temperature-scaled ECE (temperature fitted on validation, all inputs)", False, key="ece_ts"
    )
    charts = [
        ("acc_vs_drop", figures.map_vs_drop(methods) if multilabel else figures.accuracy_vs_drop(methods)),
        ("ece_vs_drop", figures.ece_vs_drop(methods, calibrated=ts)),
    ]
    if not multilabel and R.has_map(methods):
        charts.append(("map_vs_drop", figures.map_vs_drop(methods)))
    subsets_views.charts_two_a_row(charts)
    subsets_views.drop_table(methods)
with tab_subsets:
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        figures.subset_metric_figure(methods, "map", "mAP per modality subset")
        if multilabel
        else figures.subset_bars(methods),
        key="subset_acc",
    )
    c2.plotly_chart(figures.subset_metric_figure(methods, "ece"), key="subset_ece")
    st.table(R.readable(R.subset_rows(methods)), hide_index=True, height=420)
with tab_rel:
    condition = subsets_views.reliability_condition()
    st.plotly_chart(figures.reliability_diagrams(methods, condition), key="reliability")
    st.caption("Bars below the dotted diagonal: over-confident bins; above: under-confident.")
with tab_mono:
    st.markdown(
        "How often confidence **falls** when a modality is added (A ⊂ B with c(A) > c(B) + 0.01). Where the "
        "caption is wrong, falling is the right answer: the last column counts how often adding a wrong "
        "caption lowers the confidence."
    )
    st.table(R.readable(R.monotonicity_rows(methods)), hide_index=True)
with tab_mech:
    st.markdown(
        "Is each mechanism at work on the test split? λ(x)'s spread and its correlation with corruption "
        "severity, the gate's correlation with each modality's reliability, its mean caption weight per "
        "caption level, and the share of examples where ACM drops the most-trusted modality ≥ 2× as often "
        "as the least-trusted one."
    )
    rows = R.mechanism_rows(methods)
    if rows:
        st.table(R.readable(rows), hide_index=True)
    else:
        st.info("None of the chosen methods has a gate: pick `aecf` or one of its ablations.")

downloads(
    lambda: {"methods": methods, "meta": meta},
    lambda: figures.report_figures(methods),
    "Subsets & calibration: " + ", ".join(methods),
    R.download_name(results.path.stem),
)
