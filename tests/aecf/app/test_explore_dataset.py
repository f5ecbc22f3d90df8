"""Explore on a dataset of one's own (aecf/app/explore_dataset.py): 2 to 8 modalities of any widths, modalities
missing in the data, multilabel; the link's odd values; the subset view's counts checked against brute force;
the snippet, run in a fresh Python, prints what the view shows."""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pytest
import torch

from aecf.app import datasets as D
from aecf.app import explore_dataset as X
from aecf.data.dataset import read_dataset
from aecf.data.generated import generate_dataset
from aecf.inference import Model, load
from aecf.paths import ROOT
from aecf.runs import write_data
from aecf.train import make_config, train

WIDTHS = (5, 12, 3, 9, 7, 4, 10, 6)


def _dataset(tmp_path, m: int, missing: float = 0.0, multilabel: bool = False, name: str = "d"):
    dims = {f"mod {i}.{chr(97 + i)}": WIDTHS[i] for i in range(m)}  # names with spaces and dots
    folder = generate_dataset(
        tmp_path / name, dims, n_train=80, n_test=30, num_classes=4, missing=missing, multilabel=multilabel
    )
    return folder, read_dataset(folder)


def _untrained(data) -> Model:
    from aecf import AECF

    torch.manual_seed(0)
    layer = AECF(dims=dict(data.spec.modalities), classes=data.spec.classes, multilabel=data.spec.multilabel)
    return Model(layer.fusion, encoders=None, name="untrained")


def _svg_ok(markup: str) -> ET.Element:
    return ET.fromstring(markup)  # well-formed: every name escaped


@pytest.mark.parametrize("m", range(2, 9))
def test_every_modality_count_from_2_to_8(tmp_path, m):
    _, data = _dataset(tmp_path, m)
    test = data.split("test")
    model = _untrained(data)
    off = {test.modalities[0]: False} if m > 2 else {}
    view = X.explore_example(model, test, 3, off, 5, "d", "r")
    k = m - len(off)
    assert view.prediction is not None and len(view.used) == k and view.truth == X.truth(test, 3)
    used = [text for text, _ in view.gate if ": p = " in text]
    assert len(used) == k and len(view.gate) == m
    assert sum(w for _, w in view.gate) == pytest.approx(1.0, abs=1e-3)
    if off:
        assert view.gate[0] == (f"{test.modalities[0]}: off, p = 0", 0.0)
    s = view.subsets
    assert [len(row) for row in s.by_size] == [math.comb(k, i) for i in range(1, k + 1)]
    assert s.steps == k * 2 ** (k - 1) - k and s.pairs == 3**k - 2 ** (k + 1) + 1
    assert s.chains == math.factorial(k) and 0 <= s.monotone_chains <= s.chains
    assert len(s.chain) == k and s.chain[-1].point.members == tuple(view.used)
    svg = _svg_ok(view.subsets_svg)
    assert svg.get("data-sizes") == str(k) and svg.get("data-subsets") == str(2**k - 1)
    assert _svg_ok(view.mc_svg) is not None and "<svg" not in view.monotonicity_html
    assert view.printed()[0] == view.headline.replace("**", "")


