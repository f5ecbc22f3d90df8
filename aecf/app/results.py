"""The Subsets & calibration page's view-model: a results JSON (written by `python -m aecf evaluate`; the
committed one is results/results.json) shaped into tables; the figures come from aecf.figures.

Readers take only the fields they know, so a results file with more fields (mechanisms, per-method
monotonicity, specialists, mAP per drop rate) still loads. The page offers only results files inside
the project (results/*.json, <features>/results/*.json), never an arbitrary server path.

For a dataset other than the digits, the results are the runs trained on it (`dataset_runs`), each with the
evaluation.json `aecf.app.datasets.evaluate_run` wrote beside it, and the runs that ship with it
(`shipped_dataset_runs`: an example's evaluation over seeds, the specialists as the limit); `combine` puts the
chosen ones into one `Results` keyed by a short label per run, and `downloads` packs them (the combined JSON, the
figures).
"""

from __future__ import annotations

import io
import json
import math
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from aecf import paths, runs
from aecf.app import datasets
from aecf.figures.report import figure_pngs, report_html

EVALUATE_COMMAND = "python -m aecf evaluate"


@dataclass
class Results:
    methods: dict  # method (or a run's label) -> aggregated metrics (see aecf.evaluate)
    meta: dict
    path: Path | None  # the results file; None for runs combined from their own evaluations


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
    columns = {
        "violations (all)": "all",
        "violations (caption not wrong)": "consistent",
        "wrong caption lowers confidence": "wrong_caption_lowers_confidence",
    }
    return _monotonicity_table(methods, columns)


def _monotonicity_table(methods: dict, columns: dict[str, str]) -> list[dict]:
    """A row per method with monotonicity numbers: column title -> its key in the evaluation."""
    rows = []
    for name, e in methods.items():
        mono = e.get("monotonicity") or {}
        if mono:
            rows.append({"method": name} | {title: mono.get(key) for title, key in columns.items()})
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


# ------------------------------------------------------------------------------------ runs on a dataset

MAX_DEFAULT_RUNS = 6  # the runs compared until the person picks: the newest evaluated ones
EVALUABLE = ("finished", "stopped", "interrupted")  # states whose saved model can be evaluated
SHIPPED_STATE = "shipped"  # a shipped run's state in the runs list


@dataclass(frozen=True)
class DatasetRun:
    """One run on a dataset, as the Subsets and Curriculum pages list it: trained here, or shipped with it."""

    run_id: str  # the run's folder name; a shipped run's name ("shipped: aecf")
    path: Path  # the run folder; a shipped run's: the results JSON (without one, its checkpoint's folder)
    method: str
    seed: int | None
    state: str  # a runs.STATES value, "interrupted" for a "running" run whose process is gone, "unknown", "shipped"
    started: float  # seconds since the epoch (a shipped run: 0, older than every run)
    label: str  # the run in charts and tables: "aecf (s0, 14:30)", "shipped: aecf"
    evaluation: dict | None  # its evaluation.json, when it has one that fits the dataset
    has_model: bool
    problem: str | None = None  # why an evaluation it has cannot be shown
    # a run that ships with the dataset (its files), not trained here
    shipped: datasets.ShippedRun | None = None

    @property
    def can_evaluate(self) -> bool:
        return self.evaluation is None and self.has_model and self.state in EVALUABLE

    @property
    def weights(self) -> Path | None:
        """Its saved model, None when it has none."""
        if self.shipped is not None:
            return self.shipped.weights
        return self.path / "model.safetensors" if self.has_model else None

    @property
    def metrics(self) -> Path | None:
        """Its training records (metrics.jsonl), None when a shipped run has none."""
        return self.shipped.metrics if self.shipped is not None else self.path / "metrics.jsonl"

    @property
    def evaluation_file(self) -> Path:
        """The file its evaluation is read from."""
        return self.path if self.shipped is not None else self.path / runs.EVALUATION_FILE

    @property
    def entry(self) -> dict | None:
        """Its metrics (the evaluation's one method), or None."""
        found = (self.evaluation or {}).get("methods") or {}
        return next(iter(found.values()), None) if len(found) == 1 else found.get(self.run_id)


