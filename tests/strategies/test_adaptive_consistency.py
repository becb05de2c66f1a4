"""Adaptive self-consistency stops early on agreement and samples more on disagreement."""

from __future__ import annotations

import asyncio
from math import comb

import pytest

from reasoner.solve import solve_problem
from reasoner.types import Budget, Problem
from strategies.adaptive_consistency import AdaptiveConsistency, leader_settled
from tests.scripted import ScriptedGenerator

PROBLEM = Problem(id="p", prompt="What is 2 + 2?", answer="4")


def run(texts, math_verifier, code_verifier, budget=None, **options):
    generator = ScriptedGenerator(texts)
    result = asyncio.run(solve_problem(PROBLEM, AdaptiveConsistency(**options), generator, math_verifier,
                                       code_verifier, budget))
    return result, generator


@pytest.mark.parametrize(("a", "b"), [(0, 0), (3, 0), (4, 1), (7, 3), (10, 10)])
def test_beta_rule_matches_the_binomial_closed_form(a, b):
    n = a + b + 1
    assert leader_settled(a, b) == pytest.approx(sum(comb(n, k) for k in range(a + 1)) / 2**n)


def test_settled_thresholds():
    assert leader_settled(4, 0) > 0.95 > leader_settled(3, 0)
    assert leader_settled(5, 5) < 0.6


def test_unanimous_answers_stop_early(math_verifier, code_verifier):
    result, generator = run(["\\boxed{4}"], math_verifier, code_verifier, max_n=16, batch=2)
    assert len(result.candidates) == 4  # 4-0 is the first count with P >= 0.95
    assert result.verdict.correct and len(generator.requests) == 2


def test_contested_answers_use_the_whole_budget(math_verifier, code_verifier):
    result, _ = run(["\\boxed{4}", "\\boxed{5}"], math_verifier, code_verifier, max_n=12, batch=2)
    assert len(result.candidates) == 12


def test_budget_caps_adaptive_sampling(math_verifier, code_verifier):
    result, _ = run(["\\boxed{4}", "\\boxed{5}"], math_verifier, code_verifier, budget=Budget(samples=5),
                    max_n=16, batch=2)
    assert len(result.candidates) == 5 and result.stop_reason == "budget:samples"
