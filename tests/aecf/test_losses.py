"""The loss terms: gate entropy, the entropy term's direction, CEC on monotone and violating models,
the authors' recipe terms."""

from __future__ import annotations

import math

import torch

from aecf.fusion import FusionConfig, FusionModel
from aecf.losses import cec_loss, entropy_term, expert_consistency_loss, gate_entropy, scheduled_lambda
from aecf.metrics import nonempty_subsets, subset_masks

SUBSETS = nonempty_subsets(3)


def test_gate_entropy_limits_and_absent_zeros():
    assert gate_entropy(torch.tensor([[1 / 3] * 3])).item() == torch.tensor(math.log(3)).item()
    assert gate_entropy(torch.tensor([[1.0, 0.0, 0.0]])).item() == 0.0
    h = gate_entropy(torch.tensor([[0.5, 0.0, 0.5]]))
    assert abs(h.item() - math.log(2)) < 1e-6 and torch.isfinite(h).all()


def test_entropy_term_pushes_the_gate_towards_uniform():
    logits = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    loss = entropy_term(logits.softmax(-1), torch.tensor([0.1]))
    loss.backward()
    # gradient descent lowers the largest gate logit and raises the smallest
    assert logits.grad[0, 0] > 0 and logits.grad[0, 2] < 0


def test_cec_zero_when_confidence_grows_with_the_subset():
    conf = torch.stack([torch.full((5,), 0.3 + 0.2 * len(s)) for s in SUBSETS])
    assert cec_loss(conf, SUBSETS).item() == 0.0


def test_cec_positive_and_exact_when_a_subset_is_more_confident_than_its_superset():
    conf = torch.stack([torch.full((4,), 0.5) for _ in SUBSETS])
    conf[0] = 0.9  # image alone 0.9 > 0.5 for image+caption, image+audio and all three
    # 3 violating pairs of 12, each (0.4)^2
    assert abs(cec_loss(conf, SUBSETS).item() - 3 * 0.16 / 12) < 1e-6
    valid = torch.ones(len(SUBSETS), 4, dtype=torch.bool)
    valid[-1] = False  # the full set is unavailable: pairs ending in it do not count
    # 6 pairs end in the full set; of the other 6, two violate (image ⊂ image+caption, image ⊂ image+audio)
    assert abs(cec_loss(conf, SUBSETS, valid).item() - 2 * 0.16 / 6) < 1e-6


def _mean_fusion_model(expert_scales):
    """Mean fusion with hand-set weights: modality m's expert predicts class 0 with logit margin scale_m."""
    config = FusionConfig(
        fusion="mean",
        hidden_dim=4,
        classes=("a", "b"),
        normalize_inputs=False,
        input_scale=1.0,
        feature_dropout=0.0,
        head_hidden=0,
    )
    model = FusionModel(config)
    with torch.no_grad():
        model.proj_weight.zero_()
        model.proj_bias.zero_()
        for m, s in enumerate(expert_scales):
            model.proj_bias[m, 0] = s
        model.head.weight.zero_()
        model.head.bias.zero_()
        model.head.weight[0, 0] = 1.0
    return model.eval()


def _subset_confidence(model):
    x = torch.zeros(2, 3, 64)
    present = torch.ones(2, 3, dtype=torch.bool)
    out = model.forward_subsets(x, present, subset_masks(SUBSETS, 3))
    return out["logits"].softmax(-1).max(-1).values


def test_cec_on_models():
    monotone = _mean_fusion_model([2.0, 2.0, 2.0])  # identical experts: every subset equally confident
    assert cec_loss(_subset_confidence(monotone), SUBSETS).item() == 0.0
    violating = _mean_fusion_model([4.0, 0.5, 0.5])  # a confident image expert diluted by weak ones
    assert cec_loss(_subset_confidence(violating), SUBSETS).item() > 1e-3


def test_expert_consistency_loss():
    fused = torch.tensor([[0.7, 0.3]])
    experts = fused.unsqueeze(1).repeat(1, 3, 1)
    present = torch.ones(1, 3, dtype=torch.bool)
    assert expert_consistency_loss(experts, fused, present).item() == 0.0
    experts[0, 1] = torch.tensor([0.2, 0.8])
    assert expert_consistency_loss(experts, fused, present).item() > 0
    present[0, 1] = False  # an absent modality's expert does not count
    assert expert_consistency_loss(experts, fused, present).item() == 0.0


def test_authors_lambda_schedule():
    lams = [scheduled_lambda(e, 30, 0.05, free_epochs=1, warmup_epochs=5) for e in range(30)]
    assert lams[0] == 0.0
    assert max(lams) == 0.05 and lams[10] == 0.05
    assert lams[-1] < lams[28] < lams[27] == 0.05  # cosine decay over the last 10 %


