"""Reading the Explore page through AppTest: its numbers are metric cards and bars inside one markdown
element (aecf.figures.app.metric_cards_html / bars_html), other pages use st.metric."""

from __future__ import annotations

import html as _html
import re


def page_html(at) -> str:
    """Every markdown element that carries inline HTML/SVG, joined."""
    return "\n".join(str(m.value) for m in at.markdown if "<svg" in str(m.value) or "data-metric" in str(m.value))


def metric(at, label: str) -> str:
    """The value of the first metric whose label starts with `label` (st.metric or a metric card)."""
    for m in at.metric:
        if m.label.startswith(label):
            return str(m.value)
    for found, value in re.findall(r'data-metric="([^"]*)"[^>]*>.*?<div data-metric-value[^>]*>(.*?)</div>', page_html(at)):
        if _html.unescape(found).startswith(label):
            return _html.unescape(value)
    raise KeyError(f"no metric {label!r}")


def has_metric(at, label: str) -> bool:
    try:
        metric(at, label)
        return True
    except KeyError:
        return False


def bars(at) -> list[str]:
    """The texts of the bars (gate weights, top labels) on the page."""
    return [_html.unescape(t) for t in re.findall(r'data-bar="([^"]*)"', page_html(at))]
