"""`pyfunc`: short function-writing tasks built as pipelines of small stages.

A problem asks for `f(x)` (an integer), `f(s)` (a lowercase string) or
`f(xs)` (a list of small non-negative integers). Its description chains one to
four stages from `STAGES`, such as "keeps the even numbers of xs, then takes the
sum of it", and the canonical solution writes one line per stage::

    def f(xs):
        xs = [n for n in xs if n % 2 == 0]
        return sum(xs)

Difficulty (`LEVELS`) grows with the number of stages and their tiers (a
builtin call is tier 1, a comprehension or digit trick tier 2, a fiddlier
idiom tier 3). Expected outputs come from evaluating the stages' code
in-process; that code comes only from this module's table, never from a model.

This module is not a sandbox and never runs model output: candidates are graded
by the code verifier against `Problem.tests`. Ids and splits live in
`reasoner.tasks`.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import functools
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from reasoner.types import Problem
from reasoner.types import CodeTests

FAMILY = "pyfunc"

VAR = {"int": "x", "str": "s", "list": "xs"}
"""The variable that holds a value of each kind in the canonical solution."""
LETTERS = "abcdeilmnorstu"
"""Alphabet of input strings: few letters, a third of them vowels, so letter tests bite."""
MAX_INT = 10**6
"""Largest integer any test value may take, input, intermediate or output."""
MAX_LEN = 12
"""Longest string or list any test value may be, so asserts stay short."""


@dataclass(frozen=True)
class Stage:
    """One step of a pipeline: a phrase for the prompt and an expression for the solution."""

    name: str
    takes: str
    """Kind of the input value: `int`, `str` or `list`."""
    gives: str
    """Kind of the output value; `bool` stages end a pipeline."""
    tier: int
    """1 builtin, 2 comprehension or digit trick, 3 fiddly idiom."""
    phrase: str
    """Description with `{v}` for the value and `{k}`/`{j}` for the parameter."""
    code: str
    """Python expression over `VAR[takes]`; `{k}`/`{j}` become the parameter's literal."""
    params: tuple[Any, ...] = ()
    """Parameter choices; a tuple choice fills `{k}` and `{j}`."""
    last_only: bool = False
    """Only ends a pipeline, e.g. upper case, which later letter tests would misread."""

    @property
    def ends(self) -> bool:
        """True when nothing may follow this stage."""
        return self.last_only or self.gives == "bool"

    @functools.cached_property
    def function(self) -> Callable[..., Any]:
        """`code` as a function of the value and the parameter parts `k`, `j` (trusted code only)."""
        source = f"lambda {VAR[self.takes]}, k=None, j=None: {self.code.format(k='k', j='j')}"
        return eval(source, {"__builtins__": builtins})  # noqa: S307


def _ints(lo: int, hi: int) -> tuple[int, ...]:
    return tuple(range(lo, hi + 1))


_PAIRS = tuple((a, b) for a in "aeiou" for b in "aeiouxyz" if a != b)
_SUFFIXES = ("x", "y", "z", "ab", "ing", "ed", "s", "er")

