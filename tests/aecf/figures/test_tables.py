"""aecf.figures.tables: the one renderer from results JSON to markdown."""

import copy
import json
from decimal import Decimal

import pytest

from aecf.figures import tables as T
from aecf.paths import ENCODER_DIR, RESULTS_JSON


@pytest.fixture(scope="module")
def results():
    return json.loads(RESULTS_JSON.read_text())


@pytest.fixture(scope="module")
def report():
    return json.loads((ENCODER_DIR / "report.json").read_text())


def _row(table: str, start: str) -> list[str]:
    line = next(line for line in table.splitlines() if line.startswith(f"| {start}"))
    return [c.strip() for c in line.strip().strip("|").split("|")]


def test_cells_round_half_up_and_show_missing_values():
    assert T.fmt(None) == "–" and T.fmt(float("nan")) == "–"
    assert T.fmt(0.7504, pct=True) == "75.0" and T.fmt(0.12345) == "0.123" and T.fmt(0.5, digits=2) == "0.50"
    assert T.half_up(0.45, 1) == Decimal("0.5") and T.half_up(-0.365, 2) == Decimal("-0.37")
    assert T.signed(Decimal("-0.4")) == f"{T.MINUS}0.4" and T.signed(Decimal("0.0")) == "+0.0"
    entry = {"n_seeds": 3, "full": {"acc": 0.9512}, "std": {"full": {"acc": 0.0014}}}
    assert T.pm(entry, ["full", "acc"]) == "95.1 ± 0.1"
    assert T.pm({**entry, "n_seeds": 1}, ["full", "acc"]) == "95.1"  # one seed: no std
    assert T.pm(entry, ["full", "missing"]) == "–"


def test_every_table_renders_from_the_shipped_json(results, report):
    tables = T.build_tables(results, report)
    assert list(tables) == list(T.TABLES)
    for name, table in tables.items():
        lines = table.splitlines()
        assert len(lines) >= 3 and set(lines[1]) <= set("|-"), name
        width = lines[0].count("|")
        assert all(line.count("|") == width for line in lines), name  # no cell holds a stray '|'


def test_the_headline_verdicts_follow_the_numbers(results):
    row = _row(T.headline_table(results), "accuracy at 50 % drop")
    assert row[1] == T.fmt(results["methods"]["aecf"]["drop"]["0.5"]["acc"], True)
    changed = copy.deepcopy(results)
    m = changed["methods"]
    m["aecf"]["drop"]["0.5"]["acc"] = 0.80
    m["moddrop"]["drop"]["0.5"]["acc"] = 0.795  # 80.0 vs 79.5 shown: half a point is no gain
    m["late_fusion"]["drop"]["0.5"]["acc"] = 0.70
    row = _row(T.headline_table(changed), "accuracy at 50 % drop")
    assert row[-2:] == ["+10.0 pp: buys", "+0.5 pp: no gain"]
    m["aecf"]["drop"]["0.5"]["ece"] = 0.04
    m["moddrop"]["drop"]["0.5"]["ece"] = 0.02
    m["late_fusion"]["drop"]["0.5"]["ece"] = 0.05
    row = _row(T.headline_table(changed), "raw ECE at 50 % drop")
    assert row[-2:] == ["0.80 ×: buys", "2.00 ×: loses"]


def test_results_markdown_holds_every_method_and_rate(results):
    md = T.results_markdown(results)
    for name, entry in results["methods"].items():
        assert f"| {name} | {entry.get('n_seeds', 1)} |" in md
    assert "## Accuracy (%) under random modality drop" in md and "| method | 0.0 | 0.1 |" in md
    multilabel = copy.deepcopy(results)
    multilabel["meta"]["multilabel"] = True
    assert "## mAP (%) with each modality subset" in T.results_markdown(multilabel)


def test_heldout_verdict_says_how_far_below_the_target(report):
    rep = copy.deepcopy(report)
    rep["heldout"]["voices"] = 0.96
    rep["heldout"]["voices_room"] = 0.7649  # shown 0.765: 13.5 pp low of 0.90
    table = T.heldout_table(rep)
    assert _row(table, "voices: ")[2:] == ["0.960", _row(table, "voices: ")[3], "≥ 0.95: met"]
    assert _row(table, "voices in a room")[-1] == "≥ 0.90: **13.5 pp low**"
    assert T.pp_low(Decimal("0.14")) == "14" and T.pp_low(Decimal("0.01")) == "1.0"


def test_fill_blocks_rewrites_only_between_markers():
    text = "intro 0.5\n<!-- table:a -->\n| old |\n<!-- /table:a -->\nafter\n<!-- table:b -->\nx\n<!-- /table:b -->\n"
    new, problems = T.fill_blocks(text, {"a": "| new |\n|---|"})
    assert new.startswith("intro 0.5\n<!-- table:a -->\n| new |\n|---|\n<!-- /table:a -->\nafter\n")
    assert problems == ["unknown table marker: b"] and "\nx\n" in new
    twice = text.replace("table:b", "table:a")
    assert T.fill_blocks(twice, {"a": "y"})[1] == ["table marked twice: a"]
    assert T.marked_tables(twice) == ["a", "a"]
    empty = "<!-- table:a -->\n<!-- /table:a -->"  # a block written by hand, not yet rendered
    assert T.fill_blocks(empty, {"a": "| t |"}) == ("<!-- table:a -->\n| t |\n<!-- /table:a -->", [])


def test_intervals_and_robustness_cells_follow_the_json(results):
    changed = copy.deepcopy(results)
    m = changed["methods"]
    m["aecf"]["drop"]["0.5"]["acc"] = 0.75
    m["aecf"]["ci"]["drop"]["0.5"]["acc"] = [0.7414, 0.7586]
    row = _row(T.headline_table(changed), "accuracy at 50 % drop")
    assert row[1:3] == ["75.0", "[74.1, 75.9]"]
    assert _row(T.headline_table(changed), "subset violations")[2] == "–"  # no interval there
    assert "75.0 [74.1, 75.9]" in _row(T.intervals_table(changed), "aecf")[2]
    m["aecf"]["robustness"] = {"relative": 0.456, "effective": -0.0349}
    m["late_fusion"]["robustness"] = {"relative": 0.0, "effective": 0.0}
    m["moddrop"]["robustness"] = None
    scores = T.scores_table(changed)
    assert _row(scores, "aecf")[-2:] == ["0.46", f"{T.MINUS}3.5"]
    assert _row(scores, "late_fusion")[-2:] == ["0.00", "+0.0"]
    assert _row(scores, "moddrop")[-2:] == ["–", "–"]
    del m["aecf"]["ci"]
    assert _row(T.headline_table(changed), "accuracy at 50 % drop")[2] == "–"
