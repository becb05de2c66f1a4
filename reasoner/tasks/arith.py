"""`arith`: GSM8K-style multi-step arithmetic word problems, built from templates.

A problem is a short story about one person's pile of objects that changes a
few times ("buys 5 more", "gives 3 to Omar", "buys 4 bags of 12"). The
reference solution writes one computation per line, exactly `a op b = c`, and
ends with `The answer is \\boxed{N}.`, so `check_step` can grade every step.

Difficulty (`LEVELS`) grows with the number of computations (1 to 5) and the
size of the operands (one digit up to three digits). Every intermediate value
is a positive integer; division is always exact.

This module is not a split manager: ids, train/test separation and revision
examples live in `reasoner.tasks`. It never grades model output beyond the
per-line `check_step`; final answers are graded by the math verifier.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from reasoner.types import Problem

FAMILY = "arith"

Step = tuple[int, str, int]
"""One computation `(a, op, b)`."""
Line = tuple[int, str, int, int]
"""One written computation `(a, op, b, c)`; `c` may be wrong in an attempt."""


@dataclass(frozen=True)
class LevelSpec:
    """How one difficulty level draws its numbers."""

    steps: int
    """Computation lines in the reference solution."""
    start: tuple[int, int]
    """Range of the starting amount."""
    operand: tuple[int, int]
    """Range of amounts added or removed."""
    factor: tuple[int, int] | None
    """Range of multipliers and divisors; None disables * and / events."""
    pack: tuple[int, int, int, int] | None
    """Ranges (count lo, count hi, size lo, size hi) of 'k bags of m'; None disables them."""
    cap: int
    """Largest value any intermediate result may take."""


LEVELS: dict[int, LevelSpec] = {
    1: LevelSpec(steps=1, start=(2, 9), operand=(1, 9), factor=None, pack=None, cap=20),
    2: LevelSpec(steps=2, start=(2, 20), operand=(1, 20), factor=(2, 5), pack=None, cap=100),
    3: LevelSpec(steps=3, start=(10, 50), operand=(2, 50), factor=(2, 9), pack=(2, 9, 2, 9), cap=500),
    4: LevelSpec(steps=4, start=(20, 200), operand=(10, 200), factor=(2, 9), pack=(2, 9, 10, 30), cap=2000),
    5: LevelSpec(steps=5, start=(100, 999), operand=(100, 999), factor=(2, 12), pack=(3, 12, 12, 60),
                 cap=20000),
}

NAMES = (
    "Mia", "Omar", "Lena", "Ravi", "Sara", "Tom", "Ana", "Ben", "Kai", "Zoe", "Ivan", "Nora", "Leo",
    "Ella", "Sam", "Maya", "Jack", "Aisha", "Luis", "Emma", "Noah", "Yuki", "Finn", "Rosa", "Hugo",
    "Lily", "Amir", "Chloe", "Max", "Ines", "Theo", "Ada", "Eli", "Nina", "Paul", "Vera", "Dan",
    "Iris", "Raj", "Ruby",
)
OBJECTS = (
    "apples", "marbles", "stickers", "pencils", "cards", "coins", "books", "shells", "stamps",
    "cookies", "beads", "eggs", "oranges", "toys", "rocks", "buttons", "candles", "flowers",
    "balloons", "nails", "ribbons", "cups", "plums", "blocks", "tickets", "pens", "feathers", "nuts",
    "grapes", "seeds",
)
CONTAINERS = ("bags", "boxes", "packs", "jars", "crates", "baskets")

START = ("{p} has {a} {obj}.", "{p} starts with {a} {obj}.")
START_PACK = ("{p} has {k} {box} of {m} {obj}.", "{p} starts with {k} {box} of {m} {obj}.")
ADD = ("{p} buys {b} more.", "{p} finds {b} more.", "{q} gives {p} {b} more.")
SUB = ("{p} gives {b} to {q}.", "{p} sells {b}.", "{p} loses {b}.")
MUL = ("Now {p} has {b} times as many.", "{p}'s pile grows to {b} times its size.")
DIV = ("{p} splits them into {b} equal piles and keeps one.",
       "{p} puts them into {b} equal {box} and keeps one.")
ADD_PACK = ("{p} buys {k} more {box} of {m}.", "{q} gives {p} {k} {box} of {m}.")
SUB_PACK = ("{p} sells {k} {box} of {m}.", "{p} gives {k} {box} of {m} to {q}.")
QUESTION = ("How many {obj} does {p} have now?", "How many {obj} does {p} have in the end?")

_STEP_RE = re.compile(r"^\s*(-?\d+)\s*([-+*/])\s*(-?\d+)\s*=\s*(-?\d+)\s*$")
_BOXED_RE = re.compile(r"\\boxed\{(-?\d+)\}")


def check_step(line: str) -> bool | None:
    """Grade one solution line: True for a correct `a op b = c`, False for a wrong one.

    Returns None when the line is not a computation (e.g. the answer line).
    Division counts as correct only when it is exact.
    """
    match = _STEP_RE.match(line)
    if match is None:
        return None
    a, op, b, c = int(match[1]), match[2], int(match[3]), int(match[4])
    if op == "/":
        return b != 0 and a == b * c
    return _apply(a, op, b) == c


def boxed_answer(text: str) -> str | None:
    """The last `\\boxed{N}` integer in a solution, or None."""
    found = _BOXED_RE.findall(text)
    return found[-1] if found else None


def _apply(a: int, op: str, b: int) -> int:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b


@dataclass
class _Story:
    """A problem under construction: sentences, computation lines and the running total."""

    sentences: list[str]
    steps: list[Step]
    value: int

    def compute(self, a: int, op: str, b: int) -> int:
        result = _apply(a, op, b)
        self.steps.append((a, op, b))
        return result


def sample(rng: random.Random, level: int, problem_id: str) -> Problem:
    """Draw one problem of `level` (1-5) from `rng`."""
    spec = LEVELS[level]
    while True:
        story = _try_story(rng, spec)
        if story is not None:
            return _to_problem(story, level, problem_id)


def _try_story(rng: random.Random, spec: LevelSpec) -> _Story | None:
    p, q = rng.sample(NAMES, 2)
    words = {"p": p, "q": q, "obj": rng.choice(OBJECTS), "box": rng.choice(CONTAINERS)}
    story = _start(rng, spec, words)
    while len(story.steps) < spec.steps:
        if not _event(rng, spec, story, words, spec.steps - len(story.steps)):
            return None
    story.sentences.append(rng.choice(QUESTION).format(**words))
    return story


def _start(rng: random.Random, spec: LevelSpec, words: dict[str, str]) -> _Story:
    if spec.pack is not None and rng.random() < 0.3:
        k, m = _pack_sizes(rng, spec)
        story = _Story([rng.choice(START_PACK).format(k=k, m=m, **words)], [], 0)
        story.value = story.compute(k, "*", m)
        return story
    a = rng.randint(*spec.start)
    return _Story([rng.choice(START).format(a=a, **words)], [], a)


def _pack_sizes(rng: random.Random, spec: LevelSpec) -> tuple[int, int]:
    k_lo, k_hi, m_lo, m_hi = spec.pack  # type: ignore[misc]
    return rng.randint(k_lo, k_hi), rng.randint(m_lo, m_hi)


def _event(rng: random.Random, spec: LevelSpec, story: _Story, words: dict[str, str], left: int) -> bool:
    """Append one event to the story; False when the drawn event does not fit."""
    kinds = ["add", "sub"]
    if spec.factor is not None:
        kinds += ["mul", "div"]
    if spec.pack is not None and left >= 2:
        kinds += ["add_pack", "sub_pack"]
    kind = rng.choice(kinds)
    if kind in ("add_pack", "sub_pack"):
        return _pack_event(rng, spec, story, words, kind)
    if kind == "div":
        return _div_event(rng, spec, story, words)
    b = rng.randint(*(spec.factor if kind == "mul" else spec.operand))  # type: ignore[misc]
    op, templates = {"add": ("+", ADD), "sub": ("-", SUB), "mul": ("*", MUL)}[kind]
    return _apply_event(spec, story, op, b, rng.choice(templates).format(b=b, **words))


def _div_event(rng: random.Random, spec: LevelSpec, story: _Story, words: dict[str, str]) -> bool:
    lo, hi = spec.factor  # type: ignore[misc]
    divisors = [d for d in range(lo, hi + 1) if story.value % d == 0 and story.value > d]
    if not divisors:
        return False
    b = rng.choice(divisors)
    return _apply_event(spec, story, "/", b, rng.choice(DIV).format(b=b, **words))


def _pack_event(rng: random.Random, spec: LevelSpec, story: _Story, words: dict[str, str], kind: str) -> bool:
    k, m = _pack_sizes(rng, spec)
    op, templates = ("+", ADD_PACK) if kind == "add_pack" else ("-", SUB_PACK)
    if not _fits(spec, op, story.value, k * m):
        return False
    story.compute(k, "*", m)
    return _apply_event(spec, story, op, k * m, rng.choice(templates).format(k=k, m=m, **words))


def _apply_event(spec: LevelSpec, story: _Story, op: str, b: int, sentence: str) -> bool:
    if not _fits(spec, op, story.value, b):
        return False
    story.value = story.compute(story.value, op, b)
    story.sentences.append(sentence)
    return True


def _fits(spec: LevelSpec, op: str, a: int, b: int) -> bool:
    """Results stay positive, within the level's cap, and divisions stay exact."""
    if op == "/" and a % b != 0:
        return False
    return 1 <= _apply(a, op, b) <= spec.cap


