"""The Explore page for a multi-label (COCO) checkpoint: image + caption in, the top labels out.

A COCO checkpoint has no audio and takes images as given (the digits' corruption sliders do not apply), so
the inputs are two columns; the results are the digits view's parts (pages/parts/explore_view.py).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from aecf import paths
from aecf.app import explore as X
from aecf.app.checkpoints import CheckpointChoice, same_directory_baselines
from aecf.app.state import MC_CHOICES, URL_KEYS
from pages.parts import cache, explore_view, url
from pages.parts.ui import address_bar

K = URL_KEYS
DEFAULT_CAPTION = "a person riding a bicycle down a city street"


def page(choice: CheckpointChoice, choices: list[CheckpointChoice], defaults: dict) -> None:
    """`defaults`: URL key -> the value a link leaves out (the page put a new link's values in the session state)."""
    st.info(
        "This is a multi-label COCO checkpoint: image and caption only, so there is no audio column, and "
        "images are used as given, so the digits' corruption sliders are hidden.",
        icon=":material/info:",
    )
    bases = same_directory_baselines(choices, choice)
    labels = {c.key: c.label for c in bases}
    with st.sidebar:
        base = st.selectbox(
            "Baseline, side by side",
            ["none"] + list(labels),
            index=min(1, len(labels)),
            key="coco_baseline",
            format_func=lambda k: labels.get(k, k),
        )
        if not bases:
            st.caption(
                f"No COCO checkpoint of another method in {choice.path.parent.name}/: no baseline to compare."
            )
        mc = st.select_slider("MC-dropout passes K", MC_CHOICES, key=url.seeded(K["mc_samples"], 20))
    url.sync(defaults, K["mc_samples"])
    view(choice.key, base, labels.get(base, base), int(mc), defaults)


@st.fragment
def view(key: str, base: str, base_label: str, mc: int, defaults: dict) -> None:
    col_img, col_cap = st.columns(2, border=True)
    image = None
    with col_img:
        img_on = st.toggle(":material/image: Image", key=url.seeded(K["image_on"], True))
        up = st.file_uploader(
            "Upload a photo",
            type=list(X.IMAGE_TYPES),
            key="coco_img_upload",
            max_upload_size=X.INPUT_UPLOAD_MB,
            disabled=not img_on,
            help=f"{X.IMAGE_TYPES_TEXT}.",
        )
        offered = paths.coco_images()
        picked = st.selectbox(
            "…or one of the server's photos",
            [None, *offered],
            key="coco_image_pick",
            format_func=lambda p: "—" if p is None else p.name,
            disabled=not img_on or not offered,
            help="The folder the server was started with in AECF_APP_COCO_IMAGES (e.g. COCO val2014/)."
            if offered
            else "No folder of photos was given to this server (AECF_APP_COCO_IMAGES); upload one.",
        )
        if up is not None:
            image = up.getvalue()
        elif picked is not None:
            image = picked
        if image is not None and img_on:
            st.image(image if not isinstance(image, Path) else str(image), width=224)
    with col_cap:
        cap_on = st.toggle(":material/chat: Caption", key=url.seeded(K["caption_on"], True))
        caption = st.text_area(
            "Caption",
            DEFAULT_CAPTION,
            key=K["caption"],
            height=100,
            disabled=not cap_on,
            max_chars=X.MAX_CAPTION_CHARS,
            help="Describe the photo — or describe another one and watch the gate.",
        )
    url.sync(defaults, K["image_on"], K["caption_on"])

    result = X.explore(
        cache.model,
        key,
        X.ExploreInputs(
            image=image, caption=caption, image_on=img_on, caption_on=cap_on, audio_on=False, mc_samples=mc
        ),
        baseline_key=base,
        baseline_name=base_label,
    )
    explore_view.notes(result)
    explore_view.results(result)
    with st.expander(
        "Each modality alone, and what the model sees", key="coco_details", on_change="rerun"
    ) as box:
        if box.open:
            explore_view.details(result, box)
    address_bar(url.query())
