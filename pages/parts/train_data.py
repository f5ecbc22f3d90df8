"""The Train page's dataset parts: the zip uploader (every upload checked and stored by aecf.app.datasets, every
problem a message, a stored upload chosen) and the chosen dataset described."""

from __future__ import annotations

import streamlit as st

from aecf.app import datasets as D
from aecf.app.problems import Problem, describe
from pages.parts import cache
from pages.parts.dataset import QUERY_KEY
from pages.parts.ui import show

UPLOADER = "_upload_widget"  # the uploader's key number: a stored upload empties it (a new key)


def upload_panel() -> None:
    """The zip uploader: every upload is checked and stored by aecf.app.datasets; a stored one is chosen."""
    terms = D.upload_terms()
    with st.expander("Upload a dataset", icon=":material/upload_file:"):
        st.markdown(
            f"{terms.sentence} The zip holds one dataset folder: `dataset.json`, `train.npz`, `test.npz` and "
            "optionally `val.npz`, one array of features per modality (the format: `docs/data-format.md`, "
            "shown by the button below)."
        )
        st.caption(
            "Uploads, and the runs trained on them, are visible to every session of this server: everyone who "
            "opens this address sees them and may train on them. The same files uploaded twice are one dataset."
        )
        section = D.format_section()
        if section:
            with st.popover("The format (docs/data-format.md)", icon=":material/description:"):
                st.markdown(section)
        number = st.session_state.setdefault(UPLOADER, 0)
        up = st.file_uploader(
            "Dataset (.zip)",
            type="zip",
            max_upload_size=terms.limit_mb,
            key=f"dataset_upload_{number}",
            help=f"At most {terms.limit_mb} MB. Store features as float16 to halve a zip.",
        )
        done = st.session_state.get("_upload_result")
        if up is not None and (done is None or done[0] != up.file_id):
            known = {c.key for c in D.dataset_choices()}
            try:
                with st.spinner(f"Checking and storing {up.name}…"):
                    stored = D.store_upload(up, up.name)  # validated by the library's reader on the way
            except Exception as e:  # noqa: BLE001 - every problem is a message, never a traceback
                problem = describe(e, f"Storing {up.name}")
                st.session_state["_upload_result"] = (up.file_id, problem)
            else:
                cache.dataset_choices.clear()
                st.session_state[UPLOADER] = number + 1  # an empty uploader for the next one
                st.session_state["_upload_result"] = (
                    None,
                    Problem(
                        "info",
                        f"**{stored.title}** was already on this server (the same files): chose it."
                        if stored.key in known
                        else f"Stored **{stored.title}** and chose it: it is described below.",
                    ),
                )
                st.query_params[QUERY_KEY] = stored.key
                st.rerun()
        done = st.session_state.get("_upload_result")
        if done is not None and (done[0] is None or (up is not None and done[0] == up.file_id)):
            show(done[1])
            if done[0] is None:  # a success is said once
                del st.session_state["_upload_result"]
        found = D.examples()
        if found:
            st.caption("No dataset at hand? Download an example, look inside, and upload it here:")
            cols = st.columns(len(found) if len(found) > 1 else 2)
            for col, example in zip(cols, found, strict=False):
                col.download_button(
                    f"{D.zip_name(example)} ({example.spec.name})",
                    data=lambda example=example: D.dataset_zip(example),
                    file_name=D.zip_name(example),
                    mime="application/zip",
                    icon=":material/download:",
                    key=f"example_zip_{example.key}",
                )


def describe_dataset(info: dict, choice: D.DatasetChoice) -> None:
    """The chosen dataset: name, task, classes, rows per split, where val came from, each modality's width and
    how often it is present."""
    st.subheader(f"Dataset: {info['name']}")
    if info["description"]:
        st.caption(info["description"])
    # the rows per split are three numbers: room for "850,000 / 150,000 / 200,000"
    cols = st.columns([3, 2, 2, 5])
    cols[0].metric("Task", info["task"])
    cols[1].metric("Classes", len(info["classes"]))
    cols[2].metric("Modalities", len(info["modalities"]))
    cols[3].metric("Rows (train / val / test)", " / ".join(f"{n:,}" for n in info["rows"].values()))
    classes = ", ".join(info["classes"][:30]) + (" …" if len(info["classes"]) > 30 else "")
    st.caption(
        f"**Classes:** {classes}. **Validation:** {D.val_words(info)}. "
        f"**Where:** {choice.kind}{f' as {choice.filename}' if choice.filename else ''}."
    )
    st.table(D.modality_rows(info))
