"""The project's colours, defined once and used by every figure, SVG and the Explore page's HTML.

Hues that stay apart for colour-blind readers: Okabe & Ito's set ("Color Universal Design", 2008) for the
modalities and the main methods, and Paul Tol's "muted" colours for the AECF variants and other extra methods
(drawn dashed or hatched as well, a second cue: twelve hues cannot all stay apart under every colour-vision
deficiency). tests/aecf/figures/test_palette.py checks the distances under simulated protanopia, deuteranopia
and tritanopia.
"""

from __future__ import annotations

from collections.abc import Iterable

# Okabe-Ito (the yellow, #F0E442, is left out: too pale for a line or a bar on white)
BLACK = "#000000"
ORANGE = "#E69F00"
SKY_BLUE = "#56B4E9"
BLUISH_GREEN = "#009E73"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
REDDISH_PURPLE = "#CC79A7"
# Paul Tol's "muted" set (a few of them)
WINE = "#882255"
INDIGO = "#332288"
OLIVE = "#999933"
TEAL = "#44AA99"
PURPLE = "#AA4499"

MODALITY_COLORS = {"image": BLUE, "caption": ORANGE, "audio": BLUISH_GREEN}

# the main methods: solid lines and bars, Okabe-Ito
MAIN_METHOD_COLORS = {
    "aecf": VERMILLION,
    "late_fusion": BLUE,
    "moddrop": BLUISH_GREEN,
    "specialists": BLACK,
    "mean": REDDISH_PURPLE,
    "gate": SKY_BLUE,
    "fixed_lambda": ORANGE,
}
# AECF's variants and the authors' recipe: dashed lines and hatched bars as well
VARIANT_METHOD_COLORS = {
    "authors_recipe": WINE,
    "aecf_no_adaptive_lambda": INDIGO,
    "aecf_no_cec": OLIVE,
    "aecf_no_acm": TEAL,
    "aecf_paper_fusion": PURPLE,
}
METHOD_COLORS = MAIN_METHOD_COLORS | VARIANT_METHOD_COLORS

# any other series (runs, curves, "overall", π_t): the first colours not already taken in the same figure
SERIES_COLORS = [BLUE, VERMILLION, BLUISH_GREEN, REDDISH_PURPLE, ORANGE, SKY_BLUE, BLACK, WINE, INDIGO, OLIVE]

# roles
VIOLATION = VERMILLION  # a monotonicity violation in the subset lattice (confidence falls along an edge)
LAMBDA = REDDISH_PURPLE  # λ(x), the entropy gate, the MC-dropout passes
ACM = ORANGE  # adaptive curriculum masking
NEUTRAL = "#6C757D"  # reference lines, muted marks
GRID = "#E9ECEF"
TEXT = "#31333F"  # Streamlit's body text colour
MUTED_TEXT = "#5A5C69"  # secondary text that still reads on a projector


def method_key(name: str) -> str | None:
    """The method a series or checkpoint name stands for ('aecf', 'aecf (AECF)', 'aecf.seed1', 'shipped:
    late_fusion' ...), or None."""
    head = name.split(" (", 1)[0].strip()
    head = head.rsplit(": ", 1)[-1]
    base = head.split(".", 1)[0]
    return base if base in METHOD_COLORS else None


def is_variant(name: str) -> bool:
    """True for a method drawn dashed/hatched (an AECF variant or the authors' recipe)."""
    return method_key(name) in VARIANT_METHOD_COLORS


def method_color(name: str, fallback: str = NEUTRAL) -> str:
    key = method_key(name)
    return METHOD_COLORS[key] if key is not None else fallback


def series_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour for each name: a modality or a method keeps its own (the first name that claims it), the
    rest take the first colours of SERIES_COLORS that no other name in the same figure has."""
    names = list(dict.fromkeys(names))
    own: dict[str, str] = {}
    for name in names:
        color = MODALITY_COLORS.get(name) or (method_color(name) if method_key(name) else None)
        if color is not None and color not in own.values():
            own[name] = color
    free = [c for c in SERIES_COLORS if c not in own.values()] or SERIES_COLORS
    rest = [n for n in names if n not in own]
    return {n: own[n] if n in own else free[rest.index(n) % len(free)] for n in names}


def css_variables() -> str:
    """The palette as CSS custom properties (--aecf-image, --aecf-muted-text, ...), for the pages' CSS."""
    named = {f"--aecf-{m}": c for m, c in MODALITY_COLORS.items()} | {
        "--aecf-violation": VIOLATION,
        "--aecf-lambda": LAMBDA,
        "--aecf-text": TEXT,
        "--aecf-muted-text": MUTED_TEXT,
        "--aecf-grid": GRID,
    }
    return ":root { " + " ".join(f"{k}: {v};" for k, v in named.items()) + " }\n"
