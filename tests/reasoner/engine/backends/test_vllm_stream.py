"""Top-k log-probabilities, streamed traces and aborts on the real vLLM engine (the session's tiny checkpoint).

An abort must stop the engine's work, not just our reading: the tests read the
engine's own counts (vLLM's unfinished requests and the model's running batch in
the engine-core process) while a trace that was not aborted keeps the engine busy.
"""

from __future__ import annotations

import math

import pytest

from reasoner.budget import Meter
from reasoner.engine.generation import BufferedStream, GenerationRequest, open_stream
from reasoner.engine.runtime import run_sync
from reasoner.types import Budget, FinishReason, SamplingConfig

PROMPT = "Ann has 3 pens and buys 4 more. How many pens does she have?"
LONG = 400
"""Tokens each trace of an abort test must generate (min_tokens), far more than the abort needs."""


def request(n: int, **sampling) -> GenerationRequest:
    return GenerationRequest(prompt=PROMPT, n=n, sampling=SamplingConfig(**sampling))


def test_top_logprobs_are_k_per_token_most_likely_first_and_hold_the_sampled_token(engine):
    out = run_sync(engine.generate(request(3, max_tokens=12, seed=3, top_logprobs=5)))
    for candidate in out.candidates:
        assert len(candidate.top_logprobs) == candidate.num_tokens == len(candidate.token_logprobs)
        for top, sampled in zip(candidate.top_logprobs, candidate.token_logprobs):
            assert len(top) == 5 and top == sorted(top, reverse=True)
            assert all(value <= 0 for value in top) and sum(math.exp(v) for v in top) <= 1 + 1e-5
            assert sampled <= top[0] + 1e-6  # nothing beats the most likely token


def test_without_top_logprobs_the_default_request_returns_none(engine):
    out = run_sync(engine.generate(request(2, max_tokens=8, seed=3)))
    assert all(c.top_logprobs is None and c.token_logprobs is not None for c in out.candidates)


def test_top_logprobs_do_not_change_what_is_sampled(engine):
    plain = run_sync(engine.generate(request(4, temperature=1.0, max_tokens=16, seed=11)))
    ranked = run_sync(engine.generate(request(4, temperature=1.0, max_tokens=16, seed=11, top_logprobs=20)))
    assert [c.token_ids for c in plain.candidates] == [c.token_ids for c in ranked.candidates]


def test_a_streamed_request_draws_the_candidates_of_the_plain_one(engine):
    sampled = request(4, temperature=1.0, max_tokens=16, seed=5, top_logprobs=4)
    plain = run_sync(engine.generate(sampled))

    async def streamed():
        pieces: dict[int, list[int]] = {i: [] for i in range(4)}
        done = {}
        async with engine.stream(sampled) as stream:
            async for delta in stream:
                pieces[delta.index] += delta.token_ids
                if delta.done is not None:
                    done[delta.index] = delta.done
        return pieces, done

    pieces, done = run_sync(streamed())
    assert [pieces[i] for i in range(4)] == [c.token_ids for c in plain.candidates]
    assert [done[i].token_ids for i in range(4)] == [c.token_ids for c in plain.candidates]
    assert [done[i].text for i in range(4)] == [c.text for c in plain.candidates]
    for candidate, ours in zip(plain.candidates, (done[i] for i in range(4))):
        assert len(ours.top_logprobs) == len(candidate.top_logprobs)
        for mine, theirs in zip(ours.top_logprobs, candidate.top_logprobs):
            assert mine == pytest.approx(theirs, abs=1e-5)


async def _abort_all_but_first(engine, traces_n: int):
    """Stream `traces_n` long traces, abort all but trace 0 once each has a few tokens, and read the engine's
    counts while trace 0 runs on; returns (counts before, counts after, ended candidates by index)."""
    sampling = dict(temperature=1.0, max_tokens=LONG, min_tokens=LONG, seed=2)
    seen = [0] * traces_n
    before = after = None
    ended = {}
    async with engine.stream(request(traces_n, **sampling)) as stream:
        async for delta in stream:
            seen[delta.index] += len(delta.token_ids)
            if delta.done is not None:
                ended[delta.index] = delta.done
            if before is None and min(seen) >= 3:
                before = await engine.running_requests()
                for index in range(1, traces_n):
                    stream.abort(index)
            if after is None and len(ended) == traces_n - 1 and seen[0] >= 40 + min(seen[1:]):
                after = await engine.running_requests()
    return before, after, ended