STAGES: tuple[Stage, ...] = (
    Stage("add", "int", "int", 1, "adds {k} to {v}", "x + {k}", _ints(1, 20)),
    Stage("sub", "int", "int", 1, "subtracts {k} from {v}", "x - {k}", _ints(1, 20)),
    Stage("mul", "int", "int", 1, "multiplies {v} by {k}", "x * {k}", _ints(2, 9)),
    Stage("mod", "int", "int", 1, "takes {v} modulo {k}", "x % {k}", _ints(2, 9)),
    Stage("square", "int", "int", 1, "squares {v}", "x * x"),
    Stage("last_digit", "int", "int", 1, "takes the last digit of {v}", "x % 10"),
    Stage("div", "int", "int", 2, "divides {v} by {k}, rounding down", "x // {k}", _ints(2, 9)),
    Stage("num_digits", "int", "int", 2, "counts the digits of {v}", "len(str(x))"),
    Stage("digit_sum", "int", "int", 2, "takes the digit sum of {v}", "sum(int(d) for d in str(x))"),
    Stage("rev_digits", "int", "int", 2, "reverses the digits of {v}", "int(str(x)[::-1])"),
    Stage("cap", "int", "int", 2, "caps {v} at {k}", "min(x, {k})", _ints(5, 50)),
    Stage("at_least", "int", "int", 2, "raises {v} to at least {k}", "max(x, {k})", _ints(5, 50)),
    Stage("triangle", "int", "int", 2, "sums the numbers from 1 to {v}", "x * (x + 1) // 2"),
    Stage("even_digits", "int", "int", 3, "counts the even digits of {v}",
          "sum(1 for d in str(x) if int(d) % 2 == 0)"),
    Stage("collatz", "int", "int", 3, "halves {v} if it is even, else triples it and adds 1",
          "x // 2 if x % 2 == 0 else 3 * x + 1"),
    Stage("is_even", "int", "bool", 1, "{v} is even", "x % 2 == 0"),
    Stage("divisible", "int", "bool", 1, "{v} is divisible by {k}", "x % {k} == 0", _ints(2, 9)),
    Stage("greater", "int", "bool", 1, "{v} is greater than {k}", "x > {k}", _ints(1, 99)),
    Stage("int_palindrome", "int", "bool", 2, "{v} reads the same backwards", "str(x) == str(x)[::-1]"),
    Stage("digits", "int", "list", 2, "lists the digits of {v}", "[int(d) for d in str(x)]"),
    Stage("rev_str", "str", "str", 1, "reverses {v}", "s[::-1]"),
    Stage("upper", "str", "str", 1, "converts {v} to upper case", "s.upper()", last_only=True),
    Stage("prefix", "str", "str", 1, "keeps the first {k} characters of {v}", "s[:{k}]", _ints(2, 5)),
    Stage("drop_char", "str", "str", 1, "drops the first character of {v}", "s[1:]"),
    Stage("append", "str", "str", 1, "appends '{k}' to {v}", "s + {k}", _SUFFIXES),
    Stage("repeat", "str", "str", 1, "repeats {v} {k} times", "s * {k}", _ints(2, 3)),
    Stage("no_vowels", "str", "str", 2, "removes the vowels from {v}",
          '"".join(c for c in s if c not in "aeiou")'),
    Stage("replace", "str", "str", 2, "replaces each '{k}' in {v} with '{j}'", "s.replace({k}, {j})",
          _PAIRS),
    Stage("sort_chars", "str", "str", 2, "sorts the letters of {v}", '"".join(sorted(s))'),
    Stage("every_other", "str", "str", 2, "keeps every second letter of {v}, starting with the first", "s[::2]"),
    Stage("str_len", "str", "int", 1, "takes the length of {v}", "len(s)"),
    Stage("count_letter", "str", "int", 1, "counts the letter '{k}' in {v}", "s.count({k})", tuple(LETTERS)),
    Stage("vowels", "str", "int", 2, "counts the vowels in {v}", 'sum(1 for c in s if c in "aeiou")'),
    Stage("distinct", "str", "int", 2, "counts the distinct letters in {v}", "len(set(s))"),
    Stage("palindrome", "str", "bool", 2, "{v} is a palindrome", "s == s[::-1]"),
    Stage("starts", "str", "bool", 1, "{v} starts with '{k}'", "s.startswith({k})", tuple(LETTERS)),
    Stage("has_letter", "str", "bool", 1, "{v} contains '{k}'", "{k} in s", tuple(LETTERS)),
    Stage("alpha_pos", "str", "list", 3, "lists the alphabet positions of the letters of {v}",
          "[ord(c) - 96 for c in s]"),
    Stage("find_all", "str", "list", 3, "lists the indexes of '{k}' in {v}",
          "[i for i, c in enumerate(s) if c == {k}]", tuple("aeiou")),
    Stage("rev_list", "list", "list", 1, "reverses {v}", "xs[::-1]"),
    Stage("sort", "list", "list", 1, "sorts {v}", "sorted(xs)"),
    Stage("take", "list", "list", 1, "keeps the first {k} numbers of {v}", "xs[:{k}]", _ints(2, 4)),
    Stage("drop_num", "list", "list", 1, "drops the first number of {v}", "xs[1:]"),
    Stage("sort_desc", "list", "list", 2, "sorts {v} in descending order", "sorted(xs, reverse=True)"),
    Stage("evens", "list", "list", 2, "keeps the even numbers of {v}", "[n for n in xs if n % 2 == 0]"),
    Stage("odds", "list", "list", 2, "keeps the odd numbers of {v}", "[n for n in xs if n % 2 == 1]"),
    Stage("above", "list", "list", 2, "keeps the numbers of {v} greater than {k}", "[n for n in xs if n > {k}]",
          _ints(1, 15)),
    Stage("scale", "list", "list", 2, "multiplies each number of {v} by {k}", "[n * {k} for n in xs]", _ints(2, 9)),
    Stage("shift", "list", "list", 2, "adds {k} to each number of {v}", "[n + {k} for n in xs]", _ints(1, 20)),
    Stage("squares", "list", "list", 2, "squares each number of {v}", "[n * n for n in xs]"),
    Stage("every_second", "list", "list", 2, "keeps every second number of {v}, starting with the first",
          "xs[::2]"),
    Stage("dedupe", "list", "list", 3, "removes repeated numbers from {v}, keeping first occurrences",
          "list(dict.fromkeys(xs))"),
    Stage("running", "list", "list", 3, "takes the running sums of {v}", "[sum(xs[:i + 1]) for i in range(len(xs))]"),
    Stage("sum", "list", "int", 1, "takes the sum of {v}", "sum(xs)"),
    Stage("len", "list", "int", 1, "counts the numbers in {v}", "len(xs)"),
    Stage("max", "list", "int", 1, "takes the largest number in {v}", "max(xs)"),
    Stage("min", "list", "int", 1, "takes the smallest number in {v}", "min(xs)"),
    Stage("first", "list", "int", 1, "takes the first number of {v}", "xs[0]"),
    Stage("last", "list", "int", 1, "takes the last number of {v}", "xs[-1]"),
    Stage("spread", "list", "int", 2, "takes the largest minus the smallest number of {v}", "max(xs) - min(xs)"),
    Stage("count_even", "list", "int", 2, "counts the even numbers in {v}", "sum(1 for n in xs if n % 2 == 0)"),
    Stage("count_k", "list", "int", 2, "counts how often {k} occurs in {v}", "xs.count({k})", _ints(0, 9)),
    Stage("second", "list", "int", 3, "takes the second largest number of {v}", "sorted(xs)[-2]"),
    Stage("contains", "list", "bool", 1, "{v} contains {k}", "{k} in xs", _ints(0, 20)),
    Stage("is_sorted", "list", "bool", 2, "{v} is sorted", "xs == sorted(xs)"),
    Stage("all_even", "list", "bool", 2, "all numbers of {v} are even", "all(n % 2 == 0 for n in xs)"),
)
STAGE_BY_NAME = {stage.name: stage for stage in STAGES}


