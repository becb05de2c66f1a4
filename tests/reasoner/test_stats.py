"""Sampling estimators agree with brute force over subsets; intervals and compute-optimal picks behave."""

from __future__ import annotations

from itertools import combinations
from math import comb

import pytest

from reasoner.eval.frontier import SweepRow, compute_optimal
from reasoner.stats import GradedSample, best_of_k, bootstrap_ci, pass_at_k, selected_at_k
from reasoner.types import Candidate, FinishReason
from reasoner.strategies.base import samples_of
from reasoner.strategies.self_consistency import SelfConsistency, tally


def maj_at_k(samples, k, weighted=False, draws=200, seed=0):
    return selected_at_k(samples, k, SelfConsistency(weighted=weighted).select, draws=draws, seed=seed)

# Two groups of two tie on count (label 0 has the higher logprob); label 2 is confident and
# wins a weighted vote; two samples have no answer; one correct sample lacks a logprob;
# samples 1 (wrong) and 2 (right) tie on the top score, and sample 3 has none.
SAMPLES = [
    GradedSample(label=0, correct=True, logprob=-0.5, score=0.2),
    GradedSample(label=1, correct=False, logprob=-0.9, score=0.9),
    GradedSample(label=0, correct=True, logprob=-1.5, score=0.9),
    GradedSample(label=1, correct=False, logprob=-0.7, score=None),
    GradedSample(label=None, correct=False, logprob=-0.1, score=0.5),
    GradedSample(label=2, correct=False, logprob=-0.01, score=-1.0),
    GradedSample(label=None, correct=False, logprob=None, score=0.4),
    GradedSample(label=3, correct=True, logprob=None, score=0.1),
]


def candidate(sample: GradedSample) -> Candidate:
    return Candidate(text="", num_tokens=1, finish_reason=FinishReason.STOP, cumulative_logprob=sample.logprob)


def tally_correct(samples: list[GradedSample], weighted: bool) -> bool:
    vote = tally(samples_of([candidate(s) for s in samples], [s.label for s in samples]), weighted)
    return vote.winner is not None and samples[vote.winner].correct


def brute_force(samples: list[GradedSample], k: int, outcome) -> float:
    subsets = list(combinations(samples, k))
    return sum(outcome(list(subset)) for subset in subsets) / len(subsets)


@pytest.mark.parametrize(("n", "c", "k", "expected"), [
    (5, 2, 1, 0.4), (5, 2, 2, 1 - 3 / 10), (5, 2, 4, 1.0), (10, 1, 3, 0.3), (4, 0, 2, 0.0), (6, 6, 3, 1.0)])
def test_pass_at_k_is_the_closed_form(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected)
    assert pass_at_k(n, c, k) == pytest.approx(1 - comb(n - c, k) / comb(n, k))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_pass_at_k_equals_enumerating_every_subset(k):
    correct = [True, False, False, True, False]
    share = sum(any(subset) for subset in combinations(correct, k)) / comb(len(correct), k)
    assert pass_at_k(len(correct), sum(correct), k) == pytest.approx(share)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("subset", [(0, 1, 2, 3), (1, 3, 0, 2), (1, 3, 0), (4, 6), (0, 5), (5, 0, 2), (7, 6, 1),
                                    (0, 1)])
def test_select_on_samples_is_the_vote_solve_casts_on_candidates(subset, weighted):
    samples = [SAMPLES[i] for i in subset]
    vote = tally(samples_of([candidate(s) for s in samples], [s.label for s in samples]), weighted)
    assert SelfConsistency(weighted=weighted).select(samples) == vote.winner


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("k", [1, 2, 3, 5, 8])
def test_exact_maj_at_k_equals_voting_on_every_subset(k, weighted):
    expected = brute_force(SAMPLES, k, lambda subset: tally_correct(subset, weighted))
    assert maj_at_k(SAMPLES, k, weighted=weighted, draws=comb(len(SAMPLES), k)) == pytest.approx(expected)


