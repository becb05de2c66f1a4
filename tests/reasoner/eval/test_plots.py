"""The sweep figures, read back from their matplotlib objects: panels, series, frontier, legend, ticks.

Input: the committed sweep's rows extended to 12 strategies x 2 models
(`synthetic_sweep.twelve_by_two`), and the committed sweep itself.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from reasoner.errors import ConfigError, JobError
from reasoner.eval.plots import (
    FRONTIER_LABEL,
    Point,
    curves_figure,
    frontier,
    levels_figure,
    nice_log_ticks,
    plot_by_level,
    plot_curves,
    si,
    strategy_colour,
)
from tests.reasoner.eval.synthetic_sweep import twelve_by_two

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rows():
    return twelve_by_two()


@pytest.fixture(scope="module")
def curves(rows):
    figure = curves_figure(rows)
    figure.canvas.draw()
    return figure


@pytest.fixture(scope="module")
def committed_curves():
    """The committed sweep's own figure: its token axis spans under two decades, where matplotlib's
    default log formatter labels minor ticks too and they collide."""
    from reasoner.eval.sweep import load_summary
    from tests.reasoner.eval.synthetic_sweep import SWEEP

    figure = curves_figure(load_summary(SWEEP).rows)
    figure.canvas.draw()
    return figure


@pytest.fixture(scope="module")
def levels(rows):
    figure = levels_figure(rows)
    figure.canvas.draw()
    return figure


def series_lines(axes):
    return [line for line in axes.get_lines() if not line.get_label().startswith("_") and line.get_gid() is None]


def frontier_lines(axes):
    return [line for line in axes.get_lines() if line.get_gid() == "frontier"]


def test_the_fixture_has_twelve_strategies_and_two_models(rows):
    assert len({r.strategy for r in rows}) == 12 and len({r.model for r in rows}) == 2


def test_curves_have_one_panel_per_model_and_cost_with_every_strategy(curves, rows):
    assert len(curves.axes) == 4
    titles = [axes.get_title(loc="left") for axes in curves.axes]
    assert titles == ["tiny", "tiny", "small", "small"]
    for axes, model in zip(curves.axes, ["tiny", "tiny", "small", "small"]):
        labels = sorted(line.get_label() for line in series_lines(axes))
        expected = sorted(f"{model} {s.rpartition(':')[2]}" for s in {r.strategy for r in rows})
        assert labels == expected


def test_levels_have_one_panel_per_level_and_all_with_both_models(levels):
    visible = [axes for axes in levels.axes if axes.get_visible()]
    assert [axes.get_title(loc="left").split(" (")[0] for axes in visible] == [
        "level 1", "level 2", "level 3", "level 4", "level 5", "all"]
    assert all(len(series_lines(axes)) == 24 for axes in visible)


@pytest.mark.parametrize("figure_name", ["curves", "levels"])
def test_every_panel_draws_the_upper_envelope_of_its_series(figure_name, request):
    figure = request.getfixturevalue(figure_name)
    for axes in (a for a in figure.axes if a.get_visible()):
        (line,) = frontier_lines(axes)
        xs, ys = line.get_xdata(), line.get_ydata()
        assert list(ys) == sorted(ys) and list(xs) == sorted(xs)
        points = [(x, y) for series in series_lines(axes) for x, y in zip(series.get_xdata(), series.get_ydata())]
        assert max(ys) == max(y for _, y in points)
        # No drawn point beats the frontier at its own cost: the envelope is an upper bound.
        for x, y in points:
            reached = max(fy for fx, fy in zip(xs, ys) if fx <= x)
            assert y <= reached + 1e-12


def test_the_legend_names_each_strategy_once_each_model_and_the_frontier(curves, rows):
    (legend,) = curves.legends
    labels = [text.get_text() for text in legend.get_texts()]
    strategies = [s.rpartition(":")[2] for s in dict.fromkeys(r.strategy for r in rows)]
    assert labels[:12] == strategies
    assert labels[12:14] == ["tiny", "small"] and FRONTIER_LABEL in labels


def test_the_legend_sits_outside_every_panel(curves):
    (legend,) = curves.legends
    box = legend.get_window_extent()
    assert all(not box.overlaps(axes.get_window_extent()) for axes in curves.axes)


def test_a_strategy_has_one_colour_in_every_figure_and_no_two_share_one(curves, levels):
    def colours(figure):
        found = {}
        for axes in figure.axes:
            for line in series_lines(axes):
                found.setdefault(line.get_label().split(" ", 1)[1], set()).add(line.get_color())
        return found

    in_curves, in_levels = colours(curves), colours(levels)
    assert all(len(c) == 1 for c in in_curves.values())
    assert in_curves == in_levels
    assert len({next(iter(c)) for c in in_curves.values()}) == 12


def test_models_differ_by_marker_and_line_style(levels):
    axes = levels.axes[0]
    styles = {line.get_label().split(" ")[0]: (line.get_marker(), line.get_linestyle()) for line in series_lines(axes)}
    assert styles["tiny"] != styles["small"]
    assert styles["tiny"][0] != styles["small"][0] and styles["tiny"][1] != styles["small"][1]


@pytest.mark.parametrize("figure_name", ["curves", "levels", "committed_curves"])
def test_log_axis_tick_labels_are_few_and_never_collide(figure_name, request):
    figure = request.getfixturevalue(figure_name)
    for axes in (a for a in figure.axes if a.get_visible()):
        assert axes.get_xscale() == "log"
        labels = [t for minor in (False, True) for t in axes.get_xticklabels(minor=minor)
                  if t.get_visible() and t.get_text()]
        boxes = sorted((t.get_window_extent() for t in labels), key=lambda b: b.x0)
        assert len(boxes) <= 5
        assert all(left.x1 < right.x0 for left, right in pairwise(boxes))


def test_the_committed_sweep_has_labelled_ticks_on_both_cost_axes(committed_curves):
    for axes in committed_curves.axes[-2:]:
        assert len([t for t in axes.get_xticklabels() if t.get_text()]) >= 2


def test_dense_panels_draw_intervals_at_the_frontier_and_sparse_ones_draw_bands(rows):
    dense = levels_figure(rows).axes[0]
    assert not dense.collections or all(c.get_gid() == "interval" for c in dense.collections)
    sparse = curves_figure([r for r in rows if r.strategy in ("self_consistency", "best_of_n")]).axes[0]
    bands = [c for c in sparse.collections if c.get_gid() != "interval"]
    assert len(bands) == 2 and all(c.get_alpha() <= 0.1 for c in bands)


def test_a_single_point_sweep_still_labels_its_axes(rows):
    figure = curves_figure([r for r in rows if r.strategy == "cot" and r.model == "tiny"])
    figure.canvas.draw()
    assert all([t.get_text() for t in axes.get_xticklabels() if t.get_text()] for axes in figure.axes)


def test_plot_functions_write_png_files(rows, tmp_path):
    for path in (plot_curves(rows, tmp_path / "curve.png"), plot_by_level(rows, tmp_path / "by_level.png")):
        assert path.read_bytes()[:8] == PNG_SIGNATURE


def test_an_empty_sweep_is_a_clear_error(tmp_path):
    with pytest.raises(JobError, match="nothing to plot: the sweep has no rows"):
        plot_curves([], tmp_path / "curve.png")
    with pytest.raises(JobError, match="nothing to plot"):
        levels_figure([])
    assert not (tmp_path / "curve.png").exists()


@pytest.mark.parametrize("call", [lambda rows: curves_figure(rows, costs=("tokens", "joules")),
                                  lambda rows: levels_figure(rows, cost="joules")])
def test_an_unknown_cost_metric_is_a_clear_error(call, rows):
    with pytest.raises(ConfigError, match="unknown cost metric 'joules'.*known: tokens, flops, wall"):
        call(rows)


def test_the_frontier_keeps_only_points_that_beat_everything_cheaper():
    points = [Point(4, 0.6, 0, 1), Point(1, 0.5, 0, 1), Point(2, 0.4, 0, 1), Point(2, 0.7, 0, 1),
              Point(8, 0.7, 0, 1), Point(16, 0.75, 0, 1)]
    assert [(p.x, p.y) for p in frontier(points)] == [(1, 0.5), (2, 0.7), (16, 0.75)]


@pytest.mark.parametrize(("low", "high", "expected"), [
    (20, 800, [20, 50, 100, 200, 500]),
    (22, 800, [50, 100, 200, 500]),
    (1.2e8, 4.8e10, [3e8, 1e9, 3e9, 1e10, 3e10]),
    (1.7e8, 1.2e9, [2e8, 3e8, 5e8, 7e8, 1e9]),
    (1, 1e12, [1, 1e3, 1e6, 1e9, 1e12]),
    (21.7, 28.8, [25]),  # one point's padded range: no round tick inside, so its middle
])
def test_log_ticks_are_round_and_at_most_five(low, high, expected):
    assert nice_log_ticks(low, high) == pytest.approx(expected)


@pytest.mark.parametrize(("value", "label"), [(20, "20"), (1500, "1.5k"), (2e8, "200M"), (3e9, "3G"), (0.5, "0.5")])
def test_si_labels_are_compact(value, label):
    assert si(value) == label


def test_unknown_strategy_names_get_a_stable_spare_colour():
    first = strategy_colour("mypkg:Thing")
    assert strategy_colour("mypkg:Thing") == first
    assert strategy_colour("mypkg:Thing", taken=[first]) != first
    assert strategy_colour("beam_search") == "#009E73"


def test_report_plots_redraws_a_sweep_folder_from_its_summary(tmp_path, capsys):
    import shutil

    from reasoner.cli import main
    from tests.reasoner.eval.synthetic_sweep import SWEEP

    folder = tmp_path / "sweep"
    folder.mkdir()
    shutil.copy2(SWEEP / "summary.json", folder / "summary.json")
    assert main(["report", str(folder), "--plots"]) == 0
    assert all((folder / name).read_bytes()[:8] == PNG_SIGNATURE for name in ("curve.png", "by_level.png"))
    assert "drew" in capsys.readouterr().err


def test_report_plots_of_a_results_file_is_an_option_error(tmp_path, capsys):
    from reasoner.cli import main

    (tmp_path / "results.jsonl").write_text("")
    assert main(["report", str(tmp_path / "results.jsonl"), "--plots"]) == 2
    assert "--plots: redraws a sweep folder's figures" in capsys.readouterr().err