@dataclass(frozen=True)
class LevelSpec:
    """Shape of the pipelines drawn for one difficulty level."""

    depth: tuple[int, int]
    """Range of the number of stages."""
    tiers: tuple[int, int]
    """Range of the summed stage tiers."""
    examples: int
    """Public examples shown in the prompt."""
    hidden: int
    """Hidden asserts."""


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(depth=(1, 1), tiers=(1, 1), examples=1, hidden=4),
    2: LevelSpec(depth=(1, 2), tiers=(2, 2), examples=1, hidden=4),
    3: LevelSpec(depth=(2, 2), tiers=(3, 4), examples=2, hidden=5),
    4: LevelSpec(depth=(3, 3), tiers=(5, 6), examples=2, hidden=5),
    5: LevelSpec(depth=(4, 4), tiers=(7, 9), examples=2, hidden=5),
}

Step = tuple[Stage, Any]
"""A stage with its chosen parameter (None when it takes none)."""
_EXPECTED_ERRORS = (ValueError, IndexError, ZeroDivisionError)
"""What a stage raises on an input outside its domain, e.g. `max([])`."""


class _Invalid(Exception):
    """An input that a pipeline cannot take, or that leaves the value limits."""


def sample(rng: random.Random, level: int, problem_id: str) -> Problem:
    """Draw one problem of `level` (1-5) from `rng`."""
    spec = LEVELS[level]
    while True:
        pipeline = _draw_pipeline(rng, spec)
        cases = _draw_cases(rng, pipeline, spec.examples + spec.hidden)
        if cases is not None and _varied(cases, spec.examples, pipeline[-1][0].gives):
            return _to_problem(pipeline, cases, spec, level, problem_id)


