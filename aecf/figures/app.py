"""Figures for the app's pages: the architecture diagram, live training curves, masks (plotly), and one
example's diagnostics as inline SVG (redrawn on every toggle: an SVG costs the browser almost nothing,
a plotly chart tens of milliseconds). Every function takes plain numbers and returns a figure or markup."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

import numpy as np
import plotly.graph_objects as go

from aecf.constants import CLASSES, MODALITIES
from aecf.figures import palette
from aecf.figures.palette import MODALITY_COLORS
from aecf.figures.style import SVG_FONT, SVG_SMALL_FONT, SVG_TITLE_FONT, house_style


def _compact(fig: go.Figure, height: int = 240, title: str | None = None) -> go.Figure:
    """The house style (aecf.figures.style), with room for a legend under the plot when there is one."""
    legend = sum(1 for t in fig.data if t.showlegend is not False and t.name) > 1
    return house_style(fig, height=height + (60 if legend else 0) + (40 if title else 0), title=title)


# ---------------------------------------------------------------------------------------------
# Home: the architecture in one picture
# ---------------------------------------------------------------------------------------------


def architecture_figure() -> go.Figure:
    """Frozen encoders -> embeddings -> entropy gate p -> weighted fusion -> classifier, with the
    three AECF mechanisms attached where they act. Text at the house size: boxes hold at most ~16
    characters a line, so the diagram reads whole from a chart ~1000 px wide up."""
    fig = go.Figure()
    boxes = []  # (x0, y0, x1, y1, text, color)
    ys = {"image": 2.6, "caption": 1.5, "audio": 0.4}
    inputs = {"image": "image<br>of a digit", "caption": "caption", "audio": "spoken word"}
    for m, y in ys.items():
        boxes.append((0.0, y - 0.38, 1.5, y + 0.38, inputs[m], "#F1F3F5"))
        boxes.append((2.0, y - 0.38, 3.6, y + 0.38, f"frozen<br>{m} encoder", MODALITY_COLORS[m] + "33"))
        boxes.append((4.1, y - 0.3, 4.9, y + 0.3, f"z<sub>{m[0]}</sub>", "#FFFFFF"))
    boxes.append(
        (
            5.5,
            1.95,
            7.4,
            3.25,
            "gate g<sub>φ</sub> (MLP + dropout)<br>p on the simplex of<br>present modalities",
            palette.LAMBDA + "33",
        )
    )
    boxes.append(
        (
            5.5,
            0.15,
            7.4,
            1.65,
            "fusion<br>f = |S| · Σ p<sub>m</sub> W<sub>m</sub> z<sub>m</sub><br>(S: present modalities)",
            palette.SKY_BLUE + "33",
        )
    )
    boxes.append((8.0, 0.45, 9.5, 1.35, "classifier h<sub>ψ</sub><br>→ digit", palette.BLUISH_GREEN + "33"))
    for x0, y0, x1, y1, text, color in boxes:
        fig.add_shape(
            type="rect", x0=x0, y0=y0, x1=x1, y1=y1, fillcolor=color, line={"color": "#495057", "width": 1}
        )
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=text, showarrow=False)

    def arrow(x0, y0, x1, y1, color="#495057"):
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

    for y in ys.values():
        arrow(1.5, y, 2.0, y)
        arrow(3.6, y, 4.1, y)
        arrow(4.9, y, 5.5, 2.6)
        arrow(4.9, y, 5.5, 0.9)
    arrow(6.45, 1.95, 6.45, 1.65)
    fig.add_annotation(x=6.7, y=1.8, text="p", showarrow=False, font={"color": palette.LAMBDA})
    arrow(7.4, 0.9, 8.0, 0.9)
    notes = [  # the mechanism's name in its colour, the words in the text colour (pale hues read badly as text)
        (6.45, 3.6, "entropy gate", ": −λ(x)·H(p),<br>λ(x) from K MC-dropout passes", palette.LAMBDA),
        (8.75, 2.35, "CEC", ": confidence<br>must not drop when<br>a modality is added", palette.VIOLATION),
        (0.75, 3.55, "ACM", ": hide the<br>modalities the gate<br>trusts most", palette.ACM),
    ]
    for x, y, name, text, color in notes:
        fig.add_annotation(
            x=x, y=y, text=f'<b><span style="color:{color}">{name}</span></b>{text}', showarrow=False
        )
    fig.update_xaxes(visible=False, range=[-0.1, 9.6])
    fig.update_yaxes(visible=False, range=[-0.05, 4.05])
    house_style(fig, height=440, legend=False)
    fig.update_layout(margin={"l": 5, "r": 5, "t": 5, "b": 5}, plot_bgcolor="white")
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
    colors = palette.series_colors(series)
    for name, (xs, ys) in series.items():
        fig.add_trace(
            go.Scatter(
                x=list(xs),
                y=list(ys),
                mode="lines+markers" if len(xs) < 40 else "lines",
                name=name,
                line={"dash": (dash or {}).get(name, "solid"), "color": colors[name], "width": 2.5},
            )
        )
    fig.update_xaxes(title=x_title)
    fig.update_yaxes(title=y_title, range=list(y_range) if y_range else None)
    return _compact(fig, height=height, title=title)


def mask_distribution_figure(
    patterns: Mapping[str, float], title: str = "Masks ACM would sample", color: str = palette.ACM
) -> go.Figure:
    """Bar chart of how often each 'kept subset' pattern occurs (name -> frequency)."""
    names = list(patterns)
    fig = go.Figure(
        go.Bar(
            x=["<br>".join(n.split("+")) for n in names],  # one modality a line: narrow charts keep them
            y=[patterns[n] for n in names],
            marker_color=color,
            customdata=names,
            hovertemplate="keep %{customdata}: %{y:.1%}<extra></extra>",
        )
    )
    top = max(patterns.values(), default=0.0)
    fig.update_yaxes(title="share of samples", tickformat=".0%", range=[0, max(0.3, 1.15 * top)])
    fig.update_xaxes(title="modalities kept", type="category", tickangle=0)
    return _compact(fig, height=300, title=title)


def drop_ratio_figure(ratios: Mapping[str, np.ndarray], cap: float, title: str) -> go.Figure:
    """Histogram (share of examples) of ACM's per-example drop-probability ratio, most- over least-trusted
    modality, one trace per run; a dashed line at 2× and ModDrop's ratio of 1 for contrast."""
    fig = go.Figure()
    edges = np.concatenate([np.linspace(1.0, 4.0, 31), [cap + 1e-6]])
    colors = palette.series_colors(ratios)
    centers = [
        f"{lo:.1f}–{hi:.1f}" if hi <= 4.0 + 1e-9 else f"> {lo:.0f}"
        for lo, hi in zip(edges[:-1], edges[1:], strict=True)
    ]
    for name, values in ratios.items():
        counts, _ = np.histogram(np.clip(values, 1.0, cap), bins=edges)
        share = counts / max(1, len(values))
        marker = {"color": colors[name]}
        if palette.is_variant(name):
            marker["pattern"] = {"shape": "/", "fgcolor": "white", "solidity": 0.25}
        fig.add_trace(
            go.Bar(
                x=centers,
                y=share,
                name=name,
                marker=marker,
                hovertemplate="ratio %{x}: %{y:.1%} of examples<extra>" + name + "</extra>",
            )
        )
    fig.add_vline(
        x=10 - 0.5,
        line_dash="dash",
        line_color=palette.NEUTRAL,
        annotation_text="2× (ModDrop: every example at 1×)",
        annotation_position="top right",
    )
    shown = [c for i, c in enumerate(centers) if i % 5 == 0 or c.startswith(">")]  # a readable tick every 0.5
    fig.update_xaxes(
        title="drop probability of the most-trusted modality ÷ the least-trusted one",
        type="category",
        tickvals=shown,
        ticktext=[c.split("–")[0] if "–" in c else c for c in shown],
        tickangle=0,
    )
    fig.update_yaxes(title="share of test examples", tickformat=".0%")
    fig.update_layout(barmode="group", bargap=0.15)
    return _compact(fig, height=320, title=title)


