"""Equations for the app's teaching boxes, taken from docs/method.md so the app and the docs agree.

Each `$$ ... $$` block of docs/method.md is a candidate; a topic picks the blocks whose LaTeX mentions
its keywords. When method.md is absent or has no matching block, a built-in equation is used, so a
page never shows an empty explanation.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from aecf.constants import ROOT

METHOD_DOC = ROOT / "docs" / "method.md"

# topic -> (regexes any of which a block must match, fallback equations)
TOPICS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "gate": (
        (r"\\operatorname\{softmax\}|\\mathrm\{softmax\}|softmax", r"\\sum_\{?m", r"W_m"),
        (
            r"p(x) = \operatorname{softmax}_{m \in S}\big(g_\phi(z_{S})\big), \qquad p_m = 0 \;\; (m \notin S)",
            r"f(x) = \sum_{m \in S} p_m(x)\, W_m z_m, \qquad \hat y = \operatorname{softmax}\big(h_\psi(f)\big)",
        ),
    ),
    "entropy": (
        (r"H\(p", r"\\lambda\(x\)", r"\\mathrm\{Var\}|\\operatorname\{Var\}"),
        (
            r"H(p) = -\sum_{m} p_m \log p_m",
            r"\lambda(x) = \lambda_{\min} + (\lambda_{\max}-\lambda_{\min})\,"
            r"\sigma\!\Big(\tfrac{1}{K}\textstyle\sum_{k=1}^{K} \lVert \hat y^{(k)} - \bar y \rVert^2\Big), \quad \text{stop-gradient}",
            r"\mathcal{L}_{\text{ent}} = -\lambda(x)\, H\big(p(x)\big)",
        ),
    ),
    "cec": (
        (r"c\(A\)", r"A\s*\\subset\s*B", r"\\max\s*\(0"),
        (
            r"\mathcal{L}_{\text{CEC}} = \mathbb{E}_{A \subset B \subseteq S}\,\big[\max\big(0,\; c(A) - c(B)\big)^2\big],"
            r"\qquad c(S) = \max_y \hat y_S(y)",
        ),
    ),
    "masking": (
        (r"\\pi", r"mask", r"ModDrop|moddrop"),
        (
            r"\Pr[\text{drop } m] \;\propto\; \pi_t \cdot p_m(x)\,\big(1 - H(p)/\log|S|\big), \qquad \pi_t \nearrow \pi_{\max}",
            r"\text{ModDrop: } \Pr[\text{drop } m] = \pi \;\; \text{(flat, independent of the input)}",
        ),
    ),
    "loss": (
        (r"\\mathcal\{L\}\s*=", r"\\beta", r"\\mathcal\{L\}_\{\\text\{task"),
        (
            r"\mathcal{L} = \mathcal{L}_{\text{task}}(x) + \mathcal{L}_{\text{task}}(x \odot M)"
            r" - \lambda(x)\,H(p) + \beta\,\mathcal{L}_{\text{CEC}}",
        ),
    ),
    "calibration": (
        (r"ECE", r"\\mathrm\{acc\}|\\operatorname\{acc\}", r"B_b"),
        (
            r"\mathrm{ECE} = \sum_{b=1}^{15} \frac{|B_b|}{n}\,\big|\mathrm{acc}(B_b) - \mathrm{conf}(B_b)\big|",
        ),
    ),
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


def equations(topic: str, path: str | Path = METHOD_DOC, limit: int = 3) -> list[str]:
    """LaTeX for a topic: matching blocks from method.md, else the built-in fallback."""
    patterns, fallback = TOPICS[topic]
    found = [b for b in method_blocks(path) if any(re.search(p, b) for p in patterns)]
    return found[:limit] if found else list(fallback)
