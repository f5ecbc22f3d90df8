"""Explore one example: give it an image, a caption and a spoken digit; switch and corrupt them; watch AECF."""

import streamlit as st
from PIL import Image
from streamlit_drawable_canvas import st_canvas

from aecf.app import explore as X
from aecf.app import samples as S
from aecf.app import state
from aecf.app.checkpoints import baseline_choices
from aecf.app.lessons import TRY_THIS  # every "try this" is a claim tested in tests/aecf/app/test_lessons.py
from aecf.app.state import (
    AUDIO_SOURCES,
    IMAGE_SOURCES,
    MC_CHOICES,
    SNR_CLEAN,
    SNR_MIN,
    URL_KEYS,
    ExploreState,
)
from pages.parts import cache, explore_dataset, explore_view, guide, url
from pages.parts.dataset import dataset_picker
from pages.parts.ui import ensure_navigation, teaching_box

# Every setting of the view lives in the URL (aecf.app.state.ExploreState), written by the page itself
# (pages/parts/url.py), not by Streamlit's query-params binding or st.query_params, which cost every redraw.
K = URL_KEYS
CANVAS_PX = 280
CANVAS_BG = Image.fromarray(X.canvas_background(CANVAS_PX))

ensure_navigation()
data_choice = dataset_picker()  # ?data=: the shipped digits (absent) or a dataset of one's own
if not data_choice.is_digits:
    explore_dataset.page(data_choice)  # any test example of that dataset, through a run trained on it
    st.stop()
explore_dataset.forget_link()
# a lesson's step, when the URL names one: its bar then stands for the page's title, explanation and "try this",
# so that the inputs and the results the step points at stay on the first screen at 1400×900
if not guide.bar("explore"):
    st.title("Explore one example")
    teaching_box(
        ["gate", "entropy", "cec"],
        "The gate reads the present embeddings and outputs weights **p** (absent modalities get 0). λ(x) comes "
        "from K dropout-noisy passes: the more they disagree, the larger λ(x), and the more the training loss "
        "rewarded a spread-out gate on inputs like this one. The **subset lattice** shows the confidence with every "
        "subset of the present modalities; CEC trained it to grow along every edge (red edges break that rule).",
        TRY_THIS["explore"].text,
    )

choices = cache.checkpoint_choices()
if not choices:
    st.error(
        "No fusion checkpoint found. Train the shipped one with "
        "`python -m aecf train --method aecf --out checkpoints/fusion/aecf`."
    )
    st.stop()
# A new link (a first visit, a shared link, a link from another page) sets the view; after that the widgets
# hold it and the URL follows them (pages/parts/url.py).
new_link = url.is_new_link()
link = ExploreState.from_query(st.query_params.to_dict())  # unknown or out-of-range values -> defaults
ckpt_keys = [c.key for c in choices]
URL_DEFAULTS = {
    K["checkpoint"]: ckpt_keys[0],
    K["image_on"]: True,
    K["caption_on"]: True,
    K["mc_samples"]: 20,
}
if new_link:  # what a digits and a COCO checkpoint share
    for name in ("checkpoint", "image_on", "caption_on", "mc_samples"):
        st.session_state[K[name]] = getattr(link, name)
    if link.checkpoint not in ckpt_keys:
        st.session_state[K["checkpoint"]] = ckpt_keys[0]

with st.sidebar:
    st.header("View")
    ckpt = st.selectbox(
        "Checkpoint",
        ckpt_keys,
        key=url.seeded(K["checkpoint"], ckpt_keys[0]),
        help="Shipped checkpoints, your finished runs, and checkpoints under "
        "AECF_APP_EXTRA_CHECKPOINTS or checkpoints/coco/ (e.g. COCO).",
    )
    chosen = next((c for c in choices if c.key == ckpt), choices[0])
    st.caption(chosen.label)
url.sync(URL_DEFAULTS, K["checkpoint"])

if chosen.task == "multilabel":  # a COCO checkpoint: image + caption, top labels
    from pages.parts import explore_coco

    explore_coco.page(chosen, choices, URL_DEFAULTS)
    st.stop()

