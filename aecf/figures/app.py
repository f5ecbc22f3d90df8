"""Figures for the app's pages: the architecture diagram, live training curves, masks (plotly), and one
example's diagnostics as inline SVG (redrawn on every toggle: an SVG costs the browser almost nothing,
a plotly chart tens of milliseconds). Every function takes plain numbers and returns a figure or markup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

from aecf.constants import CLASSES, MODALITIES

MODALITY_COLORS = {"image": "#4C6EF5", "caption": "#F59F00", "audio": "#12B886"}


def _compact(fig: go.Figure, height: int = 240, title: str | None = None) -> go.Figure:
    legend = len(fig.data) > 1 and any(t.showlegend is not False for t in fig.data)
    fig.update_layout(
        height=height + (50 if legend else 0),
        title=title,
        margin={"l": 45, "r": 10, "t": 40 if title else 10, "b": 95 if legend else 40},
        legend={"orientation": "h", "yanchor": "top", "y": -0.28 if legend else -0.2, "x": 0},
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Home: the architecture in one picture
# ---------------------------------------------------------------------------------------------


def architecture_figure() -> go.Figure:
    """Frozen encoders -> embeddings -> entropy gate p -> weighted fusion -> classifier, with the
    three AECF mechanisms attached where they act."""
    fig = go.Figure()
    boxes = []  # (x0, y0, x1, y1, text, color)
    ys = {"image": 2.6, "caption": 1.5, "audio": 0.4}
    inputs = {"image": "image of a digit", "caption": "caption", "audio": "spoken word"}
    for m, y in ys.items():
        boxes.append((0.0, y - 0.35, 1.5, y + 0.35, inputs[m], "#F1F3F5"))
        boxes.append((2.0, y - 0.35, 3.6, y + 0.35, f"frozen {m} encoder", MODALITY_COLORS[m] + "33"))
        boxes.append((4.1, y - 0.3, 4.9, y + 0.3, f"z<sub>{m[0]}</sub>", "#FFFFFF"))
    boxes.append(
        (
            5.6,
            2.0,
            7.3,
            3.2,
            "gate g<sub>φ</sub> (MLP + dropout)<br>p on the simplex<br>of present modalities",
            "#E5DBFF",
        )
    )
    boxes.append(
        (
            5.6,
            0.2,
            7.3,
            1.6,
            "fusion<br>f = |S| · Σ p<sub>m</sub> W<sub>m</sub> z<sub>m</sub><br>(S: present modalities)",
            "#D0EBFF",
        )
    )
    boxes.append((8.0, 0.45, 9.4, 1.35, "classifier h<sub>ψ</sub><br>→ digit", "#D3F9D8"))
    for x0, y0, x1, y1, text, color in boxes:
        fig.add_shape(
            type="rect", x0=x0, y0=y0, x1=x1, y1=y1, fillcolor=color, line={"color": "#495057", "width": 1}
        )
        fig.add_annotation(
            x=(x0 + x1) / 2,
            y=(y0 + y1) / 2,
            text=text,
            showarrow=False,
            font={"size": 12, "color": "#212529"},
        )

    def arrow(x0, y0, x1, y1, color="#495057", text=None):
        fig.add_annotation(
            x=x1,
            y=y1,
            ax=x0,
            ay=y0,
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=3,
            arrowsize=1.2,
            arrowwidth=1.5,
            arrowcolor=color,
            text="",
        )
        if text:
            fig.add_annotation(
                x=(x0 + x1) / 2,
                y=(y0 + y1) / 2 + 0.18,
                text=text,
                showarrow=False,
                font={"size": 10, "color": color},
            )

    for y in ys.values():
        arrow(1.5, y, 2.0, y)
        arrow(3.6, y, 4.1, y)
        arrow(4.9, y, 5.6, 2.6)
        arrow(4.9, y, 5.6, 0.9)
    arrow(6.45, 2.0, 6.45, 1.6)
    fig.add_annotation(x=6.75, y=1.8, text="p", showarrow=False, font={"size": 12, "color": "#7048E8"})
    arrow(7.3, 0.9, 8.0, 0.9)
    notes = [
        (6.45, 3.55, "<b>entropy gate</b>: −λ(x)·H(p), λ(x) from K MC-dropout passes", "#7048E8"),
        (8.7, 2.1, "<b>CEC</b>: confidence must not drop<br>when a modality is added", "#E03131"),
        (0.75, 3.35, "<b>ACM</b>: hide the modalities<br>the gate trusts most", "#F08C00"),
    ]
    for x, y, text, color in notes:
        fig.add_annotation(x=x, y=y, text=text, showarrow=False, font={"size": 11, "color": color})
    fig.update_xaxes(visible=False, range=[-0.2, 9.8])
    fig.update_yaxes(visible=False, range=[-0.1, 3.8])
    fig.update_layout(
        height=360, margin={"l": 5, "r": 5, "t": 5, "b": 5}, plot_bgcolor="white", showlegend=False
    )
    return fig


# ---------------------------------------------------------------------------------------------
# Curves from metrics.jsonl rows
# ---------------------------------------------------------------------------------------------


def curves_figure(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    x_title: str = "epoch",
    y_title: str | None = None,
    y_range: Sequence[float] | None = None,
    dash: Mapping[str, str] | None = None,
    height: int = 260,
) -> go.Figure:
    fig = go.Figure()
    for name, (xs, ys) in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(xs),
                y=list(ys),
                mode="lines+markers" if len(xs) < 40 else "lines",
                name=name,
                line={"dash": (dash or {}).get(name, "solid"), "color": MODALITY_COLORS.get(name)},
            )
        )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, range=list(y_range) if y_range else None)
    return _compact(fig, height=height, title=title)


def mask_distribution_figure(
    patterns: Mapping[str, float], title: str = "Masks ACM would sample"
) -> go.Figure:
    """Bar chart of how often each 'kept subset' pattern occurs (name -> frequency)."""
    names = list(patterns)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[patterns[n] for n in names],
            marker_color="#F08C00",
            hovertemplate="keep %{x}: %{y:.1%}<extra></extra>",
        )
    )
    top = max(patterns.values(), default=0.0)
    fig.update_yaxes(title="share of samples", tickformat=".0%", range=[0, max(0.3, 1.15 * top)])
    fig.update_xaxes(title="modalities kept", type="category")
    return _compact(fig, height=280, title=title)


def drop_ratio_figure(ratios: Mapping[str, np.ndarray], cap: float, title: str) -> go.Figure:
    """Histogram (share of examples) of ACM's per-example drop-probability ratio, most- over least-trusted
    modality, one trace per run; a dashed line at 2× and ModDrop's ratio of 1 for contrast."""
    fig = go.Figure()
    edges = np.concatenate([np.linspace(1.0, 4.0, 31), [cap + 1e-6]])
    for i, (name, values) in enumerate(ratios.items()):
        counts, _ = np.histogram(np.clip(values, 1.0, cap), bins=edges)
        share = counts / max(1, len(values))
        centers = [
            f"{lo:.1f}–{hi:.1f}" if hi <= 4.0 + 1e-9 else f"> {lo:.0f}"
            for lo, hi in zip(edges[:-1], edges[1:], strict=True)
        ]
        fig.add_trace(
            go.Bar(
                x=centers,
                y=share,
                name=name,
                marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
                hovertemplate="ratio %{x}: %{y:.1%} of examples<extra>" + name + "</extra>",
            )
        )
    fig.add_vline(
        x=10 - 0.5,
        line_dash="dash",
        line_color="#868E96",
        annotation_text="2× (ModDrop: every example at 1×)",
        annotation_position="top right",
    )
    fig.update_xaxes(
        title="drop probability of the most-trusted modality ÷ the least-trusted one", type="category"
    )
    fig.update_yaxes(title="share of test examples", tickformat=".0%")
    fig.update_layout(barmode="group", bargap=0.15)
    return _compact(fig, height=300, title=title)


