"""Typeset digits for the image tower's fine-tune (stage 3), from font families the held-out sets never use.

MNIST alone teaches the tower one population of writers; typeset and script digits (a serif 1 with its
base, a closed 4, a flat-topped 7) are read worse. Stage 3 can mix in digits rendered
from the Debian font packages in `TRAIN_FONT_PACKAGES`. Their families are disjoint from the held-out
sets' (`aecf.data.heldout.images.HANDWRITING_FAMILIES` / `ORDINARY_FAMILIES`), and `check_disjoint` also refuses
a training font whose digits look like a held-out font's (a clone or a derivative of the same design:
Verana is Bitstream Vera, like DejaVu, and is left out for that reason). The renderer here is our own
and simple (size, weight, margins); all other variation comes from the training augmentation
(`augment.augment_digits`), and every digit goes through the app's own `preprocess_image`, as an upload
does.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from aecf.data.heldout.images import HANDWRITING_FAMILIES, ORDINARY_FAMILIES, available_fonts, digits_ok
from aecf.encoders.preprocess import preprocess_image
from aecf.errors import InputError

# Debian packages (scripts/setup.sh installs them); the families below come from these.
TRAIN_FONT_PACKAGES: tuple[str, ...] = (
    "fonts-ecolier-court",
    "fonts-isabella",
    "fonts-staypuft",
    "fonts-tomsontalks",
    "fonts-lobstertwo",
    "fonts-beteckna",
    "fonts-dustin",
    "fonts-klaudia-berenika",
    "fonts-goudybookletter",
    "fonts-yanone-kaffeesatz",
    "fonts-sil-gentium",
    "fonts-open-sans",
    "fonts-lato",
    "fonts-roboto-unhinted",
    "fonts-oxygen",
    "fonts-quicksand",
    "fonts-comfortaa",
    "fonts-cabin",
    "fonts-dosis",
    "fonts-jura",
    "fonts-ebgaramond",
    "fonts-crosextra-carlito",
    "fonts-crosextra-caladea",
    "fonts-linuxlibertine",
    "fonts-firacode",
    "fonts-inconsolata",
    "fonts-vollkorn",
    "fonts-averia-gwf",
    "fonts-averia-sans-gwf",
    "fonts-averia-serif-gwf",
    "fonts-league-spartan",
    "fonts-adf-gillius",
    "fonts-adf-baskervald",
    "fonts-adf-accanthis",
    "fonts-adf-berenis",
    "fonts-adf-ikarius",
    "fonts-adf-irianis",
    "fonts-adf-libris",
    "fonts-adf-mekanus",
    "fonts-adf-romande",
    "fonts-adf-switzera",
    "fonts-adf-tribun",
    "fonts-adf-universalis",
    "fonts-gfs-didot",
)
# Script / handwriting-like families, then ordinary ones. Left out on sight of their digits: decorative
# or boxed (Euterpe, Wargames, Linux Biolinum Keyboard, Linux Libertine Initials, Ecolier with ruled
# lines, [F500]), glyph-less (Balker, Swift, Winks, ...), a slashed zero (Oldania), Verana (see above).
TRAIN_SCRIPT_FAMILIES: tuple[str, ...] = (
    "Domestic Manners",
    "Ecolier_court",
    "El Abogado Loco",
    "Isabella",
    "Junkyard",
    "Lobster Two",
    "Penguin Attack",
    "Romande ADF Script Std",
    "StayPuft",
    "Tomson Talks",
    "Klaudia",
    "Berenika",
    "EB Garamond",
    "Gentium",
)
TRAIN_ORDINARY_FAMILIES: tuple[str, ...] = (
    "Accanthis ADF Std",
    "Averia GWF",
    "Averia Sans GWF",
    "Averia Serif GWF",
    "Baskervald ADF Std",
    "Berenis ADF Pro",
    "Beteckna",
    "BetecknaGSCondensed",
    "Cabin",
    "Caladea",
    "Carlito",
    "Comfortaa",
    "Dosis",
    "Dustismo",
    "Dustismo Roman",
    "Fira Code",
    "GFS Didot",
    "Gillius ADF",
    "Goudy Bookletter 1911",
    "Ikarius ADF Std",
    "Inconsolata",
    "Irianis ADF Std",
    "Jura",
    "Lato",
    "League Spartan",
    "Libris ADF Std",
    "Linux Biolinum O",
    "Linux Libertine O",
    "Mekanus ADF Std",
    "Open Sans",
    "Open Sans Condensed",
    "Oxygen-Sans",
    "Quicksand",
    "Roboto",
    "Roboto Condensed",
    "Romande ADF Std",
    "Switzera ADF",
    "Tribun ADF Std",
    "Universalis ADF Std",
    "Vollkorn",
    "Yanone Kaffeesatz",
)
TRAIN_FAMILIES = TRAIN_SCRIPT_FAMILIES + TRAIN_ORDINARY_FAMILIES
HINT = "Install the training fonts with `bash scripts/setup.sh` (Debian packages fonts-*)."
# Two fonts whose ten digits overlap this much (mean IoU of the normalised glyphs) are one design. Clones
# among the held-out fonts (FreeSans / Nimbus Sans, FreeSerif / Nimbus Roman) overlap 0.96-0.98; two
# unrelated sans-serif designs commonly overlap 0.80-0.88.
SAME_DESIGN_IOU = 0.9


@dataclass(frozen=True)
class TrainFont:
    path: str
    family: str
    style: str


def _fc_list() -> list[tuple[str, str, str]]:
    if shutil.which("fc-list") is None:
        return []
    out = subprocess.run(
        ["fc-list", "--format", "%{file}|%{family[0]}|%{style[0]}\n"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    rows = [tuple(line.split("|")) for line in sorted(set(out.splitlines()))]
    return [r for r in rows if len(r) == 3 and r[0].lower().endswith((".ttf", ".otf"))]


def training_fonts() -> list[TrainFont]:
    """The installed files of TRAIN_FAMILIES whose ten digits are distinct glyphs (one per family+style)."""
    seen: dict[tuple[str, str], TrainFont] = {}
    for path, family, style in _fc_list():
        if family in TRAIN_FAMILIES and (family, style) not in seen and digits_ok(path):
            seen[(family, style)] = TrainFont(path, family, style)
    return sorted(seen.values(), key=lambda f: (f.family, f.style))


def glyph_signature(path: str, side: int = 32) -> np.ndarray:
    """bool [10, side, side]: each digit's glyph cropped to its ink and resized to a square."""
    font = ImageFont.truetype(path, 96)
    out = np.zeros((10, side, side), bool)
    for d in range(10):
        img = Image.new("L", (288, 288), 0)
        ImageDraw.Draw(img).text((96, 48), str(d), fill=255, font=font)
        a = np.asarray(img) > 127
        ys, xs = np.nonzero(a)
        if len(ys):
            crop = Image.fromarray(
                (a[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] * 255).astype(np.uint8)
            )
            out[d] = np.asarray(crop.resize((side, side), Image.BILINEAR)) > 127
    return out