def _draw_pipeline(rng: random.Random, spec: LevelSpec) -> list[Step]:
    while True:
        depth = rng.randint(*spec.depth)
        kind = rng.choice(("int", "str", "list"))
        pipeline: list[Step] = []
        for position in range(depth):
            last = position == depth - 1
            used = {stage.name for stage, _ in pipeline}
            stage = rng.choice([s for s in STAGES if s.takes == kind and s.name not in used and (last or not s.ends)])
            pipeline.append((stage, rng.choice(stage.params) if stage.params else None))
            kind = stage.gives
        if spec.tiers[0] <= sum(stage.tier for stage, _ in pipeline) <= spec.tiers[1]:
            return pipeline


def _parts(param: Any) -> tuple[Any, Any]:
    return param if isinstance(param, tuple) else (param, None)


def _phrase(stage: Stage, param: Any, value: str) -> str:
    k, j = _parts(param)
    return stage.phrase.format(v=value, k=k, j=j)


def _code(stage: Stage, param: Any) -> str:
    k, j = (json.dumps(part) for part in _parts(param))
    return stage.code.format(k=k, j=j)


def _run_checked(pipeline: Sequence[Step], value: Any) -> Any:
    """Run the stages, keeping every intermediate value inside the limits."""
    for stage, param in pipeline:
        try:
            value = stage.function(value, *_parts(param))
        except _EXPECTED_ERRORS as error:
            raise _Invalid from error
        _check_limits(value)
    return value


def _check_limits(value: Any) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not 0 <= value <= MAX_INT:
        raise _Invalid
    if isinstance(value, (str, list)) and len(value) > MAX_LEN:
        raise _Invalid
    if isinstance(value, list) and not all(0 <= n <= MAX_INT for n in value):
        raise _Invalid


def _draw_input(rng: random.Random, kind: str) -> Any:
    if kind == "int":
        return rng.randint(0, 99) if rng.random() < 0.6 else rng.randint(100, 9999)
    if kind == "str":
        return "".join(rng.choice(LETTERS) for _ in range(rng.randint(3, 8)))
    return [rng.randint(0, 20) for _ in range(rng.randint(1, 6))]


def _draw_cases(rng: random.Random, pipeline: list[Step], count: int) -> list[tuple[Any, Any]] | None:
    """`count` (input, output) pairs with distinct inputs, or None if few inputs suit the pipeline."""
    cases: dict[str, tuple[Any, Any]] = {}
    for _ in range(count * 8):
        value = _draw_input(rng, pipeline[0][0].takes)
        try:
            cases.setdefault(repr(value), (value, _run_checked(pipeline, value)))
        except _Invalid:
            continue
        if len(cases) == count:
            return list(cases.values())
    return None


def _varied(cases: list[tuple[Any, Any]], examples: int, gives: str) -> bool:
    """Tests a constant function cannot pass, and examples that say something.

    The examples show distinct outputs; the hidden tests alone show both
    booleans, or at least two outputs while all tests together show three.
    """
    public = {repr(output) for _, output in cases[:examples]}
    hidden = {repr(output) for _, output in cases[examples:]}
    if len(public) < examples:
        return False
    if gives == "bool":
        return len(hidden) == 2
    return len(hidden) >= 2 and len(public | hidden) >= 3


