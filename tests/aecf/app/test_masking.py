"""The Curriculum page's numbers for any modalities: the simulator over 2 to 8, a run's schedule read from its
metrics, ACM's ratios on a dataset's test split; the digits' simulator as it was."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aecf.app import datasets as D
from aecf.app import masking as A
from aecf.constants import MODALITIES
from tests.support.dataset_runs import train_runs


@pytest.mark.parametrize("M", [2, 5, 8])
def test_the_simulator_takes_any_modalities(M):
    names = tuple(f"m{i}" for i in range(M))
    gate = A.gate_with_entropy(0.5, names[1], names, names)
    assert abs(A.entropy(gate) - 0.5) < 1e-6 and gate.argmax() == 1 and gate.shape == (M,)
    rule = A.AcmRule("power", 1.0, 0.5, 0.3)
    acm = A.simulate_masks(gate, names, 0.5, "acm", n=3000, rule=rule, modalities=names)
    flat = A.simulate_masks(gate, names, 0.5, "uniform", n=3000, rule=rule, modalities=names)
    assert list(acm.drop_probs) == list(names)
    assert acm.drop_freq[names[1]] == max(acm.drop_freq.values())  # the favourite is hidden most
    assert max(flat.drop_freq.values()) - min(flat.drop_freq.values()) < 0.06  # ModDrop is flat
    assert len(acm.kept) == 2**M - 1 and abs(sum(acm.kept.values()) - 1) < 1e-9
    assert list(acm.kept_by_size) == list(range(M, 0, -1)) and abs(sum(acm.kept_by_size.values()) - 1) < 1e-9
    shown = A.kept_view(acm, M)
    if M <= A.KEPT_PATTERNS_UP_TO:
        assert shown == acm.kept and "+".join(names) in shown
    else:
        assert list(shown) == [f"all {M}", *(str(k) for k in range(M - 1, 0, -1))]
        assert shown["1"] == acm.kept_by_size[1]
    some = names[:2]
    part = A.simulate_masks(
        A.normalise_gate({}, some, names), some, 0.5, "acm", n=500, rule=rule, modalities=names
    )
    assert set(part.drop_probs) == set(some) and set(part.kept) == {some[0], some[1], "+".join(some)}
    assert A.all_subset_names(("m1", "m0"), names)[0] == "m0+m1"  # the dataset's order, whatever was asked


def test_the_digits_simulator_is_unchanged_by_the_modalities_argument():
    gate = A.gate_with_entropy(0.4, "image", MODALITIES)
    a = A.simulate_masks(gate, MODALITIES, 0.5, "acm", n=1000)
    b = A.simulate_masks(gate, MODALITIES, 0.5, "acm", n=1000, modalities=MODALITIES)
    assert a == b and list(a.kept)[0] == "image+caption+audio"
    assert A.normalise_gate({"image": 1, "audio": 1}, ("image",)).tolist() == [1.0, 0.0, 0.0]
    assert A.kept_view(a, 3) == a.kept


@pytest.fixture(scope="module")
def mfeat_runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    mfeat = D.resolve("example:mfeat")
    aecf, late = train_runs(mfeat, root, ("aecf", "late_fusion"), epochs=3, evaluate=False)
    return {"aecf": aecf, "late_fusion": late, "modalities": list(mfeat.spec.names), "choice": mfeat}


def test_a_runs_schedule_has_every_modality_of_its_dataset(mfeat_runs):
    names = mfeat_runs["modalities"]
    s = A.run_schedule(mfeat_runs["aecf"], names)
    assert s.has_masks and s.masking == "acm" and s.rule.sharpness == "power"
    assert list(s.mask_series) == [*names, "overall", "π(t), curriculum"]
    xs, ys = s.mask_series[names[0]]
    assert len(xs) == len(ys) > 0 and all(0 <= y <= 1 for y in ys) and xs == sorted(xs)
    assert {"train gate entropy H(p)", "train λ(x)"} <= set(s.entropy_series)
    t, acm, flat = s.schedule
    assert acm[0] < acm[-1] == pytest.approx(s.rule.pi_max) and flat == pytest.approx(
        [s.rule.pi_max] * len(t)
    )
    assert max(s.uneven["uneven"][1]) > 0  # ACM's per-modality rates differ
    late = A.run_schedule(mfeat_runs["late_fusion"], names)
    assert not late.has_masks and not late.mask_series.get(names[0])


def test_acms_ratios_on_a_datasets_test_split(mfeat_runs):
    test = D.open_dataset(mfeat_runs["choice"]).split("test")
    d = A.drop_ratios(mfeat_runs["aecf"] / "model.safetensors", data=test)
    assert len(d.ratios) == len(test) and np.all(d.ratios >= 1) and 0 <= d.share_2x <= 1
    assert math.isfinite(d.median) and d.rule.pi_max > 0
    assert A.drop_ratios(mfeat_runs["late_fusion"] / "model.safetensors", data=test) is None  # no gate


def test_a_shipped_runs_schedule_reads_its_metrics_file_and_its_checkpoints_config():
    mfeat = D.resolve("example:mfeat")
    names = list(mfeat.spec.names)
    metrics = D.shipped_runs(mfeat).metrics
    s = A.run_schedule(metrics["shipped: aecf"], names)
    config = A.train_config_for(metrics["shipped: aecf"])
    assert config["masking"] == "acm" and s.masking == "acm" and s.has_masks
    assert s.rule == A.acm_rule(config) and s.rule.pi_max == config["pi_max"]
    assert list(s.mask_series) == [*names, "overall", "π(t), curriculum"]
    epochs = [r for r in A.read_metrics_file(metrics["shipped: aecf"]) if r.get("kind") == "epoch"]
    assert max(s.mask_series["overall"][0]) == pytest.approx(len(epochs), abs=1)  # x: the epochs it trained
    moddrop = A.run_schedule(metrics["shipped: moddrop"], names)
    assert moddrop.masking == "uniform" and moddrop.has_masks
    assert not A.run_schedule(metrics["shipped: late_fusion"], names).has_masks
