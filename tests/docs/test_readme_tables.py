"""scripts/readme_tables.py: README.md's Results tables agree with the shipped JSON, and a change is caught."""

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "readme_tables.py"
RESULTS = ROOT / "results" / "results.json"
REPORT = ROOT / "checkpoints" / "encoders" / "report.json"


@pytest.fixture(scope="module")
def rt():
    spec = importlib.util.spec_from_file_location("readme_tables", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _paths(tmp_path, rt):
    for src in (ROOT / "README.md", RESULTS, REPORT):
        shutil.copy(src, tmp_path / src.name)
    readme = tmp_path / "README.md"
    readme.write_text(rt.add_markers(readme.read_text())[0])  # a no-op once the README is marked
    return readme, tmp_path / "results.json", tmp_path / "report.json"


def _unmarked(text):
    return "\n".join(
        line for line in text.split("\n") if not line.startswith(("<!-- table:", "<!-- /table:"))
    )


def _args(readme, results, report):
    return ["--readme", str(readme), "--results", str(results), "--report", str(report)]


def test_readme_agrees_with_the_shipped_json(rt, capsys):
    assert rt.main(["--check"]) == 0, capsys.readouterr()


def test_every_table_is_marked_once(rt):
    readme = (ROOT / "README.md").read_text()
    tables = rt.build_tables(json.loads(RESULTS.read_text()), json.loads(REPORT.read_text()))
    for name in tables:
        assert readme.count(f"<!-- table:{name} -->") == 1 and readme.count(f"<!-- /table:{name} -->") == 1


def test_add_markers_only_adds_marker_lines_and_the_tables_agree(rt):
    bare = _unmarked((ROOT / "README.md").read_text())
    marked, added = rt.add_markers(bare)
    tables = rt.build_tables(json.loads(RESULTS.read_text()), json.loads(REPORT.read_text()))
    assert added == list(tables)  # every table found, in README order
    assert _unmarked(marked) == bare and len(marked.split("\n")) == len(bare.split("\n")) + 2 * len(tables)
    assert rt.add_markers(marked) == (marked, [])
    assert rt.render(marked, tables) == (marked, [])  # the README's numbers are what the JSON says


def test_a_changed_result_fails_the_check_and_write_fixes_it(rt, tmp_path, capsys):
    readme, results, report = _paths(tmp_path, rt)
    data = json.loads(results.read_text())
    old = data["methods"]["aecf"]["drop"]["0.5"]["acc"]
    data["methods"]["aecf"]["drop"]["0.5"]["acc"] = old - 0.01  # one point lower in three tables
    results.write_text(json.dumps(data))
    before = readme.read_text()

    assert rt.main(["--check", *_args(readme, results, report)]) == 1
    out = capsys.readouterr().out.splitlines()
    minus = [line for line in out if line.startswith("-| aecf | 3 |")]
    plus = [line for line in out if line.startswith("+| aecf | 3 |")]
    assert (
        minus and plus and f" {100 * old:.1f} ± " in minus[0] and f" {100 * (old - 0.01):.1f} ± " in plus[0]
    )
    assert readme.read_text() == before  # --check writes nothing

    assert rt.main(["--write", *_args(readme, results, report)]) == 0
    after = readme.read_text()
    changed = [(a, b) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b]
    assert changed and all(a.startswith("| ") for a, _ in changed)  # only table rows were rewritten
    assert rt.main(["--check", *_args(readme, results, report)]) == 0


def test_target_verdicts_follow_the_numbers(rt, tmp_path, capsys):
    readme, results, report = _paths(tmp_path, rt)
    data = json.loads(results.read_text())
    data["methods"]["aecf"]["mechanisms"]["gate_reliability_spearman"]["audio"] = 0.61  # target ≥ 0.6
    for rate in ("0.7", "0.9"):  # at the specialists' accuracy: no miss anywhere (0.0-0.5 are within 0.5 pp)
        data["methods"]["aecf"]["drop"][rate]["acc"] = data["methods"]["specialists"]["drop"][rate]["acc"]
    results.write_text(json.dumps(data))
    rep = json.loads(report.read_text())
    rep["heldout"]["voices"] = 0.96  # target ≥ 0.95
    report.write_text(json.dumps(rep))

    assert rt.main(["--write", *_args(readme, results, report)]) == 0
    text = readme.read_text()
    assert "| Spearman(p_audio, 1 − severity) ≥ 0.6 | 0.61 | met |" in text
    assert "0.7: +0.0, 0.9: +0.0 pp | met |" in text
    vit, last = (rep["details"][k]["voices"] for k in ("heldout_before_vit", "heldout_before"))
    assert (
        f"| voices (festival ked diphone + slt HTS, 200) | {vit:.3f} | {last:.3f} | **0.960** | ≥ 0.95 |"
        in text
    )


def test_a_missing_marker_fails_the_check(rt, tmp_path, capsys):
    readme, results, report = _paths(tmp_path, rt)
    readme.write_text(readme.read_text().replace("<!-- table:fusion-targets -->\n", "", 1))
    assert rt.main(["--check", *_args(readme, results, report)]) == 1
    assert "no markers for table: fusion-targets" in capsys.readouterr().err


def test_a_fresh_encoder_report_keeps_the_earlier_heldout_columns(rt, tmp_path, capsys):
    # `encoders report` writes no details.heldout_before*: the README's earlier columns are kept as they are
    readme, results, report = _paths(tmp_path, rt)
    rep = json.loads(report.read_text())
    del rep["details"]["heldout_before"], rep["details"]["heldout_before_vit"]
    report.write_text(json.dumps(rep))
    assert rt.main(["--check", *_args(readme, results, report)]) == 0, capsys.readouterr()
