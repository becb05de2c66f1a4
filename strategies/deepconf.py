"""DeepConf: filter and weight sampled traces by the model's own token confidence (Fu et al., 2025).

Every trace is sampled with its per-token top-k log-probabilities; its
confidence is computed by `reasoner.strategies.confidence` (token confidence
= minus the mean top-k log-probability; group confidence = its mean over a
sliding window of tokens).

- `deepconf` (offline): n traces; of those with an answer, keep the `keep`
  share with the highest confidence (by `metric`) and take the
  confidence-weighted vote among them. The choice is a pure function of the
  samples' confidences (`select`), so a sweep replays it on subsets of shared
  samples, like self-consistency.
- `deepconf_online`: `warmup` traces run to their end; the stop threshold is
  the (1 - keep) quantile of their lowest group confidences (so `keep` = 0.1
  is the paper's DeepConf-low, 0.9 DeepConf-high), or `threshold` when given.
  The other n - warmup traces are streamed at once; a trace whose windowed
  group confidence falls below the threshold is aborted in the engine at
  once (`low_confidence`), and after each trace that ends, the weighted vote
  is checked: once the leading answer holds `consensus` of the vote weight,
  every trace still running is aborted (`consensus`). The vote counts the
  traces that ended whole with a lowest group confidence at or above the
  threshold, warm-up traces included. If none did (say, a threshold no trace
  reaches), the vote falls back to every whole trace, warm-up ones included,
  weighted the same way, and the result's `stop_reason` says so
  (`deepconf:no_trace_above_threshold`); warm-up traces are never stopped, so
  there is always one.

Defaults were chosen on the `arith` dev split by rules written before the dev
samples were drawn (benchmarks/confidence_dev.py, results/confidence_dev.json):
offline, lowest group confidence over windows of 8 tokens, every answered trace
kept (keep 1.0: on dev, filtering to the most confident 10% or 50% lost 2-8
points on both models); online, 4 warm-up traces, keep 0.9, consensus 0.9.

Seeds: trace i of both modes is seeded with seed + i (warm-up traces first),
so online traces are offline's traces cut short. Aborted tokens are booked as
spent (`reasoner.budget.Traces`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from reasoner.engine.generation import TraceDelta
from reasoner.types import MAX_TOP_LOGPROBS, Candidate, Problem, Result, Sample
from reasoner.strategies.base import Replay, Sampling, SolveContext, make_result, samples_of
from reasoner.strategies.confidence import Metric, WindowMonitor, token_confidence
from reasoner.strategies.scorers import ConfidenceScorer, ScorerChoice
from reasoner.strategies.self_consistency import Vote, tally

FALLBACK = "deepconf:no_trace_above_threshold"
"""Stop reason of an online run in which no whole trace reached the threshold."""


class ConfidenceOptions(BaseModel):
    """What both modes of DeepConf take besides sampling."""

    n: int = Field(16, ge=1)
    """Traces per problem (online: warm-up included)."""
    top_logprobs: int = Field(20, ge=1, le=MAX_TOP_LOGPROBS)
    """Top-k log-probabilities per token behind the token confidence (k)."""
    window: int = Field(8, ge=1, le=4096)
    """Tokens per group confidence (the sliding window); 8 was the dev split's choice in both modes."""
    keep: float = Field(1.0, gt=0.0, le=1.0)
    """Share of traces kept: offline, the most confident of those with an answer (1.0, the dev split's
    choice, keeps all and only weights the vote); online, the warm-up share whose lowest group confidence is
    at or above the threshold (the quantile 1 - keep)."""

    def scorer(self, metric: Metric = "lowest_group") -> ConfidenceScorer:
        return ConfidenceScorer(metric=metric, window=self.window, top_logprobs=self.top_logprobs)

    @property
    def top_logprobs_needed(self) -> int:
        return self.top_logprobs


