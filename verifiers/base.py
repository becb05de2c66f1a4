"""The verdict every verifier returns, and the test-suite format for code.

A verdict is data, not an exception: a program that crashes or an answer that
does not parse is an expected outcome with a status. `score is None` means the
verifier could not grade the candidate; it never means 0. Callers that turn
verdicts into rewards or accuracy must drop ungradable verdicts, not count them
as wrong.
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


GRADED = frozenset({Status.CORRECT, Status.INCORRECT})


class Verdict(BaseModel):
    """Result of checking one prediction against a reference or tests."""

    model_config = ConfigDict(frozen=True)

    status: Status
    """What happened."""
    score: float | None
    """1.0 correct, 0.0 incorrect, a fraction for partial credit; None when ungradable."""
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
