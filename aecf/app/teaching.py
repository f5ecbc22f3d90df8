"""Equations for the app's teaching boxes, read from docs/method.md: the app shows what the docs say, and
the docs are the one place the method's equations are written.

A topic lists its equations by how they start (e.g. `H(p) =`); each is the first `$$ ... $$` block of
docs/method.md that starts that way. A test checks that every one is there and that the CEC term shown is
the one the shipped recipe trains.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from aecf.paths import METHOD_DOC

# topic -> how each of its equations starts (a regex matched at the start of a method.md block)
TOPICS: dict[str, list[str]] = {
    "gate": [r"p_m\(x\)\s*=", r"f\s*=\s*\\sum", r"\\hat y\s*="],
    "entropy": [r"H\(p\)\s*=", r"u\(x\)\s*=", r"\\lambda\(x\)\s*=", r"\\mathcal\{L\}_\{\\text\{ent\}\}"],
    "cec": [r"c\(A\)\s*=", r"\\mathcal\{L\}_\{\\text\{CEC\}\}"],
    "masking": [r"\\pi_t\s*=", r"q_m\(x\)\s*="],
    "loss": [r"\\mathcal\{L\}\s*="],
    "calibration": [r"\\mathrm\{ECE\}\s*="],
}

_BLOCK = re.compile(r"\$\$(.+?)\$\$", re.S)


@lru_cache(maxsize=4)
def _doc_blocks(path: str, mtime: float) -> tuple[str, ...]:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError:
        return ()
    return tuple(b.strip() for b in _BLOCK.findall(text) if b.strip())


def method_blocks(path: str | Path = METHOD_DOC) -> tuple[str, ...]:
    """Every `$$...$$` block of docs/method.md, in order (empty if the file is absent)."""
    path = Path(path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _doc_blocks(str(path), mtime)


def equations(topic: str, path: str | Path = METHOD_DOC) -> list[str]:
    """LaTeX for a topic: for each of its equations, the first method.md block that starts like it (an
    equation the docs do not have is left out)."""
    blocks = method_blocks(path)
    found = (next((b for b in blocks if re.match(pattern, b)), None) for pattern in TOPICS[topic])
    return [b for b in found if b is not None]
