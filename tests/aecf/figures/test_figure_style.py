"""Every figure reads on a projector: chart text at 16 px or more, legends under the plot, colours from the
palette; the inline SVGs' text is drawn at 16 px or more wherever their column is as wide as they allow."""

from __future__ import annotations

import json
import re

import numpy as np
import plotly.graph_objects as go
import pytest

from aecf.figures import app as F
from aecf.figures import palette, report
from aecf.figures.lattice import lattice_svg
from aecf.figures.style import FONT_SIZE
from aecf.paths import ROOT

METHODS = json.loads((ROOT / "results" / "results.json").read_text())["methods"]
SOME = {k: METHODS[k] for k in ("aecf", "late_fusion", "moddrop", "specialists", "aecf_no_cec")}
CURVES = {"overall": ([1, 2, 3], [0.1, 0.2, 0.3]), "π_t (curriculum)": ([1, 2, 3], [0.2, 0.3, 0.4])}
CURVES |= {m: ([1, 2, 3], [0.3, 0.2, 0.1]) for m in ("image", "caption", "audio")}
SUBSETS = {
    "image": {"label": 3, "confidence": 0.42},
    "caption": {"label": 3, "confidence": 0.57},
    "audio": {"label": 3, "confidence": 0.83},
    "image+caption": {"label": 3, "confidence": 0.56},
    "image+audio": {"label": 3, "confidence": 0.86},
    "caption+audio": {"label": 3, "confidence": 1.0},
    "image+caption+audio": {"label": 3, "confidence": 1.0},
}

PLOTLY = {
    "accuracy_vs_drop": lambda: report.accuracy_vs_drop(SOME),
    "map_vs_drop": lambda: report.map_vs_drop(SOME),
    "ece_vs_drop": lambda: report.ece_vs_drop(SOME),
    "ece_ts_vs_drop": lambda: report.ece_vs_drop(SOME, calibrated=True),
    "reliability": lambda: report.reliability_diagrams(SOME),
    "subset_bars": lambda: report.subset_bars(SOME),
    "subset_ece": lambda: report.subset_metric_figure(SOME, "ece"),
    "architecture": F.architecture_figure,
    "curves": lambda: F.curves_figure(CURVES, "Per-modality mask rate and π_t", y_range=(0, 1)),
    "masks": lambda: F.mask_distribution_figure({"image+caption": 0.2, "caption+audio": 0.5, "audio": 0.3}),
    "drop_ratio": lambda: F.drop_ratio_figure(
        {"aecf": np.linspace(1, 5, 50), "aecf_paper_fusion": np.linspace(1, 3, 50)}, 6.0, "ratios"
    ),
    "per_modality": lambda: F.per_modality_bars({"image": 0.95, "caption": 0.23, "audio": 0.23}, "q", "q_m"),
}


def _sizes(fig: go.Figure) -> dict[str, float | None]:
    """Every font size the figure sets, by where (None: inherits the layout's)."""
    layout = fig.layout
    sizes = {"layout": layout.font.size, "title": layout.title.font.size, "legend": layout.legend.font.size}
    for name in [k for k in layout.to_plotly_json() if re.fullmatch(r"[xy]axis\d*", k)]:
        axis = layout[name]
        sizes[f"{name} ticks"] = axis.tickfont.size
        sizes[f"{name} title"] = axis.title.font.size
    for i, note in enumerate(layout.annotations):
        sizes[f"annotation {i}"] = note.font.size
    return sizes


@pytest.mark.parametrize("name", list(PLOTLY))
def test_plotly_text_is_16px_or_more_and_the_legend_is_under_the_plot(name):
    fig = PLOTLY[name]()
    assert fig.layout.font.size >= FONT_SIZE >= 16
    small = {where: size for where, size in _sizes(fig).items() if size is not None and size < 16}
    assert not small, small
    if fig.layout.showlegend:
        legend = fig.layout.legend
        assert legend.orientation == "h" and legend.yref == "container" and legend.y == 0


@pytest.mark.parametrize("name", list(PLOTLY))
def test_plotly_colours_come_from_the_palette(name):
    fig = PLOTLY[name]()
    known = {
        c.upper()
        for c in [*palette.SERIES_COLORS, *palette.METHOD_COLORS.values(), *palette.MODALITY_COLORS.values()]
        + [palette.BLACK, palette.NEUTRAL, palette.ACM, palette.LAMBDA, palette.VIOLATION]
    }
    used = set()
    for trace in fig.data:
        for color in (
            getattr(getattr(trace, "marker", None), "color", None),
            getattr(getattr(trace, "line", None), "color", None),
        ):
            if isinstance(color, str):
                used.add(color.upper())
            elif isinstance(color, tuple | list):
                used |= {c.upper() for c in color if isinstance(c, str)}
    assert used <= known, used - known


def test_methods_keep_their_colour_and_variants_are_dashed():
    fig = report.accuracy_vs_drop(SOME)
    lines = {t.name: t.line for t in fig.data}
    assert lines["aecf"].color == palette.METHOD_COLORS["aecf"] and lines["aecf"].dash == "solid"
    assert lines["aecf_no_cec"].dash == "dash"
    bars = {t.name: t.marker for t in report.subset_bars(SOME).data}
    assert bars["aecf_no_cec"].pattern.shape == "/" and not bars["aecf"].pattern.shape


def test_a_value_over_a_full_bar_is_not_cut_by_the_axis():
    fig = F.per_modality_bars({"image": 0.95, "caption": 0.23, "audio": 0.23}, "ACM", "q_m")
    assert fig.data[0].cliponaxis is False and fig.layout.yaxis.range[1] > 1.1
    assert fig.data[0].textposition == "outside"


def test_subset_ticks_stack_one_modality_a_line():
    ticks = list(report.subset_bars(SOME).data[0].x)
    assert "image<br>caption<br>audio" in ticks and all("+" not in t for t in ticks)


SVGS = {
    "probs": lambda: F.probs_svg([("aecf (AECF)", np.full(10, 0.1)), ("late_fusion", np.full(10, 0.1))]),
    "mc": lambda: F.mc_passes_svg(np.full((20, 10), 0.1), 3, "λ(x) reads these K = 20 MC-dropout passes"),
    "curves": lambda: F.curves_svg(CURVES, "Mask rates", y_range=(0, 1)),
    "lattice": lambda: lattice_svg(SUBSETS, title="late_fusion (baseline)"),
}


@pytest.mark.parametrize("name", list(SVGS))
def test_svg_text_is_drawn_at_16px_where_its_column_allows(name):
    svg = SVGS[name]()
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    max_width = float(re.search(r"max-width: ([\d.]+)px", svg).group(1))
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes and min(sizes) >= 15  # in the SVG's own units: at its own width, nothing under 15 px
    assert min(sizes) * max_width / width >= 16  # drawn as wide as it may grow, nothing under 16 px
