"""Train: pick a dataset (the shipped digits, an example, or a zip uploaded here), a method and its knobs;
start a run, watch it live, take its checkpoint and evaluation away."""

import time

import streamlit as st

from aecf import paths
from aecf.app import datasets as D
from aecf.app import masking as A
from aecf.app import training as T
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/aecf/app/test_lessons.py
from aecf.app.problems import describe
from aecf.app.state import share_query
from aecf.app.training import RunBusyError, get_run_manager, list_runs, read_metrics, read_run
from aecf.errors import InputError
from aecf.figures.app import curves_figure, curves_svg
from pages.parts import cache, guide
from pages.parts.cache import checkpoint_choices
from pages.parts.dataset import QUERY_KEY, dataset_picker
from pages.parts.train_data import describe_dataset, upload_panel
from pages.parts.ui import ensure_navigation, html_block, show, teaching_box

ensure_navigation()
choice = dataset_picker()
guide.bar("train")  # a lesson's step, when the URL names one
st.title("Train a fusion layer")
if choice.is_digits:
    st.caption(
        "Runs train only the fusion layer on the shipped embedding cache (the encoders stay frozen), in a "
        "background process of this server. One run at a time; runs are kept under `runs/` and survive a page "
        "refresh."
    )
else:
    st.caption(
        f"Runs train only the fusion layer on the features of **{choice.title}**, in a background process of "
        "this server, and then evaluate themselves on its test split. One run at a time; runs are kept under "
        "`runs/` and survive a page refresh."
    )
teaching_box(
    ["loss", "entropy", "cec"],
    "Every step: (1) λ(x) from K MC-dropout passes (no gradient); (2) a mask from ACM (or uniform ModDrop); "
    "(3) one forward over the full input, the masked input and every modality subset; (4) the composite loss. "
    "Baselines switch terms off: late fusion has none of them, ModDrop only masks at a flat rate.",
    TRY_THIS["train"].text
    if choice.is_digits
    else "train `late_fusion` and `aecf` with the same seed on this dataset, then compare their *val accuracy, "
    "50 % drop* curves (the metric *Compare runs* offers): does fusion that learnt to miss modalities hold up "
    "better on your data?",
)

manager = get_run_manager()
# Read first, once: the form below is drawn from this state, and the page follows the server from its version
# (follow_server: a run that starts or ends anywhere redraws every open Train page).
server = manager.state()
st.session_state["_train_version"] = server.version
OWNER = "owner"  # the address parameter that keeps this page's key over a refresh


def page_key(create: bool = False) -> str | None:
    """This page's key (only the page that started a run may stop it): from the session, else from the address
    (a refresh), else a new one when `create`. Kept in both, so that a refresh keeps it."""
    key = st.session_state.get("_train_owner") or T.valid_owner_key(st.query_params.get(OWNER))
    if key is None and create:
        key = T.new_owner_key()
    if key is not None:
        st.session_state["_train_owner"] = key
        if st.query_params.get(OWNER) != key:
            st.query_params[OWNER] = key
    return key


viewer = page_key()


upload_panel()
data = None  # the chosen dataset (not the digits), read and checked
if choice.is_digits:
    FEATURE_DIR = paths.feature_dir()
    features_ready = (FEATURE_DIR / "train.npz").exists() and (FEATURE_DIR / "val.npz").exists()
    if not features_ready:
        st.warning(
            f"The embedding cache is missing (`{FEATURE_DIR.name}/train.npz`, `val.npz`). Build it with "
            "`python -m aecf data build && python -m aecf features`, then reload this page."
        )
else:
    try:
        data = cache.dataset(choice.key)
    except Exception as e:  # noqa: BLE001 - a dataset that cannot be read is a message
        show(describe(e, f"Reading {choice.title}"))
    else:
        describe_dataset(D.summary(data), choice)
    features_ready = data is not None

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
    if data is None:
        epochs = c2.slider("Epochs", 1, 20, 3, key="train_epochs")
    else:
        auto = T.auto_epochs(len(data.split("train")))
        epochs = c2.number_input(
            "Epochs",
            1,
            500,
            None,
            key="train_epochs_auto",
            placeholder=f"auto: {auto}",
            help=f"Empty: {auto}, about as many optimisation steps as the shipped digits runs take, for "
            f"{len(data.split('train')):,} training rows.",
        )
        epochs = epochs or auto
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
        + "; ".join(f"**{m}** uses {T.knobs_used(m)}" for m in ("aecf", "moddrop", "late_fusion"))
    )
    busy = T.busy_message(server, viewer, manager)
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
        data=choice.key,
    )
    try:
        run_id = manager.start(knobs.to_config(), owner=page_key(create=True))
        st.session_state["watch_select"] = run_id
        st.toast(f"Started {run_id}")
        st.rerun()  # redraw the form as every other session now sees it: busy, Start disabled
    except RunBusyError as e:
        st.warning(str(e))
    except InputError as e:
        st.error(f"Could not start the run: {e}")
    except Exception as e:  # noqa: BLE001
        st.error(f"Could not start the run: {e}")


