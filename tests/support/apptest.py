"""Reading the Explore page through AppTest: its results are one HTML block (pages/parts/ui.html_block, a
`st.components.v2` element whose data is the block's HTML) holding metric cards and bars
(aecf.figures.app.metric_cards_html / bars_html); other pages use st.metric and markdown."""

from __future__ import annotations

import html as _html
import json
import re


def html_blocks(at) -> list[str]:
    """The HTML of every html_block on the page (AppTest shows a v2 component as an element whose proto
    carries its data as JSON); views sent ahead unseen (`sent_ahead`) are not on the page."""
    out = []
    for el in at.get("bidi_component"):
        proto = el.proto
        if proto.component_name == "aecf_html_block" and proto.WhichOneof("data") == "json":
            data = json.loads(proto.json)
            if isinstance(data, str):
                out.append(data)
    return out


def sent_ahead(at) -> dict:
    """The views the page sent ahead, unseen (pages/parts/ui.instant_views): {"views": {key: html},
    "target": block key, "controls": [[widget key, digits], ...]}, or {} when none."""
    for el in at.get("bidi_component"):
        proto = el.proto
        if proto.component_name == "aecf_html_block" and proto.WhichOneof("data") == "json":
            data = json.loads(proto.json)
            if isinstance(data, dict):
                return data
    return {}


def page_html(at) -> str:
    """Every HTML block and every markdown element that carries inline HTML/SVG, joined."""
    md = [str(m.value) for m in at.markdown if "<svg" in str(m.value) or "data-metric" in str(m.value)]
    return "\n".join(html_blocks(at) + md)


def shown_text(at) -> str:
    """Everything the page writes as headers, markdown or HTML blocks, joined (for 'is this on the page')."""
    parts = [str(e.value) for kind in (at.header, at.subheader, at.markdown) for e in kind]
    return "\n".join(parts + html_blocks(at))


def metric(at, label: str) -> str:
    """The value of the first metric whose label starts with `label` (st.metric or a metric card)."""
    for m in at.metric:
        if m.label.startswith(label):
            return str(m.value)
    for found, value in re.findall(
        r'data-metric="([^"]*)"[^>]*>.*?<div data-metric-value[^>]*>(.*?)</div>', page_html(at)
    ):
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


def _strings(value) -> list[str]:
    """Every string inside a JSON-like value (a plotly figure's titles, axis titles, legend names ...)."""
    if isinstance(value, str):
        try:
            inner = json.loads(value) if value[:1] in "{[" else None
        except ValueError:
            inner = None
        return [value] if inner is None else _strings(inner)
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def all_text(at) -> str:
    """Every name the page shows, as one string with single spaces: labels of tabs, expanders and widgets, widget
    options, headers, markdown, captions, metrics, dataframe columns and cells, chart titles and the text of HTML
    blocks (tags removed). For "is the name a lesson points at on this page"."""
    from google.protobuf.json_format import MessageToDict

    parts: list[str] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if node.type in ("arrow_data_frame", "dataframe", "table") and hasattr(node, "value"):
            frame = node.value
            parts.extend(str(c) for c in frame.columns)
            parts.extend(str(v) for v in frame.astype(str).to_numpy().ravel())
        elif proto is not None and hasattr(proto, "DESCRIPTOR"):
            parts.extend(_strings(MessageToDict(proto)))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    text = "\n".join(parts + html_blocks(at))
    text = _html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text)
