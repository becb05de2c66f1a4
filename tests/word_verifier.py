"""A verifier for a domain the package does not know, to show that the verifier seam takes one."""

from __future__ import annotations

from typing import Any, ClassVar

from reasoner.verifiers.base import Status, Verdict


class WordVerifier:
    """Answers are the last word of the text; equal ignoring case."""

    domain: ClassVar[str] = "word"

    def extract(self, text: str) -> str | None:
        words = text.split()
        return words[-1].strip(".").lower() if words else None

    def group(self, answers: list[str | None]) -> list[int | None]:
        seen: dict[str, int] = {}
        return [None if a is None else seen.setdefault(a.lower(), len(seen)) for a in answers]

    def grade(self, answer: str | None, reference: Any) -> Verdict:
        if answer is None:
            return Verdict(status=Status.UNPARSEABLE, score=0.0)
        right = answer.lower() == str(reference).lower()
        return Verdict(status=Status.CORRECT if right else Status.INCORRECT, score=float(right), extracted=answer)

    def grade_batch(self, items: list[tuple[str | None, Any]]) -> list[Verdict]:
        return [self.grade(answer, reference) for answer, reference in items]

    def verify(self, prediction: str, reference: Any) -> Verdict:
        return self.grade(self.extract(prediction), reference)

    def verify_batch(self, items: list[tuple[str, Any]]) -> list[Verdict]:
        return [self.verify(prediction, reference) for prediction, reference in items]

    def close(self) -> None:
        pass
