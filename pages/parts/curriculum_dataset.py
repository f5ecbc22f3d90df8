"""Curriculum masking for a dataset other than the digits: for a run trained on it (or one that ships with it),
ACM's schedule as it was trained (mask rates per modality, π_t, H(p), λ(x)), its masks on the dataset's test
split, and the simulator with one slider per modality (2 to 8)."""

from __future__ import annotations

import streamlit as st

from aecf.app import datasets as D
from aecf.app import masking as A
from aecf.app import results as R
from aecf.app.state import TAB_KEY
from aecf.errors import InputError
from aecf.figures.app import curves_figure, drop_ratio_figure
from aecf.train import make_config
from pages.parts import acm_views, cache
from pages.parts.dataset import train_link
from pages.parts.ui import teaching_box

EXPLANATION = (
    "ModDrop hides each modality with the same probability, whatever the input. ACM reads the gate: each present "
    "modality is hidden with a probability proportional to the gate's trust in it (p_m^γ), so the modality the gate "
    "leans on is hidden most often and the model must learn to do without it. Averaged over modalities the rate is "
    "still π_t, which ramps up during the first part of training (the curriculum); an even gate gets plain ModDrop. "
    "Every modality is never hidden at once."
)
TRY_THIS = (
    "Pick an `aecf` run and open *During training*: which modality's mask rate rises above π_t? Then, in the "
    "*Simulator*, give that modality most of the gate and watch ACM hide it more often than ModDrop would."
)
RUN_QUERY = "run"  # ?run=<run id> opens that run (an id this dataset has no run of is ignored)


@st.cache_data(show_spinner="Reading the gate on the test split…", max_entries=32)
def test_split_ratios(key: str, run_id: str, weights: str) -> A.DropRatios | None:
    """ACM's drop ratios of a run on its dataset's test split; a run's model does not change once saved."""
    return A.drop_ratios(weights, data=cache.dataset(key).split("test"))


def show(choice: D.DatasetChoice) -> None:
    """The whole dataset view, under the page's title."""
    teaching_box(["masking", "entropy"], EXPLANATION, TRY_THIS)
    try:
        data = cache.dataset(choice.key)
    except InputError as e:
        st.error(str(e))
        return
    modalities = list(data.spec.names)
    st.caption(f"Dataset **{data.spec.name}** · {len(modalities)} modalities ({', '.join(modalities)}).")
    found = [r for r in R.runs_and_shipped(choice, modalities) if r.metrics is not None]  # runs that trained
    run = _pick_run(found)
    if run is None:
        st.info(
            f"No run has trained on **{data.spec.name}** yet: the schedule comes from a run's training. Train an "
            "`aecf` run on the Train page; the simulator below uses the shipped AECF recipe's rule meanwhile."
        )
        train_link(choice)
    tab_test, tab_run, tab_sim = st.tabs(
        ["On the test split", "During training", "Simulator"], key=TAB_KEY, bind="query-params"
    )
    schedule = A.run_schedule(run.metrics, modalities) if run is not None else None
    with tab_test:
        _test_split(choice.key, run)
    with tab_run:
        _during_training(run, schedule)
    with tab_sim:
        rule = schedule.rule if schedule is not None else A.acm_rule(make_config("aecf").to_dict())
        source = f"the ACM rule `{run.label}` was trained with" if run else "the AECF recipe's ACM rule"
        _simulator(modalities, rule, source)


def _pick_run(found: list[R.DatasetRun]) -> R.DatasetRun | None:
    """The run selectbox (an aecf run first); ?run=<id> chooses it, and choosing writes it back."""
    if not found:
        return None
    order = sorted(found, key=lambda r: r.method != "aecf")  # stable: newest aecf first, then the rest
    by_label = {r.label: r for r in order}
    asked = next((r.label for r in order if r.run_id == st.query_params.get(RUN_QUERY)), None)
    if asked and st.session_state.get("_run_asked") != asked:
        st.session_state["dataset_run"] = asked  # a new link sets the picker; after that the picker sets it
        st.session_state["_run_asked"] = asked
    if st.session_state.get("dataset_run") not in by_label:
        st.session_state["dataset_run"] = order[0].label
    label = st.selectbox(
        "Run",
        list(by_label),
        key="dataset_run",
        help="The runs trained on this dataset, then the ones that ship with it. Pick an aecf run: only ACM "
        "adapts its masks to the gate.",
    )
    run = by_label[label]
    if run.shipped is not None:
        seed = f" (seed {run.seed})" if run.seed is not None else ""
        st.caption(
            f"`{label}`: the `{run.method}` run that ships with this dataset{seed}, its training records as they "
            "were written. Train your own on the Train page: it joins this list."
        )
    if st.query_params.get(RUN_QUERY) != run.run_id:
        st.query_params[RUN_QUERY] = run.run_id
        st.session_state["_run_asked"] = label
    return run


