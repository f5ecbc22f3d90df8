"""Markdown tables of the project's results: the one renderer from results JSON to markdown.

Fusion tables read the JSON of `python -m aecf evaluate` (`results/results.json`); encoder tables read the
JSON of `python -m aecf encoders report` (`checkpoints/encoders/report.json`). Every number the project's
markdown shows is formatted here:

- `results_markdown(results)` is the whole of `results.md`, which `evaluate` writes beside its JSON;
- `build_tables(results, report)` gives each named table, and `fill_blocks` puts them between the marker
  lines of a document (README.md, docs/results.md, docs/encoders.md: `scripts/render_docs.py`)::

      <!-- table:NAME -->
      | ... |
      <!-- /table:NAME -->

Means and seed stds are printed as `mean ± std` where a method has several seeds. Differences and ratios are
computed from the unrounded means and rounded half up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal

MINUS = "\u2212"  # the typographic minus of the tables
RATES = ("0.0", "0.1", "0.3", "0.5", "0.7", "0.9")  # the digits benchmark's drop rates, in table order
CAPTION_LEVELS = ("exact", "partial", "none", "wrong")
MARKER = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)\n?(<!-- /table:(?P=name) -->)", re.S)


# ------------------------------------------------------------------------------------------ cells


def fmt(v, pct: bool = False, digits: int = 3) -> str:
    """One number: a share as % with one decimal (`pct`), else `digits` decimals; '–' for none / NaN."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{100 * v:.1f}" if pct else f"{v:.{digits}f}"


def pm(entry: dict, path: list[str], pct: bool = True, digits: int = 3) -> str:
    """The value at `path` in a method's entry, with ' ± std' (its mirror in entry['std']) over seeds."""
    node, std = entry, entry.get("std", {})
    for k in path:
        node = node.get(k) if isinstance(node, dict) else None
        std = std.get(k) if isinstance(std, dict) else None
    s = fmt(node, pct, digits)
    if entry.get("n_seeds", 1) > 1 and isinstance(std, int | float) and node is not None:
        s += f" ± {fmt(std, pct, digits)}"
    return s


