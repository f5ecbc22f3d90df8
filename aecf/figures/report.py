"""Plotly figures of evaluation results, shared by the reports (aecf.evaluate) and the app.

Every function takes the `results["methods"]` mapping that aecf.evaluate produces (or one method's entry)
and returns a `plotly.graph_objects.Figure`; `save_figures` writes HTML, and PNG through kaleido when a
browser is available.
"""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from aecf.figures import palette, style
from aecf.figures.style import house_style


def _color(name: str) -> str:
    return palette.method_color(name, palette.NEUTRAL)


def _line(name: str) -> dict:
    return dict(
        color=_color(name),
        width=3.5 if name == "aecf" else 2,
        dash="dash" if palette.is_variant(name) else "solid",
    )


def _bar_marker(name: str) -> dict:
    marker = dict(color=_color(name))
    if palette.is_variant(name):
        marker["pattern"] = dict(shape="/", fgcolor="white", solidity=0.25)
    return marker


def _drop_rates(entry: dict) -> list[str]:
    return sorted(entry.get("drop", {}), key=float)


def _std(entry: dict, *path):
    node = entry.get("std")
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, int | float) else None


DROP_AXIS = "drop rate r (≥ 1 modality kept)"
# the metrics' names on axes and in titles: short, so that a chart a third of a 1400 px page wide keeps them whole
METRIC_LABELS = {"acc": "accuracy", "ece": "ECE", "ece_ts": "ECE, temperature-scaled", "map": "mAP"}


def _metric_vs_drop(methods: dict, metric: str, title: str, yaxis: str) -> go.Figure:
    fig = go.Figure()
    for name, entry in methods.items():
        rates = _drop_rates(entry)
        y = [entry["drop"][r].get(metric) for r in rates]
        err = [_std(entry, "drop", r, metric) for r in rates]
        fig.add_trace(
            go.Scatter(
                x=[float(r) for r in rates],
                y=y,
                name=name,
                mode="lines+markers",
                line=_line(name),
                marker=dict(size=7),
                error_y=dict(type="data", array=[e or 0 for e in err], visible=any(e for e in err)),
            )
        )
    fig.update_xaxes(title=DROP_AXIS)
    fig.update_yaxes(title=yaxis)
    return house_style(fig, height=420, title=title)


def accuracy_vs_drop(methods: dict) -> go.Figure:
    """Test accuracy against the random modality-drop rate (mean ± std over training seeds)."""
    return _metric_vs_drop(methods, "acc", "Accuracy vs drop rate", "accuracy")


def map_vs_drop(methods: dict) -> go.Figure:
    """Test mAP (multi-label, macro over classes) against the random modality-drop rate."""
    return _metric_vs_drop(methods, "map", "mAP vs drop rate", "mAP")


def ece_vs_drop(methods: dict, calibrated: bool = False) -> go.Figure:
    """ECE (15 bins) against the drop rate, raw or after the temperature fit on validation."""
    key = "ece_ts" if calibrated else "ece"
    title = "ECE vs drop rate" + (", temperature-scaled" if calibrated else " (raw)")
    return _metric_vs_drop(methods, key, title, METRIC_LABELS[key])


def reliability_diagrams(methods: dict, condition: str = "full") -> go.Figure:
    """One panel per method: accuracy per confidence bin against the diagonal (condition: 'full' or 'drop_0.5')."""
    names = [n for n, e in methods.items() if condition in e.get("reliability", {})]
    cols = min(4, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=names,
        shared_yaxes=True,
        horizontal_spacing=0.04,
        vertical_spacing=0.16 if rows > 1 else 0.1,
    )
    for i, name in enumerate(names):
        bins = methods[name]["reliability"][condition]
        r, c = i // cols + 1, i % cols + 1
        centers = [(lo + hi) / 2 for lo, hi in zip(bins["lower"], bins["upper"], strict=True)]
        width = bins["upper"][0] - bins["lower"][0]
        fig.add_trace(
            go.Bar(
                x=centers,
                y=[a or 0 for a in bins["accuracy"]],
                width=width * 0.95,
                marker=_bar_marker(name),
                name=name,
                showlegend=False,
                customdata=bins["count"],
                hovertemplate="conf %{x:.2f}<br>acc %{y:.3f}<br>n %{customdata}",
            ),
            row=r,
            col=c,
        )
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[0, 1],
                mode="lines",
                line=dict(color=palette.BLACK, dash="dot", width=1),
                showlegend=False,
                hoverinfo="skip",
            ),
            row=r,
            col=c,
        )
    label = "all inputs" if condition == "full" else condition.replace("drop_", "random drop ")
    fig.update_xaxes(range=[0, 1], tickvals=[0, 0.5, 1])
    fig.update_yaxes(range=[0, 1], tickvals=[0, 0.5, 1])
    for i in range(len(names)):
        r, c = i // cols + 1, i % cols + 1
        if r == rows:
            fig.update_xaxes(title_text="confidence", row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text="accuracy", row=r, col=c)
    house_style(
        fig, height=300 * rows + 90, title=f"Reliability, {label}: accuracy per confidence bin", legend=False
    )
    fig.update_annotations(font_size=style.FONT_SIZE)  # the panel titles
    return fig


