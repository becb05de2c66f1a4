"""Monte Carlo tree search over steps, with PUCT selection (as in AlphaZero), PRM values and real rollouts.

Each of the n iterations:
1. selects a path from the root by PUCT: a child's value (its mean backed-up
   value, or its value-source score before any backup) plus
   `c_puct * prior * sqrt(parent visits + 1) / (1 + child visits)`, where the
   prior is the policy's own probability of the step (exp of its mean token
   log-probability, normalised among siblings);
2. expands the selected leaf by `width` one-step children, each scored by
   the value source (a PRM by default), unless the leaf is at `depth`;
3. simulates: a real rollout from the most promising new child (or from the
   leaf at `depth`) to the end of the solution, scored by the value source,
   never by the reference;
4. backs the rollout's score up along the path (visits and values).

The final answer is the end of the most-visited path (`final=visits`), of
the highest-valued path (`value`), or a vote over every finished leaf
(`vote`, using the `answer` rule). A finished step is terminal: selecting it
backs up its own score again.
"""

from __future__ import annotations

import math
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search import Search, SearchOptions
from reasoner.strategies.search_tree import Node


class MCTS(SearchOptions):
    """PUCT tree search over steps with value-source values and rollouts to the end."""

    name: ClassVar[str] = "mcts"

    n: int = Field(16, ge=1, validation_alias=AliasChoices("n", "iterations"))
    """Iterations (select, expand, simulate, back up); each costs one expansion and one rollout."""
    width: int = Field(3, ge=1, validation_alias=AliasChoices("width", "m"))
    """Expansion width: one-step children made when a leaf is expanded."""
    c_puct: float = Field(1.0, ge=0.0)
    """Exploration constant of PUCT."""
    depth: int = Field(6, ge=1)
    """Most steps the tree grows; below it, rollouts alone go on."""
    rollout_tokens: int = Field(256, ge=1)
    """Cap on one rollout's tokens."""
    final: Literal["visits", "value", "vote"] = "visits"
    """The answer: end of the most-visited path, of the highest-valued path, or a vote over finished leaves."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        search = Search(self, problem, ctx)
        search.real_visits = True
        for _ in range(self.n):
            path = self._select(search)
            outcome = await self._simulate(search, path[-1])
            if outcome is None:
                break
            tail, value = outcome
            for node in path + tail:
                node.visits += 1
                node.backups += 1
                node.value_sum += value
        leaves = [node for node in search.tree.nodes if node.finished] or \
            [node for node in search.tree.nodes if node.rollout]
        chosen = None if self.final == "vote" else self._final(search)
        return await search.finish(self.name, leaves + ([chosen] if chosen is not None else []), chosen)

    def _select(self, search: Search) -> list[Node]:
        """The path from the root down by PUCT to a node with no step children, or a finished one."""
        path = [search.tree.root]
        while not path[-1].finished and (children := _steps(search, path[-1])):
            parent = path[-1]
            path.append(max(children, key=lambda child: self._puct(parent, child)))
        return path

    async def _simulate(self, search: Search, leaf: Node) -> tuple[list[Node], float] | None:
        """Expand `leaf` and roll out from its best child (or roll out from `leaf` at depth); the new
        nodes on the backup path and the value to back up. None when the budget refuses."""
        if leaf.finished:
            return [], search.path_score(leaf)
        start, tail = leaf, []
        if leaf.depth < min(self.depth, self.max_steps):
            children = await search.expand(leaf, self.width)
            if not children:
                return None
            _set_priors(children)
            start = max(children, key=lambda child: self._puct(leaf, child))
            tail = [start]
            if start.finished:
                return tail, search.path_score(start)
        rollout = await search.rollout(start, self.rollout_tokens)
        if rollout is None:
            return None
        return tail + [rollout], search.path_score(rollout)

    def _puct(self, parent: Node, child: Node) -> float:
        quality = child.value if child.value is not None else 0.0
        return quality + self.c_puct * child.prior * math.sqrt(parent.visits + 1) / (1 + child.visits)

    def _final(self, search: Search) -> Node | None:
        """The end of the path that follows the most visits (or the best value) from the root."""
        node = search.tree.root
        key = (lambda n: (n.visits, n.value or 0.0)) if self.final == "visits" else \
            (lambda n: (n.value or 0.0, n.visits))
        while children := [c for c in _steps(search, node) if c.visits]:
            node = max(children, key=key)
        if node.finished:
            return node
        rollouts = [search.tree.nodes[i] for i in node.children if search.tree.nodes[i].rollout]
        return max(rollouts, key=search.path_score) if rollouts else None

    def at_budget(self, budget: int) -> MCTS:
        """MCTS with `budget` iterations."""
        return self.model_copy(update={"n": budget})


def _steps(search: Search, node: Node) -> list[Node]:
    """`node`'s one-step children (not its rollouts)."""
    return [search.tree.nodes[i] for i in node.children if not search.tree.nodes[i].rollout]


def _set_priors(children: list[Node]) -> None:
    """Each child's prior: its probability per token under the policy, normalised among siblings."""
    weights = [math.exp(c.mean_logprob) if c.mean_logprob is not None else 1.0 for c in children]
    total = sum(weights)
    for child, weight in zip(children, weights):
        child.prior = weight / total