def per_modality_bars(values: Mapping[str, float], title: str, y_title: str, y_range=(0, 1)) -> go.Figure:
    names = [m for m in MODALITIES if m in values]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[values[m] for m in names],
            marker_color=[MODALITY_COLORS[m] for m in names],
            text=[f"{values[m]:.2f}" for m in names],
            textposition="outside",
        )
    )
    fig.update_yaxes(title=y_title, range=list(y_range))
    return _compact(fig, height=260, title=title)


# ---------------------------------------------------------------------------------------------
# Inline SVG for the Explore page
# ---------------------------------------------------------------------------------------------

SERIES_COLORS = ["#4C6EF5", "#FA5252", "#82C91E", "#BE4BDB"]


def probs_svg(
    rows: Sequence[tuple[str, np.ndarray]],
    title: str = "Class probabilities",
    width: int = 560,
    height: int = 210,
) -> str:
    colors = [MODALITY_COLORS.get(name, SERIES_COLORS[i % 4]) for i, (name, _) in enumerate(rows)]
    return _bars_svg(rows, title, width, height, colors)


def _bars_svg(rows, title, width, height, colors) -> str:
    """Grouped bars of class probabilities (one series per row), with a legend."""
    from html import escape

    left, right, top, bottom = 34, 8, 40, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    n_classes = max((len(np.asarray(p)) for _, p in rows), default=len(CLASSES))
    group = plot_w / n_classes
    bar = group * 0.8 / max(1, len(rows))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" data-testid="probs-svg" style="font-family: sans-serif; max-width: 720px">',
        f'<text x="4" y="15" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    x = left
    for i, (name, _) in enumerate(rows):
        out.append(
            f'<rect x="{x}" y="22" width="10" height="10" fill="{colors[i]}"/>'
            f'<text x="{x + 14}" y="31" font-size="11">{escape(name)}</text>'
        )
        x += 24 + 7 * len(name)
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#E9ECEF"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end" fill="#868E96">{tick:g}</text>'
        )
    for i, (name, probs) in enumerate(rows):
        p = np.asarray(probs, dtype=float)
        for c, v in enumerate(p):
            h = plot_h * min(max(v, 0.0), 1.0)
            bx = left + c * group + group * 0.1 + i * bar
            out.append(
                f'<rect x="{bx:.1f}" y="{top + plot_h - h:.1f}" width="{bar * 0.95:.1f}" height="{h:.1f}" '
                f'fill="{colors[i]}"><title>{escape(name)}: p({c}) = {v:.3f}</title></rect>'
            )
    for c in range(n_classes):
        out.append(
            f'<text x="{left + (c + 0.5) * group:.1f}" y="{height - 8}" font-size="11" text-anchor="middle">{c}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def mc_passes_svg(
    mc_probs: np.ndarray, label: int, title: str | None = None, width: int = 560, height: int = 120
) -> str:
    """One dot per MC-dropout pass at that pass's probability of the predicted class, plus mean ± std."""
    from html import escape

    mc = np.asarray(mc_probs, dtype=float)
    per = mc[:, label] if mc.ndim == 2 and mc.shape[0] else np.zeros(0)
    left, right = 20, 20
    span = width - left - right
    title = title or f"K = {len(per)} MC-dropout passes"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" data-testid="mc-svg" style="font-family: sans-serif; max-width: 640px">',
        f'<text x="4" y="15" font-size="13" font-weight="600">{escape(title)}</text>',
        f'<line x1="{left}" y1="70" x2="{width - right}" y2="70" stroke="#ADB5BD"/>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + span * tick
        out.append(
            f'<line x1="{x:.1f}" y1="66" x2="{x:.1f}" y2="74" stroke="#ADB5BD"/>'
            f'<text x="{x:.1f}" y="90" font-size="10" text-anchor="middle" fill="#868E96">{tick:g}</text>'
        )
    if len(per):
        mean, std = float(per.mean()), float(per.std())
        out.append(
            f'<rect x="{left + span * max(0.0, mean - std):.1f}" y="52" width="{span * min(1.0, 2 * std):.1f}" '
            f'height="36" fill="#7048E8" fill-opacity="0.12"/>'
            f'<line x1="{left + span * mean:.1f}" y1="48" x2="{left + span * mean:.1f}" y2="92" stroke="#7048E8" stroke-width="2"/>'
        )
        rng = np.random.default_rng(0)
        for k, v in enumerate(per):
            jitter = rng.uniform(-12, 12)
            out.append(
                f'<circle cx="{left + span * min(max(v, 0), 1):.1f}" cy="{70 + jitter:.1f}" r="4" fill="#7048E8" '
                f'fill-opacity="0.75"><title>pass {k + 1}: p({label}) = {v:.3f}</title></circle>'
            )
        out.append(
            f'<text x="4" y="{height - 6}" font-size="11" fill="#495057">probability of the predicted digit {label} '
            f"in each pass · mean {mean:.3f} ± {std:.3f}</text>"
        )
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Inline HTML for the Explore page: one markdown element holds many numbers (each st.metric or
# st.progress costs the browser ~4 ms per redraw; one element with the same content costs ~0)
# ---------------------------------------------------------------------------------------------


_HELP_MARK = (
    '<span style="display:inline-block;margin-left:0.3rem;width:1rem;height:1rem;line-height:0.9rem;'
    'text-align:center;border:1px solid rgba(49,51,63,0.5);border-radius:50%;font-size:0.7rem">?</span>'
)


def metric_cards_html(metrics: Sequence[tuple[str, str, str | None]], columns: int = 4) -> str:
    """Metric cards (label, value, help as a tooltip) in a grid; each card carries data-metric=<label>."""
    from html import escape

    cards = []
    for label, value, help_text in metrics:
        title = f' title="{escape(help_text)}"' if help_text else ""
        cards.append(
            f'<div data-metric="{escape(label)}"{title} style="min-width:0">'
            f'<div style="font-size:0.875rem;color:rgba(49,51,63,0.75)">{escape(label)}'
            f"{_HELP_MARK if help_text else ''}</div>"
            f'<div data-metric-value style="font-size:1.9rem;line-height:1.3;white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis">{escape(value)}</div></div>'
        )
    return (
        f'<div data-testid="metric-cards" style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));'
        f'gap:0.5rem 1rem;margin:0.25rem 0 0.75rem 0">' + "".join(cards) + "</div>"
    )


def bars_html(rows: Sequence[tuple[str, float]], color: str = "#4C6EF5") -> str:
    """Labelled horizontal bars (text, value in [0, 1]); each row carries data-bar=<text>."""
    from html import escape

    out = []
    for text, value in rows:
        w = 100 * min(1.0, max(0.0, float(value)))
        out.append(
            f'<div data-bar="{escape(text)}" style="margin:0.35rem 0"><div style="font-size:0.875rem">'
            f'{escape(text)}</div><div style="background:#E9ECEF;border-radius:4px;height:8px">'
            f'<div style="width:{w:.1f}%;background:{color};height:8px;border-radius:4px"></div></div></div>'
        )
    return '<div data-testid="bars">' + "".join(out) + "</div>"


CURVE_COLORS = ["#4C6EF5", "#FA5252", "#82C91E", "#BE4BDB", "#F08C00", "#15AABF", "#868E96"]


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About n round tick values covering [lo, hi]."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / max(1, n - 1)
    mag = 10 ** np.floor(np.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = np.ceil(lo / step - 1e-9) * step
    return [round(float(v), 10) + 0.0 for v in np.arange(first, hi + step * 1e-6, step)]  # + 0.0: no "-0"


def curves_svg(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    x_title: str = "epoch",
    y_range: Sequence[float] | None = None,
    width: int = 560,
    height: int = 250,
) -> str:
    """Line chart of named (xs, ys) series as one inline SVG: the Train page's live curves (a plotly figure
    per curve group redrawn every second cost the browser far more than the training itself). Carries
    data-testid="curve-svg", data-title=<title> and data-series=<names joined by |>."""
    from html import escape

    names = [n for n, (xs, ys) in series.items() if len(xs) and len(ys)]
    legend_rows: list[list[tuple[str, float]]] = [[]]
    x_at = 44.0
    for name in names:  # legend items in rows under the title
        w = 22 + 6.2 * len(name)
        if legend_rows[-1] and x_at + w > width - 8:
            legend_rows.append([])
            x_at = 44.0
        legend_rows[-1].append((name, x_at))
        x_at += w + 10
    left, right, top, bottom = 44, 10, 26 + 15 * len(legend_rows), 34
    full_h = height + 15 * (len(legend_rows) - 1)
    plot_w, plot_h = width - left - right, full_h - top - bottom
    all_x = [float(x) for n in names for x in series[n][0]]
    all_y = [float(y) for n in names for y in series[n][1] if y is not None and np.isfinite(y)]
    x0, x1 = (min(0.0, min(all_x)), max(all_x)) if all_x else (0.0, 1.0)
    x1 = x1 if x1 > x0 else x0 + 1.0
    if y_range is not None:
        y0, y1 = float(y_range[0]), float(y_range[1])
    elif all_y:
        y0, y1 = min(all_y), max(all_y)
        pad = 0.05 * (y1 - y0) if y1 > y0 else max(0.05, abs(y0) * 0.1)
        y0, y1 = y0 - pad, y1 + pad
    else:
        y0, y1 = 0.0, 1.0

    def px(x: float) -> float:
        return left + plot_w * (x - x0) / (x1 - x0)

    def py(y: float) -> float:
        return top + plot_h * (1 - (min(max(y, y0), y1) - y0) / (y1 - y0))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {full_h}" width="100%" role="img" '
        f'aria-label="{escape(title)}" data-testid="curve-svg" data-title="{escape(title)}" '
        f'data-series="{escape("|".join(names))}" style="font-family: sans-serif">',
        f'<text x="4" y="15" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    taken = {MODALITY_COLORS[n] for n in names if n in MODALITY_COLORS}  # a modality keeps its own colour
    palette = [c for c in CURVE_COLORS if c not in taken]
    others = iter([n for n in names if n not in MODALITY_COLORS])
    colors = {n: MODALITY_COLORS[n] for n in names if n in MODALITY_COLORS}
    colors |= {n: palette[i % len(palette)] for i, n in enumerate(others)}
    for r, row in enumerate(legend_rows):
        for name, lx in row:
            ly = 22 + 15 * r
            out.append(
                f'<rect x="{lx:.0f}" y="{ly}" width="14" height="3" fill="{colors[name]}"/>'
                f'<text x="{lx + 18:.0f}" y="{ly + 5}" font-size="11">{escape(name)}</text>'
            )
    for t in _nice_ticks(y0, y1):
        y = py(t)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#E9ECEF"/>'
            f'<text x="{left - 4}" y="{y + 3.5:.1f}" font-size="10" text-anchor="end" fill="#868E96">{t:.4g}</text>'
        )
    for t in _nice_ticks(x0, x1):
        x = px(t)
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 13:.1f}" font-size="10" text-anchor="middle" fill="#868E96">'
            f"{t:.4g}</text>"
        )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="#ADB5BD"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{full_h - 4}" font-size="11" text-anchor="middle">{escape(x_title)}</text>'
    )
    for name in names:
        xs, ys = series[name]
        pts = [
            (px(float(x)), py(float(y)))
            for x, y in zip(xs, ys, strict=False)
            if y is not None and np.isfinite(y)
        ]
        if not pts:
            continue
        out.append(
            f'<polyline fill="none" stroke="{colors[name]}" stroke-width="1.8" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"><title>{escape(name)}</title></polyline>'
        )
        if len(pts) < 40:
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colors[name]}"/>' for x, y in pts)
    out.append("</svg>")
    return "".join(out)
