"""Verifier scores as RL rewards, in the two shapes trainers expect.

- TRL: a reward function `(prompts, completions, **dataset_columns) ->
  list[float | None]`. Completions may be strings or chat message lists.
- verl: `compute_score(data_source, solution_str, ground_truth,
  extra_info=None) -> float | None`, routed to the code verifier when the
  ground truth is a test suite and to the math verifier otherwise.

Both are thin wrappers that pass on the verdict's score, so both follow the
one score rule in `reasoner.verifiers.base`: a completion with no answer, an
unparseable one, or one that times out scores 0.0 (so a policy cannot learn
that saying nothing is safe). `None` is only for a sample the verifier could
not grade through no fault of the completion (a broken reference or test
suite, or the verifier's own failure); TRL's `GRPOTrainer` treats it as
missing (NaN), never as a zero reward.

`majority_rewards` is the label-free reward of test-time RL (TTRL, Zuo et al.,
2025): a completion's reward is its agreement with its group's majority
answer, and no reference is read. The rule, for one group of completions of one
prompt, with answers grouped by the verifier's equivalence:

- the group's label is the answer held by the most completions, if no other
  answer is held by as many (no tie at the top) and at least `min_votes`
  completions hold it;
- with a label, a completion holding it scores 1.0 and every other one 0.0,
  an unparseable or missing answer included;
- without a label (a tie at the top; a leader below `min_votes`, such as a
  group whose answers all differ; no parseable answer at all), every
  completion scores 0.0: equal rewards, so GRPO gives the group no advantage.
  Such groups are counted (`MajorityOutcome.label is None`), never dropped,
  and no reward is ever None.

`MajorityVoteReward` is that rule as a TRL reward function (completions of the
same prompt form a group).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from reasoner.verifiers.base import CodeTests


def completion_text(completion: Any) -> str:
    """The text of a TRL completion: a string, or the last message of a chat list."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"cannot read a completion of type {type(completion).__name__}")


class _ColumnReward:
    """A TRL reward that grades each completion against one dataset column."""

    def __init__(self, name: str, column: str, verifier_for, reference_of) -> None:
        self.__name__ = name
        self.column = column
        self._verifier_for = verifier_for
        self._reference_of = reference_of

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float | None]:
        references = _column(columns, self.column, len(completions))
        verdicts = self._verifier_for().verify_batch(
            [(completion_text(c), self._reference_of(r)) for c, r in zip(completions, references)])
        return [v.score for v in verdicts]


class MathReward(_ColumnReward):
    """TRL reward: 1.0 when the completion's answer equals the `answer` column."""

    def __init__(self, verifier=None, answer_column: str = "answer") -> None:
        self.verifier = verifier
        super().__init__("math_reward", answer_column, lambda: _math(self.verifier), str)


class CodeReward(_ColumnReward):
    """TRL reward: 1.0 when the completion's program passes the `tests` column."""

    def __init__(self, verifier=None, tests_column: str = "tests") -> None:
        self.verifier = verifier
        super().__init__("code_reward", tests_column, lambda: _code(self.verifier), as_tests)


class MajorityOutcome(BaseModel):
    """The TTRL rule applied to one group."""

    rewards: list[float]
    """One reward per completion, in order: 1.0 for agreeing with the label, else 0.0."""
    label: int | None
    """The majority answer's label; None when the group has none (tie, too few votes, nothing parseable)."""
    votes: int
    """Completions holding the most common answer (0 when nothing parsed)."""
    why: str
    """`majority`, `tie`, `too_few_votes` or `no_answer`."""


def majority_rewards(labels: Sequence[int | None], min_votes: int = 2) -> MajorityOutcome:
    """TTRL rewards of one group from its answers' equivalence labels (None: no answer); see the module docstring."""
    if min_votes < 1:
        raise ValueError(f"min_votes must be at least 1, got {min_votes}")
    counts = Counter(label for label in labels if label is not None).most_common()
    if not counts:
        return MajorityOutcome(rewards=[0.0] * len(labels), label=None, votes=0, why="no_answer")
    (leader, votes), *others = counts
    if others and others[0][1] == votes:
        return MajorityOutcome(rewards=[0.0] * len(labels), label=None, votes=votes, why="tie")
    if votes < min_votes:
        return MajorityOutcome(rewards=[0.0] * len(labels), label=None, votes=votes, why="too_few_votes")
    return MajorityOutcome(rewards=[float(label == leader) for label in labels], label=leader, votes=votes,
                           why="majority")


class MajorityVoteReward:
    """TRL reward: agreement with the majority answer of the completions of the same prompt (no reference)."""

    __name__ = "majority_vote_reward"

    def __init__(self, verifier=None, min_votes: int = 2) -> None:
        self.verifier = verifier
        self.min_votes = min_votes

    def __call__(self, prompts: list[Any], completions: list[Any], **columns: Any) -> list[float]:
        verifier = _math(self.verifier)
        groups: dict[str, list[int]] = {}
        for index, prompt in enumerate(prompts):
            groups.setdefault(repr(prompt), []).append(index)
        rewards = [0.0] * len(completions)
        for members in groups.values():
            answers = [verifier.extract(completion_text(completions[i])) for i in members]
            outcome = majority_rewards(verifier.group(answers), self.min_votes)
            for index, reward in zip(members, outcome.rewards):
                rewards[index] = reward
        return rewards


def compute_score(data_source: str, solution_str: str, ground_truth: Any,
                  extra_info: dict[str, Any] | None = None) -> float | None:
    """verl-style score of one response; None when it could not be graded."""
    if _is_tests(ground_truth):
        return _code(None).verify(solution_str, as_tests(ground_truth)).score
    return _math(None).verify(solution_str, str(ground_truth)).score


def as_tests(value: Any) -> CodeTests:
    """A `CodeTests` from a dataset cell: the model itself, a dict, or a list of asserts."""
    if isinstance(value, CodeTests):
        return value
    if isinstance(value, dict):
        return CodeTests.model_validate(value)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return CodeTests(asserts=list(value))
    raise TypeError(f"cannot read tests from a {type(value).__name__}")


def _is_tests(value: Any) -> bool:
    return isinstance(value, (CodeTests, dict, list, tuple))


def _column(columns: dict[str, Any], name: str, count: int) -> list[Any]:
    if name not in columns:
        raise KeyError(f"the dataset has no {name!r} column; columns: {sorted(columns)}")
    values = list(columns[name])
    if len(values) != count:
        raise ValueError(f"column {name!r} has {len(values)} values for {count} completions")
    return values


def _math(verifier):
    return verifier if verifier is not None else _default_math()


def _code(verifier):
    return verifier if verifier is not None else _default_code()


@functools.cache
def _default_math():
    """One shared math verifier per process for callers that pass none (verl calls bare functions)."""
    from reasoner.verifiers.math import MathVerifier

    return MathVerifier()


@functools.cache
def _default_code():
    from reasoner.verifiers.code import CodeVerifier

    return CodeVerifier()
