"""Plotly figures of evaluation results, shared by the reports (aecf.evaluate) and the app.

Every function takes the `results["methods"]` mapping that aecf.evaluate produces (or one method's entry)
and returns a `plotly.graph_objects.Figure`; `save_figures` writes HTML, and PNG through kaleido when a
browser is available; `report_html` is every figure in one page that needs no network, `figure_pngs` the
PNGs as bytes.

The keys of the mapping name the series: a method (`aecf`, the digits results) or any label that starts with
one (`aecf (s0, 14:30)`, a run on a dataset). A method keeps its own colour; a second series of the same
method, or a name that is no method, takes the first palette colour no other series of the figure has.
The builders take any number of modalities (a subset is its names joined by `+`) and of classes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from html import escape
from pathlib import Path

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from aecf.figures import palette, style
from aecf.figures.style import house_style


def _colors(names) -> dict[str, str]:
    """A colour per series: a method's own (the first series of that method), else the first palette colours
    no other series of the figure has. Names that are no method and come alone keep the neutral grey."""
    names = list(dict.fromkeys(names))
    methods = [palette.method_key(n) for n in names]
    if all(m is not None for m in methods) and len(set(methods)) == len(methods):
        return {n: palette.method_color(n, palette.NEUTRAL) for n in names}  # one series per method
    if len(names) == 1:
        return {names[0]: palette.method_color(names[0], palette.NEUTRAL)}
    own: dict[str, str] = {}
    for name in names:
        color = palette.method_color(name, "") if palette.method_key(name) else ""
        if color and color not in own.values():
            own[name] = color
    free = [c for c in palette.SERIES_COLORS if c not in own.values()] or palette.SERIES_COLORS
    rest = [n for n in names if n not in own]
    return {n: own[n] if n in own else free[rest.index(n) % len(free)] for n in names}


def _line(name: str, color: str) -> dict:
    return dict(
        color=color,
        width=3.5 if palette.method_key(name) == "aecf" else 2,
        dash="dash" if palette.is_variant(name) else "solid",
    )


def _bar_marker(name: str, color: str) -> dict:
    marker = dict(color=color)
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
    colors = _colors(methods)
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
                line=_line(name, colors[name]),
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
    colors = _colors(names)
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
                marker=_bar_marker(name, colors[name]),
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
    methods: dict,
    metric: str = "ece",
    title: str | None = None,
    errors: bool = False,
    subsets: list[str] | None = None,
    n_modalities: int | None = None,
) -> go.Figure:
    """Grouped bars of one metric ('acc', 'ece', 'ece_ts', 'map') per subset; `errors`: ± std over seeds;
    `subsets`: only these (in this order), e.g. the single modalities and the full set of a dataset with many;
    `n_modalities`: the dataset's count, above ALL_IN_ONE_TICK a large subset is ticked by its size."""
    fig = go.Figure()
    colors = _colors(methods)
    for name, entry in methods.items():
        shown = [s for s in (subsets or entry.get("subsets", {})) if s in entry.get("subsets", {})]
        bar = go.Bar(
            x=[_subset_tick(s, n_modalities) for s in shown],
            y=[entry["subsets"][s].get(metric) for s in shown],
            name=name,
            marker=_bar_marker(name, colors[name]),
            customdata=shown,
            hovertemplate="%{customdata}: %{y:.3f}<extra>" + name + "</extra>",
        )
        if errors:
            bar.error_y = dict(type="data", array=[_std(entry, "subsets", s, metric) or 0 for s in shown])
        fig.add_trace(bar)
    label = METRIC_LABELS.get(metric, metric)
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title="modalities present", tickangle=0)
    fig.update_yaxes(title=label)
    return house_style(fig, height=440, title=title or f"{label} per modality subset")


ALL_IN_ONE_TICK = 4  # a subset of more modalities is ticked "all 6" / "5 of 6", not one line per name


def _subset_tick(subset: str, n_modalities: int | None = None) -> str:
    """'image+caption+audio' -> 'image<br>caption<br>audio': a subset's tick stays as wide as its longest
    modality name, so seven groups fit under a chart half a 1400 px page wide. With `n_modalities` above
    ALL_IN_ONE_TICK, a subset of more than that many names is ticked by its size ("all 6", "5 of 6"): its
    name stays in the hover text and the tables."""
    parts = subset.split("+")
    if n_modalities and n_modalities > ALL_IN_ONE_TICK and len(parts) > ALL_IN_ONE_TICK:
        return f"all {n_modalities}" if len(parts) == n_modalities else f"{len(parts)} of {n_modalities}"
    return "<br>".join(parts)