@pytest.mark.parametrize("pool", [
    [GradedSample(label=i % 3, correct=False, logprob=-1.0) for i in range(16)],  # no sample right
    [GradedSample(label=0, correct=True, logprob=-1.0 - i) for i in range(16)],  # all answered and right
    [GradedSample(label=i, correct=True, logprob=-1.0) for i in range(16)],  # right under different labels
])
@pytest.mark.parametrize("k", [1, 4, 16])
def test_maj_at_k_shortcut_for_uniform_pools_matches_brute_force(pool, k):
    expected = brute_force(pool, k, lambda subset: tally_correct(subset, False))
    assert maj_at_k(pool, k, draws=comb(16, k)) == expected


def test_a_pool_with_unanswered_samples_is_still_enumerated():
    pool = [GradedSample(label=0, correct=True, logprob=-1.0)] + [GradedSample(label=None, correct=False)] * 3
    # Subsets of 1 pick the answered sample once in 4 times; no shortcut may claim 1.0.
    assert maj_at_k(pool, 1, draws=4) == pytest.approx(0.25)


def test_sampled_maj_at_k_is_close_to_the_exact_value():
    samples = SAMPLES + SAMPLES[:4]  # 12 samples, C(12, 6) = 924 subsets
    exact = maj_at_k(samples, 6, draws=924)
    estimate = maj_at_k(samples, 6, draws=800, seed=3)
    assert estimate != exact  # really sampled
    assert estimate == pytest.approx(exact, abs=0.06)


def best_pick_correct(subset: list[GradedSample]) -> bool:
    scores = [s.score if s.score is not None else float("-inf") for s in subset]
    return subset[max(range(len(subset)), key=lambda i: scores[i])].correct


@pytest.mark.parametrize("k", [1, 2, 3, 6, 8])
def test_best_of_k_equals_picking_the_top_score_of_every_subset(k):
    assert best_of_k(SAMPLES, k) == pytest.approx(brute_force(SAMPLES, k, best_pick_correct))


def test_bootstrap_interval_contains_the_mean():
    values = [1, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0] * 3
    low, high = bootstrap_ci(values, resamples=1000, seed=0)
    mean = sum(values) / len(values)
    assert low < mean < high


def test_bootstrap_interval_narrows_with_more_problems():
    pattern = [1, 0, 0, 1, 1, 0, 0, 0, 1, 0]
    few_low, few_high = bootstrap_ci(pattern * 2, seed=0)
    many_low, many_high = bootstrap_ci(pattern * 50, seed=0)
    assert many_high - many_low < (few_high - few_low) / 3


def stats(accuracy: float, ci: tuple[float, float], flops: float) -> dict:
    return dict(problems=10, accuracy=accuracy, ci_low=ci[0], ci_high=ci[1], mean_generated_tokens=flops / 100,
                mean_flops=flops, mean_wall_s=1.0)


def row(strategy: str, budget: int, accuracy: float, ci: tuple[float, float], flops: float,
        by_level: dict | None = None) -> SweepRow:
    return SweepRow(model="m", strategy=strategy, budget=budget, subsampled=False, by_level=by_level or {},
                    **stats(accuracy, ci, flops))


def test_compute_optimal_takes_the_cheapest_row_inside_the_best_interval():
    rows = [row("self_consistency", 16, 0.80, (0.70, 0.90), 1600.0),
            row("self_consistency", 4, 0.72, (0.60, 0.82), 400.0),
            row("cot", 1, 0.50, (0.40, 0.60), 100.0)]
    choice = compute_optimal(rows)["all"]
    assert (choice.strategy, choice.budget) == ("self_consistency", 4)
    assert choice.best == "m/self_consistency@16"


def test_compute_optimal_chooses_per_level():
    rows = [row("cot", 1, 0.5, (0.4, 0.6), 100.0,
                {"1": stats(0.9, (0.8, 1.0), 90.0), "3": stats(0.1, (0.0, 0.2), 110.0)}),
            row("self_consistency", 16, 0.7, (0.6, 0.8), 1600.0,
                {"1": stats(0.95, (0.9, 1.0), 1500.0), "3": stats(0.45, (0.35, 0.55), 1700.0)})]
    choices = compute_optimal(rows)
    assert set(choices) == {"all", "1", "3"}
    assert (choices["1"].strategy, choices["1"].mean_flops) == ("cot", 90.0)
    assert (choices["3"].strategy, choices["3"].accuracy) == ("self_consistency", 0.45)
