"""The Subsets page's tables as shown: no "None" or "nan" anywhere, "–" where a method has no value."""

from __future__ import annotations

import json

from aecf.app import results as R
from aecf.paths import ROOT

METHODS = json.loads((ROOT / "results" / "results.json").read_text())["methods"]
BAD = {"None", "nan", "NaN", "<NA>", "null", ""}


def test_every_table_of_the_shipped_results_shows_no_none():
    tables = {
        "summary": R.readable(R.summary_rows(METHODS)),
        "drop": R.readable(R.drop_rows(METHODS), formats={"drop rate": "{:g}"}),
        "subsets": R.readable(R.subset_rows(METHODS)),
        "monotonicity": R.readable(R.monotonicity_rows(METHODS)),
        "mechanisms": R.readable(R.mechanism_rows(METHODS)),
    }
    for name, rows in tables.items():
        assert rows, name
        columns = list(rows[0])
        for row in rows:
            assert list(row) == columns, name  # every row has every column
            assert not BAD & set(row.values()), (name, row)
    summary = {row["method"]: row for row in tables["summary"]}
    assert summary["late_fusion"]["H(p)"] == R.MISSING  # no gate, no entropy: a dash, as the page shows it
    assert summary["aecf"]["H(p)"] != R.MISSING


def test_numbers_and_gaps_are_written_as_the_page_shows_them():
    rows = R.readable(
        [{"method": "a", "seeds": 3, "acc": 0.95612, "drop rate": 0.1}, {"method": "b", "acc": float("nan")}],
        formats={"drop rate": "{:g}"},
    )
    assert rows == [
        {"method": "a", "seeds": "3", "acc": "0.956", "drop rate": "0.1"},
        {"method": "b", "seeds": "–", "acc": "–", "drop rate": "–"},
    ]
