"""The subset view for many modalities (aecf/figures/subsets_many.py): a strip per size with its best and worst
named, the chain drawn with its falls, CEC's rule counted; well-formed markup whatever the names."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from aecf.figures.palette import VIOLATION
from aecf.figures.style import SVG_SMALL_FONT
from aecf.figures.subsets_many import monotonicity_html, subset_strips_svg

ROWS = [
    [("b", "b", 0.9, True), ("a<&>", "a<&>", 0.6, False), ("c", "c", 0.3, True)],
    [("a<&>+b", "a<&>+b", 0.95, True), ("b+c", "b+c", 0.7, True), ("a<&>+c", "a<&>+c", 0.5, False)],
    [("a<&>+b+c", "all 3", 0.8, True)],
]


def test_strips_name_each_sizes_best_and_worst_and_mark_the_falls():
    svg = subset_strips_svg(ROWS, [("b", False), ("a<&>+b", False), ("a<&>+b+c", True)], tol=0.01)
    root = ET.fromstring(svg)  # well-formed: the odd name is escaped
    assert root.get("data-sizes") == "3" and root.get("data-subsets") == "7" and root.get("data-falls") == "1"
    texts = {
        el.get("data-best") or el.get("data-worst"): el
        for el in root.iter()
        if el.get("data-best") or el.get("data-worst")
    }
    assert set(texts) == {"b", "c", "a<&>+b", "a<&>+c"}  # size 3 has one subset: named, not best and worst
    lines = [el for el in root.iter("{http://www.w3.org/2000/svg}line") if el.get("data-fall") is not None]
    assert [el.get("data-fall") for el in lines] == ["0", "1"]
    assert lines[1].get("stroke") == VIOLATION
    dots = [g for g in root.iter("{http://www.w3.org/2000/svg}circle") if g.get("data-subset")]
    assert len(dots) == 7 and {g.get("data-confidence") for g in dots} >= {"0.300", "0.950"}
    sizes = {float(el.get("font-size")) for el in root.iter() if el.get("font-size")}
    assert min(sizes) >= SVG_SMALL_FONT  # the house sizes: nothing smaller


def test_monotonicity_counts_and_the_chain_in_words():
    html = monotonicity_html(
        3,
        steps=9,
        violated_steps=1,
        chains=6,
        monotone_chains=4,
        by_modality=[("a<&>", 0, 3), ("b", 0, 3), ("c", 1, 3)],
        worst=("a<&>+b", "a<&>+b+c", 0.95, 0.8),
        chain=[("b", 0.9, False), ("a<&>", 0.95, False), ("c", 0.8, True)],
        chain_label="line: the chain through the largest fall",
    )
    ET.fromstring(html)
    assert "1 of 9 steps" in html and "4 of the 6 orders" in html and "a&lt;&amp;&gt;+b" in html
    assert html.count("data-bar=") == 3 and "adding c: 1 of 3 steps lose confidence" in html
    assert f'color:{VIOLATION};font-weight:600">+c 0.80' in html
    one = monotonicity_html(1, 0, 0, 1, 1, [("a", 0, 0)], None, [("a", 0.7, False)], "line")
    assert "no smaller subset" in one