def subset_bars(methods: dict) -> go.Figure:
    """Accuracy with each of the non-empty modality subsets, one bar group per subset."""
    return subset_metric_figure(methods, "acc", "Accuracy per modality subset", errors=True)


def subset_metric_figure(
    methods: dict, metric: str = "ece", title: str | None = None, errors: bool = False
) -> go.Figure:
    """Grouped bars of one metric ('acc', 'ece', 'ece_ts', 'map') per subset; `errors`: ± std over seeds."""
    fig = go.Figure()
    for name, entry in methods.items():
        subsets = list(entry.get("subsets", {}))
        bar = go.Bar(
            x=[_subset_tick(s) for s in subsets],
            y=[entry["subsets"][s].get(metric) for s in subsets],
            name=name,
            marker=_bar_marker(name),
            customdata=subsets,
            hovertemplate="%{customdata}: %{y:.3f}<extra>" + name + "</extra>",
        )
        if errors:
            bar.error_y = dict(type="data", array=[_std(entry, "subsets", s, metric) or 0 for s in subsets])
        fig.add_trace(bar)
    label = METRIC_LABELS.get(metric, metric)
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title="modalities present", tickangle=0)
    fig.update_yaxes(title=label)
    return house_style(fig, height=440, title=title or f"{label} per modality subset")


def _subset_tick(subset: str) -> str:
    """'image+caption+audio' -> 'image<br>caption<br>audio': a subset's tick stays as wide as its longest
    modality name, so seven groups fit under a chart half a 1400 px page wide."""
    return "<br>".join(subset.split("+"))


def report_figures(methods: dict) -> dict[str, go.Figure]:
    """The evaluation figures by file stem."""
    figs = {
        "accuracy_vs_drop": accuracy_vs_drop(methods),
        "ece_vs_drop": ece_vs_drop(methods),
        "ece_ts_vs_drop": ece_vs_drop(methods, calibrated=True),
        "subset_accuracy": subset_bars(methods),
        "reliability_full": reliability_diagrams(methods, "full"),
    }
    if any("map" in e.get("full", {}) for e in methods.values()):  # multi-label (COCO): mAP is the headline
        figs["map_vs_drop"] = map_vs_drop(methods)
    if any("drop_0.5" in e.get("reliability", {}) for e in methods.values()):
        figs["reliability_drop_0.5"] = reliability_diagrams(methods, "drop_0.5")
    return figs


def save_figures(figs: dict[str, go.Figure], out_dir: str | Path, png: bool = True) -> list[Path]:
    """Write <stem>.html for each figure and, if possible, <stem>.png (kaleido + a Chromium).

    If kaleido cannot find a browser, retry with /usr/bin/chromium (BROWSER_PATH); if PNG export still
    fails, warn and keep the HTML files rather than fail the report.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for stem, fig in figs.items():
        path = out_dir / f"{stem}.html"
        fig.write_html(path, include_plotlyjs="cdn")
        written.append(path)
    if png and figs:
        written.extend(_write_pngs(figs, out_dir))
    return written


def _write_pngs(figs: dict[str, go.Figure], out_dir: Path) -> list[Path]:

    paths = [out_dir / f"{stem}.png" for stem in figs]
    last_error = None
    for attempt in range(2):
        try:
            pio.write_images(list(figs.values()), paths, width=1100, height=None, scale=1)
            return paths
        except Exception as e:  # kaleido raises several types (no browser, browser crash, timeout)
            last_error = e
            chromium = shutil.which("chromium") or (
                "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            )
            if attempt == 0 and chromium and os.environ.get("BROWSER_PATH") != chromium:
                os.environ["BROWSER_PATH"] = chromium
                continue
            break
    warnings.warn(
        f"PNG export skipped (HTML figures were written): {type(last_error).__name__}: {last_error}",
        stacklevel=2,
    )
    return []