def render_prompt(pipeline: Sequence[Step], examples: Sequence[tuple[Any, Any]]) -> str:
    """The task text: one phrase per stage, then the public examples."""
    arg = VAR[pipeline[0][0].takes]
    phrases = [_phrase(stage, param, arg if i == 0 else "it") for i, (stage, param) in enumerate(pipeline)]
    if pipeline[-1][0].gives == "bool":
        head = ", then ".join(phrases[:-1])
        body = f"{head} and returns True if {phrases[-1]}" if head else f"returns True if {phrases[-1]}"
    else:
        body = ", then ".join(phrases) + " and returns the result"
    lines = [f"Write a Python function `f({arg})` that {body}."]
    lines += [f"Example: {_call(value)} == {output!r}" for value, output in examples]
    return "\n".join(lines)


def render_solution(pipeline: Sequence[Step]) -> str:
    """The canonical solution: a fenced block with one line per stage."""
    lines = [f"def f({VAR[pipeline[0][0].takes]}):"]
    for stage, param in pipeline[:-1]:
        lines.append(f"    {VAR[stage.gives]} = {_code(stage, param)}")
    stage, param = pipeline[-1]
    lines.append(f"    return {_code(stage, param)}")
    return "```python\n" + "\n".join(lines) + "\n```"


def _call(value: Any) -> str:
    return f"f({value!r})"


def _assert(value: Any, output: Any) -> str:
    return f"assert {_call(value)} == {output!r}"


def _to_problem(pipeline: list[Step], cases: list[tuple[Any, Any]], spec: LevelSpec, level: int,
                problem_id: str) -> Problem:
    public, hidden = cases[:spec.examples], cases[spec.examples:]
    return Problem(
        id=problem_id,
        prompt=render_prompt(pipeline, public),
        domain="code",
        tests=CodeTests(asserts=[_assert(value, output) for value, output in hidden]),
        public_tests=CodeTests(asserts=[_assert(value, output) for value, output in public]),
        metadata={
            "family": FAMILY,
            "level": level,
            "solution": render_solution(pipeline),
            "stages": [[stage.name, list(param) if isinstance(param, tuple) else param] for stage, param in pipeline],
        },
    )


def pipeline_of(problem: Problem) -> list[Step]:
    """Rebuild the stage pipeline a problem was generated from."""
    return [(STAGE_BY_NAME[name], tuple(param) if isinstance(param, list) else param)
            for name, param in problem.metadata["stages"]]


def direct_solution(problem: Problem) -> str:
    """A bare answer with no working: `f` returns the first public example's output whatever its input.

    It is the code counterpart of `arith.direct_solution`: it states an answer
    instead of computing one, the way a model that special-cases the examples
    does. It passes that one example and, since no constant passes every
    hidden test (`_varied`), never the problem.
    """
    header = problem.metadata["solution"].splitlines()[1]
    _, output = parse_assert(problem.public_tests.asserts[0])  # type: ignore[union-attr]
    return f"```python\n{header}\n    return {output!r}\n```"


def parse_assert(statement: str) -> tuple[Any, Any]:
    """The literal input and expected output of `assert f(<input>) == <output>`."""
    compare = ast.parse(statement).body[0].test  # type: ignore[attr-defined]
    return ast.literal_eval(compare.left.args[0]), ast.literal_eval(compare.comparators[0])


_TWEAKS = (
    (" > ", " >= "), (" == 0", " == 1"), (" == 1", " == 0"), ("[::-1]", ""), ("[1:]", "[2:]"),
    ("[:{k}]", "[:{k} + 1]"), ("[-2]", "[-1]"), ("[::2]", "[1::2]"), ("- 96", "- 97"), ("[:i + 1]", "[:i]"),
    ("x + 1", "x - 1"), ("reverse=True", "reverse=False"), ("% 10", "// 10"),
)
"""Off-by-one and flipped-condition slips, as (original, slipped) code fragments."""
_WRONG_TAIL = {"int": "({}) + 1", "bool": "not ({})", "str": '{} + "x"', "list": "{} + [0]"}
"""A last-resort slip that changes every output of a stage that returns normally."""


