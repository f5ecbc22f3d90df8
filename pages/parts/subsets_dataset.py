"""Subsets & calibration for a dataset other than the digits: the runs trained on it, each evaluated on the
dataset's test split (runs/<id>/evaluation.json), and the runs that ship with it (an example's evaluation over
seeds, with the specialists as the limit), compared with the digits' charts, and their downloads."""

from __future__ import annotations

import streamlit as st

from aecf import figures
from aecf.app import datasets as D
from aecf.app import results as R
from aecf.app.state import TAB_KEY
from aecf.errors import InputError
from aecf.figures import report
from pages.parts import cache, subsets_views
from pages.parts.dataset import train_link
from pages.parts.downloads import downloads
from pages.parts.ui import teaching_box

EXPLANATION = (
    "A model is **calibrated** when it is right 80 % of the time on the inputs where it says 80 %. ECE measures "
    "the gap, in 15 confidence bins. With missing modalities most fusions become *over*-confident. CEC asks the "
    "confidence of every subset to be monotone on the subset lattice — adding a modality may not lower it. "
    "Here the runs on this dataset, yours and those that ship with it, are evaluated on its test split "
    "(temperatures fitted on its validation split)."
)
TRY_THIS = (
    "Train `aecf` and `late_fusion` on this dataset, then compare them at 70 % drop: which one keeps its "
    "accuracy, and which one stays calibrated? Then look for the weakest subset of each size."
)
TRY_SHIPPED = (  # a dataset that ships its runs: they are there to compare before anyone trains
    "Compare `shipped: aecf` with `shipped: late_fusion` at 70 % drop: which one keeps its accuracy, which one "
    "stays calibrated, and how close does each come to the specialists' limit? Then look for the weakest subset "
    "of each size."
)


@st.cache_resource(show_spinner=False, max_entries=16)
def figures_for(
    signature: tuple, modalities: tuple, multilabel: bool, has_severity: bool, _methods: dict
) -> dict:
    """The figures of the chosen runs, built once per server for the same runs and evaluations (`signature`:
    each run's id, label and evaluation file time); a figure is only read afterwards (st.plotly_chart)."""
    return report.results_figures(_methods, list(modalities), multilabel, has_severity)


def _signature(found: list[R.DatasetRun], labels: list[str]) -> tuple:
    by_label = {r.label: r for r in found}

    def written(run: R.DatasetRun) -> int:
        try:
            return run.evaluation_file.stat().st_mtime_ns
        except OSError:
            return 0

    return tuple((r.run_id, r.label, written(r)) for r in (by_label[x] for x in labels if x in by_label))


def show(choice: D.DatasetChoice) -> None:
    """The whole dataset view, under the page's title."""
    shipped = D.shipped_runs(choice).results is not None
    teaching_box(["calibration", "cec"], EXPLANATION, TRY_SHIPPED if shipped else TRY_THIS)
    try:
        data = cache.dataset(choice.key)
    except InputError as e:
        st.error(str(e))
        return
    spec = data.spec
    modalities = list(spec.names)
    multilabel = spec.task == "multilabel"
    has_severity = data.split("test").modality_severity is not None
    found = R.runs_and_shipped(choice, modalities)
    st.caption(
        f"Dataset **{spec.name}** · {len(modalities)} modalities ({', '.join(modalities)}) · "
        f"{len(spec.classes)} classes{' (multi-label)' if multilabel else ''} · test split: "
        f"{len(data.split('test')):,} rows."
    )
    if not found:
        st.info(
            f"No run has trained on **{spec.name}** yet. Train `aecf` and a baseline such as `late_fusion` on the "
            "Train page; each run is evaluated on this dataset's test split and shows here."
        )
        train_link(choice)
        return
    own = [r for r in found if r.shipped is None]
    if not own:  # only what ships with it: say where one's own runs come from
        train_link(choice, "Train your own runs on this dataset: they join the comparison")
    found = _evaluate_if_asked(found, choice, modalities)
    labels = [r.label for r in found if r.entry is not None]
    if not labels:
        st.info("None of the runs on this dataset is evaluated yet (see the list above).")
        return
    _keep_new_runs_in_view(found, labels, choice.key)
    chosen = st.multiselect(
        "Runs",
        labels,
        key="runs",
        help=f"The runs trained on this dataset, newest first, then the ones that ship with it; the newest "
        f"{R.MAX_DEFAULT_RUNS} of your own are compared until you pick (the shipped ones while you have none).",
    )
    words = R.shipped_caption([r for r in found if r.label in chosen], len(modalities))
    if words:
        st.caption(words)
    results = R.combine(found, chosen)
    if results is None:
        st.info("Pick at least one run.")
        return
    methods = results.methods
    figs = figures_for(_signature(found, chosen), tuple(modalities), multilabel, has_severity, methods)
    _results_view(results, figs, modalities, multilabel, has_severity)
    downloads(
        lambda: R.combined_json(results),
        lambda: figs,
        f"{spec.name}: runs compared",
        R.download_name(spec.name),
    )


