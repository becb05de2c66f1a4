"""What a solve job did, summarised from its records one at a time: accuracy overall and per level, and cost.

Records are the dicts a solve job writes, one per problem. A record is
correct when its verdict status is `correct`. Under the verifiers' score rule
(`reasoner.types.score_for`) an answer that is missing, unparseable or timed out is
graded wrong (score 0); only records the verifier could not grade through no
fault of the model (score None: a reference that does not parse, a verifier
failure, a strategy error) are counted separately, with their problem ids
(`ungradable`, `ungradable_ids`), and never as wrong answers silently:
`accuracy` divides by all problems, `graded_accuracy` by the graded ones only.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, Field


LISTED_IDS = 20
"""Ungradable problems (a reference that does not parse, a verifier failure) are named, up to this many."""


class AccuracyBlock(BaseModel):
    """Accuracy over a set of solve-job records."""

    problems: int = 0
    correct: int = 0
    ungradable: int = 0
    """Records without a usable score (no reference, a reference that does not parse, a verifier
    failure, a strategy error): never counted as wrong answers silently."""
    ungradable_ids: list[str] = Field(default_factory=list)
    """The first `LISTED_IDS` of them, by problem id."""

    @property
    def accuracy(self) -> float:
        """Correct over every problem; an ungradable problem counts as not correct."""
        return self.correct / self.problems if self.problems else 0.0

    @property
    def graded_accuracy(self) -> float | None:
        """Correct over the graded problems only."""
        graded = self.problems - self.ungradable
        return self.correct / graded if graded else None

    def add(self, record: dict[str, Any]) -> None:
        self.problems += 1
        self.correct += record.get("status") == "correct"
        if record.get("score") is None:
            self.ungradable += 1
            if len(self.ungradable_ids) < LISTED_IDS:
                self.ungradable_ids.append(str(record.get("problem_id")))

    def report(self) -> dict[str, Any]:
        """The block with its derived accuracies, as printed and written as JSON."""
        return {**self.model_dump(), "accuracy": self.accuracy, "graded_accuracy": self.graded_accuracy}


class JobSummary(AccuracyBlock):
    """What a solve job did: accuracy overall and per level, and what it spent.

    Built one record at a time (`add`), so a job of any size summarises in
    constant memory.
    """

    errors: int = 0
    """Problems that failed with an error (counted as not correct)."""
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    """Of `prompt_tokens`, those served from the engine's prefix cache."""
    generated_tokens: int = 0
    flops: float = 0.0
    verifier_s: float = 0.0
    by_level: dict[str, AccuracyBlock] = Field(default_factory=dict)

    @property
    def mean_generated_tokens(self) -> float:
        return self.generated_tokens / self.problems if self.problems else 0.0

    def add(self, record: dict[str, Any]) -> None:
        super().add(record)
        cost = record.get("cost") or {}
        self.errors += bool(record.get("error"))
        self.prompt_tokens += cost.get("prompt_tokens", 0)
        self.cached_prompt_tokens += cost.get("cached_prompt_tokens", 0)
        self.generated_tokens += cost.get("generated_tokens", 0)
        self.flops += cost.get("flops", 0.0)
        self.verifier_s += cost.get("verifier_seconds", 0.0)
        if record.get("level") is not None:
            self.by_level.setdefault(str(int(record["level"])), AccuracyBlock()).add(record)

    def report(self) -> dict[str, Any]:
        levels = {level: self.by_level[level].report() for level in sorted(self.by_level, key=int)}
        return {**super().report(), "mean_generated_tokens": self.mean_generated_tokens, "by_level": levels}


def summarize(records: Iterable[dict[str, Any]]) -> JobSummary:
    """Overall and per-level accuracy, token and time totals, reading `records` once."""
    summary = JobSummary()
    for record in records:
        summary.add(record)
    return summary
