"""Metrics and the evaluation report: numbers on known cases, the JSON shape, figures with and without PNG."""

from __future__ import annotations

import json
import math
import shutil

import numpy as np
import pytest
import torch

from aecf import metrics as M
from aecf.checkpoint import load_checkpoint, save_checkpoint
from aecf.constants import subset_name
from aecf.data.cache import save_split
from aecf.data.synthetic import make_synthetic_split
from aecf.evaluate import aggregate_seeds, main
from aecf.train import make_config, train

torch.set_num_threads(1)


def test_accuracy_and_ece_on_known_cases():
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.3, 0.7]])
    labels = torch.tensor([0, 1, 0, 1])
    assert M.accuracy(probs, labels) == 0.75
    # bins: 0.9 (two, acc 0.5) -> |0.9-0.5|*2/4 ; 0.6 (acc 1) -> 0.4/4 ; 0.7 (acc 1) -> 0.3/4
    assert M.expected_calibration_error(probs, labels) == pytest.approx((0.8 + 0.4 + 0.3) / 4)
    bins = M.reliability_bins(probs, labels)
    assert sum(bins["count"]) == 4 and len(bins["count"]) == 15
    assert bins["accuracy"][13] == 0.5 and bins["confidence"][0] is None
    perfect = torch.eye(3)
    assert M.expected_calibration_error(perfect, torch.arange(3)) == 0.0


def test_temperature_fit_recovers_a_known_temperature():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(4000, 10, generator=g) * 3
    labels = torch.multinomial((logits / 2.5).softmax(-1), 1, generator=g).squeeze(1)
    assert M.fit_temperature(logits, labels) == pytest.approx(2.5, rel=0.1)


def test_subsets_pairs_monotonicity_and_spearman():
    subsets = M.nonempty_subsets(3)
    assert len(subsets) == 7 and len(M.subset_pairs(subsets)) == 12
    conf = torch.stack([torch.full((10,), 0.3 + 0.1 * len(s)) for s in subsets])
    assert M.monotonicity_violation_rate(conf, subsets) == 0.0
    conf[0, :5] = 0.95  # image alone beats its 3 supersets for half the examples
    assert M.monotonicity_violation_rate(conf, subsets) == pytest.approx(3 * 5 / (12 * 10))
    conf2 = conf.clone()
    conf2[0, :5] = 0.505  # within the 0.01 tolerance of image+caption / image+audio (0.5)
    assert M.monotonicity_violation_rate(conf2, subsets) == 0.0
    assert M.spearman([1, 2, 3, 4], [10, 20, 25, 100]) == pytest.approx(1.0)
    assert M.spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(M.spearman([1, 1, 1], [1, 2, 3]))


def test_aggregate_seeds_mean_std_and_nulls():
    a = {"full": {"acc": 0.8}, "gate_entropy": None, "drop": {"0.5": {"acc": 0.6}}}
    b = {"full": {"acc": 0.9}, "gate_entropy": None, "drop": {"0.5": {"acc": 0.7}}}
    agg = aggregate_seeds([a, b])
    assert agg["full"]["acc"] == pytest.approx(0.85) and agg["std"]["full"]["acc"] == pytest.approx(0.05)
    assert agg["gate_entropy"] is None and agg["n_seeds"] == 2


def _write_features(directory):
    for name, n, seed in (("train", 1200, 31), ("val", 400, 32), ("test", 500, 33)):
        s = make_synthetic_split(n, seed=seed)
        save_split(
            directory / f"{name}.npz",
            {m: s.x[:, i].numpy() for i, m in enumerate(s.modalities)},
            s.label.numpy(),
            {m: s.modality_severity[:, i].numpy() for i, m in enumerate(s.modalities)},
            s.class_embeddings.numpy(),
            s.logit_scale,
            caption_level=s.caption_level.numpy(),
        )


def model_cfg_dict(method):
    return make_config(method, epochs=1).to_dict()


