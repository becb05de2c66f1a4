"""The arith family: step checking, reference solutions and wrong attempts."""

from __future__ import annotations

import random

import pytest

from reasoner.tasks import load_task
from reasoner.tasks.arith import (
    LEVELS, VARIED_EXTRA_LINES, boxed_answer, check_step, parse_steps, varied_solution, wrong_attempt,
)


@pytest.fixture(scope="module")
def test_split():
    return load_task("arith", "test")


@pytest.mark.parametrize(("line", "expected"), [
    ("42 * 3 = 126", True),
    ("42 * 3 = 125", False),
    ("7 + 5 = 12", True),
    ("  7 + 5 = 12  ", True),
    ("9 - 7 = 2", True),
    ("5 - 7 = -2", True),
    ("84 / 7 = 12", True),
    ("85 / 7 = 12", False),
    ("85 / 0 = 0", False),
    ("100 + 1 = 110", False),
    ("The answer is \\boxed{12}.", None),
    ("", None),
    ("7 + 5", None),
    ("7 + 5 = twelve", None),
    ("x + 5 = 12", None),
])
def test_check_step(line, expected):
    assert check_step(line) is expected


def test_every_reference_step_is_correct(test_split):
    for problem in test_split:
        lines = problem.metadata["solution"].splitlines()
        assert all(check_step(line) is True for line in lines[:-1]), problem.id
        assert check_step(lines[-1]) is None


def test_boxed_answer_is_the_answer(test_split):
    for problem in test_split:
        assert boxed_answer(problem.metadata["solution"]) == problem.answer, problem.id


def test_step_count_is_the_level_spec(test_split):
    for problem in test_split:
        assert len(parse_steps(problem.metadata["solution"])) == LEVELS[problem.level].steps


def test_values_stay_positive_and_within_cap(test_split):
    for problem in test_split:
        for a, op, b in parse_steps(problem.metadata["solution"]):
            assert a > 0 and b > 0, problem.id
        assert 1 <= int(problem.answer) <= LEVELS[problem.level].cap


def test_operands_grow_with_level(test_split):
    largest = {level: max(int(p.answer) for p in test_split if p.level == level) for level in LEVELS}
    assert largest[1] < 20 < largest[3] < largest[5]


def test_wrong_attempts_have_a_wrong_answer(test_split):
    rng = random.Random(0)
    for problem in test_split:
        attempt, feedback = wrong_attempt(problem, rng)
        assert boxed_answer(attempt) not in (None, problem.answer), problem.id
        assert feedback is None


def test_wrong_attempts_keep_the_step_format(test_split):
    rng = random.Random(1)
    for problem in test_split:
        attempt, _ = wrong_attempt(problem, rng)
        lines = attempt.splitlines()
        assert all(check_step(line) is not None for line in lines[:-1]), attempt
        assert len(lines) == len(problem.metadata["solution"].splitlines())


def test_wrong_attempts_contain_a_visible_error_in_most_cases(test_split):
    """Most slips are wrong steps; wrong operands give correct steps and a wrong answer."""
    rng = random.Random(2)
    attempts = [wrong_attempt(problem, rng)[0] for problem in test_split]
    with_bad_step = sum(any(check_step(line) is False for line in a.splitlines()) for a in attempts)
    assert 0.3 * len(attempts) < with_bad_step < len(attempts)


@pytest.mark.parametrize("level", sorted(LEVELS))
def test_text_is_short(test_split, level):
    """Prompt plus solution stays well inside a 384-token context."""
    lengths = [len(p.prompt) + len(p.metadata["solution"]) for p in test_split if p.level == level]
    assert max(lengths) <= 130 + 60 * level


def test_varied_solutions_are_correct_step_by_step(test_split):
    rng = random.Random(0)
    for problem in test_split:
        for _ in range(3):
            solution = varied_solution(problem, rng)
            lines = solution.splitlines()
            assert all(check_step(line) for line in lines[:-1]), solution
            assert boxed_answer(solution) == problem.answer
            assert len(lines) - 1 <= problem.metadata["steps"] + VARIED_EXTRA_LINES + 1


def test_varied_solutions_take_many_paths(test_split):
    hard = [problem for problem in test_split if problem.metadata["level"] >= 3][:100]
    rng = random.Random(1)
    path_counts = [len({varied_solution(problem, rng) for _ in range(12)}) for problem in hard]
    assert min(path_counts) >= 2
    assert sum(path_counts) / len(path_counts) >= 4


def test_varied_solutions_commute_and_split_by_place_value():
    problem = load_task("arith", "test")[2]  # level 3
    rng = random.Random(2)
    seen = {line for _ in range(200) for line in varied_solution(problem, rng).splitlines()}
    reference = problem.metadata["solution"].splitlines()
    assert set(reference) <= seen  # the reference path is one of the paths
    assert len(seen) > len(reference) + 2
    for line in seen - set(reference):
        assert check_step(line) in (True, None)


def test_varied_solutions_are_deterministic_for_a_seed(test_split):
    first = [varied_solution(problem, random.Random(problem.id)) for problem in test_split[:50]]
    again = [varied_solution(problem, random.Random(problem.id)) for problem in test_split[:50]]
    assert first == again
