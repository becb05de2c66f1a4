"""Adaptive self-consistency stops early on agreement and samples more on disagreement."""

from __future__ import annotations

import asyncio
from math import comb

import pytest

from reasoner.jobs.solve import solve_problem
from reasoner.types import Budget, Problem
from reasoner.strategies.adaptive_consistency import AdaptiveConsistency, leader_settled
from tests.scripted import ScriptedGenerator

PROBLEM = Problem(id="p", prompt="What is 2 + 2?", answer="4")


def run(texts, verifiers, budget=None, **options):
    generator = ScriptedGenerator(texts)
    result = asyncio.run(solve_problem(PROBLEM, AdaptiveConsistency(**options), generator, verifiers, budget))
    return result, generator


@pytest.mark.parametrize(("a", "b"), [(0, 0), (3, 0), (4, 1), (7, 3), (10, 10)])
def test_beta_rule_matches_the_binomial_closed_form(a, b):
    n = a + b + 1
    assert leader_settled(a, b) == pytest.approx(sum(comb(n, k) for k in range(a + 1)) / 2**n)


def test_settled_thresholds():
    assert leader_settled(4, 0) > 0.95 > leader_settled(3, 0)
    assert leader_settled(5, 5) < 0.6


def test_unanimous_answers_stop_early(verifiers):
    result, generator = run(["\\boxed{4}"], verifiers, max_n=16, batch=2)
    assert len(result.candidates) == 2  # 2-0 gives P = 7/8, past the default confidence 0.85
    assert result.verdict.correct and len(generator.requests) == 1


def test_higher_confidence_needs_more_agreement(verifiers):
    result, generator = run(["\\boxed{4}"], verifiers, max_n=16, batch=2, confidence=0.95)
    assert len(result.candidates) == 4  # 4-0 is the first count with P >= 0.95
    assert result.verdict.correct and len(generator.requests) == 2


def test_contested_answers_use_the_whole_budget(verifiers):
    result, _ = run(["\\boxed{4}", "\\boxed{5}"], verifiers, max_n=12, batch=2)
    assert len(result.candidates) == 12


def test_budget_caps_adaptive_sampling(verifiers):
    result, _ = run(["\\boxed{4}", "\\boxed{5}"], verifiers, budget=Budget(samples=5),
                    max_n=16, batch=2)
    assert len(result.candidates) == 5 and result.stop_reason == "budget:samples"


def stop_events(result):
    return [event.data for event in result.trace if event.kind == "stop"]


def test_scattered_answers_stop_for_futility(verifiers):
    texts = [f"\\boxed{{{k}}}" for k in range(20)]
    result, _ = run(texts, verifiers, max_n=16, batch=2, futility=0.2)
    # 1 vote of 4: P(Binomial(5, 1/2) <= 1) = 6/32 < 0.2; 1 of 2 (P = 0.5) does not stop.
    assert len(result.candidates) == 4
    assert stop_events(result) == [{"rule": "futility", "samples": 4}]


def test_defaults_stop_scattered_answers_after_nine(verifiers):
    texts = [f"\\boxed{{{k}}}" for k in range(20)]
    result, generator = run(texts, verifiers, max_n=16)
    # Rounds of 3: 1 vote of 6 gives P(Binomial(7, 1/2) <= 1) = 8/128, above 0.05; 1 of 9 gives 11/1024.
    assert len(result.candidates) == 9 and len(generator.requests) == 3
    assert stop_events(result) == [{"rule": "futility", "samples": 9}]


def test_defaults_keep_a_plurality_of_a_third_until_it_is_settled(verifiers):
    texts = [t for k in range(8) for t in ("\\boxed{4}", f"\\boxed{{{10 + 2 * k}}}", f"\\boxed{{{11 + 2 * k}}}")]
    result, _ = run(texts, verifiers, max_n=16)
    # After 9 samples the leader has 3 votes to the runner-up's 1: P = 26/32 < 0.85; after 12, 4 to 1:
    # P = 57/64 >= 0.85. Never futile on the way (3 of 9: P(Binomial(10, 1/2) <= 3) = 176/1024).
    assert len(result.candidates) == 12 and result.verdict.correct
    assert stop_events(result) == [{"rule": "beta", "samples": 12}]


