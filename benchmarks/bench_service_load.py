"""`reasoner serve` under load with limits set: requests/s, p50/p99 latency and 429s, beside the in-process API.

Run (figures reported from a quiet machine): heavy --alone python benchmarks/bench_service_load.py
         [--model tiny] [--requests 200] [--repeats 3] [--out benchmarks/results/service_load.json]

One process, one vLLM engine, shared by both sides so they use the same engine settings and CPUs. Every
request is the same work: greedy CoT, at most MAX_TOKENS tokens, prompts from the arith *train* split
(nothing is tuned on any split). Rounds alternate, REPEATS times, medians compared:

1. `in_process`: the R problems through `Reasoner.asolve` (all at once);
2. `server_within_limits`: the same R requests over HTTP (real `openai` async client) from 4 keys, each key
   keeping at most its `max_concurrent_requests` in flight: nothing is refused;
3. `server_burst`: the same R requests all at once from 4 keys: what the per-key limits refuse (429) and how
   fast the rest are served.

The HTTP client shares the server's CPUs, so the server side also pays for its client. The load average
(1, 5, 15 min) is recorded before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psutil

from measure import RESULTS, arith_prompts, percentile, write_results

MAX_TOKENS = 16
KEYS = tuple(f"bench-key-{i}" for i in range(4))
LIMITS = {"max_concurrent_requests": 8, "requests_per_minute": 100000, "tokens_per_minute": 10**9,
          "max_connections": 1024}


def start_server(model: str, generator, folder: Path):
    """The app over the already-running engine, under uvicorn on a free loopback port, in a thread."""
    import uvicorn

    from reasoner.service.app import create_app
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import bind_port, build_state, uvicorn_config

    (folder / "keys.txt").write_text("".join(f"{key}\n" for key in KEYS))
    config = ServiceConfig(models=(model,), port=0, keys_file=folder / "keys.txt", db=folder / "bench.db",
                           limits=LIMITS)
    state = build_state(config, generators={model: generator})
    sock = bind_port("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn_config(create_app(state), config))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


async def server_round(url: str, model: str, texts: list[str], per_key: int | None) -> dict:
    """R requests over HTTP from 4 keys; `per_key` caps each key's requests in flight (None: all at once)."""
    from openai import AsyncOpenAI, RateLimitError

    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=len(texts) + 8), timeout=900)
    clients = {key: AsyncOpenAI(base_url=f"{url}/v1", api_key=key, http_client=http, max_retries=0) for key in KEYS}
    gates = {key: asyncio.Semaphore(per_key or len(texts)) for key in KEYS}
    latencies, refused, errors = [], 0, []

    async def one(index: int, prompt: str) -> None:
        nonlocal refused
        key = KEYS[index % len(KEYS)]
        async with gates[key]:
            started = time.perf_counter()
            try:
                await clients[key].chat.completions.create(
                    model=model, messages=[{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS,
                    extra_body={"reasoner": {"strategy": "cot"}})
            except RateLimitError:
                refused += 1
                return
            except Exception as exc:  # counted and reported: the benchmark's error figure
                errors.append(f"{type(exc).__name__}: {exc}")
                return
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(i, prompt) for i, prompt in enumerate(texts)))
    seconds = time.perf_counter() - started
    await http.aclose()
    return {"served": len(latencies), "refused_429": refused, "errors": len(errors), "error_examples": errors[:3],
            "seconds": round(seconds, 3), "served_per_s": round(len(latencies) / seconds, 2),
            "p50_s": percentile(latencies, 0.5), "p99_s": percentile(latencies, 0.99)}


async def in_process_round(reasoner, texts: list[str]) -> dict:
    from reasoner.types import Problem

    latencies = []

    async def one(text: str) -> None:
        started = time.perf_counter()
        await reasoner.asolve(Problem(id="choice-0", prompt=text), "cot", max_tokens=MAX_TOKENS)
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(one(text) for text in texts))
    seconds = time.perf_counter() - started
    return {"served": len(latencies), "seconds": round(seconds, 3),
            "served_per_s": round(len(latencies) / seconds, 2), "p50_s": percentile(latencies, 0.5),
            "p99_s": percentile(latencies, 0.99)}


def summarize(rounds: dict[str, list[dict]]) -> dict:
    out = {}
    for side, runs in rounds.items():
        out[side] = {"served_per_s_median": statistics.median(r["served_per_s"] for r in runs),
                     "served_per_s_min_max": [min(r["served_per_s"] for r in runs),
                                              max(r["served_per_s"] for r in runs)],
                     "p50_s_median": statistics.median(r["p50_s"] for r in runs),
                     "p99_s_median": statistics.median(r["p99_s"] for r in runs)}
        if "refused_429" in runs[0]:
            out[side]["refused_429"] = [r["refused_429"] for r in runs]
            out[side]["errors"] = sum(r["errors"] for r in runs)
    base = out["in_process"]["served_per_s_median"]
    for side in ("server_within_limits", "server_burst"):
        out[side]["served_per_s_ratio_to_in_process"] = round(out[side]["served_per_s_median"] / base, 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "service_load.json")
    args = parser.parse_args()
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    from reasoner.api import Reasoner
    from reasoner.engine.runtime import run_sync

    load_before = os.getloadavg()
    reasoner = Reasoner(model=args.model)
    reasoner.generator.engine()
    texts = arith_prompts(args.requests)
    with tempfile.TemporaryDirectory() as folder:
        server, thread, url = start_server(args.model, reasoner.generator, Path(folder))
        try:
            rounds: dict[str, list[dict]] = {"in_process": [], "server_within_limits": [], "server_burst": []}
            asyncio.run(server_round(url, args.model, texts[:16], LIMITS["max_concurrent_requests"]))  # warm
            run_sync(in_process_round(reasoner, texts[:16]))
            for repeat in range(args.repeats):
                rounds["in_process"].append(run_sync(in_process_round(reasoner, texts)))
                rounds["server_within_limits"].append(asyncio.run(server_round(
                    url, args.model, texts, LIMITS["max_concurrent_requests"])))
                rounds["server_burst"].append(asyncio.run(server_round(url, args.model, texts, None)))
                print(repeat, {k: v[-1] for k, v in rounds.items()}, file=sys.stderr)
        finally:
            server.should_exit = True
            thread.join(timeout=60)
    out = {"machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)},
           "load_average_before": [round(x, 2) for x in load_before],
           "load_average_after": [round(x, 2) for x in os.getloadavg()],
           "settings": {"model": args.model, "strategy": "cot", "max_tokens": MAX_TOKENS, "requests": args.requests,
                        "repeats": args.repeats, "keys": len(KEYS), "limits": LIMITS,
                        "prompts": "arith train split"},
           "rounds": rounds, "summary": summarize(rounds)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, out, indent=1)
    print(json.dumps(out["summary"], indent=1))
    reasoner.close()


if __name__ == "__main__":
    main()