samples_img = S.list_samples("image")
samples_aud = S.list_samples("audio")
examples = S.caption_examples()
default_img, default_aud = S.default_samples(samples_img, samples_aud)
default_caption = S.default_caption(S.sample_digit(default_img or ""), examples)


def caption_into_box(text: str, given: str) -> None:
    """A caption into the box, cut to the limit; a cut is kept so that the view says it, and where."""
    st.session_state[K["caption"]], st.session_state["_caption_cut"] = X.caption_for_box(text, given)


base_keys = ["none"] + [c.key for c in baseline_choices(choices)]
URL_DEFAULTS |= {
    K["baseline"]: base_keys[min(1, len(base_keys) - 1)],
    K["seed"]: 0,
    K["audio_on"]: True,
    K["image_source"]: "sample",
    K["image_sample"]: default_img,
    K["audio_source"]: "sample",
    K["audio_sample"]: default_aud,
    K["image_severity"]: 0.0,
    K["audio_snr"]: SNR_CLEAN,
    "details": False,
}
if new_link:
    for name in (
        "baseline",
        "seed",
        "audio_on",
        "image_source",
        "image_sample",
        "audio_source",
        "audio_sample",
        "image_severity",
        "audio_snr",
    ):
        st.session_state[K[name]] = getattr(link, name)
    st.session_state["details"] = str(st.query_params.get("details", "")).lower() in state.TRUE_WORDS
    st.session_state[K["seed"]] = min(9999, link.seed)
    for key, offered in (
        (K["baseline"], base_keys),
        (K["image_sample"], samples_img),
        (K["audio_sample"], samples_aud),
    ):
        if st.session_state[key] not in offered:
            st.session_state[key] = URL_DEFAULTS[key]
    if K["caption"] in st.query_params or K["caption"] not in st.session_state:
        caption_into_box(st.query_params.get(K["caption"], default_caption), "link")


def seeded(key: str) -> str:
    return url.seeded(key, URL_DEFAULTS[key])


def sync_url(*keys: str) -> None:
    url.sync(URL_DEFAULTS, *keys)


with st.sidebar:
    base = st.selectbox("Baseline, side by side", base_keys, key=seeded(K["baseline"]))
    mc = st.select_slider("MC-dropout passes K", MC_CHOICES, key=seeded(K["mc_samples"]))
    seed = st.number_input("Corruption seed", 0, 9999, step=1, key=seeded(K["seed"]))
    st.markdown(
        "---\n\n**Share this view**: the address bar holds every setting (uploads, drawings, recordings and "
        f"captions over {state.MAX_URL_CAPTION} characters are not in it)."
    )

sync_url(K["checkpoint"], K["baseline"], K["mc_samples"], K["seed"])
if K["caption"] not in st.session_state:  # the caption comes from the link once, then from the box
    caption_into_box(st.query_params.get(K["caption"], default_caption), "link")


def use_example_caption() -> None:
    choice = st.session_state.get("caption_example")
    if choice:
        st.session_state[K["caption"]] = choice.split(": ", 1)[1]
        st.session_state["caption_example"] = None


def caption_typed() -> None:
    caption_into_box(st.session_state[K["caption"]], "box")


def clear_canvas() -> None:
    st.session_state["canvas_n"] = st.session_state.get("canvas_n", 0) + 1


# Every group of controls is its own fragment: a toggle, a slider step or a new input reruns only that
# control and the results (written into the placeholders below, which every fragment shares), not the page
# and not the other controls. A full run (the sidebar, a new link) draws the results once, from the last one.
# compact cards (pages/parts/app.css: .st-key-explore_inputs): the switches and the results on one screen
col_img, col_cap, col_aud = st.container(key="explore_inputs").columns(3, border=True)
results = st.empty()  # the placeholder every fragment writes into (each one more costs a redraw ~15 ms)
details = st.expander(
    "Each modality alone, and what the model sees", key=seeded("details"), on_change="rerun"
)
sync_url("details")
details_slot = details.empty() if details.open else None  # filled only while open: it costs every redraw
ahead_slot = st.empty()  # the views one click away, sent ahead unseen (explore_view.next_views)
# the widgets they are keyed by, in the order of X.view_key
AHEAD_CONTROLS = [(K[name], digits) for name, digits in X.NEXT_CONTROLS]


