"""The Subsets & calibration page's data: results/results.json (written by `python -m aecf evaluate`)
shaped into tables; the figures themselves come from aecf.figures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from aecf.constants import ROOT

EVALUATE_COMMAND = "python -m aecf evaluate"


@dataclass
class Results:
    methods: dict  # method -> aggregated metrics (see aecf.evaluate)
    meta: dict
    path: Path


class ResultsUnavailable(Exception):
    """No usable results file; the message says why and which command produces it."""


def load_results(path: str | Path | None = None) -> Results:
    from aecf import app_paths

    path = Path(path) if path else app_paths.results_json()
    if not path.exists():
        raise ResultsUnavailable(
            f"No evaluation results yet ({path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} is missing). "
            f"Produce them with `{EVALUATE_COMMAND}` (a minute or two on a laptop CPU), then reload this page."
        )
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise ResultsUnavailable(f"{path.name} is unreadable ({e}). Re-create it with `{EVALUATE_COMMAND}`.") from e
    methods = doc.get("methods") if isinstance(doc, dict) else None
    if not isinstance(methods, dict) or not methods:
        raise ResultsUnavailable(f"{path.name} holds no evaluated methods. Re-create it with `{EVALUATE_COMMAND}`.")
    return Results(methods=methods, meta=doc.get("meta", {}) or {}, path=path)


def choose(methods: dict, names: list[str]) -> dict:
    return {n: methods[n] for n in names if n in methods}


def has_map(methods: dict) -> bool:
    """True for multi-label (COCO) results: they carry mAP, the headline metric, beside acc."""
    return any("map" in (e.get("full") or {}) for e in methods.values())


def results_files(current: Path | None = None) -> list[Path]:
    """Results JSONs the Subsets page can show: the configured one, results/*.json, <features>/results/*.json."""
    from aecf import app_paths

    found = [current or app_paths.results_json()]
    for d in (ROOT / "results", app_paths.feature_dir() / "results"):
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
            rows.append({"method": name, "subset": subset, "size": subset.count("+") + 1,
                         **({"mAP": m.get("map")} if "map" in m else {}),
                         "accuracy": m.get("acc"), "ECE": m.get("ece"), "ECE (TS)": m.get("ece_ts")})
    return rows


def drop_rows(methods: dict) -> list[dict]:
    rows = []
    for name, entry in methods.items():
        for rate, m in sorted(entry.get("drop", {}).items(), key=lambda kv: float(kv[0])):
            rows.append({"method": name, "drop rate": float(rate), "accuracy": m.get("acc"), "ECE": m.get("ece"),
                         "ECE (TS)": m.get("ece_ts")})
    return rows


def summary_rows(methods: dict) -> list[dict]:
    rows = []
    for name, e in methods.items():
        rows.append({
            "method": name,
            "seeds": e.get("n_seeds", 1),
            **({"mAP (all)": (e.get("full") or {}).get("map"),
                "mAP @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("map"),
                "worst subset mAP": e.get("worst_subset_map")} if "map" in (e.get("full") or {}) else {}),
            "acc (all)": (e.get("full") or {}).get("acc"),
            "ECE (all)": (e.get("full") or {}).get("ece"),
            "acc @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("acc"),
            "ECE @ 50 % drop": ((e.get("drop") or {}).get("0.5") or {}).get("ece"),
            "worst subset acc": e.get("worst_subset_acc"),
            "monotonicity violations": e.get("monotonicity_violation_rate"),
            "H(p)": e.get("gate_entropy"),
            "ρ(λ, severity)": e.get("lambda_severity_spearman"),
        })
    return rows


def subset_metric_figure(methods: dict, metric: str = "ece", title: str | None = None):
    """Grouped bars of one metric ('acc', 'ece', 'ece_ts') per subset (aecf.figures.subset_bars does acc)."""
    import plotly.graph_objects as go

    from aecf.figures import METHOD_COLORS

    fig = go.Figure()
    for name, entry in methods.items():
        subsets = list(entry.get("subsets", {}))
        fig.add_trace(go.Bar(x=subsets, y=[entry["subsets"][s].get(metric) for s in subsets], name=name,
                             marker_color=METHOD_COLORS.get(name, "#333333")))
    label = {"acc": "accuracy", "ece": "ECE (raw)", "ece_ts": "ECE (temperature-scaled)"}.get(metric, metric)
    fig.update_layout(barmode="group", title=title or f"{label} with each modality subset", yaxis_title=label,
                      template="plotly_white", legend_title="method")
    return fig
