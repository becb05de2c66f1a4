"""Orchestration overhead, batching across problems, and driver memory of solve jobs.

Run: python benchmarks/bench_pool.py [--model tiny] [--out benchmarks/results/pool.json]

All figures come from one run on one machine with the same prompts, n, max
tokens and seed:

1. raw vLLM `generate` on the engine vs a `self_consistency` solve job through
   (a) the in-process pool on that same engine and (b) a Ray pool with one
   actor; generated tokens per second and the ratio to raw. Raw and (a)
   alternate for REPEATS (5) rounds after warming both paths, and the median
   is kept, since single runs of a few seconds are noisy on 2 cores;
2. 64 problems solved concurrently vs the same 64 one at a time, with greedy
   `cot` (one sequence per problem), so the only batching is across problems;
3. peak RSS of the driver process for a 500- and a 5,000-problem `cot` job.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import psutil
from measure import peak_rss_mb, write_results

from reasoner.jobs import JobConfig, run_job
from reasoner.jobs.pool import LocalPool, RayPool
from reasoner.engine.runtime import run_on_engine_loop, run_sync
from reasoner.types import Problem

N, MAX_TOKENS, SEED, PROBLEMS, REPEATS = 8, 64, 0, 64, 5


def problems(count: int) -> list[Problem]:
    from reasoner.tasks import load_task

    base = load_task("arith", "test")
    return [base[i % len(base)].model_copy(update={"id": f"b{i:05d}"}) for i in range(count)]


def sc_config(model: str) -> JobConfig:
    # temperature 1 and ignoring nothing: the same sampling for raw and pooled runs.
    return JobConfig(dataset="bench", strategy="self_consistency", model=model, seed=SEED,
                     strategy_options={"n": N, "max_tokens": MAX_TOKENS, "temperature": 1.0, "top_p": 1.0})


def raw_generate(generator, items: list[Problem]) -> tuple[int, float]:
    """Every prompt straight into the AsyncLLM at once: the ceiling our layers are measured against."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import RequestOutputKind

    from reasoner.jobs.solve import problem_seed

    async def go() -> int:
        engine = generator.engine()

        async def one(problem: Problem, index: int) -> int:
            params = SamplingParams(n=N, temperature=1.0, top_p=1.0, max_tokens=MAX_TOKENS, logprobs=0,
                                    seed=problem_seed(SEED, problem.id), output_kind=RequestOutputKind.FINAL_ONLY)
            final = None
            async for out in engine.generate(TokensPrompt(prompt_token_ids=generator.formatter.token_ids(problem.prompt)),
                                             params, request_id=f"raw-{index}"):
                final = out
            return sum(len(o.token_ids) for o in final.outputs)

        return sum(await asyncio.gather(*(one(p, i) for i, p in enumerate(items))))

    started = time.perf_counter()
    tokens = run_sync(run_on_engine_loop(go()))
    return tokens, time.perf_counter() - started


def pooled(pool, config: JobConfig, items: list[Problem]) -> tuple[int, float]:
    started = time.perf_counter()
    summary = run_sync(run_job(config, items, pool, progress=False)).report()
    return summary["generated_tokens"], time.perf_counter() - started


def rate(tokens: int, seconds: float) -> dict[str, float]:
    return {"generated_tokens": tokens, "seconds": round(seconds, 3), "tok_s": round(tokens / seconds, 1)}


def median_rate(runs: list[tuple[int, float]]) -> dict[str, float]:
    """The run with the median throughput, and every run's throughput."""
    ordered = sorted(runs, key=lambda run: run[0] / run[1])
    middle = rate(*ordered[len(ordered) // 2])
    middle["all_tok_s"] = [round(tokens / seconds, 1) for tokens, seconds in runs]
    return middle


def overhead_and_batching(model: str) -> dict:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.verifiers import VerifierSet

    config, items = sc_config(model), problems(PROBLEMS)
    generator = VLLMGenerator.shared(model)
    verifiers = VerifierSet()
    # Warm both paths: engine start, and the verifiers' worker pools the pooled path starts lazily.
    raw_generate(generator, items[:8])
    pooled(LocalPool(generator, verifiers), config, items[:8])
    raw_runs, pooled_runs = [], []
    for _ in range(REPEATS):
        raw_runs.append(raw_generate(generator, items))
        pooled_runs.append(pooled(LocalPool(generator, verifiers), config, items))
    results = {"raw": median_rate(raw_runs), "in_process": median_rate(pooled_runs)}
    cot = JobConfig(dataset="bench", strategy="cot", model=model, seed=SEED, strategy_options={"max_tokens": MAX_TOKENS})
    results["cot_concurrent"] = rate(*pooled(LocalPool(generator, verifiers), cot, items))
    results["cot_one_at_a_time"] = rate(*pooled(LocalPool(generator, verifiers, concurrency=1), cot, items))
    run_sync(generator.close())

    async def ray_runs():
        pool = await RayPool(config.model, workers=1).start()
        try:
            await run_job(config, items[:8], pool, progress=False)  # warm-up
            runs = []
            for _ in range(REPEATS):
                started = time.perf_counter()
                summary = (await run_job(config, items, pool, progress=False)).report()
                runs.append((summary["generated_tokens"], time.perf_counter() - started))
            return runs
        finally:
            await pool.close()

    results["ray_1_actor"] = median_rate(run_sync(ray_runs()))
    verifiers.close()
    raw_tok_s = results["raw"]["tok_s"]
    for key in ("in_process", "ray_1_actor"):
        results[key]["ratio_to_raw"] = round(results[key]["tok_s"] / raw_tok_s, 3)
    results["concurrent_over_one_at_a_time"] = round(
        results["cot_concurrent"]["tok_s"] / results["cot_one_at_a_time"]["tok_s"], 2)
    return results


def driver_memory(model: str) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (500, 5000):
            data = Path(tmp) / f"p{count}.jsonl"
            data.write_text("".join(p.model_dump_json() + "\n" for p in problems(count)))
            command = [sys.executable, "-m", "reasoner.cli", "solve", "--dataset", str(data), "--strategy", "cot",
                       "--max-tokens", "16", "--model", model, "--out", str(Path(tmp) / f"r{count}.jsonl")]
            out[f"cot_{count}_peak_rss_mb"] = round(peak_rss_mb(command, interval_s=0.05)[0], 1)
    out["ratio_5000_to_500"] = round(out["cot_5000_peak_rss_mb"] / out["cot_500_peak_rss_mb"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/pool.json"))
    args = parser.parse_args()
    report = {"machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
              "settings": {"n": N, "max_tokens": MAX_TOKENS, "seed": SEED, "problems": PROBLEMS, "model": args.model}}
    report["throughput"] = overhead_and_batching(args.model)
    report["driver_memory"] = driver_memory(args.model)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
