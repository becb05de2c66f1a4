"""Prefix-cache hit rate of step-by-step generation on the bundled model.

Each of the first `--problems` `arith` test prompts is continued for `--steps`
steps, each step a new request whose prefix is the token ids generated so far
(`GenerationRequest.prefix_ids`), as step-level search does. All problems run
concurrently on one engine. Two step shapes:

- `fixed`: every step is `--step-tokens` greedy tokens (4: ten steps cover a typical solution of the
  bundled models), until the solution ends or `--steps` steps;
- `lines`: every step ends at a newline (the `arith` step delimiter, kept in the text), sampled at
  temperature 0.8, until the solution ends or `--steps` steps.

The hit rate is cached prompt tokens / prompt tokens over all calls, as the
engine reports them (`RequestOutput.num_cached_tokens`); the first call of a
problem cannot hit its own earlier work, so the rate over calls 2 to 10 is
reported too. Also reported: FLOPs as booked (the question once, then only
what the cache did not serve) against FLOPs if every call recomputed its
whole prompt.

Run: python benchmarks/bench_prefix_cache.py [--model tiny] [--problems 64] [--steps 10]
Writes benchmarks/results/prefix_cache.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "prefix_cache.json"


async def continue_steps(generator, prompt: str, steps: int, sampling) -> dict:
    """One problem: up to `steps` calls, each continuing the last in token space; what was booked."""
    from reasoner.budget import Meter
    from reasoner.engine.generation import GenerationRequest
    from reasoner.types import FinishReason

    meter = Meter(generator)
    ids: list[int] = []
    for _ in range(steps):
        candidates = await meter.generate(GenerationRequest(prompt=prompt, prefix_ids=tuple(ids), sampling=sampling))
        ids += candidates[0].token_ids
        if candidates[0].finish_reason is FinishReason.STOP and candidates[0].stop_reason is None:
            break  # end of sequence: the solution is complete
    return {"calls": [event.data for event in meter.trace if event.kind == "generate"],
            "flops": meter.cost.flops, "generated": meter.cost.generated_tokens}


def summarise(per_problem: list[dict], parameters: int) -> dict:
    calls = [call for problem in per_problem for call in problem["calls"]]
    later = [call for problem in per_problem for call in problem["calls"][1:]]
    prompt = sum(c["prompt_tokens"] for c in calls)
    cached = sum(c["cached_tokens"] for c in calls)
    booked = sum(problem["flops"] for problem in per_problem)
    generated = sum(problem["generated"] for problem in per_problem)
    return {
        "problems": len(per_problem), "calls": len(calls),
        "mean_steps": round(len(calls) / len(per_problem), 2),
        "prompt_tokens": prompt, "cached_prompt_tokens": cached,
        "hit_rate": round(cached / prompt, 4),
        "hit_rate_after_first_call": round(sum(c["cached_tokens"] for c in later)
                                           / max(1, sum(c["prompt_tokens"] for c in later)), 4),
        "flops_booked": booked, "flops_if_recomputed": 2.0 * parameters * (prompt + generated),
        "flops_saving": round(1 - booked / (2.0 * parameters * (prompt + generated)), 4),
    }


async def measure(generator, prompts: list[str], steps: int, sampling) -> list[dict]:
    return list(await asyncio.gather(*(continue_steps(generator, p, steps, sampling) for p in prompts)))


def main() -> None:
    from reasoner.engine.backends.vllm import CPU_BLOCK_SIZE, VLLMGenerator
    from reasoner.tasks.datasets import load_dataset
    from reasoner.engine.runtime import run_on_engine_loop, run_sync
    from reasoner.types import SamplingConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--step-tokens", type=int, default=4)
    args = parser.parse_args()

    generator = VLLMGenerator.shared(args.model)
    generator.engine()
    prompts = [p.prompt for p in load_dataset("arith", limit=args.problems)]
    shapes = {
        "fixed": SamplingConfig(temperature=0.0, max_tokens=args.step_tokens),
        "lines": SamplingConfig(temperature=0.8, top_p=0.95, max_tokens=64, stop=("\n",), include_stop=True, seed=0),
    }
    report = {"model": args.model, "block_size": CPU_BLOCK_SIZE, "steps": args.steps,
              "step_tokens": args.step_tokens, "machine": platform.machine(), "shapes": {}}
    for shape, sampling in shapes.items():
        started = time.perf_counter()
        per_problem = run_sync(run_on_engine_loop(measure(generator, prompts, args.steps, sampling)))
        report["shapes"][shape] = {**summarise(per_problem, generator.info.parameters),
                                   "seconds": round(time.perf_counter() - started, 2)}
        print(shape, json.dumps(report["shapes"][shape]))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    run_sync(generator.close())


if __name__ == "__main__":
    main()
