"""Shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def small_benchmark(tmp_path_factory) -> Path:
    """`python -m aecf data build --small` into a temp dir, once per test session (~10 s)."""
    from aecf.data.build import BenchmarkConfig, build_benchmark

    out = tmp_path_factory.mktemp("bench") / "benchmark-small"
    return build_benchmark(out, BenchmarkConfig.small(), seed=0, progress=False)
