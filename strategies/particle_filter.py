"""Particle filtering over steps (Puri et al., 2025: "A probabilistic inference approach to inference-time
scaling of LLMs using particle-based Monte Carlo methods").

N particles (partial solutions) are extended one step at a time; each
particle's weight comes from its value-source score (a PRM by default):
`softmax` weights are exp(score / temperature) normalised, `normalized`
weights are the scores themselves normalised. After every step N particles
are drawn again from the population by those weights (`multinomial` or
`systematic` resampling), so promising paths multiply and poor ones die,
while sampling keeps some diversity that greedy pruning (beam search) loses.
Finished particles stay in the population and are not extended. Particles
that share a path are extended by one request for all of them; children that
spell the same step are one node standing for as many particles as spelled it.
"""

from __future__ import annotations

import asyncio
import math
import random
from collections import Counter
from typing import ClassVar, Literal

from pydantic import Field

from reasoner.types import Problem, Result
from reasoner.strategies.base import SolveContext
from reasoner.strategies.search import Search, SearchOptions
from reasoner.strategies.search_tree import Node


class ParticleFilter(SearchOptions):
    """N particles extended a step at a time and resampled by their scores."""

    name: ClassVar[str] = "particle_filter"

    weights: Literal["softmax", "normalized"] = "softmax"
    """Particle weights from scores: softmax(score / weight_temperature), or scores normalised."""
    weight_temperature: float = Field(0.1, gt=0.0)
    """Temperature of softmax weights; lower concentrates on the best-scored particles."""
    resampling: Literal["multinomial", "systematic"] = "systematic"
    """How N particles are drawn by weight each step."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        search = Search(self, problem, ctx)
        rng = random.Random(ctx.seed)
        particles = [search.tree.root] * self.n
        while not search.refused and any(node is search.tree.root or search.open(node) for node in particles):
            particles = await self._step(search, particles)
            if not particles:
                break
            particles = self._resample(search, particles, rng)
        alive = [node for node in particles if node is not search.tree.root]
        finished = [node for node in alive if node.finished]
        return await search.finish(self.name, finished or alive)

    async def _step(self, search: Search, particles: list[Node]) -> list[Node]:
        """Every open particle one step on (one request per distinct path); finished ones as they are."""
        counts = Counter(node.id for node in particles if node is search.tree.root or search.open(node))
        kept = [node for node in particles if node.id not in counts]
        grown = await asyncio.gather(*(search.expand(search.tree.nodes[i], k) for i, k in counts.items()))
        for (index, k), children in zip(counts.items(), grown):
            # A merged child stands for each sample that spelled it; a particle the budget would not extend
            # stays as it is: it is a final path now.
            kept += [c for c in children for _ in range(c.copies)] or ([] if index == 0 else [search.tree.nodes[index]] * k)
        return kept

    def _resample(self, search: Search, particles: list[Node], rng: random.Random) -> list[Node]:
        """N particles drawn by weight; particles never drawn are pruned."""
        weights = self._weights([search.path_score(node) for node in particles])
        drawn = systematic(weights, self.n, rng) if self.resampling == "systematic" else \
            rng.choices(range(len(particles)), weights=weights, k=self.n)
        chosen = {particles[i].id for i in drawn}
        for node in particles:
            node.pruned = node.id not in chosen
        return [particles[i] for i in drawn]

    def _weights(self, scores: list[float]) -> list[float]:
        if self.weights == "normalized":
            total = sum(scores)
            return [s / total for s in scores] if total > 0 else [1.0 / len(scores)] * len(scores)
        top = max(scores)
        exps = [math.exp((s - top) / self.weight_temperature) for s in scores]
        return [e / sum(exps) for e in exps]

    def at_budget(self, budget: int) -> ParticleFilter:
        """The filter with N=budget particles."""
        return self.model_copy(update={"n": budget})


def systematic(weights: list[float], n: int, rng: random.Random) -> list[int]:
    """Systematic resampling: n evenly spaced points with one random offset, read off the weights' CDF."""
    offset = rng.random() / n
    picks, cumulative, index = [], weights[0], 0
    for k in range(n):
        point = offset + k / n
        while point > cumulative and index < len(weights) - 1:
            index += 1
            cumulative += weights[index]
        picks.append(index)
    return picks
