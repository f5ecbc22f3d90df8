"""Fixtures shared by the encoder tests."""

from __future__ import annotations

import shutil

import pytest

import aecf.encoders as E
from aecf.paths import ENCODER_DIR


@pytest.fixture
def ckpt_copy(tmp_path):
    """A writable copy of the shipped encoders folder; the encoders' load cache cleared before and after."""
    d = tmp_path / "encoders"
    shutil.copytree(ENCODER_DIR, d)
    for f in d.iterdir():
        f.chmod(0o644)
    E._load_cached.cache_clear()
    yield d
    E._load_cached.cache_clear()
