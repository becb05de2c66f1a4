"""The pyfunc family: canonical solutions pass their tests, wrong attempts do not.

Solutions are our own generated code, so they run in-process with `exec`.
"""

from __future__ import annotations

import random
import re

import pytest

from reasoner.tasks import load_task
from reasoner.tasks.pyfunc import LEVELS, STAGES, parse_assert, wrong_attempt

FAILURES = (AssertionError, ValueError, IndexError, ZeroDivisionError)


@pytest.fixture(scope="module")
def test_split():
    return load_task("pyfunc", "test")


def code_of(solution: str) -> str:
    match = re.fullmatch(r"```python\n(.*)\n```", solution, re.DOTALL)
    assert match is not None, solution
    return match[1]


def passes(solution: str, asserts: list[str]) -> bool:
    namespace: dict = {}
    exec(code_of(solution), namespace)  # noqa: S102 - our own generated code
    try:
        for statement in asserts:
            exec(statement, namespace)  # noqa: S102
    except FAILURES:
        return False
    return True


def test_canonical_solutions_pass_hidden_tests(test_split):
    for problem in test_split:
        assert passes(problem.metadata["solution"], problem.tests.asserts), problem.id


def test_canonical_solutions_pass_public_tests(test_split):
    for problem in test_split:
        assert passes(problem.metadata["solution"], problem.public_tests.asserts), problem.id


def test_prompt_shows_the_public_tests(test_split):
    for problem in test_split:
        for statement in problem.public_tests.asserts:
            assert "Example: " + statement.removeprefix("assert ") in problem.prompt


def test_test_counts_follow_the_level(test_split):
    for problem in test_split:
        spec = LEVELS[problem.level]
        assert len(problem.public_tests.asserts) == spec.examples
        assert 3 <= len(problem.tests.asserts) == spec.hidden <= 6


def test_hidden_tests_differ_from_examples(test_split):
    for problem in test_split:
        assert not set(problem.tests.asserts) & set(problem.public_tests.asserts)


def test_hidden_tests_defeat_a_constant_function(test_split):
    for problem in test_split:
        outputs = {repr(parse_assert(statement)[1]) for statement in problem.tests.asserts}
        assert len(outputs) >= 2, problem.id


def test_stage_count_follows_the_level(test_split):
    for problem in test_split:
        depth = len(problem.metadata["stages"])
        low, high = LEVELS[problem.level].depth
        assert low <= depth <= high


def test_split_uses_most_stages(test_split):
    used = {name for problem in test_split for name, _ in problem.metadata["stages"]}
    assert len(used) >= 0.8 * len(STAGES)


def test_wrong_attempts_fail_some_test(test_split):
    rng = random.Random(0)
    for problem in test_split:
        attempt, _ = wrong_attempt(problem, rng)
        assert not passes(attempt, problem.public_tests.asserts + problem.tests.asserts), attempt


def test_feedback_names_a_failing_public_test(test_split):
    rng = random.Random(1)
    for problem in test_split:
        attempt, feedback = wrong_attempt(problem, rng)
        if feedback is None:
            assert passes(attempt, problem.public_tests.asserts)
            continue
        statement = re.fullmatch(r"(.*) (failed|raised \w+)", feedback)[1]
        assert statement in problem.public_tests.asserts
        assert not passes(attempt, [statement])


def test_feedback_is_usually_present(test_split):
    rng = random.Random(2)
    feedback = [wrong_attempt(problem, rng)[1] for problem in test_split]
    assert sum(note is not None for note in feedback) > 0.7 * len(feedback)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_text_is_short(test_split, level):
    """Prompt plus solution stays well inside a 384-token context."""
    lengths = [len(p.prompt) + len(p.metadata["solution"]) for p in test_split if p.level == level]
    assert max(lengths) <= 150 + 80 * level
