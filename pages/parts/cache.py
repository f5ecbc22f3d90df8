"""What the app loads once (st.cache_resource) and what it caches by content (st.cache_data).

- models: one per checkpoint key, shared by every session of the server;
- preprocessed inputs: keyed by a content hash the caller computes once (big uploads are not
  re-hashed by Streamlit on every rerun: the bytes are passed as an unhashed `_data` argument);
- predictions: keyed by (checkpoint, input hashes, toggles, sliders), so going back to a view is free.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import streamlit as st
import torch

from aecf import app_explore, app_model
from aecf.app_guard import describe

# One example at a time through tiny networks: one intra-op thread is many times faster than two on a
# busy 2-core machine (measured: a K = 20 diagnosis 80 ms -> 2 ms), and leaves a core to the browser.
torch.set_num_threads(1)


@st.cache_resource(show_spinner="Loading the model and its frozen encoders…", max_entries=8)
def model(key: str):
    """The model for a checkpoint choice key (raises CheckpointError; errors are not cached)."""
    return app_model.load_model(key)


@st.cache_data(show_spinner=False, max_entries=256)
def prediction(model_key: str, image_key: str | None, caption: str | None, audio_key: str | None, mc_samples: int,
               image_severity: float, audio_snr: float | None, seed: int, _image=None, _audio=None):
    """Model.predict for one view, cached by the inputs' content hashes and the view's settings
    (the model itself also caches each modality's embedding by content)."""
    return app_explore.predict(model(model_key), _image, caption, _audio, mc_samples, image_severity, audio_snr, seed)


@st.cache_data(show_spinner=False, max_entries=256)
def baseline_prediction(baseline_key: str, view_key: str, mc_samples: int, seed: int, _embeddings=None):
    """The same embeddings through a baseline checkpoint (view_key identifies the embeddings)."""
    return app_explore.predict_embeddings(model(baseline_key), _embeddings, mc_samples, seed)


@st.cache_data(show_spinner=False, ttl=10)
def checkpoint_choices() -> list:
    return app_model.checkpoint_choices()


@dataclass
class CheckpointStatus:
    summary: str = ""
    problem: str | None = None
    available: list[str] = field(default_factory=list)


def checkpoint_status(key: str = "") -> CheckpointStatus:
    """Which checkpoint the app uses (loading it if needed), or why none can be used."""
    choices = checkpoint_choices()
    status = CheckpointStatus(available=[c.label for c in choices])
    try:
        m = model(key or (choices[0].key if choices else ""))
    except Exception as e:  # noqa: BLE001 - shown on the page
        status.problem = describe(e, "Loading the checkpoint").message
        return status
    name = getattr(m, "name", None) or (choices[0].label if choices else "default")
    method = getattr(m, "method", "?")
    if getattr(m, "task", "multiclass") == "multilabel":
        status.summary = (f"Using **{name}** (method `{method}`, multi-label COCO), with its frozen open_clip image "
                          "and caption encoders.")
    else:
        status.summary = f"Using **{name}** (method `{method}`), with its frozen image, caption and audio encoders."
    return status
