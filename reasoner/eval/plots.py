"""Figures of a compute sweep: accuracy against compute, per model and per difficulty level.

Two figures, both built as matplotlib `Figure` objects on the Agg canvas
(never `pyplot`: no display, no global figure state):

- `curves_figure`: one row of panels per model, one column per cost axis
  (generated tokens, total FLOPs). Each panel holds one line per strategy.
- `levels_figure`: one panel per difficulty level (and one for all
  problems), every model in each panel, against one cost axis.

How they read: colour names the strategy, the same colour for the same
strategy name in every figure (`strategy_colour`; Okabe-Ito's colour-blind-safe
hues first); marker and line style name the model; a wide grey step line
behind the series is the compute-optimal frontier of that panel, the best
accuracy any drawn (model, strategy, budget) reaches at no more than that
compute; faint bands are 95% bootstrap intervals over problems. A panel
with more than `MAX_BANDS` series draws intervals only at the frontier's
points and fades the series that never reach the frontier. The legend
sits outside the panels. Log axes carry at most a handful of labelled ticks
in compact SI form (`200M`, `1.5G`).

Input is the rows of `reasoner.eval.sweep`; nothing here computes a metric.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from reasoner.errors import ConfigError, JobError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from reasoner.eval.frontier import Stats, SweepRow


class CostAxis(NamedTuple):
    """A compute measure a curve can be drawn against."""

    field: str
    """The `Stats` field holding it."""
    label: str
    """Axis label."""


COSTS = {
    "tokens": CostAxis("mean_generated_tokens", "generated tokens per problem"),
    "flops": CostAxis("mean_flops", "total FLOPs per problem (PRM included)"),
    "wall": CostAxis("mean_wall_s", "wall seconds per problem"),
}

STRATEGY_COLOURS = {
    "cot": "#000000",
    "self_consistency": "#0072B2",
    "best_of_n": "#D55E00",
    "adaptive_consistency": "#56B4E9",
    "revision": "#CC79A7",
    "beam_search": "#009E73",
    "dvts": "#E69F00",
    "mcts": "#332288",
    "particle_filter": "#882255",
    "router": "#999933",
    "oracle_router": "#AA4499",
}
"""Fixed colours of the known strategies: Okabe-Ito's eight, then Paul Tol's indigo, wine, olive and purple."""

SPARE_COLOURS = ("#44AA99", "#117733", "#DDCC77", "#88CCEE", "#888888")
"""For other strategy names, chosen by a hash of the name (Tol's muted set)."""

MODEL_STYLES = (("o", "-"), ("s", "--"), ("^", ":"), ("D", "-."), ("v", (0, (5, 1, 1, 1))))
"""(marker, line style) of the first, second, ... model of a sweep."""

FRONTIER_LABEL = "compute-optimal frontier"
FRONTIER_STYLE = {"color": "0.55", "alpha": 0.35, "linewidth": 6.0, "solid_capstyle": "round", "zorder": 1}
BAND_ALPHA = 0.07
MAX_BANDS = 6
"""Panels with more series than this draw intervals only at the frontier's points: more bands stack into grey."""
MAX_TICKS = 5


def curves_figure(rows: Sequence[SweepRow], costs: Sequence[str] = ("tokens", "flops")) -> Figure:
    """Accuracy against each cost in `costs` (columns), one row of panels per model."""
    axes_of = [_cost(name) for name in costs]
    rows = _require_rows(rows)
    models = _unique(row.model for row in rows)
    figure = _figure(width=4.6 * len(axes_of) + 2.6, height=3.0 * len(models) + 0.8)
    grid = figure.subplots(len(models), len(axes_of), sharey=True, sharex="col", squeeze=False)
    colours, styles = _colours(rows), _styles(models)
    bands = len(_unique(row.strategy for row in rows)) <= MAX_BANDS
    drawn: list[Point] = []
    for i, model in enumerate(models):
        for j, cost in enumerate(axes_of):
            axes = grid[i][j]
            drawn += _draw_panel(axes, [r for r in rows if r.model == model], None, cost, colours, styles, bands)
            axes.set_title(_short(model), fontsize="medium", loc="left")
            if j == 0:
                axes.set_ylabel("accuracy")
            if i == len(models) - 1:
                axes.set_xlabel(f"{cost.label} (log)")
    for j, cost in enumerate(axes_of):
        _log_axis(grid[0][j], [getattr(r, cost.field) for r in rows])
    if drawn:
        grid[0][0].set_ylim(*_y_range(drawn))
    _legend(figure, rows, colours, models, bands)
    figure.suptitle("accuracy against test-time compute, per model")
    return figure


def levels_figure(rows: Sequence[SweepRow], cost: str = "flops") -> Figure:
    """Accuracy against `cost`, one panel per difficulty level and one for all problems; models share panels."""
    axis = _cost(cost)
    rows = _require_rows(rows)
    levels = [*sorted({level for row in rows for level in row.by_level}, key=int), "all"]
    models = _unique(row.model for row in rows)
    columns = min(3, len(levels))
    lines = math.ceil(len(levels) / columns)
    figure = _figure(width=4.2 * columns + 2.6, height=3.0 * lines + 0.8)
    grid = figure.subplots(lines, columns, sharey=True, sharex=True, squeeze=False)
    colours, styles = _colours(rows), _styles(models)
    bands = len(_series(rows)) <= MAX_BANDS
    for index, level in enumerate(levels):
        axes = grid[index // columns][index % columns]
        _draw_panel(axes, rows, level, axis, colours, styles, bands)
        problems = max(stats.problems for row in rows if (stats := _at_level(row, level)))
        axes.set_title(f"{'level ' + level if level != 'all' else 'all'} ({problems} problems)",
                       fontsize="medium", loc="left")
    for index in range(len(levels), lines * columns):
        grid[index // columns][index % columns].set_visible(False)
    for axes in grid[:, 0]:
        axes.set_ylabel("accuracy")
    for column in range(columns):  # the lowest visible panel of each column carries the x labels
        lowest = grid[(len(levels) - 1 - column) // columns][column]
        lowest.set_xlabel(f"{axis.label} (log)")
        lowest.xaxis.set_tick_params(labelbottom=True)
    _log_axis(grid[0][0], [getattr(stats, axis.field) for row in rows for level in levels
                           if (stats := _at_level(row, level))])
    grid[0][0].set_ylim(-0.03, 1.03)
    _legend(figure, rows, colours, models, bands)
    figure.suptitle("accuracy against test-time compute, per difficulty level (frontier across models)")
    return figure


def plot_curves(rows: Sequence[SweepRow], path: Path, costs: Sequence[str] = ("tokens", "flops")) -> Path:
    """`curves_figure` saved as a PNG at `path`."""
    return _save(curves_figure(rows, costs), path)


def plot_by_level(rows: Sequence[SweepRow], path: Path, cost: str = "flops") -> Path:
    """`levels_figure` saved as a PNG at `path`."""
    return _save(levels_figure(rows, cost), path)


def strategy_colour(name: str, taken: Sequence[str] = ()) -> str:
    """The colour of strategy `name`: fixed for known names, else a spare chosen by a hash of the name,
    skipping colours in `taken` while spares remain (so one figure does not repeat a colour)."""
    if name in STRATEGY_COLOURS:
        return STRATEGY_COLOURS[name]
    start = zlib.crc32(name.encode())
    free = [c for c in SPARE_COLOURS if c not in taken] or list(SPARE_COLOURS)
    return free[start % len(free)]


class Point(NamedTuple):
    """One drawn point: cost, accuracy and its 95% interval."""

    x: float
    y: float
    low: float
    high: float


def frontier(points: Sequence[Point]) -> list[Point]:
    """The upper envelope: the points that beat every cheaper-or-equal point's accuracy, cheapest first."""
    best, kept = -math.inf, []
    for point in sorted(points, key=lambda p: (p.x, -p.y)):
        if point.y > best:
            kept.append(point)
            best = point.y
    return kept


# Drawing one panel


def _draw_panel(axes: Axes, rows: Sequence[SweepRow], level: str | None, cost: CostAxis,
                colours: dict[str, str], styles: dict[str, tuple], bands: bool = True) -> list[Point]:
    """Every (model, strategy) series of `rows` at `level`, and the frontier over them; returns the points.

    Without bands (a dense panel), series that never reach the frontier are drawn thinner and lighter.
    """
    series = {key: [_point(s, cost) for row in points if (s := _at_level(row, level)) and getattr(s, cost.field) > 0]
              for key, points in _series(rows).items()}
    series = {key: points for key, points in series.items() if points}
    drawn = [point for points in series.values() for point in points]
    if not drawn:
        axes.text(0.5, 0.5, f"no {cost.label.split(' per ')[0]} recorded", transform=axes.transAxes,
                  ha="center", va="center", color="0.4")
        return drawn
    envelope = frontier(drawn)
    for (model, strategy), points in series.items():
        faint = not bands and not set(points) & set(envelope)
        _draw_series(axes, points, colours[strategy], styles[model], f"{_short(model)} {_short(strategy)}",
                     bands, faint)
    _draw_frontier(axes, envelope, max(p.x for p in drawn), intervals=not bands)
    axes.grid(True, which="major", color="0.9", linewidth=0.8)
    axes.set_axisbelow(True)
    return drawn


def _draw_series(axes: Axes, points: list[Point], colour: str, style: tuple, label: str, bands: bool,
                 faint: bool) -> None:
    xs, ys = [p.x for p in points], [p.y for p in points]
    marker, linestyle = style
    axes.plot(xs, ys, color=colour, marker=marker, linestyle=linestyle, linewidth=0.9 if faint else 1.5,
              markersize=3.5 if faint else 4.5, alpha=0.45 if faint else 1.0, label=label, zorder=3)
    if bands and len(points) > 1:
        axes.fill_between(xs, [p.low for p in points], [p.high for p in points], color=colour,
                          alpha=BAND_ALPHA, linewidth=0, zorder=2)
    elif bands:
        _interval_bars(axes, points, colour)


def _point(stats: Stats, cost: CostAxis) -> Point:
    return Point(getattr(stats, cost.field), stats.accuracy, stats.ci_low, stats.ci_high)


def _draw_frontier(axes: Axes, envelope: list[Point], right: float, intervals: bool) -> None:
    xs = [p.x for p in envelope] + [right]
    ys = [p.y for p in envelope] + [envelope[-1].y]
    axes.plot(xs, ys, drawstyle="steps-post", label=FRONTIER_LABEL, gid="frontier", **FRONTIER_STYLE)
    if intervals:  # without bands, the intervals that matter most: those of the frontier's points
        _interval_bars(axes, envelope, "0.35")


def _interval_bars(axes: Axes, points: Sequence[Point], colour: str) -> None:
    axes.errorbar([p.x for p in points], [p.y for p in points],
                  yerr=[[max(0.0, p.y - p.low) for p in points], [max(0.0, p.high - p.y) for p in points]],
                  color=colour, alpha=0.6, linewidth=0.9, capsize=2, fmt="none", zorder=2, gid="interval")


def _y_range(points: Sequence[Point]) -> tuple[float, float]:
    """Shared accuracy limits: the intervals' span rounded out to 0.05, within [0, 1] plus a margin."""
    low = max(0.0, math.floor((min(p.low for p in points) - 0.02) * 20) / 20)
    high = min(1.0, math.ceil((max(p.high for p in points) + 0.02) * 20) / 20)
    return low - 0.02, high + 0.02


# Axes, legend, colours


def _log_axis(axes: Axes, values: Sequence[float]) -> None:
    """Log x-axis over the positive `values`, with at most `MAX_TICKS` labelled ticks (shared axes follow)."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, NullFormatter

    positive = [v for v in values if v > 0]
    axes.set_xscale("log")
    if not positive:
        return
    low, high = min(positive), max(positive)
    pad = max(1.15, (high / low) ** 0.06)
    axes.set_xlim(low / pad, high * pad)
    axes.xaxis.set_major_locator(FixedLocator(nice_log_ticks(low / pad, high * pad)))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: si(value)))
    axes.xaxis.set_minor_locator(LogLocator(base=10, subs=tuple(range(2, 10)), numticks=12))
    axes.xaxis.set_minor_formatter(NullFormatter())


def nice_log_ticks(low: float, high: float, most: int = MAX_TICKS) -> list[float]:
    """Round tick values in [low, high]: the densest of 1-1.5-2-3-5-7, 1-2-5, 1-3 or powers of ten (every
    k-th decade if need be) that gives at most `most` ticks; the range's middle if no round value is in it."""
    dense = (1, 1.5, 2, 3, 5, 7)
    if not _ticks(low, high, dense, 1):  # a range too narrow for any round value: label its middle
        return [float(f"{math.sqrt(low * high):.2g}")]
    for mantissas in (dense, (1, 2, 5), (1, 3), (1,)):
        ticks = _ticks(low, high, mantissas, 1)
        if len(ticks) <= most:
            return ticks
    step = 2
    while len(ticks := _ticks(low, high, (1,), step)) > most:
        step += 1
    return ticks


def _ticks(low: float, high: float, mantissas: tuple[float, ...], step: int) -> list[float]:
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    decades = [d for d in range(first, last + 1) if d % step == 0]
    return [m * 10.0 ** d for d in decades for m in mantissas if low <= m * 10.0 ** d <= high * (1 + 1e-9)]


def si(value: float) -> str:
    """A compact label: 20, 1.5k, 200M, 3G."""
    if value <= 0:
        return "0"
    exponent = min(15, max(0, 3 * math.floor(math.log10(value) / 3 + 1e-9)))
    prefix = {0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P"}[exponent]
    return f"{value / 10 ** exponent:.3g}{prefix}"


def _legend(figure: Figure, rows: Sequence[SweepRow], colours: dict[str, str], models: list[str],
            bands: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    styles = _styles(models)
    handles = [Line2D([], [], color=colours[s], linewidth=2.5, label=_short(s))
               for s in _unique(row.strategy for row in rows)]
    handles += [Line2D([], [], color="0.3", marker=styles[m][0], linestyle=styles[m][1], label=_short(m))
                for m in models]
    handles.append(Line2D([], [], label=FRONTIER_LABEL, **{k: v for k, v in FRONTIER_STYLE.items()
                                                           if k != "zorder"}))
    if bands:
        handles.append(Patch(color="0.5", alpha=0.25, linewidth=0, label="95% interval"))
    else:
        handles += [Line2D([], [], color="0.35", marker="|", markersize=9, linestyle="none",
                           label="95% interval (frontier)"),
                    Line2D([], [], color="0.3", alpha=0.45, linewidth=0.9, label="faint: never on the frontier")]
    figure.legend(handles=handles, loc="outside right upper", fontsize="small", frameon=False,
                  title="strategy / model", title_fontsize="small", alignment="left")


def _colours(rows: Sequence[SweepRow]) -> dict[str, str]:
    colours: dict[str, str] = {}
    for name in sorted(_unique(row.strategy for row in rows), key=lambda n: (n not in STRATEGY_COLOURS, n)):
        colours[name] = strategy_colour(name, taken=list(colours.values()))
    return colours


def _styles(models: list[str]) -> dict[str, tuple]:
    return {model: MODEL_STYLES[i % len(MODEL_STYLES)] for i, model in enumerate(models)}


# Data helpers


def _cost(name: str) -> CostAxis:
    if name not in COSTS:
        raise ConfigError(f"unknown cost metric {name!r} to plot against; known: {', '.join(COSTS)}")
    return COSTS[name]


def _require_rows(rows: Sequence[SweepRow]) -> list[SweepRow]:
    if not rows:
        raise JobError("nothing to plot: the sweep has no rows (no models, strategies or budgets ran)")
    return list(rows)


def _series(rows: Sequence[SweepRow]) -> dict[tuple[str, str], list[SweepRow]]:
    grouped: dict[tuple[str, str], list[SweepRow]] = {}
    for row in rows:
        grouped.setdefault((row.model, row.strategy), []).append(row)
    return {key: sorted(points, key=lambda row: row.budget) for key, points in grouped.items()}


def _at_level(row: SweepRow, level: str | None) -> Stats | None:
    return row if level in (None, "all") else row.by_level.get(level)


def _unique(items) -> list:
    return list(dict.fromkeys(items))


def _short(name: str) -> str:
    """A model path's folder name; a `module:Class` strategy's class name."""
    return Path(name).name.rpartition(":")[2] or name


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    figure.canvas.print_png(str(path))
    return path