def dataset_runs(
    key: str, modalities: list[str] | None = None, runs_dir: str | Path | None = None
) -> list[DatasetRun]:
    """The runs trained on dataset `key` with their evaluations, newest first by start time. An evaluation
    of other modalities than `modalities` (the dataset's) is not shown: `problem` says why."""
    found = []
    for run_dir in datasets.runs_on(key, runs_dir):
        config = runs.read_config(run_dir) or {}
        status = runs.read_status(run_dir) or {}
        state = str(status.get("state") or "unknown")
        if state == "running" and runs.gone_reason(status):
            state = "interrupted"
        started = status.get("started")
        started = float(started) if isinstance(started, int | float) else run_dir.stat().st_mtime
        seed = config.get("seed")
        evaluation, problem = _usable(datasets.read_evaluation(run_dir)), None
        if evaluation is not None and modalities is not None:
            measured = (evaluation.get("meta") or {}).get("modalities")
            if measured is not None and list(measured) != list(modalities):
                evaluation, problem = None, f"its evaluation is of other modalities ({', '.join(measured)})"
        found.append(
            DatasetRun(
                run_id=run_dir.name,
                path=run_dir,
                method=str(config.get("method") or "?"),
                seed=int(seed) if isinstance(seed, int) else None,
                state=state,
                started=started,
                label=run_dir.name,
                evaluation=evaluation,
                has_model=(run_dir / "model.safetensors").is_file(),
                problem=problem,
            )
        )
    found.sort(key=lambda r: r.started, reverse=True)
    labels = run_labels(found)
    return [replace(r, label=labels[r.run_id]) for r in found]


def _usable(evaluation: dict | None) -> dict | None:
    """An evaluation whose every entry has the metrics the page draws (else None: evaluate it again)."""
    methods = (evaluation or {}).get("methods") or {}
    return (
        evaluation if methods and all(isinstance(e, dict) and "full" in e for e in methods.values()) else None
    )


def run_labels(found: list[DatasetRun]) -> dict[str, str]:
    """A short, unique label per run: its method first (so it keeps the method's colour), the seed and the
    time it started; the date too where two would read the same, the run's id where even that does."""

    def label(r: DatasetRun, fmt: str) -> str:
        seed = f"s{r.seed}, " if r.seed is not None else ""
        return f"{r.method} ({seed}{time.strftime(fmt, time.localtime(r.started))})"

    out = {r.run_id: label(r, "%H:%M") for r in found}
    for fmt in ("%m-%d %H:%M", "%m-%d %H:%M:%S"):
        clash = {v for v in out.values() if list(out.values()).count(v) > 1}
        for r in found:
            if out[r.run_id] in clash:
                out[r.run_id] = label(r, fmt)
    clash = {v for v in out.values() if list(out.values()).count(v) > 1}
    return {k: (f"{v[:-1]}, {k})" if v in clash else v) for k, v in out.items()}


def shipped_dataset_runs(
    choice: datasets.DatasetChoice, modalities: list[str] | None = None
) -> list[DatasetRun]:
    """The runs that ship with a dataset (`aecf.app.datasets.shipped_runs`), one per method of their evaluation
    (aggregated over seeds; the specialists, the limit, have no checkpoint of their own), then any shipped
    checkpoint it does not evaluate. An evaluation of subsets of other modalities than `modalities` is not shown:
    `problem` says why. None for the digits (their page reads results/results.json) or an upload."""
    if choice.is_digits:
        return []
    shipped = datasets.shipped_runs(choice)
    methods, meta = {}, {}
    if shipped.results is not None:
        try:
            found = load_results(shipped.results)
        except ResultsUnavailable:
            found = None
        if found is not None:
            methods, meta = found.methods, found.meta
    by_method = {r.method: r for r in shipped.runs}
    out = []
    for method in [*methods, *(m for m in by_method if m not in methods)]:
        run = by_method.get(method) or datasets.ShippedRun(method, None, None)
        entry, problem = methods.get(method), None
        if entry is not None and modalities is not None and not _of_modalities(entry, modalities):
            entry, problem = None, "its evaluation is of other modalities"
        out.append(
            DatasetRun(
                run_id=run.name,
                path=shipped.results or (run.weights or run.metrics).parent,  # one or the other ships
                method=method,
                seed=run.seed,  # its checkpoint's (the evaluation may average several)
                state=SHIPPED_STATE,
                started=0.0,
                label=run.name,
                evaluation=None if entry is None else {"methods": {run.name: entry}, "meta": meta},
                has_model=run.weights is not None,
                problem=problem,
                shipped=run,
            )
        )
    return out