def subsets_by_size_figure(methods: dict, metric: str = "acc", title: str | None = None) -> go.Figure:
    """Per subset size k (1 … M modalities present): each series' mean `metric` ('acc' or 'map') over the
    subsets of that size, with a bar from the worst subset of that size to the best (aecf.evaluate's
    `subsets_by_size`; evaluations from before the best was recorded draw the worst only). The hover names
    both. Readable at 8 modalities, where there are 255 subsets."""
    fig = go.Figure()
    colors = _colors(methods)
    label = METRIC_LABELS.get(metric, metric)
    sizes_seen: set[int] = set()
    spread = 0.24 / max(1, len(methods) - 1)  # the series side by side within a size: their bars stay apart
    for i, (name, entry) in enumerate(methods.items()):
        by_size = entry.get("subsets_by_size") or {}
        sizes = sorted(by_size, key=int)
        rows = [by_size[k] for k in sizes]
        mean = [r.get(metric) for r in rows]
        if not sizes or all(v is None for v in mean):
            continue
        sizes_seen |= {int(k) for k in sizes}
        worst = [r.get(f"worst_{metric}") for r in rows]
        best = [r.get(f"best_{metric}") for r in rows]
        up = [b - m if b is not None and m is not None else 0 for b, m in zip(best, mean, strict=True)]
        down = [m - w if w is not None and m is not None else 0 for w, m in zip(worst, mean, strict=True)]
        hover = [
            f"{k} present: {r.get('count', '?')} subsets · mean {_num(m)}<br>best {escape(str(r.get('best', '–')))} "
            f"{_num(b)}<br>worst {escape(str(r.get('worst', '–')))} {_num(w)}"
            for k, r, m, b, w in zip(sizes, rows, mean, best, worst, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=[
                    int(k) + (i - (len(methods) - 1) / 2) * spread if len(methods) > 1 else int(k)
                    for k in sizes
                ],
                y=mean,
                name=name,
                mode="lines+markers",
                line=_line(name, colors[name]),
                marker=dict(size=8),
                error_y=dict(type="data", symmetric=False, array=up, arrayminus=down, width=6, thickness=2),
                customdata=hover,
                hovertemplate="%{customdata}<extra>" + escape(name) + "</extra>",
            )
        )
    fig.update_xaxes(title="modalities present (subset size)", tickvals=sorted(sizes_seen), tickformat="d")
    fig.update_yaxes(title=f"{label}: mean, bar worst to best")
    return house_style(fig, height=440, title=title or f"{_sentence(label)} by subset size")


def _sentence(label: str) -> str:
    """'accuracy' -> 'Accuracy'; 'mAP' and 'ECE' stay as they are."""
    return label if label[:2] != label[:2].lower() else label[:1].upper() + label[1:]


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def gate_by_modality_figure(
    methods: dict, modalities, field: str = "gate_mean", title: str | None = None, y_title: str | None = None
) -> go.Figure:
    """Grouped bars, one group per modality: a per-modality number of each series' `mechanisms` (the mean
    gate weight p_m where m is present, `gate_mean`; or `gate_reliability_spearman`, ρ(p_m, 1 − severity_m)).
    Series without it (no gate) are left out."""
    fig = go.Figure()
    names = [n for n, e in methods.items() if ((e.get("mechanisms") or {}).get(field) or {})]
    colors = _colors(names)
    for name in names:
        values = methods[name]["mechanisms"][field]
        fig.add_trace(
            go.Bar(
                x=list(modalities),
                y=[values.get(m) for m in modalities],
                name=name,
                marker=_bar_marker(name, colors[name]),
                hovertemplate="%{x}: %{y:.3f}<extra>" + escape(name) + "</extra>",
            )
        )
    fig.update_layout(barmode="group", bargap=0.2)
    fig.update_xaxes(title="modality", type="category", tickangle=0)
    fig.update_yaxes(title=y_title or ("mean gate weight p_m" if field == "gate_mean" else field))
    return house_style(fig, height=400, title=title or "Mean gate weight per modality")


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