def draw_results() -> None:
    ss = st.session_state
    snr = ss.get(K["audio_snr"], SNR_CLEAN)
    caption, caption_from = X.caption_given(ss.get(K["caption"]), ss.get("_caption_cut"))
    inputs = X.ExploreInputs(
        image=ss.get("_explore_image"),
        caption=caption,
        caption_from=caption_from,
        audio=ss.get("_explore_audio"),
        image_on=ss.get(K["image_on"], True),
        caption_on=ss.get(K["caption_on"], True),
        audio_on=ss.get(K["audio_on"], True),
        image_severity=float(ss.get(K["image_severity"], 0.0)),
        audio_snr=None if snr >= SNR_CLEAN else float(snr),
        seed=int(seed),
        mc_samples=int(mc),
    )
    result = X.explore(cache.model, ckpt, inputs, baseline_key=base)
    if explore_view.is_one_element(result):  # the usual case: straight into the placeholder, no container
        explore_view.results(result, results)
    else:
        with results.container():
            explore_view.notes(result)
            explore_view.results(result)
    if details_slot is not None:
        explore_view.details(result, details_slot.container())
    # after the view is on its way: the views one click away (none while the details are open, which the
    # browser could not update with them)
    ahead = (
        X.explore_next(cache.model, ckpt, inputs, base, result)
        if result.is_plain and details_slot is None
        else {}
    )
    explore_view.next_views(
        ahead,
        AHEAD_CONTROLS,
        ahead_slot,
        {K[name]: text for name, text in X.slider_captions(inputs).items()},
        url.query(),
    )


def then_results(last: bool = False) -> None:
    """End of every control fragment: redraw the results. In a full run every fragment but the last only
    reserves its place in the shared placeholders (a fragment may write into a container created outside
    it only if it wrote there in the last full run), and the last one draws them, once."""
    if st.session_state.get("_explore_full_run") and not last:
        results.empty()
        ahead_slot.empty()
        if details_slot is not None:
            details_slot.empty()
    else:
        draw_results()


@st.fragment
def switch(label: str, key: str) -> None:
    st.toggle(label, key=seeded(key))
    sync_url(key)
    then_results()


@st.fragment
def image_source() -> None:
    image = None
    source = st.segmented_control(
        "Image from",
        IMAGE_SOURCES,
        key=seeded(K["image_source"]),
        required=True,
        label_visibility="collapsed",
    )
    if source == "sample":
        if samples_img:
            pick, thumb = st.columns([3, 1], vertical_alignment="center")
            name = pick.selectbox(
                "Sample image", samples_img, key=seeded(K["image_sample"]), label_visibility="collapsed"
            )
            path = str(S.sample_path(name))
            thumb.image(path, width=64)
            image = cache.sample_bytes(path)
        else:
            st.caption("No sample images in assets/samples/.")
    elif source == "upload":
        up = st.file_uploader(
            "Upload an image of one digit",
            type=list(X.IMAGE_TYPES),
            key="img_upload",
            max_upload_size=X.INPUT_UPLOAD_MB,
            help=f"{X.IMAGE_TYPES_TEXT}; a photo of a digit on paper works.",
        )
        image = up.getvalue() if up is not None else None
    else:
        st.space("medium")  # the canvas draws its toolbar just above itself: keep it off the selector
        canvas = st_canvas(
            stroke_width=24,
            stroke_color="#FFFFFF",
            background_image=CANVAS_BG,
            height=CANVAS_PX + X.CANVAS_TOOLBAR_PX,
            width=CANVAS_PX,
            drawing_mode="freedraw",
            key=f"img_canvas_{st.session_state.get('canvas_n', 0)}",
            return_image_data=True,
        )
        st.caption(
            "Draw one digit, white on black, in the square below the grey strip (the strip holds the "
            "canvas's tools)."
        )
        st.button(
            "Clear the drawing", key="canvas_clear", on_click=clear_canvas, icon=":material/ink_eraser:"
        )
        image = X.canvas_image(canvas.image_data, skip_top=X.CANVAS_TOOLBAR_PX)
    st.session_state["_explore_image"] = image
    sync_url(K["image_source"], K["image_sample"])
    then_results()