def test_evaluate_cli_json_shape_markdown_and_figures(tmp_path, monkeypatch):
    from aecf.data.cache import load_split

    features, ckpts, out = tmp_path / "features", tmp_path / "ckpts", tmp_path / "out"
    features.mkdir()
    _write_features(features)
    tr, va = load_split("train", features), load_split("val", features)
    for method, seeds in (("aecf", (0, 1)), ("late_fusion", (0,))):
        for seed in seeds:
            model, _ = train(make_config(method, epochs=1, seed=seed), tr, va)
            save_checkpoint(
                model,
                ckpts / (method if seed == 0 else f"{method}.seed{seed}"),
                train_config=model_cfg_dict(method),
            )
    from aecf.specialists import train_specialists

    train_specialists(tr, va, epochs=1, out=ckpts / "specialists")

    # no browser for kaleido: PNG export degrades to HTML with a warning, it does not crash
    import plotly.io as pio

    tried = []

    def no_browser(*args, **kwargs):
        import os

        tried.append(os.environ.get("BROWSER_PATH"))
        raise RuntimeError("no Chrome found")

    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(pio, "write_images", no_browser)
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/chromium" if name == "chromium" else None)
    with pytest.warns(UserWarning, match="PNG export skipped"):
        rc = main(
            [
                "--checkpoints",
                str(ckpts),
                "--features",
                str(features),
                "--out",
                str(out),
                "--json",
                str(out / "r.json"),
                "--mask-seeds",
                "2",
                "--mc-samples",
                "4",
                "--bootstrap",
                "200",
            ]
        )
    assert rc == 0
    assert tried == [
        None,
        "/usr/bin/chromium",
    ]  # first kaleido's own lookup, then pointed at Debian's chromium
    res = json.loads((out / "r.json").read_text())
    assert set(res["methods"]) == {"aecf", "late_fusion", "specialists"}
    assert res["methods"]["specialists"]["reference"] is True
    assert len(res["methods"]["specialists"]["checkpoints"]) == 7
    names = {
        subset_name(s)
        for s in (
            ["image"],
            ["caption"],
            ["audio"],
            ["image", "caption"],
            ["image", "audio"],
            ["caption", "audio"],
            ["image", "caption", "audio"],
        )
    }
    for entry in res["methods"].values():
        assert set(entry["full"]) >= {"acc", "ece", "ece_ts"}
        assert set(entry["subsets"]) == names
        assert set(entry["drop"]) == {"0.0", "0.1", "0.3", "0.5", "0.7", "0.9"}
        for cell in [*entry["subsets"].values(), *entry["drop"].values()]:
            assert set(cell) >= {"acc", "map", "ece", "ece_ts"} and 0 <= cell["acc"] <= 1
            assert cell["acc"] <= cell["map"] + 0.5  # macro one-vs-rest AP, in [0, 1]
        for cell in entry["drop"].values():
            assert 0 <= cell["ece_ts_deploy"] <= 1  # temperature fit on val under that drop rate
        assert set(entry["temperature_deploy"]) == set(entry["drop"])
        mono = entry["monotonicity"]
        assert set(mono) == {"all", "consistent", "wrong_caption_lowers_confidence", "supported"}
        assert mono["all"] == pytest.approx(entry["monotonicity_violation_rate"])
        assert all(0 <= v <= 1 for v in mono.values())
        for key in (
            "monotonicity_violation_rate",
            "worst_subset_acc",
            "gate_entropy",
            "lambda_severity_spearman",
        ):
            assert key in entry
        assert (
            entry["worst_subset_acc"] == min(v["acc"] for v in entry["subsets"].values())
            or entry["n_seeds"] > 1
        )
    assert res["methods"]["aecf"]["n_seeds"] == 2 and "std" in res["methods"]["aecf"]
    _check_scores_robustness_and_intervals(res, reference="late_fusion", n_resamples=200)
    assert res["methods"]["late_fusion"]["gate_entropy"] is None
    assert res["methods"]["late_fusion"].get("mechanisms") is None
    mech = res["methods"]["aecf"]["mechanisms"]
    assert set(mech) >= {
        "lambda_iqr_fraction",
        "lambda_severity_spearman",
        "gate_reliability_spearman",
        "caption_gate_by_level",
        "acm_adaptive_share",
    }
    assert set(mech["gate_reliability_spearman"]) == {"image", "audio"}
    assert set(mech["caption_gate_by_level"]) == {"exact", "partial", "none", "wrong"}
    assert 0 <= mech["lambda_iqr_fraction"] <= 1 and 0 <= mech["acm_adaptive_share"] <= 1
    assert res["methods"]["late_fusion"]["lambda_severity_spearman"] is None
    assert isinstance(res["methods"]["aecf"]["lambda_severity_spearman"], float)
    assert np.isfinite(res["methods"]["aecf"]["gate_entropy"])
    md = (out / "results.md").read_text()
    assert "| aecf | 2 |" in md and "late_fusion" in md
    assert (out / "accuracy_vs_drop.html").exists() and not list(out.glob("*.png"))


