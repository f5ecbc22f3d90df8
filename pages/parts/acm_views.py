"""What Curriculum masking draws the same way for the digits and for any dataset: the simulator's gate
controls and what its 4,000 masks show, and ACM's drop-ratio metric."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import streamlit as st

from aecf.app import masking as A
from aecf.figures.app import curves_figure, mask_distribution_figure, per_modality_bars
from aecf.figures.palette import METHOD_COLORS


def gate_controls(
    present: tuple[str, ...],
    modalities: Sequence[str],
    favourite: str,
    prefix: str,
    slot: Callable[[str], str],
) -> np.ndarray:
    """The simulator's gate, set by weights (`favourite` starts at 0.7, the others at 0.15) or by an entropy
    and a favourite modality. Widget keys: `prefix` + "_w_" + slot(m), "_fav", "_h"."""
    mode = st.segmented_control(
        "Set the gate by", ["weights", "entropy"], default="weights", key="sim_mode", required=True
    )
    if mode == "weights":
        weights = {
            m: st.slider(
                f"weight on {m}", 0.0, 1.0, 0.7 if m == favourite else 0.15, 0.05, key=f"{prefix}_w_{slot(m)}"
            )
            for m in present
        }
        return A.normalise_gate(weights, present, modalities)
    fav = st.selectbox("favourite modality", present, key=f"{prefix}_fav")
    several = len(present) > 1
    h = st.slider(
        "gate entropy H(p)",
        0.0,
        float(math.log(len(present))) if several else 0.0001,
        min(0.4, float(math.log(len(present)))) if several else 0.0,
        0.01,
        key=f"{prefix}_h",
        disabled=not several,
    )
    return A.gate_with_entropy(h, fav, present, modalities)


def simulator_results(
    gate: np.ndarray, present: tuple[str, ...], rate: float, rule: A.AcmRule, modalities: Sequence[str]
) -> None:
    """4,000 masks of ACM and of ModDrop for this gate: each modality's drop probability, what a mask keeps
    (every pattern up to A.KEPT_PATTERNS_UP_TO present modalities, else how many it keeps) and the share
    hidden."""
    sim_acm = A.simulate_masks(gate, present, rate, "acm", rule=rule, modalities=modalities)
    sim_uni = A.simulate_masks(gate, present, rate, "uniform", rule=rule, modalities=modalities)
    st.markdown(
        "gate p = "
        + ", ".join(f"{m} **{g:.2f}**" for m, g in zip(modalities, gate, strict=True) if m in present)
        + f" · H(p) = **{A.entropy(gate):.3f}**"
    )
    d1, d2 = st.columns(2)
    d1.plotly_chart(per_modality_bars(sim_acm.drop_probs, "ACM: drop probability q_m", "q_m"), key="sim_q")
    d2.plotly_chart(
        per_modality_bars(sim_uni.drop_probs, "ModDrop: drop probability", "q_m"), key="sim_q_uni"
    )
    d3, d4 = st.columns(2)
    by_size = len(present) > A.KEPT_PATTERNS_UP_TO  # then the bars count the modalities a mask keeps
    acm_kept, uni_kept = A.kept_view(sim_acm, len(present)), A.kept_view(sim_uni, len(present))
    d3.plotly_chart(mask_distribution_figure(acm_kept, "ACM: what a mask keeps"), key="sim_kept")
    d4.plotly_chart(
        mask_distribution_figure(uni_kept, "ModDrop: what a mask keeps", METHOD_COLORS["moddrop"]),
        key="sim_kept_uni",
    )
    st.caption(
        f"Share of present modalities actually hidden: ACM {sim_acm.overall_drop:.1%}, ModDrop "
        f"{sim_uni.overall_drop:.1%} (below π when the '≥ 1 kept' rule restores one)."
        + (
            f" With {len(present)} modalities there are {2 ** len(present) - 1} patterns: the bars count "
            "how many modalities each mask keeps."
            if by_size
            else ""
        )
    )


def ratio_metric(container, label: str, d) -> None:
    """A run's share of test examples where ACM drops the most-trusted modality ≥ 2× as often as the least
    (`d`: its drop-ratio distribution), with the median and the rule in its help."""
    container.metric(
        f"{label}: examples with ratio ≥ 2×",
        f"{d.share_2x:.0%}",
        help=f"median ratio {d.median:.2f}; rule q ∝ p^γ with γ = {d.rule.gamma:g}"
        if d.rule.sharpness == "power"
        else f"median ratio {d.median:.2f}; entropy-blend rule",
    )


def schedule_chart(container, xs, acm, flat, pi_max: float, **layout) -> None:
    """ACM's overall rate π_t over training against ModDrop's flat rate (`layout`: curves_figure's extras)."""
    container.plotly_chart(
        curves_figure(
            {"ACM curriculum π_t": (xs, acm), "ModDrop (flat)": (xs, flat)},
            f"Overall rate: curriculum vs flat (π_max = {pi_max:g})",
            x_title="training progress t/T",
            y_title="π",
            y_range=(0, 1),
            dash={"ModDrop (flat)": "dash"},
            **layout,
        ),
        key="schedule",
    )
