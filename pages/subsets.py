"""Subsets & calibration: accuracy and ECE per modality subset and under random drop, from results.json."""

import streamlit as st

from aecf import figures, paths
from aecf.app import results as R
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/test_lessons.py
from pages.parts.ui import ensure_navigation, teaching_box

ensure_navigation()
st.title("Subsets & calibration")
teaching_box(
    ["calibration", "cec"],
    "A model is **calibrated** when it is right 80 % of the time on the inputs where it says 80 %. ECE measures "
    "the gap, in 15 confidence bins. With missing modalities most fusions become *over*-confident. CEC asks the "
    "confidence of every subset to be monotone on the subset lattice — adding a modality may not lower it.",
    TRY_THIS["subsets"].text,
)

files = R.results_files()
with st.sidebar:
    picked = st.selectbox("Results file", files, key="results_file", format_func=paths.show,
                          help="results/*.json under the project and <features>/results/*.json (e.g. a COCO "
                               "evaluation); `python -m aecf evaluate --json results/NAME.json` adds one.")
try:
    results = R.load_results(picked)
except R.ResultsUnavailable as e:
    st.warning(str(e))
    st.code(R.EVALUATE_COMMAND, language="bash")
    st.stop()

names = list(results.methods)
default = [n for n in ("aecf", "late_fusion", "moddrop") if n in names] or names[:3]
chosen = st.multiselect("Methods", names, default=default, key="methods")
if not chosen:
    st.info("Pick at least one method.")
    st.stop()
methods = R.choose(results.methods, chosen)
meta = results.meta
multilabel = R.has_map(results.methods)
if multilabel:
    st.info("Multi-label results (e.g. COCO): mAP is the headline metric and is shown where digits show accuracy; "
            "acc and ECE are per (example, class) decision at 0.5.")
st.caption(
    f"Test split: {meta.get('n_test', '?')} examples · ECE with {meta.get('ece_bins', 15)} bins · drop: each "
    f"modality hidden with probability r (≥ 1 kept), mean over {meta.get('mask_seeds', '?')} draws · from `{results.path.name}`."
)

st.subheader("Summary")
st.dataframe(R.summary_rows(methods), hide_index=True, key="summary_table",
             column_config={k: st.column_config.NumberColumn(format="%.3f") for k in
                            ("mAP (all)", "mAP @ 50 % drop", "worst subset mAP", "acc (all)", "ECE (all)", "acc @ 50 % drop", "ECE @ 50 % drop", "worst subset acc",
                             "monotonicity violations", "H(p)", "ρ(λ, severity)")})

tab_drop, tab_subsets, tab_rel = st.tabs(["vs drop rate", "per subset", "reliability diagrams"])
with tab_drop:
    ts = st.toggle("temperature-scaled ECE", False, key="ece_ts")
    c1, c2 = st.columns(2)
    c1.plotly_chart(figures.map_vs_drop(methods) if multilabel else figures.accuracy_vs_drop(methods),
                    key="acc_vs_drop")
    c2.plotly_chart(figures.ece_vs_drop(methods, calibrated=ts), key="ece_vs_drop")
with tab_subsets:
    c1, c2 = st.columns(2)
    c1.plotly_chart(figures.subset_metric_figure(methods, "map", "mAP with each modality subset") if multilabel
                    else figures.subset_bars(methods), key="subset_acc")
    c2.plotly_chart(figures.subset_metric_figure(methods, "ece"), key="subset_ece")
    st.dataframe(R.subset_rows(methods), hide_index=True, key="subset_table")
with tab_rel:
    condition = st.segmented_control("Inputs", ["full", "drop_0.5"], default="full", key="rel_condition", required=True,
                                     format_func=lambda c: "all modalities" if c == "full" else "random drop 0.5")
    st.plotly_chart(figures.reliability_diagrams(methods, condition), key="reliability")
    st.caption("Bars below the dotted diagonal: over-confident bins; above: under-confident.")
