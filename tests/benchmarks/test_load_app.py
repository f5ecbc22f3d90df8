"""benchmarks/load_app.py's arithmetic: the classroom ratio over rounds (the browser run itself is a benchmark)."""

from benchmarks.load_app import _summary, combine_rounds


def _redraws(view_ms: list[float], kind: str = "switch") -> list:
    # (driver's clock, settled, in the page, approach, action, from the release in the page, from the press to the
    # painted frame in the page: the headline)
    return [(v + 30.0, v + 100.0, v / 2, 10.0, kind, v / 5, v) for v in view_ms]


def test_the_headline_ratio_is_the_median_of_the_rounds_and_every_round_is_kept():
    single = _redraws([10.0] * 10)
    # classroom p90 (of 10 values, index int(0.9 * 9) = 8) = 20, 40 and 25 ms: ratios 2, 4, 2.5
    rounds = [
        {"single": single, "classroom": _redraws([10.0] * 8 + [p90, p90])} for p90 in (20.0, 40.0, 25.0)
    ]
    out = combine_rounds(rounds)
    assert out["ratio_of_each_round"] == [2.0, 4.0, 2.5]
    assert out["p90_ratio_classroom_to_single"] == 2.5  # the median (the mean would be 2.83)
    # pooled: 30 classroom redraws, six of 20-40 ms: the p90 (index 26 of 30 sorted) is 25 ms
    assert out["pooled"]["p90_ratio_classroom_to_single"] == 2.5
    # the other windows are ratios of their own p90s: in the page v/2 -> the same ratios; settled v+100 and the
    # driver's clock v+30 -> smaller
    assert out["press_to_view_p90_ratio_classroom_to_single"] == 2.5
    assert out["release_to_view_p90_ratio_classroom_to_single"] == 2.5
    assert out["settled_p90_ratio_classroom_to_single"] == round(125 / 110, 2)
    assert out["wall_clock_p90_ratio_classroom_to_single"] == round(55 / 40, 2)


def test_a_summary_splits_switch_clicks_from_slider_steps():
    out = _summary(_redraws([10.0, 12.0], "switch") + _redraws([50.0, 70.0, 90.0], "slider"))
    assert out["n"] == 5
    assert out["by_action"]["switch"]["n"] == 2 and out["by_action"]["switch"]["max_ms"] == 42.0
    assert out["by_action"]["slider"]["p50_ms"] == 100.0
    assert out["by_action"]["slider"]["press_to_paint_in_page"]["p50_ms"] == 70.0
    assert "by_action" not in out["by_action"]["slider"]