@st.fragment
def image_corruption() -> None:
    severity = st.slider(
        "Image corruption (energy removal + noise)", 0.0, 1.0, step=0.05, key=seeded(K["image_severity"])
    )
    image = st.session_state.get("_explore_image")
    note = X.image_corruption_text(severity)
    guide.corrupted_image(cache.model, ckpt, image, severity, int(seed), note)
    sync_url(K["image_severity"])
    then_results()


@st.fragment
def caption_text() -> None:
    caption = st.text_area(
        "Caption",
        key=K["caption"],
        height=100,
        # no max_chars: the browser would drop a longer paste whole, without a word; it is cut here instead
        on_change=caption_typed,
        help="Try an exact one ('a seven'), a vague one ('an odd number') or a wrong one. "
        f"Up to {X.MAX_CAPTION_CHARS:,} characters: a longer text is cut there, and the page says so.",
    )
    if examples:
        st.selectbox(
            "…or take an example caption",
            [f"{ex.level}: {ex.text}" for ex in examples],
            index=None,
            key="caption_example",
            on_change=use_example_caption,
            placeholder="exact / partial / none / wrong …",
            help="Graded like web captions: exact ('a hand-drawn 7'), partial ('an odd number'), "
            "none ('a digit') or wrong.",
        )
    url.put(
        K["caption"], state.caption_query(caption, default_caption)
    )  # a link carries a short caption only
    then_results()


@st.fragment
def audio_source() -> None:
    audio = None
    source = st.segmented_control(
        "Audio from",
        AUDIO_SOURCES,
        key=seeded(K["audio_source"]),
        required=True,
        label_visibility="collapsed",
    )
    if source == "sample":
        if samples_aud:
            name = st.selectbox(
                "Sample recording", samples_aud, key=seeded(K["audio_sample"]), label_visibility="collapsed"
            )
            audio = cache.sample_bytes(str(S.sample_path(name)))
        else:
            st.caption("No sample recordings in assets/samples/.")
    elif source == "upload":
        up = st.file_uploader(
            "Upload a recording of one spoken digit",
            type=list(X.AUDIO_TYPES),
            key="aud_upload",
            max_upload_size=X.INPUT_UPLOAD_MB,
            help=f"{X.AUDIO_TYPES_TEXT}, up to 10 s.",
        )
        audio = up.getvalue() if up is not None else None
    else:
        rec = st.audio_input("Say one digit", key="aud_record")
        audio = rec.getvalue() if rec is not None else None
    st.session_state["_explore_audio"] = audio
    sync_url(K["audio_source"], K["audio_sample"])
    then_results()


@st.fragment
def audio_noise() -> None:
    snr = st.slider(
        "Audio SNR (dB; right end = no added noise)", SNR_MIN, SNR_CLEAN, step=1.0, key=seeded(K["audio_snr"])
    )
    sync_url(K["audio_snr"])
    st.caption(X.audio_corruption_text(None if snr >= SNR_CLEAN else float(snr)))
    then_results(last=True)  # the last control of the page


st.session_state["_explore_full_run"] = True
for column, switch_key, label, source, corrupt in (  # each fragment is its own block inside its column
    (col_img, K["image_on"], ":material/image: Image", image_source, image_corruption),
    (col_cap, K["caption_on"], ":material/chat: Caption", caption_text, None),
    (col_aud, K["audio_on"], ":material/graphic_eq: Audio", audio_source, audio_noise),
):
    with column:
        switch(label, switch_key)
        source()
        if corrupt is not None:
            corrupt()
st.session_state["_explore_full_run"] = False