def design_overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Mean IoU over the ten digits of two glyph signatures."""
    inter = (a & b).sum((1, 2))
    union = np.maximum(1, (a | b).sum((1, 2)))
    return float(np.mean(inter / union))


def check_disjoint(train: list[TrainFont], heldout_paths: list[str]) -> tuple[list[TrainFont], list[str]]:
    """Drop every training font that shares a family with, or looks like, a held-out font."""
    held = set(HANDWRITING_FAMILIES) | set(ORDINARY_FAMILIES)
    held_sigs = [glyph_signature(p) for p in heldout_paths]
    kept, dropped = [], []
    for f in train:
        if f.family in held:
            dropped.append(f"{f.family} {f.style}: a held-out family")
            continue
        sig = glyph_signature(f.path)
        worst = max((design_overlap(sig, h) for h in held_sigs), default=0.0)
        if worst >= SAME_DESIGN_IOU:
            dropped.append(f"{f.family} {f.style}: digits overlap a held-out font (IoU {worst:.2f})")
        else:
            kept.append(f)
    return kept, dropped


def render_digit(font: TrainFont, digit: int, rng: np.random.Generator) -> Image.Image:
    """Dark ink on light paper: one digit at a random size and weight, with random margins."""
    size = int(rng.integers(40, 120))
    f = ImageFont.truetype(font.path, size)
    img = Image.new("L", (size * 3, size * 3), 255)
    stroke = int(rng.choice([0, 0, 0, 1, 2])) * max(1, size // 40)
    ImageDraw.Draw(img).text(
        (size, size // 2), str(digit), fill=0, font=f, stroke_width=stroke, stroke_fill=0
    )
    a = np.asarray(img)
    ys, xs = np.nonzero(a < 128)
    m = int(rng.integers(size // 8, size // 2))
    y0, y1 = max(0, ys.min() - m), min(a.shape[0], ys.max() + 1 + m)
    x0, x1 = max(0, xs.min() - m), min(a.shape[1], xs.max() + 1 + m)
    return Image.fromarray(a[y0:y1, x0:x1])


def font_digit_pool(variants: int, seed: int, log=print) -> tuple[np.ndarray, np.ndarray, dict]:
    """`variants` renderings of each digit by every usable training font, through `preprocess_image`.

    Returns (uint8 [N, 28, 28] white ink on black, int64 labels [N], info). Raises InputError when no
    training font is installed."""
    t0 = time.time()
    fonts, dropped = check_disjoint(training_fonts(), [f.path for f in available_fonts()])
    if not fonts:
        raise InputError(f"No training font is installed. {HINT}")
    rng = np.random.default_rng([seed, 4801])
    xs, ys, refused = [], [], 0
    for font in fonts:
        for digit in range(10):
            for _ in range(variants):
                try:
                    x = preprocess_image(render_digit(font, digit, rng))
                except InputError:
                    refused += 1
                    continue
                xs.append(np.round(x * 255).astype(np.uint8))
                ys.append(digit)
    info = {
        "fonts": len(fonts),
        "families": len({f.family for f in fonts}),
        "dropped": dropped,
        "images": len(xs),
        "refused": refused,
        "seconds": round(time.time() - t0, 1),
    }
    log(
        f"image: {len(xs)} typeset digits from {info['fonts']} training fonts ({info['families']} families) "
        f"in {info['seconds']:.0f} s; {len(dropped)} fonts left out as held-out-like"
    )
    return np.stack(xs), np.array(ys, dtype=np.int64), info
