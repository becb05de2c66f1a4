"""Dataset loaders: every supported format, and clear errors for bad records."""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner.tasks.datasets import load_dataset
from reasoner.errors import DataError

FIXTURES = Path(__file__).parent.parent / "fixtures"


def test_gsm8k_answers_drop_thousands_separators():
    problems = load_dataset(str(FIXTURES / "gsm8k.jsonl"))
    assert [p.answer for p in problems] == ["5", "2400"]
    assert problems[0].id == "gsm8k-1" and problems[0].domain == "math"


def test_math_answer_from_boxed_solution_and_level():
    first, second = load_dataset(str(FIXTURES / "math.jsonl"))
    assert first.answer == "\\frac{3}{4}"
    assert first.level == 2 and second.level == 1
    assert first.id == "test/prealgebra/1.json"


def test_mbpp_keeps_hidden_tests_and_shows_one_public_example():
    (problem,) = load_dataset(str(FIXTURES / "mbpp.jsonl"))
    assert problem.domain == "code"
    assert len(problem.tests.asserts) == 3
    assert problem.public_tests.asserts == ["assert double(2) == 4"]
    assert "assert double(2) == 4" in problem.prompt
    assert "assert double(-3) == -6" not in problem.prompt


def test_native_format_with_code_and_math():
    math_problem, code_problem = load_dataset(str(FIXTURES / "problems.jsonl"))
    assert math_problem.answer == "4" and math_problem.level == 1
    assert code_problem.tests.asserts == ["assert f(1) == 2"]


def test_humaneval_ships_offline():
    problems = load_dataset("humaneval")
    assert len(problems) == 164
    assert problems[0].id == "HumanEval/0" and problems[0].tests.entry_point == "has_close_elements"


def test_limit_takes_the_first_k():
    assert [p.id for p in load_dataset("humaneval", limit=3)] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]


@pytest.mark.parametrize(
    ("fixture", "line", "words"),
    [
        ("bad_json.jsonl", 2, "invalid JSON"),
        ("bad_field.jsonl", 2, "field 'domain'"),
        ("missing_answer.jsonl", 2, "field 'answer' is required"),
        ("gsm8k_bad.jsonl", 1, "field 'answer' has no final '#### n' line"),
        ("gsm8k_empty_answer.jsonl", 2, "field 'answer' has no final '#### n' line"),
        ("math_no_boxed.jsonl", 2, "no field 'answer' and no \\boxed{} answer in field 'solution'"),
        ("math_bad_level.jsonl", 2, "field 'level' must be a whole number or 'Level N', got 'hard'"),
        ("problems_bad_level.jsonl", 2, "field 'metadata.level' must be a whole number or 'Level N', got 2.5"),
        ("problems_empty_answer.jsonl", 1, "field 'answer' must not be empty"),
        ("mbpp_string_tests.jsonl", 1, "field 'test_list' must be a non-empty list of assert strings"),
        ("humaneval_bad.jsonl", 1, "field 'prompt' must be a string, got list"),
    ],
)
def test_bad_record_names_file_line_and_field(fixture, line, words):
    with pytest.raises(DataError) as info:
        load_dataset(str(FIXTURES / fixture))
    message = str(info.value)
    assert f"{fixture}:{line}:" in message
    assert words in message
    assert info.value.line == line


def test_levels_are_whole_numbers_and_math_level_question_mark_is_unknown():
    unknown, three = load_dataset(str(FIXTURES / "math_levels.jsonl"))
    assert unknown.level is None and "level" not in unknown.metadata
    assert three.level == 3 and three.metadata["level"] == 3
    assert three.answer == "6" and unknown.answer == "5"


def test_a_level_given_as_a_digit_string_becomes_an_int(tmp_path):
    path = tmp_path / "levels.jsonl"
    path.write_text('{"id": "a", "prompt": "q", "answer": "1", "metadata": {"level": "2"}}\n')
    (problem,) = load_dataset(str(path))
    assert problem.metadata["level"] == 2 and problem.level == 2


def test_a_bad_record_past_the_limit_is_not_read():
    (problem,) = load_dataset(str(FIXTURES / "math_no_boxed.jsonl"), limit=1)
    assert problem.answer == "2"


def test_unknown_name_lists_the_named_datasets():
    with pytest.raises(DataError, match="arith, humaneval, pyfunc"):
        load_dataset("no-such-dataset")


def test_duplicate_ids_are_refused(tmp_path):
    path = tmp_path / "dup.jsonl"
    path.write_text('{"id": "a", "prompt": "q", "answer": "1"}\n{"id": "a", "prompt": "q2", "answer": "2"}\n')
    with pytest.raises(DataError, match="duplicate id 'a'"):
        load_dataset(str(path))


def test_named_task_loads_its_dev_split():
    from reasoner.tasks import load_task

    problems = load_dataset("arith", limit=7, split="dev")
    assert problems == load_task("arith", "dev", n=7)
    assert load_dataset("arith", limit=7) == load_task("arith", "test", n=7)


@pytest.mark.parametrize(("name", "split", "message"), [
    (str(FIXTURES / "gsm8k.jsonl"), "dev", "has no splits"),
    ("humaneval", "dev", "has no splits"),
    ("arith", "valid", "unknown split 'valid'; arith has train, dev, test"),
    ("arith", "train", "give its size"),
])
def test_a_split_a_dataset_does_not_have_is_a_data_error(name, split, message):
    with pytest.raises(DataError, match=message):
        load_dataset(name, split=split)