def _of_modalities(entry: dict, modalities: list[str]) -> bool:
    known = set(modalities)
    return all(set(subset.split("+")) <= known for subset in entry.get("subsets") or {})


def runs_and_shipped(choice: datasets.DatasetChoice, modalities: list[str] | None = None) -> list[DatasetRun]:
    """The runs trained on a dataset (`dataset_runs`, newest first), then the runs that ship with it."""
    return dataset_runs(choice.key, modalities) + shipped_dataset_runs(choice, modalities)


def default_runs(found: list[DatasetRun], limit: int = MAX_DEFAULT_RUNS) -> list[str]:
    """The labels compared until the person picks: the newest evaluated runs trained here, at most `limit`; the
    shipped ones when none is."""
    own = [r.label for r in found if r.entry is not None and r.shipped is None][:limit]
    return own or [r.label for r in found if r.entry is not None and r.shipped is not None][:limit]


def combine(found: list[DatasetRun], labels: list[str]) -> Results | None:
    """The chosen runs' evaluations as one Results keyed by label (in the order of `labels`); its meta is
    the newest one's, with `runs`: label -> run id. None when none of them is evaluated."""
    by_label = {r.label: r for r in found if r.entry is not None}
    chosen = [by_label[label] for label in labels if label in by_label]
    if not chosen:
        return None
    newest = max(chosen, key=lambda r: r.started)
    meta = dict(newest.evaluation.get("meta") or {})
    meta["runs"] = {r.label: r.run_id for r in chosen}
    return Results(methods={r.label: r.entry for r in chosen}, meta=meta, path=None)


def combined_json(results: Results) -> dict:
    """What the page downloads: {"methods": {<run id>: metrics + "label"}, "meta": ...}, the layout of
    `python -m aecf evaluate --data` (keyed by run, as that command keys by checkpoint stem)."""
    ids = results.meta.get("runs") or {}
    methods = {ids.get(label, label): {**entry, "label": label} for label, entry in results.methods.items()}
    return {"methods": methods, "meta": results.meta}


def is_multilabel_meta(meta: dict, methods: dict) -> bool:
    if "multilabel" in meta:
        return bool(meta["multilabel"])
    return any(e.get("multilabel") for e in methods.values())


def run_rows(found: list[DatasetRun]) -> list[dict]:
    """The runs on a dataset in words: what each is, its state, and whether it is evaluated."""
    rows = []
    for r in found:
        entry = r.entry
        if entry is not None and r.shipped is not None:
            evaluated = f"yes ({_shipped_words(entry)})"
        elif entry is not None:
            seconds = (r.evaluation.get("meta") or {}).get("seconds")
            evaluated = "yes" + (f" ({seconds:.1f} s)" if isinstance(seconds, int | float) else "")
        elif r.problem:
            evaluated = f"no: {r.problem}"
        elif r.state == "running":
            evaluated = "not yet: still training"
        elif not r.has_model:
            evaluated = "no: it saved no model"
        else:
            evaluated = "not yet"
        rows.append(
            {"run": r.label, "method": r.method, "state": r.state, "evaluated": evaluated, "id": r.run_id}
        )
    return rows


