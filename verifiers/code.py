"""Grade model-written Python against tests by running it in the sandbox.

`CodeVerifier.verify(program, tests)` extracts the program from model text
(`extract_program`), runs it with its tests in a fresh confined interpreter
(`reasoner.verifiers.sandbox`, which states the threat model), and returns a `Verdict`.
Test styles (`CodeTests`): MBPP `asserts` (with optional `setup`), HumanEval
`check` + `entry_point`, and stdin/stdout `io` cases; a suite may mix them.

Semantics follow the reference harnesses: the program, the setup and the tests
share one module namespace (so tests can call helpers the program defines);
the program runs under the module name `solution` for assert tests (so its
``if __name__ == "__main__":`` demo block does not run) and as `__main__` for
`io` cases, once per case, with the case's stdin. Output is compared after
stripping trailing whitespace from each line and trailing blank lines.

Score policy, per status:

=============  =====  ==========================================================
status         score  when
=============  =====  ==========================================================
correct        1.0    every test passed (no partial credit)
incorrect      0.0    a test failed, the program raised or exited early, printed
                      too much, or was killed by a limit other than time
timeout        0.0    the program exceeded the wall-clock or CPU time limit: a
                      program that never finishes is wrong, so it is graded
unparseable    0.0    the answer contains no Python program: wrong, and graded
error          None   could not grade: the sandbox failed, or the tests are
                      empty or malformed. Drop these; never count them as wrong
=============  =====  ==========================================================

`detail` is written to be fed back to a model for revision: the failing
assert and what the call returned, the exception's last traceback line with
the program line, or the limit that was hit.
"""

from __future__ import annotations

import ast
import builtins
import json
import os
import re
import sys
import time
import types
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import ValidationError

from reasoner.errors import ConfigError, DataError
from reasoner.verifiers.base import CodeTests, IOCase, Status, Verdict, score_for
from reasoner.verifiers.sandbox import Isolation, Payload, RunOutcome, RunResult, Sandbox, SandboxConfig

PYTHON_TAGS = frozenset({"python", "py", "python3", "py3"})
"""Fence info strings that mark a Python block."""