@st.fragment(run_every=T.FOLLOW_BUSY_S if server.active else T.FOLLOW_IDLE_S)
def follow_server() -> None:
    """Draws nothing: redraws the whole page once a run has started or ended since the page was drawn."""
    if manager.state().version != st.session_state.get("_train_version"):
        st.rerun()


follow_server()


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
by_id = {r.id: r for r in runs}
# the chosen dataset's shipped checkpoints' own training records ("shipped: aecf", ...: the digits', an
# example's): something to watch and compare before the first run, and a yardstick after it
shipped = D.shipped_runs(choice).metrics
if not runs and choice.is_digits:
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
elif not choice.is_digits and not any(r.dataset_key == choice.key for r in runs):
    st.info(
        f"No runs on {choice.title} yet. Set the knobs above and press **Start training**: the run's curves "
        "show here as it trains, then its evaluation on the test split and its downloads."
    )
if (
    server.active is not None
    and server.active.id in ids
    and st.session_state.get("_train_seen") != server.active.id
):
    # a run has started (here or in another session), or this is a fresh page: watch it
    st.session_state["watch_select"] = st.session_state["_train_seen"] = server.active.id
elif runs and st.session_state.get("watch_select") not in ids:
    on_this = [r.id for r in runs if r.dataset_key == choice.key]
    st.session_state["watch_select"] = (on_this or ids)[0]  # else the newest run (on this dataset)