def _shipped_words(entry: dict) -> str:
    """What a shipped evaluation averages: "mean of 3 seeds", or the specialists' "the limit: 15 models"."""
    if entry.get("reference"):
        models = entry.get("checkpoints")
        return f"the limit: {len(models)} models" if isinstance(models, list) else "the limit"
    seeds = entry.get("n_seeds")
    return f"mean of {seeds} seeds" if isinstance(seeds, int) and seeds > 1 else "one seed"


def shipped_caption(found: list[DatasetRun], n_modalities: int) -> str | None:
    """The words under a dataset view for its shipped evaluation: which runs, over how many training seeds, and
    the specialists as the limit (how many of the subsets have their own). None without one."""
    shipped = [r for r in found if r.shipped is not None and r.entry is not None]
    if not shipped:
        return None
    trained = [r for r in shipped if not r.entry.get("reference")]
    limit = next((r.entry for r in shipped if r.entry.get("reference")), None)
    parts = []
    if trained:
        seeds = sorted({n for r in trained if isinstance(n := r.entry.get("n_seeds"), int)})
        several = (
            f", each the mean of {'/'.join(map(str, seeds))} training seeds (± std)"
            if max(seeds or [1]) > 1
            else ""
        )
        parts.append(", ".join(f"`{r.method}`" for r in trained) + several)
    if limit is not None:
        models = limit.get("checkpoints")
        count = len(models) if isinstance(models, list) else None
        of_all = 2**n_modalities - 1
        sample = (
            f" ({count} of the {of_all} subsets have their own; the others go to the largest trained subset "
            "inside them: an estimate from below)"
            if count and count < of_all
            else ""
        )
        parts.append(
            "`specialists`: one model per modality subset, picked per example by the modalities present, the "
            f"limit a single fusion model is measured against{sample}"
        )
    return "Shipped with the dataset: " + "; ".join(parts) + ". Your own runs on it join them here."


def evaluate_runs(
    found: list[DatasetRun], evaluate: Callable[[Path], object], clock=time.perf_counter
) -> list[tuple[str, float, str | None]]:
    """Evaluate every run that can be and has no evaluation (`evaluate`: aecf.app.datasets.evaluate_run);
    per run: its label, the seconds it took and the problem (None when it worked). Never raises for a
    run's data: a problem is a message for the page."""
    done = []
    for r in found:
        if not r.can_evaluate:
            continue
        t0 = clock()
        try:
            evaluate(r.path)
            problem = None
        except Exception as e:  # noqa: BLE001 - any failure of one run is a message, the others go on
            problem = f"{type(e).__name__}: {e}" if not str(e) else str(e)
        done.append((r.label, clock() - t0, problem))
    return done


# ------------------------------------------------------------------------------------ dataset tables


def drop_columns(rows: list[dict], columns) -> list[dict]:
    """The rows without these columns (a dataset without severity has no use for the severity columns)."""
    gone = set(columns)
    return [{k: v for k, v in row.items() if k not in gone} for row in rows]


def dataset_summary_rows(methods: dict, has_severity: bool) -> list[dict]:
    """The summary table for runs on a dataset: as the digits' (one seed per run), the worst subset named,
    mAP only for multi-label data (where it is the headline), ρ(λ, severity) only where the data records a
    severity."""
    several = any(isinstance(e.get("n_seeds"), int) and e["n_seeds"] > 1 for e in methods.values())
    gone = ([] if several else ["seeds"]) + ([] if has_severity else ["ρ(λ, severity)"])
    if not any(e.get("multilabel") for e in methods.values()):
        gone += ["mAP (all)", "mAP @ 50 % drop", "worst subset mAP"]
    out = []
    for row, entry in zip(drop_columns(summary_rows(methods), gone), methods.values(), strict=True):
        named = {}
        for k, v in row.items():
            named[k] = v
            if k == "worst subset acc":  # which subset, beside how well it does
                named["worst subset"] = _worst_subset(entry)
        out.append(named)
    return out


