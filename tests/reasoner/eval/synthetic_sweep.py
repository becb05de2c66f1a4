"""A 12-strategy x 2-model sweep for checking that the figures stay readable.

Built from the real rows of the committed sweep (benchmarks/results/sweep:
`tiny` and `small`, five strategies, budgets 1-16, five levels): seven more
strategies are derived from each model's best-of-n series by scaling its cost
and shifting its accuracy (and intervals) by a per-strategy amount, so the
rows have a real sweep's structure, scales and spread. Synthetic numbers:
for drawing tests only, never quoted as results.

Run as a script to render the figures: python -m tests.reasoner.eval.synthetic_sweep OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

from reasoner.eval.frontier import Stats, SweepRow
from reasoner.eval.sweep import load_summary

SWEEP = Path(__file__).resolve().parents[3] / "benchmarks" / "results" / "sweep"

DERIVED = {
    # name: (cost factor, accuracy shift per doubling of the budget)
    "beam_search": (1.6, 0.012),
    "dvts": (1.8, 0.009),
    "mcts": (3.5, -0.004),
    "particle_filter": (1.3, 0.015),
    "router": (0.7, 0.002),
    "mypkg.search:Lookahead": (2.4, 0.006),
    "mypkg.search:RejectionSampling": (1.1, -0.008),
}


def _shifted(stats: Stats, factor: float, shift: float) -> dict:
    def clip(value: float) -> float:
        return min(1.0, max(0.0, value))

    return {**stats.model_dump(exclude={"by_level"}), "accuracy": clip(stats.accuracy + shift),
            "ci_low": clip(stats.ci_low + shift), "ci_high": clip(stats.ci_high + shift),
            "mean_generated_tokens": stats.mean_generated_tokens * factor, "mean_flops": stats.mean_flops * factor}


def twelve_by_two() -> list[SweepRow]:
    """The committed sweep's 10 series plus 7 derived strategies per model: 12 strategies x 2 models."""
    real = load_summary(SWEEP).rows
    rows = list(real)
    for name, (factor, slope) in DERIVED.items():
        for row in (r for r in real if r.strategy == "best_of_n"):
            shift = slope * (row.budget.bit_length() - 1)
            fields = _shifted(row, factor, shift)
            by_level = {level: Stats(**_shifted(stats, factor, shift)) for level, stats in row.by_level.items()}
            rows.append(SweepRow(**{**fields, "strategy": name, "by_level": by_level, "metrics": {}}))
    return rows


if __name__ == "__main__":
    from reasoner.eval.plots import plot_by_level, plot_curves

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rows = twelve_by_two()
    print(plot_curves(rows, out / "curve_12x2.png"), plot_by_level(rows, out / "by_level_12x2.png"))