def test_futility_zero_turns_the_stop_off(verifiers):
    texts = [f"\\boxed{{{k}}}" for k in range(20)]
    result, _ = run(texts, verifiers, max_n=16, batch=2, futility=0.0)
    assert len(result.candidates) == 16 and stop_events(result) == []


def test_a_plurality_amid_scattered_answers_keeps_sampling(verifiers):
    # The right answer takes 2 of every 4 samples and the rest scatter: never settled, never futile.
    texts = ["\\boxed{4}", "\\boxed{7}", "\\boxed{4}", "\\boxed{8}", "\\boxed{4}", "\\boxed{9}",
             "\\boxed{4}", "\\boxed{10}"]
    result, _ = run(texts, verifiers, max_n=8, batch=2, confidence=0.95, futility=0.2)
    assert len(result.candidates) == 8 and result.verdict.correct


@pytest.mark.parametrize(("leader", "others", "futile"), [(1, 3, True), (1, 1, False), (2, 2, False),
                                                          (2, 6, True), (3, 5, False)])
def test_futility_thresholds(leader, others, futile):
    assert (leader_settled(leader, others) < 0.2) is futile


@pytest.mark.parametrize("answers", [
    [4, 4, 4, 4, 4], [4, 5, 6, 7, 8, 9, 10, 11], [4, 5, 4, 6, 4, 7, 4, 8, 4, 9, 4, 4, 4, 4, 4, 4],
    [4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5],
])
@pytest.mark.parametrize("rule", [{}, {"confidence": 0.95, "futility": 0.2}])
def test_samples_drawn_stops_where_solve_stops(answers, rule, verifiers):
    texts = [f"\\boxed{{{a}}}" for a in answers]
    result, _ = run(texts, verifiers, max_n=len(answers), batch=2, **rule)
    replayed = AdaptiveConsistency(max_n=len(answers), batch=2, **rule).samples_drawn(answers)
    assert replayed == len(result.candidates)


def test_n_caps_adaptive_sampling_as_it_caps_self_consistency():
    from reasoner.strategies import make_strategy

    assert make_strategy("adaptive_consistency", n=8).max_n == 8
    assert make_strategy("adaptive_consistency", max_n=4).max_n == 4


@pytest.mark.parametrize("first", ["reasoner.strategies", "reasoner.verifiers", "reasoner"])
def test_each_top_level_package_imports_first_in_a_fresh_interpreter(first):
    import subprocess
    import sys

    code = f"import {first}; from reasoner.strategies import make_strategy; from reasoner import Reasoner; print('ok')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_cancel_mode_is_replayed_with_samples_finishing_shortest_first():
    from reasoner.stats import GradedSample

    labels, tokens = [1, 0, 0, 0, 1], [50, 5, 6, 7, 60]
    samples = [GradedSample(label=label, correct=label == 0, logprob=-1.0) for label in labels]
    replay = AdaptiveConsistency(mode="cancel", max_n=5).replay(samples, tokens, 5, draws=10, seed=0)
    # 5 then 6 finish first and agree: 2 to 0 settles it (7/8 >= 0.85); everything else stops at 6 tokens
    assert replay.metrics["finished_samples"] == 2.0
    assert replay.generated_tokens == 5 + 6 + 6 + 6 + 6 and replay.accuracy == 1.0
    assert replay.samples == 5 and replay.calls == 1


def test_cancel_mode_trusts_whatever_finishes_first():
    from reasoner.stats import GradedSample

    labels, tokens = [0, 0, 0, 1, 1], [40, 41, 42, 4, 5]  # short wrong answers finish first
    samples = [GradedSample(label=label, correct=label == 0, logprob=-1.0) for label in labels]
    cancel = AdaptiveConsistency(mode="cancel", max_n=5).replay(samples, tokens, 5, draws=10, seed=0)
    assert cancel.accuracy == 0.0 and cancel.generated_tokens == 4 + 5 + 5 + 5 + 5


def test_adaptive_cancel_is_the_cancel_mode_under_its_own_name():
    from reasoner.strategies import make_strategy

    strategy = make_strategy("adaptive_cancel", n=8)
    assert strategy.mode == "cancel" and strategy.max_n == 8 and strategy.name == "adaptive_cancel"