def test_monotonicity_report_separates_wrong_captions():
    from aecf.evaluate import monotonicity_report

    subsets = M.nonempty_subsets(3)
    n = 4
    conf = torch.stack([torch.full((n,), 0.3 + 0.1 * len(s)) for s in subsets])  # monotone everywhere
    valid = torch.ones(len(subsets), n, dtype=torch.bool)
    level = torch.tensor([0, 1, 3, 3])  # examples 2 and 3 have a wrong caption
    full, without = subsets.index((0, 1, 2)), subsets.index((0, 2))
    conf[full, 2] = 0.4  # adding the wrong caption to image+audio (0.5) lowers confidence: 3 pairs violate
    rep = monotonicity_report(conf, subsets, valid, ("image", "caption", "audio"), level)
    assert rep["consistent"] == 0.0
    assert rep["all"] == pytest.approx(3 / (12 * n))
    assert rep["wrong_caption_lowers_confidence"] == 0.5  # one of the two wrong-caption examples
    conf[full, 3] = conf[without, 3] - 0.005  # within the tolerance: not a drop
    assert (
        monotonicity_report(conf, subsets, valid, ("image", "caption", "audio"), level)[
            "wrong_caption_lowers_confidence"
        ]
        == 0.5
    )
    none = monotonicity_report(conf, subsets, valid, ("image", "caption", "audio"), None)
    assert none["consistent"] is None and none["wrong_caption_lowers_confidence"] is None


def test_specialists_route_each_example_to_its_subset():
    from aecf.specialists import train_specialists

    tr, va = make_synthetic_split(600, seed=41), make_synthetic_split(200, seed=42)
    ens = train_specialists(tr, va, epochs=1)
    assert len(ens.members) == 7 and ens.gate is None
    x = va.x[:6]
    present = torch.tensor([[1, 0, 0], [0, 1, 1], [1, 1, 1]] * 2, dtype=torch.bool)
    logits = ens(x, present)["logits"]
    for i in range(6):
        key = tuple(int(j) for j in torch.nonzero(present[i]).flatten())
        member = ens.members[ens.keys.index(key)]
        torch.testing.assert_close(logits[i], member(x[i : i + 1, list(key)])["logits"][0])
    # an absent modality's embedding never reaches the chosen specialist
    x2 = x.clone()
    x2[~present] = 1e3
    torch.testing.assert_close(ens(x2, present)["logits"], logits)