def half_up(x: float, digits: int) -> Decimal:
    """Half-up rounding of the decimal repr (0.45 -> 0.5, -0.365 -> -0.37), unlike binary round()."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def signed(d: Decimal) -> str:
    return f"{MINUS}{-d}" if d < 0 else f"+{d}"


def _get(entry, *path):
    for k in path:
        entry = entry.get(k) if isinstance(entry, dict) else None
    return entry


def _header(columns: list[str]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


def _rows(rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(row) + " |" for row in rows]


# ------------------------------------------------------------------------------------------ fusion

# (row label, path in a method's entry, shown as a %, higher is better); the README's headline measures
HEADLINE_ROWS = [
    ("accuracy, every input (%)", ("full", "acc"), True, True),
    ("accuracy at 50 % drop (%)", ("drop", "0.5", "acc"), True, True),
    ("mAP at 50 % drop (%)", ("drop", "0.5", "map"), True, True),
    ("raw ECE at 50 % drop (lower is better)", ("drop", "0.5", "ece"), False, False),
    (
        "subset violations where the caption is not wrong (lower is better)",
        ("monotonicity", "consistent"),
        False,
        False,
    ),
    (
        "a wrong caption lowers the confidence (% of such examples; a drop is right there)",
        ("monotonicity", "wrong_caption_lowers_confidence"),
        True,
        True,
    ),
]
HEADLINE_METHODS = [
    ("aecf", "AECF"),
    ("moddrop", "ModDrop"),
    ("late_fusion", "late fusion"),
    ("specialists", "specialists (the limit)"),
]
BUYS_PP = Decimal("1.0")  # a difference of at least 1 pp (of the values shown) is a gain or a loss
BUYS_RATIO = 0.8  # an error measure at ≤ 0.8 × the other's is a gain, at ≥ 1 / 0.8 × a loss


def _versus(a: float | None, b: float | None, pct: bool, higher_better: bool) -> str:
    """AECF against another method and what that buys: a difference in pp of the values shown for a share,
    the ratio of the unrounded means for an error measure (ECE, violations)."""
    if a is None or b is None or (not pct and not b):
        return "–"
    if pct:
        d = Decimal(fmt(a, True)) - Decimal(fmt(b, True))
        gain = d if higher_better else -d
        cell = f"{signed(d)} pp"
        verdict = "buys" if gain >= BUYS_PP else "loses" if gain <= -BUYS_PP else "no gain"
    else:
        r = a / b if not higher_better else b / a  # < 1: AECF better
        cell = f"{half_up(a / b, 2)} ×"
        verdict = "buys" if r <= BUYS_RATIO else "loses" if r >= 1 / BUYS_RATIO else "no gain"
    return f"{cell}: {verdict}"


def interval(entry: dict | None, path, pct: bool = True, digits: int = 3) -> str:
    """The bootstrap 95 % interval of the value at `path` (its mirror under entry["ci"]) as '[low, high]'
    in the units of `fmt`; '–' where there is none."""
    ci = _get(entry, "ci", *path)
    if not (isinstance(ci, list) and len(ci) == 2 and all(isinstance(v, int | float) for v in ci)):
        return "–"
    return f"[{fmt(ci[0], pct, digits)}, {fmt(ci[1], pct, digits)}]"


def headline_table(results: dict) -> str:
    """What AECF buys and what it doesn't: AECF (with the bootstrap 95 % interval of its numbers), ModDrop,
    late fusion and the specialists on the measures the README leads with, and AECF against late fusion and
    ModDrop with the verdict of `_versus`."""
    m = results["methods"]
    labels = [label for _, label in HEADLINE_METHODS]
    lines = _header(
        ["test split", labels[0], "AECF 95 % CI", *labels[1:], "AECF vs late fusion", "AECF vs ModDrop"]
    )
    for label, path, pct, higher_better in HEADLINE_ROWS:
        values = [_get(m.get(key), *path) for key, _ in HEADLINE_METHODS]
        a, md, lf = values[0], values[1], values[2]
        cells = [fmt(v, pct) for v in values]
        ci = interval(m.get(HEADLINE_METHODS[0][0]), path, pct)
        lines += _rows(
            [
                [
                    label,
                    cells[0],
                    ci,
                    *cells[1:],
                    _versus(a, lf, pct, higher_better),
                    _versus(a, md, pct, higher_better),
                ]
            ]
        )
    return "\n".join(lines)


def fusion_table(results: dict) -> str:
    lines = _header(
        [
            "method",
            "n",
            "acc all",
            "acc @ 50 %",
            "mAP @ 50 %",
            "ECE @ 50 %",
            "ECE @ 50 % (TS full)",
            "ECE @ 50 % (TS deploy)",
            "worst subset",
            "viol. all",
            "viol. caption not wrong",
            "wrong caption lowers",
            "ρ(λ, severity)",
        ]
    )
    for name, e in results["methods"].items():
        cells = [
            name,
            str(e.get("n_seeds", 1)),
            pm(e, ["full", "acc"]),
            pm(e, ["drop", "0.5", "acc"]),
            pm(e, ["drop", "0.5", "map"]),
            pm(e, ["drop", "0.5", "ece"], False),
            pm(e, ["drop", "0.5", "ece_ts"], False),
            pm(e, ["drop", "0.5", "ece_ts_deploy"], False),
            pm(e, ["worst_subset_acc"]),
            pm(e, ["monotonicity_violation_rate"], False),
            pm(e, ["monotonicity", "consistent"], False),
            pm(e, ["monotonicity", "wrong_caption_lowers_confidence"], False, 2),
            pm(e, ["lambda_severity_spearman"], False, 2),
        ]
        lines += _rows([cells])
    return "\n".join(lines)


def robustness_cells(entry: dict) -> list[str]:
    """Relative robustness (max-min normalised, 2 decimals) and effective robustness against late fusion (in
    pp summed over the drop rates, signed) of a method's entry; '–' where not computed."""
    rob = entry.get("robustness") or {}
    rel, eff = rob.get("relative"), rob.get("effective")
    return [fmt(rel, digits=2), "–" if eff is None else signed(half_up(100 * eff, 1))]


