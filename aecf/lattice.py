"""The subset lattice of one example: every non-empty subset of the present modalities, ordered by ⊂.

CEC asks confidence to be monotone on this lattice: if A ⊂ B then c(A) ≤ c(B). The Hasse diagram
draws only the cover relations (B = A plus one modality); a violation is any pair A ⊂ B with
c(A) > c(B) + tol, and a cover edge is highlighted when it is itself violated.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from aecf.constants import CLASSES, MODALITIES, subset_name

VIOLATION_TOL = 0.01


@dataclass(frozen=True)
class LatticeNode:
    name: str  # canonical subset name, e.g. "image+audio"
    members: tuple[str, ...]
    label: int
    confidence: float


@dataclass(frozen=True)
class LatticeEdge:
    lower: str  # A
    upper: str  # B, A ⊂ B with |B| = |A| + 1
    violated: bool  # c(A) > c(B) + tol


@dataclass(frozen=True)
class Lattice:
    nodes: dict[str, LatticeNode]
    edges: list[LatticeEdge]  # cover relations only (what a Hasse diagram draws)
    violations: list[tuple[str, str]]  # every A ⊂ B (not only covers) with c(A) > c(B) + tol

    @property
    def is_monotone(self) -> bool:
        return not self.violations


def _members(name: str) -> tuple[str, ...]:
    parts = tuple(p for p in name.split("+") if p)
    unknown = [p for p in parts if p not in MODALITIES]
    if unknown:
        raise ValueError(f"unknown modality in subset name {name!r}: {unknown}")
    return tuple(m for m in MODALITIES if m in parts)


def build_lattice(subsets: dict, tol: float = VIOLATION_TOL) -> Lattice:
    """Lattice from `Prediction.subsets` ({"image+audio": {"label", "confidence", ...}, ...}).

    Subset names may come in any modality order; they are canonicalised to MODALITIES order.
    """
    nodes: dict[str, LatticeNode] = {}
    for raw_name, info in subsets.items():
        members = _members(raw_name)
        if not members:
            continue
        name = subset_name(members)
        nodes[name] = LatticeNode(name, members, int(info["label"]), float(info["confidence"]))

    edges: list[LatticeEdge] = []
    violations: list[tuple[str, str]] = []
    for a, b in combinations(sorted(nodes.values(), key=lambda n: (len(n.members), n.name)), 2):
        for lower, upper in ((a, b), (b, a)):
            if set(lower.members) < set(upper.members):
                violated = lower.confidence > upper.confidence + tol
                if violated:
                    violations.append((lower.name, upper.name))
                if len(upper.members) == len(lower.members) + 1:
                    edges.append(LatticeEdge(lower.name, upper.name, violated))
    return Lattice(nodes, edges, violations)


def layout(lattice: Lattice) -> dict[str, tuple[float, float]]:
    """Node positions: level = subset size (bottom to top), nodes spread evenly within a level."""
    levels: dict[int, list[LatticeNode]] = {}
    for node in lattice.nodes.values():
        levels.setdefault(len(node.members), []).append(node)
    order = {m: i for i, m in enumerate(MODALITIES)}
    pos: dict[str, tuple[float, float]] = {}
    for size, level in levels.items():
        level.sort(key=lambda n: [order[m] for m in n.members])
        for i, node in enumerate(level):
            x = (i + 1) / (len(level) + 1)
            pos[node.name] = (x, float(size))
    return pos


def lattice_figure(subsets: dict, tol: float = VIOLATION_TOL, title: str | None = None):
    """Plotly Hasse diagram: nodes coloured by confidence, violated cover edges drawn red and thick."""
    import plotly.graph_objects as go

    from aecf.figures.palette import VIOLATION

    lattice = build_lattice(subsets, tol)
    pos = layout(lattice)
    fig = go.Figure()
    for violated in (False, True):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for e in lattice.edges:
            if e.violated != violated:
                continue
            (x0, y0), (x1, y1) = pos[e.lower], pos[e.upper]
            xs += [x0, x1, None]
            ys += [y0, y1, None]
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    hoverinfo="skip",
                    name="violation c(A) > c(B)" if violated else "A ⊂ B",
                    line={"color": VIOLATION if violated else "#ADB5BD", "width": 5 if violated else 2},
                    showlegend=violated,
                )
            )
    violators = {a for a, _ in lattice.violations}
    names = list(lattice.nodes)
    nodes = [lattice.nodes[n] for n in names]
    fig.add_trace(
        go.Scatter(
            x=[pos[n][0] for n in names],
            y=[pos[n][1] for n in names],
            mode="markers+text",
            text=[f"<b>{n.name}</b><br>{CLASSES[n.label]} · {n.confidence:.2f}" for n in nodes],
            textposition="middle right",
            hovertext=[
                f"{n.name}: predicts {CLASSES[n.label]} with confidence {n.confidence:.3f}" for n in nodes
            ],
            hoverinfo="text",
            marker={
                "size": 22,
                "color": [n.confidence for n in nodes],
                "colorscale": "Viridis",
                "cmin": 0.0,
                "cmax": 1.0,
                "colorbar": {"title": "c(S)", "thickness": 12},
                "line": {
                    "color": [VIOLATION if n.name in violators else "#343A40" for n in nodes],
                    "width": [4 if n.name in violators else 1 for n in nodes],
                },
            },
            name="subsets",
            showlegend=False,
        )
    )
    top = max((len(n.members) for n in nodes), default=1)
    status = "monotone ✓" if lattice.is_monotone else f"{len(lattice.violations)} violation(s)"
    fig.update_layout(
        title=title or f"Subset lattice — confidence per subset ({status})",
        xaxis={"visible": False, "range": [0, 1.35]},
        yaxis={
            "title": "modalities in subset",
            "tickmode": "array",
            "tickvals": list(range(1, top + 1)),
            "range": [0.5, top + 0.5],
        },
        height=320,
        margin={"l": 40, "r": 10, "t": 40, "b": 20},
        legend={"orientation": "h", "y": -0.05},
    )
    return fig


def _viridis(c: float) -> str:
    """A 5-stop viridis ramp (the plotly figure's colour scale), for SVG fills."""
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    c = min(max(float(c), 0.0), 1.0) * (len(stops) - 1)
    i = min(int(c), len(stops) - 2)
    f = c - i
    r, g, b = (round(stops[i][k] * (1 - f) + stops[i + 1][k] * f) for k in range(3))
    return f"rgb({r},{g},{b})"


def lattice_svg(
    subsets: dict, tol: float = VIOLATION_TOL, title: str | None = None, width: int = 500, class_names=None
) -> str:
    """The same Hasse diagram as `lattice_figure`, as a self-contained SVG string. `class_names`: the
    model's classes (default: the digits); with them a node shows only the class name (e.g. COCO).

    The Explore page redraws on every toggle; an inline SVG costs the browser almost nothing where a
    plotly chart costs tens of milliseconds, so the page uses this and the reports use the figure. Text at
    the house sizes (aecf.figures.style), each node's label on three short lines so that neighbours never
    touch."""
    from html import escape

    # deferred like lattice_figure's plotly: the aecf.figures package imports plotly
    from aecf.figures import palette
    from aecf.figures.style import SVG_FONT, SVG_SMALL_FONT, SVG_TITLE_FONT

    lattice = build_lattice(subsets, tol)
    pos = layout(lattice)
    per_level: dict[float, int] = {}
    for _, level in pos.values():
        per_level[level] = per_level.get(level, 0) + 1
    top = max((len(n.members) for n in lattice.nodes.values()), default=1)
    row_h, pad_top = 104, 112
    height = pad_top + row_h * top - 8

    def xy(name: str) -> tuple[float, float]:
        x, level = pos[name]
        n = per_level[level]  # spread a level over the whole width: (i + 1)/(n + 1) -> (i + 0.5)/n
        x = 0.5 + (x - 0.5) * (n + 1) / n
        return 12 + x * (width - 24), pad_top + 14 + (top - level) * row_h

    names = tuple(class_names) if class_names else None

    def cls(label: int) -> str:
        return escape(str(names[label])) if names else f"{label} ({CLASSES[label]})"

    status = "monotone ✓" if lattice.is_monotone else f"{len(lattice.violations)} violation(s) in red"
    status_color = palette.TEXT if lattice.is_monotone else palette.VIOLATION
    halo = 'paint-order="stroke" stroke="white" stroke-width="5" stroke-linejoin="round"'
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="subset lattice" data-testid="lattice-svg" data-violations="{len(lattice.violations)}" '
        f'style="font-family: inherit; max-width: {int(width * 1.25)}px; display: block">',
        f'<text x="4" y="20" font-size="{SVG_TITLE_FONT}" font-weight="600">{escape(title or "Subset lattice")}</text>',
        f'<text x="4" y="42" font-size="{SVG_FONT}" font-weight="600" fill="{status_color}">{escape(status)}</text>',
    ]
    key = (
        "bottom: one modality · top: all present",
        "colour: confidence c(S), dark = low, yellow = high",
        f"red: c(A) &gt; c(B) + {tol:g} for A ⊂ B",
    )
    for i, line in enumerate(key):
        parts.append(
            f'<text x="4" y="{64 + 19 * i}" font-size="{SVG_SMALL_FONT}" fill="{palette.MUTED_TEXT}">{line}</text>'
        )
    for e in sorted(lattice.edges, key=lambda e: e.violated):
        (x0, y0), (x1, y1) = xy(e.lower), xy(e.upper)
        color, w = (palette.VIOLATION, 5) if e.violated else ("#ADB5BD", 2)
        parts.append(
            f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" stroke="{color}" stroke-width="{w}"/>'
        )
    violators = {a for a, _ in lattice.violations}
    for name, node in lattice.nodes.items():
        x, y = xy(name)
        ring = (
            f' stroke="{palette.VIOLATION}" stroke-width="4"'
            if name in violators
            else ' stroke="#343A40" stroke-width="1"'
        )
        parts.append(
            f'<g data-subset="{escape(name)}" data-confidence="{node.confidence:.3f}">'
            f"<title>{escape(name)}: predicts {cls(node.label)} with confidence {node.confidence:.3f}</title>"
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="12" fill="{_viridis(node.confidence)}"{ring}/>'
            f'<text x="{x:.1f}" y="{y + 31:.1f}" font-size="{SVG_FONT}" font-weight="600" text-anchor="middle" '
            f"{halo}>{escape(name)}</text>"
            f'<text x="{x:.1f}" y="{y + 50:.1f}" font-size="{SVG_SMALL_FONT}" fill="{palette.TEXT}" '
            f'text-anchor="middle" {halo}>{cls(node.label)} · c = {node.confidence:.2f}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