def _test_split(key: str, run: R.DatasetRun | None) -> None:
    st.markdown(
        "For every test example (every modality the data has), how much more often would ACM hide the modality "
        "the trained gate trusts most than the one it trusts least, at the end of the curriculum (π = π_max)? "
        "ModDrop's answer is 1× for every example."
    )
    if run is None or not run.has_model:
        st.info("Pick a run that has saved its model (a finished or stopped run).")
        return
    try:
        d = test_split_ratios(key, run.run_id, str(run.weights))
    except Exception as e:  # noqa: BLE001 - a model that does not fit the data is a message, not a traceback
        st.error(f"Could not read {run.label}'s gate on the test split: {e}")
        return
    if d is None:
        st.info(f"{run.label} has no gate or did not mask: pick an `aecf` run.")
        return
    acm_views.ratio_metric(st, run.label, d)
    st.plotly_chart(
        drop_ratio_figure(
            {run.label: d.ratios}, A.RATIO_CAP, "ACM's drop-probability ratio across the test split"
        ),
        key="ratio_hist",
    )


def _during_training(run: R.DatasetRun | None, schedule: A.RunSchedule | None) -> None:
    if run is None or schedule is None:
        st.info("No run on this dataset yet.")
        return
    if not schedule.has_masks:
        st.info(
            f"{run.label} did not mask anything (a method without masking). Pick an `aecf` or `moddrop` run."
        )
    c1, c2 = st.columns(2)
    if schedule.mask_series:
        c1.plotly_chart(
            curves_figure(
                schedule.mask_series,
                "Per-modality mask rate and π_t",
                y_title="share hidden",
                y_range=(0, 1),
                dash=A.MASK_DASH,
            ),
            key="mask_rates",
        )
    if schedule.entropy_series:
        c2.plotly_chart(
            curves_figure(schedule.entropy_series, "Mean gate entropy H(p) and λ(x)"), key="entropy_curve"
        )
    xs, acm, flat = schedule.schedule
    pi_max = schedule.rule.pi_max
    c3, c4 = st.columns(2)
    acm_views.schedule_chart(c3, xs, acm, flat, pi_max)
    if schedule.has_masks:
        overall, uneven = schedule.uneven["overall"], schedule.uneven["uneven"]
        c4.plotly_chart(
            curves_figure(
                {"share hidden": overall, "max − min across modalities": uneven},
                "How unevenly the masks pick modalities",
                y_title="share hidden",
                y_range=(0, 1),
                dash={"max − min across modalities": "dot"},
            ),
            key="uneven",
        )
    st.caption(
        "ACM's per-modality rates split π_t unevenly by the gate; ModDrop's are all equal to π (its max − min "
        "stays near 0). x: epochs."
    )


def _simulator(modalities: list[str], rule: A.AcmRule, source: str) -> None:
    st.markdown(
        f"Set one example's gate, and draw 4,000 masks with **aecf.masking**'s sampler, using {source}."
    )
    c1, c2 = st.columns([1, 2])
    with c1:
        present = st.pills(
            "Present modalities",
            modalities,
            selection_mode="multi",
            default=modalities,
            key="simd_present",
        )
        present = tuple(m for m in modalities if m in (present or ()))
        if not present:
            st.error("Every modality is off: there is nothing to mask. Switch one on.")
            return
        gate = acm_views.gate_controls(
            present, modalities, present[0], "simd", lambda m: str(modalities.index(m))
        )
        rate = st.slider("overall rate π_t", 0.0, 0.9, float(min(0.9, rule.pi_max)), 0.05, key="sim_rate")
    with c2:
        acm_views.simulator_results(gate, present, rate, rule, modalities)
