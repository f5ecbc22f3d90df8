"""The subset lattice of one example (aecf.lattice): cover edges, violations, the tolerance."""

from __future__ import annotations

from aecf.lattice import build_lattice

SUBSETS = {
    "image": {"label": 7, "confidence": 0.90},
    "caption": {"label": 1, "confidence": 0.30},
    "audio": {"label": 7, "confidence": 0.50},
    "image+caption": {"label": 7, "confidence": 0.95},
    "audio+image": {"label": 7, "confidence": 0.80},  # any order; canonical name is image+audio
    "caption+audio": {"label": 7, "confidence": 0.60},
    "image+caption+audio": {"label": 7, "confidence": 0.97},
}


def test_lattice_cover_edges_and_violations():
    lat = build_lattice(SUBSETS)
    assert set(lat.nodes) == {
        "image",
        "caption",
        "audio",
        "image+caption",
        "image+audio",
        "caption+audio",
        "image+caption+audio",
    }
    assert len(lat.edges) == 9  # Hasse diagram of a 3-set: only |B| = |A| + 1
    assert lat.violations == [("image", "image+audio")]  # 0.90 > 0.80 + 0.01
    assert [(e.lower, e.upper) for e in lat.edges if e.violated] == [("image", "image+audio")]
    assert not lat.is_monotone


def test_lattice_tolerance_and_non_cover_pairs():
    within = {
        "image": {"label": 1, "confidence": 0.505},
        "image+audio": {"label": 1, "confidence": 0.5},
        "audio": {"label": 1, "confidence": 0.1},
    }
    assert build_lattice(within).is_monotone  # 0.005 over is inside the 0.01 tolerance
    # image > image+caption+audio is a violation even though it is not a cover edge
    skip = {"image": {"label": 1, "confidence": 0.9}, "image+caption+audio": {"label": 1, "confidence": 0.5}}
    lat = build_lattice(skip)
    assert lat.violations == [("image", "image+caption+audio")] and lat.edges == []
