"""Explore one example: give it an image, a caption and a spoken digit; switch and corrupt them; watch AECF."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from aecf import app_cache
from aecf import app_explore as X
from aecf import app_figures as F
from aecf.app_guard import Problem, guarded, show
from aecf.app_model import baseline_choices
from aecf.app_state import AUDIO_SOURCES, IMAGE_SOURCES, MC_CHOICES, SNR_CLEAN, SNR_MIN, URL_KEYS
from aecf.app_ui import ensure_navigation, svg, teaching_box
from aecf.constants import CLASSES
from aecf.lattice import lattice_svg

Q = {"bind": "query-params"}  # every setting of the view lives in the URL (see aecf.app_state.ExploreState)
K = URL_KEYS

ensure_navigation()
st.title("Explore one example")
teaching_box(
    ["gate", "entropy", "cec"],
    "The gate reads the present embeddings and outputs weights **p** (absent modalities get 0). λ(x) comes from "
    "K dropout-noisy passes: the more they disagree, the larger λ(x), and the more the training loss rewarded a "
    "spread-out gate on inputs like this one. The **subset lattice** shows the confidence with every subset of "
    "the present modalities; CEC trained it to grow along every edge (red edges break that rule).",
    "pick a sample, then slide *image corruption* up to 1: watch the gate move weight away from the image, H(p) "
    "and λ(x) change, and compare with the baseline on the right. Copy the URL to share exactly this view.",
)

choices = app_cache.checkpoint_choices()
if not choices:
    probe = app_cache.checkpoint_status()
    st.error(probe.problem or "No fusion checkpoint found.")
    st.stop()
keys = [c.key for c in choices]
base_keys = ["none"] + [c.key for c in baseline_choices(choices)]
labels = {c.key: c.label for c in choices}

with st.sidebar:
    st.header("View")
    ckpt = st.selectbox("Checkpoint", keys, key=K["checkpoint"],
                        help="Shipped checkpoints, your finished runs, and checkpoints under "
                             "AECF_APP_EXTRA_CHECKPOINTS or checkpoints/coco/ (e.g. COCO).", **Q)
    st.caption(labels.get(ckpt, ckpt))
    chosen = next((c for c in choices if c.key == ckpt), None)
    if chosen is not None and chosen.task == "multilabel":
        mc = st.select_slider("MC-dropout passes K", MC_CHOICES, value=20, key=K["mc_samples"], **Q)
if chosen is not None and chosen.task == "multilabel":  # a COCO checkpoint: image + caption, top labels
    from aecf import app_explore_coco

    app_explore_coco.render(chosen, choices, int(mc), 0)
    st.stop()

with st.sidebar:
    base = st.selectbox("Baseline, side by side", base_keys, index=min(1, len(base_keys) - 1), key=K["baseline"], **Q)
    mc = st.select_slider("MC-dropout passes K", MC_CHOICES, value=20, key=K["mc_samples"], **Q)
    seed = st.number_input("Corruption seed", 0, 9999, 0, step=1, key=K["seed"], **Q)
    st.divider()
    st.markdown("**Share this view**: the address bar holds every setting (uploads and drawings are not in it).")

samples_img = X.list_samples("image")
samples_aud = X.list_samples("audio")
examples = X.caption_examples()
default_img, default_aud = X.default_samples(samples_img, samples_aud)
default_caption = X.default_caption(X.sample_digit(default_img or ""), examples)


def use_example_caption() -> None:
    choice = st.session_state.get("caption_example")
    if choice:
        st.session_state[K["caption"]] = choice.split(": ", 1)[1]
        st.session_state["caption_example"] = None

col_img, col_cap, col_aud = st.columns(3, border=True)
raw_image, image_key = None, None
raw_audio, audio_key = None, None
input_problem: dict[str, Problem] = {}

with col_img:
    img_on = st.toggle(":material/image: Image", True, key=K["image_on"], **Q)
    isrc = st.segmented_control("Image from", IMAGE_SOURCES, default="sample", key=K["image_source"], required=True,
                                disabled=not img_on, **Q)
    if isrc == "sample":
        if samples_img:
            name = st.selectbox("Sample image", samples_img, index=samples_img.index(default_img), key=K["image_sample"],
                                disabled=not img_on, **Q)
            raw_image, image_key = X.sample_path(name), f"sample:{name}"
            st.image(str(raw_image), width=96)
        else:
            st.caption("No sample images in assets/samples/.")
    elif isrc == "upload":
        up = st.file_uploader("Upload an image of one digit", key="img_upload", disabled=not img_on,
                              help="PNG or JPEG; a photo of a digit on paper works.")
        if up is not None:
            data = up.getvalue()
            raw_image, image_key = data, "upload:" + X.content_key(data)
    else:
        canvas = st_canvas(stroke_width=18, stroke_color="#FFFFFF", background_color="#000000", height=196,
                           width=196, drawing_mode="freedraw", key="img_canvas", return_image_data=True,
                           disabled=not img_on)
        st.caption("Draw one digit, white on black (the toolbar above undoes or clears).")
        drawn = X.canvas_image(canvas.image_data)
        if drawn is not None:
            raw_image, image_key = drawn, "draw:" + X.content_key(drawn)
    isev = st.slider("Image corruption (energy removal + noise)", 0.0, 1.0, 0.0, 0.05, key=K["image_severity"],
                     disabled=not img_on, **Q)
    st.caption(X.image_corruption_text(isev))
    img_msg = st.empty()

with col_cap:
    cap_on = st.toggle(":material/chat: Caption", True, key=K["caption_on"], **Q)
    caption = st.text_area("Caption", default_caption, key=K["caption"], height=100, disabled=not cap_on,
                           max_chars=5000, help="Try an exact one ('a seven'), a vague one ('an odd number') or a wrong one.", **Q)
    if examples:
        st.selectbox("…or take an example caption", [f"{ex.level}: {ex.text}" for ex in examples], index=None,
                     key="caption_example", on_change=use_example_caption, disabled=not cap_on,
                     placeholder="exact / partial / none / wrong …",
                     help="Graded like web captions: exact ('a hand-drawn 7'), partial ('an odd number'), "
                          "none ('a digit') or wrong.")
    cap_msg = st.empty()

with col_aud:
    aud_on = st.toggle(":material/graphic_eq: Audio", True, key=K["audio_on"], **Q)
    asrc = st.segmented_control("Audio from", AUDIO_SOURCES, default="sample", key=K["audio_source"], required=True,
                                disabled=not aud_on, **Q)
    if asrc == "sample":
        if samples_aud:
            name = st.selectbox("Sample recording", samples_aud, index=samples_aud.index(default_aud),
                                key=K["audio_sample"], disabled=not aud_on, **Q)
            raw_audio, audio_key = X.sample_path(name), f"sample:{name}"
        else:
            st.caption("No sample recordings in assets/samples/.")
    elif asrc == "upload":
        up = st.file_uploader("Upload a recording of one spoken digit", key="aud_upload", disabled=not aud_on,
                              help="WAV, FLAC, OGG or MP3, up to 10 s.")
        if up is not None:
            data = up.getvalue()
            raw_audio, audio_key = data, "upload:" + X.content_key(data)
    else:
        rec = st.audio_input("Say one digit", key="aud_record", disabled=not aud_on)
        if rec is not None:
            data = rec.getvalue()
            raw_audio, audio_key = data, "record:" + X.content_key(data)
    snr = st.slider("Audio SNR (dB; right end = no added noise)", SNR_MIN, SNR_CLEAN, SNR_CLEAN, 1.0,
                    key=K["audio_snr"], disabled=not aud_on, **Q)
    st.caption(X.audio_corruption_text(None if snr >= SNR_CLEAN else float(snr)))
    aud_msg = st.empty()

snr_db = None if snr >= SNR_CLEAN else float(snr)

# ------------------------------------------------------------------------------------------- the model
model, problem = guarded(app_cache.model, ckpt, what="Loading the checkpoint")
if problem:
    show(problem)
    st.stop()

use_image = raw_image if img_on else None
use_caption = caption if cap_on else None
use_audio = raw_audio if aud_on else None
if img_on and raw_image is None:
    img_msg.info("No image yet: pick a sample, upload or draw one. Until then the image counts as missing.")
if aud_on and raw_audio is None:
    aud_msg.info("No recording yet: pick a sample, upload or record one. Until then the audio counts as missing.")

# one bad input is reported where it was given; the other modalities still run
for modality, value, slot in (("image", use_image, img_msg), ("caption", use_caption, cap_msg), ("audio", use_audio, aud_msg)):
    if value is None:
        continue
    _, p = guarded(X.embed_checked, model, modality, value, isev, snr_db, int(seed), what=f"Reading the {modality}")
    if p is not None:
        input_problem[modality] = p
        slot.error(p.message)
if "image" in input_problem:
    use_image = None
if "caption" in input_problem:
    use_caption = None
if "audio" in input_problem:
    use_audio = None

if use_image is None and use_caption is None and use_audio is None:
    if not (img_on or cap_on or aud_on):
        st.warning("Every modality is switched off: there is nothing to fuse. Switch on at least one of image, "
                   "caption or audio.")
    else:
        st.warning("None of the switched-on modalities has a usable input yet (see the messages above).")
    st.stop()

pred, problem = guarded(app_cache.prediction, ckpt, image_key if use_image is not None else None, use_caption,
                        audio_key if use_audio is not None else None, int(mc), float(isev), snr_db, int(seed),
                        _image=use_image, _audio=use_audio, what="The prediction")
if problem:
    show(problem)
    st.stop()

base_pred = None
if base != "none":
    view_key = X.content_key("|".join(map(str, (ckpt, image_key, use_caption, audio_key, isev, snr_db, seed,
                                                   use_image is None, use_audio is None))))
    base_pred, bproblem = guarded(app_cache.baseline_prediction, base, view_key, int(mc), int(seed),
                                  _embeddings=pred.embeddings, what="The baseline")
    if bproblem:
        show(Problem("warning", bproblem.message))

# ------------------------------------------------------------------------------------------- results
# Everything here redraws on every change, so it is built from light elements (metrics, progress bars,
# inline SVG): a plotly chart costs the browser tens of ms per redraw. Details sit in tabs that render
# only when open.
st.subheader(f"Prediction: **{pred.label} ({CLASSES[pred.label]})**")
spread = X.mc_confidence_spread(pred.mc_probs, pred.label)
m = st.columns(4)
m[0].metric("Confidence", f"{pred.confidence:.3f}")
m[1].metric("Gate entropy H(p)", "–" if pred.gate_entropy is None else f"{pred.gate_entropy:.3f}",
            help="0 = all weight on one modality; log n = spread evenly over the n present ones.")
m[2].metric("λ(x)", "–" if pred.lam is None else f"{pred.lam:.4f}",
            help="Per-instance entropy coefficient, from the variance of the K MC-dropout passes.")
m[3].metric(f"Spread over K={spread['k']} passes", f"±{spread['std']:.3f}",
            help="Std of the predicted class's probability over the MC-dropout passes.")
m = st.columns([2, 1, 1])
m[0].metric("Modalities used", " + ".join(pred.present))
if base_pred is not None:
    m[1].metric(f"Baseline: {base}", f"{base_pred.label} ({CLASSES[base_pred.label]})")
    m[2].metric("Baseline confidence", f"{base_pred.confidence:.3f}")

c1, c2 = st.columns([3, 2])
rows = [(f"{model.name} (AECF)" if model.method == "aecf" else model.name, pred.probs)]
if base_pred is not None:
    rows.append((base, base_pred.probs))
with c1:
    svg(F.probs_svg(rows, "Class probabilities"))
with c2:
    st.markdown("**Gate weights p** (a missing modality gets exactly 0)")
    gate = X.gate_dict(pred.gate)
    if gate:
        for name, weight in gate.items():
            state = f"p = {weight:.3f}" if name in pred.present else "absent, p = 0"
            st.progress(min(1.0, max(0.0, weight)), text=f"{name}: {state}")
    else:
        st.info(f"{model.name} has no gate (method {model.method}): every present modality counts the same.")
    if base_pred is not None and base_pred.gate is None:
        st.caption(f"The baseline ({base}) has no gate.")

st.markdown("#### Subset lattice: confidence with every subset of the present modalities")
subsets = {k: {"label": v.label, "confidence": v.confidence} for k, v in pred.subsets.items()}
c5, c6 = st.columns(2)
with c5:
    svg(lattice_svg(subsets, title=model.name))
with c6:
    if base_pred is not None:
        bsubsets = {k: {"label": v.label, "confidence": v.confidence} for k, v in base_pred.subsets.items()}
        svg(lattice_svg(bsubsets, title=f"{base} (baseline)"))
    else:
        st.caption("Pick a baseline in the sidebar to see its lattice here.")

tab_mc, tab_experts, tab_sees = st.tabs(
    [f"λ(x): the K = {spread['k']} passes", "Each modality alone", "What the model sees"],
    key="tab", on_change="rerun", **Q,
)
if tab_mc.open:
    svg(F.mc_passes_svg(pred.mc_probs, pred.label, f"λ(x) reads these K = {spread['k']} MC-dropout passes"), tab_mc)
    tab_mc.caption(f"{spread['agree']:.0%} of the passes vote for {pred.label}; per-pass p({pred.label}) from "
                   f"{spread['min']:.2f} to {spread['max']:.2f}. The more they disagree, the larger λ(x).")
if tab_experts.open:
    if pred.experts:
        svg(F.probs_svg([(m, pred.experts[m]) for m in pred.present if m in pred.experts],
                        "Each modality's own opinion (zero-shot)"), tab_experts)
        tab_experts.caption("Each frozen encoder's own zero-shot guess (its embedding against the class prompts), "
                            "before any fusion.")
if tab_sees.open:
    s1, s2, s3 = tab_sees.columns([1, 2, 1])
    if pred.image_28 is not None:
        s1.image(X.upscale(pred.image_28), caption="28×28 after preprocessing + corruption", width=168)
    else:
        s1.caption("No image.")
    if pred.logmel is not None:
        s2.image(X.logmel_image(pred.logmel), caption="log-mel spectrogram (time →, pitch ↑)", width="stretch")
        wave = X.embed_checked(model, "audio", use_audio, audio_snr=snr_db, seed=int(seed)).get("wave") if use_audio is not None else None
        if wave is not None:
            s2.audio(X.wav_bytes(wave), format="audio/wav")
    else:
        s2.caption("No audio.")
    s3.markdown("**Caption after normalisation**")
    s3.code(pred.caption_text if pred.caption_text else "(no caption)", language=None, wrap_lines=True)
