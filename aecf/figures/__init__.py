"""Pure figure builders (plotly and inline SVG): `report` for evaluation results (the reports and the
Subsets page), `app` for the app's other pages (one example's diagnostics, training curves, masks); every
colour from `palette`, every font size and margin from `style`."""

from aecf.figures.palette import METHOD_COLORS, MODALITY_COLORS
from aecf.figures.report import (
    accuracy_vs_drop,
    ece_vs_drop,
    map_vs_drop,
    reliability_diagrams,
    report_figures,
    save_figures,
    subset_bars,
    subset_metric_figure,
)

__all__ = [
    "METHOD_COLORS",
    "MODALITY_COLORS",
    "accuracy_vs_drop",
    "ece_vs_drop",
    "map_vs_drop",
    "reliability_diagrams",
    "report_figures",
    "save_figures",
    "subset_bars",
    "subset_metric_figure",
]