_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?P<tag>[^\s`]*)[^\n]*\n(?P<body>.*?)"
                    r"(?:^[ \t]*(?P=fence)[ \t]*$|\Z)", re.DOTALL | re.MULTILINE)

_OUTCOME_STATUS = {
    RunOutcome.PASSED: Status.CORRECT,
    RunOutcome.FAILED: Status.INCORRECT,
    RunOutcome.CRASHED: Status.INCORRECT,
    RunOutcome.OUTPUT_LIMIT: Status.INCORRECT,
    RunOutcome.TIMEOUT: Status.TIMEOUT,
    RunOutcome.SETUP_ERROR: Status.ERROR,
}
"""Sandbox outcomes as verdict statuses; scores follow `reasoner.verifiers.base.score_for`."""


class CodeVerifier:
    """Runs candidate programs against tests in a sandbox; thread-safe.

    Args:
        timeout: wall-clock seconds per program run (each `io` case is one run);
            CPU time is capped at the same figure rounded up.
        memory_mb: address-space limit of each sandboxed process, in MiB.
        workers: parallel runs in `verify_batch`; default: the number of CPUs.
        max_output_bytes: stdout plus stderr kept per run; more is `incorrect`.
        network: `deny` blocks network access where the platform allows it
            (see `isolation`); `allow` leaves the network as the parent has it.
        max_processes: processes and threads the program may have at once.
        max_file_mb: largest file the program may write, in MiB.
        namespaces: None uses Linux namespaces when they work, True requires
            them (ConfigError otherwise), False never uses them.
        private_root: None runs programs in a scratch root (the interpreter and
            its libraries, none of the host's other files) when the platform
            allows, True requires it (ConfigError otherwise: fail closed), False
            never.
        python: interpreter for programs; default `python3` on a minimal PATH.
    """

    def __init__(self, timeout: float = 10.0, memory_mb: int = 1024, workers: int | None = None,
                 max_output_bytes: int = 1 << 20, network: Literal["deny", "allow"] = "deny", *,
                 max_processes: int = 32, max_file_mb: int = 16, namespaces: bool | None = None,
                 private_root: bool | None = None, python: str | None = None) -> None:
        try:
            config = SandboxConfig(timeout=timeout, memory_mb=memory_mb, max_output_bytes=max_output_bytes,
                                   network=network, max_processes=max_processes, max_file_mb=max_file_mb,
                                   namespaces=namespaces, private_root=private_root, python=python)
        except ValidationError as error:
            raise ConfigError(f"invalid CodeVerifier option: {error}") from error
        if workers is not None and workers < 1:
            raise ConfigError(f"workers must be at least 1, got {workers}")
        self.workers = workers or os.cpu_count() or 1
        self._sandbox = Sandbox(config)

    @property
    def config(self) -> SandboxConfig:
        return self._sandbox.config

    @property
    def isolation(self) -> Isolation:
        """The isolation in effect on this machine (probed on first use)."""
        return self._sandbox.isolation

    def verify(self, program: str, tests: CodeTests | dict[str, Any]) -> Verdict:
        """Grade `program` (raw model text or code) against `tests`."""
        started = time.perf_counter()
        tests = _as_tests(tests)
        code = extract_program(program)
        verdict = self._grade(code, tests) if code is not None else _unparseable(program)
        return verdict.model_copy(update={"seconds": time.perf_counter() - started})

    def verify_batch(self, items: list[tuple[str, CodeTests | dict[str, Any]]]) -> list[Verdict]:
        """`verify` for each (program, tests) pair, `workers` at a time; results in input order."""
        if len(items) <= 1 or self.workers == 1:
            return [self.verify(program, tests) for program, tests in items]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="code-verifier") as pool:
            return list(pool.map(lambda item: self.verify(*item), items))

    # The `Verifier` protocol (reasoner.verifiers.base): extract, group, grade

    domain: ClassVar[str] = "code"

    def extract(self, text: str) -> str | None:
        """The program `text` commits to (see `extract_program`), or None."""
        return extract_program(text)

    def group(self, answers: list[str | None]) -> list[int | None]:
        """Equal labels for the same program up to blank lines and trailing spaces."""
        keys = [_normalise_program(a) if a else None for a in answers]
        seen: dict[str, int] = {}
        return [None if key is None else seen.setdefault(key, len(seen)) for key in keys]

    def grade(self, answer: str | None, reference: CodeTests | dict[str, Any]) -> Verdict:
        """A program already extracted (by `extract`) against tests."""
        if answer is None:
            return _unparseable("")
        started = time.perf_counter()
        verdict = self._grade(answer, _as_tests(reference))
        return verdict.model_copy(update={"extracted": answer, "seconds": time.perf_counter() - started})

    def grade_batch(self, items: list[tuple[str | None, CodeTests | dict[str, Any]]]) -> list[Verdict]:
        """`grade` for each pair, `workers` at a time; results in input order."""
        if len(items) <= 1 or self.workers == 1:
            return [self.grade(answer, tests) for answer, tests in items]
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="code-verifier") as pool:
            return list(pool.map(lambda item: self.grade(*item), items))

    def close(self) -> None:
        """Nothing to release: every run's processes are gone when `verify` returns."""

    def __enter__(self) -> CodeVerifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _grade(self, code: str, tests: CodeTests) -> Verdict:
        problem = _unusable(tests)
        if problem:
            return Verdict(status=Status.ERROR, score=score_for(Status.ERROR), extracted=code, detail=problem)
        if tests.asserts or tests.check:
            verdict = self._run_unit_tests(code, tests)
            if verdict.status is not Status.CORRECT:
                return verdict
        return self._run_io_cases(code, tests.io)

    def _run_unit_tests(self, code: str, tests: CodeTests) -> Verdict:
        job = {"mode": "tests", "program": code, "setup": tests.setup, "asserts": tests.asserts,
               "check": tests.check, "entry_point": tests.entry_point}
        return _verdict(self._sandbox.run(_payload(), job), code)

    def _run_io_cases(self, code: str, cases: list[IOCase]) -> Verdict:
        for number, case in enumerate(cases, start=1):
            result = self._sandbox.run(_payload(), {"mode": "io", "program": code}, stdin=case.stdin.encode())
            verdict = _verdict(result, code, prefix=f"case {number}: ")
            if verdict.status is Status.CORRECT:
                verdict = _compare_output(result, case, number, code)
            if verdict.status is not Status.CORRECT:
                return verdict
        return Verdict(status=Status.CORRECT, score=1.0, extracted=code)


def _as_tests(tests: CodeTests | dict[str, Any]) -> CodeTests:
    if isinstance(tests, CodeTests):
        return tests
    try:
        return CodeTests.model_validate(tests)
    except ValidationError as error:
        raise DataError(f"invalid code tests: {error}") from error


def _unparseable(text: str) -> Verdict:
    if not text.strip():
        why = "the answer is empty"
    elif _FENCE.search(text):
        why = "its code blocks are empty"
    else:
        why = f"it has no fenced code block, and the text is not Python ({_syntax_error(text)})"
    return Verdict(status=Status.UNPARSEABLE, score=score_for(Status.UNPARSEABLE),
                   detail=f"no Python program in the answer: {why}")


def _unusable(tests: CodeTests) -> str:
    if tests.empty:
        return "no tests to run"
    if tests.check and not tests.entry_point:
        return "tests have `check` but no `entry_point`"
    return ""


def _verdict(result: RunResult, code: str, prefix: str = "") -> Verdict:
    status = _OUTCOME_STATUS[result.outcome]
    score = score_for(status)
    detail = prefix + result.detail if result.detail else ""
    return Verdict(status=status, score=score, extracted=code, detail=detail)


def _compare_output(result: RunResult, case: IOCase, number: int, code: str) -> Verdict:
    got = _normalize_output(result.stdout.decode("utf-8", "replace"))
    if got == _normalize_output(case.stdout):
        return Verdict(status=Status.CORRECT, score=1.0, extracted=code)
    detail = (f"case {number}: wrong output for input {_clip(case.stdin)}: "
              f"expected {_clip(case.stdout)}, got {_clip(got)}")
    return Verdict(status=Status.INCORRECT, score=0.0, extracted=code, detail=detail)


def _normalize_output(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.splitlines()).rstrip("\n")


def _clip(text: str, limit: int = 120) -> str:
    shown = repr(text[:limit])
    return shown if len(shown) <= limit else shown[:limit - 3] + "..."


def extract_program(text: str) -> str | None:
    """The program in model output: the last ```python block, else the last fenced block, else the text.

    Unclosed fences (truncated generations) run to the end of the text.
    Unfenced text is used only if it parses as Python; None means no program.
    """
    blocks = [(m["tag"].lower(), m["body"]) for m in _FENCE.finditer(text) if m["body"].strip()]
    for wanted in (lambda tag: tag in PYTHON_TAGS, lambda tag: tag == "", lambda tag: True):
        chosen = [body for tag, body in blocks if wanted(tag)]
        if chosen:
            return chosen[-1]
    if _FENCE.search(text) is None and text.strip() and _parses(text):
        return text.strip("\n")
    return None


def _normalise_program(program: str) -> str:
    return "\n".join(line.rstrip() for line in program.strip().splitlines() if line.strip())


def _parses(text: str) -> bool:
    return not _syntax_error(text)


def _syntax_error(text: str) -> str:
    """Why `text` is not Python, or '' if it parses."""
    try:
        ast.parse(text)
    except SyntaxError as error:
        return f"{error.msg} at line {error.lineno}"
    except (ValueError, RecursionError, MemoryError) as error:  # null bytes, absurd nesting
        return f"{type(error).__name__}: {error}"
    return ""


def load_tests(path: str | Path) -> CodeTests:
    """Tests from a file: `.json` (a CodeTests object, or a list of assert strings) or `.py` (asserts).

    In a `.py` file every top-level `assert` is a test and every other statement is setup.
    Raises DataError naming the file (and line, for JSON and Python syntax errors).
    """
    path = Path(path)
    loaders = {".json": _tests_from_json, ".py": _tests_from_python}
    if path.suffix not in loaders:
        raise DataError(f"unsupported test file type {path.suffix!r}; expected .json or .py", path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read test file: {error}", path=path) from error
    tests = loaders[path.suffix](text, path)
    if tests.empty:
        raise DataError("the file holds no tests", path=path)
    if tests.check and not tests.entry_point:
        raise DataError("`check` needs an `entry_point`: the name of the function it tests", path=path)
    return tests


def _tests_from_json(text: str, path: Path) -> CodeTests:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"invalid JSON: {error.msg} (column {error.colno})", path=path, line=error.lineno) from error
    if isinstance(data, list):
        return CodeTests(asserts=_assert_strings(data, path))
    if not isinstance(data, dict):
        raise DataError(f"expected a CodeTests object or a list of asserts, got {type(data).__name__}", path=path)
    unknown = sorted(set(data) - set(CodeTests.model_fields))
    if unknown:
        raise DataError(f"unknown field(s) {', '.join(unknown)}; expected {', '.join(CodeTests.model_fields)}",
                        path=path)
    try:
        return CodeTests.model_validate(data)
    except ValidationError as error:
        raise DataError(f"invalid tests: {_first_error(error)}", path=path) from error


def _assert_strings(data: list[Any], path: Path) -> list[str]:
    for index, item in enumerate(data):
        if not isinstance(item, str):
            raise DataError(f"item {index} of the assert list is {type(item).__name__}, not a string", path=path)
    return data


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{where}: {first['msg']}" + (f" ({error.error_count() - 1} more)" if error.error_count() > 1 else "")


def _tests_from_python(text: str, path: Path) -> CodeTests:
    try:
        tree = ast.parse(text, filename=str(path))
    except SyntaxError as error:
        raise DataError(f"invalid Python: {error.msg}", path=path, line=error.lineno) from error
    except ValueError as error:
        raise DataError(f"invalid Python: {error}", path=path) from error
    asserts, setup = [], []
    for node in tree.body:
        segment = ast.get_source_segment(text, node) or ast.unparse(node)
        (asserts if isinstance(node, ast.Assert) else setup).append(segment)
    return CodeTests(asserts=asserts, setup="\n".join(setup))


# --- Child side ---------------------------------------------------------------
# The test runner that executes inside the sandbox. `_payload` ships these
# functions as source; they use only the standard library (imported by
# `_CHILD_PRELUDE`) and reach each other by name.

_EQ_MARKER = "__reasoner_eq__"
# `traceback` is imported where a failure is described: passing runs never pay for it.
_CHILD_PRELUDE = f"import ast, builtins, sys, types\n_EQ_MARKER = {_EQ_MARKER!r}\n\n"


@cache
def _payload() -> Payload:
    return Payload.from_functions(
        _run_job, _run_tests, _run_program, _run_test, _call_check, _run_io_case, _flush_output,
        _fresh_module, _compile_test, _explain_equality, _is_literal, _describe_failure, _describe_exception,
        _equality_detail, _innermost_line, _statement_at, _short_repr, _one_line, prelude=_CHILD_PRELUDE)


def _run_job(job: dict) -> tuple[bool, str]:
    """Entry point in the sandbox: (all tests passed, why not)."""
    if job["mode"] == "io":
        return _run_io_case(job["program"])
    return _run_tests(job)


def _run_tests(job: dict) -> tuple[bool, str]:
    namespace = _fresh_module("solution").__dict__
    failure = _run_program(job["program"], namespace)
    if not failure and job["setup"]:
        failure = _run_test(job["setup"], namespace, "test setup")
    for statement in job["asserts"]:
        failure = failure or _run_test(statement, namespace, statement)
    if not failure and job["check"]:
        failure = _call_check(job["check"], job["entry_point"], namespace)
    return not failure, failure


def _run_program(program: str, namespace: dict) -> str:
    """Execute the program; '' on success, else why it failed."""
    try:
        exec(compile(program, "<program>", "exec"), namespace)
    except SystemExit as error:
        return f"the program called exit({error.code!r}) before the tests ran"
    except BaseException as error:  # whatever the program raises is a failure to report
        return "the program failed: " + _describe_exception(error)
    return ""


def _run_test(source: str, namespace: dict, label: str) -> str:
    try:
        exec(_compile_test(source), namespace)
    except BaseException as error:  # a failing test or anything the program raises under it
        return _describe_failure(error, source, label)
    return ""


def _call_check(source: str, entry_point: str, namespace: dict) -> str:
    failure = _run_test(source, namespace, "test definitions")
    if failure:
        return failure
    check = namespace.get("check")
    if entry_point not in namespace:
        return f"the program does not define `{entry_point}`"
    try:
        check(namespace[entry_point])
    except BaseException as error:  # a failing assert inside check, or the candidate raising
        return _describe_failure(error, source, f"check({entry_point})")
    return ""


def _run_io_case(program: str) -> tuple[bool, str]:
    """Run the program as __main__ on the inherited stdin; the parent compares stdout."""
    namespace = _fresh_module("__main__").__dict__
    try:
        exec(compile(program, "<program>", "exec"), namespace)
    except SystemExit as error:
        if error.code not in (None, 0):
            return False, f"the program exited with status {error.code!r}"
    except BaseException as error:  # whatever the program raises is a failure to report
        return False, "the program failed: " + _describe_exception(error)
    return _flush_output()


def _flush_output() -> tuple[bool, str]:
    try:
        for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
            if stream is not None:
                stream.flush()
    except (OSError, ValueError) as error:
        return False, f"could not flush the program's output: {error}"
    return True, ""


def _fresh_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__dict__["__builtins__"] = builtins
    sys.modules[name] = module
    return module


def _compile_test(source: str) -> types.CodeType:
    """Compile test code so that a failing `assert a == b` reports the value of `a`."""
    tree = ast.parse(source, "<test>")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare)
                and len(node.test.ops) == 1 and isinstance(node.test.ops[0], ast.Eq)):
            _explain_equality(node, source)
    return compile(ast.fix_missing_locations(tree), "<test>", "exec")


def _explain_equality(node: ast.Assert, source: str) -> None:
    """`assert a == b` becomes `assert (g := a) == (w := b), (MARKER, text, g, w)`: same checks."""
    compare = node.test
    text = "assert " + (ast.get_source_segment(source, compare) or ast.unparse(compare))
    got = ast.copy_location(ast.NamedExpr(ast.Name("_reasoner_got", ast.Store()), compare.left), compare.left)
    want_node = compare.comparators[0]
    want = ast.copy_location(ast.NamedExpr(ast.Name("_reasoner_want", ast.Store()), want_node), want_node)
    compare.left, compare.comparators = got, [want]
    node.msg = ast.Tuple([ast.Constant(_EQ_MARKER), ast.Constant(text), ast.Constant(_is_literal(want_node)),
                          ast.Name("_reasoner_got", ast.Load()), ast.Name("_reasoner_want", ast.Load())], ast.Load())


def _is_literal(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _describe_failure(error: BaseException, source: str, label: str) -> str:
    """One line: the failing test statement and what went wrong."""
    line = _innermost_line(error.__traceback__, "<test>")
    statement = _statement_at(source, line) if line else label
    raised_by_test = isinstance(error, AssertionError) and _innermost_line(error.__traceback__, None) == line
    if raised_by_test and error.args and isinstance(error.args[0], tuple) and error.args[0][:1] == (_EQ_MARKER,):
        return _equality_detail(*error.args[0][1:])
    if raised_by_test:
        message = f" ({_one_line(str(error.args[0]), 200)})" if error.args else ""
        return f"{statement} failed{message}"
    if isinstance(error, SystemExit):
        return f"{statement}: the program called exit({error.code!r})"
    return f"{statement}: {_describe_exception(error)}"


def _describe_exception(error: BaseException) -> str:
    """The last traceback line, with the program line it came from."""
    if isinstance(error, SyntaxError) and error.filename == "<program>":
        return f"SyntaxError: {error.msg} (program line {error.lineno})"
    import traceback

    last = traceback.format_exception_only(type(error), error)[-1].strip()
    line = _innermost_line(error.__traceback__, "<program>")
    return _one_line(last, 300) + (f" (program line {line})" if line else "")


def _equality_detail(text: str, want_is_literal: bool, got: object, want: object) -> str:
    expected = "" if want_is_literal else f", expected {_short_repr(want)}"
    return f"{_one_line(text, 300)} failed: got {_short_repr(got)}{expected}"


def _innermost_line(tb: types.TracebackType | None, filename: str | None) -> int | None:
    """Line of the innermost traceback frame in `filename` (any file when None)."""
    line = None
    while tb is not None:
        if filename is None or tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _statement_at(source: str, line: int) -> str:
    """Source of the smallest statement spanning `line`, on one line."""
    best = None
    for node in ast.walk(ast.parse(source)):
        spans_line = isinstance(node, ast.stmt) and node.lineno <= line <= (node.end_lineno or node.lineno)
        if spans_line and (best is None or node.end_lineno - node.lineno <= best.end_lineno - best.lineno):
            best = node
    text = ast.get_source_segment(source, best) if best is not None else None
    return _one_line(text or source.splitlines()[line - 1], 300)


def _short_repr(value: object) -> str:
    try:
        text = repr(value)
    except Exception as error:  # a program-defined __repr__ may raise; say so instead
        return f"<unprintable {type(value).__name__}: {type(error).__name__}>"
    return _one_line(text, 200)


def _one_line(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