def per_modality_bars(values: Mapping[str, float], title: str, y_title: str, y_range=(0, 1)) -> go.Figure:
    """One bar per modality with its value written above it (the axis leaves room for the text over a full
    bar). The digits' modalities in their order and colours; any other names (a dataset's) as given, in the
    palette's series colours."""
    names = [m for m in MODALITIES if m in values] + [m for m in values if m not in MODALITIES]
    colors = palette.series_colors(names)
    fig = go.Figure(
        go.Bar(
            x=names,
            y=[values[m] for m in names],
            marker_color=[colors[m] for m in names],
            text=[f"{values[m]:.2f}" for m in names],
            textposition="outside",
            cliponaxis=False,
        )
    )
    lo, hi = y_range
    fig.update_yaxes(title=y_title, range=[lo, hi + 0.18 * (hi - lo)], tickvals=np.linspace(lo, hi, 3))
    return _compact(fig, height=260, title=title)


# ---------------------------------------------------------------------------------------------
# Inline SVG for the Explore page
# ---------------------------------------------------------------------------------------------


def probs_svg(
    rows: Sequence[tuple[str, np.ndarray]],
    title: str = "Class probabilities",
    width: int = 600,
    height: int = 240,
) -> str:
    """Grouped bars of class probabilities, one series per (name, probs) row: a modality or a method in its
    own colour (aecf.figures.palette)."""
    colors = palette.series_colors(name for name, _ in rows)
    return _bars_svg(rows, title, width, height, [colors[name] for name, _ in rows])


