"""Sequential revision: chains of attempts, public-test feedback for code, blind for math."""

from __future__ import annotations

import asyncio

from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem
from reasoner.strategies.revision import Revision
from tests.scripted import ScriptedGenerator
from reasoner.verifiers.base import CodeTests

CODE = Problem(id="inc", prompt="Write f(x) returning x + 1.\nExample: f(1) == 2", domain="code",
               tests=CodeTests(asserts=["assert f(1) == 2", "assert f(5) == 6"]),
               public_tests=CodeTests(asserts=["assert f(1) == 2"]))
WRONG = "```python\ndef f(x):\n    return x + 2\n```"
RIGHT = "```python\ndef f(x):\n    return x + 1\n```"


def test_code_revision_sees_the_failing_public_assert_and_stops_when_fixed(verifiers):
    generator = ScriptedGenerator([WRONG, RIGHT, WRONG])
    result = asyncio.run(solve_problem(CODE, Revision(chains=1, revisions=3), generator, verifiers))
    assert len(generator.requests) == 2  # the fix passed the public example, so the chain stopped
    second_prompt = generator.requests[1].prompt
    assert "Previous attempt:" in second_prompt and "return x + 2" in second_prompt
    assert "f(1) == 2" in second_prompt.split("Feedback:")[1]
    assert result.verdict.correct


def test_math_revision_is_blind_and_runs_every_round(verifiers):
    problem = Problem(id="m", prompt="What is 2 + 2?", answer="4")
    generator = ScriptedGenerator(["\\boxed{5}", "\\boxed{4}", "\\boxed{4}"])
    result = asyncio.run(solve_problem(problem, Revision(chains=1, revisions=2), generator, verifiers))
    assert len(generator.requests) == 3
    assert all("Feedback" not in r.prompt for r in generator.requests)
    assert result.answer == "4" and result.verdict.correct


def test_chains_times_rounds_samples_and_last_pick(verifiers):
    problem = Problem(id="m", prompt="What is 2 + 2?", answer="4")
    generator = ScriptedGenerator(["\\boxed{4}"])
    result = asyncio.run(solve_problem(problem, Revision(chains=3, revisions=1), generator, verifiers))
    assert result.cost.samples == 6 and len(result.candidates) == 6


def test_vote_pick_counts_every_attempt(verifiers):
    problem = Problem(id="m", prompt="What is 2 + 2?", answer="4")
    # One chain: 4, 4, then a last attempt of 5. `last` picks 5, `vote` picks 4.
    last = asyncio.run(solve_problem(problem, Revision(revisions=2, pick="last"),
                                     ScriptedGenerator(["\\boxed{4}", "\\boxed{4}", "\\boxed{5}"]),
                                     verifiers))
    vote = asyncio.run(solve_problem(problem, Revision(revisions=2, pick="vote"),
                                     ScriptedGenerator(["\\boxed{4}", "\\boxed{4}", "\\boxed{5}"]),
                                     verifiers))
    assert last.answer == "5" and vote.answer == "4"