def _brute_force(conf: dict[frozenset, float], present, tol):
    """Every order of adding the modalities, and every pair A ⊊ B, counted the slow way."""
    monotone = sum(
        all(conf[frozenset(order[:i])] <= conf[frozenset(order[: i + 1])] + tol for i in range(1, len(order)))
        for order in itertools.permutations(present)
    )
    subsets = list(conf)
    bad_pairs = sum(conf[a] > conf[b] + tol for a in subsets for b in subsets if a < b)
    return monotone, bad_pairs


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_the_subset_counts_agree_with_brute_force(k):
    rng = np.random.default_rng(k)
    present = tuple(f"m{i}" for i in range(k))
    conf = {
        frozenset(s): float(rng.uniform(0.3, 1.0))
        for r in range(1, k + 1)
        for s in itertools.combinations(present, r)
    }
    subsets = {"+".join(m for m in present if m in s): {"confidence": c} for s, c in conf.items()}
    s = X.subset_summary(subsets, present, order=present[::-1])
    monotone, bad_pairs = _brute_force(conf, present, s.tol)
    assert s.monotone_chains == monotone and s.violated_pairs == bad_pairs
    assert s.violated_steps == sum(bad for _, bad, _ in s.by_modality)
    assert all(total == 2 ** (k - 1) - 1 for _, _, total in s.by_modality)
    if s.worst is not None:  # the chain drawn goes through the largest fall, which it marks
        drops = [conf[a] - conf[b] for a in conf for b in conf if a < b and len(b) == len(a) + 1]
        before, after = s.worst
        assert before.confidence - after.confidence == pytest.approx(max(drops))
        names = [step.point.name for step in s.chain]
        assert before.name in names and after.name in names and s.chain_kind == "worst"
        assert s.chain[names.index(after.name)].violated
    else:
        assert [step.added for step in s.chain] == list(present[::-1]) and s.chain_kind == "gate"


def test_a_chain_that_never_falls_is_the_gates_order():
    present = ("a", "b", "c")
    conf = {"a": 0.5, "b": 0.6, "c": 0.4, "a+b": 0.7, "a+c": 0.6, "b+c": 0.65, "a+b+c": 0.9}
    s = X.subset_summary({k: {"confidence": v} for k, v in conf.items()}, present, order=("c", "a", "b"))
    assert s.violated_steps == 0 and s.monotone_chains == 6 and s.worst is None
    assert [(step.added, step.point.name) for step in s.chain] == [("c", "c"), ("a", "a+c"), ("b", "a+b+c")]
    assert [p.name for p in s.by_size[0]] == ["b", "a", "c"]  # most confident first


def test_short_names_stay_short():
    present = ("fou", "fac", "kar", "pix", "zer", "mor")
    assert X.short_name(present, present) == "all 6"
    assert X.short_name(("fou", "fac", "kar", "pix", "zer"), present) == "all but mor"
    assert X.short_name(("fou", "kar"), present) == "fou+kar"
    long = tuple(f"a_rather_long_modality_name_{i}" for i in range(8))
    assert len(X.short_name(long[:3], long)) == X.SHORT_CHARS and X.short_name(long[:3], long).endswith("…")


def test_a_modality_missing_in_the_data_is_shown_missing_and_cannot_be_switched_on(tmp_path):
    _, data = _dataset(tmp_path, 6, missing=0.4)
    test = data.split("test")
    model = _untrained(data)
    row = next(
        i for i in range(len(test)) if not bool(test.present[i].all()) and int(test.present[i].sum()) > 1
    )
    gone = [m for j, m in enumerate(test.modalities) if not bool(test.present[row, j])]
    view = X.explore_example(model, test, row, dict.fromkeys(test.modalities, True), 5)
    assert [s.name for s in view.switches if not s.in_data] == gone
    assert set(view.used) == set(test.modalities) - set(gone) and set(view.prediction.present) == set(
        view.used
    )
    for m in gone:
        assert (f"{m}: missing, p = 0", 0.0) in view.gate
    assert all(
        m not in name.split("+")
        for m in gone
        for row_ in view.subsets.by_size
        for name in (p.name for p in row_)
    )
    everything_off = X.explore_example(model, test, row, dict.fromkeys(test.modalities, False), 5)
    assert everything_off.prediction is None and "switched off" in everything_off.warning
    assert everything_off.printed() == [everything_off.warning]
    # the views one switch away: only the modalities this example has can be flipped
    ahead = X.views_one_click_away(model, test, view, 5)
    available = len(test.modalities) - len(gone)
    assert len(ahead) == available + 1 and all(len(key) == available for key in ahead)


