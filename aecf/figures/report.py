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
from plotly.subplots import make_subplots

# a fixed colour per method, so every figure of the project agrees
METHOD_COLORS = {
    "aecf": "#d62728",
    "late_fusion": "#1f77b4",
    "moddrop": "#2ca02c",
    "mean": "#9467bd",
    "gate": "#8c564b",
    "fixed_lambda": "#e377c2",
    "authors_recipe": "#ff7f0e",
    "aecf_no_adaptive_lambda": "#bcbd22",
    "aecf_no_cec": "#17becf",
    "aecf_no_acm": "#7f7f7f",
    "aecf_paper_fusion": "#393b79",
}


def _color(name: str) -> str:
    return METHOD_COLORS.get(name, "#333333")


def _drop_rates(entry: dict) -> list[str]:
    return sorted(entry.get("drop", {}), key=float)


def _std(entry: dict, *path):
    node = entry.get("std")
    for key in path:
        if not isinstance(node, dict):
            return None
        node = node.get(key)
    return node if isinstance(node, int | float) else None


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
                line=dict(color=_color(name), width=3 if name == "aecf" else 1.5),
                error_y=dict(type="data", array=[e or 0 for e in err], visible=any(e for e in err)),
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="probability that each modality is dropped (≥ 1 kept)",
        yaxis_title=yaxis,
        template="plotly_white",
        legend_title="method",
    )
    return fig


def accuracy_vs_drop(methods: dict) -> go.Figure:
    """Test accuracy against the random modality-drop rate (mean ± std over training seeds)."""
    return _metric_vs_drop(methods, "acc", "Accuracy under random missing modalities", "accuracy")


def map_vs_drop(methods: dict) -> go.Figure:
    """Test mAP (multi-label, macro over classes) against the random modality-drop rate."""
    return _metric_vs_drop(methods, "map", "mAP under random missing modalities", "mAP")


def ece_vs_drop(methods: dict, calibrated: bool = False) -> go.Figure:
    """ECE (15 bins) against the drop rate, raw or after the temperature fit on validation."""
    key = "ece_ts" if calibrated else "ece"
    title = "ECE under random missing modalities" + (" (temperature-scaled)" if calibrated else " (raw)")
    return _metric_vs_drop(methods, key, title, "expected calibration error")


def reliability_diagrams(methods: dict, condition: str = "full") -> go.Figure:
    """One panel per method: accuracy per confidence bin against the diagonal (condition: 'full' or 'drop_0.5')."""
    names = [n for n, e in methods.items() if condition in e.get("reliability", {})]
    cols = min(5, max(1, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=names,
        shared_yaxes=True,
        horizontal_spacing=0.03,
        vertical_spacing=0.12,
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
                marker_color=_color(name),
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
                line=dict(color="black", dash="dot", width=1),
                showlegend=False,
                hoverinfo="skip",
            ),
            row=r,
            col=c,
        )
    label = "all inputs" if condition == "full" else condition.replace("drop_", "random drop ")
    fig.update_layout(
        title=f"Reliability diagrams ({label}): accuracy per confidence bin",
        template="plotly_white",
        height=300 * rows + 80,
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    for i in range(len(names)):
        r, c = i // cols + 1, i % cols + 1
        if r == rows:
            fig.update_xaxes(title_text="confidence", row=r, col=c)
        if c == 1:
            fig.update_yaxes(title_text="accuracy", row=r, col=c)
    return fig


def subset_bars(methods: dict) -> go.Figure:
    """Accuracy with each of the non-empty modality subsets, one bar group per subset."""
    fig = go.Figure()
    for name, entry in methods.items():
        subsets = list(entry.get("subsets", {}))
        fig.add_trace(
            go.Bar(
                x=subsets,
                y=[entry["subsets"][s]["acc"] for s in subsets],
                name=name,
                marker_color=_color(name),
                error_y=dict(type="data", array=[_std(entry, "subsets", s, "acc") or 0 for s in subsets]),
            )
        )
    fig.update_layout(
        barmode="group",
        title="Accuracy with each modality subset",
        yaxis_title="accuracy",
        template="plotly_white",
        legend_title="method",
    )
    return fig


def subset_metric_figure(methods: dict, metric: str = "ece", title: str | None = None) -> go.Figure:
    """Grouped bars of one metric ('acc', 'ece', 'ece_ts', 'map') per subset."""
    fig = go.Figure()
    for name, entry in methods.items():
        subsets = list(entry.get("subsets", {}))
        fig.add_trace(
            go.Bar(
                x=subsets,
                y=[entry["subsets"][s].get(metric) for s in subsets],
                name=name,
                marker_color=_color(name),
            )
        )
    label = {"acc": "accuracy", "ece": "ECE (raw)", "ece_ts": "ECE (temperature-scaled)", "map": "mAP"}.get(
        metric, metric
    )
    fig.update_layout(
        barmode="group",
        title=title or f"{label} with each modality subset",
        yaxis_title=label,
        template="plotly_white",
        legend_title="method",
    )
    return fig


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
    import plotly.io as pio

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
