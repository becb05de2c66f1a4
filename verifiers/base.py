"""The verdict every verifier returns, the one score rule, and the test-suite format for code.

A verdict is data, not an exception: a program that crashes or an answer that
does not parse is an expected outcome with a status.

The score rule, for every verifier (math and code alike), is `score_for`:

- ``correct`` scores 1.0 (or a fraction for partial credit);
- ``incorrect``, ``unparseable`` (no answer or program could be extracted, or
  it does not parse) and ``timeout`` (the answer or program exhausted the time
  or size budget) score **0.0**: they are the candidate's fault, so a policy
  cannot learn that saying nothing, or something unparseable, is safe. The
  status keeps the cause visible.
- ``error`` scores **None**: not the candidate's fault. It is a reference or
  test suite that cannot be used (a dataset problem; the detail says which)
  or the verifier's own machinery failing. Callers count and report these
  (accuracy over all problems, `ungradable` counts, GRPO's `ungraded`
  metric); they never turn them into 0 and never drop them silently.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field


class Status(str, Enum):
    """Outcome of one verification."""

    CORRECT = "correct"
    INCORRECT = "incorrect"
    UNPARSEABLE = "unparseable"
    TIMEOUT = "timeout"
    ERROR = "error"


GRADED = frozenset({Status.CORRECT, Status.INCORRECT, Status.UNPARSEABLE, Status.TIMEOUT})
"""Statuses that carry a score (the candidate was judged); only ERROR does not."""


def score_for(status: Status, partial: float | None = None) -> float | None:
    """The score rule of the module docstring: 1.0 / 0.0 by status, None only for ERROR.

    `partial` replaces 1.0/0.0 for a verifier that gives partial credit.
    """
    if status is Status.ERROR:
        return None
    if partial is not None:
        return partial
    return 1.0 if status is Status.CORRECT else 0.0


class Verdict(BaseModel):
    """Result of checking one prediction against a reference or tests."""

    model_config = ConfigDict(frozen=True)

    status: Status
    """What happened."""
    score: float | None
    """1.0 correct; 0.0 incorrect, unparseable or timeout; None only for ERROR (see `score_for`)."""
    extracted: str | None = None
    """The answer or program the verifier pulled out of the prediction."""
    detail: str = ""
    """Human-readable reason: the failing assert, the parse error, the limit hit."""
    seconds: float = 0.0
    """Wall time spent verifying."""

    @property
    def graded(self) -> bool:
        """True when the verdict carries a usable score."""
        return self.score is not None

    @property
    def correct(self) -> bool:
        return self.status is Status.CORRECT


class IOCase(BaseModel):
    """One stdin/stdout test: the program reads `stdin` and must print `stdout`."""

    stdin: str = ""
    """Text fed to the program's standard input."""
    stdout: str
    """Expected standard output, compared after stripping trailing whitespace per line."""


class CodeTests(BaseModel):
    """Tests for a program, in any of the common dataset styles.

    - MBPP: `asserts` (the `test_list`), with optional `setup` code.
    - HumanEval: `check` holds `def check(candidate): ...` and `entry_point`
      names the function passed to it.
    - Competitive programming: `io` holds stdin/stdout pairs.
    """

    asserts: list[str] = Field(default_factory=list)
    """Python statements, each usually an `assert`, run after the program."""
    setup: str = ""
    """Code run after the program and before the tests (imports, helpers)."""
    check: str | None = None
    """Source defining `check(candidate)`, HumanEval style."""
    entry_point: str | None = None
    """Name of the function `check` is called with."""
    io: list[IOCase] = Field(default_factory=list)
    """Stdin/stdout pairs; each runs the program once."""

    @property
    def empty(self) -> bool:
        return not (self.asserts or self.check or self.io)


@runtime_checkable
class Verifier(Protocol):
    """Everything `reasoner` asks of one domain's verifier (`math`, `code`, or your own).

    Strategies use `extract` and `group` to choose answers; grading uses
    `grade` on the answer a strategy chose, so nothing is extracted twice.
    `verify` is `extract` then `grade` on raw model text, for rewards and
    the `reasoner verify` command.
    """

    domain: ClassVar[str]
    """The `Problem.domain` it serves."""

    def extract(self, text: str) -> str | None:
        """The answer (or program) a model output commits to; None when it commits to nothing."""
        ...

    def group(self, answers: list[str | None]) -> list[int | None]:
        """Equal labels for equivalent answers, None for missing ones; votes count per label."""
        ...

    def grade(self, answer: str | None, reference: Any) -> Verdict:
        """An extracted answer against the reference (an answer, or tests)."""
        ...

    def grade_batch(self, items: list[tuple[str | None, Any]]) -> list[Verdict]: ...

    def verify(self, prediction: str, reference: Any) -> Verdict: ...

    def verify_batch(self, items: list[tuple[str, Any]]) -> list[Verdict]: ...

    def close(self) -> None: ...