def test_acm_drop_ratios_follow_the_runs_own_rule(tmp_path):
    from aecf.evaluate import acm_drop_ratios, checkpoint_acm_drop_ratios

    tr, va = make_synthetic_split(800, seed=51), make_synthetic_split(300, seed=52)
    for method in ("aecf", "aecf_no_acm", "late_fusion", "gate"):
        model, _ = train(make_config(method, epochs=2), tr, va)
        save_checkpoint(model, tmp_path / method, train_config=make_config(method).to_dict())
    aecf = checkpoint_acm_drop_ratios(tmp_path / "aecf", va)
    assert aecf.shape == (300,) and float(aecf.min()) >= 1.0 and float(aecf.max()) > 1.0
    # the same gate under the entropy blend of older runs is far less uneven
    model = load_checkpoint(tmp_path / "aecf")
    legacy = acm_drop_ratios(model, va.x, {"masking": "acm", "pi_max": 0.5, "acm_sharpness": "entropy"})
    assert float(legacy.median()) < float(aecf.median())
    assert torch.equal(checkpoint_acm_drop_ratios(tmp_path / "aecf_no_acm", va), torch.ones(300))  # uniform
    assert checkpoint_acm_drop_ratios(tmp_path / "late_fusion", va) is None  # no gate
    assert checkpoint_acm_drop_ratios(tmp_path / "gate", va) is None  # no masking


def _check_scores_robustness_and_intervals(res: dict, reference: str | None, n_resamples: int) -> None:
    """The keys beside accuracy and the 15-bin ECE, present and sane in every row of every method."""
    for name, entry in res["methods"].items():
        rows = [entry["full"], *entry["drop"].values()]
        rows += [v for v in entry["subsets"].values() if v.get("acc") is not None]
        for cell in rows:
            assert cell["nll"] >= 0 and 0 <= cell["brier"] <= 2 and 0 <= cell["ece_equal_mass"] <= 1, name
        rob = entry["robustness"]
        assert rob["area"] > 0, name
        if len(res["methods"]) > 1:
            assert 0 <= rob["relative"] <= 1, name
        else:
            assert rob["relative"] is None and "one method" in res["meta"]["robustness"]["note"]
        ci = entry["ci"]
        for path in (("full",), ("drop", "0.5")):
            point, interval = entry, ci
            for key in path:
                point, interval = point[key], interval[key]
            for metric in ("acc", "map"):
                lo, hi = interval[metric]
                assert lo <= point[metric] <= hi, (name, path, metric, lo, point[metric], hi)
            # the binned ECE is biased upward, its resamples more so: the interval may sit above the
            # value on the whole split, never below it
            lo, hi = interval["ece"]
            assert 0 <= lo <= hi and hi >= point["ece"], (name, path, lo, point["ece"], hi)
    meta = res["meta"]
    assert meta["bootstrap"]["n_resamples"] == n_resamples and meta["bootstrap"]["level"] == 0.95
    assert meta["robustness"]["reference"] == reference
    assert meta["robustness"]["rates"] == [0.0, 0.1, 0.3, 0.5, 0.7, 0.9]
    ranked = sorted(res["methods"], key=lambda k: res["methods"][k]["robustness"]["area"])
    if len(ranked) > 1:
        assert res["methods"][ranked[0]]["robustness"]["relative"] == 0.0
        assert res["methods"][ranked[-1]]["robustness"]["relative"] == 1.0
    if reference is None:
        assert "late-fusion" in meta["robustness"]["note"]
        assert all(e["robustness"]["effective"] is None for e in res["methods"].values())
    else:
        assert res["methods"][reference]["robustness"]["effective"] == 0.0  # late fusion against itself