def test_an_aborted_trace_leaves_the_engine_while_the_others_run_on(engine):
    before, after, ended = run_sync(_abort_all_but_first(engine, 4))
    assert before.unfinished == 4 and before.model_batch == 4
    assert after.unfinished == 1 and after.model_batch == 1  # the engine core computes trace 0 alone
    assert ended[0].finish_reason is FinishReason.LENGTH and ended[0].num_tokens == LONG
    for index in (1, 2, 3):
        assert ended[index].finish_reason is FinishReason.ABORT
        assert 3 <= ended[index].num_tokens < LONG // 4


def test_the_meter_books_aborted_tokens_as_spent_and_says_why_each_trace_stopped(engine):
    async def run():
        meter = Meter(engine, Budget(samples=8))
        async with meter.traces(request(3, temperature=1.0, max_tokens=LONG, min_tokens=LONG, seed=4)) as traces:
            async for delta in traces:
                if delta.index in (1, 2) and traces.tokens(delta.index) >= 5:
                    traces.stop(delta.index, "test_stop", why="checking")
        return meter, traces.candidates

    meter, candidates = run_sync(run())
    stopped = [c for c in candidates if c.aborted is not None]
    assert [c.aborted for c in candidates] == [None, "test_stop", "test_stop"]
    assert meter.cost.generated_tokens == sum(c.num_tokens for c in candidates) == LONG + sum(
        c.num_tokens for c in stopped)
    assert meter.cost.aborted_tokens == sum(c.num_tokens for c in stopped) > 0
    assert meter.cost.aborted_samples == 2 and meter.cost.samples == 3 and meter.cost.model_calls == 1
    assert meter.cost.flops == engine.info.flops(meter.cost.prompt_tokens + meter.cost.generated_tokens)
    events = [e.data for e in meter.trace if e.kind == "trace"]
    assert sorted(e["index"] for e in events) == [0, 1, 2]
    for event in events:
        if event["index"] == 0:
            assert "stopped" not in event and event["tokens"] == LONG
        else:
            assert event["stopped"]["reason"] == "test_stop" and event["stopped"]["why"] == "checking"
            assert event["stopped"]["at_tokens"] >= 5 and event["seconds"] >= event["stopped"]["at_seconds"]
    assert meter.trace[-1].kind == "generate" and meter.trace[-1].data["aborted_tokens"] == meter.cost.aborted_tokens


def test_leaving_the_block_early_aborts_the_rest_and_books_it(engine):
    async def run():
        meter = Meter(engine)
        async with meter.traces(request(3, temperature=1.0, max_tokens=LONG, min_tokens=LONG, seed=6)) as traces:
            async for delta in traces:
                if traces.tokens(delta.index) >= 4:
                    break
        return meter, traces.candidates, await engine.running_requests()

    meter, candidates, counts = run_sync(run())
    assert len(candidates) == 3 and all(c.aborted == "strategy_done" for c in candidates)
    assert counts.unfinished == 0
    assert meter.cost.aborted_tokens == meter.cost.generated_tokens == sum(c.num_tokens for c in candidates)
    assert meter.cost.generated_tokens < 3 * LONG


def test_streamed_calls_never_exceed_the_token_budget(engine):
    async def run():
        meter = Meter(engine, Budget(generated_tokens=50))
        async with meter.traces(request(4, temperature=1.0, max_tokens=LONG, min_tokens=LONG, seed=8)) as traces:
            async for _ in traces:
                pass
        return meter, traces

    meter, traces = run_sync(run())
    assert traces.request.n == 4 and traces.request.sampling.max_tokens == 50 // 4  # shrunk to fit
    assert meter.cost.generated_tokens == 4 * (50 // 4) <= 50


def test_a_generator_that_cannot_stream_hands_over_whole_candidates(engine):
    class PlainOnly:  # the engine's `generate` only, as an OpenAI-compatible server offers
        info = engine.info

        async def generate(self, req):
            return await engine.generate(req)

        async def close(self):
            pass

    async def run():
        async with open_stream(PlainOnly(), request(2, max_tokens=8, seed=1)) as stream:
            assert isinstance(stream, BufferedStream) and not stream.can_abort
            return [delta async for delta in stream]

    deltas = run_sync(run())
    assert [d.index for d in deltas] == [0, 1] and all(d.done is not None for d in deltas)
