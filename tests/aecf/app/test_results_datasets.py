"""The Subsets page's view of a dataset other than the digits: the runs trained on it, their evaluations
combined, the tables by subset size, the evaluate button's work, and the downloads."""

from __future__ import annotations

import io
import json
import re
import zipfile

import pytest

from aecf import runs
from aecf.app import datasets as D
from aecf.app import results as R
from aecf.figures import report
from tests.support.dataset_runs import generated_upload, train_runs

BAD = {"None", "nan", "NaN", "<NA>", "null", ""}


@pytest.fixture(scope="module")
def mfeat_runs(tmp_path_factory):
    """aecf and late_fusion evaluated on mfeat, a moddrop run that is not (yet), in their own runs dir."""
    root = tmp_path_factory.mktemp("runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AECF_APP_RUNS_DIR", str(root))
        mfeat = D.resolve("example:mfeat")
        made = train_runs(mfeat, root, ("aecf", "late_fusion"), epochs=2)
        made += train_runs(mfeat, root, ("moddrop",), epochs=2, evaluate=False)
        yield {"root": root, "choice": mfeat, "runs": made, "modalities": list(mfeat.spec.names)}


@pytest.fixture
def env(mfeat_runs, monkeypatch):
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(mfeat_runs["root"]))
    return mfeat_runs


def test_runs_are_listed_newest_first_with_short_labels_that_keep_their_method(env):
    found = R.dataset_runs(env["choice"].key, env["modalities"])
    assert [r.method for r in found] == ["moddrop", "late_fusion", "aecf"]
    assert [r.path for r in found] == env["runs"][::-1]
    labels = [r.label for r in found]
    assert len(set(labels)) == 3 and all(
        label.startswith(f"{r.method} (s0, ") for label, r in zip(labels, found, strict=True)
    )
    assert [r.can_evaluate for r in found] == [True, False, False]  # only the run without evaluation
    assert R.default_runs(found) == labels[1:]
    assert R.dataset_runs("example:none", env["modalities"]) == []
    words = {row["method"]: row["evaluated"] for row in R.run_rows(found)}
    assert (
        words["moddrop"] == "not yet" and words["aecf"].startswith("yes (") and words["aecf"].endswith(" s)")
    )


def test_the_chosen_runs_combine_into_one_results_and_one_json(env):
    found = R.dataset_runs(env["choice"].key, env["modalities"])
    labels = R.default_runs(found)
    results = R.combine(found, labels[::-1])
    assert list(results.methods) == labels[::-1] and results.path is None
    assert results.meta["modalities"] == env["modalities"] and set(results.meta["runs"]) == set(labels)
    doc = R.combined_json(results)
    ids = {r.run_id: r.label for r in found if r.label in labels}
    assert set(doc["methods"]) == set(ids) and all(doc["methods"][i]["label"] == ids[i] for i in ids)
    assert json.loads(json.dumps(doc)) == doc  # plain JSON
    assert R.combine(found, ["not a run"]) is None and R.combine(found, []) is None


def test_the_evaluate_button_evaluates_what_has_no_evaluation_and_times_it(env):
    found = R.dataset_runs(env["choice"].key, env["modalities"])
    ticks = iter([10.0, 12.5])
    done = R.evaluate_runs(found, D.evaluate_run, clock=lambda: next(ticks))
    assert done == [(found[0].label, 2.5, None)]
    again = R.dataset_runs(env["choice"].key, env["modalities"])
    assert again[0].entry is not None and not any(r.can_evaluate for r in again)
    assert R.evaluate_runs(again, D.evaluate_run) == []  # nothing left to do
    (again[0].path / runs.EVALUATION_FILE).unlink()  # as it was, for the other tests


def test_an_evaluation_that_fails_or_does_not_fit_is_a_message(env, tmp_path):
    found = R.dataset_runs(env["choice"].key, env["modalities"])

    def broken(path):
        raise ValueError("the disk is full")

    assert R.evaluate_runs(found, broken) == [(found[0].label, pytest.approx(0, abs=5), "the disk is full")]
    other = R.dataset_runs(env["choice"].key, ["a", "b"])  # evaluations of other modalities are not shown
    assert all(r.entry is None for r in other)
    assert {r.problem for r in other if r.method != "moddrop"} == {
        "its evaluation is of other modalities (" + ", ".join(env["modalities"]) + ")"
    }


