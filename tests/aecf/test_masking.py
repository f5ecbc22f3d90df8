"""ACM and ModDrop: who gets dropped, how often, and never everybody."""

from __future__ import annotations

import torch

from aecf.masking import (
    MAX_DROP_PROB,
    acm_drop_probs,
    curriculum_rate,
    expected_drop_rate,
    random_modality_drop,
    sample_keep_mask,
    uniform_drop_probs,
)


def test_acm_drops_the_dominant_modality_more_often():
    n = 20_000
    gate = torch.tensor([[0.8, 0.1, 0.1]]).repeat(n, 1)
    present = torch.ones(n, 3, dtype=torch.bool)
    q = acm_drop_probs(gate, present, rate=0.3)
    keep = sample_keep_mask(present, q, torch.Generator().manual_seed(0))
    dropped = (~keep).float().mean(0)
    assert dropped[0] > 2 * dropped[1] and dropped[0] > 2 * dropped[2]
    assert abs(float(q.mean()) - 0.3) < 1e-5  # the curriculum sets the overall rate


def test_acm_is_uniform_for_an_undecided_gate_and_sharper_gates_concentrate_more():
    present = torch.ones(1, 3, dtype=torch.bool)
    q_uniform = acm_drop_probs(torch.full((1, 3), 1 / 3), present, 0.4)
    torch.testing.assert_close(q_uniform, torch.full((1, 3), 0.4))
    q_mild = acm_drop_probs(torch.tensor([[0.5, 0.25, 0.25]]), present, 0.3)
    q_sharp = acm_drop_probs(torch.tensor([[0.9, 0.05, 0.05]]), present, 0.3)
    assert q_sharp[0, 0] > q_mild[0, 0] > 0.3
    assert float(acm_drop_probs(torch.tensor([[1.0, 0.0, 0.0]]), present, 0.9).max()) <= MAX_DROP_PROB


def test_acm_never_drops_an_absent_modality_and_handles_single_present():
    present = torch.tensor([[True, False, True], [False, True, False]])
    gate = torch.tensor([[0.7, 0.0, 0.3], [0.0, 1.0, 0.0]])
    q = acm_drop_probs(gate, present, 0.5)
    assert torch.all(q[~present] == 0)
    assert torch.isfinite(q).all()


def test_at_least_one_modality_is_always_kept():
    g = torch.Generator().manual_seed(1)
    for trial in range(50):
        n = 500
        present = torch.rand(n, 3, generator=g) < 0.7
        present[~present.any(1), trial % 3] = True
        q = torch.rand(n, 3, generator=g) * (trial / 49)
        q[:, :] = torch.where(
            torch.rand(n, 3, generator=g) < 0.2, torch.ones_like(q), q
        )  # some certain drops
        keep = sample_keep_mask(present, q * present, g)
        assert keep.any(1).all()
        assert not (keep & ~present).any()
    keep = random_modality_drop(torch.ones(10_000, 3, dtype=torch.bool), 0.999, g)
    assert keep.any(1).all() and (keep.sum(1) == 1).float().mean() > 0.99


def test_random_drop_rate_matches_the_protocol():
    present = torch.ones(50_000, 3, dtype=torch.bool)
    for rate in (0.1, 0.5, 0.9):
        keep = random_modality_drop(present, rate, torch.Generator().manual_seed(2))
        assert abs(float((~keep).float().mean()) - expected_drop_rate(rate, 3)) < 0.01
    torch.testing.assert_close(
        uniform_drop_probs(torch.tensor([[True, False]]), 0.3), torch.tensor([[0.3, 0.0]])
    )


def test_curriculum_ramps_then_holds():
    assert curriculum_rate(0.0, 0.6, 0.3) == 0.0
    assert abs(curriculum_rate(0.15, 0.6, 0.3) - 0.3) < 1e-9
    assert curriculum_rate(0.5, 0.6, 0.3) == 0.6 == curriculum_rate(1.0, 0.6, 0.3)
    assert curriculum_rate(0.0, 0.4, 0.0) == 0.4


def test_acm_power_rule_drops_in_proportion_to_trust():
    from aecf.masking import drop_prob_ratio

    present = torch.ones(3, 3, dtype=torch.bool)
    gate = torch.tensor([[0.6, 0.2, 0.2], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.3, 0.2]])
    q = acm_drop_probs(gate, present, 0.5, "power", 1.0)
    torch.testing.assert_close(q[0], torch.tensor([0.9, 0.3, 0.3]))
    torch.testing.assert_close(q.mean(1)[1:], torch.tensor([0.5, 0.5]))  # the curriculum sets the rate
    torch.testing.assert_close(drop_prob_ratio(q, present), torch.tensor([3.0, 1.0, 2.5]))
    # γ = 0 is ModDrop; a larger γ sharpens; the legacy entropy blend is far milder on the same gate
    torch.testing.assert_close(acm_drop_probs(gate, present, 0.4, "power", 0.0), torch.full((3, 3), 0.4))
    sharp = acm_drop_probs(gate, present, 0.3, "power", 2.0)
    assert (
        drop_prob_ratio(sharp, present)[2]
        > drop_prob_ratio(acm_drop_probs(gate, present, 0.3, "power"), present)[2]
    )
    assert drop_prob_ratio(acm_drop_probs(gate, present, 0.5, "entropy"), present)[0] < 1.3
    # absent modalities: never dropped, and the ratio is over present ones only
    pres = torch.tensor([[True, False, True], [False, True, False]])
    q2 = acm_drop_probs(torch.tensor([[0.8, 0.0, 0.2], [0.0, 1.0, 0.0]]), pres, 0.4, "power")
    assert torch.all(q2[~pres] == 0) and float(q2.max()) <= MAX_DROP_PROB
    torch.testing.assert_close(drop_prob_ratio(q2, pres), torch.tensor([0.64 / 0.16, 1.0]))
