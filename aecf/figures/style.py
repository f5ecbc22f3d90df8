"""How every figure of the project reads: text at Streamlit's body size (16 px) or larger, so that a chart reads
from the back of a classroom at 1920×1080 as well as on a laptop at 1400×900; legends under the plot (never
beside it, where they take half a narrow chart's width); margins that grow to fit their labels.

One size for every screen rather than a "presentation" switch: 16 px is the size of the app's own text, so
charts never read smaller than the sentences around them, and a teacher has nothing to remember to switch on.
"""

from __future__ import annotations

import plotly.graph_objects as go

from aecf.figures import palette

FONT_FAMILY = '"Source Sans", "Source Sans Pro", sans-serif'  # Streamlit's own font
FONT_SIZE = 16  # ticks, legends, axis titles, annotations, hover labels
TITLE_SIZE = 18
# inline SVG (the Explore page, the Train page's live curves): sizes in the SVG's own units, drawn at least at
# its viewBox width where the page is 1920 px wide (tests/pages/test_browser_layout.py measures them)
SVG_FONT = 16
SVG_SMALL_FONT = 15  # secondary lines (keys, tick labels)
SVG_TITLE_FONT = 18


def house_style(
    fig: go.Figure, height: int | None = None, title: str | None = None, legend: bool | None = None
) -> go.Figure:
    """Apply the project's look to `fig` in place (and return it): fonts, a title at the top left, a
    horizontal legend under the plot when there is more than one named series, automargins."""
    if legend is None:
        legend = sum(1 for t in fig.data if t.showlegend is not False and t.name) > 1
    font = {"family": FONT_FAMILY, "size": FONT_SIZE, "color": palette.TEXT}
    layout = {
        "font": font,
        "template": "plotly_white",
        "showlegend": legend,
        "hoverlabel": {"font": {"size": FONT_SIZE, "family": FONT_FAMILY}},
        "margin": {"l": 10, "r": 10, "t": 56 if (title or fig.layout.title.text) else 16, "b": 10},
        "legend": {
            "orientation": "h",
            "xref": "container",
            "yref": "container",
            "x": 0,
            "xanchor": "left",
            "y": 0,
            "yanchor": "bottom",
            "font": font,
            "title": {"text": ""},
        },
    }
    if title is not None:
        layout["title"] = {"text": title}
    if height is not None:
        layout["height"] = height
    fig.update_layout(**layout)
    fig.update_layout(
        title={
            "x": 0,
            "xref": "container",
            "xanchor": "left",
            "pad": {"l": 8},
            "font": {"size": TITLE_SIZE, "family": FONT_FAMILY, "color": palette.TEXT},
        }
    )
    axis = {
        "automargin": True,
        "tickfont": {"size": FONT_SIZE, "family": FONT_FAMILY},
        "title_font": {"size": FONT_SIZE, "family": FONT_FAMILY},
        "title_standoff": 8,
    }
    fig.update_xaxes(**axis)
    fig.update_yaxes(**axis)
    fig.update_annotations(font_size=FONT_SIZE)
    return fig
