"""Train: pick a method and its knobs, start a short run on the shipped embeddings, watch it live."""

import time

import streamlit as st

from aecf import paths
from aecf.app import masking as A
from aecf.app import training as T
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/aecf/app/test_lessons.py
from aecf.app.state import share_query
from aecf.app.training import RunBusyError, get_run_manager, list_runs, read_metrics
from aecf.figures.app import curves_figure, curves_svg
from pages.parts import guide
from pages.parts.cache import checkpoint_choices
from pages.parts.ui import ensure_navigation, html_block, teaching_box

ensure_navigation()
guide.bar("train")  # a lesson's step, when the URL names one
st.title("Train a fusion layer")
st.caption(
    "Runs train only the fusion layer on the shipped embedding cache (the encoders stay frozen), in a "
    "background process of this server. One run at a time; runs are kept under `runs/` and survive a page refresh."
)
teaching_box(
    ["loss", "entropy", "cec"],
    "Every step: (1) λ(x) from K MC-dropout passes (no gradient); (2) a mask from ACM (or uniform ModDrop); "
    "(3) one forward over the full input, the masked input and every modality subset; (4) the composite loss. "
    "Baselines switch terms off: late fusion has none of them, ModDrop only masks at a flat rate.",
    TRY_THIS["train"].text,
)

manager = get_run_manager()
FEATURE_DIR = paths.feature_dir()
features_ready = (FEATURE_DIR / "train.npz").exists() and (FEATURE_DIR / "val.npz").exists()
if not features_ready:
    st.warning(
        f"The embedding cache is missing (`{FEATURE_DIR.name}/train.npz`, `val.npz`). Build it with "
        "`python -m aecf data build && python -m aecf features`, then reload this page."
    )

# ------------------------------------------------------------------------------- the knobs
defaults = T.TrainKnobs()  # the shipped AECF recipe's knobs
with st.form("train_form", border=True):
    st.subheader("New run")
    c1, c2, c3, c4 = st.columns(4)
    method = c1.selectbox(
        "Method",
        T.PAGE_METHODS,
        key="train_method",
        help="aecf = all three mechanisms; the others are baselines and ablations.",
    )
    epochs = c2.slider("Epochs", 1, 20, 3, key="train_epochs")
    seed = c3.number_input("Seed", 0, 10_000, 0, step=1, key="train_seed")
    pi_max = c4.slider(
        "π_max (mask rate)", 0.0, 0.9, defaults.pi_max, 0.05, key="train_pi_max", help=T.KNOB_HELP["pi_max"]
    )
    c5, c6, c7, c8 = st.columns(4)
    lambda_max = c5.slider(
        "λ_max", 0.0, 0.5, defaults.lambda_max, 0.01, key="train_lambda_max", help=T.KNOB_HELP["lambda_max"]
    )
    mc_samples = c6.slider(
        "K (MC passes)", 2, 20, defaults.mc_samples, key="train_k", help=T.KNOB_HELP["mc_samples"]
    )
    cec_weight = c7.slider(
        "CEC weight β", 0.0, 30.0, defaults.cec_weight, 0.5, key="train_cec", help=T.KNOB_HELP["cec_weight"]
    )
    acm = c8.toggle("ACM on", True, key="train_acm", help=T.KNOB_HELP["acm"])
    st.caption(
        "Knobs a method does not use are ignored for it: "
        + "; ".join(
            f"**{m}** uses {', '.join(sorted(T.applicable_knobs(m) - {'epochs', 'seed'})) or 'none'}"
            for m in ("aecf", "moddrop", "late_fusion")
        )
    )
    busy = T.busy_message(manager)
    if busy:
        st.info(busy, icon=":material/hourglass_top:")
    submitted = st.form_submit_button(
        "Start training", type="primary", disabled=not features_ready or bool(busy)
    )

if submitted:
    knobs = T.TrainKnobs(
        method=method,
        epochs=int(epochs),
        seed=int(seed),
        lambda_max=float(lambda_max),
        mc_samples=int(mc_samples),
        cec_weight=float(cec_weight),
        acm=bool(acm),
        pi_max=float(pi_max),
    )
    try:
        run_id = manager.start(knobs.to_config())
        st.session_state["watch_select"] = run_id
        st.toast(f"Started {run_id}")
        st.rerun()  # redraw the form as every other session now sees it: busy, Start disabled
    except RunBusyError as e:
        st.warning(str(e))
    except Exception as e:  # noqa: BLE001
        st.error(f"Could not start the run: {e}")


# ------------------------------------------------------------------------------- live view
def curves_block(rows: list[dict], key: str) -> None:
    """A run's curves as one block of inline SVGs, updated in place every 2 s while a run is live (five plotly
    charts redrawn every second kept a browser core busy, in every session watching the run)."""
    curves = [
        curves_svg(
            series, group, x_title="epoch", y_range=(0, 1) if group in ("Accuracy", "Mask rates") else None
        )
        for group in T.CURVE_GROUPS
        if (series := T.curve_series(rows, group))
    ]
    if curves:
        html_block(
            '<div style="display:grid;grid-template-columns:repeat(2,minmax(0,1fr));gap:1rem 1.5rem">'
            + "".join(f"<div>{c}</div>" for c in curves)
            + "</div>",
            key,
        )