def wrong_attempt(problem: Problem, rng: random.Random) -> tuple[str, str | None]:
    """A plausible wrong solution and the feedback its first failing public test gives.

    Slips: a parameter off by one or swapped, a sibling builtin (`max` for `min`),
    an off-by-one slice or flipped comparison, a dropped stage. The attempt fails
    at least one public or hidden test; the feedback is None when it passes
    every public test.
    """
    pipeline = pipeline_of(problem)
    public = problem.public_tests.asserts if problem.public_tests else []
    cases = [parse_assert(statement) for statement in [*public, *problem.tests.asserts]]  # type: ignore[union-attr]
    mutations = (_mutate_param, _mutate_sibling, _mutate_code, _mutate_drop)
    for _ in range(40):
        attempt = rng.choice(mutations)(pipeline, rng)
        if attempt is not None and _fails(attempt, cases):
            return render_solution(attempt), _feedback(attempt, public)
    attempt = _mutate_tail(pipeline)
    return render_solution(attempt), _feedback(attempt, public)


def _replace_step(pipeline: list[Step], index: int, step: Step) -> list[Step]:
    return [*pipeline[:index], step, *pipeline[index + 1:]]


def _mutate_param(pipeline: list[Step], rng: random.Random) -> list[Step] | None:
    indexes = [i for i, (stage, _) in enumerate(pipeline) if stage.params]
    if not indexes:
        return None
    i = rng.choice(indexes)
    stage, param = pipeline[i]
    if isinstance(param, int):
        new = max(0, param + rng.choice((-1, 1)))
    else:
        new = rng.choice([p for p in stage.params if p != param])
    return _replace_step(pipeline, i, (stage, new))


def _mutate_sibling(pipeline: list[Step], rng: random.Random) -> list[Step] | None:
    i = rng.randrange(len(pipeline))
    stage, _ = pipeline[i]
    siblings = [s for s in STAGES if (s.takes, s.gives) == (stage.takes, stage.gives) and s != stage]
    if not siblings:
        return None
    sibling = rng.choice(siblings)
    return _replace_step(pipeline, i, (sibling, rng.choice(sibling.params) if sibling.params else None))


def _mutate_code(pipeline: list[Step], rng: random.Random) -> list[Step] | None:
    options = [(i, old, new) for i, (stage, _) in enumerate(pipeline) for old, new in _TWEAKS if old in stage.code]
    if not options:
        return None
    i, old, new = rng.choice(options)
    stage, param = pipeline[i]
    return _replace_step(pipeline, i, (dataclasses.replace(stage, code=stage.code.replace(old, new, 1)), param))


def _mutate_drop(pipeline: list[Step], rng: random.Random) -> list[Step] | None:
    indexes = [i for i, (stage, _) in enumerate(pipeline) if stage.takes == stage.gives]
    if len(pipeline) < 2 or not indexes:
        return None
    i = rng.choice(indexes)
    return [*pipeline[:i], *pipeline[i + 1:]]


def _mutate_tail(pipeline: list[Step]) -> list[Step]:
    stage, param = pipeline[-1]
    tail = _WRONG_TAIL[stage.gives].format(stage.code)
    return _replace_step(pipeline, len(pipeline) - 1, (dataclasses.replace(stage, code=tail), param))


def _outcome(pipeline: list[Step], value: Any) -> tuple[Any, str | None]:
    """The attempt's output for `value`, or the name of the exception it raised."""
    try:
        for stage, param in pipeline:
            value = stage.function(value, *_parts(param))
    except _EXPECTED_ERRORS as error:
        return None, type(error).__name__
    return value, None


def _fails(pipeline: list[Step], cases: list[tuple[Any, Any]]) -> bool:
    return any(_outcome(pipeline, value) != (output, None) for value, output in cases)


def _feedback(pipeline: list[Step], public: list[str]) -> str | None:
    """`assert f(3) == 9 failed` (or `raised IndexError`) for the first failing public test."""
    for statement in public:
        value, expected = parse_assert(statement)
        output, error = _outcome(pipeline, value)
        if error is not None:
            return f"{statement} raised {error}"
        if output != expected:
            return f"{statement} failed"
    return None
