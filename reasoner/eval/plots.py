"""Figures of a compute sweep: accuracy against compute, and accuracy per difficulty level.

Drawn on matplotlib's Agg canvas through `Figure` objects, never `pyplot`, so
nothing needs a display and no global figure state is touched. Input is the
rows of `reasoner.eval.sweep`; nothing here computes a metric.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from reasoner.eval.metrics import SweepRow


def plot_curves(rows: Sequence[SweepRow], path: Path) -> Path:
    """Accuracy against mean generated tokens (left) and mean FLOPs (right) per problem.

    Log x-axes; one line per model x strategy with its 95% band; budgets are
    written next to their points. Rows with no positive cost on an axis
    (e.g. FLOPs of a model of unknown size) are left off that panel.
    """
    figure, canvas = _figure(width=14.0, height=4.8)
    tokens_axes, flops_axes = figure.subplots(1, 2, sharey=True)
    for axes, cost, label in ((tokens_axes, "mean_generated_tokens", "generated tokens per problem"),
                              (flops_axes, "mean_flops", "FLOPs per problem")):
        for series, points in _series(rows).items():
            _draw_series(axes, series, [row for row in points if getattr(row, cost) > 0], cost)
        axes.set_xscale("log")
        axes.set_xlabel(f"{label} (log)")
        axes.grid(True, which="both", alpha=0.3)
    tokens_axes.set_ylabel("accuracy")
    tokens_axes.set_ylim(-0.02, 1.02)
    # Outside the panels: with many series a legend inside covers the lines.
    flops_axes.legend(*tokens_axes.get_legend_handles_labels(), fontsize="small", loc="upper left",
                      bbox_to_anchor=(1.02, 1.0))
    figure.suptitle("accuracy vs test-time compute (bands: 95% bootstrap over problems)")
    figure.tight_layout()
    canvas.print_png(str(path))
    return path


def plot_by_level(rows: Sequence[SweepRow], path: Path) -> Path:
    """Grouped bars of accuracy per level for each model x strategy at a matched budget.

    The budget is the largest one every non-cot strategy has a row at; cot
    (budget 1 only) is shown beside them. Error bars are the 95% intervals.
    """
    chosen = matched_rows(rows)
    levels = sorted({level for row in chosen for level in row.by_level}, key=int) + ["all"]
    figure, canvas = _figure(width=min(18.0, 7.0 + 0.3 * len(levels) * len(chosen)), height=4.8)
    axes = figure.subplots()
    width = 0.8 / max(1, len(chosen))
    for index, row in enumerate(chosen):
        stats = [row if level == "all" else row.by_level.get(level) for level in levels]
        centres = [position - 0.4 + width * (index + 0.5) for position in range(len(levels))]
        heights = [s.accuracy if s else 0.0 for s in stats]
        errors = [[_below(s) if s else 0.0 for s in stats], [_above(s) if s else 0.0 for s in stats]]
        axes.bar(centres, heights, width, yerr=errors, capsize=2, ecolor="0.35", label=row.name)
    axes.set_xticks(range(len(levels)), [f"level {level}" if level != "all" else "all" for level in levels])
    axes.set_ylabel("accuracy")
    axes.set_ylim(0, 1.05)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    axes.set_title(f"accuracy per difficulty level at budget {max(row.budget for row in chosen)} "
                   f"(series without it: their largest below)")
    figure.tight_layout()
    canvas.print_png(str(path))
    return path


def matched_rows(rows: Sequence[SweepRow]) -> list[SweepRow]:
    """Per model x strategy, its row at the largest budget all non-cot strategies share.

    A series without that budget (cot) contributes its largest budget below it.
    """
    series = _series(rows)
    budget_sets = [{row.budget for row in points} for (_, strategy), points in series.items() if strategy != "cot"]
    shared = set.intersection(*budget_sets) if budget_sets else set()
    budget = max(shared or {row.budget for row in rows})
    chosen = []
    for points in series.values():
        fitting = [row for row in points if row.budget <= budget]
        chosen.append(max(fitting, key=lambda row: row.budget) if fitting else points[0])
    return chosen


def _series(rows: Sequence[SweepRow]) -> dict[tuple[str, str], list[SweepRow]]:
    grouped: dict[tuple[str, str], list[SweepRow]] = defaultdict(list)
    for row in rows:
        grouped[(row.model, row.strategy)].append(row)
    return {key: sorted(points, key=lambda row: row.budget) for key, points in grouped.items()}


def _draw_series(axes: Axes, series: tuple[str, str], points: list[SweepRow], cost: str) -> None:
    if not points:
        return
    xs = [getattr(row, cost) for row in points]
    label = f"{Path(series[0]).name} {series[1]}"
    line, = axes.plot(xs, [row.accuracy for row in points], marker="o", label=label)
    if len(points) > 1:
        axes.fill_between(xs, [row.ci_low for row in points], [row.ci_high for row in points],
                          color=line.get_color(), alpha=0.15)
    else:
        row = points[0]
        axes.errorbar(xs, [row.accuracy], yerr=[[_below(row)], [_above(row)]],
                      color=line.get_color(), capsize=3)
    for x, row in zip(xs, points):
        axes.annotate(str(row.budget), (x, row.accuracy), textcoords="offset points", xytext=(3, 3),
                      fontsize="x-small", color=line.get_color())


def _below(stats) -> float:
    return max(0.0, stats.accuracy - stats.ci_low)


def _above(stats) -> float:
    return max(0.0, stats.ci_high - stats.accuracy)


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    return figure, FigureCanvasAgg(figure)