def _keep_new_runs_in_view(found: list[R.DatasetRun], labels: list[str], key: str) -> None:
    """The runs compared: the newest evaluated ones at first; after that the person's pick, to which a run
    evaluated since (here or by another session) is added, so that a new run shows at once."""
    state = st.session_state
    if "runs" not in state or state.get("_runs_dataset") != key:
        state["runs"] = R.default_runs(found)
    else:
        seen = state.get("_runs_seen", labels)
        state["runs"] = [x for x in state["runs"] if x in labels] + [x for x in labels if x not in seen]
    state["_runs_seen"], state["_runs_dataset"] = labels, key


def _evaluate_if_asked(
    found: list[R.DatasetRun], choice: D.DatasetChoice, modalities: list[str]
) -> list[R.DatasetRun]:
    """The runs listed in words; an Evaluate button while some finished run has no evaluation (it runs
    aecf.app.datasets.evaluate_run for each and says how long each took)."""
    waiting = [r for r in found if r.can_evaluate]
    with st.expander(
        f"Runs on this dataset ({len(found)})",
        expanded=bool(waiting),
        icon=":material/list:",
        key="runs_list",
    ):
        st.table(R.readable(R.run_rows(found)), hide_index=True)
    if not waiting:
        return found
    names = ", ".join(r.label for r in waiting)
    if not st.button(
        f"Evaluate {len(waiting)} run{'s' if len(waiting) > 1 else ''} not evaluated yet",
        key="evaluate_runs",
        icon=":material/calculate:",
        help=f"{names}: on the test split (temperatures fitted on validation), a few seconds each for a small "
        "dataset.",
    ):
        st.caption(f"Not evaluated yet: {names}.")
        return found
    with st.spinner(f"Evaluating {names} on the test split…"):
        done = R.evaluate_runs(found, D.evaluate_run)
    for label, seconds, problem in done:
        if problem:
            st.error(f"{label}: could not be evaluated: {problem}")
        else:
            st.success(f"Evaluated {label} in {seconds:.1f} s.", icon=":material/check_circle:")
    return R.runs_and_shipped(choice, modalities)


