"""The per-problem cost ledger and budget enforcement.

Every model call a strategy makes goes through a `Meter`. Before the call the
meter shrinks it to what the `Budget` still allows (fewer samples, fewer
max tokens) or refuses it; after the call it books prompt tokens, generated
tokens and FLOPs. Strategies therefore cannot overspend, and the `Result`
says why a strategy stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from reasoner.generation import Generation, GenerationRequest, Generator
from reasoner.types import Budget, Candidate, Cost, TraceEvent


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
        self._started = time.perf_counter()

    async def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Run `request` within the budget; returns [] when nothing is left to spend."""
        allowed = self.fit(request)
        if allowed is None:
            return []
        generation = await self.generator.generate(allowed)
        self._book(allowed, generation)
        return generation.candidates

    def fit(self, request: GenerationRequest) -> GenerationRequest | None:
        """`request` shrunk to the remaining budget, or None if no sample fits."""
        n = request.n
        samples_left = self._samples_left()
        if samples_left is not None and samples_left < n:
            n, self.exhausted = samples_left, "samples"
        tokens_left = self._tokens_left(prompt_tokens_guess=self._mean_prompt_tokens())
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

    def finish(self) -> Cost:
        """The final cost, with wall time since the meter was made."""
        return self.cost.model_copy(update={"wall_seconds": time.perf_counter() - self._started})

    @property
    def stop_reason(self) -> str:
        return f"budget:{self.exhausted}" if self.exhausted else "done"

    def _book(self, request: GenerationRequest, generation: Generation) -> None:
        generated = sum(c.num_tokens for c in generation.candidates)
        info = self.generator.info
        self.cost = self.cost + Cost(
            prompt_tokens=generation.prompt_tokens, generated_tokens=generated, model_calls=1,
            cached_prompt_tokens=generation.cached_prompt_tokens,
            samples=len(generation.candidates),
            flops=info.flops(generation.prompt_tokens + generated),
        )
        self.record("generate", n=request.n, max_tokens=request.sampling.max_tokens,
                    prompt_tokens=generation.prompt_tokens, generated_tokens=generated)

    def _samples_left(self) -> int | None:
        if self.budget.samples is None:
            return None
        return max(0, self.budget.samples - self.cost.samples)

    def _tokens_left(self, prompt_tokens_guess: int) -> int | None:
        limits = []
        if self.budget.generated_tokens is not None:
            limits.append(self.budget.generated_tokens - self.cost.generated_tokens)
        params = self.generator.info.parameters
        if self.budget.flops is not None and params:
            flops_left = self.budget.flops - self.cost.flops
            limits.append(int(flops_left // (2 * params)) - prompt_tokens_guess)
        return max(0, min(limits)) if limits else None

    def _mean_prompt_tokens(self) -> int:
        calls = self.cost.model_calls
        return self.cost.prompt_tokens // calls if calls else 0
