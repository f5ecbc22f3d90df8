"""The fusion layer's contracts: absent modalities are invisible, the gate lives on the simplex of present
modalities, λ(x) is bounded and rises with corruption, diagnose() reports every subset."""

from __future__ import annotations

import pytest
import torch

from aecf.data.synthetic import make_synthetic_split
from aecf.fusion import (
    FUSIONS,
    FusionConfig,
    FusionModel,
    adaptive_lambda,
    diagnose,
    lambda_from_uncertainty,
    masked_softmax,
)
from aecf.train import make_config, train

torch.set_num_threads(1)


def _model(fusion: str, seed: int = 0) -> FusionModel:
    torch.manual_seed(seed)
    return FusionModel(FusionConfig(fusion=fusion, hidden_dim=32, gate_hidden=16)).eval()


@pytest.mark.parametrize("fusion", ["gate", "mean"])
def test_absent_modality_gets_zero_weight_and_cannot_change_the_output(fusion):
    model = _model(fusion)
    x = torch.randn(16, 3, 64)
    present = torch.tensor(
        [[True, False, True], [False, True, False], [True, True, False], [False, False, True]]
    ).repeat(4, 1)
    out = model(x, present)
    if fusion == "gate":
        gate = out["gate"]
        assert torch.all(gate[~present] == 0)
        torch.testing.assert_close(gate.sum(1), torch.ones(16))
    x2 = x.clone()
    x2[~present] = torch.randn(int((~present).sum()), 64) * 1e3
    x3 = x.clone()
    x3[~present] = float("nan")
    for other in (x2, x3):
        out2 = model(other, present)
        assert torch.equal(out["logits"], out2["logits"])
        if fusion == "gate":
            assert torch.equal(out["gate"], out2["gate"])


def test_concat_fusion_ignores_absent_embeddings_too():
    """Late fusion zero-fills: the value of an absent embedding never reaches the MLP."""
    model = _model("concat")
    x = torch.randn(8, 3, 64)
    present = torch.tensor([[True, False, True]]).repeat(8, 1)
    x2 = x.clone()
    x2[:, 1] = 123.0
    assert torch.equal(model(x, present)["logits"], model(x2, present)["logits"])
    assert model(x, present)["gate"] is None


def test_masked_softmax_is_exactly_zero_for_absent():
    logits = torch.tensor([[5.0, 100.0, -3.0]])
    p = masked_softmax(logits, torch.tensor([[True, False, True]]))
    assert p[0, 1].item() == 0.0
    assert abs(p.sum().item() - 1) < 1e-6


def test_every_example_needs_a_present_modality():
    model = _model("gate")
    with pytest.raises(ValueError, match="at least one"):
        model(torch.randn(2, 3, 64), torch.tensor([[True, True, True], [False, False, False]]))


def test_config_round_trip():
    cfg = FusionConfig(method="moddrop", fusion="concat", hidden_dim=7, temperature=1.7)
    assert FusionConfig.from_dict(cfg.to_dict()) == cfg
    assert set(FUSIONS) == {"gate", "mean", "concat"}
    with pytest.raises(ValueError):
        FusionConfig.from_dict({**cfg.to_dict(), "bogus": 1})


def test_lambda_map_is_bounded_and_monotone():
    u = torch.cat([torch.zeros(1), torch.rand(1000) * 10, torch.tensor([1e9])])
    lam = lambda_from_uncertainty(u, 0.7, 0.01, 0.2)
    assert float(lam.min()) >= 0.01 - 1e-6 and float(lam.max()) <= 0.2 + 1e-6
    order = torch.argsort(u)
    assert torch.all(lam[order][1:] >= lam[order][:-1])
    assert lambda_from_uncertainty(torch.tensor([0.7]), 0.7, 0.0, 0.2).item() == pytest.approx(0.1)


@pytest.fixture(scope="module")
def trained_aecf():
    tr = make_synthetic_split(4000, seed=11)
    va = make_synthetic_split(600, seed=12)
    cfg = make_config(
        "aecf", epochs=6, batch_size=256, model={"hidden_dim": 64, "lambda_min": 0.01, "lambda_max": 0.2}
    )
    model, _ = train(cfg, tr, va)
    return model


