"""Best-of-n picks by its scorer: execution on public examples for code, logprob otherwise."""

from __future__ import annotations

import asyncio

from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem
from reasoner.strategies.best_of_n import BestOfN
from tests.scripted import ScriptedGenerator
from reasoner.verifiers.base import CodeTests

CODE = Problem(
    id="inc", prompt="Write f(x) returning x + 1.\nExample: f(1) == 2", domain="code",
    tests=CodeTests(asserts=["assert f(1) == 2", "assert f(41) == 42"]),
    public_tests=CodeTests(asserts=["assert f(1) == 2"]),
)
WRONG = "```python\ndef f(x):\n    return x + 2\n```"
RIGHT = "```python\ndef f(x):\n    return x + 1\n```"


def test_execution_picks_the_program_that_passes_public_examples(verifiers):
    # The wrong programs are far more confident; only execution can pick the right one.
    generator = ScriptedGenerator([WRONG, WRONG, RIGHT, WRONG], logprobs=[-0.1, -0.1, -3.0, -0.1])
    result = asyncio.run(solve_problem(CODE, BestOfN(n=4), generator, verifiers))
    assert result.chosen == 2
    assert result.verdict.correct
    assert result.cost.verifier_seconds > 0


def test_logprob_scorer_picks_the_most_confident(verifiers):
    generator = ScriptedGenerator([WRONG, WRONG, RIGHT, WRONG], logprobs=[-0.1, -0.1, -3.0, -0.1])
    result = asyncio.run(solve_problem(CODE, BestOfN(n=4, scorer="logprob"), generator,
                                       verifiers))
    assert result.chosen == 0 and not result.verdict.correct


def test_math_falls_back_to_logprob(verifiers):
    problem = Problem(id="m", prompt="2+2?", answer="4")
    generator = ScriptedGenerator(["\\boxed{5}", "\\boxed{4}"], logprobs=[-2.0, -0.5])
    result = asyncio.run(solve_problem(problem, BestOfN(n=2), generator, verifiers))
    assert result.answer == "4" and result.verdict.correct
