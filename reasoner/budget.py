"""The per-problem cost ledger and budget enforcement.

Every model call a strategy makes goes through a `Meter`. Before the call the
meter shrinks it to what the `Budget` still allows (fewer samples, fewer
max tokens) or refuses it; after the call it books prompt tokens (and, of
those, the ones the engine served from its prefix cache), generated tokens
and FLOPs. FLOPs leave out the prompt tokens the engine served from its cache
when this problem's own earlier calls had computed them, so a search that
continues one prompt step by step pays for the prompt once, as vLLM does;
cache hits on work done by others are charged, so a strategy's cost does not
depend on what ran beside it. Scorers book a PRM's cost with `book_prm`: the tokens it read,
of them those its engine served from a cache, and FLOPs of the rest by the same rule (a cached
prefix is free only when this problem's own earlier scorings read it); the FLOPs cap counts it. Strategies therefore cannot overspend, and the `Result`
says why a strategy stopped.

`traces(request)` is the streamed form of `generate`: the strategy watches
each candidate's tokens as they come and may stop any of them at once
(`Traces.stop`), which aborts its engine request. The call is fitted and
reserved like any other; the tokens a stopped candidate had were computed, so
they are booked as generated and, on their own line, as aborted
(`Cost.aborted_tokens`), and a `trace` event says when (tokens, seconds) and
why each candidate ended.
"""

from __future__ import annotations

import hashlib
import time
from array import array
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from reasoner.engine.generation import Generation, GenerationRequest, Generator, TraceDelta, TraceStream, open_stream
from reasoner.types import Budget, Candidate, Cost, FinishReason, TraceEvent


PRM_GRAIN = 16
"""Prefix lengths at which the meter remembers a problem's PRM inputs: the KV blocks a PRM engine caches
are whole multiples of it (16 on GPU, 32 on CPU), so a cached prefix is matched exactly."""


class PRMScoring(Protocol):
    """What a PRM scoring reports for the ledger (`reasoner.verifiers.prm.Scored`)."""

    tokens: int
    cached_tokens: int
    flops: float
    seconds: float
    item_ids: list[list[int]]
    item_cached: list[int]


