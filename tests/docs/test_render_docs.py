"""scripts/render_docs.py: the docs' generated tables agree with the shipped JSON, and a change is caught."""

import importlib.util
import json
import shutil

import pytest

from aecf.paths import ENCODER_DIR, RESULTS_JSON, ROOT

SCRIPT = ROOT / "scripts" / "render_docs.py"
REPORT = ENCODER_DIR / "report.json"


@pytest.fixture(scope="module")
def rd():
    spec = importlib.util.spec_from_file_location("render_docs", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def project(tmp_path, rd):
    """A copy of the rendered documents and of both JSON files; returns (root, results, report)."""
    for name in [*rd.DOCUMENTS, rd.RESULTS_MD]:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copy(RESULTS_JSON, tmp_path / "results.json")
    shutil.copy(REPORT, tmp_path / "report.json")
    return tmp_path, tmp_path / "results.json", tmp_path / "report.json"


def _args(root, results, report):
    return ["--root", str(root), "--results", str(results), "--report", str(report)]


def test_the_docs_agree_with_the_shipped_json(rd, capsys):
    assert rd.main(["--check"]) == 0, capsys.readouterr()


def test_every_document_holds_each_of_its_tables_once(rd):
    for name, tables in rd.DOCUMENTS.items():
        text = (ROOT / name).read_text()
        for table in tables:
            assert text.count(f"<!-- table:{table} -->") == 1, (name, table)
            assert text.count(f"<!-- /table:{table} -->") == 1, (name, table)


def test_a_changed_result_fails_the_check_and_write_fixes_it(rd, project, capsys):
    root, results, report = project
    data = json.loads(results.read_text())
    old = data["methods"]["aecf"]["drop"]["0.5"]["acc"]
    data["methods"]["aecf"]["drop"]["0.5"]["acc"] = old - 0.01  # one point lower
    results.write_text(json.dumps(data))
    before = {name: (root / name).read_text() for name in [*rd.DOCUMENTS, rd.RESULTS_MD]}

    assert rd.main(["--check", *_args(root, results, report)]) == 1
    out = capsys.readouterr().out
    assert f"-| aecf | 3 | 95.6 ± 0.1 | {100 * old:.1f} ± " in out
    assert f"+| aecf | 3 | 95.6 ± 0.1 | {100 * (old - 0.01):.1f} ± " in out
    for name in ("README.md", "docs/results.md", rd.RESULTS_MD):
        assert f"+++ {name} (from JSON)" in out
    assert "docs/encoders.md (from JSON)" not in out  # its tables read report.json only
    assert {name: (root / name).read_text() for name in before} == before  # --check writes nothing

    assert rd.main(["--write", *_args(root, results, report)]) == 0
    for name in ("README.md", "docs/results.md"):
        now = (root / name).read_text().splitlines()
        changed = [(a, b) for a, b in zip(before[name].splitlines(), now, strict=True) if a != b]
        assert changed and all(a.startswith("| ") and b.startswith("| ") for a, b in changed), name
    assert rd.main(["--check", *_args(root, results, report)]) == 0


def test_target_verdicts_follow_the_numbers(rd, project):
    root, results, report = project
    data = json.loads(results.read_text())
    data["methods"]["aecf"]["mechanisms"]["gate_reliability_spearman"]["audio"] = 0.61  # target ≥ 0.6
    for rate in ("0.7", "0.9"):  # at the specialists' accuracy: no miss anywhere
        data["methods"]["aecf"]["drop"][rate]["acc"] = data["methods"]["specialists"]["drop"][rate]["acc"]
    results.write_text(json.dumps(data))
    rep = json.loads(report.read_text())
    rep["heldout"]["voices_room"] = 0.91  # target ≥ 0.90
    report.write_text(json.dumps(rep))

    assert rd.main(["--write", *_args(root, results, report)]) == 0
    text = (root / "docs" / "results.md").read_text()
    assert "| Spearman(p_audio, 1 − severity) ≥ 0.6 | 0.61 | met |" in text
    assert "0.7: +0.0, 0.9: +0.0 pp | met |" in text
    assert "| 0.910 | slt 0.750, ked 0.790 | ≥ 0.90: met |" in (root / "docs" / "encoders.md").read_text()


def test_a_missing_or_foreign_marker_fails_the_check(rd, project, capsys):
    root, results, report = project
    doc = root / "docs" / "results.md"
    doc.write_text(doc.read_text().replace("<!-- table:fusion-targets -->\n", "", 1))
    readme = root / "README.md"
    readme.write_text(readme.read_text() + "\n<!-- table:encoders -->\n<!-- /table:encoders -->\n")
    assert rd.main(["--check", *_args(root, results, report)]) == 1
    err = capsys.readouterr().err
    assert "docs/results.md: no markers for table: fusion-targets" in err
    assert "README.md: table not expected here: encoders" in err
