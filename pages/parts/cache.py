"""What the server loads once and shares between sessions.

A model per checkpoint (st.cache_resource). Each model keeps its own cache of embeddings, keyed by the
content of each input, and its own lock (aecf.inference.Model), so nothing else is cached by content here.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
import torch

from aecf.app import checkpoints, datasets
from aecf.errors import InputError

# One example at a time through tiny networks: one intra-op thread is many times faster than two on a
# busy 2-core machine (measured: a K = 20 diagnosis 80 ms -> 2 ms), and leaves a core to the browser.
torch.set_num_threads(1)


@st.cache_resource(show_spinner="Loading the model and its frozen encoders…", max_entries=8)
def model(key: str):
    """The model for a checkpoint choice key (raises CheckpointError; errors are not cached)."""
    return checkpoints.load_model(key)


@st.cache_data(show_spinner=False, ttl=10)
def checkpoint_choices() -> list:
    return checkpoints.checkpoint_choices()


@st.cache_resource(show_spinner=False, max_entries=64)
def sample_bytes(path: str) -> bytes:
    """A sample file's bytes, read once per server: every redraw hands the model the same bytes (it keys its
    embedding cache by content) instead of a path it would stat and read again on every rerun."""

    return Path(path).read_bytes()


@st.cache_data(show_spinner=False, ttl=5)
def dataset_choices() -> list:
    """The datasets on this server (digits, examples, uploads); a new upload shows within seconds everywhere."""
    return datasets.dataset_choices()


@st.cache_resource(show_spinner="Reading the dataset…", max_entries=8)
def dataset(key: str):
    """A validated dataset, memory-mapped, shared by every session (raises InputError; errors are not cached).
    An upload's key is its content digest, so a key always names the same files."""
    choice = datasets.resolve(key)
    if choice is None:
        raise InputError(f"No dataset {key!r} on this server.")
    return datasets.open_dataset(choice)
