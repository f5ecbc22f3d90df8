"""The Subsets & calibration page's view-model: a results JSON (written by `python -m aecf evaluate`; the
committed one is results/results.json) shaped into tables; the figures come from aecf.figures.

Readers take only the fields they know, so a results file with more fields (mechanisms, per-method
monotonicity, specialists, mAP per drop rate) still loads. The page offers only results files inside
the project (results/*.json, <features>/results/*.json), never an arbitrary server path.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from aecf import paths

EVALUATE_COMMAND = "python -m aecf evaluate"


@dataclass
class Results:
    methods: dict  # method -> aggregated metrics (see aecf.evaluate)
    meta: dict
    path: Path


class ResultsUnavailable(Exception):
    """No usable results file; the message says why and which command produces it."""


def load_results(path: str | Path | None = None) -> Results:
    path = Path(path) if path else paths.results_json()
    if not path.exists():
        raise ResultsUnavailable(
            f"No evaluation results yet ({paths.show(path)} is missing). "
            f"Produce them with `{EVALUATE_COMMAND}` (a minute or two on a laptop CPU), then reload this page."
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultsUnavailable(
            f"{path.name} is unreadable ({e}). Re-create it with `{EVALUATE_COMMAND}`."
        ) from e
    methods = doc.get("methods") if isinstance(doc, dict) else None
    if isinstance(methods, dict):  # entries that are not a method's metrics (e.g. a "specialists" summary)
        methods = {
            k: v for k, v in methods.items() if isinstance(v, dict) and ("full" in v or "subsets" in v)
        }
    if not isinstance(methods, dict) or not methods:
        raise ResultsUnavailable(
            f"{path.name} holds no evaluated methods. Re-create it with `{EVALUATE_COMMAND}`."
        )
    return Results(methods=methods, meta=doc.get("meta", {}) or {}, path=path)


def choose(methods: dict, names: list[str]) -> dict:
    return {n: methods[n] for n in names if n in methods}


def is_multilabel(results: Results) -> bool:
    """Multi-label (COCO) results: mAP is the headline there. The evaluator says so in meta.multilabel; older
    files did not, and only multi-label ones carried mAP then."""
    if "multilabel" in results.meta:
        return bool(results.meta["multilabel"])
    return any("map" in (e.get("full") or {}) for e in results.methods.values())


def has_map(methods: dict) -> bool:
    """Whether any method carries mAP (every current results file; COCO's always)."""
    return any("map" in ((e.get("drop") or {}).get("0.5") or e.get("full") or {}) for e in methods.values())


def monotonicity_rows(methods: dict) -> list[dict]:
    """Per method: the share of (example, A ⊂ B) pairs whose confidence falls when modalities are added (0.01
    tolerance), on every example and where the caption is not wrong, and how often a wrong caption lowers it."""
    rows = []
    for name, e in methods.items():
        mono = e.get("monotonicity") or {}
        if not mono:
            continue
        rows.append(
            {
                "method": name,
                "violations (all)": mono.get("all"),
                "violations (caption not wrong)": mono.get("consistent"),
                "wrong caption lowers confidence": mono.get("wrong_caption_lowers_confidence"),
            }
        )
    return rows


def mechanism_rows(methods: dict) -> list[dict]:
    """Per gated method: whether λ(x) spreads and tracks severity, whether the gate follows reliability, and how
    adaptive ACM's masks are (aecf.evaluate's `mechanisms`, on the test split)."""
    rows = []
    for name, e in methods.items():
        mech = e.get("mechanisms")
        if not mech:
            continue
        rel = mech.get("gate_reliability_spearman") or {}
        cap = mech.get("caption_gate_by_level") or {}
        rows.append(
            {
                "method": name,
                "IQR of λ / range": mech.get("lambda_iqr_fraction"),
                "ρ(λ, severity)": mech.get("lambda_severity_spearman"),
                "ρ(p_image, 1 − sev.)": rel.get("image"),
                "ρ(p_audio, 1 − sev.)": rel.get("audio"),
                **{f"p_caption {level}": cap.get(level) for level in ("exact", "partial", "none", "wrong")},
                "ACM ≥ 2× share": mech.get("acm_adaptive_share"),
            }
        )
    return rows


def results_files(current: Path | None = None) -> list[Path]:
    """Results JSONs the Subsets page offers: the configured one (results/results.json unless
    AECF_APP_RESULTS_JSON says otherwise), then every *.json in aecf.paths.results_dirs()."""
    found = [Path(current) if current else paths.results_json()]
    for d in paths.results_dirs():
        if d.is_dir():
            found += sorted(d.glob("*.json"))
    out: list[Path] = []
    for p in found:
        if p.is_file() and p not in out:
            out.append(p)
    return out or found[:1]


def subset_rows(methods: dict) -> list[dict]:
    """One row per (method, subset): accuracy, raw ECE, temperature-scaled ECE."""
    rows = []
    for name, entry in methods.items():
        for subset, m in entry.get("subsets", {}).items():
            rows.append(
                {
                    "method": name,
                    "subset": subset,
                    "size": subset.count("+") + 1,
                    **({"mAP": m.get("map")} if "map" in m else {}),
                    "accuracy": m.get("acc"),
                    "ECE": m.get("ece"),
                    "ECE (TS)": m.get("ece_ts"),
                }
            )
    return rows


def drop_rows(methods: dict) -> list[dict]:
    rows = []
    for name, entry in methods.items():
        for rate, m in sorted(entry.get("drop", {}).items(), key=lambda kv: float(kv[0])):
            rows.append(
                {
                    "method": name,
                    "drop rate": float(rate),
                    "accuracy": m.get("acc"),
                    "mAP": m.get("map"),
                    "ECE": m.get("ece"),
                    "ECE (TS, full-input fit)": m.get("ece_ts"),
                    "ECE (TS, fit at this drop rate)": m.get("ece_ts_deploy"),
                }
            )
    return rows


def summary_rows(methods: dict) -> list[dict]:
    rows = []
    for name, e in methods.items():
        rows.append(
            {
                "method": name + (" (reference)" if e.get("reference") else ""),
                "seeds": e.get("n_seeds", 1),
                **(
                    {
                        "mAP (all)": (e.get("full") or {}).get("map"),
                        "mAP @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("map"),
                        **(
                            {"worst subset mAP": e["worst_subset_map"]}
                            if e.get("worst_subset_map") is not None
                            else {}
                        ),
                    }
                    if "map" in (e.get("full") or {})
                    else {}
                ),
                "acc (all)": (e.get("full") or {}).get("acc"),
                "ECE (all)": (e.get("full") or {}).get("ece"),
                "acc @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("acc"),
                "ECE @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("ece"),
                "worst subset acc": e.get("worst_subset_acc"),
                "monotonicity violations": e.get("monotonicity_violation_rate"),
                "H(p)": e.get("gate_entropy"),
                "ρ(λ, severity)": e.get("lambda_severity_spearman"),
            }
        )
    return rows


MISSING = "–"  # what a table shows for a value a method does not have (never "None" or "nan")


def readable(
    rows: list[dict], digits: int = 3, formats: dict[str, str] | None = None
) -> list[dict[str, str]]:
    """Rows as a page's table shows them: floats with `digits` decimals (or a column's own format from
    `formats`, e.g. {"drop rate": "{:g}"}), integers and text as they are, a missing value as MISSING; every
    row has every column any row has (in first-seen order), so a table never fills a gap itself."""
    formats = formats or {}
    columns = list(dict.fromkeys(k for row in rows for k in row))

    def cell(column: str, value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return MISSING
        if column in formats and isinstance(value, int | float):
            return formats[column].format(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        if isinstance(value, int):
            return str(value)
        return f"{value:.{digits}f}"

    return [{k: cell(k, row.get(k)) for k in columns} for row in rows]