def test_robustness_against_late_fusion_is_its_drop_relative_to_late_fusions():
    from aecf.evaluate import drop_curve_robustness

    def entry(curve):
        return {"drop": {str(r): {"acc": a} for r, a in zip((0.0, 0.5, 0.9), curve, strict=True)}}

    methods = {
        "late_fusion": entry([0.9, 0.6, 0.4]),
        "steady": entry([0.8, 0.7, 0.6]),
        "x": entry([0.9, 0.5, 0.3]),
    }
    meta = drop_curve_robustness(methods, multilabel=False, reference="late_fusion")
    assert meta["reference"] == "late_fusion" and meta["rates"] == [0.0, 0.5, 0.9]
    assert methods["late_fusion"]["robustness"]["effective"] == 0.0
    # steady loses 0.1 and 0.2 where late fusion loses 0.3 and 0.5: (0.3 - 0.1) + (0.5 - 0.2)
    assert methods["steady"]["robustness"]["effective"] == pytest.approx(0.5)
    assert methods["x"]["robustness"]["effective"] == pytest.approx(-0.2)
    assert methods["steady"]["robustness"]["effective_normalised"] == 1.0
    assert methods["x"]["robustness"]["effective_normalised"] == 0.0
    assert methods["late_fusion"]["robustness"]["area"] == pytest.approx(0.5 * 0.75 + 0.4 * 0.5)
    without = {k: v for k, v in methods.items() if k != "late_fusion"}
    meta = drop_curve_robustness(without, multilabel=False, reference=None)
    assert meta["reference"] is None and "no late-fusion checkpoint" in meta["note"]
    assert without["steady"]["robustness"]["effective"] is None
    assert without["steady"]["robustness"]["relative"] == 1.0


@pytest.mark.parametrize("multilabel", [False, True])
def test_the_weighted_headline_equals_the_metrics_on_the_resampled_rows(multilabel):
    from aecf.evaluate import WeightedHeadline

    g = np.random.default_rng(3)
    n, c = 400, 6
    logits = torch.from_numpy(g.normal(size=(n, c)) * 3)
    if multilabel:
        labels = torch.from_numpy((g.random((n, c)) < 0.3).astype(np.int64))
        labels[:, -1] = 0  # a class without a positive is left out of the mAP
        probs = logits.sigmoid()
    else:
        labels = torch.from_numpy(g.integers(0, c, n))
        probs = logits.softmax(-1)
    probs = (probs * 20).round() / 20  # many ties, within and across classes
    weighted = WeightedHeadline(probs.float(), labels)
    for _ in range(5):
        idx = g.integers(0, n, n)
        w = np.bincount(idx, minlength=n).astype(np.float64)
        p, y = probs[idx].float(), labels[idx]
        targets = y if multilabel else M.one_hot(y, c)
        assert weighted.acc(w) == pytest.approx(M.accuracy(p, y), abs=1e-6)
        assert weighted.ece(w) == pytest.approx(M.expected_calibration_error(p, y), abs=1e-9)
        assert weighted.map(w) == pytest.approx(M.mean_average_precision(p, targets), abs=1e-12)


def test_intervals_are_seeded_and_narrow_with_more_examples():
    from aecf.evaluate import headline_intervals

    def predictions(n, seed):
        g = torch.Generator().manual_seed(seed)
        labels = torch.randint(0, 4, (n,), generator=g)
        logits = torch.randn(n, 4, generator=g) + 2.5 * M.one_hot(labels, 4)
        return {"full": [logits.softmax(-1)]}, labels

    small = predictions(300, 0)
    a = headline_intervals([small[0]], small[1], n_resamples=300)
    assert a == headline_intervals([small[0]], small[1], n_resamples=300)  # seeded
    assert a != headline_intervals([small[0]], small[1], n_resamples=300, seed=1)
    large = predictions(3000, 0)
    b = headline_intervals([large[0]], large[1], n_resamples=300)
    for metric in ("acc", "map"):
        width = {k: v["full"][metric][1] - v["full"][metric][0] for k, v in (("small", a), ("large", b))}
        assert 0 < width["large"] < width["small"], metric
    assert headline_intervals([small[0]], small[1], n_resamples=0) is None