class DeepConf(ConfidenceOptions, Sampling):
    """Offline DeepConf: the confidence-weighted vote of the most confident traces."""

    name: ClassVar[str] = "deepconf"

    metric: Metric = "lowest_group"
    """Trace confidence that filters and weights: lowest_group, bottom_share, tail or mean."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        candidates = await self.sample(problem, ctx, self.n)
        answers = [ctx.extract(problem, c.text) for c in candidates]
        confidences = [self.scorer(self.metric).of(c) for c in candidates]
        labels = await ctx.group(problem, answers)
        samples = samples_of(candidates, labels, confidences)
        kept = kept_indices(samples, self.keep)
        winner = self.select(samples)
        ctx.meter.record("vote", kept=kept, confidences=[round(c, 6) for c in confidences], chosen=winner)
        answer = answers[winner] if winner is not None else None
        return make_result(self.name, problem, ctx, candidates, winner, answer)

    def select(self, samples: Sequence[Sample]) -> int | None:
        """The most confident member of the winning answer among the kept share (see `weighted_vote`)."""
        return weighted_vote(samples, kept_indices(samples, self.keep)).winner

    @property
    def replay_scorer(self) -> ScorerChoice:
        """The confidence that `select` reads, as a sweep scores its shared samples."""
        scorer = self.scorer(self.metric)
        return ScorerChoice(name=scorer.name, options=scorer.model_dump())

    def replay(self, samples: Sequence, tokens: Sequence[int], budget: int, *, draws: int, seed: int) -> Replay:
        """The filtered, weighted vote over k of the samples, in expectation over subsets."""
        from reasoner.stats import pass_at_k, selected_at_k

        accuracy = selected_at_k(samples, budget, self.select, draws=draws, seed=seed)
        return Replay(accuracy=accuracy, samples=budget, generated_tokens=sum(tokens) * budget / len(tokens),
                      calls=1, metrics={"pass_at_k": pass_at_k(len(samples), sum(s.correct for s in samples),
                                                                budget)})

    def at_budget(self, budget: int) -> DeepConf:
        return self.model_copy(update={"n": budget})


def kept_indices(samples: Sequence[Sample], keep: float) -> list[int]:
    """The ceil(keep x answered) answered samples of highest score (earlier first among equals)."""
    answered = [i for i, sample in enumerate(samples) if sample.label is not None]
    ranked = sorted(answered, key=lambda i: -_score(samples[i]))
    return sorted(ranked[:max(1, math.ceil(keep * len(answered)))]) if answered else []


def weighted_vote(samples: Sequence[Sample], indices: Sequence[int]) -> Vote:
    """The vote of `samples[indices]`, each weighted by its score; indices in the result are into `samples`."""
    chosen = [samples[i].model_copy(update={"logprob": _score(samples[i])}) for i in indices]
    vote = tally(chosen, by_score=True)
    if vote.winner is None:
        return vote
    return Vote(winner=indices[vote.winner], groups={k: [indices[i] for i in v] for k, v in vote.groups.items()},
                weights=vote.weights)


def leader_share(vote: Vote) -> float:
    """The winning answer's share of the vote weight (0 without votes)."""
    total = sum(vote.weights.values())
    return max(vote.weights.values()) / total if total > 0 else 0.0


def _score(sample: Sample) -> float:
    return sample.score if sample.score is not None else float("-inf")


class DeepConfOnline(ConfidenceOptions, Sampling):
    """Online DeepConf: warm-up traces set a threshold; traces below it and a settled vote are aborted."""

    name: ClassVar[str] = "deepconf_online"

    keep: float = Field(0.9, gt=0.0, le=1.0)
    """Share of the warm-up traces at or above the stop threshold (0.1: DeepConf-low, 0.9: DeepConf-high,
    the dev split's choice)."""
    warmup: int = Field(4, ge=1)
    """Traces run to their end first; their lowest group confidences set the threshold. At most `n`."""
    consensus: float = Field(0.9, gt=0.5, le=1.0)
    """Stop the problem once the leading answer holds this share of the confidence-weighted vote (0.9 was
    the dev split's choice over the paper's 0.95)."""
    threshold: float | None = Field(None, allow_inf_nan=False)
    """A fixed stop threshold on the group confidence instead of the warm-up's quantile."""

    @field_validator("warmup")
    @classmethod
    def _warmup_within_n(cls, value: int, info: ValidationInfo) -> int:
        n = info.data.get("n")
        if n is not None and value > n:
            raise ValueError(f"must be at most n ({n}), got {value}")
        return value

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        run = OnlineRun(self, problem, ctx)
        await run.warm_up()
        if not run.settled() and self.n > self.warmup:
            await run.stream_rest()
        return await run.result()

    def at_budget(self, budget: int) -> DeepConfOnline:
        return self.model_copy(update={"n": budget, "warmup": min(self.warmup, budget)})


