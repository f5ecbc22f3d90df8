"""What Subsets & calibration draws the same way for the digits and for any dataset: charts two a row, the
table against the drop rate, and the reliability diagrams' choice of inputs."""

from __future__ import annotations

import streamlit as st

from aecf.app import results as R


def charts_two_a_row(charts: list[tuple[str, object]]) -> None:
    """(key, figure) pairs two a row: at 1400 px a third of the page is too narrow for a chart's text at
    projector size."""
    for start in range(0, len(charts), 2):
        for col, (key, fig) in zip(st.columns(2), charts[start : start + 2], strict=False):
            col.plotly_chart(fig, key=key)


def drop_table(methods: dict) -> None:
    """Each method's numbers at every drop rate."""
    st.table(R.readable(R.drop_rows(methods), formats={"drop rate": "{:g}"}), hide_index=True, height=420)


def reliability_condition() -> str:
    """The inputs the reliability diagrams are drawn for: "full" (all modalities) or "drop_0.5"."""
    return st.segmented_control(
        "Inputs",
        ["full", "drop_0.5"],
        default="full",
        key="rel_condition",
        required=True,
        format_func=lambda c: "all modalities" if c == "full" else "random drop 0.5",
    )