class Meter:
    """Books one problem's spending against its budget."""

    def __init__(self, generator: Generator, budget: Budget | None = None,
                 listener: Callable[[TraceEvent], None] | None = None) -> None:
        self.generator = generator
        self.listener = listener
        """Called with every trace event as it is recorded, e.g. to stream progress."""
        self.budget = budget or Budget()
        self.cost = Cost()
        self.trace: list[TraceEvent] = []
        self.exhausted: str | None = None
        """Which cap stopped the last refused or shrunk call, e.g. `samples`."""
        self._reserved_samples = 0
        self._reserved_tokens = 0
        self._reserved_prompt = 0
        self._reserved_flops = 0.0
        self._question_tokens: int | None = None
        """The longest prompt seen without its token prefix (the rendered question), once a call has run."""
        """What calls in flight may still spend: concurrent calls of one problem (a search expanding
        several paths at once) must not each spend the same remainder."""
        self._seen: list[list[int]] = []
        """Token ids of every input and output of this problem's calls, for `_reused`."""
        self._prm_seen: set[bytes] = set()
        """Digests of this problem's PRM inputs' prefixes, for `_prm_reused`."""
        self._started = time.perf_counter()

    async def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Run `request` within the budget; returns [] when nothing is left to spend."""
        allowed = self.fit(request)
        if allowed is None:
            return []
        samples, tokens, prompt = allowed.n, allowed.n * allowed.sampling.max_tokens, self._prompt_guess(allowed)
        self._reserve(samples, tokens, prompt)
        try:
            generation = await self.generator.generate(allowed)
        finally:
            self._reserve(-samples, -tokens, -prompt)
        self._book(allowed, generation)
        return generation.candidates

    def traces(self, request: GenerationRequest) -> Traces:
        """`request`'s candidates streamed as traces the strategy may stop (`async with ... as traces`)."""
        return Traces(self, request)

    @property
    def reserved_flops(self) -> float:
        """FLOPs the calls in flight may still spend (their token caps and prompt guesses)."""
        return self.generator.info.flops(self._reserved_tokens + self._reserved_prompt) + self._reserved_flops

    def reserve_flops(self, flops: float) -> bool:
        """Hold `flops` for work about to run beside generation (a PRM scoring) if the FLOPs budget
        allows it; False, with the meter exhausted, if not. `release_flops` gives it back once booked."""
        cap = self.budget.flops
        if cap is not None and self.cost.total_flops + self.reserved_flops + flops > cap:
            self.exhausted = "flops"
            return False
        self._reserved_flops += flops
        return True

    def release_flops(self, flops: float) -> None:
        self._reserved_flops -= flops

    def _reserve(self, samples: int, tokens: int, prompt: int) -> None:
        self._reserved_samples += samples
        self._reserved_tokens += tokens
        self._reserved_prompt += prompt

    def fit(self, request: GenerationRequest) -> GenerationRequest | None:
        """`request` shrunk to the remaining budget, or None if no sample fits."""
        n = request.n
        samples_left = self._samples_left()
        if samples_left is not None and samples_left < n:
            n, self.exhausted = samples_left, "samples"
        tokens_left = self._tokens_left(prompt_tokens_guess=self._prompt_guess(request))
        max_tokens = request.sampling.max_tokens
        if tokens_left is not None and n > 0 and tokens_left < n * max_tokens:
            max_tokens = tokens_left // n
            if max_tokens < 1:
                n, max_tokens = min(n, tokens_left), 1
        if n < 1 or max_tokens < 1:
            self.exhausted = self.exhausted or "tokens"
            return None
        sampling = request.sampling.model_copy(update={"max_tokens": max_tokens})
        return request.model_copy(update={"n": n, "sampling": sampling})

    def record(self, kind: str, **data) -> None:
        """Append a trace event (and tell the listener)."""
        event = TraceEvent(kind=kind, data=data)
        self.trace.append(event)
        if self.listener is not None:
            self.listener(event)

    def add_verifier_time(self, seconds: float) -> None:
        self.cost = self.cost.model_copy(update={"verifier_seconds": self.cost.verifier_seconds + seconds})

    def book_prm(self, scored: PRMScoring, parameters: int) -> None:
        """Book a process reward model's scoring on its own lines of the cost: tokens read, of them those
        served from a cache, and the FLOPs of the tokens computed, where cached tokens are free only when
        this problem's own earlier scorings had read them (as for the policy's prompts)."""
        if scored.item_ids:
            reused = sum(self._prm_reused(ids, cached) for ids, cached in zip(scored.item_ids, scored.item_cached))
            flops = 2.0 * parameters * (scored.tokens - reused)
        else:  # a PRM that does not say what it read: its own count
            flops = scored.flops
        self.cost = self.cost + Cost(prm_tokens=scored.tokens, cached_prm_tokens=scored.cached_tokens,
                                     prm_flops=flops, prm_seconds=scored.seconds)
        self.record("prm", tokens=scored.tokens, cached_tokens=scored.cached_tokens, flops=flops,
                    seconds=round(scored.seconds, 6))

    def _prm_reused(self, ids: Sequence[int], cached: int) -> int:
        """Of the `cached` leading tokens of a PRM input, those an earlier scoring of this problem read: the
        longest prefix, at `PRM_GRAIN` steps (or whole), that this problem's PRM inputs held; then `ids`
        is remembered the same way."""
        hasher, digests, reused, start = hashlib.blake2b(digest_size=16), [], 0, 0
        for end in [*range(PRM_GRAIN, len(ids), PRM_GRAIN), len(ids)]:
            hasher.update(array("q", ids[start:end]).tobytes())
            start, digest = end, hasher.copy().digest()
            digests.append(digest)
            if end <= cached and digest in self._prm_seen:
                reused = end
        self._prm_seen.update(digests)
        return reused

    def finish(self) -> Cost:
        """The final cost, with wall time since the meter was made."""
        return self.cost.model_copy(update={"wall_seconds": time.perf_counter() - self._started})

    @property
    def stop_reason(self) -> str:
        return f"budget:{self.exhausted}" if self.exhausted else "done"

    def _book(self, request: GenerationRequest, generation: Generation) -> None:
        generated = sum(c.num_tokens for c in generation.candidates)
        aborted = [c for c in generation.candidates if c.aborted is not None]
        question = generation.prompt_tokens - len(request.prefix_ids)
        self._question_tokens = max(self._question_tokens or 0, question)
        cached = min(generation.cached_tokens, generation.prompt_tokens)
        reused = self._reused(generation, cached)
        info = self.generator.info
        self.cost = self.cost + Cost(
            prompt_tokens=generation.prompt_tokens, cached_prompt_tokens=cached, generated_tokens=generated,
            model_calls=1, samples=len(generation.candidates),
            flops=info.flops(generation.prompt_tokens - reused + generated),
            aborted_tokens=sum(c.num_tokens for c in aborted), aborted_samples=len(aborted),
        )
        extra = {"aborted": len(aborted), "aborted_tokens": sum(c.num_tokens for c in aborted)} if aborted else {}
        self.record("generate", n=request.n, max_tokens=request.sampling.max_tokens,
                    prompt_tokens=generation.prompt_tokens, cached_tokens=cached, generated_tokens=generated, **extra)

    def _reused(self, generation: Generation, cached: int) -> int:
        """Cached prompt tokens this problem's own earlier calls had computed.

        The engine's cache may also hold a prompt that other work computed (another
        strategy on the same question, another client): those tokens are charged as
        computed, so what a strategy costs does not depend on what ran beside it.
        Without the prompt's ids (some servers), the engine's count is taken as it is.
        """
        ids = generation.prompt_token_ids
        if ids is None:
            return cached
        shared = max((_common_prefix(ids, seen) for seen in self._seen), default=0)
        self._seen += [[*ids, *candidate.token_ids] for candidate in generation.candidates]
        return min(cached, shared)

    def _samples_left(self) -> int | None:
        if self.budget.samples is None:
            return None
        return max(0, self.budget.samples - self.cost.samples - self._reserved_samples)

    def _tokens_left(self, prompt_tokens_guess: int) -> int | None:
        limits = []
        if self.budget.generated_tokens is not None:
            limits.append(self.budget.generated_tokens - self.cost.generated_tokens - self._reserved_tokens)
        params = self.generator.info.parameters
        if self.budget.flops is not None and params:
            flops_left = self.budget.flops - self.cost.total_flops - self.reserved_flops
            limits.append(int(flops_left // (2 * params)) - prompt_tokens_guess)
        return max(0, min(limits)) if limits else None

    def _prompt_guess(self, request: GenerationRequest) -> int:
        """Prompt tokens a call may compute: the mean of earlier calls, or, for a call continuing a
        token prefix (step-level search), the longest question seen plus that prefix, whichever is more."""
        mean = self._mean_prompt_tokens()
        if not request.prefix_ids or self._question_tokens is None:
            return mean
        return max(mean, self._question_tokens + len(request.prefix_ids))

    def _mean_prompt_tokens(self) -> int:
        calls = self.cost.model_calls
        return self.cost.computed_prompt_tokens // calls if calls else 0


class Traces:
    """One streamed model call of a problem: its candidates' tokens as they come, each stoppable.

    Use it as `async with meter.traces(request) as traces: async for delta in traces: ...`. On
    entry the request is fitted to the budget and reserved (a refused call has no traces); on
    exit every trace still running is stopped (reason `strategy_done`, or `error` when the block
    raised), the rest of the stream is read, and the call is booked once, like `Meter.generate`.
    `candidates` then holds every trace in request order, a stopped one with `aborted` set.
    """

    def __init__(self, meter: Meter, request: GenerationRequest) -> None:
        self._meter = meter
        self.request = meter.fit(request)
        """The call as the budget allows it; None when it refused."""
        self._stream: TraceStream | None = None
        self._opened: AbstractAsyncContextManager | None = None
        self._parts: list[list[TraceDelta]] = []
        self._done: dict[int, Candidate] = {}
        self._stops: dict[int, dict[str, Any]] = {}
        self._started = time.perf_counter()
        self._reserved = (0, 0, 0)

    async def __aenter__(self) -> Traces:
        if self.request is None:
            return self
        allowed = self.request
        self._reserved = (allowed.n, allowed.n * allowed.sampling.max_tokens, self._meter._prompt_guess(allowed))
        self._meter._reserve(*self._reserved)
        self._parts = [[] for _ in range(allowed.n)]
        self._opened = open_stream(self._meter.generator, allowed)
        try:
            self._stream = await self._opened.__aenter__()
        except BaseException:
            self._meter._reserve(*(-value for value in self._reserved))
            raise
        self._started = time.perf_counter()
        return self

    def __aiter__(self) -> Traces:
        return self

    async def __anext__(self) -> TraceDelta:
        if self._stream is None:
            raise StopAsyncIteration
        delta = await self._stream.__anext__()
        self._parts[delta.index].append(delta)
        if delta.done is not None:
            self._end(delta.index, delta.done)
        return delta

    @property
    def n(self) -> int:
        """Traces in this call (0 when the budget refused it)."""
        return 0 if self.request is None else self.request.n

    @property
    def running(self) -> list[int]:
        """Indices of the traces that have not ended."""
        return [index for index in range(self.n) if index not in self._done]

    @property
    def can_abort(self) -> bool:
        """Whether stopping a trace saves work (False on a generator that cannot stream)."""
        return self._stream is not None and self._stream.can_abort

    def tokens(self, index: int) -> int:
        """Tokens trace `index` has produced so far."""
        return sum(len(delta.token_ids) for delta in self._parts[index])

    def stop(self, index: int, reason: str, **detail: Any) -> None:
        """Abort trace `index` now, saying why; a trace that has ended or is already stopping is left alone."""
        if self._stream is None or index in self._done or index in self._stops:
            return
        self._stops[index] = {"reason": reason, "at_tokens": self.tokens(index),
                              "at_seconds": round(time.perf_counter() - self._started, 6), **detail}
        self._stream.abort(index)

    def stop_all(self, reason: str, **detail: Any) -> None:
        """Abort every trace still running."""
        for index in self.running:
            self.stop(index, reason, **detail)

    @property
    def candidates(self) -> list[Candidate]:
        """Every ended trace, in request order (all of them after the block)."""
        return [self._done[index] for index in sorted(self._done)]

    def _end(self, index: int, candidate: Candidate) -> None:
        stop = self._stops.get(index)
        if candidate.finish_reason is FinishReason.ABORT:
            candidate = candidate.model_copy(update={"aborted": stop["reason"] if stop else "engine"})
        self._done[index] = candidate
        event: dict[str, Any] = {"index": index, "tokens": candidate.num_tokens,
                                 "finish": candidate.finish_reason.value,
                                 "seconds": round(time.perf_counter() - self._started, 6),
                                 "running": self.n - len(self._done)}
        if stop is not None:
            event["stopped"] = stop | ({"too_late": True} if candidate.aborted is None else {})
        self._meter.record("trace", **event)

    async def __aexit__(self, kind, error, traceback) -> None:
        if self._stream is None:
            return
        try:
            self.stop_all("error" if kind is not None else "strategy_done")
            async for _ in self:  # the stopped traces' last deltas, so that their tokens are booked
                pass
        finally:
            await self._opened.__aexit__(kind, error, traceback)
            self._meter._reserve(*(-value for value in self._reserved))
            stream = self._stream
            if len(self._done) == self.n:
                self._meter._book(self.request, Generation(
                    candidates=self.candidates, prompt_tokens=stream.prompt_tokens,
                    prompt_token_ids=stream.prompt_token_ids, cached_tokens=stream.cached_tokens))


def _common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two id lists."""
    limit = min(len(a), len(b))
    for index in range(limit):
        if a[index] != b[index]:
            return index
    return limit