def render_solution(steps: list[Step]) -> str:
    """The reference format: one `a op b = c` per line, then the boxed answer."""
    return _render(_solve(steps))


def _to_problem(story: _Story, level: int, problem_id: str) -> Problem:
    solution = render_solution(story.steps)
    return Problem(
        id=problem_id,
        prompt=" ".join(story.sentences),
        domain="math",
        answer=str(story.value),
        metadata={"family": FAMILY, "level": level, "solution": solution, "steps": len(story.steps)},
    )


def direct_solution(problem: Problem) -> str:
    """The answer alone, with no working: `The answer is \\boxed{N}.`"""
    return _answer_line(int(problem.answer or 0))


def parse_steps(solution: str) -> list[Step]:
    """The `(a, op, b)` computations of a solution, in order; other lines are skipped."""
    steps = []
    for line in solution.splitlines():
        match = _STEP_RE.match(line)
        if match is not None:
            steps.append((int(match[1]), match[2], int(match[3])))
    return steps


def wrong_attempt(problem: Problem, rng: random.Random) -> tuple[str, None]:
    """A plausible wrong solution: one slip or wrong operand, carried through to the answer.

    Later steps that used the slipped result use the wrong value and are
    computed correctly from it, as a careless solver would. The boxed answer
    always differs from `problem.answer`. Math revision is blind, so the
    feedback is always None.
    """
    steps = parse_steps(problem.metadata["solution"])
    for _ in range(50):
        attempt = _perturb(steps, rng)
        if attempt is not None and attempt[-1][3] != int(problem.answer or 0):
            return _render(attempt), None
    # A last-step slip upward always changes the answer and stays positive.
    *head, (a, op, b, c) = _solve(steps)
    return _render([*head, (a, op, b, c + rng.randint(1, 9))]), None


