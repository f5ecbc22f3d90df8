"""The teaching boxes' equations (aecf.app.teaching) come from docs/method.md, all of them are there, and the
CEC term they show is the one the shipped AECF checkpoint was trained with."""

from __future__ import annotations

import re

from aecf.app.teaching import TOPICS, equations
from aecf.checkpoint import read_checkpoint_config
from aecf.paths import FUSION_DIR


def test_every_teaching_equation_is_in_docs_method_md():
    for topic, starts in TOPICS.items():
        assert len(equations(topic)) == len(starts), f"docs/method.md lacks an equation of {topic!r}"


def test_the_cec_term_shown_is_the_one_the_shipped_aecf_trains():
    cec = equations("cec")[1]
    train = read_checkpoint_config(FUSION_DIR / "aecf")["train"]
    squared = bool(re.search(r"\\max\\big\(0,.*\\big\)\s*\^\s*2", cec))
    assert squared == train["cec_squared"], cec
    # the pairs it sums over: only those whose added modalities support the true label, when trained so
    assert ("_y" in cec) == (train["cec_pairs"] == "supported"), cec


def test_equations_are_read_from_the_file_and_none_is_made_up(tmp_path):
    doc = tmp_path / "method.md"
    doc.write_text("Intro\n$$\nH(p) = \\text{from the docs}\n$$\n")
    assert equations("entropy", doc) == ["H(p) = \\text{from the docs}"]
    assert equations("cec", tmp_path / "missing.md") == []