def test_lambda_in_range_and_higher_for_noised_inputs(trained_aecf):
    model = trained_aecf
    clean = make_synthetic_split(800, seed=13)
    x = clean.x
    torch.manual_seed(0)
    noisy = torch.nn.functional.normalize(x + 0.2 * torch.randn_like(x), dim=-1)  # moderate corruption
    present = torch.ones(x.shape[:2], dtype=torch.bool)
    torch.manual_seed(0)
    lam_clean = adaptive_lambda(model, x, present, 20)["lam"]
    lam_noisy = adaptive_lambda(model, noisy, present, 20)["lam"]
    for lam in (lam_clean, lam_noisy):
        assert float(lam.min()) >= 0.01 - 1e-6 and float(lam.max()) <= 0.2 + 1e-6
    assert lam_noisy.mean() > lam_clean.mean() + 0.01
    # and within the clean data, λ rises with the recorded severity
    low, high = clean.severity < clean.severity.median(), clean.severity >= clean.severity.median()
    assert lam_clean[high].mean() > lam_clean[low].mean()


def test_diagnose_reports_gate_lambda_and_every_subset(trained_aecf):
    model = trained_aecf
    x = make_synthetic_split(1, seed=14).x[0]
    d = diagnose(model, x, mc_samples=20)
    assert d.mc_probs.shape == (20, 10)
    assert d.gate is not None and abs(float(d.gate.sum()) - 1) < 1e-5
    assert 0.01 - 1e-6 <= d.lam <= 0.2 + 1e-6
    assert set(d.subsets) == {
        "image",
        "caption",
        "audio",
        "image+caption",
        "image+audio",
        "caption+audio",
        "image+caption+audio",
    }
    assert set(d.experts) == {"image", "caption", "audio"}
    torch.testing.assert_close(d.subsets["image+caption+audio"], d.probs)
    d2 = diagnose(model, x, present=torch.tensor([True, False, True]))
    assert d2.gate[1] == 0 and set(d2.subsets) == {"image", "audio", "image+audio"}


def test_quantile_lambda_map_spreads_a_heavy_tailed_uncertainty():
    from aecf.fusion import cdf_from_knots, lambda_from_quantile, rank_fraction, uncertainty_knots

    torch.manual_seed(0)
    u = torch.distributions.LogNormal(-6.0, 3.0).sample((20_000,))  # most mass near 0, a long tail
    train, held_out = u[:10_000], u[10_000:]
    knots = uncertainty_knots(train)
    assert len(knots) == 101 and all(b >= a for a, b in zip(knots, knots[1:], strict=False))
    lam = lambda_from_quantile(held_out, knots, 0.0, 0.1)
    q25, q75 = torch.quantile(lam, torch.tensor([0.25, 0.75]))
    assert float(q75 - q25) / 0.1 > 0.45  # the IQR covers about half the range
    ratio = lambda_from_uncertainty(held_out, train.mean(), 0.0, 0.1)  # the old map: all near λ_min
    r25, r75 = torch.quantile(ratio, torch.tensor([0.25, 0.75]))
    assert float(r75 - r25) / 0.1 < 0.1
    # bounded, monotone, clipped outside the knots
    order = torch.argsort(held_out)
    assert torch.all(lam[order][1:] >= lam[order][:-1])
    extreme = lambda_from_quantile(torch.tensor([0.0, 1e9]), knots, 0.02, 0.2)
    torch.testing.assert_close(extreme, torch.tensor([0.02, 0.2]))
    torch.testing.assert_close(cdf_from_knots(torch.tensor(knots[50]), knots), torch.tensor(0.5))
    # without knots (training), λ is the rank within the batch: uniform over the range
    r = rank_fraction(torch.tensor([3.0, 1.0, 2.0, 2.0]))
    torch.testing.assert_close(r, torch.tensor([0.875, 0.125, 0.5, 0.5]))


def test_old_configs_keep_their_lambda_map():
    d = FusionConfig().to_dict()
    assert d["lambda_map"] == "quantile"
    del d["lambda_map"], d["lambda_knots"]  # a checkpoint written before the quantile map
    assert FusionConfig.from_dict(d).lambda_map == "ratio"
    cfg = FusionConfig(lambda_knots=(0.0, 0.5, 1.0))
    assert FusionConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="lambda_map"):
        FusionModel(FusionConfig(lambda_map="bogus"))