def test_multilabel_labels_above_one_half_and_the_truth(tmp_path):
    _, data = _dataset(tmp_path, 3, multilabel=True)
    test = data.split("test")
    model = _untrained(data)
    view = X.explore_example(model, test, 0, None, 5)
    truth = tuple(test.classes[c] for c in np.flatnonzero(test.label[0].numpy()))
    assert view.multilabel and view.truth == truth and len(truth) >= 1
    probs = view.prediction.probs
    above = tuple(test.classes[c] for c in np.argsort(-probs, kind="stable") if probs[c] > 0.5)
    assert view.above_half == above
    if above:
        assert (
            view.headline
            == "Labels above 0.5: **" + ", ".join(test.classes[c] for c in np.flatnonzero(probs > 0.5)) + "**"
        )
    else:
        assert view.headline.startswith("No label above 0.5: most probable")
    assert view.correct == (set(np.flatnonzero(probs > 0.5)) == set(np.flatnonzero(test.label[0].numpy())))
    shown = {text.split(":")[0].replace(" ✓ true", "") for text, _ in view.top}
    assert set(truth) <= shown and set(above) <= shown  # the truth and the labels given are always listed


def test_a_run_of_another_dataset_is_refused_with_a_message(tmp_path):
    _, three = _dataset(tmp_path, 3, name="three")
    _, four = _dataset(tmp_path, 4, name="four")
    view = X.explore_example(_untrained(three), four.split("test"), 0)
    assert view.prediction is None and "not this dataset's modalities" in view.warning


def test_odd_link_values_fall_back_quietly():
    mods = ("fou", "fac", "mor")
    runs = ["r2", "r1"]
    ok = X.state_from_query({"run": "r1", "i": "7", "off": "mor,fou", "k": "50"}, runs, 10, mods)
    assert ok == X.ViewState("r1", 7, ("fou", "mor"), 50)
    assert ok.to_query(mods) == {"run": "r1", "i": "7", "off": "fou,mor", "k": "50"}
    for params in (
        {"run": "../etc", "i": "-1", "off": "nope,,", "k": "7"},
        {"run": "", "i": "ten", "off": "", "k": "x"},
        {"i": "10"},  # one past the end
        {"i": "1e3", "k": ["20", "999"]},
    ):
        assert X.state_from_query(params, runs, 10, mods) == X.ViewState()
    assert X.state_from_query({"i": ["3", "4"]}, runs, 10, mods).index == 4  # the last of a repeated key
    assert X.off_query([], mods) is None and X.off_query(["mor", "fou"], mods) == "fou,mor"


def test_random_examples_are_seeded_by_the_one_on_screen():
    picks = [X.random_index(300, i) for i in range(300)]
    assert all(0 <= p < 300 and p != i for i, p in enumerate(picks))
    assert picks == [X.random_index(300, i) for i in range(300)]  # the same press lands on the same one
    assert len(set(picks)) > 150 and X.random_index(1, 0) == 0


def test_default_run_is_the_newest_aecf_run():
    def run(key, method):
        return X.RunChoice(key, ROOT, ROOT, method, key)

    assert X.default_run([run("lf2", "late_fusion"), run("a1", "aecf"), run("a0", "aecf")]) == "a1"
    assert X.default_run([run("lf2", "late_fusion")]) == "lf2" and X.default_run([]) == ""
    shipped = [X.RunChoice("shipped: aecf", ROOT, ROOT, "aecf", "shipped: aecf", shipped=True)]
    assert X.default_run(shipped) == "shipped: aecf"  # none of one's own: the shipped aecf
    assert X.default_run([run("lf2", "late_fusion"), *shipped]) == "lf2"  # one's own run first


def test_an_example_offers_its_shipped_runs_after_the_runs_trained_on_it(tmp_path):
    mfeat = D.resolve("example:mfeat")
    shipped = D.shipped_runs(mfeat).checkpoints
    found = X.run_choices(mfeat, tmp_path / "runs")
    assert (
        [c.key for c in found]
        == list(shipped)
        == ["shipped: aecf", "shipped: late_fusion", "shipped: moddrop"]
    )
    assert [c.method for c in found] == ["aecf", "late_fusion", "moddrop"] and all(c.shipped for c in found)
    assert [c.weights for c in found] == list(shipped.values()) and [c.label for c in found] == list(shipped)
    assert X.default_run(found) == "shipped: aecf"
    data = D.open_dataset(mfeat)
    run_dir = tmp_path / "runs" / "r1-late_fusion-s0"
    train(make_config("late_fusion", epochs=1), data.split("train"), data.split("val"), run_dir=run_dir)
    write_data(run_dir, mfeat.key, data.spec.name, mfeat.path)
    found = X.run_choices(mfeat, tmp_path / "runs")
    assert [c.key for c in found] == ["r1-late_fusion-s0", *shipped] and X.default_run(
        found
    ) == "r1-late_fusion-s0"
    assert (
        X.state_from_query({"run": "shipped: moddrop"}, [c.key for c in found], 300, ()).run
        == "shipped: moddrop"
    )