def test_evaluate_data_says_when_no_late_fusion_was_evaluated(tmp_path):
    from aecf.__main__ import main as cli
    from aecf.data.dataset import read_dataset
    from aecf.data.generated import generate_dataset
    from aecf.evaluate import collect_checkpoints, evaluate_stems

    data = generate_dataset(
        tmp_path / "data", {"a": 12, "b": 6}, n_train=300, n_test=120, num_classes=3, missing=0.2
    )
    for method, stem in (("aecf", "mine"), ("late_fusion", "baseline")):
        argv = ["train", "--data", str(data), "--method", method, "--epochs", "1", "--no-run-dir"]
        assert cli([*argv, "--out", str(tmp_path / stem)]) == 0
    ds = read_dataset(data)
    settings = dict(mask_seeds=1, mc_samples=2, bootstrap=100)
    alone = evaluate_stems(
        collect_checkpoints([tmp_path / "mine"]), ds.split("test"), ds.split("val"), **settings
    )
    _check_scores_robustness_and_intervals(alone, reference=None, n_resamples=100)
    both = evaluate_stems(
        collect_checkpoints([tmp_path / "mine", tmp_path / "baseline"]),
        ds.split("test"),
        ds.split("val"),
        **settings,
    )
    _check_scores_robustness_and_intervals(both, reference="baseline", n_resamples=100)  # found by its method
    with pytest.raises(TypeError, match="unknown evaluation settings"):
        evaluate_stems(collect_checkpoints([tmp_path / "mine"]), ds.split("test"), None, mask_seed=1)


def test_the_shipped_results_carry_the_scores_robustness_and_intervals():
    from aecf.paths import RESULTS_JSON

    shipped = json.loads(RESULTS_JSON.read_text())
    _check_scores_robustness_and_intervals(shipped, reference="late_fusion", n_resamples=1000)
    for entry in shipped["methods"].values():  # the intervals are of the mean over seeds, no std
        assert "ci" not in entry.get("std", {}) and "robustness" not in entry.get("std", {})


def test_subsets_by_size_names_the_worst_and_the_best_of_each_size():
    from aecf.evaluate import subsets_by_size

    subsets = [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    names = ["a", "b", "c", "a+b", "a+c", "b+c", "a+b+c"]
    accs = [0.5, 0.7, 0.6, 0.8, None, 0.9, 0.95]  # a subset with no row scored (None) is left out
    sizes = subsets_by_size({n: {"acc": v} for n, v in zip(names, accs, strict=True)}, subsets)
    assert sizes["1"] == {
        "count": 3,
        "acc": pytest.approx(0.6),
        "worst": "a",
        "worst_acc": 0.5,
        "best": "b",
        "best_acc": 0.7,
    }
    assert (sizes["2"]["count"], sizes["2"]["worst"], sizes["2"]["best"]) == (2, "a+b", "b+c")
    assert sizes["3"]["worst"] == sizes["3"]["best"] == "a+b+c"


def test_a_datasets_own_caption_has_its_gate_reliability(tmp_path):
    """Only the digits' caption (caption levels, no severity) is left out of ρ(p_m, 1 − severity_m): a modality
    of one's own that happens to be called "caption" is measured like the others."""
    from aecf.data.dataset import read_dataset
    from aecf.data.generated import generate_dataset
    from aecf.evaluate import mechanisms

    torch.manual_seed(0)
    data = read_dataset(
        generate_dataset(tmp_path / "d", {"camera": 8, "caption": 6}, n_train=300, n_test=100, num_classes=3)
    )
    model, _ = train(make_config("aecf", epochs=1), data.split("train"), data.split("val"))
    found = mechanisms(model, data.split("test"), make_config("aecf").to_dict(), mc_samples=2)
    assert set(found["gate_reliability_spearman"]) == {"camera", "caption"}
    assert found["caption_gate_by_level"] is None
    digits = make_synthetic_split(200, seed=3)  # its caption has levels: left out, as before
    model, _ = train(make_config("aecf", epochs=1), make_synthetic_split(300, seed=4), digits)
    assert set(mechanisms(model, digits, mc_samples=2)["gate_reliability_spearman"]) == {"image", "audio"}