def scores_table(results: dict) -> str:
    """Every method on the measures beside accuracy and the 15-bin ECE: NLL, Brier and equal-mass ECE (every
    input and at 50 % drop), and MultiBench's relative and effective robustness over the drop curve."""
    lines = _header(
        [
            "method",
            "n",
            "NLL all",
            "NLL @ 50 %",
            "Brier all",
            "Brier @ 50 %",
            "ECE equal-mass all",
            "ECE equal-mass @ 50 %",
            "relative robustness",
            "effective robustness (pp)",
        ]
    )
    for name, e in results["methods"].items():
        cells = [
            name,
            str(e.get("n_seeds", 1)),
            pm(e, ["full", "nll"], False),
            pm(e, ["drop", "0.5", "nll"], False),
            pm(e, ["full", "brier"], False),
            pm(e, ["drop", "0.5", "brier"], False),
            pm(e, ["full", "ece_equal_mass"], False),
            pm(e, ["drop", "0.5", "ece_equal_mass"], False),
            *robustness_cells(e),
        ]
        lines += _rows([cells])
    return "\n".join(lines)


# (column, path, shown as a %) of the numbers that carry a bootstrap interval
INTERVAL_COLUMNS = [
    ("acc all", ("full", "acc"), True),
    ("acc @ 50 %", ("drop", "0.5", "acc"), True),
    ("mAP all", ("full", "map"), True),
    ("mAP @ 50 %", ("drop", "0.5", "map"), True),
    ("ECE all", ("full", "ece"), False),
    ("ECE @ 50 %", ("drop", "0.5", "ece"), False),
]


def intervals_table(results: dict) -> str:
    """The headline numbers of every method with their bootstrap 95 % intervals over the test examples."""
    lines = _header(["method", *(label for label, _, _ in INTERVAL_COLUMNS)])
    for name, e in results["methods"].items():
        cells = [f"{fmt(_get(e, *path), pct)} {interval(e, path, pct)}" for _, path, pct in INTERVAL_COLUMNS]
        lines += _rows([[name, *cells]])
    return "\n".join(lines)


def method_table(results: dict, group: str, columns: list[str], metric: str, pct: bool = True) -> str:
    """One row per method, one column per drop rate or subset: entry[group][column][metric]."""
    lines = _header(["method", *columns])
    for name, e in results["methods"].items():
        lines += _rows([[name, *(pm(e, [group, c, metric], pct) for c in columns)]])
    return "\n".join(lines)


def drop_rates(results: dict) -> list[str]:
    """The drop rates any method was evaluated at, in order."""
    return sorted({r for e in results["methods"].values() for r in e.get("drop", {})}, key=float)


def drop_table(results: dict, metric: str, pct: bool) -> str:
    return method_table(results, "drop", drop_rates(results), metric, pct)


def subsets_table(results: dict, metric: str = "acc") -> str:
    methods = results["methods"]
    subsets = list(next(iter(methods.values()))["subsets"]) if methods else []
    return method_table(results, "subsets", subsets, metric)


