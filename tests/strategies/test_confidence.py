"""DeepConf's confidence measures, self-certainty, and the offline selection rule, on numbers worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reasoner.strategies.confidence import (WindowMonitor, group_confidences, self_certainty, token_confidence,
                                             token_confidences, trace_confidence)
from reasoner.strategies.deepconf import DeepConf, DeepConfOnline, kept_indices, quantile, weighted_vote
from reasoner.types import Sample


def test_token_confidence_is_minus_the_mean_top_k_logprob():
    assert token_confidence([-0.1, -2.0, -3.9]) == pytest.approx(2.0)


def test_a_peaked_distribution_is_more_confident_than_a_flat_one():
    peaked = [math.log(p) for p in (0.97, 0.01, 0.01)]
    flat = [math.log(p) for p in (0.34, 0.33, 0.33)]
    assert token_confidence(peaked) > token_confidence(flat)


def test_groups_slide_one_token_at_a_time():
    assert group_confidences([1, 2, 3, 4, 5], 2) == [1.5, 2.5, 3.5, 4.5]
    assert group_confidences([1, 2, 3], 5) == [2.0]  # shorter than the window: one group
    assert group_confidences([], 4) == []


def test_the_monitor_reports_the_same_groups_as_it_goes():
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    monitor = WindowMonitor(3)
    seen = [g for v in values if (g := monitor.push(v)) is not None]
    assert seen == pytest.approx(group_confidences(values, 3)) and monitor.lowest == pytest.approx(min(seen))


@pytest.mark.parametrize(("metric", "expected"), [
    ("lowest_group", 1.5), ("mean", 3.0), ("tail", 4.5), ("bottom_share", 2.0)])
def test_trace_metrics(metric, expected):
    values = [1, 2, 3, 4, 5]  # groups of 2: 1.5, 2.5, 3.5, 4.5
    assert trace_confidence(values, metric, window=2, share=0.5, tail=2) == pytest.approx(expected)


def test_a_trace_without_tokens_has_no_confidence():
    assert trace_confidence([], "lowest_group") is None and self_certainty([], 10) is None


def _kl_from_uniform(p: np.ndarray) -> float:
    return float(np.sum(np.log((1 / len(p)) / p)) / len(p))


def test_self_certainty_is_exact_when_k_covers_the_vocabulary():
    p = np.array([0.5, 0.25, 0.125, 0.125])
    top = [sorted(np.log(p), reverse=True)]
    assert self_certainty(top, 4) == pytest.approx(_kl_from_uniform(p))


def test_self_certainty_from_the_top_k_is_a_lower_bound():
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.dirichlet(np.full(50, 0.3))
        top = [sorted(np.log(p), reverse=True)[:5]]
        assert self_certainty(top, 50) <= _kl_from_uniform(p) + 1e-9
        assert self_certainty(top, 50) >= 0


def test_token_confidences_of_a_trace():
    assert token_confidences([[-1.0, -3.0], [-2.0, -2.0]]) == [2.0, 2.0]


def samples(labels, scores):
    return [Sample(label=label, score=score) for label, score in zip(labels, scores)]


def test_offline_keeps_the_most_confident_share_of_the_answered():
    pool = samples([0, 1, None, 1, 0], [5.0, 1.0, 9.0, 2.0, 4.0])
    assert kept_indices(pool, 0.5) == [0, 4]  # ceil(0.5 x 4 answered); the unanswered 9.0 is not ranked
    assert kept_indices(pool, 1.0) == [0, 1, 3, 4]
    assert kept_indices(samples([None], [1.0]), 0.5) == []


def test_the_weighted_vote_counts_confidence_not_heads():
    pool = samples([0, 1, 1], [10.0, 3.0, 3.0])
    assert weighted_vote(pool, [0, 1, 2]).winner == 0  # one confident trace outweighs two doubtful ones
    assert DeepConf(keep=1.0).select(pool) == 0
    assert DeepConf(keep=0.5).select(samples([0, 1, 1, 1], [1.0, 2.0, 3.0, 4.0])) == 3


def test_filtering_changes_the_winner_against_the_plain_majority():
    pool = samples([0, 0, 0, 1, 1], [1.0, 1.0, 1.0, 5.0, 6.0])
    assert DeepConf(keep=1.0).select(pool) == 4  # 11 against 3
    assert DeepConf(keep=0.4).select(pool) == 4


def test_quantile_interpolates_like_numpy():
    values = [3.0, 1.0, 4.0, 1.5, 9.0]
    for q in (0.0, 0.1, 0.5, 0.9, 1.0):
        assert quantile(values, q) == pytest.approx(float(np.quantile(values, q)))


@pytest.mark.parametrize(("options", "field"), [
    ({"warmup": 9, "n": 8}, "warmup"), ({"threshold": float("nan")}, "threshold"),
    ({"threshold": float("inf")}, "threshold"), ({"consensus": 0.5}, "consensus"), ({"keep": 0.0}, "keep"),
    ({"window": 0}, "window"), ({"window": 10**6}, "window"), ({"top_logprobs": 21}, "top_logprobs")])
def test_bad_online_options_name_the_field(options, field):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=field):
        DeepConfOnline(**options)


@pytest.mark.parametrize(("name", "options", "field"), [
    ("best_of_n", {"scorer": "self_certainty", "scorer_options": {"top_logprobs": 21}}, "scorer_options.top_logprobs"),
    ("best_of_n", {"scorer": "confidence", "scorer_options": {"metric": "loudest"}}, "scorer_options.metric"),
    ("self_consistency", {"weight_scorer": "confidence", "scorer_options": {"window": 0}}, "scorer_options.window"),
    ("best_of_n", {"scorer": "self_certainty", "scorer_options": {"k": 3}}, "scorer_options.k")])
def test_a_bad_scorer_option_is_a_config_error_naming_it(name, options, field):
    from reasoner.errors import ConfigError
    from reasoner.strategies import build_strategy

    with pytest.raises(ConfigError) as caught:
        build_strategy(name, options)
    assert caught.value.field == field
