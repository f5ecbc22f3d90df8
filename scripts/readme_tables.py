"""Regenerate the numeric tables of README.md's "## Results" section from the pipeline's JSON.

    python scripts/readme_tables.py --check   # exit 1 and print a diff where README.md disagrees
    python scripts/readme_tables.py --write   # rewrite the tables in place
    python scripts/readme_tables.py --add-markers   # once: wrap the tables in their marker lines

Sources: ``results/results.json`` (``python -m aecf evaluate``) and ``checkpoints/encoders/report.json``
(``python -m aecf encoders report``). Each generated table sits between two marker lines,

    <!-- table:NAME -->
    | ... |
    <!-- /table:NAME -->

and only the text between markers is rewritten; the prose around the tables is left alone (it quotes
numbers too: re-read it after a rebuild). Cells are formatted with ``aecf.evaluate``'s own ``_fmt`` /
``_pm`` (the functions that write ``results/results.md``). The targets' thresholds are those the README
states in each row.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aecf.evaluate import _fmt, _pm  # noqa: E402  (after the path fix, so the script runs from anywhere)

README = ROOT / "README.md"
RESULTS = ROOT / "results" / "results.json"
REPORT = ROOT / "checkpoints" / "encoders" / "report.json"

MINUS = "\u2212"  # the README's minus sign
MARKER = re.compile(r"(<!-- table:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(\n<!-- /table:(?P=name) -->)", re.S)


def _round(x: float, digits: int) -> Decimal:
    """Half-up rounding of the decimal repr (0.45 -> 0.5, -0.365 -> -0.37), unlike binary round()."""
    return Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def _signed(d: Decimal) -> str:
    return f"{MINUS}{-d}" if d < 0 else f"+{d}"


def _get(entry: dict, *path):
    for k in path:
        entry = entry.get(k) if isinstance(entry, dict) else None
    return entry


def _header(columns: list[str]) -> list[str]:
    return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]


# ------------------------------------------------------------------------------------------ encoders

# zero-shot on clean inputs: (key, what it is measured on, target)
ZERO_SHOT = [
    ("image", "MNIST test", 0.98),
    ("caption", "exact captions", 0.99),
    ("audio", "held-out benchmark voices", 0.95),
]
# linear probe on the corrupted benchmark: target band (low, high) or (low, None) for "≥ low"
PROBE = [("image", (0.60, 0.85)), ("caption", (0.35, 0.75)), ("audio", (0.55, 0.85)), ("all", (0.95, None))]
# held-out sets: key, description (the n is read from the report), target
HELDOUT = [
    ("handwriting", "handwriting (19 ordinary + 15 handwriting font families, {n})", 0.97),
    ("photos", "photos (paper, perspective, ±20°, shadow, blur, JPEG 30–90, {n})", 0.95),
    ("canvas", "canvas (scripted strokes like the app's 196 px canvas, {n})", 0.98),
    ("voices", "voices (festival ked diphone + slt HTS, {n})", 0.95),
    ("voices_room", "voices in a room (reverb, 0–20 dB SNR, 44.1/48 kHz stereo FLAC/MP3/OGG, {n})", 0.90),
]
HELDOUT_GAIN_BOLD = 0.01  # the shipped value is set in bold where it gains ≥ 1 pp on the last session


def _band(low: float, high: float | None) -> str:
    return f"≥ {low:.2f}" if high is None else f"{low:.2f}–{high:.2f}"


def encoders_table(report: dict) -> str:
    clean, bench = report["clean"], report["benchmark"]
    zero = [f"**{_fmt(clean[k])}** {what} (≥ {target:.2f})" for k, what, target in ZERO_SHOT]
    probe = [f"{_fmt(bench[k])} ({_band(*band)})" for k, band in PROBE]
    lines = ["| | image | caption | audio | all three |", "|---|---|---|---|---|"]  # an empty corner cell
    lines.append("| zero-shot on clean inputs (target) | " + " | ".join(zero) + " | |")
    lines.append("| linear probe on the corrupted benchmark (target) | " + " | ".join(probe) + " |")
    return "\n".join(lines)


def _pp_low(gap: Decimal) -> str:
    """A shortfall in pp: one decimal, and no '.0' once it is 10 pp or more (14, 36.5, 1.0)."""
    d = _round(100 * gap, 1)
    return str(d.quantize(Decimal(1))) if d >= 10 and d == d.to_integral_value() else str(d)


def _previous_cells(current: str | None) -> dict[str, tuple[str, str]]:
    """set label (before its parenthesis) -> the two earlier columns, as the README shows them now."""
    cells = {}
    for line in (current or "").splitlines()[2:]:
        row = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(row) == 5:
            cells[row[0].split(" (")[0]] = (row[1], row[2])
    return cells


def _number(cell: str) -> float | None:
    try:
        return float(cell.strip("*"))
    except ValueError:
        return None


def heldout_table(report: dict, current: str | None = None) -> str:
    """The earlier columns come from report.json's details.heldout_before_vit / heldout_before (written by
    hand; `encoders report` does not write them); where those are absent the README's cells are kept."""
    shipped, details = report["heldout"], report.get("details", {})
    vit = details.get("heldout_before_vit", {})
    last = details.get("heldout_before", {})
    sets = details.get("heldout", {})
    kept = _previous_cells(current)
    lines = _header(["set (test half)", "ViT tower (first weights)", "last session", "shipped", "target"])
    for key, label, target in HELDOUT:
        old_vit, old_last = kept.get(label.split(" (")[0], ("–", "–"))
        vit_cell = _fmt(vit[key]) if key in vit else old_vit
        last_cell = _fmt(last[key]) if key in last else old_last
        last_value = last[key] if key in last else _number(old_last)
        value = shipped.get(key)
        cell = _fmt(value)
        if value is not None and last_value is not None and value - last_value >= HELDOUT_GAIN_BOLD - 1e-9:
            cell = f"**{cell}**"
        verdict = f"≥ {target:.2f}"
        gap = Decimal(repr(target)) - _round(value, 3) if value is not None else Decimal(0)  # value as shown
        if gap > 0:
            verdict += f": **{_pp_low(gap)} pp low**"
        n = _get(sets, key, "n")
        lines.append(
            f"| {label.format(n=n if n is not None else '?')} | {vit_cell} | {last_cell} | {cell} | {verdict} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- fusion

RATES = ["0.0", "0.1", "0.3", "0.5", "0.7", "0.9"]


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
            _pm(e, ["full", "acc"]),
            _pm(e, ["drop", "0.5", "acc"]),
            _pm(e, ["drop", "0.5", "map"]),
            _pm(e, ["drop", "0.5", "ece"], False),
            _pm(e, ["drop", "0.5", "ece_ts"], False),
            _pm(e, ["drop", "0.5", "ece_ts_deploy"], False),
            _pm(e, ["worst_subset_acc"]),
            _pm(e, ["monotonicity_violation_rate"], False),
            _pm(e, ["monotonicity", "consistent"], False),
            _pm(e, ["monotonicity", "wrong_caption_lowers_confidence"], False, 2),
            _pm(e, ["lambda_severity_spearman"], False, 2),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def drop_table(results: dict, metric: str, pct: bool) -> str:
    rates = [r for r in RATES if any(r in e.get("drop", {}) for e in results["methods"].values())]
    lines = _header(["method", *rates])
    for name, e in results["methods"].items():
        lines.append(f"| {name} | " + " | ".join(_pm(e, ["drop", r, metric], pct) for r in rates) + " |")
    return "\n".join(lines)


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
    for name, e in results["methods"].items():
        if not e.get("mechanisms"):
            continue
        mech = ["mechanisms"]
        cap = " / ".join(
            _pm(e, [*mech, "caption_gate_by_level", k], False, 2)
            for k in ("exact", "partial", "none", "wrong")
        )
        lines.append(
            f"| {name} | {_pm(e, [*mech, 'lambda_iqr_fraction'], False, 2)} | "
            f"{_pm(e, [*mech, 'lambda_severity_spearman'], False, 2)} | "
            f"{_pm(e, [*mech, 'gate_reliability_spearman', 'image'], False, 2)} | "
            f"{_pm(e, [*mech, 'gate_reliability_spearman', 'audio'], False, 2)} | {cap} | "
            f"{_pm(e, [*mech, 'acm_adaptive_share'])} |"
        )
    return "\n".join(lines)


def _met(ok: bool) -> str:
    return "met" if ok else "missed"


def targets_table(results: dict) -> str:
    """AECF against the targets the README states, with the verdict computed from the unrounded means."""
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
        return f"{_round(100 * x, 0)} %"

    def ratio(x, y):
        return f"{_round(x / y, 2)} × ({_fmt(x)} vs {_fmt(y)})"

    rows = [
        ("IQR of λ(x) ≥ 30 % of [λ_min, λ_max]", pct0(iqr), _met(iqr >= 0.30)),
        ("Spearman(λ(x), severity) ≥ 0.5", _fmt(rho, digits=2), _met(rho >= 0.5)),
        ("Spearman(p_image, 1 − severity) ≥ 0.6", _fmt(rho_img, digits=2), _met(rho_img >= 0.6)),
        ("Spearman(p_audio, 1 − severity) ≥ 0.6", _fmt(rho_aud, digits=2), _met(rho_aud >= 0.6)),
        (
            "caption weight exact > partial > none",
            " / ".join(_fmt(cap[k], digits=2) for k in ("exact", "partial", "none"))
            + f" (wrong {_fmt(cap['wrong'], digits=2)})",
            _met(cap["exact"] > cap["partial"] > cap["none"]),
        ),
        ("ACM: ≥ 20 % of examples with q_max ≥ 2 × q_min", f"{_fmt(acm, pct=True)} %", _met(acm >= 0.20)),
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
        d = _round(100 * (a["drop"][r]["acc"] - sp["drop"][r]["acc"]), 2)
        if d < Decimal("-0.5"):  # above the reference limit is no miss
            cells.append(f"{r}: {_signed(d)}")
            d_md = _round(_round(100 * (md["drop"][r]["acc"] - sp["drop"][r]["acc"]), 2), 1)
            misses.append((r, -d - Decimal("0.5"), d_md))
        else:
            cells.append(f"{r}: {_signed(_round(d, 1))}")
    if misses:
        where = ", ".join(f"{gap} pp at {r}" for r, gap, _ in misses)
        verdict = f"missed by {where} (ModDrop " + ", ".join(_signed(d) for *_, d in misses) + ")"
    else:
        verdict = "met"
    rows.append(("acc ≥ specialists − 0.5 pp at every drop rate", ", ".join(cells) + " pp", verdict))

    d_all = _round(_round(100 * (a["full"]["acc"] - lf["full"]["acc"]), 2), 1)
    rows.append(
        (
            "acc all inputs ≥ late fusion − 0.5 pp",
            f"{_signed(d_all)} pp ({_fmt(a['full']['acc'], True)} vs {_fmt(lf['full']['acc'], True)})",
            _met(a["full"]["acc"] >= lf["full"]["acc"] - 0.005),
        )
    )
    lines = _header(["target", "measured (test, mean of 3 seeds)", ""])
    lines[0] = "| target | measured (test, mean of 3 seeds) | |"
    lines += [f"| {t} | {v} | {s} |" for t, v, s in rows]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- driver


def current_tables(readme: str) -> dict[str, str]:
    """marker name -> the table's text in the README as it is."""
    return {m.group("name"): m.group("body") for m in MARKER.finditer(readme)}


def build_tables(results: dict, report: dict, current: dict[str, str] | None = None) -> dict[str, str]:
    """marker name -> the table's text (no trailing newline), in README order. `current` (the README's
    tables now) supplies the held-out table's earlier columns where report.json has no record of them."""
    current = current or {}
    return {
        "encoders": encoders_table(report),
        "encoders-heldout": heldout_table(report, current.get("encoders-heldout")),
        "fusion-main": fusion_table(results),
        "fusion-drop-acc": drop_table(results, "acc", True),
        "fusion-drop-map": drop_table(results, "map", True),
        "fusion-drop-ece": drop_table(results, "ece", False),
        "fusion-mechanisms": mechanisms_table(results),
        "fusion-targets": targets_table(results),
    }


def render(readme: str, tables: dict[str, str]) -> tuple[str, list[str]]:
    """README text with every marked table replaced, and the problems found (unknown / missing markers)."""
    seen, problems = [], []

    def sub(match: re.Match) -> str:
        name = match.group("name")
        seen.append(name)
        if name not in tables:
            problems.append(f"unknown table marker: {name}")
            return match.group(0)
        return match.group(1) + tables[name] + match.group(4)

    out = MARKER.sub(sub, readme)
    problems += [f"no markers for table: {name}" for name in tables if name not in seen]
    problems += [f"table marked twice: {name}" for name in set(seen) if seen.count(name) > 1]
    return out, problems


# where each table sits in a README without markers: a line that starts a row of it, or for the drop tables
# (which share a header) the start of the line that introduces them
ANCHOR_ROWS = {
    "| zero-shot on clean inputs (target) |": "encoders",
    "| set (test half) | ViT tower (first weights) |": "encoders-heldout",
    "| method | n | acc all | acc @ 50 % |": "fusion-main",
    "| method | IQR(λ) / range |": "fusion-mechanisms",
    "| target | measured (test, mean of 3 seeds) | |": "fusion-targets",
}
ANCHOR_INTROS = {
    "Accuracy (%) under random modality drop": "fusion-drop-acc",
    "mAP (%) under random modality drop": "fusion-drop-map",
    "Raw ECE under random modality drop": "fusion-drop-ece",
}


def add_markers(readme: str) -> tuple[str, list[str]]:
    """Wrap each known table that has no markers yet in its marker lines; nothing else changes."""
    marked = set(current_tables(readme))
    lines = readme.split("\n")
    out, added, i = [], [], 0
    while i < len(lines):
        if lines[i].startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
            j = i
            while j < len(lines) and lines[j].startswith("|"):
                j += 1
            block, name = lines[i:j], None
            for anchor, n in ANCHOR_ROWS.items():
                if any(row.startswith(anchor) for row in block):
                    name = n
            for intro, n in ANCHOR_INTROS.items():
                if block[0].startswith("| method | 0.0 |") and i >= 2 and lines[i - 2].startswith(intro):
                    name = n
            if name and name not in marked and name not in added:
                out += [f"<!-- table:{name} -->", *block, f"<!-- /table:{name} -->"]
                added.append(name)
                i = j
                continue
        out.append(lines[i])
        i += 1
    return "\n".join(out), added


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--check", action="store_true", help="exit 1 and print a diff if the tables are stale")
    mode.add_argument("--write", action="store_true", help="rewrite the marked tables in place")
    mode.add_argument(
        "--add-markers",
        action="store_true",
        help="wrap the tables that have no markers yet in marker lines, only",
    )
    p.add_argument("--readme", type=Path, default=README)
    p.add_argument(
        "--results", type=Path, default=RESULTS, help="results.json from `python -m aecf evaluate`"
    )
    p.add_argument(
        "--report", type=Path, default=REPORT, help="report.json from `python -m aecf encoders report`"
    )
    args = p.parse_args(argv)

    if args.add_markers:
        new, added = add_markers(args.readme.read_text())
        if added:
            args.readme.write_text(new)
        print(f"{args.readme}: markers added for " + (", ".join(added) or "no table (all marked already)"))
        return 0

    results = json.loads(args.results.read_text())
    report = json.loads(args.report.read_text())
    readme = args.readme.read_text()
    new, problems = render(readme, build_tables(results, report, current_tables(readme)))
    for problem in problems:
        print(f"{args.readme}: {problem}", file=sys.stderr)

    if args.check:
        if new != readme:
            sys.stdout.writelines(
                difflib.unified_diff(
                    readme.splitlines(True),
                    new.splitlines(True),
                    f"{args.readme} (now)",
                    f"{args.readme} (from JSON)",
                )
            )
            print(f"{args.readme}: tables differ from {args.results} / {args.report}", file=sys.stderr)
            return 1
        return 1 if problems else 0

    if new != readme:
        args.readme.write_text(new)
        print(f"{args.readme}: tables rewritten")
    else:
        print(f"{args.readme}: tables already up to date")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