# ------------------------------------------------------------------------------------------ the snippet


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 6-modality dataset with modalities missing in the data (an AECF run and a gateless late-fusion run) and a
    multilabel one (an AECF run), each run short."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("snippet")
    out = {}
    for name, kw in {"six": {"m": 6, "missing": 0.3}, "tags": {"m": 3, "multilabel": True}}.items():
        folder, data = _dataset(root, name=name, **kw)
        for method in ("aecf", "late_fusion") if name == "six" else ("aecf",):
            run = root / "runs" / f"{method}-{name}"
            config = make_config(method, epochs=2, batch_size=64)
            train(config, data.split("train"), data.split("val"), run_dir=run)
            out[f"{method}-{name}"] = (folder, data, run)
    return out


@pytest.mark.parametrize("name", ["aecf-six", "late_fusion-six", "aecf-tags"])
def test_the_snippet_prints_in_a_fresh_python_what_the_view_shows(trained, name):
    folder, data, run = trained[name]
    test = data.split("test")
    model = load(run)
    assert model.encoders is None  # a checkpoint over one's own embeddings loads no digits towers
    row = next((i for i in range(len(test)) if not bool(test.present[i].all())), 5)
    on = {m: True for m in test.modalities}
    on[next(m for j, m in enumerate(test.modalities) if bool(test.present[row, j]))] = (
        False  # one switched off
    )
    view = X.explore_example(model, test, row, on, 10, data.spec.name, run.name)
    assert view.prediction is not None
    code = X.snippet(run / "model.safetensors", folder, view, 10)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == view.printed()
    if name.startswith("aecf"):  # the gate is in it
        assert any(line.startswith("  ") and ": p = " in line for line in view.printed())
    else:
        assert "has no gate" in view.printed()[1] and view.printed()[2:] == [
            "Gate entropy H(p): –",
            "λ(x): –",
        ]
    assert X.snippet_name(view) == f"explore_{name}_{row}.py"


def test_the_snippet_of_a_shipped_run_loads_its_checkpoint(tmp_path):
    mfeat = D.resolve("example:mfeat")
    run = next(c for c in X.run_choices(mfeat, tmp_path / "runs") if c.key == "shipped: aecf")
    test = D.open_dataset(mfeat).split("test")
    view = X.explore_example(load(run.weights), test, 7, {"mor": False}, 10, "mfeat", run.key)
    code = X.snippet(run.weights, mfeat.path, view, 10)
    assert repr(str(ROOT / "checkpoints" / "datasets" / "mfeat" / "aecf.safetensors")) in code
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == view.printed() and "  mor: off, p = 0" in view.printed()
    assert X.snippet_name(view) == "explore_shipped_aecf_7.py"


def test_one_modality_on_has_one_subset_and_nothing_to_compare(tmp_path):
    _, data = _dataset(tmp_path, 2)
    test = data.split("test")
    view = X.explore_example(_untrained(data), test, 0, {test.modalities[1]: False}, 5)
    assert view.used == (test.modalities[0],) and view.subsets.chains == view.subsets.monotone_chains == 1
    assert view.subsets.steps == 0 and "no smaller subset" in view.monotonicity_html
    assert "Gate entropy H(p): 0.000" in view.printed()  # one modality: exactly 0, never "-0.000"
    assert _svg_ok(view.subsets_svg).get("data-subsets") == "1"