def test_labels_stay_unique_when_two_runs_share_method_seed_and_minute():
    def run(run_id, started):
        return R.DatasetRun(run_id, None, "aecf", 0, "finished", started, run_id, None, True)

    base = 1_700_000_000.0
    labels = R.run_labels([run("a", base), run("b", base + 1), run("c", base + 86400 * 3)])
    assert len(set(labels.values())) == 3
    assert labels["c"].count(":") == 1  # another day: the minute is enough once the date is there
    same = R.run_labels([run("x", base), run("y", base)])
    assert len(set(same.values())) == 2 and same["x"].endswith(", x)")


def test_tables_by_subset_size_name_the_best_and_the_worst(env):
    results = R.combine(*_chosen(env))
    rows = R.subset_size_rows(results.methods, "acc")
    assert {r["size"] for r in rows} == set(range(1, 7)) and len(rows) == 12
    for r in rows:
        assert r["worst accuracy"] <= r["mean accuracy"] + 1e-9 <= r["best accuracy"] + 2e-9
        assert r["worst subset"].count("+") + 1 == r["size"] == r["best subset"].count("+") + 1
    assert [r["subsets"] for r in rows[:6]] == [6, 15, 20, 15, 6, 1]


def test_dataset_tables_show_no_gaps_as_none_and_severity_only_where_recorded(env):
    methods = R.combine(*_chosen(env)).methods
    tables = {
        "summary": R.dataset_summary_rows(methods, has_severity=False),
        "sizes": R.subset_size_rows(methods, "acc"),
        "monotonicity": R.dataset_monotonicity_rows(methods),
        "mechanisms": R.dataset_mechanism_rows(methods, has_severity=False),
        "gate": R.gate_rows(methods, env["modalities"]),
        "subsets": R.subset_rows(methods),
        "drop": R.drop_rows(methods),
    }
    for name, rows in tables.items():
        shown = R.readable(rows)
        assert shown, name
        for row in shown:
            assert list(row) == list(shown[0]) and not BAD & set(row.values()), (name, row)
    assert all("ρ(λ, severity)" not in row for row in tables["summary"] + tables["mechanisms"])
    assert all("mAP (all)" not in row for row in tables["summary"])  # multiclass: accuracy is the headline
    assert [r["method"] for r in tables["mechanisms"]] == [r["method"] for r in tables["gate"]]
    assert all(r["method"].startswith("aecf") for r in tables["mechanisms"])  # late fusion has no gate
    summary = {r["method"]: r for r in tables["summary"]}
    assert all(r["worst subset"] for r in summary.values())
    assert R.dataset_mechanism_rows(methods, has_severity=True)[0]["ρ(λ, severity)"] is None


def test_a_dataset_with_severity_and_multiple_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("AECF_APP_RUNS_DIR", str(tmp_path / "runs"))
    choice = generated_upload(tmp_path, {"a": 6, "b": 9, "c": 4}, multilabel=True)
    train_runs(choice, tmp_path / "runs", ("aecf",), epochs=2)
    found = R.dataset_runs(choice.key, list(choice.spec.names))
    results = R.combine(found, R.default_runs(found))
    assert R.is_multilabel_meta(results.meta, results.methods)
    summary = R.dataset_summary_rows(results.methods, has_severity=True)[0]
    assert summary["mAP (all)"] is not None and summary["ρ(λ, severity)"] is not None
    assert R.dataset_mechanism_rows(results.methods, has_severity=True)[0]["ρ(λ, severity)"] is not None
    assert R.subset_size_rows(results.methods, "map")[0]["mean mAP"] is not None
    spearman = R.gate_rows(results.methods, ["a", "b", "c"], "gate_reliability_spearman")
    assert len(spearman) == 1 and all(spearman[0][m] is not None for m in "abc")


def test_the_figures_zip_opens_offline_with_pngs_or_says_why(env):
    results = R.combine(*_chosen(env))
    figs = report.results_figures(results.methods, env["modalities"])
    blob = R.figures_zip(figs, "mfeat: runs compared", R.combined_json(results))
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        names = zf.namelist()
        html = zf.read("figures.html").decode()
        assert json.loads(zf.read("evaluation.json"))["meta"]["runs"] == results.meta["runs"]
        pngs = [n for n in names if n.startswith("png/") and n.endswith(".png")]
        if "png/NOT-MADE.txt" in names:  # no kaleido or no Chromium here: the reason, and no partial set
            assert not pngs and "could not be drawn" in zf.read("png/NOT-MADE.txt").decode()
        else:
            assert sorted(pngs) == sorted(f"png/{stem}.png" for stem in figs)
            assert all(zf.read(n)[:8] == b"\x89PNG\r\n\x1a\n" for n in pngs)
    assert html.count("<section") == len(figs) and "mfeat: runs compared" in html
    scripts = re.findall(r"<script\b[^>]*>", html)
    assert scripts and not [t for t in scripts if "src" in t]  # plotly.js is inside: no network
    assert html.count("Plotly.newPlot") == len(figs)
    assert R.download_name("my data/set: v2") == "my-data-set--v2" and R.download_name("../..") == "results"


