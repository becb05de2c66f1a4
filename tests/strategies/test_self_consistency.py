"""Self-consistency votes over equivalent answers, never exact strings."""

from __future__ import annotations

import asyncio

from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem
from reasoner.strategies.self_consistency import SelfConsistency
from tests.scripted import ScriptedGenerator

PROBLEM = Problem(id="half", prompt="What is one half?", answer="1/2")


def run(texts, verifiers, logprobs=None, **options):
    generator = ScriptedGenerator(texts, logprobs)
    strategy = SelfConsistency(n=len(texts), **options)
    return asyncio.run(solve_problem(PROBLEM, strategy, generator, verifiers))


def test_equivalent_answers_vote_together(verifiers):
    texts = ["\\boxed{0.5}", "\\boxed{\\frac{1}{2}}", "\\boxed{3}", "\\boxed{3}", "\\boxed{1/2}"]
    result = run(texts, verifiers)
    assert result.verdict.correct
    assert result.answer in {"0.5", "\\frac{1}{2}", "1/2"}


def test_exact_string_majority_would_lose(verifiers):
    """Three spellings of 1/2 beat two identical wrong strings."""
    texts = ["\\boxed{3}", "\\boxed{3}", "\\boxed{0.5}", "\\boxed{\\frac12}", "\\boxed{1/2}"]
    assert run(texts, verifiers).verdict.correct


def test_weighted_vote_follows_confidence(verifiers):
    texts = ["\\boxed{3}", "\\boxed{3}", "\\boxed{1/2}"]
    logprobs = [-5.0, -5.0, -0.01]
    assert not run(texts, verifiers, logprobs).verdict.correct
    assert run(texts, verifiers, logprobs, weighted=True).verdict.correct


def test_candidates_without_answers_do_not_vote(verifiers):
    texts = ["no idea", "still no idea", "\\boxed{1/2}"]
    result = run(texts, verifiers, )
    assert result.chosen == 2 and result.verdict.correct


def test_vote_is_recorded_in_the_trace(verifiers):
    result = run(["\\boxed{2}", "\\boxed{2.0}", "\\boxed{5}"], verifiers)
    vote = next(event for event in result.trace if event.kind == "vote")
    assert sorted(len(group) for group in vote.data["groups"].values()) == [1, 2]