def mechanisms_table(results: dict) -> str:
    lines = _header(
        [
            "method",
            "IQR(λ) / range",
            "ρ(λ, severity)",
            "ρ(p_image, 1 − sev)",
            "ρ(p_audio, 1 − sev)",
            "caption weight exact / partial / none / wrong",
            "ACM ≥ 2× (%)",
        ]
    )
    mech = ["mechanisms"]
    for name, e in results["methods"].items():
        if not e.get("mechanisms"):
            continue
        cap = " / ".join(pm(e, [*mech, "caption_gate_by_level", k], False, 2) for k in CAPTION_LEVELS)
        cells = [
            name,
            pm(e, [*mech, "lambda_iqr_fraction"], False, 2),
            pm(e, [*mech, "lambda_severity_spearman"], False, 2),
            pm(e, [*mech, "gate_reliability_spearman", "image"], False, 2),
            pm(e, [*mech, "gate_reliability_spearman", "audio"], False, 2),
            cap,
            pm(e, [*mech, "acm_adaptive_share"]),
        ]
        lines += _rows([cells])
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def targets_table(results: dict) -> str:
    """AECF against the project's targets, each verdict computed from the unrounded means."""
    m = results["methods"]
    a, md, lf, sp = m["aecf"], m["moddrop"], m["late_fusion"], m["specialists"]
    mech = a["mechanisms"]
    iqr, rho = mech["lambda_iqr_fraction"], mech["lambda_severity_spearman"]
    rho_img, rho_aud = mech["gate_reliability_spearman"]["image"], mech["gate_reliability_spearman"]["audio"]
    cap = mech["caption_gate_by_level"]
    acm = mech["acm_adaptive_share"]
    viol, viol_md = a["monotonicity"]["consistent"], md["monotonicity"]["consistent"]
    lowers = {
        k: e["monotonicity"]["wrong_caption_lowers_confidence"] for k, e in (("a", a), ("md", md), ("lf", lf))
    }
    ece, ece_md, ece_lf = (e["drop"]["0.5"]["ece"] for e in (a, md, lf))

    def pct0(x):
        return f"{half_up(100 * x, 0)} %"

    def ratio(x, y):
        return f"{half_up(x / y, 2)} × ({fmt(x)} vs {fmt(y)})"

    rows = [
        ("IQR of λ(x) ≥ 30 % of [λ_min, λ_max]", pct0(iqr), _met(iqr >= 0.30)),
        ("Spearman(λ(x), severity) ≥ 0.5", fmt(rho, digits=2), _met(rho >= 0.5)),
        ("Spearman(p_image, 1 − severity) ≥ 0.6", fmt(rho_img, digits=2), _met(rho_img >= 0.6)),
        ("Spearman(p_audio, 1 − severity) ≥ 0.6", fmt(rho_aud, digits=2), _met(rho_aud >= 0.6)),
        (
            "caption weight exact > partial > none",
            " / ".join(fmt(cap[k], digits=2) for k in ("exact", "partial", "none"))
            + f" (wrong {fmt(cap['wrong'], digits=2)})",
            _met(cap["exact"] > cap["partial"] > cap["none"]),
        ),
        ("ACM: ≥ 20 % of examples with q_max ≥ 2 × q_min", f"{fmt(acm, pct=True)} %", _met(acm >= 0.20)),
        ("violations, caption not wrong ≤ 0.3 × ModDrop", ratio(viol, viol_md), _met(viol <= 0.3 * viol_md)),
        (
            "wrong caption lowers confidence (report; do not trade away)",
            f"{pct0(lowers['a'])} (ModDrop {pct0(lowers['md'])}, late fusion {pct0(lowers['lf'])})",
            "reported",
        ),
        ("raw ECE @ 50 % ≤ 0.8 × ModDrop", ratio(ece, ece_md), _met(ece <= 0.8 * ece_md)),
        ("raw ECE @ 50 % ≤ 0.5 × late fusion", ratio(ece, ece_lf), _met(ece <= 0.5 * ece_lf)),
    ]

    # accuracy against the specialists: pp to 0.01, shown to 0.1 (half up) where within 0.5 pp, to 0.01 where not
    rates = [r for r in RATES if r in a["drop"] and r in sp["drop"]]
    cells, misses = [], []
    for r in rates:
        d = half_up(100 * (a["drop"][r]["acc"] - sp["drop"][r]["acc"]), 2)
        if d < Decimal("-0.5"):  # above the reference limit is no miss
            cells.append(f"{r}: {signed(d)}")
            d_md = half_up(half_up(100 * (md["drop"][r]["acc"] - sp["drop"][r]["acc"]), 2), 1)
            misses.append((r, -d - Decimal("0.5"), d_md))
        else:
            cells.append(f"{r}: {signed(half_up(d, 1))}")
    if misses:
        where = ", ".join(f"{gap} pp at {r}" for r, gap, _ in misses)
        verdict = f"missed by {where} (ModDrop " + ", ".join(signed(d) for *_, d in misses) + ")"
    else:
        verdict = "met"
    rows.append(("acc ≥ specialists − 0.5 pp at every drop rate", ", ".join(cells) + " pp", verdict))

    d_all = half_up(half_up(100 * (a["full"]["acc"] - lf["full"]["acc"]), 2), 1)
    rows.append(
        (
            "acc all inputs ≥ late fusion − 0.5 pp",
            f"{signed(d_all)} pp ({fmt(a['full']['acc'], True)} vs {fmt(lf['full']['acc'], True)})",
            _met(a["full"]["acc"] >= lf["full"]["acc"] - 0.005),
        )
    )
    lines = ["| target | measured (test, mean of 3 seeds) | |", "|---|---|---|"]
    lines += _rows([list(row) for row in rows])
    return "\n".join(lines)


