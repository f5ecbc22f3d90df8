"""The evaluation figures for any dataset: 2 to 8 modalities, multi-label, several runs of one method; and the
digits' figures as they were (each method in its own colour, AECF drawn thicker)."""

from __future__ import annotations

import json

import pytest
import torch

from aecf.data.dataset import read_dataset
from aecf.data.generated import generate_dataset
from aecf.evaluate import evaluate_model
from aecf.figures import palette, report
from aecf.figures.style import FONT_SIZE
from aecf.paths import ROOT
from aecf.train import make_config, train
from tests.aecf.figures.test_figure_style import _sizes

torch.set_num_threads(1)
WIDTHS = (7, 30, 4, 12, 9, 5, 16, 3)


def _evaluation(tmp_path, M: int, multilabel: bool = False) -> tuple[dict, list[str]]:
    names = [f"feature set {i}" for i in range(M)]  # names with spaces, as a dataset may have
    folder = generate_dataset(
        tmp_path / f"d{M}",
        {n: WIDTHS[i] for i, n in enumerate(names)},
        n_train=240,
        n_test=80,
        multilabel=multilabel,
    )
    data = read_dataset(folder)
    model, _ = train(make_config("aecf", epochs=1), data.split("train"), data.split("val"))
    entry = evaluate_model(
        model, data.split("test"), data.split("val"), drop_rates=(0.0, 0.5), mask_seeds=1, mc_samples=2
    )
    return entry, names


@pytest.mark.parametrize(
    ("M", "multilabel"), [(2, False), (3, True), (4, False), (5, False), (6, True), (7, False), (8, False)]
)
def test_every_figure_builds_for_any_modalities_and_reads_on_a_projector(tmp_path, M, multilabel):
    entry, names = _evaluation(tmp_path, M, multilabel)
    late = json.loads(json.dumps(entry))  # a second series: a copy, drawn as late fusion
    late.pop("mechanisms")
    methods = {"aecf (s0, 10:00)": entry, "aecf (s1, 10:05)": entry, "late_fusion (s0, 10:02)": late}
    figs = report.results_figures(methods, names, multilabel=multilabel, has_severity=True)
    head = "map" if multilabel else "acc"
    expected = {"map_vs_drop" if multilabel else "accuracy_vs_drop", "ece_vs_drop", "ece_ts_vs_drop"}
    expected |= {"reliability_full", "reliability_drop_0.5", "gate_mean", "gate_follows_reliability"}
    if M > report.ALL_IN_ONE_TICK:
        expected |= {f"subsets_by_size_{head}", f"single_modalities_{head}", "single_modalities_ece"}
    else:
        expected |= {f"subset_{head}", "subset_ece"}
    assert set(figs) == expected
    for stem, fig in figs.items():
        small = {where: size for where, size in _sizes(fig).items() if size is not None and size < FONT_SIZE}
        assert not small, (stem, small)
        assert fig.layout.title.text, stem
    if M > report.ALL_IN_ONE_TICK:
        sizes = figs[f"subsets_by_size_{head}"]
        assert all([round(x) for x in t.x] == list(range(1, M + 1)) for t in sizes.data)
        assert len({t.x[0] for t in sizes.data}) == 3  # side by side within a size: each range bar shows
        assert all(
            None not in t.y and min(t.error_y.array) >= 0 and min(t.error_y.arrayminus) >= 0
            for t in sizes.data
        )
        assert "worst" in sizes.data[0].customdata[0] and "best" in sizes.data[0].customdata[0]
        singles = figs[f"single_modalities_{head}"]
        assert list(singles.data[0].x) == [*names, f"all {M}"]  # the full set ticked by its size
        assert list(singles.data[0].customdata)[-1] == "+".join(names)  # and named in the hover
    else:
        bars = figs[f"subset_{head}"]
        assert len(bars.data[0].x) == 2**M - 1 and None not in bars.data[0].y
    gate = figs["gate_mean"]
    assert [t.name for t in gate.data] == ["aecf (s0, 10:00)", "aecf (s1, 10:05)"]  # late fusion has no gate
    assert list(gate.data[0].x) == names
    colors = [t.line.color for t in figs["ece_vs_drop"].data]
    assert len(set(colors)) == 3  # two runs of one method are told apart
    assert colors[0] == palette.METHOD_COLORS["aecf"] and colors[2] == palette.METHOD_COLORS["late_fusion"]
    assert figs["ece_vs_drop"].data[0].line.width > figs["ece_vs_drop"].data[2].line.width  # AECF stands out


def test_the_severity_figure_only_where_the_data_records_one(tmp_path):
    entry, names = _evaluation(tmp_path, 3)
    assert "gate_follows_reliability" not in report.results_figures(
        {"aecf": entry}, names, has_severity=False
    )


def test_the_digits_figures_keep_their_colours():
    methods = json.loads((ROOT / "results" / "results.json").read_text())["methods"]
    figs = report.report_figures(methods) | {"subset_ece": report.subset_metric_figure(methods, "ece")}
    for stem, fig in figs.items():
        for trace in fig.data:
            if not trace.name:
                continue
            color = trace.line.color if trace.type == "scatter" else trace.marker.color
            assert color == palette.method_color(trace.name, palette.NEUTRAL), (stem, trace.name)
    lines = {t.name: t.line.width for t in figs["accuracy_vs_drop"].data}
    assert lines["aecf"] == 3.5 and lines["late_fusion"] == 2
    ticks = list(figs["subset_accuracy"].data[0].x)
    assert "image<br>caption<br>audio" in ticks  # three modalities: one line per name, as always


def test_one_page_of_figures_with_plotly_inside():
    methods = json.loads((ROOT / "results" / "results.json").read_text())["methods"]
    figs = {"a": report.accuracy_vs_drop(methods), "b": report.ece_vs_drop(methods)}
    html = report.report_html(figs, "Digits <results>", note="two charts")
    assert html.startswith("<!DOCTYPE html>") and "Digits &lt;results&gt;" in html and "two charts" in html
    assert html.count("<section") == 2 and len(html) > 1_000_000  # plotly.js (megabytes) once
    assert html.count("Plotly.newPlot") == 2