def _worst_subset(entry: dict) -> str | None:
    by_size = entry.get("subsets_by_size") or {}
    key = "map" if entry.get("multilabel") else "acc"
    found = [(v.get(f"worst_{key}"), v.get("worst")) for v in by_size.values() if v.get("worst")]
    found = [f for f in found if f[0] is not None]
    return min(found)[1] if found else None


def subset_size_rows(methods: dict, metric: str = "acc") -> list[dict]:
    """Per (method, subset size): how many subsets, their mean `metric`, and the best and the worst subset
    of that size, named (aecf.evaluate's `subsets_by_size`)."""
    rows = []
    for name, entry in methods.items():
        for size, v in sorted((entry.get("subsets_by_size") or {}).items(), key=lambda kv: int(kv[0])):
            rows.append(
                {
                    "method": name,
                    "size": int(size),
                    "subsets": int(v["count"]) if isinstance(v.get("count"), int | float) else None,
                    f"mean {METRIC_WORDS[metric]}": v.get(metric),
                    "best subset": v.get("best"),
                    f"best {METRIC_WORDS[metric]}": v.get(f"best_{metric}"),
                    "worst subset": v.get("worst"),
                    f"worst {METRIC_WORDS[metric]}": v.get(f"worst_{metric}"),
                }
            )
    return rows


METRIC_WORDS = {"acc": "accuracy", "map": "mAP", "ece": "ECE"}


def dataset_monotonicity_rows(methods: dict) -> list[dict]:
    """Per run: the share of (example, A ⊂ B) pairs whose confidence falls when modalities are added, over
    every pair and over the pairs whose added modalities alone give the true label at least chance
    probability (the pairs CEC trains on)."""
    return _monotonicity_table(
        methods, {"violations (all pairs)": "all", "violations (supported pairs)": "supported"}
    )


def dataset_mechanism_rows(methods: dict, has_severity: bool) -> list[dict]:
    """Per gated run: λ(x)'s spread, the gate's entropy, how adaptive ACM's masks are and, where the data
    records a severity, λ's correlation with it."""
    rows = []
    for name, e in methods.items():
        mech = e.get("mechanisms")
        if not mech:
            continue
        row = {
            "method": name,
            "H(p)": e.get("gate_entropy"),
            "IQR of λ / range": mech.get("lambda_iqr_fraction"),
            "ACM ≥ 2× share": mech.get("acm_adaptive_share"),
            "ACM median ratio": mech.get("acm_ratio_median"),
        }
        if has_severity:
            row["ρ(λ, severity)"] = mech.get("lambda_severity_spearman")
        rows.append(row)
    return rows


def gate_rows(methods: dict, modalities: list[str], field: str = "gate_mean") -> list[dict]:
    """Per gated run, one column per modality: the mean gate weight where it is present (`gate_mean`) or
    ρ(p_m, 1 − severity_m) (`gate_reliability_spearman`)."""
    rows = []
    for name, e in methods.items():
        values = (e.get("mechanisms") or {}).get(field)
        if values:
            rows.append({"method": name, **{m: values.get(m) for m in modalities}})
    return rows


# ------------------------------------------------------------------------------------ downloads


def figures_zip(figs: dict, title: str, evaluation: dict | None = None, png: bool = True) -> bytes:
    """The figures as one zip: `figures.html` (every figure, plotly.js inside: it opens with no network),
    `png/<figure>.png` where kaleido and a Chromium work here (else `png/NOT-MADE.txt` says why), and the
    evaluation JSON the figures show."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("figures.html", report_html(figs, title))
        if png:
            pngs, problem = figure_pngs(figs)
            for stem, data in pngs.items():
                zf.writestr(f"png/{stem}.png", data)
            if problem:
                zf.writestr("png/NOT-MADE.txt", f"The PNGs could not be drawn on the server: {problem}\n")
        if evaluation is not None:
            zf.writestr("evaluation.json", json.dumps(evaluation, indent=1))
    return buf.getvalue()


def download_name(text: str) -> str:
    """A file name from a dataset's or a results file's name: letters, digits, '-', '_' and '.' only."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip("-.")
    return cleaned[:60] or "results"
