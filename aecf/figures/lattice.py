"""The subset lattice of one example drawn as a Hasse diagram (inline SVG, for the Explore page): level =
subset size, nodes coloured by confidence, violated cover edges in red. The lattice itself: `aecf.lattice`."""

from __future__ import annotations

from html import escape

from aecf.constants import CLASSES, MODALITIES
from aecf.figures import palette
from aecf.figures.style import SVG_FONT, SVG_SMALL_FONT, SVG_TITLE_FONT
from aecf.lattice import VIOLATION_TOL, Lattice, LatticeNode, build_lattice


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


def _viridis(c: float) -> str:
    """A 5-stop viridis ramp (plotly's "Viridis" colour scale), for SVG fills."""
    stops = [(68, 1, 84), (59, 82, 139), (33, 145, 140), (94, 201, 98), (253, 231, 37)]
    c = min(max(float(c), 0.0), 1.0) * (len(stops) - 1)
    i = min(int(c), len(stops) - 2)
    f = c - i
    r, g, b = (round(stops[i][k] * (1 - f) + stops[i + 1][k] * f) for k in range(3))
    return f"rgb({r},{g},{b})"


def lattice_svg(
    subsets: dict, tol: float = VIOLATION_TOL, title: str | None = None, width: int = 500, class_names=None
) -> str:
    """The Hasse diagram of `aecf.lattice.build_lattice(subsets)` as a self-contained SVG string: nodes
    coloured by confidence, violated cover edges red and thick. `class_names`: the model's classes (default:
    the digits); with them a node shows only the class name (e.g. COCO).

    The Explore page redraws on every toggle; an inline SVG costs the browser almost nothing where a
    plotly chart costs tens of milliseconds. Text at the house sizes (aecf.figures.style), each node's label
    on three short lines so that neighbours never touch."""
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
