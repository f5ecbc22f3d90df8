"""Shared fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `pages.parts` and `tests.support` import from the project root
    sys.path.insert(0, str(ROOT))


@pytest.fixture(scope="session")
def small_benchmark(tmp_path_factory) -> Path:
    """`python -m aecf data build --small` into a temp dir, once per test session (~10 s)."""
    from aecf.data.build import BenchmarkConfig, build_benchmark

    out = tmp_path_factory.mktemp("bench") / "benchmark-small"
    return build_benchmark(out, BenchmarkConfig.small(), seed=0, progress=False)


# =====================================================================================================
# AECF Explorer app (tests/pages/) — owned by the app; append below, do not
# edit above. Everything the app reads is redirected with AECF_APP_* variables (aecf/paths.py).
# =====================================================================================================


def _app_assets(root: Path) -> dict[str, Path]:
    """Checkpoints, samples, features and results for the app tests, in `root`.

    The shipped encoders, fusion checkpoints and samples are used when they exist (copied, so that tests
    may break their copies); otherwise stand-ins from tests.support.devassets (untrained encoders, fusion
    trained 1 epoch on synthetic embeddings). Features are always a small synthetic cache (fast runs)."""
    import shutil

    import torch

    from aecf.constants import ASSETS_DIR, CHECKPOINT_DIR
    from tests.support import devassets as app_devassets

    torch.set_num_threads(1)
    features = app_devassets.build_features(root / "features")
    ckpt = root / "checkpoints"
    if (CHECKPOINT_DIR / "encoders" / "encoders.json").exists():
        shutil.copytree(CHECKPOINT_DIR / "encoders", ckpt / "encoders")
    else:
        app_devassets.build_encoders(ckpt / "encoders")
    shipped = CHECKPOINT_DIR / "fusion"
    if (shipped / "aecf.safetensors").exists() and (shipped / "late_fusion.safetensors").exists():
        (ckpt / "fusion").mkdir(parents=True)
        for name in ("aecf", "late_fusion", "moddrop"):
            for suffix in (".safetensors", ".json", ".metrics.jsonl"):
                if (shipped / f"{name}{suffix}").exists():
                    shutil.copy(shipped / f"{name}{suffix}", ckpt / "fusion" / f"{name}{suffix}")
    else:
        app_devassets.build_fusion(ckpt / "fusion", features)
    if (ASSETS_DIR / "samples" / "captions.txt").exists():
        samples = ASSETS_DIR / "samples"
    else:
        samples = app_devassets.build_samples(root / "samples")
    from aecf.constants import FEATURE_DIR
    from aecf.data.cache import load_split
    from aecf.evaluate import evaluate_checkpoints

    # evaluate real checkpoints on the real cache (meaningful screenshots), stand-ins on the synthetic one
    real = (
        (shipped / "aecf.safetensors").exists()
        and (FEATURE_DIR / "test.npz").exists()
        and (FEATURE_DIR / "val.npz").exists()
    )
    eval_dir = FEATURE_DIR if real else features
    results = evaluate_checkpoints(
        ckpt / "fusion",
        load_split("test", eval_dir),
        load_split("val", eval_dir),
        drop_rates=(0.0, 0.3, 0.5, 0.7),
        mask_seeds=1,
        mc_samples=2,
        bootstrap=50,  # the intervals' keys are there; 1,000 resamples would cost every app test session ~15 s
    )
    import json

    (root / "results.json").write_text(json.dumps(results, default=float))
    return {
        "root": root,
        "checkpoints": ckpt,
        "samples": samples,
        "features": features,
        "results": root / "results.json",
    }


@pytest.fixture(scope="session")
def app_assets(tmp_path_factory) -> dict[str, Path]:
    return _app_assets(tmp_path_factory.mktemp("app"))


@pytest.fixture
def app_env(app_assets, tmp_path, monkeypatch) -> dict[str, Path]:
    """Point the app at the test assets and a fresh runs/ dir; clear Streamlit's caches and the run manager."""
    import streamlit as st

    from aecf.app import training

    env = {**app_assets, "runs": tmp_path / "runs"}
    monkeypatch.setenv("AECF_APP_CHECKPOINT_DIR", str(env["checkpoints"]))
    monkeypatch.setenv("AECF_APP_SAMPLES_DIR", str(env["samples"]))
    monkeypatch.setenv("AECF_APP_FEATURE_DIR", str(env["features"]))
    monkeypatch.setenv("AECF_APP_RESULTS_JSON", str(env["results"]))
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(env["runs"]))
    monkeypatch.setattr(training, "_MANAGER", None)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield env
    manager = training._MANAGER
    if manager is not None:
        manager.stop()
        manager.join(30)