def test_trained_model_stores_knots_and_lambda_spreads(trained_aecf):
    model = trained_aecf
    assert model.config.lambda_map == "quantile" and len(model.config.lambda_knots) == 101
    held_out = make_synthetic_split(2000, seed=15)
    torch.manual_seed(0)
    lam = adaptive_lambda(model, held_out.x, torch.ones(2000, 3, dtype=torch.bool), 20)["lam"]
    q25, q75 = torch.quantile(lam, torch.tensor([0.25, 0.75]))
    assert float(q75 - q25) / (0.2 - 0.01) >= 0.3


# ------------------------------------------------------------------- any modalities, any widths


WIDTHS = (5, 12, 3, 20, 7, 9, 16, 4)


@pytest.mark.parametrize("M", range(2, 9))
def test_the_layer_fuses_two_to_eight_modalities_of_mixed_widths(M):
    from aecf import AECF

    dims = {f"m{i}": WIDTHS[i] for i in range(M)}
    torch.manual_seed(M)
    model = AECF(dims=dims, num_classes=4, hidden_dim=16, gate_hidden=8).eval()
    assert model.config.widths == tuple(dims.values()) and model.config.embed_dim == max(dims.values())
    B = 12
    inputs = {m: torch.randn(B, d) for m, d in dims.items()}
    present = torch.rand(B, M) < 0.6
    present[torch.arange(B), torch.arange(B) % M] = True
    out = model(inputs, present, return_lambda=True)
    assert out["logits"].shape == (B, 4) and out["gate"].shape == (B, M) and out["lam"].shape == (B,)
    assert torch.all(out["gate"][~present] == 0)
    torch.testing.assert_close(out["gate"].sum(1), torch.ones(B))
    # what an absent modality holds never reaches the output
    other = {m: t.clone() for m, t in inputs.items()}
    for i, m in enumerate(dims):
        other[m][~present[:, i]] = float("nan")
    assert torch.equal(model(other, present)["logits"], out["logits"])
    # a modality left out of the dict is absent
    first = next(iter(dims))
    rest = {m: t for m, t in inputs.items() if m != first}
    mask = present.clone()
    mask[:, 0] = False
    keep = mask.any(1)
    torch.testing.assert_close(
        model({m: t[keep] for m, t in rest.items()}, mask[keep])["logits"],
        model({m: t[keep] for m, t in inputs.items()}, mask[keep])["logits"],
    )
    sub = model.subsets(inputs, present)
    assert sub["logits"].shape == (2**M - 1, B, 4) and sub["valid"].shape == (2**M - 1, B)
    with pytest.raises(ValueError, match="expected"):
        model({first: torch.randn(B, WIDTHS[0] + 1)})


def test_the_layer_takes_multilabel_and_standardised_inputs():
    from aecf import AECF
    from aecf.checkpoint import load_checkpoint, save_checkpoint

    dims = {"a": 6, "b": 3}
    model = AECF(dims=dims, num_classes=5, multilabel=True, standardize=True).eval()
    mean = {"a": torch.full((6,), 100.0), "b": torch.full((3,), -4.0)}
    std = {"a": torch.full((6,), 10.0), "b": torch.full((3,), 0.5)}
    model.set_standardization(mean, std)
    x = {"a": 100 + 10 * torch.randn(4, 6), "b": -4 + 0.5 * torch.randn(4, 3)}
    probs = model.probs(model(x)["logits"])
    assert probs.shape == (4, 5) and not torch.allclose(probs.sum(1), torch.ones(4))  # sigmoid per label
    # the statistics are applied inside the layer and travel with the weights
    fusion = model.fusion
    z = fusion.prepare(*model.pack(x))
    ref = torch.nn.functional.normalize((x["a"] - 100) / 10, dim=-1) * fusion.config.input_scale
    torch.testing.assert_close(z[:, 0], ref)
    assert torch.all(z[:, 1, 3:] == 0)  # padding past the narrower modality
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        save_checkpoint(fusion, f"{d}/m")
        again = load_checkpoint(f"{d}/m")
    assert torch.equal(again.input_mean, fusion.input_mean) and again.config.dims == (6, 3)
    torch.testing.assert_close(again(*model.pack(x))["logits"], model(x)["logits"])
