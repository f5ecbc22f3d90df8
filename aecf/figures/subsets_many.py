"""One example's subsets when there are many modalities (up to 8: 255 subsets), drawn so that they stay readable
where a Hasse diagram (aecf.figures.lattice) would not: a strip per subset size with every subset's confidence
as a dot and the best and worst of each size named, the chain of subsets the page follows drawn across the
strips (its steps that lose confidence in red), and beside it CEC's rule counted along every chain.

Inline SVG and HTML (the Explore page redraws them on every switch), text at the house sizes (aecf.figures.style),
colours from aecf.figures.palette. Every function takes plain numbers and names and returns markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from aecf.figures import palette
from aecf.figures.app import bars_html, wrap_title
from aecf.figures.style import SVG_FONT, SVG_SMALL_FONT, SVG_TITLE_FONT

RIGHT = palette.BLUE  # a subset that predicts the true label(s): a filled dot
WRONG = palette.ORANGE  # one that predicts something else: a ring
CHAIN = palette.TEXT
_GOLDEN = 0.6180339887


def _axis_low(confidences: Sequence[float]) -> float:
    """The left end of the confidence axis: the lowest confidence rounded down to a tenth, at most 0.9 (so that
    confident models do not pile every dot on the right edge, and the axis still spans a tenth)."""
    low = min(confidences, default=0.0)
    return min(0.9, math.floor(max(0.0, low) * 10 + 1e-9) / 10)


def subset_strips_svg(
    rows: Sequence[Sequence[tuple[str, str, float, bool | None]]],
    chain: Sequence[tuple[str, bool]],
    title: str = "Confidence with every subset, by size",
    chain_label: str = "line: a chain of subsets",
    tol: float = 0.01,
    width: int = 620,
) -> str:
    """Subsets by size: `rows[s - 1]` holds the subsets of size s as (name, short name, confidence, predicts
    the truth or None), most confident first; each row is a strip of dots on one confidence axis, with its best
    and worst subset named at its right. `chain`: (subset name, this step lost confidence) from one modality to
    all, drawn across the strips. Carries data-testid="subsets-svg", data-sizes, data-subsets and data-falls."""
    k = len(rows)
    left, strip_l, strip_r, text_x = 4, 116, 366, 378
    row_h = 46
    title_lines = wrap_title(title, width - 8, SVG_TITLE_FONT)
    key_y = 22 * len(title_lines) + 16  # the key: three short lines under the title
    y0 = key_y + 2 * 20 + 30
    axis_y = y0 + k * row_h + 4
    height = axis_y + 52
    confs = [c for row in rows for _, _, c, _ in row]
    lo = _axis_low(confs)

    def x_of(c: float) -> float:
        return strip_l + (min(max(c, lo), 1.0) - lo) / (1.0 - lo) * (strip_r - strip_l)

    falls = sum(1 for _, fell in chain if fell)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}" data-testid="subsets-svg" data-sizes="{k}" data-subsets="{len(confs)}" '
        f'data-falls="{falls}" style="font-family: inherit; max-width: {int(width * 1.25)}px; display: block">'
    ]
    out.append(
        f"<style>.aecf-dot-right {{ fill: {RIGHT}; fill-opacity: 0.85; r: 6px; }} "
        f".aecf-dot-wrong {{ fill: white; fill-opacity: 0.6; stroke: {WRONG}; stroke-width: 2.5; r: 5px; }}</style>"
    )
    out += [
        f'<text x="4" y="{20 + 22 * i}" font-size="{SVG_TITLE_FONT}" font-weight="600">{escape(line)}</text>'
        for i, line in enumerate(title_lines)
    ]
    muted = f'font-size="{SVG_SMALL_FONT}" fill="{palette.MUTED_TEXT}"'
    out.append(
        f'<circle cx="11" cy="{key_y - 5}" r="6" fill="{RIGHT}"/>'
        f'<text x="23" y="{key_y}" {muted}>predicts the true label</text>'
        f'<circle cx="226" cy="{key_y - 5}" r="5" fill="white" stroke="{WRONG}" stroke-width="2.5"/>'
        f'<text x="238" y="{key_y}" {muted}>predicts another label</text>'
        f'<line x1="4" y1="{key_y + 15}" x2="20" y2="{key_y + 15}" stroke="{CHAIN}" stroke-width="2.5"/>'
        f'<text x="26" y="{key_y + 20}" {muted}>{escape(chain_label)}</text>'
        f'<line x1="4" y1="{key_y + 35}" x2="20" y2="{key_y + 35}" stroke="{palette.VIOLATION}" stroke-width="5"/>'
        f'<text x="26" y="{key_y + 40}" font-size="{SVG_SMALL_FONT}" fill="{palette.VIOLATION}" font-weight="600">'
        f"a step that loses confidence (by more than {tol:g})</text>"
        f'<text x="{text_x}" y="{y0 - 8}" {muted}>best ↑, worst ↓</text>'
    )
    where: dict[str, tuple[float, float]] = {}
    dots = []
    for s, row in enumerate(rows, start=1):
        y = y0 + (s - 1) * row_h + row_h / 2
        out.append(
            f'<line x1="{strip_l}" y1="{y:.1f}" x2="{strip_r}" y2="{y:.1f}" stroke="{palette.GRID}" '
            'stroke-width="14" stroke-linecap="round"/>'
            f'<text x="{left}" y="{y - 3:.1f}" font-size="{SVG_FONT}" font-weight="600">'
            f"{s} modalit{'y' if s == 1 else 'ies'}</text>"
            f'<text x="{left}" y="{y + 15:.1f}" {muted}>{len(row)} subset{"" if len(row) == 1 else "s"}</text>'
        )
        spread = 24 if len(row) > 4 else 0
        for i, (name, _short, c, right) in enumerate(row):
            dy = ((i * _GOLDEN) % 1 - 0.5) * spread
            x = x_of(c)
            where[name] = (x, y + dy)
            verdict = (
                ""
                if right is None
                else " · predicts the true label"
                if right
                else " · predicts another label"
            )
            # one node and its title per dot (up to 255, restyled on every switch): the look comes from classes
            dots.append(
                f'<circle class="{"aecf-dot-right" if right or right is None else "aecf-dot-wrong"}" '
                f'cx="{x:.1f}" cy="{y + dy:.1f}" data-subset="{escape(name)}" data-confidence="{c:.3f}">'
                f"<title>{escape(name)}: confidence {c:.3f}{verdict}</title></circle>"
            )
        if len(row) == 1:
            name, short, c, _ = row[0]
            out.append(
                f'<text x="{text_x}" y="{y + 5:.1f}" font-size="{SVG_SMALL_FONT}"><title>{escape(name)}</title>'
                f"{escape(short)}: {c:.2f}</text>"
            )
        elif row:
            (bname, bshort, bc, _), (wname, wshort, wc, _) = row[0], row[-1]
            out.append(
                f'<text x="{text_x}" y="{y - 3:.1f}" font-size="{SVG_SMALL_FONT}" data-best="{escape(bname)}">'
                f"<title>best of size {s}: {escape(bname)}</title>↑ {escape(bshort)} {bc:.2f}</text>"
                f'<text x="{text_x}" y="{y + 15:.1f}" font-size="{SVG_SMALL_FONT}" data-worst="{escape(wname)}">'
                f"<title>worst of size {s}: {escape(wname)}</title>↓ {escape(wshort)} {wc:.2f}</text>"
            )
    out += dots
    points = [(name, fell) for name, fell in chain if name in where]
    for (a, _), (b, fell) in zip(points, points[1:], strict=False):
        (x0, y_a), (x1, y_b) = where[a], where[b]
        color, w = (palette.VIOLATION, 5) if fell else (CHAIN, 2.5)
        out.append(
            f'<line x1="{x0:.1f}" y1="{y_a:.1f}" x2="{x1:.1f}" y2="{y_b:.1f}" stroke="{color}" stroke-width="{w}" '
            f'stroke-opacity="0.9" data-fall="{int(fell)}"/>'
        )
    out += [
        f'<circle cx="{where[name][0]:.1f}" cy="{where[name][1]:.1f}" r="9" fill="none" stroke="{CHAIN}" '
        'stroke-width="2"/>'
        for name, _ in points
    ]
    step = 0.05 if 1.0 - lo <= 0.21 else 0.1
    ticks = [round(lo + i * step, 2) for i in range(int(round((1.0 - lo) / step)) + 1)]
    ticks = ticks if len(ticks) <= 6 else ticks[::2] if ticks[-1] == ticks[::2][-1] else ticks[::-2][::-1]
    out.append(
        f'<line x1="{strip_l}" y1="{axis_y}" x2="{strip_r}" y2="{axis_y}" stroke="{palette.NEUTRAL}"/>'
    )
    for t in ticks:
        x = x_of(t)
        out.append(
            f'<line x1="{x:.1f}" y1="{axis_y}" x2="{x:.1f}" y2="{axis_y + 5}" stroke="{palette.NEUTRAL}"/>'
            f'<text x="{x:.1f}" y="{axis_y + 21}" font-size="{SVG_SMALL_FONT}" text-anchor="middle" '
            f'fill="{palette.MUTED_TEXT}">{t:g}</text>'
        )
    out.append(
        f'<text x="{(strip_l + strip_r) / 2:.0f}" y="{axis_y + 44}" font-size="{SVG_FONT}" text-anchor="middle">'
        "confidence with only that subset</text>"
    )
    out.append("</svg>")
    return "".join(out)


def monotonicity_html(
    k: int,
    steps: int,
    violated_steps: int,
    chains: int,
    monotone_chains: int,
    by_modality: Sequence[tuple[str, int, int]],
    worst: tuple[str, str, float, float] | None,
    chain: Sequence[tuple[str, float, bool]],
    chain_label: str,
    tol: float = 0.01,
) -> str:
    """CEC's rule (adding a modality must not lower the confidence) counted for one example, as HTML: how many
    steps and how many orders of adding the `k` modalities keep it, the largest fall (smaller subset, larger
    subset, their confidences), per modality the share of steps adding it that lose confidence (bars), and the
    chain the figure draws, step by step (added modality, confidence, lost?). Carries data-testid="monotonicity"."""
    if k < 2:
        return (
            '<div data-testid="monotonicity"><p><b>Monotonicity</b></p><p class="aecf-note">One modality is used: '
            "there is no smaller subset to compare with. Switch on another.</p></div>"
        )
    orders = f"{chains:,}"
    head = (
        f"<p><b>Monotonicity</b> (CEC: adding a modality must not lower the confidence)</p>"
        f"<p>{violated_steps} of {steps} steps that add one modality lose confidence (by more than {tol:g}); "
        f"{monotone_chains:,} of the {orders} orders of adding the {k} modalities never do.</p>"
    )
    if worst is not None:
        a, b, ca, cb = worst
        head += (
            f"<p>Largest fall: <b>{escape(a)}</b> {ca:.2f} → <b>{escape(b)}</b> "
            f'<span style="color:{palette.VIOLATION};font-weight:600">{cb:.2f}</span>.</p>'
        )
    rows = [
        (f"adding {m}: {bad} of {total} steps lose confidence", bad / total if total else 0.0)
        for m, bad, total in by_modality
    ]
    fall_style = f' style="color:{palette.VIOLATION};font-weight:600"'
    steps_html = " → ".join(
        f"<span{fall_style if fell else ''}>{'' if i == 0 else '+'}{escape(m)} {c:.2f}</span>"
        for i, (m, c, fell) in enumerate(chain)
    )
    return (
        '<div data-testid="monotonicity">'
        + head
        + bars_html(rows, palette.VIOLATION)
        + f'<p class="aecf-note">{escape(chain_label[:1].upper() + chain_label[1:])}: {steps_html}</p></div>'
    )