runs = list_runs(manager=manager)
ids = [r.id for r in runs]
# the shipped checkpoints' own training records ("shipped: aecf", ...): something to watch and compare before
# the first run, and a yardstick after it
shipped = {f"shipped: {name}": path for name, path in A.shipped_metrics(paths.fusion_dir()).items()}
if not runs:
    st.info(
        "No runs yet. Set the knobs above and press **Start training**. Until then, below: how the shipped "
        "checkpoints trained."
    )
    if "shipped: aecf" in shipped:
        rows = A.read_metrics_file(shipped["shipped: aecf"])
        st.subheader("What a run shows: the shipped aecf")
        st.caption(
            f"The training records of the shipped `aecf` checkpoint: {T.run_summary(rows)['epochs done']} "
            "epochs of the shipped recipe (`python -m aecf train --method aecf`) on the same embedding cache "
            "a run here trains on. A run of this page draws the same panels, live, for the epochs you give it."
        )
        curves_block(rows, "shipped_curves")
if runs and st.session_state.get("watch_select") not in ids:
    # a fresh session (or a refresh) watches the run in progress, else the newest one
    st.session_state["watch_select"] = (
        manager.active_id if manager.is_running() and manager.active_id in ids else ids[0]
    )


def render_run(run_id: str) -> None:
    info = next((r for r in list_runs(manager=manager) if r.id == run_id), None)
    if info is None:
        st.warning(f"Run {run_id} is gone.")
        return
    rows = read_metrics(info.path)
    total = int(info.config.get("epochs", 0) or 0)
    summary = T.run_summary(rows)
    cols = st.columns([2, 2, 2, 1])
    cols[0].metric("State", info.state)
    cols[1].metric("Epochs done", f"{summary['epochs done']} / {total or '?'}")
    cols[2].metric(
        "val acc (50 % drop)",
        "–" if summary["val acc (50 % drop)"] is None else f"{summary['val acc (50 % drop)']:.3f}",
    )
    if info.live and manager.active_id == run_id:
        if cols[3].button("Stop", key=f"stop_{run_id}", type="secondary"):
            manager.stop()
            st.toast("Stopping after the current step…")
    if info.error:
        st.error(f"The run failed: {info.error}")
    if total:
        st.progress(min(1.0, summary["epochs done"] / total), text=f"{info.method} · {len(rows)} records")
    if not rows:
        st.caption("Waiting for the first records…")
    curves_block(rows, "train_curves")
    if info.state in ("finished", "stopped") and info.has_model:
        if st.button("Open this run in Explore", key=f"open_{run_id}"):
            checkpoint_choices.clear()
            st.switch_page("pages/explore.py", query_params=share_query(checkpoint=f"run:{run_id}"))
    # the run just ended: one full rerun refreshes the runs table and stops the polling
    was = st.session_state.get("_last_state", {}).get(run_id)
    st.session_state.setdefault("_last_state", {})[run_id] = info.state
    if was == "running" and info.state != "running":
        time.sleep(0.1)
        st.rerun()


if runs:
    watched = st.selectbox("Watch run", ids, key="watch_select")
    live = next(r for r in runs if r.id == watched).live
    # every 2 s while it trains: a step record arrives about every 1.7 s (3 epochs in ~30 s), and each refresh
    # costs every watching browser a redraw (1 s: ~185 ms of browser work per second, 2 s: ~90 ms)
    st.fragment(run_every=2.0 if live else None)(render_run)(watched)

    # --------------------------------------------------------------------------- all runs
    st.subheader("All runs")
    table = []
    for r in runs:
        row = {"run": r.id, "method": r.method, "state": r.state, **T.run_summary(read_metrics(r.path))}
        row.update({k: r.config.get(k) for k in ("seed", "epochs")})
        table.append(row)
    st.dataframe(table, hide_index=True, key="runs_table")
else:
    st.subheader("Compare the shipped runs")

# your runs first, then the shipped checkpoints' records as a yardstick
sources = {r.id: r.path / "metrics.jsonl" for r in runs} | shipped
default = ids[:2] if ids else [k for k in ("shipped: aecf", "shipped: late_fusion") if k in shipped]
compare = st.multiselect(
    "Compare runs",
    list(sources),
    default=default,
    key="compare_runs",
    help="Your runs, and the shipped checkpoints' own training (`python -m aecf train`).",
)
if compare:
    metric = st.segmented_control(
        "Metric",
        ["val_acc", "val_masked_acc", "val_ece", "val_gate_entropy"],
        default="val_masked_acc",
        key="compare_metric",
        required=True,
    )
    series = {}
    for run_id in compare:
        rows = [r for r in A.read_metrics_file(sources[run_id]) if r.get("kind") == "epoch"]
        xs = [int(r["epoch"]) + 1 for r in rows if r.get(metric) is not None]
        ys = [r[metric] for r in rows if r.get(metric) is not None]
        if xs:
            series[run_id] = (xs, ys)
    if series:
        st.plotly_chart(
            curves_figure(series, f"{metric} per epoch", height=300),
            key="compare_chart",
            config={"displayModeBar": False},
        )
    else:
        st.caption("No epoch records yet for these runs.")
