"""The cost ledger: cached prompt tokens are booked apart, FLOPs count only what was computed."""

from __future__ import annotations

from reasoner.budget import Meter
from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo
from reasoner.engine.runtime import run_sync
from reasoner.types import Budget, Candidate, FinishReason, SamplingConfig


class CachingGenerator:
    """Reports a fixed prompt length of which `cached` tokens came from a prefix cache."""

    def __init__(self, prompt_tokens: int, cached: int) -> None:
        self.prompt_tokens, self.cached = prompt_tokens, cached
        self.info = ModelInfo(name="caching", parameters=100)

    async def generate(self, request: GenerationRequest) -> Generation:
        candidates = [Candidate(text="x", num_tokens=request.sampling.max_tokens, finish_reason=FinishReason.LENGTH)
                      for _ in range(request.n)]
        return Generation(candidates=candidates, prompt_tokens=self.prompt_tokens, cached_tokens=self.cached)

    async def close(self) -> None:
        pass


def _call(meter: Meter, n: int = 1, max_tokens: int = 5):
    request = GenerationRequest(prompt="q", n=n, sampling=SamplingConfig(max_tokens=max_tokens))
    return run_sync(meter.generate(request))


def test_cached_prompt_tokens_are_booked_apart_and_cost_no_flops():
    meter = Meter(CachingGenerator(prompt_tokens=50, cached=48))
    _call(meter, n=2, max_tokens=5)
    cost = meter.cost
    assert (cost.prompt_tokens, cost.cached_prompt_tokens, cost.computed_prompt_tokens) == (50, 48, 2)
    assert cost.flops == 2 * 100 * (2 + 10)
    assert cost.cache_hit_rate == 48 / 50


def test_costs_add_their_cached_tokens():
    meter = Meter(CachingGenerator(prompt_tokens=30, cached=16))
    _call(meter)
    _call(meter)
    assert meter.cost.cached_prompt_tokens == 32
    assert (meter.cost + meter.cost).cached_prompt_tokens == 64


def test_a_flops_budget_charges_only_computed_prompt_tokens():
    """With the prompt cached, a FLOPs budget buys generated tokens, not re-reads of the prompt."""
    cached = Meter(CachingGenerator(prompt_tokens=1000, cached=1000), Budget(flops=2 * 100 * 60))
    uncached = Meter(CachingGenerator(prompt_tokens=1000, cached=0), Budget(flops=2 * 100 * 60))
    for meter in (cached, uncached):
        _call(meter, max_tokens=10)
        _call(meter, max_tokens=10)
    assert cached.cost.generated_tokens == 20
    assert uncached.cost.generated_tokens == 10  # the second call is refused: the first booked 1,010 tokens
    assert uncached.exhausted == "tokens"


class YieldingGenerator(CachingGenerator):
    """Gives way to other tasks before answering, as a real engine does, so calls overlap."""

    async def generate(self, request: GenerationRequest) -> Generation:
        import asyncio

        await asyncio.sleep(0.01)
        return await super().generate(request)


def test_concurrent_calls_of_one_problem_cannot_each_spend_the_same_remainder():
    """A search expands several paths at once through one meter; what calls in flight may spend is held."""
    import asyncio

    meter = Meter(YieldingGenerator(prompt_tokens=10, cached=0), Budget(generated_tokens=12))
    request = GenerationRequest(prompt="q", n=2, sampling=SamplingConfig(max_tokens=5))

    async def three_at_once():
        return await asyncio.gather(*(meter.generate(request) for _ in range(3)))

    results = run_sync(three_at_once())
    # 2 x 5 tokens, then the 2 left as 2 x 1, then nothing
    assert [[c.num_tokens for c in r] for r in results] == [[5, 5], [1, 1], []]
    assert meter.cost.generated_tokens == 12 and meter.stop_reason == "budget:tokens"