def _svg_open(
    width: float, height: float, label: str, testid: str, scale_max: float = 1.25, extra: str = ""
) -> str:
    """An inline SVG that fills its column up to `scale_max` × its own width: its text (sizes from
    aecf.figures.style, in the SVG's units) is drawn at least that size wherever the column is as wide."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height:.0f}" width="100%" role="img" '
        f'aria-label="{escape(label)}" data-testid="{testid}"{extra} '
        f'style="font-family: inherit; max-width: {width * scale_max:.0f}px; display: block">'
    )


def _legend_rows(
    names: Sequence[str], x0: float, width: float, font: int = SVG_FONT
) -> list[list[tuple[str, float]]]:
    """Legend items (name, x) in rows that fit `width` (a swatch, the name at ~0.55 em a character)."""
    rows: list[list[tuple[str, float]]] = [[]]
    x = x0
    for name in names:
        w = 22 + 0.56 * font * len(name)
        if rows[-1] and x + w > width - 8:
            rows.append([])
            x = x0
        rows[-1].append((name, x))
        x += w + 14
    return rows


def wrap_title(text: str, width: float, font: int) -> list[str]:
    """`text` in lines that fit `width` (at ~0.55 em a character, a semibold title's width), broken at spaces."""
    per_line = max(8, int(width / (0.55 * font)))
    lines: list[str] = []
    for word in text.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= per_line:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _bars_svg(rows, title, width, height, colors) -> str:
    """Grouped bars of class probabilities (one series per row), with a legend."""
    legend = _legend_rows([name for name, _ in rows], 4, width)
    left, right, bottom = 40, 8, 28
    top = 30 + 22 * len(legend) + 8
    height = height + 22 * (len(legend) - 1)
    plot_w, plot_h = width - left - right, height - top - bottom
    n_classes = max((len(np.asarray(p)) for _, p in rows), default=len(CLASSES))
    group = plot_w / n_classes
    bar = group * 0.8 / max(1, len(rows))
    out = [
        _svg_open(width, height, title, "probs-svg"),
        f'<text x="4" y="20" font-size="{SVG_TITLE_FONT}" font-weight="600">{escape(title)}</text>',
    ]
    index = {name: i for i, (name, _) in enumerate(rows)}
    for r, line in enumerate(legend):
        y = 30 + 22 * r
        for name, x in line:
            out.append(
                f'<rect x="{x:.0f}" y="{y + 3}" width="14" height="14" fill="{colors[index[name]]}"/>'
                f'<text x="{x + 20:.0f}" y="{y + 15}" font-size="{SVG_FONT}">{escape(name)}</text>'
            )
    for tick in (0.0, 0.5, 1.0):
        y = top + plot_h * (1 - tick)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{palette.GRID}"/>'
            f'<text x="{left - 6}" y="{y + 5:.1f}" font-size="{SVG_SMALL_FONT}" text-anchor="end" '
            f'fill="{palette.MUTED_TEXT}">{tick:g}</text>'
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
            f'<text x="{left + (c + 0.5) * group:.1f}" y="{height - 8}" font-size="{SVG_FONT}" '
            f'text-anchor="middle">{c}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def mc_passes_svg(
    mc_probs: np.ndarray,
    label: int,
    title: str | None = None,
    width: int = 420,
    height: int = 150,
    label_text: str | None = None,
) -> str:
    """One dot per MC-dropout pass at that pass's probability of the predicted class, plus mean ± std.
    `label_text`: how the class is written in p(·) (default: its index, the digit)."""
    mc = np.asarray(mc_probs, dtype=float)
    shown = escape(str(label if label_text is None else label_text))
    per = mc[:, label] if mc.ndim == 2 and mc.shape[0] else np.zeros(0)
    left, right = 16, 16
    span = width - left - right
    title = title or f"K = {len(per)} MC-dropout passes"
    lines = wrap_title(title, width - 8, SVG_TITLE_FONT)
    shift = 22 * (len(lines) - 1)  # a title on two lines moves the strip down
    height += shift
    axis_y = 72 + shift
    out = [_svg_open(width, height, title, "mc-svg")]
    out += [
        f'<text x="4" y="{20 + 22 * i}" font-size="{SVG_TITLE_FONT}" font-weight="600">{escape(line)}</text>'
        for i, line in enumerate(lines)
    ]
    out.append(
        f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" stroke="{palette.NEUTRAL}"/>'
    )
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = left + span * tick
        out.append(
            f'<line x1="{x:.1f}" y1="{axis_y - 4}" x2="{x:.1f}" y2="{axis_y + 4}" stroke="{palette.NEUTRAL}"/>'
            f'<text x="{x:.1f}" y="{axis_y + 40}" font-size="{SVG_SMALL_FONT}" text-anchor="middle" '
            f'fill="{palette.MUTED_TEXT}">{tick:g}</text>'
        )
    if len(per):
        mean, std = float(per.mean()), float(per.std())
        out.append(
            f'<rect x="{left + span * max(0.0, mean - std):.1f}" y="{axis_y - 20}" '
            f'width="{span * min(1.0, 2 * std):.1f}" height="40" fill="{palette.LAMBDA}" fill-opacity="0.15"/>'
            f'<line x1="{left + span * mean:.1f}" y1="{axis_y - 24}" x2="{left + span * mean:.1f}" '
            f'y2="{axis_y + 24}" stroke="{palette.LAMBDA}" stroke-width="2"/>'
        )
        rng = np.random.default_rng(0)
        for k, v in enumerate(per):
            jitter = rng.uniform(-14, 14)
            out.append(
                f'<circle cx="{left + span * min(max(v, 0), 1):.1f}" cy="{axis_y + jitter:.1f}" r="5" '
                f'fill="{palette.LAMBDA}" fill-opacity="0.75"><title>pass {k + 1}: p({shown}) = {v:.3f}</title>'
                "</circle>"
            )
        out.append(
            f'<text x="4" y="{height - 8}" font-size="{SVG_FONT}" fill="{palette.TEXT}">p({shown}) in each pass: '
            f"mean {mean:.3f} ± {std:.3f}</text>"
        )
    out.append("</svg>")
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Inline HTML for the Explore page: one element holds many numbers (each st.metric or st.progress costs
# the browser ~4 ms per redraw; one element with the same content costs ~0)
# ---------------------------------------------------------------------------------------------


_HELP_MARK = (
    '<span style="display:inline-block;margin-left:0.3rem;width:1rem;height:1rem;line-height:0.9rem;'
    "text-align:center;border:1px solid rgba(49,51,63,0.5);border-radius:50%;font-size:0.7rem;"
    'vertical-align:0.1em">?</span>'
)


def metric_cards_html(metrics: Sequence[tuple[str, str, str | None]], columns: int = 4) -> str:
    """Metric cards (label, value, help as a tooltip) in a grid; each card carries data-metric=<label>.
    A value too long for its card wraps (a word per line) instead of being cut."""
    cards = []
    for label, value, help_text in metrics:
        title = f' title="{escape(help_text)}"' if help_text else ""
        cards.append(
            f'<div data-metric="{escape(label)}"{title} style="min-width:0;display:flex;flex-direction:column;'
            'justify-content:space-between">'
            f'<div style="font-size:1rem;color:{palette.MUTED_TEXT};line-height:1.3">{escape(label)}'
            f"{_HELP_MARK if help_text else ''}</div>"
            f'<div data-metric-value style="font-size:1.75rem;line-height:1.25;overflow-wrap:anywhere">'
            f"{escape(value)}</div></div>"
        )
    return (
        f'<div data-testid="metric-cards" style="display:grid;grid-template-columns:repeat({columns},minmax(0,1fr));'
        f'gap:0.5rem 1rem;margin:0.25rem 0 0.75rem 0">' + "".join(cards) + "</div>"
    )


def bars_html(rows: Sequence[tuple[str, float]], color: str | Sequence[str] = palette.BLUE) -> str:
    """Labelled horizontal bars (text, value in [0, 1]); each row carries data-bar=<text>. `color`: one
    colour, or one per row."""
    colors = [color] * len(rows) if isinstance(color, str) else list(color)
    out = []
    for (text, value), fill in zip(rows, colors, strict=True):
        w = 100 * min(1.0, max(0.0, float(value)))
        out.append(
            f'<div data-bar="{escape(text)}" style="margin:0.3rem 0 0.55rem 0"><div style="font-size:1rem">'
            f'{escape(text)}</div><div style="background:{palette.GRID};border-radius:5px;height:12px">'
            f'<div style="width:{w:.1f}%;background:{fill};height:12px;border-radius:5px"></div></div></div>'
        )
    return '<div data-testid="bars">' + "".join(out) + "</div>"


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
    width: int = 520,
    height: int = 260,
) -> str:
    """Line chart of named (xs, ys) series as one inline SVG: the Train page's live curves (a plotly figure
    per curve group redrawn every second cost the browser far more than the training itself). Carries
    data-testid="curve-svg", data-title=<title> and data-series=<names joined by |>."""
    names = [n for n, (xs, ys) in series.items() if len(xs) and len(ys)]
    legend_rows = _legend_rows(names, 52.0, width)
    line_h = 22
    left, right, top, bottom = 52, 12, 34 + line_h * len(legend_rows), 48
    full_h = height + line_h * (len(legend_rows) - 1)
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

    data = f' data-title="{escape(title)}" data-series="{escape("|".join(names))}"'
    out = [
        _svg_open(width, full_h, title, "curve-svg", extra=data),
        f'<text x="4" y="20" font-size="{SVG_TITLE_FONT}" font-weight="600">{escape(title)}</text>',
    ]
    colors = palette.series_colors(names)  # a modality or a method keeps its own colour
    for r, row in enumerate(legend_rows):
        for name, lx in row:
            ly = 30 + line_h * r
            out.append(
                f'<rect x="{lx:.0f}" y="{ly + 8}" width="16" height="4" fill="{colors[name]}"/>'
                f'<text x="{lx + 20:.0f}" y="{ly + 15}" font-size="{SVG_FONT}">{escape(name)}</text>'
            )
    for t in _nice_ticks(y0, y1, 4):
        y = py(t)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{palette.GRID}"/>'
            f'<text x="{left - 6}" y="{y + 5:.1f}" font-size="{SVG_SMALL_FONT}" text-anchor="end" '
            f'fill="{palette.MUTED_TEXT}">{t:.4g}</text>'
        )
    for t in _nice_ticks(x0, x1):
        x = px(t)
        out.append(
            f'<text x="{x:.1f}" y="{top + plot_h + 18:.1f}" font-size="{SVG_SMALL_FONT}" text-anchor="middle" '
            f'fill="{palette.MUTED_TEXT}">{t:.4g}</text>'
        )
    out.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - right}" y2="{top + plot_h}" stroke="{palette.NEUTRAL}"/>'
        f'<text x="{left + plot_w / 2:.1f}" y="{full_h - 6}" font-size="{SVG_FONT}" text-anchor="middle">'
        f"{escape(x_title)}</text>"
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
            f'<polyline fill="none" stroke="{colors[name]}" stroke-width="2.2" '
            f'points="{" ".join(f"{x:.1f},{y:.1f}" for x, y in pts)}"><title>{escape(name)}</title></polyline>'
        )
        if len(pts) < 40:
            out.extend(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colors[name]}"/>' for x, y in pts)
    out.append("</svg>")
    return "".join(out)