def test_cec_plain_and_squared_hinge():
    conf = torch.stack([torch.full((4,), 0.3 + 0.1 * len(s)) for s in SUBSETS])
    assert cec_loss(conf, SUBSETS).item() == 0.0
    # equal confidences violate nothing
    flat = torch.full((len(SUBSETS), 4), 0.5)
    assert cec_loss(flat, SUBSETS).item() == 0.0
    assert cec_loss(flat, SUBSETS, squared=False).item() == 0.0
    # the plain hinge gives a small violation a much stronger pull than the squared one
    small = flat.clone()
    small[0] = 0.52  # image alone 0.02 above its supersets
    assert cec_loss(small, SUBSETS, squared=False).item() > 10 * cec_loss(small, SUBSETS).item()


def test_supported_pairs_leave_counter_evidence_alone():
    from aecf.losses import supported_pairs
    from aecf.metrics import subset_pairs

    # example 0: every subset gives the truth 0.5; example 1: the caption alone gives it 0.01 (a wrong caption)
    loglik = torch.log(torch.full((len(SUBSETS), 2), 0.5))
    loglik[SUBSETS.index((1,)), 1] = math.log(0.01)
    mask = supported_pairs(loglik, SUBSETS, math.log(0.1))
    pairs = subset_pairs(SUBSETS)
    assert mask[:, 0].all()
    for k, (a, b) in enumerate(pairs):
        added = set(SUBSETS[b]) - set(SUBSETS[a])
        assert bool(mask[k, 1]) == (added != {1}), (SUBSETS[a], SUBSETS[b])
    # a pair left out does not count: a caption that lowers confidence is not a CEC violation
    conf = torch.full((len(SUBSETS), 2), 0.6)
    for s in ((1,), (0, 1), (1, 2)):  # adding the wrong caption to the image or the audio lowers confidence
        conf[SUBSETS.index(s), 1] = 0.3
    assert cec_loss(conf, SUBSETS).item() > 0
    assert cec_loss(conf, SUBSETS, pair_mask=mask).item() == 0.0


def test_gate_responsibility_pulls_the_gate_to_the_expert_that_knows_the_truth():
    from aecf.losses import gate_responsibility_loss

    logits = torch.zeros(1, 3, requires_grad=True)
    present = torch.ones(1, 3, dtype=torch.bool)
    loglik = torch.log(torch.tensor([[0.9], [0.05], [0.3]]))  # [M, B]: image knows, caption is wrong
    loss = gate_responsibility_loss(logits.softmax(-1), loglik, present)
    loss.backward()
    assert logits.grad[0, 0] < 0 < logits.grad[0, 1]  # descent raises the image weight, lowers the caption's
    # its minimum is the responsibilities themselves: r ∝ p(y|z_m)^(1/τ) over present modalities
    r = torch.tensor([[0.9, 0.05, 0.3]]) / 1.25
    at_r = gate_responsibility_loss(r, loglik, present)
    assert at_r < gate_responsibility_loss(torch.full((1, 3), 1 / 3), loglik, present)
    # an absent modality gets no responsibility, and a sharper τ concentrates it
    absent = torch.tensor([[True, False, True]])
    g = torch.tensor([[0.75, 0.0, 0.25]])
    assert torch.isfinite(gate_responsibility_loss(g, loglik, absent))
    follows_image = torch.tensor([[0.9, 0.0, 0.1]])
    soft = gate_responsibility_loss(follows_image, loglik, absent, tau=100.0)  # r ≈ uniform
    sharp = gate_responsibility_loss(follows_image, loglik, absent, tau=0.1)  # r ≈ all on the image
    assert sharp < 0.2 < 1.0 < soft


def test_cec_subsets_all_up_to_four_modalities_then_a_family_with_complements():
    from aecf.losses import cec_subsets, supported_pairs
    from aecf.metrics import nonempty_subsets, subset_pairs

    assert cec_subsets(3) == nonempty_subsets(3) and len(cec_subsets(4)) == 15
    for M in (5, 8):
        fam = cec_subsets(M, 16, torch.Generator().manual_seed(M))
        assert len(fam) == 16 and fam[:M] == [(m,) for m in range(M)] and fam[-1] == tuple(range(M))
        assert fam == sorted(fam, key=lambda s: (len(s), s))
        middle = [s for s in fam if 1 < len(s) < M]
        complements = [tuple(m for m in range(M) if m not in s) for s in middle]
        assert sum(c in fam for c in complements) >= len(middle) - 2  # drawn in pairs, up to the budget
        # a pair whose difference was not drawn is never "supported" (CEC cannot judge it)
        loglik = torch.zeros(len(fam), 3)
        mask = supported_pairs(loglik, fam, -1.0)
        for k, (a, b) in enumerate(subset_pairs(fam)):
            added = tuple(m for m in fam[b] if m not in fam[a])
            assert bool(mask[k].all()) == (added in fam)