def results_markdown(results: dict) -> str:
    """The whole of results.md: every fusion table of one `evaluate` run (digits or COCO)."""
    methods = results["methods"]
    lines = [
        "# Fusion results (test split)",
        "",
        "Accuracy and mAP (macro one-vs-rest AP) in %, mean ± std over training seeds (n = seeds); "
        "`specialists` is the reference limit (one model per modality subset, routed by which modalities are "
        "present). ECE with 15 equal-width bins: raw / after a temperature fit on validation with all inputs (TS) "
        "/ after one fit on validation under the same drop rate (TS deploy). Drop: each modality dropped "
        f"independently with that probability, at least one kept, mean over {results['meta'].get('mask_seeds')} "
        "mask draws. Monotonicity: share of (example, A ⊂ B) pairs with c(A) > c(B) + 0.01, on all examples and on "
        "those whose caption is not wrong; 'wrong caption lowers': share of wrong-caption examples whose "
        "confidence falls when the caption joins image+audio. ρ(λ, severity): Spearman of λ(x) (K = 20) with the "
        "recorded corruption severity.",
        "",
        "| method | n | acc all | ECE all | acc @ 50 % | mAP @ 50 % | ECE @ 50 % | ECE @ 50 % (TS) | ECE @ 50 % (TS deploy) | worst subset | monotonicity viol. | viol. (caption not wrong) | wrong caption lowers | H(p) | ρ(λ, severity) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, e in methods.items():
        lines.append(
            f"| {name} | {e.get('n_seeds', 1)} | {pm(e, ['full', 'acc'])} | {pm(e, ['full', 'ece'], False)} | "
            f"{pm(e, ['drop', '0.5', 'acc'])} | {pm(e, ['drop', '0.5', 'map'])} | "
            f"{pm(e, ['drop', '0.5', 'ece'], False)} | {pm(e, ['drop', '0.5', 'ece_ts'], False)} | "
            f"{pm(e, ['drop', '0.5', 'ece_ts_deploy'], False)} | {pm(e, ['worst_subset_acc'])} | "
            f"{pm(e, ['monotonicity_violation_rate'], False)} | {pm(e, ['monotonicity', 'consistent'], False)} | "
            f"{pm(e, ['monotonicity', 'wrong_caption_lowers_confidence'], False)} | "
            f"{pm(e, ['gate_entropy'], False)} | {pm(e, ['lambda_severity_spearman'], False)} |"
        )
    meta = results["meta"]
    rob, boot = meta.get("robustness") or {}, meta.get("bootstrap") or {}
    lines += [
        "",
        "## Beside accuracy and ECE: NLL, Brier, equal-mass ECE, robustness",
        "",
        "NLL in nats; Brier: Σ over classes of (p − y)², in [0, 2] (multi-label: the mean over classes, in [0, 1]); "
        "ECE equal-mass: 15 bins of equal count. Relative robustness: the area under the "
        f"{rob.get('metric', 'acc')}-vs-drop-rate curve, max-min normalised over these methods (MultiBench); "
        "effective robustness: Σ over the drop rates of (a_r − a_0) − (ref_r − ref_0) in pp, against "
        + (f"`{rob['reference']}`" if rob.get("reference") else "late fusion (not evaluated here: –)")
        + ".",
        "",
        scores_table(results),
        "",
        "## Bootstrap 95 % intervals",
        "",
        f"Percentile bootstrap over the test examples ({boot.get('n_resamples', '–')} resamples, seed "
        f"{boot.get('seed', '–')}); a multi-seed method's interval is that of its mean over seeds.",
        "",
        intervals_table(results),
    ]
    rates = drop_rates(results)
    subsets = list(next(iter(methods.values()))["subsets"]) if methods else []
    multilabel = bool(meta.get("multilabel")) or any(e.get("multilabel") for e in methods.values())
    if any(e.get("mechanisms") for e in methods.values()):
        lines += [
            "",
            "## The mechanisms at work (every input present)",
            "",
            "IQR(λ) / range: interquartile range of λ(x) over [λ_min, λ_max]. ρ(p_m, 1 − severity_m): Spearman of the "
            "gate weight with the modality's own reliability. Caption weight: mean p_caption by caption level. ACM "
            "≥ 2×: share of examples whose most-trusted modality ACM drops at least twice as often as the "
            "least-trusted (π = π_max).",
            "",
            mechanisms_table(results),
        ]

    def section(title: str, table: str) -> list[str]:
        return ["", f"## {title}", "", table]

    map_title = "mAP (%) under random modality drop" + (
        " (multi-label; acc is per-label accuracy at p ≥ 0.5)" if multilabel else " (macro one-vs-rest AP)"
    )
    lines += section(map_title, method_table(results, "drop", rates, "map"))
    lines += section("Accuracy (%) under random modality drop", method_table(results, "drop", rates, "acc"))
    lines += section("Raw ECE under random modality drop", method_table(results, "drop", rates, "ece", False))
    lines += section(
        "NLL (nats) under random modality drop", method_table(results, "drop", rates, "nll", False)
    )
    lines += section(
        "Brier score under random modality drop", method_table(results, "drop", rates, "brier", False)
    )
    lines += section(
        "ECE with 15 equal-mass bins under random modality drop",
        method_table(results, "drop", rates, "ece_equal_mass", False),
    )
    lines += section(
        "ECE under random modality drop, temperature fit on validation under that drop rate",
        method_table(results, "drop", rates, "ece_ts_deploy", False),
    )
    lines += section(
        "Accuracy (%) with each modality subset", method_table(results, "subsets", subsets, "acc")
    )
    if multilabel:
        lines += section(
            "mAP (%) with each modality subset", method_table(results, "subsets", subsets, "map")
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------ encoders

# zero-shot on clean inputs: (key, what it is measured on, target)
ZERO_SHOT = [
    ("image", "MNIST test", 0.98),
    ("caption", "exact captions", 0.99),
    ("audio", "held-out benchmark voices", 0.95),
]
# linear probe on the corrupted benchmark: target band (low, high) or (low, None) for "≥ low"
PROBE = [("image", (0.60, 0.85)), ("caption", (0.35, 0.75)), ("audio", (0.55, 0.85)), ("all", (0.95, None))]
# held-out sets: key, what it holds, target
HELDOUT = [
    ("handwriting", "handwriting: 19 ordinary + 15 handwriting font families", 0.97),
    ("photos", "photos: paper, perspective, ±20°, shadow, blur, JPEG 30–90", 0.95),
    ("canvas", "canvas: scripted strokes like the app's canvas", 0.98),
    ("voices", "voices: festival ked diphone + slt HTS", 0.95),
    ("voices_room", "voices in a room: reverb, 0–20 dB SNR, 44.1/48 kHz stereo FLAC/MP3/OGG", 0.90),
]
SOURCE_NAMES = {
    "festival:cmu_us_slt_arctic_hts": "slt",
    "festival:ked_diphone": "ked",
    "canvas strokes": "strokes",
}


def _band(low: float, high: float | None) -> str:
    return f"≥ {low:.2f}" if high is None else f"{low:.2f}–{high:.2f}"


def encoders_table(report: dict) -> str:
    """Zero-shot accuracy on clean inputs and linear probes on the corrupted benchmark, with their targets."""
    clean, bench = report["clean"], report["benchmark"]
    zero = [f"**{fmt(clean.get(k))}** {what} (≥ {target:.2f})" for k, what, target in ZERO_SHOT]
    probe = [f"{fmt(bench.get(k))} ({_band(*band)})" for k, band in PROBE]
    lines = ["| | image | caption | audio | all three |", "|---|---|---|---|---|"]  # an empty corner cell
    lines.append("| zero-shot on clean inputs (target) | " + " | ".join(zero) + " | |")
    lines.append("| linear probe on the corrupted benchmark (target) | " + " | ".join(probe) + " |")
    return "\n".join(lines)


def pp_low(gap: Decimal) -> str:
    """A shortfall in pp: one decimal, and no '.0' once it is 10 pp or more (14, 36.5, 1.0)."""
    d = half_up(100 * gap, 1)
    return str(d.quantize(Decimal(1))) if d >= 10 and d == d.to_integral_value() else str(d)


def heldout_table(report: dict) -> str:
    """The held-out real-input sets' test halves: accuracy of the shipped encoders, by source, and the target."""
    shipped, sets = report["heldout"], _get(report, "details", "heldout") or {}
    lines = _header(["held-out set (test half)", "n", "accuracy", "by source", "target"])
    for key, label, target in HELDOUT:
        value = shipped.get(key)
        n = _get(sets, key, "n")
        sources = _get(sets, key, "by_source") or {}
        by_source = ", ".join(f"{SOURCE_NAMES.get(s, s)} {fmt(v)}" for s, v in sources.items()) or "–"
        verdict = f"≥ {target:.2f}"
        if value is not None:
            gap = Decimal(repr(target)) - half_up(value, 3)  # the value as shown
            verdict += f": **{pp_low(gap)} pp low**" if gap > 0 else ": met"
        lines += _rows([[label, str(n) if n is not None else "–", fmt(value), by_source, verdict]])
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ documents

# table name -> how to build it from (results, report)
TABLES: dict[str, Callable[[dict, dict], str]] = {
    "headline": lambda results, report: headline_table(results),
    "fusion-main": lambda results, report: fusion_table(results),
    "fusion-scores": lambda results, report: scores_table(results),
    "fusion-intervals": lambda results, report: intervals_table(results),
    "fusion-drop-acc": lambda results, report: drop_table(results, "acc", True),
    "fusion-drop-map": lambda results, report: drop_table(results, "map", True),
    "fusion-drop-ece": lambda results, report: drop_table(results, "ece", False),
    "fusion-drop-ece-deploy": lambda results, report: drop_table(results, "ece_ts_deploy", False),
    "fusion-drop-nll": lambda results, report: drop_table(results, "nll", False),
    "fusion-drop-brier": lambda results, report: drop_table(results, "brier", False),
    "fusion-subsets": lambda results, report: subsets_table(results),
    "fusion-mechanisms": lambda results, report: mechanisms_table(results),
    "fusion-targets": lambda results, report: targets_table(results),
    "encoders": lambda results, report: encoders_table(report),
    "encoders-heldout": lambda results, report: heldout_table(report),
}


def build_tables(results: dict, report: dict, names: list[str] | None = None) -> dict[str, str]:
    """Table name -> its markdown (no trailing newline), for `names` (default: every table)."""
    return {name: TABLES[name](results, report) for name in (names if names is not None else TABLES)}


def marked_tables(text: str) -> list[str]:
    """The names of the marked tables in a document, in order (a name twice if it is marked twice)."""
    return [m.group("name") for m in MARKER.finditer(text)]


def fill_blocks(text: str, tables: dict[str, str]) -> tuple[str, list[str]]:
    """The document with every marked table replaced by its rendering, and the problems found (a marker
    of no known table, a table marked twice). Only the lines between markers change."""
    problems = []

    def sub(match: re.Match) -> str:
        name = match.group("name")
        if name not in tables:
            problems.append(f"unknown table marker: {name}")
            return match.group(0)
        return f"{match.group(1)}{tables[name]}\n{match.group(4)}"

    out = MARKER.sub(sub, text)
    names = marked_tables(text)
    problems += [f"table marked twice: {name}" for name in dict.fromkeys(names) if names.count(name) > 1]
    return out, problems