def _chosen(env):
    found = R.dataset_runs(env["choice"].key, env["modalities"])
    return found, R.default_runs(found)


# ------------------------------------------------------------------------------------ shipped runs


def test_an_examples_shipped_evaluation_comes_after_the_runs_and_is_the_default_only_without_them(env):
    choice, modalities = env["choice"], env["modalities"]
    doc = json.loads(D.shipped_runs(choice).results.read_text())
    shipped = R.shipped_dataset_runs(choice, modalities)
    assert [r.method for r in shipped] == list(doc["methods"])  # aecf, late_fusion, moddrop, specialists
    assert [r.label for r in shipped] == [f"shipped: {m}" for m in doc["methods"]]
    assert all(r.state == "shipped" and not r.can_evaluate and r.entry is not None for r in shipped)
    assert all(r.entry == doc["methods"][r.method] for r in shipped)
    checkpoints = D.shipped_runs(choice).checkpoints
    for r in shipped:  # the specialists have no checkpoint of their own, nor training records
        assert r.weights == checkpoints.get(r.label) and r.has_model == (r.label in checkpoints)
        assert (r.metrics is None) == (r.label not in checkpoints) and r.evaluation_file.is_file()
    both = R.runs_and_shipped(choice, modalities)
    assert both == R.dataset_runs(choice.key, modalities) + shipped  # own runs first, newest first
    assert R.default_runs(both) == R.default_runs(R.dataset_runs(choice.key, modalities))  # the own ones
    assert R.default_runs(shipped) == [r.label for r in shipped]  # none of one's own: the shipped ones
    assert R.shipped_dataset_runs(D.resolve(D.DIGITS), modalities) == []  # the digits page reads its own file


def test_the_shipped_evaluation_combines_with_a_run_and_says_its_seeds_and_its_limit(env):
    choice, modalities = env["choice"], env["modalities"]
    doc = json.loads(D.shipped_runs(choice).results.read_text())
    seeds = doc["methods"]["aecf"]["n_seeds"]
    n_specialists = len(doc["methods"]["specialists"]["checkpoints"])
    both = R.runs_and_shipped(choice, modalities)
    own = R.default_runs(both)[0]
    results = R.combine(both, [own, "shipped: aecf", "shipped: specialists"])
    assert list(results.methods) == [own, "shipped: aecf", "shipped: specialists"]
    assert results.meta["runs"]["shipped: aecf"] == "shipped: aecf"
    assert results.meta["modalities"] == modalities  # the meta of the newest: the run's own evaluation
    summary = R.readable(R.dataset_summary_rows(results.methods, has_severity=False))
    assert [r["seeds"] for r in summary] == ["1", str(seeds), "1"] and not BAD & set(summary[2].values())
    assert summary[2]["method"] == "shipped: specialists (reference)"
    words = {row["run"]: row["evaluated"] for row in R.run_rows(both)}
    assert words["shipped: aecf"] == f"yes (mean of {seeds} seeds)"
    assert words["shipped: specialists"] == f"yes (the limit: {n_specialists} models)"
    caption = R.shipped_caption(both, len(modalities))
    assert f"each the mean of {seeds} training seeds" in caption and "`specialists`" in caption
    assert f"{n_specialists} of the {2 ** len(modalities) - 1} subsets have their own" in caption
    assert R.shipped_caption(R.dataset_runs(choice.key, modalities), len(modalities)) is None
    assert "seeds" not in R.dataset_summary_rows(R.combine(both, [own]).methods, has_severity=False)[0]


def test_a_shipped_evaluation_of_other_modalities_is_not_shown(env):
    shipped = R.shipped_dataset_runs(env["choice"], ["a", "b"])
    assert len(shipped) == 4 and all(r.entry is None and r.problem for r in shipped)
    assert R.default_runs(shipped) == []
