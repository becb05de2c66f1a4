"""Value sources: how a step-level search scores a partial solution. One protocol, a registry of three.

- `prm`: a process reward model (`reasoner.verifiers.prm`); the score of a prefix is
  the PRM's probability that it is still right after its last step. Every
  request goes through `PRMVerifier.ascore`, so the new prefixes of every
  problem in flight share forward batches; the cost is booked on the meter's
  PRM line, and a FLOPs budget that cannot pay for a scoring refuses it.
- `oracle`: the `arith` task's exact step checker (`check_step`) over the
  prefix's lines: 1.0 while every checkable line is right, 0.0 from the first
  wrong one. It never reads the reference answer, but it knows what no model
  knows, so it is an UPPER BOUND for experiments, never a real setting; every
  output names it `oracle`. On other tasks no line is checkable and it scores 1.0.
- `logprob`: the policy's own confidence, exp(mean token log-probability of
  the prefix). No extra model.

Scores are probability-like (in [0, 1]) so that aggregations, vote weights
and particle weights treat them alike. Not here: how a search uses them.
"""

from __future__ import annotations

import math
from typing import ClassVar, Protocol, runtime_checkable

from reasoner.errors import ConfigError
from reasoner.types import Problem
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search_tree import Node, Tree


@runtime_checkable
class ValueSource(Protocol):
    """Scores partial solutions; None for one it cannot score."""

    name: str
    """How outputs name it, e.g. `prm:tiny-prm`, `oracle`."""

    async def score(self, problem: Problem, tree: Tree, nodes: list[Node],
                    ctx: SolveContext) -> list[float | None] | None:
        """One score per node's prefix, or None when the budget cannot pay for scoring them."""
        ...


class PRMValue:
    """A process reward model's score of each prefix."""

    kind: ClassVar[str] = "prm"

    def __init__(self, prm: str, check_tokenizer: bool = True) -> None:
        self.prm = prm
        self.name = f"prm:{prm}"
        self.check_tokenizer = check_tokenizer
        self._checked = False

    async def score(self, problem: Problem, tree: Tree, nodes: list[Node],
                    ctx: SolveContext) -> list[float | None] | None:
        prm = ctx.prm(self.prm)
        if self.check_tokenizer and not self._checked and ctx.policy is not None:
            prm.check_policy(ctx.policy.name)
            self._checked = True
        items = [(problem.prompt, tree.text(node)) for node in nodes]
        flops = _flops(prm, items) if ctx.meter.budget.flops is not None else 0.0
        if not ctx.meter.reserve_flops(flops):
            return None
        try:
            scored = await prm.ascore(items)
        finally:
            ctx.meter.release_flops(flops)
        ctx.meter.book_prm(scored.tokens, scored.flops, scored.seconds)
        return [row[-1] if row else None for row in scored.steps]


def _flops(verifier, items: list[tuple[str, str]]) -> float:
    """What scoring `items` will cost, counted as `PRMVerifier.score` counts it."""
    from reasoner.verifiers.prm.encoding import encode

    tokens = sum(len(encode(verifier.tokenizer, verifier.step_format, p, t, verifier.max_len)[0]) for p, t in items)
    return 2.0 * verifier.parameters * tokens


class OracleValue:
    """The exact step checker of `arith`: an UPPER BOUND for experiments, not a real setting."""

    kind: ClassVar[str] = "oracle"
    name = "oracle"

    async def score(self, problem: Problem, tree: Tree, nodes: list[Node],
                    ctx: SolveContext) -> list[float | None] | None:
        return [oracle_score(tree.text(node)) for node in nodes]


def oracle_score(text: str) -> float:
    """1.0 while every checkable line of `text` is right, 0.0 from the first wrong one."""
    from reasoner.tasks.arith import check_step

    return 0.0 if any(check_step(line) is False for line in text.splitlines()) else 1.0


class LogprobValue:
    """The policy's own confidence in the prefix: exp(mean token log-probability)."""

    kind: ClassVar[str] = "logprob"
    name = "logprob"

    async def score(self, problem: Problem, tree: Tree, nodes: list[Node],
                    ctx: SolveContext) -> list[float | None] | None:
        means = [tree.mean_logprob(node) for node in nodes]
        return [None if mean is None else math.exp(mean) for mean in means]


VALUE_SOURCES = ("prm", "oracle", "logprob")
"""Names a search's `value` option takes (built by `make_value_source`)."""


def check_value_source(value: str, prm: str | None) -> None:
    """A `ConfigError` unless `value` names a source and a PRM is given (and exists) when it needs one."""
    if value not in VALUE_SOURCES:
        raise ConfigError(f"unknown value source {value!r}; choose one of {', '.join(VALUE_SOURCES)}")
    if value == "prm" and not prm:
        raise ConfigError("the value source 'prm' needs a PRM: give --prm NAME_OR_FOLDER (e.g. tiny-prm), "
                          "or choose value=oracle or value=logprob")
    if prm:
        from reasoner.verifiers.prm import check_prm

        check_prm(prm)  # a missing folder or step format fails here, naming it


def make_value_source(value: str, prm: str | None) -> ValueSource:
    """The value source `value` (checked by `check_value_source`)."""
    check_value_source(value, prm)
    return _MAKERS[value](prm)


_MAKERS = {"prm": PRMValue, "oracle": lambda prm: OracleValue(), "logprob": lambda prm: LogprobValue()}
