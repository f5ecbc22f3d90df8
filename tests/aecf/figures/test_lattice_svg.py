"""The lattice drawn as inline SVG (aecf.figures.lattice): nodes, the violated edge in red, the status line."""

from __future__ import annotations

from aecf.figures.lattice import lattice_svg
from aecf.figures.palette import VIOLATION

SUBSETS = {
    "image": {"label": 7, "confidence": 0.90},
    "caption": {"label": 1, "confidence": 0.30},
    "audio": {"label": 7, "confidence": 0.50},
    "image+caption": {"label": 7, "confidence": 0.95},
    "audio+image": {"label": 7, "confidence": 0.80},  # image 0.90 > image+audio 0.80: one violation
    "caption+audio": {"label": 7, "confidence": 0.60},
    "image+caption+audio": {"label": 7, "confidence": 0.97},
}


def test_lattice_svg_marks_violations():
    svg = lattice_svg(SUBSETS, title="aecf")
    assert (
        'data-violations="1"' in svg and svg.count("<circle") == 7 and svg.count(f'stroke="{VIOLATION}"') >= 2
    )
    mono = {k: v for k, v in SUBSETS.items() if k != "audio+image"}
    assert 'data-violations="0"' in lattice_svg(mono) and "monotone" in lattice_svg(mono)
    assert f'stroke="{VIOLATION}"' not in lattice_svg(mono)


def test_class_names_replace_the_digits():
    svg = lattice_svg({"image": {"label": 2, "confidence": 0.4}}, class_names=("cat", "dog", "bird"))
    assert "bird" in svg and "(two)" not in svg