def results_figures(
    methods: dict, modalities, multilabel: bool = False, has_severity: bool = False
) -> dict[str, go.Figure]:
    """The figures of runs evaluated on a dataset (aecf.evaluate's layout), by file stem: the headline metric
    (mAP for multi-label data, else accuracy) and ECE against the drop rate, per subset (up to
    ALL_IN_ONE_TICK modalities every subset; beyond, by subset size and each modality alone beside the full
    set), reliability, the mean gate weight per modality and, where the data records a severity, how the gate
    follows it."""
    modalities = list(modalities)
    head = "map" if multilabel else "acc"
    figs = {
        f"{METRIC_LABELS[head].lower()}_vs_drop": map_vs_drop(methods)
        if multilabel
        else accuracy_vs_drop(methods),
        "ece_vs_drop": ece_vs_drop(methods),
        "ece_ts_vs_drop": ece_vs_drop(methods, calibrated=True),
    }
    if len(modalities) > ALL_IN_ONE_TICK:
        title = f"{_sentence(METRIC_LABELS[head])}: each modality alone, and all {len(modalities)}"
        shown = [*modalities, "+".join(modalities)]
        figs[f"subsets_by_size_{head}"] = subsets_by_size_figure(methods, head)
        figs[f"single_modalities_{head}"] = subset_metric_figure(
            methods, head, title, subsets=shown, n_modalities=len(modalities)
        )
        figs["single_modalities_ece"] = subset_metric_figure(
            methods,
            "ece",
            f"ECE: each modality alone, and all {len(modalities)}",
            subsets=shown,
            n_modalities=len(modalities),
        )
    else:
        figs[f"subset_{head}"] = subset_metric_figure(
            methods, head, f"{_sentence(METRIC_LABELS[head])} per modality subset"
        )
        figs["subset_ece"] = subset_metric_figure(methods, "ece")
    figs["reliability_full"] = reliability_diagrams(methods, "full")
    if any("drop_0.5" in e.get("reliability", {}) for e in methods.values()):
        figs["reliability_drop_0.5"] = reliability_diagrams(methods, "drop_0.5")
    if any((e.get("mechanisms") or {}).get("gate_mean") for e in methods.values()):
        figs["gate_mean"] = gate_by_modality_figure(methods, modalities)
    if has_severity and any(
        (e.get("mechanisms") or {}).get("gate_reliability_spearman") for e in methods.values()
    ):
        figs["gate_follows_reliability"] = gate_by_modality_figure(
            methods,
            modalities,
            "gate_reliability_spearman",
            "Does the gate follow reliability? ρ(p_m, 1 − severity_m)",
            "Spearman ρ",
        )
    return figs


def report_html(figs: dict[str, go.Figure], title: str, note: str = "") -> str:
    """Every figure on one page with plotly.js inside it once: it opens offline, from a zip or an e-mail."""
    parts = []
    for i, (stem, fig) in enumerate(figs.items()):
        body = fig.to_html(full_html=False, include_plotlyjs=i == 0, config={"displaylogo": False})
        parts.append(f'<section id="{escape(stem)}">{body}</section>')
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        f"<style>body{{font-family:{style.FONT_FAMILY};color:{palette.TEXT};max-width:1200px;margin:1em auto;"
        "padding:0 1em}} section{{margin:2em 0}}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        + (f"<p>{escape(note)}</p>" if note else "")
        + "".join(parts)
        + "</body></html>\n"
    )


def figure_pngs(figs: dict[str, go.Figure], width: int = 1100) -> tuple[dict[str, bytes], str | None]:
    """The figures as PNG bytes by stem (kaleido and a Chromium, this machine's one where kaleido finds none),
    and None; or no PNGs and why, when they cannot be drawn here."""
    if not figs:
        return {}, None
    with tempfile.TemporaryDirectory(prefix="aecf-png-") as tmp:
        paths = [Path(tmp) / f"{stem}.png" for stem in figs]
        problem = _png_export(figs, paths, width)
        if problem:
            return {}, problem
        return {p.stem: p.read_bytes() for p in paths}, None


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
    problem = _png_export(figs, paths)
    if problem is None:
        return paths
    warnings.warn(f"PNG export skipped (HTML figures were written): {problem}", stacklevel=2)
    return []


def _png_export(figs: dict[str, go.Figure], paths: list[Path], width: int = 1100) -> str | None:
    """Write the PNGs; None, or why they could not be written. If kaleido cannot find a browser, retry with
    /usr/bin/chromium (BROWSER_PATH)."""
    last_error = None
    for attempt in range(2):
        try:
            pio.write_images(list(figs.values()), paths, width=width, height=None, scale=1)
            return None
        except Exception as e:  # kaleido raises several types (no browser, browser crash, timeout)
            last_error = e
            chromium = shutil.which("chromium") or (
                "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
            )
            if attempt == 0 and chromium and os.environ.get("BROWSER_PATH") != chromium:
                os.environ["BROWSER_PATH"] = chromium
                continue
            break
    return f"{type(last_error).__name__}: {last_error}"