def _perturb(steps: list[Step], rng: random.Random) -> list[Line] | None:
    """Replay `steps` with one error at a random step; None if a value turns negative.

    The error is a slip in the result or a wrong second operand. Later operands
    equal to a changed result are taken to be that result and changed with it.
    """
    j = rng.randrange(len(steps))
    slip = rng.random() < 0.5
    delta = rng.choice([-1, 1]) * rng.choice([1, 1, 2, 3, 10])
    renamed: dict[int, int] = {}
    lines = []
    for i, (a, op, b) in enumerate(steps):
        a, b = renamed.get(a, a), renamed.get(b, b)
        if i == j and not slip:
            b = b + delta
        if b <= 0:
            return None
        result = _apply(a, op, b)
        true_result = _apply(*steps[i])
        if i == j and slip:
            result += delta
        if result < 0:
            return None
        if result != true_result:
            renamed[true_result] = result
        lines.append((a, op, b, result))
    return lines


VARIED_COMMUTE = 0.5
"""Chance that a varied solution writes `b + a` / `b * a` for a step `a + b` / `a * b`."""
VARIED_SPLIT = 0.3
"""Chance that a varied solution splits a step's multi-digit operand by place value."""
VARIED_EXTRA_LINES = 3
"""No step is split once a solution has this many lines more than the reference; one last
multiplication split may add two, so a varied solution has at most this + 1 extra lines."""


