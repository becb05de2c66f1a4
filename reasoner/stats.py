"""Estimators over samples and problems: pass@k, what a selection rule picks from k of n samples, bootstrap CIs.

The estimators take the n graded samples of one problem and say how a
strategy that drew only k of them would have fared, in expectation over the
C(n, k) subsets of size k:

- `pass_at_k`: some sample in the subset is correct (closed form).
- `selected_at_k`: the sample a strategy's own `select` picks from the subset
  is correct (for self-consistency, the majority vote `tally` casts). Exact
  by enumeration when C(n, k) is at most `draws`, else a mean over `draws`
  seeded random subsets.
- `best_of_k`: the subset's top-scored sample is correct (exact, closed form).

`bootstrap_ci` turns per-problem values into a percentile interval by
resampling problems. Strategies replay themselves with these (a sweep's
shared samples), sweeps average rows with them, and the benchmarks take their
intervals from here. Pure arithmetic on the ground floor: no models, no files.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import combinations
from math import comb

import numpy as np

from reasoner.types import Sample


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


class GradedSample(Sample):
    """One candidate of a problem as the estimators see it: a `Sample` and whether it was right."""

    correct: bool
    """Whether its own answer passed the verifier."""


def subset_mean(n: int, k: int, value: Callable[[tuple[int, ...]], float], draws: int = 200,
                seed: int = 0) -> float:
    """Mean of `value` over the size-k subsets of range(n), as sorted index tuples.

    Exact (every subset once) when there are at most `draws` subsets; else the
    mean over `draws` uniformly random subsets from a generator seeded with `seed`.
    """
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    if comb(n, k) <= draws:
        return sum(value(subset) for subset in combinations(range(n), k)) / comb(n, k)
    rng = np.random.default_rng(seed)
    picks = np.sort(np.argsort(rng.random((draws, n)), axis=1)[:, :k], axis=1)
    return sum(value(tuple(int(i) for i in row)) for row in picks) / draws


def selected_at_k(samples: Sequence[GradedSample], k: int, select: Callable[[Sequence[Sample]], int | None],
                  draws: int = 200, seed: int = 0) -> float:
    """Expected correctness of the sample `select` picks from k of the samples (see `subset_mean`).

    `select` is a strategy's own choice rule (e.g. `SelfConsistency.select`).
    When no sample is right, or every sample answered and is right, every
    choice among answered samples gives the same verdict, so that verdict is
    returned without enumerating subsets (most problems of a sweep are like that).
    """
    if not any(sample.correct for sample in samples):
        return 0.0
    if all(sample.correct and sample.label is not None for sample in samples):
        return 1.0

    def chose_correct(subset: tuple[int, ...]) -> float:
        chosen = [samples[i] for i in subset]
        winner = select(chosen)
        return float(winner is not None and chosen[winner].correct)

    return subset_mean(len(samples), k, chose_correct, draws, seed)


def best_of_k(samples: Sequence[GradedSample], k: int) -> float:
    """Expected correctness of the top-scored of k samples, exactly.

    Rank samples by score (higher first, earlier index first among equals,
    as `max` picks in best-of-n). A subset picks its best-ranked member, so
    the sample at rank r (0-based) is picked with probability
    C(n - 1 - r, k - 1) / C(n, k).
    """
    n = len(samples)
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got n={n}, k={k}")
    ranked = sorted(range(n), key=lambda i: (-_score(samples[i]), i))
    hits = sum(comb(n - 1 - rank, k - 1) for rank, i in enumerate(ranked) if samples[i].correct)
    return hits / comb(n, k)


def bootstrap_ci(values: Sequence[float], resamples: int = 1000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile interval of the mean of `values`, resampling them with replacement.

    The same `seed` and number of values give the same resamples, so
    intervals of rows over the same problems are paired.
    """
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        raise ValueError("no values to bootstrap")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1.0 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def _score(sample: GradedSample) -> float:
    return sample.score if sample.score is not None else float("-inf")
