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

from typing import Any, ClassVar, Protocol, runtime_checkable

from reasoner.types import GRADED, CodeTests, IOCase, Status, Verdict, score_for

__all__ = ["GRADED", "CodeTests", "IOCase", "Status", "Verdict", "Verifier", "score_for"]


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