def varied_solution(problem: Problem, rng: random.Random) -> str:
    """A correct solution along a randomly drawn path: same answer, different computations.

    Each reference step may be written commuted (`12 + 45` for `45 + 12`) or
    with its multi-digit operand split by place value (`45 + 278` as
    `45 + 200 = 245` then `245 + 78 = 323`; `47 * 8` as `40 * 8`, `7 * 8`
    and their sum). Every line stays an exact `a op b = c`, so `check_step`
    grades it. The aim is samples that differ in which sums they compute,
    so that their slips differ and a vote can outvote them; MODEL.md
    measures how far that goes (the split paths proved the less reliable).
    """
    lines: list[Line] = []
    extra = VARIED_EXTRA_LINES
    for a, op, b in parse_steps(problem.metadata["solution"]):
        variant = _step_variant(a, op, b, rng, allow_split=extra > 0)
        extra -= len(variant) - 1
        lines.extend(variant)
    return _render(lines)


def _step_variant(a: int, op: str, b: int, rng: random.Random, allow_split: bool) -> list[Line]:
    """Lines computing `a op b`: the step itself, commuted, or split by place value."""
    result = _apply(a, op, b)
    if allow_split and rng.random() < VARIED_SPLIT:
        if op in "+-" and (parts := _place_split(b, rng)) is not None:
            hi, lo = parts
            middle = _apply(a, op, hi)
            return [(a, op, hi, middle), (middle, op, lo, result)]
        if op == "*":
            x, y = (a, b) if rng.random() < 0.5 else (b, a)
            if (parts := _place_split(x, rng)) is not None:
                hi, lo = parts
                return [(hi, "*", y, hi * y), (lo, "*", y, lo * y), (hi * y, "+", lo * y, result)]
    if op in "+*" and rng.random() < VARIED_COMMUTE:
        return [(b, op, a, result)]
    return [(a, op, b, result)]


def _place_split(x: int, rng: random.Random) -> tuple[int, int] | None:
    """`x` as `hi + lo` with `hi` a multiple of 10, 100, ... and `lo` > 0; None if none exists."""
    places = [p for p in (10, 100, 1000) if p < x and x % p != 0]
    if not places:
        return None
    place = rng.choice(places)
    return x - x % place, x % place


def _solve(steps: list[Step]) -> list[Line]:
    return [(a, op, b, _apply(a, op, b)) for a, op, b in steps]


def _render(lines: list[Line]) -> str:
    """Lines as written, correct or not, then the boxed last result."""
    body = [f"{a} {op} {b} = {c}" for a, op, b, c in lines]
    return "\n".join([*body, _answer_line(lines[-1][3])])


def _answer_line(value: int) -> str:
    return f"The answer is \\boxed{{{value}}}."