def _results_view(
    results: R.Results, figs: dict, modalities: list[str], multilabel: bool, has_severity: bool
) -> None:
    methods, meta = results.methods, results.meta
    head = "map" if multilabel else "acc"
    if multilabel:
        st.info(
            "Multi-label dataset: mAP is the headline metric and is shown where the digits show accuracy; acc "
            "and ECE are per (example, class) decision at 0.5."
        )
    st.caption(
        f"Test split: {meta.get('n_test', '?')} examples · ECE with {meta.get('ece_bins', 15)} bins · drop: each "
        f"present modality hidden with probability r (≥ 1 kept), mean over {meta.get('mask_seeds', '?')} draws."
    )
    st.subheader("Summary")
    st.table(R.readable(R.dataset_summary_rows(methods, has_severity)), hide_index=True)
    tab_drop, tab_subsets, tab_rel, tab_mono, tab_mech = st.tabs(
        ["vs drop rate", "per subset", "reliability diagrams", "monotonicity", "mechanisms"],
        key=TAB_KEY,
        bind="query-params",
    )
    with tab_drop:
        ts = st.toggle(
            "temperature-scaled ECE (temperature fitted on validation, all inputs)", False, key="ece_ts"
        )
        charts = [
            ("acc_vs_drop", figs["map_vs_drop" if multilabel else "accuracy_vs_drop"]),
            ("ece_vs_drop", figs["ece_ts_vs_drop" if ts else "ece_vs_drop"]),
        ]
        if not multilabel and R.has_map(methods):
            charts.append(("map_vs_drop", figures.map_vs_drop(methods)))
        subsets_views.charts_two_a_row(charts)
        subsets_views.drop_table(methods)
    with tab_subsets:
        _subsets_tab(methods, figs, modalities, head)
    with tab_rel:
        condition = subsets_views.reliability_condition()
        st.plotly_chart(figs.get(f"reliability_{condition}", figs["reliability_full"]), key="reliability")
        st.caption("Bars below the dotted diagonal: over-confident bins; above: under-confident.")
    with tab_mono:
        st.markdown(
            "How often confidence **falls** when modalities are added (A ⊂ B with c(A) > c(B) + 0.01), over every "
            "pair of subsets present in an example, and over the *supported* pairs: those whose added modalities "
            "alone give the true label at least chance probability — where more information is right and "
            "confidence has no reason to fall (the pairs CEC trains on)."
        )
        rows = R.dataset_monotonicity_rows(methods)
        if rows:
            st.table(R.readable(rows), hide_index=True)
        else:
            st.info("These evaluations carry no monotonicity numbers.")
    with tab_mech:
        _mechanisms_tab(methods, figs, modalities, has_severity)


def _subsets_tab(methods: dict, figs: dict, modalities: list[str], head: str) -> None:
    word = R.METRIC_WORDS[head]
    if len(modalities) <= report.ALL_IN_ONE_TICK:
        c1, c2 = st.columns(2)
        c1.plotly_chart(figs[f"subset_{head}"], key="subset_acc")
        c2.plotly_chart(figs["subset_ece"], key="subset_ece")
        st.table(R.readable(R.subset_rows(methods)), hide_index=True, height=420)
        return
    n = len(modalities)
    st.markdown(
        f"{n} modalities make {2**n - 1} subsets. Per subset size: the mean {word} over the subsets of that size, "
        "and a bar from the worst subset to the best — the table names them. Beside it, each modality alone "
        f"and all {n} together."
    )
    c1, c2 = st.columns(2)
    c1.plotly_chart(figs[f"subsets_by_size_{head}"], key="subset_sizes")
    c2.plotly_chart(figs[f"single_modalities_{head}"], key="subset_acc")
    st.table(R.readable(R.subset_size_rows(methods, head)), hide_index=True, height=420)
    with st.expander("The subsets evaluated one by one: each modality alone, all, and each size's worst"):
        st.plotly_chart(figs["single_modalities_ece"], key="subset_ece")
        st.table(R.readable(R.subset_rows(methods)), hide_index=True)


def _mechanisms_tab(methods: dict, figs: dict, modalities: list[str], has_severity: bool) -> None:
    st.markdown(
        "Is each mechanism at work on the test split? The gate's entropy H(p), λ(x)'s spread, the share of "
        "examples where ACM drops the most-trusted modality ≥ 2× as often as the least-trusted one, and the gate's "
        "mean weight on each modality where it is present."
    )
    rows = R.dataset_mechanism_rows(methods, has_severity)
    if not rows:
        st.info("None of the chosen runs has a gate: pick an `aecf` run or one of its ablations.")
        return
    st.table(R.readable(rows), hide_index=True)
    if "gate_mean" in figs:
        st.plotly_chart(figs["gate_mean"], key="gate_mean")
    if has_severity:
        if "gate_follows_reliability" in figs:
            st.plotly_chart(figs["gate_follows_reliability"], key="gate_reliability")
        st.caption(
            "This dataset records how degraded each input is (`severity`): ρ(λ, severity) and ρ(p_m, 1 − "
            "severity_m) say whether λ(x) rises and the gate looks away as inputs degrade."
        )
    else:
        st.caption(
            "This dataset records no `severity`, so the severity-based measures — ρ(λ, severity) and whether the "
            "gate follows each modality's reliability — cannot be measured here. A `severity` array [N, M] in "
            "the split files adds them (docs/data-format.md)."
        )
