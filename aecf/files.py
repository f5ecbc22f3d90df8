"""One way to write a file that readers may open at any moment: a temp file beside it, then os.replace.

A reader sees either the whole old file or the whole new one, never half of it; a killed writer leaves a
stray `.<name>.*.tmp` file, never a truncated one. Used for checkpoints, caches, run status and results.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

Content = bytes | str | Callable[[BinaryIO], object]


def write_atomic(path: str | Path, content: Content, mode: int = 0o644) -> Path:
    """Write `content` (bytes, text, or a function that writes to a binary file) to `path` atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            if isinstance(content, str):
                f.write(content.encode("utf-8"))
            elif isinstance(content, bytes | bytearray):
                f.write(content)
            else:
                content(f)
        os.chmod(tmp, mode)  # mkstemp makes it private; these files are shared by every user of the repo
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _json_default(o):
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_json_atomic(path: str | Path, obj, indent: int | None = 2) -> Path:
    """`obj` as JSON (numpy values and paths converted), written atomically."""
    return write_atomic(path, json.dumps(obj, indent=indent, default=_json_default))
