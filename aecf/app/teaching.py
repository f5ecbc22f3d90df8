"""Equations for the app's teaching boxes, taken from docs/method.md so the app and the docs agree.

A topic lists its equations by how they start (e.g. `H(p) =`); each is taken from the first `$$ ... $$`
block of docs/method.md that starts that way, else from a built-in fallback, so a page never shows an
empty explanation and the app follows the docs when they change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from aecf.paths import METHOD_DOC

# topic -> [(regex the method.md block must match at its start, built-in fallback LaTeX), ...]
TOPICS: dict[str, list[tuple[str, str]]] = {
    "gate": [
        (
            r"p_m\(x\)\s*=",
            r"p_m(x) = \frac{e^{a_m(x)}}{\sum_{k \in S} e^{a_k(x)}} \;\; (m \in S), \qquad p_m = 0 \;\; (m \notin S)",
        ),
        (r"f\s*=\s*\\sum", r"f = \sum_{m \in S} p_m \, W_m z_m"),
        (r"\\hat y\s*=", r"\hat y = \mathrm{softmax}\big(h_\psi(f)\big)"),
    ],
    "entropy": [
        (r"H\(p\)\s*=", r"H(p) = -\sum_{m \in S} p_m \log p_m"),
        (r"u\(x\)\s*=", r"u(x) = \sum_c \mathrm{Var}_{k=1..K}\big[\hat y^{(k)}_c\big]"),
        (
            r"\\lambda\(x\)\s*=",
            r"\lambda(x) = \lambda_{\min} + (\lambda_{\max} - \lambda_{\min})\,\hat F_{\text{train}}\big(\mathrm{sg}[u(x)]\big)",
        ),
        (
            r"\\mathcal\{L\}_\{\\text\{ent\}\}",
            r"\mathcal{L}_{\text{ent}} = -\frac{1}{B}\sum_i \lambda(x_i)\, H\big(p(x_i)\big)",
        ),
    ],
    "cec": [
        (r"c\(A\)\s*=", r"c(A) = \max_y \hat y(y \mid z_A)"),
        (
            r"\\mathcal\{L\}_\{\\text\{CEC\}\}",
            r"\mathcal{L}_{\text{CEC}} = \frac{1}{|\mathcal{P}|}\sum_{(A,B) \in \mathcal{P}} \max\big(0, c(A) - c(B)\big)^2",
        ),
    ],
    "masking": [
        (r"\\pi_t\s*=", r"\pi_t = \pi_{\max} \cdot \min\big(1, t / (0.3\,T)\big)"),
        (
            r"q_m\(x\)\s*=",
            r"q_m(x) = \min\Big(0.95,\; \pi_t \, n \, \frac{p_m(x)^\gamma}{\sum_{k \in S} p_k(x)^\gamma}\Big)",
        ),
    ],
    "loss": [
        (
            r"\\mathcal\{L\}\s*=",
            r"\mathcal{L} = \mathcal{L}_{\text{task}}(x) + \mathcal{L}_{\text{task}}(x \odot \mathrm{mask}) + \mathcal{L}_{\text{ent}} + \beta\,\mathcal{L}_{\text{CEC}}",
        ),
    ],
    "calibration": [
        (
            r"\\mathrm\{ECE\}\s*=",
            r"\mathrm{ECE} = \sum_{b=1}^{15} \frac{n_b}{N}\,\big|\mathrm{acc}_b - \mathrm{conf}_b\big|",
        ),
    ],
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
    """LaTeX for a topic: for each of its equations, the first method.md block that starts like it,
    else the built-in fallback."""
    blocks = method_blocks(path)
    out = []
    for pattern, fallback in TOPICS[topic]:
        found = next((b for b in blocks if re.match(pattern, b)), None)
        out.append(found if found is not None else fallback)
    return out
