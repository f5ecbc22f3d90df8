"""Captions with graded information about the digit, like real web captions.

Four levels, recorded per sample:

    0 exact    names the digit ("a seven", "7", "the digit seven")
    1 partial  narrows it to a set ("an odd number" → {1, 3, 5, 7, 9}, "a digit with a loop" → {0, 6, 8, 9})
    2 none     says nothing about which digit ("a handwritten digit", "some ink on paper")
    3 wrong    an exact caption of a *different* digit (noisy labels exist on the web)

Every caption the grammar can produce maps to the set of digits it is consistent with
(`consistent_digits`), which the text tower can use as a soft target.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from aecf.constants import CLASSES, NUM_CLASSES
from aecf.errors import InputError

EXACT, PARTIAL, NONE, WRONG = 0, 1, 2, 3
LEVEL_NAMES: tuple[str, ...] = ("exact", "partial", "none", "wrong")
# Contract (docs/architecture.md): how much a caption of each level hides about the label.
LEVEL_SEVERITY: tuple[float, ...] = (0.0, 0.5, 0.8, 1.0)

ALL_DIGITS = frozenset(range(NUM_CLASSES))

# {w} = the word ("seven"), {d} = the numeral ("7"), {a_w}/{a_d} = with its article ("an eight", "an 8").
_EXACT_TEMPLATES: tuple[str, ...] = (
    "{w}",
    "{d}",
    "{a_w}",
    "{a_d}",
    "the digit {w}",
    "the digit {d}",
    "a handwritten {d}",
    "a handwritten {w}",
    "number {w}",
    "the number {d}",
    "digit {d}",
    "a scribbled {w}",
    "it's {a_w}",
    "{a_d} written in ink",
    "a photo of the number {w}",
    "a hand-drawn {d}",
    "the numeral {d}",
    "looks like {a_w} to me",
)

_WORDS = CLASSES


def _below(k: int) -> frozenset[int]:
    return frozenset(range(k))


def _above(k: int) -> frozenset[int]:
    return frozenset(range(k + 1, NUM_CLASSES))


_ODD = frozenset({1, 3, 5, 7, 9})
_EVEN = frozenset({0, 2, 4, 6, 8})

# Each caption → the digits it allows. Sets of 2 to 5 digits: informative, never decisive alone.
PARTIAL_CAPTIONS: dict[str, frozenset[int]] = {
    "an odd number": _ODD,
    "an odd digit": _ODD,
    "an even number": _EVEN,
    "an even digit": _EVEN,
    "a prime number": frozenset({2, 3, 5, 7}),
    "a digit with a loop": frozenset({0, 6, 8, 9}),
    "a number with a closed loop": frozenset({0, 6, 8, 9}),
    "a digit made of straight lines": frozenset({1, 4, 7}),
    "a digit with no curves": frozenset({1, 4, 7}),
    "a multiple of three": frozenset({0, 3, 6, 9}),
    "a perfect square": frozenset({0, 1, 4, 9}),
    "a number between two and six": frozenset({3, 4, 5}),
    "a number between five and nine": frozenset({6, 7, 8}),
    "a number between zero and four": frozenset({1, 2, 3}),
    "an odd number above five": frozenset({7, 9}),
    "an odd number below five": frozenset({1, 3}),
    "an even number above four": frozenset({6, 8}),
    "an even number below five": frozenset({0, 2, 4}),
    **{f"a number above {_WORDS[k]}": _above(k) for k in (4, 5, 6)},
    **{f"a number greater than {k}": _above(k) for k in (5, 6, 7)},
    **{f"a number below {_WORDS[k]}": _below(k) for k in (3, 4, 5)},
    **{f"a number less than {k}": _below(k) for k in (3, 4, 5)},
}

NONE_CAPTIONS: tuple[str, ...] = (
    "a handwritten digit",
    "a number",
    "some ink on paper",
    "a digit",
    "a scanned character",
    "handwriting",
    "a single digit",
    "a black and white picture",
    "a number written by hand",
    "a symbol",
    "an image of a number",
    "a photo",
    "a digit from a form",
    "a scribble",
)


def _article(word: str) -> str:
    # "an eight", "an 8"; every other digit word or numeral takes "a".
    return "an" if word in ("eight", "8") else "a"


def exact_captions(digit: int) -> list[str]:
    """Every exact caption of `digit` the grammar knows (e.g. "a seven", "7", "the digit seven")."""
    w, d = _WORDS[digit], str(digit)
    fields = {"w": w, "d": d, "a_w": f"{_article(w)} {w}", "a_d": f"{_article(d)} {d}"}
    return [t.format(**fields) for t in _EXACT_TEMPLATES]


def class_prompt(digit: int) -> str:
    """The caption that stands for a class in zero-shot classification."""
    return f"the digit {_WORDS[digit]}"


def normalize_caption(caption: str) -> str:
    """Lower case, single spaces, no surrounding punctuation: how captions are looked up."""
    caption = re.sub(r"\s+", " ", caption.strip().lower())
    return caption.strip(" .!?,;:\"'").replace("\u2019", "'")


def _build_table() -> dict[str, frozenset[int]]:
    table: dict[str, frozenset[int]] = {}
    for digit in range(NUM_CLASSES):
        for caption in exact_captions(digit):
            table[normalize_caption(caption)] = frozenset({digit})
    for caption, digits in PARTIAL_CAPTIONS.items():
        table[normalize_caption(caption)] = digits
    for caption in NONE_CAPTIONS:
        table[normalize_caption(caption)] = ALL_DIGITS
    return table


_CONSISTENT = _build_table()
_PARTIAL_BY_DIGIT: tuple[tuple[str, ...], ...] = tuple(
    tuple(c for c, digits in PARTIAL_CAPTIONS.items() if d in digits) for d in range(NUM_CLASSES)
)


def consistent_digits(caption: str) -> set[int]:
    """Digits a grammar caption is consistent with: one for exact, 2-5 for partial, all ten for none.

    A wrong caption is an exact caption of another digit, so it returns that other digit. Captions
    outside the grammar raise InputError (free text has no known answer set).
    """
    try:
        return set(_CONSISTENT[normalize_caption(caption)])
    except KeyError:
        raise InputError(f"{caption!r} is not a caption of the benchmark grammar.") from None


def sample_caption(label: int, level: int, rng: np.random.Generator) -> str:
    """One caption of `level` (EXACT, PARTIAL, NONE, WRONG) for a sample whose digit is `label`."""
    if level == EXACT:
        return str(rng.choice(exact_captions(label)))
    if level == PARTIAL:
        return str(rng.choice(_PARTIAL_BY_DIGIT[label]))
    if level == NONE:
        return str(rng.choice(NONE_CAPTIONS))
    if level == WRONG:
        other = (label + int(rng.integers(1, NUM_CLASSES))) % NUM_CLASSES  # uniform over the other nine
        return str(rng.choice(exact_captions(other)))
    raise ValueError(f"unknown caption level {level}")


def sample_captions(
    labels: Sequence[int] | np.ndarray, level_probs: Sequence[float], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Draw a level per sample from `level_probs` (exact, partial, none, wrong), then a caption.

    Returns (captions str [N], levels int8 [N]).
    """
    probs = np.asarray(level_probs, dtype=np.float64)
    levels = rng.choice(len(LEVEL_NAMES), size=len(labels), p=probs / probs.sum()).astype(np.int8)
    captions = [sample_caption(int(y), int(lv), rng) for y, lv in zip(labels, levels, strict=True)]
    return np.asarray(captions, dtype=np.str_), levels


def caption_severity(levels: np.ndarray) -> np.ndarray:
    """Per-sample caption severity from its level (exact 0, partial 0.5, none 0.8, wrong 1.0)."""
    return np.asarray(LEVEL_SEVERITY, dtype=np.float32)[np.asarray(levels, dtype=np.int64)]
