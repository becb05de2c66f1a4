"""Sweep rows and the compute-optimal choice: per-problem outcomes averaged with their intervals.

`mean_stats` averages a row of a compute sweep (accuracy with a bootstrap
interval over problems, mean tokens, FLOPs and wall time), and
`compute_optimal` picks, per difficulty level, the cheapest row that is as
good as the best (`TIE_RULE`). Not here: running models, reading files, or
the estimators themselves (`reasoner.stats`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from reasoner.stats import bootstrap_ci


TIE_RULE = ("a row reaches the best at a level when its accuracy there is at least the low end of the "
            "most accurate row's 95% interval; the cheapest such row by mean FLOPs per problem is named "
            "(then fewer tokens, then the smaller budget)")


class Stats(BaseModel):
    """Accuracy and mean cost of one row over a set of problems."""

    problems: int
    """Problems averaged over."""
    accuracy: float
    """Mean (expected) correctness."""
    ci_low: float
    """Low end of the 95% bootstrap interval over problems."""
    ci_high: float
    """High end of that interval."""
    mean_generated_tokens: float
    """Generated tokens per problem."""
    mean_flops: float
    """Estimated FLOPs per problem: 2 x parameters x (prompt + generated) tokens."""
    mean_wall_s: float
    """Wall seconds per problem under the sweep's concurrency; an estimate for subsampled rows."""


class SweepRow(Stats):
    """One model x strategy x budget."""

    model: str
    """Model name or path."""
    strategy: str
    """Strategy name."""
    budget: int
    """Samples per problem."""
    subsampled: bool
    """Estimated from the shared samples (costs scaled by budget / n) rather than run."""
    errors: int = 0
    """Problems whose run failed with an error (counted as not correct)."""
    metrics: dict[str, float] = Field(default_factory=dict)
    """Subsampled rows: pass@k, maj@k, weighted maj@k and best-of-k at this budget."""
    by_level: dict[str, Stats] = Field(default_factory=dict)
    """The same per difficulty level."""

    @property
    def name(self) -> str:
        return f"{Path(self.model).name}/{self.strategy}@{self.budget}"


class Choice(BaseModel):
    """The compute-optimal row at one difficulty level."""

    model: str
    strategy: str
    budget: int
    accuracy: float
    """Its accuracy at this level."""
    mean_flops: float
    """Its FLOPs per problem at this level."""
    best: str
    """The most accurate row at this level, as model/strategy@budget."""
    best_accuracy: float
    best_ci_low: float
    """What `accuracy` had to reach (see `TIE_RULE`)."""


def mean_stats(values: Sequence[float], tokens: Sequence[float], flops: Sequence[float],
               wall_s: Sequence[float], resamples: int = 1000, seed: int = 0) -> Stats:
    """Per-problem values and costs (in the same problem order) averaged, with a bootstrap interval."""
    low, high = bootstrap_ci(values, resamples, seed=seed)
    count = len(values)
    return Stats(problems=count, accuracy=sum(values) / count, ci_low=low, ci_high=high,
                 mean_generated_tokens=sum(tokens) / count, mean_flops=sum(flops) / count,
                 mean_wall_s=sum(wall_s) / count)


def compute_optimal(rows: Sequence[SweepRow]) -> dict[str, Choice]:
    """Per level ("all" too), the cheapest row whose accuracy reaches the best (see `TIE_RULE`)."""
    levels = sorted({level for row in rows for level in row.by_level}, key=int)
    choices = {}
    for level in ["all", *levels]:
        scored = [(row, row if level == "all" else row.by_level[level]) for row in rows
                  if level == "all" or level in row.by_level]
        best_row, best = max(scored, key=lambda rs: (rs[1].accuracy, -rs[1].mean_flops))
        reaching = [rs for rs in scored if rs[1].accuracy >= best.ci_low - 1e-12]
        row, stats = min(reaching, key=lambda rs: (rs[1].mean_flops, rs[1].mean_generated_tokens, rs[0].budget))
        choices[level] = Choice(model=row.model, strategy=row.strategy, budget=row.budget, accuracy=stats.accuracy,
                                mean_flops=stats.mean_flops, best=best_row.name, best_accuracy=best.accuracy,
                                best_ci_low=best.ci_low)
    return choices