def steps_per_epoch(info: T.RunInfo) -> int | None:
    """The run's optimisation steps per epoch, from its training split's size (None when unknown): the ETA
    before its first epoch has ended."""
    try:
        data = cache.dataset(info.dataset_key)
    except Exception:  # noqa: BLE001 - no ETA until the first epoch ends, then its records give it
        return None
    batch = int(info.config.get("batch_size") or T.TrainConfig.batch_size)
    return -(-len(data.split("train")) // batch)


def evaluation_view(info: T.RunInfo) -> None:
    """A finished (or stopped) run with a model: its evaluation on the test split and what to take away."""
    found = D.read_evaluation(info.path) if info.has_evaluation else None
    entry = (found or {}).get("methods", {}).get(info.id)
    if entry:
        full, half = entry.get("full", {}), entry.get("drop", {}).get("0.5", {})
        # multi-label: the ranking (mAP), as the evaluation's own tables lead with it
        score, name = ("map", "mAP") if found.get("meta", {}).get("multilabel") else ("acc", "accuracy")
        cols = st.columns(3)
        cols[0].metric(f"Test {name}", T.number(full.get(score)))
        cols[1].metric(f"Test {name}, 50 % drop", T.number(half.get(score)))
        cols[2].metric("Test ECE", T.number(full.get("ece")))
        n_test = (found or {}).get("meta", {}).get("n_test")
        st.caption(
            f"Evaluated on the test split of {info.dataset_name}"
            + (f" ({n_test:,} rows)" if isinstance(n_test, int) else "")
            + ": every modality, and each one dropped with probability 0.5 (at least one kept). The whole "
            "evaluation (every drop rate, every subset, calibration) is in the JSON below."
        )
    elif info.evaluating:
        st.info("Evaluating on the test split…", icon=":material/hourglass_top:")
    elif info.evaluation_error:
        st.warning(f"The evaluation failed: {info.evaluation_error}")
    cols = st.columns(3)
    cols[0].download_button(
        "Checkpoint (.zip)",
        data=lambda: T.checkpoint_zip(info.path),
        file_name=f"{info.id}.zip",
        mime="application/zip",
        icon=":material/download:",
        key=f"ckpt_zip_{info.id}",
        help="model.safetensors + model.json: `aecf.checkpoint.load_checkpoint('model.safetensors')` builds "
        "the fusion layer from them (docs/data-format.md §3).",
    )
    if entry:
        cols[1].download_button(
            "Evaluation (.json)",
            data=(info.path / "evaluation.json").read_bytes(),
            file_name=f"{info.id}.evaluation.json",
            mime="application/json",
            icon=":material/download:",
            key=f"eval_json_{info.id}",
            help="The layout of `python -m aecf evaluate --data` (docs/data-format.md §2).",
        )
    elif not info.evaluating and cols[1].button(
        "Evaluate on the test split",
        key=f"evaluate_{info.id}",
        help="Writes the run's evaluation on its dataset's test split (a few seconds), to show and download.",
    ):
        try:
            with st.spinner("Evaluating on the test split…"):
                D.evaluate_run(info.path)
        except Exception as e:  # noqa: BLE001 - a message, never a traceback
            show(describe(e, "The evaluation"))
        else:
            st.rerun()
    if cols[2].button("Open this run in Explore", key=f"open_{info.id}"):
        checkpoint_choices.clear()
        query = share_query(checkpoint=f"run:{info.id}")
        if info.dataset_key != D.DIGITS:
            query[QUERY_KEY] = info.dataset_key
        st.switch_page("pages/explore.py", query_params=query)


def render_run(run_id: str) -> None:
    run_dir = manager.runs_dir / run_id
    if not (run_dir / "config.json").exists():
        st.warning(f"Run {run_id} is gone.")
        return
    info = read_run(run_dir, manager)
    rows = read_metrics(info.path)
    summary = T.run_summary(rows)
    done, total = summary["epochs done"], info.epochs
    stopping = manager.active_id == run_id and manager.stopping()
    top = st.columns([5, 1], vertical_alignment="bottom")  # the state gets a row: it may be a few words long
    top[0].metric("State", T.state_words(info, done, manager.owns(run_id, viewer), stopping))
    if info.live and manager.active_id == run_id and not stopping:
        if manager.may_stop(viewer):  # a callback: the redraw it causes already says "stopping"
            top[1].button(
                "Stop",
                key=f"stop_{run_id}",
                type="secondary",
                on_click=manager.stop_by,
                args=(viewer,),
                help="Stops after the current step; what it has learnt so far is validated and kept. Only this "
                "page can stop it (its address holds the key: a refresh keeps it).",
            )
        else:
            st.caption(
                f"Started by another session on this server at {T.clock(info.started)}: only that session "
                "can stop it."
            )
    cols = st.columns(2)
    cols[0].metric("Epochs done", f"{done} of {total or '?'}")
    cols[1].metric(T.metric_name("val_masked_acc"), T.number(summary["val_masked_acc"]))
    if info.error:
        st.error(f"The run failed: {info.error}")
    if total:
        progress = T.run_progress(rows, info, steps_per_epoch(info) if info.live else None, time.time())
        words = f" · {progress.words}" if info.live and progress.words else ""
        st.progress(
            min(1.0, progress.fraction if progress.fraction is not None else done / total),
            text=f"{info.method} · {len(rows)} records{words}",
        )
    if not rows:
        st.caption("Waiting for the first records…")
    curves_block(rows, "train_curves")
    if info.has_checkpoint:
        evaluation_view(info)


if runs:
    watched = st.selectbox(
        "Watch run",
        ids,
        key="watch_select",
        format_func=lambda i: i if by_id[i].dataset_key == D.DIGITS else f"{i} · {by_id[i].dataset_name}",
    )
    busy = by_id[watched].busy
    # every 2 s while it trains: a step record arrives about every 1.7 s (3 epochs in ~30 s), and each refresh
    # costs every watching browser a redraw (1 s: ~185 ms of browser work per second, 2 s: ~90 ms). The end of
    # the run is not this fragment's business: follow_server redraws the whole page then.
    st.fragment(run_every=2.0 if busy else None)(render_run)(watched)

    # --------------------------------------------------------------------------- all runs
    st.subheader("All runs")
    st.dataframe(T.runs_table(runs, viewer, manager), hide_index=True, key="runs_table")
elif choice.is_digits or shipped:
    st.subheader("Compare the shipped runs")

# the runs on this dataset first, then its shipped checkpoints' records as a yardstick; a run that
# appeared since this page last drew (one just started, here or elsewhere) joins the comparison: the newest
# runs and the shipped aecf
sources = T.compare_sources(runs, choice.key, shipped)
compared_ids = [i for i in sources if i in by_id]
known = st.session_state.get("_compare_known")
if (
    "compare_runs" not in st.session_state
    or (known is not None and set(compared_ids) - set(known))
    or st.session_state.get("_compare_data") != choice.key
):
    st.session_state["compare_runs"] = T.compare_default(compared_ids, list(shipped))
else:
    st.session_state["compare_runs"] = [k for k in st.session_state["compare_runs"] if k in sources]
st.session_state["_compare_known"] = compared_ids
st.session_state["_compare_data"] = choice.key
compare = (
    st.multiselect(
        "Compare runs",
        list(sources),
        key="compare_runs",
        help="Your runs, and the shipped checkpoints' own training (`python -m aecf train`)."
        if choice.is_digits
        else f"The runs trained on {choice.title}"
        + (", and the training records of the ones that ship with it." if shipped else "."),
    )
    if sources
    else []
)
if compare:
    metric = st.segmented_control(
        "Metric",
        T.COMPARE_METRICS,
        default="val_masked_acc",
        format_func=T.metric_name,
        key="compare_metric",
        required=True,
        help="ECE: expected calibration error (0: the confidence matches the accuracy). H(p): the entropy of "
        "the gate's weights over the modalities. 50 % drop: each modality dropped with probability 0.5 (at "
        "least one kept).",
    )
    series, dash = T.compare_series({k: A.read_metrics_file(sources[k]) for k in compare}, metric)
    if series:
        st.plotly_chart(
            curves_figure(series, f"{T.metric_name(metric)} per epoch", dash=dash, height=300),
            key="compare_chart",
            config={"displayModeBar": False},
        )
        if dash:
            st.caption(
                "A dashed curve is the same, point for point, as the one its legend names (the same recipe, "
                "seed and epochs train the same model): it would hide under it otherwise."
            )
    else:
        st.caption("No epoch records yet for these runs.")
