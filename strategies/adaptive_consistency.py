"""Adaptive self-consistency: sample in small batches until the vote is settled.

Stopping rule (the Beta criterion of Aggarwal et al., 2023, "Let's Sample Step
by Step: Adaptive-Consistency for Efficient Reasoning with LLMs"): with a
votes for the leading answer and b for the runner-up, treat the leader's share
among the two as p ~ Beta(a + 1, b + 1) and stop once

    P(p > 1/2) = P(Binomial(a + b + 1, 1/2) <= a) >= confidence.

Easy problems, whose samples agree, stop after a few samples. The default
confidence is 0.85, below the paper's 0.95, with samples drawn 3 at a time: a
first round of 3 agreeing answers settles a vote (P = 15/16), while 2 of 3 do
not (P = 11/16), nor does 3 to 1 (P = 26/32); 4 to 1 does (P = 57/64).

Futility stop (ours): a model that answers a hard problem differently every
time gains little from more votes. With a votes for the leader out of n
answered samples, the same Beta rule gives the chance that the leader holds a
majority of the model's answers, P(Binomial(n + 1, 1/2) <= a); sampling stops
once that falls below `futility`. At the default 0.05 it fires when the first
9 answers all differ, or the leader has 3 of 12; a leader at a third of the
votes goes on to be settled by the Beta rule instead. A plurality can win a
vote without being a majority, so large values give accuracy back: on the
bundled `tiny`, whose right answers hold about a third of the samples on hard
problems, 0.2 gave back 10 of the 16 points the vote adds.

The defaults were chosen on the dev split: a grid of rules replayed on the
bundled models' n=16 samples of the 500 `arith` dev problems, and scored once
on the test split afterwards (`benchmarks/adaptive_defaults.py`; README,
"Compute against accuracy"). Unanswered samples do not vote.

Two ways to draw (`mode`): `rounds` (the default) samples `batch` at a time,
each round waiting for the last; `cancel` sends all `max_n` samples at once as
streamed traces, applies the rule each time a trace finishes (in the order
they finish, so short answers count first) and aborts the traces still
running as soon as it holds; their tokens are booked as aborted. A sweep
replays `cancel` on the shared samples with every trace decoding one token
per step: the samples finish in order of length, and when the rule holds at
a sample of length L every other one has spent min(its length, L) tokens.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from math import comb
from typing import ClassVar, Literal

from pydantic import AliasChoices, Field

from reasoner.types import Candidate, Problem, Result
from reasoner.strategies.base import Replay, Sampling, SolveContext, make_result
from reasoner.strategies.self_consistency import Vote, tally, vote_answers


def leader_settled(leader: int, runner_up: int) -> float:
    """P(the leader's true share beats the runner-up's) under a uniform prior: the Beta rule.

    With `runner_up` set to every other vote, it is the chance that the leader is a majority."""
    trials = leader + runner_up + 1
    return sum(comb(trials, k) for k in range(leader + 1)) / 2**trials


class AdaptiveConsistency(Sampling):
    """Self-consistency that stops sampling once the majority is statistically settled."""

    name: ClassVar[str] = "adaptive_consistency"

    max_n: int = Field(16, ge=1, validation_alias=AliasChoices("max_n", "n"))
    """Most samples per problem (`n` is accepted too, so `--n 16` caps it as for self_consistency)."""
    batch: int = Field(3, ge=1)
    """Samples drawn per round."""
    confidence: float = Field(0.85, gt=0.5, lt=1.0)
    """Stop when P(leader beats the runner-up) reaches this."""
    futility: float = Field(0.05, ge=0.0, lt=0.5)
    """Stop when P(the leader is a majority of the model's answers) falls below this; 0 turns it off."""
    weighted: bool = False
    """Weight votes by exp(mean logprob), as in self_consistency."""
    mode: Literal["rounds", "cancel"] = "rounds"
    """`rounds`: `batch` samples per round; `cancel`: all `max_n` at once, the rest aborted when the rule holds."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        if self.mode == "cancel":
            return await self._solve_cancel(problem, ctx)
        candidates: list[Candidate] = []
        answers: list[str | None] = []
        vote = Vote(winner=None, groups={}, weights={})
        round_index = 0
        while len(candidates) < self.max_n:
            new = await self.sample(problem, ctx, min(self.batch, self.max_n - len(candidates)),
                                    seed_offset=7919 * round_index)
            if not new:
                break
            candidates += new
            answers += [ctx.extract(problem, c.text) for c in new]
            vote = await vote_answers(problem, answers, candidates, ctx, weighted=False)
            round_index += 1
            rule = self.stop_rule([len(members) for members in vote.groups.values()])
            if rule is not None:
                ctx.meter.record("stop", rule=rule, samples=len(candidates))
                break
        if self.weighted:
            vote = await vote_answers(problem, answers, candidates, ctx, weighted=True)
        answer = answers[vote.winner] if vote.winner is not None else None
        return make_result(self.name, problem, ctx, candidates, vote.winner, answer)

    async def _solve_cancel(self, problem: Problem, ctx: SolveContext) -> Result:
        """All samples at once; the rule is applied as each finishes, and the rest are aborted when it holds."""
        finished: dict[int, str | None] = {}
        async with ctx.meter.traces(self.sample_request(problem, self.max_n, ctx.seed)) as traces:
            async for delta in traces:
                if delta.done is None or delta.done.aborted is not None:
                    continue
                finished[delta.index] = ctx.extract(problem, delta.done.text)
                labels = await ctx.group(problem, list(finished.values()))
                rule = self.stop_rule(list(Counter(label for label in labels if label is not None).values()))
                if rule is not None and traces.running:
                    ctx.meter.record("stop", rule=rule, samples=len(finished), running=len(traces.running))
                    traces.stop_all(rule, finished=len(finished))
                    break
        candidates = traces.candidates
        answers = [finished.get(i) if c.aborted is None else None for i, c in enumerate(candidates)]
        vote = await vote_answers(problem, answers, candidates, ctx, weighted=self.weighted)
        answer = answers[vote.winner] if vote.winner is not None else None
        return make_result(self.name, problem, ctx, candidates, vote.winner, answer)

    def stop_rule(self, counts: Sequence[int]) -> str | None:
        """Given the votes per answer so far: "beta" when the leader is settled, "futility" when
        no answer is likely a majority, else None (sample on)."""
        counts = sorted((count for count in counts if count > 0), reverse=True)
        if not counts:
            return None
        runner_up = counts[1] if len(counts) > 1 else 0
        if leader_settled(counts[0], runner_up) >= self.confidence:
            return "beta"
        if leader_settled(counts[0], sum(counts) - counts[0]) < self.futility:
            return "futility"
        return None

    replay_scorer: ClassVar[None] = None

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int, seed: int) -> Replay:
        """The stopping rule replayed on `draws` random orders of the samples, capped at `budget`.

        Each order is one possible sequence of i.i.d. samples; the vote over the
        prefix the rule draws is the answer. The prompt is booked once per round.
        In `cancel` mode see `replay_cancel`.
        """
        import numpy as np

        if self.mode == "cancel":
            return self.replay_cancel(samples, tokens, budget, draws=draws, seed=seed)
        capped = self.model_copy(update={"max_n": min(budget, len(samples))})
        rng = np.random.default_rng(seed)
        correct = generated = drawn_total = calls = 0.0
        for _ in range(draws):
            order = rng.permutation(len(samples))
            drawn = capped.samples_drawn([samples[i].label for i in order])
            chosen = [samples[i] for i in order[:drawn]]
            winner = tally(chosen, self.weighted).winner
            correct += winner is not None and chosen[winner].correct
            generated += sum(tokens[i] for i in order[:drawn])
            drawn_total += drawn
            calls += -(-drawn // self.batch)
        return Replay(accuracy=correct / draws, samples=drawn_total / draws, generated_tokens=generated / draws,
                      calls=calls / draws)

    def replay_cancel(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int,
                      seed: int) -> Replay:
        """`cancel` mode on `draws` random subsets of `budget` samples, all sent at once and decoding in step.

        The subset's samples finish shortest first (equal lengths in random
        order); the rule is applied after each; when it holds at a sample of
        length L, every sample of the subset has spent min(its length, L) tokens
        and the finished ones vote. One model call.
        """
        import numpy as np

        size = min(budget, len(samples))
        one_by_one = self.model_copy(update={"max_n": size, "batch": 1})
        rng = np.random.default_rng(seed)
        correct = generated = finished_total = 0.0
        for _ in range(draws):
            subset = rng.permutation(len(samples))[:size]
            order = [int(i) for _, _, i in sorted(zip((tokens[i] for i in subset), rng.random(size), subset))]
            finished = one_by_one.samples_drawn([samples[i].label for i in order])
            chosen = [samples[i] for i in order[:finished]]
            winner = tally(chosen, self.weighted).winner
            correct += winner is not None and chosen[winner].correct
            generated += sum(min(tokens[i], tokens[order[finished - 1]]) for i in order)
            finished_total += finished
        return Replay(accuracy=correct / draws, samples=size, generated_tokens=generated / draws, calls=1,
                      metrics={"finished_samples": finished_total / draws})

    def at_budget(self, budget: int) -> AdaptiveConsistency:
        return self.model_copy(update={"max_n": budget})

    def samples_drawn(self, labels: Sequence[int | None]) -> int:
        """How many of these samples, taken in order, `solve` would draw before stopping.

        `labels[i]` is sample i's answer class (None: no answer). A sweep uses
        this to read the strategy off a pool of i.i.d. samples instead of
        sampling again; `solve` stops at the same point on the same samples.
        """
        drawn = 0
        while drawn < min(self.max_n, len(labels)):
            drawn = min(drawn + self.batch, self.max_n, len(labels))
            seen = Counter(label for label in labels[:drawn] if label is not None)
            if self.stop_rule(list(seen.values())) is not None:
                break
        return drawn


class AdaptiveCancel(AdaptiveConsistency):
    """Adaptive self-consistency in `cancel` mode under a name of its own, so that a sweep (and so the
    router) can hold both modes side by side."""

    name: ClassVar[str] = "adaptive_cancel"

    mode: Literal["rounds", "cancel"] = "cancel"
    """`cancel` unless told otherwise."""