class OnlineRun:
    """One problem's online DeepConf: the traces so far, the threshold and the vote."""

    def __init__(self, strategy: DeepConfOnline, problem: Problem, ctx: SolveContext) -> None:
        self.strategy = strategy
        self.problem = problem
        self.ctx = ctx
        self.scorer = strategy.scorer("lowest_group")
        self.candidates: list[Candidate] = []
        self.answers: list[str | None] = []
        self.confidences: list[float] = []
        self.whole: list[bool] = []
        """Per trace: it ended by itself and was never judged low (it may vote)."""
        self.threshold = strategy.threshold
        self.vote = Vote(winner=None, groups={}, weights={})
        self.stop_reason: str | None = None

    async def warm_up(self) -> None:
        warm = await self.strategy.sample(self.problem, self.ctx, self.strategy.warmup)
        for candidate in warm:
            self._add(candidate, whole=True)
        if self.threshold is None and self.confidences:
            self.threshold = quantile(self.confidences, 1.0 - self.strategy.keep)
        self.ctx.meter.record("threshold", threshold=self.threshold, warmup=len(warm),
                              confidences=[round(c, 6) for c in self.confidences],
                              given=self.strategy.threshold is not None)
        await self._revote()

    def settled(self) -> bool:
        if leader_share(self.vote) >= self.strategy.consensus:
            self.stop_reason = "consensus"
            self.ctx.meter.record("stop", rule="consensus", share=leader_share(self.vote), traces=len(self.candidates))
            return True
        return False

    async def stream_rest(self) -> None:
        strategy, ctx = self.strategy, self.ctx
        rest = strategy.n - strategy.warmup
        seed = None if ctx.seed is None else ctx.seed + strategy.warmup
        monitors = [WindowMonitor(strategy.window) for _ in range(rest)]
        low: set[int] = set()
        async with ctx.meter.traces(strategy.sample_request(self.problem, rest, seed)) as traces:
            async for delta in traces:
                if delta.index not in low and self._watch(delta, monitors[delta.index]):
                    low.add(delta.index)
                    traces.stop(delta.index, "low_confidence", group_confidence=round(monitors[delta.index].lowest, 6),
                                threshold=self.threshold)
                if delta.done is not None and delta.index not in low and delta.done.aborted is None:
                    self._add(delta.done, whole=True)
                    await self._revote()
                    if self.stop_reason is None and self.settled():
                        traces.stop_all("consensus", share=round(leader_share(self.vote), 6))
        for index, candidate in enumerate(traces.candidates):
            if index in low or candidate.aborted is not None:
                self._add(candidate, whole=False)

    def _watch(self, delta: TraceDelta, monitor: WindowMonitor) -> bool:
        """Feed the new tokens' confidences; True once the trace's group confidence is below the threshold."""
        for top in delta.top_logprobs or ():
            group = monitor.push(token_confidence(top))
            if group is not None and self.threshold is not None and group < self.threshold:
                return True
        return False

    def _add(self, candidate: Candidate, whole: bool) -> None:
        self.candidates.append(candidate)
        self.answers.append(self.ctx.extract(self.problem, candidate.text) if whole else None)
        self.confidences.append(self.scorer.of(candidate))
        self.whole.append(whole)

    async def _revote(self) -> None:
        eligible = [i for i, whole in enumerate(self.whole)
                    if whole and (self.threshold is None or self.confidences[i] >= self.threshold)]
        self.vote = await self._vote(eligible)

    async def _vote(self, indices: list[int]) -> Vote:
        labels = await self.ctx.group(self.problem, [self.answers[i] for i in indices])
        samples = [Sample(label=label, score=self.confidences[i]) for i, label in zip(indices, labels)]
        vote = weighted_vote(samples, list(range(len(samples))))
        if vote.winner is None:
            return vote
        return Vote(winner=indices[vote.winner], groups={k: [indices[i] for i in v] for k, v in vote.groups.items()},
                    weights=vote.weights)

    async def result(self) -> Result:
        """The vote of the traces above the threshold, or the fallback vote of every whole trace."""
        vote, reason = self.vote, self.stop_reason and f"deepconf:{self.stop_reason}"
        if vote.winner is None:
            vote, reason = await self._vote([i for i, whole in enumerate(self.whole) if whole]), FALLBACK
            self.ctx.meter.record("fallback", reason="no whole trace with an answer reached the threshold",
                                  threshold=self.threshold, whole=sum(self.whole))
        self.ctx.meter.record("vote", groups={str(k): v for k, v in vote.groups.items()},
                              weights={str(k): round(w, 6) for k, w in vote.weights.items()}, chosen=vote.winner)
        answer = self.answers[vote.winner] if vote.winner is not None else None
        result = make_result(self.strategy.name, self.problem, self.ctx, self.candidates, vote.winner, answer)
        if result.stop_reason == "done" and reason is not None:
            return result.model_copy(update={"stop_reason": reason})
        return result


def quantile(values: Sequence[float], q: float) -> float:
    """The q-quantile of `values`, linearly interpolated between order statistics (numpy's default rule)."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
