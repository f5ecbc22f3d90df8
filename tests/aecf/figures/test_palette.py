"""The palette: one owner of every colour, and colours that stay apart for colour-blind readers."""

from __future__ import annotations

import colorsys
import itertools
import re
from pathlib import Path

import numpy as np
import pytest

from aecf.constants import MODALITIES
from aecf.figures import palette
from aecf.paths import ROOT

# Machado, Oliveira & Fernandes (2009), severity 1.0, applied to linear RGB
CVD = {
    "normal": np.eye(3),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]]
    ),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]]
    ),
    "tritanopia": np.array(
        [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]
    ),
}
MIN_DELTA_E = 15.0  # CIE76 in Lab: ~2.3 is "just noticeable"; 15 is two colours no one confuses in a legend


def _lab(hex_color: str, vision: str) -> np.ndarray:
    rgb = np.array([int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    linear = np.clip(CVD[vision] @ linear, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    t = xyz / np.array([0.95047, 1.0, 1.08883])
    f = np.where(t > (6 / 29) ** 3, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _closest_pair(colors: dict[str, str], vision: str) -> tuple[float, str, str]:
    return min(
        (float(np.linalg.norm(_lab(colors[a], vision) - _lab(colors[b], vision))), a, b)
        for a, b in itertools.combinations(colors, 2)
    )


GROUPS = {
    "modalities": palette.MODALITY_COLORS,
    "main methods (solid)": palette.MAIN_METHOD_COLORS,
    "AECF variants (dashed)": palette.VARIANT_METHOD_COLORS,
    "the first four series": dict(enumerate(palette.SERIES_COLORS[:4])),
    "a lattice: violation against the confidence ramp's ends and the plain edge": {
        "violation": palette.VIOLATION,
        "low": "#440154",
        "high": "#FDE725",
        "edge": "#ADB5BD",
    },
}


@pytest.mark.parametrize("vision", list(CVD))
@pytest.mark.parametrize("group", list(GROUPS))
def test_colours_that_share_a_figure_stay_apart_for_every_reader(group, vision):
    distance, a, b = _closest_pair(GROUPS[group], vision)
    assert distance >= MIN_DELTA_E, f"{group}: {a} and {b} are {distance:.1f} apart under {vision}"


def test_every_method_has_its_own_colour_and_the_variants_a_second_cue():
    assert set(palette.MODALITY_COLORS) == set(MODALITIES)
    assert not set(palette.MAIN_METHOD_COLORS) & set(palette.VARIANT_METHOD_COLORS)
    assert len(set(palette.METHOD_COLORS.values())) == len(palette.METHOD_COLORS)
    distance, a, b = _closest_pair(palette.METHOD_COLORS, "normal")
    assert distance >= MIN_DELTA_E, f"{a} and {b}"
    assert all(palette.is_variant(n) for n in palette.VARIANT_METHOD_COLORS)
    assert not any(palette.is_variant(n) for n in palette.MAIN_METHOD_COLORS)


def test_the_modalities_have_distinct_hues():
    hues = {
        m: colorsys.rgb_to_hls(*(int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)))[0] * 360
        for m, c in palette.MODALITY_COLORS.items()
    }
    for a, b in itertools.combinations(hues, 2):
        gap = abs(hues[a] - hues[b]) % 360
        assert min(gap, 360 - gap) >= 30, (a, b, hues)  # blue, orange, bluish green: three named hues


def test_names_find_their_colour():
    assert palette.method_color("aecf (AECF)") == palette.METHOD_COLORS["aecf"]
    assert palette.method_color("shipped: late_fusion") == palette.METHOD_COLORS["late_fusion"]
    assert palette.method_color("aecf.seed1") == palette.METHOD_COLORS["aecf"]
    assert palette.method_color("run: 2024-aecf") == palette.NEUTRAL
    colors = palette.series_colors(["overall", "image", "aecf", "π_t", "aecf.seed1"])
    assert (
        colors["image"] == palette.MODALITY_COLORS["image"]
        and colors["aecf"] == palette.METHOD_COLORS["aecf"]
    )
    assert len(set(colors.values())) == 5  # the second aecf and the unknown names take free colours


def test_no_colour_is_defined_outside_the_palette():
    """Every hex colour the figures and the pages draw with comes from aecf/figures/palette.py (greys for
    boxes, grids and edges aside)."""
    allowed = {
        c.upper() for c in re.findall(r"#[0-9A-Fa-f]{6}", (ROOT / "aecf/figures/palette.py").read_text())
    }
    allowed |= {"#F1F3F5", "#495057", "#ADB5BD", "#343A40", "#FFFFFF"}  # neutral greys and white
    files = [ROOT / "aecf/figures/app.py", ROOT / "aecf/figures/report.py", ROOT / "aecf/lattice.py"]
    files += sorted(Path(ROOT / "pages").rglob("*.py")) + sorted(Path(ROOT / "pages/parts").glob("*.css"))
    stray = {
        f"{path.relative_to(ROOT)}: {c}"
        for path in files
        for c in re.findall(r"#[0-9A-Fa-f]{6}\b", path.read_text())
        if c.upper() not in allowed
    }
    assert not stray, sorted(stray)


def test_the_pages_css_gets_the_palette_as_variables():
    css = palette.css_variables()
    assert f"--aecf-image: {palette.MODALITY_COLORS['image']};" in css and css.startswith(":root {")
