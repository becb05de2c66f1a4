"""`reasoner serve` under load, against the same requests through the Python API in process.

Run: python benchmarks/bench_service.py [--model tiny] [--requests 200] [--repeats 3]
         [--out benchmarks/results/service.json]

All figures come from one run on one machine (bundled `tiny`, self-consistency
n=4, 64 tokens per candidate, prompts from the arith *train* split, seeds
0..R-1; nothing here is tuned on any split):

1. cold start: wall time of `reasoner solve` of one problem (a fresh process),
   then of `reasoner serve` from launch to its first answered chat request;
2. warm, one request at a time: latency of a whole answer, and of the first
   streamed event (the `started` chunk), median of 10;
3. throughput: R concurrent chat requests through the server (the real
   `openai` async client) vs the same R requests (same prompts, same seeds, so
   the same tokens) through `Reasoner.asolve` in a separate worker process
   with its own engine. Both engines stay up, but only one side works at a
   time: rounds alternate server / in-process, REPEATS times, and the medians
   are compared. The benchmark's HTTP client shares the server's CPUs, so the
   server side also pays for its client.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from measure import RESULTS, arith_prompts, engine_env, write_results

N, MAX_TOKENS, STRATEGY = 4, 64, "self_consistency"


def env() -> dict[str, str]:
    return engine_env(VLLM_LOGGING_STREAM="ext://sys.stderr")  # the worker's stdout carries only its replies


def reasoner_cmd(*args: str) -> list[str]:
    return [sys.executable, "-c", "from reasoner.cli import entrypoint; entrypoint()", *args]


def cold_solve(model: str) -> float:
    started = time.perf_counter()
    subprocess.run(reasoner_cmd("solve", "--dataset", "arith", "--limit", "1", "--model", model, "--strategy",
                                STRATEGY, "--n", str(N), "--max-tokens", str(MAX_TOKENS)),
                   env=env(), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def chat_body(model: str, prompt: str, seed: int, **extra) -> dict:
    return {"model": model, "messages": [{"role": "user", "content": prompt}], "max_tokens": MAX_TOKENS,
            "seed": seed, "reasoner": {"strategy": STRATEGY, "n": N}, **extra}


def start_server(model: str, port: int, db: Path, log) -> tuple[subprocess.Popen, float]:
    """Launch `reasoner serve`; returns it and the seconds from launch to the first answered request."""
    started = time.perf_counter()
    # The service's per-key limits (16 requests in flight, 600 a minute) would refuse most of the burst with
    # 429s; this benchmark measures throughput, so they are raised above what it sends
    # (bench_service_load.py measures the service with its limits on).
    raised = ["--limit", "max_concurrent_requests=4096", "--limit", "requests_per_minute=1000000",
              "--limit", "tokens_per_minute=1000000000", "--limit", "max_connections=4096"]
    server = subprocess.Popen(reasoner_cmd("serve", "--model", model, "--port", str(port), "--db", str(db), *raised),
                              env=env(), stdout=log, stderr=log, start_new_session=True)
    body = chat_body(model, "What is 2 + 3?", 0)
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"reasoner serve exited with {server.returncode}")
        try:
            response = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=600)
            response.raise_for_status()
            return server, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.2)


def warm_latencies(url: str, model: str, repeats: int = 10) -> dict:
    whole, first_event = [], []
    with httpx.Client(base_url=url, timeout=600) as http:
        for i in range(repeats):
            started = time.perf_counter()
            http.post("/v1/chat/completions", json=chat_body(model, "What is 7 + 5?", i)).raise_for_status()
            whole.append(time.perf_counter() - started)
            started = time.perf_counter()
            with http.stream("POST", "/v1/chat/completions",
                             json=chat_body(model, "What is 7 + 5?", 100 + i, stream=True)) as response:
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        first_event.append(time.perf_counter() - started)
                        break
    return {"answer_s_median": round(statistics.median(whole), 3), "answer_s": [round(x, 3) for x in whole],
            "first_event_s_median": round(statistics.median(first_event), 4),
            "first_event_s_max": round(max(first_event), 4)}


async def server_round(url: str, model: str, texts: list[str]) -> dict:
    from openai import AsyncOpenAI

    http = httpx.AsyncClient(limits=httpx.Limits(max_connections=len(texts) + 8), timeout=900)
    client = AsyncOpenAI(base_url=f"{url}/v1", api_key="none", http_client=http, max_retries=0)
    latencies: list[float] = []
    errors: list[str] = []
    tokens = 0

    async def one(seed: int, prompt: str) -> None:
        nonlocal tokens
        started = time.perf_counter()
        try:
            reply = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": prompt}], max_tokens=MAX_TOKENS, seed=seed,
                extra_body={"reasoner": {"strategy": STRATEGY, "n": N}})
        except Exception as exc:  # counted and reported: the benchmark's error figure
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        latencies.append(time.perf_counter() - started)
        tokens += reply.usage.completion_tokens

    started = time.perf_counter()
    await asyncio.gather(*(one(seed, prompt) for seed, prompt in enumerate(texts)))
    seconds = time.perf_counter() - started
    await client.close()
    latencies.sort()
    return {"errors": len(errors), "error_examples": errors[:3], "generated_tokens": tokens,
            "seconds": round(seconds, 3), "tok_s": round(tokens / seconds, 1),
            "p50_s": round(latencies[len(latencies) // 2], 3) if latencies else None,
            "p99_s": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 3) if latencies else None}


def inproc_worker(model: str, count: int) -> None:
    """Child process: one engine, then answers `run` lines on stdin with one JSON line each."""
    from reasoner.api import Reasoner
    from reasoner.engine.runtime import run_sync
    from reasoner.types import Problem

    texts = arith_prompts(count)
    reasoner = Reasoner(model=model)
    reasoner.generator.engine()

    async def go() -> dict:
        # The server names a chat request's one problem `choice-0`, so the same id gives the same seeds.
        jobs = [reasoner.asolve(Problem(id="choice-0", prompt=text), STRATEGY, n=N, max_tokens=MAX_TOKENS,
                                seed=seed) for seed, text in enumerate(texts)]
        started = time.perf_counter()
        results = await asyncio.gather(*jobs)
        seconds = time.perf_counter() - started
        tokens = sum(r.cost.generated_tokens for r in results)
        return {"errors": sum(1 for r in results if r.error), "generated_tokens": tokens,
                "seconds": round(seconds, 3), "tok_s": round(tokens / seconds, 1)}

    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "run":
            print(json.dumps(run_sync(go())), flush=True)
    reasoner.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=8791)
    parser.add_argument("--out", type=Path, default=RESULTS / "service.json")
    parser.add_argument("--cold-s", type=float, default=None,
                        help="reuse a cold `reasoner solve` time measured earlier in this session instead of re-running it")
    parser.add_argument("--inproc-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inproc_worker:
        return inproc_worker(args.model, args.requests)
    url = f"http://127.0.0.1:{args.port}"
    texts = arith_prompts(args.requests)
    out: dict = {"machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
                             "note": "the benchmark's HTTP client shares the server's CPUs; load average in provenance"},
                 "settings": {"model": args.model, "strategy": STRATEGY, "n": N, "max_tokens": MAX_TOKENS,
                              "requests": args.requests, "repeats": args.repeats, "prompts": "arith train split"}}
    out["cold_reasoner_solve_one_problem_s"] = args.cold_s or round(cold_solve(args.model), 2)
    print("cold solve", out["cold_reasoner_solve_one_problem_s"], file=sys.stderr)
    checkpoint = args.out.with_suffix(".partial.json")
    write_results(checkpoint, out, indent=1)
    log = (args.out.parent / "service_server.log").open("w")
    db = args.out.parent / "service_bench.db"
    db.unlink(missing_ok=True)
    server, first_answer = start_server(args.model, args.port, db, log)
    worker = None
    try:
        out["serve_to_first_answer_s"] = round(first_answer, 2)
        out["warm_one_at_a_time"] = warm_latencies(url, args.model)
        print("warm", out["warm_one_at_a_time"], file=sys.stderr)
        write_results(checkpoint, out, indent=1)
        worker = subprocess.Popen([sys.executable, __file__, "--inproc-worker", "--model", args.model,
                                   "--requests", str(args.requests)], env=env(), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=log, text=True)
        if reply(worker) != "ready":
            raise RuntimeError("the in-process worker did not start")

        def inproc_round() -> dict:
            worker.stdin.write("run\n")
            worker.stdin.flush()
            return json.loads(reply(worker))

        asyncio.run(server_round(url, args.model, texts[:16]))  # warm both paths
        inproc_round()
        rounds: dict[str, list[dict]] = {"server": [], "in_process": []}
        for repeat in range(args.repeats):
            rounds["server"].append(asyncio.run(server_round(url, args.model, texts)))
            rounds["in_process"].append(inproc_round())
            print(repeat, rounds["server"][-1], rounds["in_process"][-1], file=sys.stderr)
            write_results(checkpoint, {**out, "rounds_so_far": rounds}, indent=1)
        out["concurrent"] = summarize(rounds)
        failed = sum(r["errors"] for side in rounds.values() for r in side)
        if failed:
            write_results(checkpoint, out, indent=1)
            raise SystemExit(f"{failed} requests failed (examples in {checkpoint}): a throughput with errors is not "
                             f"a figure, so {args.out} is left as it was")
    finally:
        os.killpg(server.pid, 15)
        if worker is not None:
            worker.stdin.close()
            try:
                worker.wait(timeout=120)
            except subprocess.TimeoutExpired:
                worker.kill()
        server.wait(timeout=120)
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
            path.unlink(missing_ok=True)
    write_results(args.out, out, indent=1)
    checkpoint.unlink(missing_ok=True)
    print(json.dumps(out, indent=1))


def reply(worker: subprocess.Popen) -> str:
    """The worker's next reply line ("ready" or JSON), past any stray library output."""
    for line in worker.stdout:
        if line.startswith(("ready", "{")):
            return line.strip()
    raise RuntimeError(f"the in-process worker exited with {worker.wait()}")


def summarize(rounds: dict[str, list[dict]]) -> dict:
    server_tok = [r["tok_s"] for r in rounds["server"]]
    inproc_tok = [r["tok_s"] for r in rounds["in_process"]]
    ratios = [s / i for s, i in zip(server_tok, inproc_tok)]
    return {"rounds": rounds,
            "server_tok_s_median": statistics.median(server_tok),
            "in_process_tok_s_median": statistics.median(inproc_tok),
            "ratio_median": round(statistics.median(ratios), 3),
            "ratio_min_max": [round(min(ratios), 3), round(max(ratios), 3)],
            "server_errors": sum(r["errors"] for r in rounds["server"]),
            "server_p50_s_median": statistics.median(r["p50_s"] for r in rounds["server"]),
            "server_p99_s_median": statistics.median(r["p99_s"] for r in rounds["server"])}


if __name__ == "__main__":
    main()
