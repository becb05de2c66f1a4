"""optillm against `reasoner serve --backend openai`: the same self-consistency requests, one vLLM OpenAI server.

Three processes: a vLLM OpenAI server on bundled `tiny` (the only engine), optillm
0.4.0 in front of it (from its own virtual environment, `--optillm-python`), and
`reasoner serve --backend openai` in front of it. Each round sends the same chat
requests (arith train-split prompts; no accuracy is measured here) through one proxy
and then the other, alternating which goes first, with the same client concurrency:

- optillm: `optillm_approach: self_consistency` (5 samples at temperature 1, its fixed
  setting; it picks the largest cluster of similar texts);
- reasoner: `strategy: self_consistency, n: 5` at temperature 1, top_p 1 (majority vote
  on extracted answers).

Generated tokens and prompt tokens are read from the vLLM server's own counters
before and after each side's batch (nothing else uses that server), so tokens/s is
measured the same way on both sides, and each proxy's reported `usage` is compared
with what the engine really did.

    python benchmarks/bench_optillm.py --optillm-python /tmp/optillm-venv/bin/python
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from measure import RESULTS, arith_prompts, engine_env, write_results

SAMPLES = 5
"""optillm's self-consistency draws 5 samples (not settable per request); reasoner is asked for the same."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def env() -> dict[str, str]:
    return engine_env(VLLM_CPU_KVCACHE_SPACE="1", OPENAI_API_KEY="EMPTY")


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout_s: float = 900.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[:4]} exited with {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(1)
    raise TimeoutError(f"{url} did not answer:\n{log.read_text()[-2000:]}")


def start(command: list[str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env(),
                            start_new_session=True)


def start_vllm(model: str, folder: Path) -> tuple[subprocess.Popen, str]:
    port, log = free_port(), folder / "vllm.log"
    process = start([sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model, "--host",
                     "127.0.0.1", "--port", str(port), "--enforce-eager", "--max-num-batched-tokens", "16384",
                     "--max-num-seqs", "256", "--block-size", "32"], log)
    wait_http(f"http://127.0.0.1:{port}/health", process, log)
    return process, f"http://127.0.0.1:{port}"


def start_reasoner(model: str, upstream: str, folder: Path) -> tuple[subprocess.Popen, str]:
    log = folder / "reasoner.log"
    process = start([sys.executable, "-c", "from reasoner.cli import entrypoint; entrypoint()", "serve",
                     "--model", model, "--backend", "openai", "--base-url", f"{upstream}/v1", "--port", "0",
                     "--db", str(folder / "service.db")], log)
    deadline = time.monotonic() + 600
    while not (found := re.findall(r"serving .* on (http://\S+)/v1", log.read_text(errors="replace"))):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"reasoner serve did not start:\n{log.read_text()[-2000:]}")
        time.sleep(0.5)
    wait_http(f"{found[0]}/health", process, log)
    return process, found[0]


def start_optillm(python: str, upstream: str, folder: Path) -> tuple[subprocess.Popen, str]:
    port, log = free_port(), folder / "optillm.log"
    process = start([python, "-c", "import optillm; optillm.main()", "--base-url", f"{upstream}/v1", "--port",
                     str(port), "--host", "127.0.0.1", "--log", "warning"], log)
    wait_http(f"http://127.0.0.1:{port}/health", process, log)
    return process, f"http://127.0.0.1:{port}"


def engine_counts(vllm: str) -> dict[str, float]:
    """The vLLM server's own prompt and generated token counters (summed over label sets)."""
    text = httpx.get(f"{vllm}/metrics", timeout=30).text
    counts = {"prompt_tokens": 0.0, "generated_tokens": 0.0, "requests": 0.0}
    names = {"vllm:prompt_tokens_total": "prompt_tokens", "vllm:generation_tokens_total": "generated_tokens",
             "vllm:request_success_total": "requests"}
    for line in text.splitlines():
        name = line.split("{")[0].split(" ")[0]
        if name in names and not line.startswith("#"):
            counts[names[name]] += float(line.rsplit(" ", 1)[1])
    return counts


def body(side: str, model: str, prompt: str, max_tokens: int) -> dict:
    messages = [{"role": "user", "content": prompt}]
    if side == "optillm":
        return {"model": model, "messages": messages, "max_tokens": max_tokens, "optillm_approach": "self_consistency"}
    return {"model": model, "messages": messages, "max_tokens": max_tokens, "temperature": 1.0, "top_p": 1.0,
            "reasoner": {"strategy": "self_consistency", "n": SAMPLES}}


async def send_all(url: str, bodies: list[dict], concurrency: int) -> tuple[list[dict], int]:
    gate = asyncio.Semaphore(concurrency)
    replies: list[dict] = []
    errors = 0

    async def one(client: httpx.AsyncClient, payload: dict) -> None:
        nonlocal errors
        async with gate:
            response = await client.post(f"{url}/v1/chat/completions", json=payload)
        if response.status_code != 200:
            errors += 1
            return
        replies.append(response.json())

    async with httpx.AsyncClient(timeout=1800, headers={"Authorization": "Bearer EMPTY"}) as client:
        await asyncio.gather(*(one(client, payload) for payload in bodies))
    return replies, errors


def measure(side: str, url: str, vllm: str, model: str, texts: list[str], max_tokens: int,
            concurrency: int) -> dict:
    before = engine_counts(vllm)
    started = time.perf_counter()
    replies, errors = asyncio.run(send_all(url, [body(side, model, t, max_tokens) for t in texts], concurrency))
    wall = time.perf_counter() - started
    after = engine_counts(vllm)
    true = {key: after[key] - before[key] for key in before}
    reported = {key: sum(int((r.get("usage") or {}).get(key) or 0) for r in replies)
                for key in ("prompt_tokens", "completion_tokens")}
    return {"side": side, "requests": len(texts), "errors": errors, "wall_s": round(wall, 3),
            "engine_generated_tokens": int(true["generated_tokens"]), "engine_prompt_tokens": int(true["prompt_tokens"]),
            "engine_requests": int(true["requests"]),
            "generated_tok_per_s": round(true["generated_tokens"] / wall, 1),
            "reported_completion_tokens": reported["completion_tokens"],
            "reported_prompt_tokens": reported["prompt_tokens"],
            "reported_share_of_engine_generated": round(reported["completion_tokens"] / true["generated_tokens"], 4)
            if true["generated_tokens"] else None}


def summarise(rows: list[dict]) -> dict:
    ratios = []
    for round_rows in _by_round(rows):
        sides = {r["side"]: r for r in round_rows}
        ratios.append(sides["reasoner"]["generated_tok_per_s"] / sides["optillm"]["generated_tok_per_s"])
    out = {"tok_per_s_ratio_reasoner_over_optillm": {"median": round(statistics.median(ratios), 3),
                                                     "min": round(min(ratios), 3), "max": round(max(ratios), 3)}}
    for side in ("reasoner", "optillm"):
        mine = [r for r in rows if r["side"] == side]
        out[side] = {key: statistics.median(r[key] for r in mine) for key in
                     ("generated_tok_per_s", "wall_s", "engine_generated_tokens", "engine_prompt_tokens",
                      "engine_requests", "reported_completion_tokens", "reported_prompt_tokens",
                      "reported_share_of_engine_generated")}
        out[side]["errors"] = sum(r["errors"] for r in mine)
    return out


def _by_round(rows: list[dict]) -> list[list[dict]]:
    return [rows[i:i + 2] for i in range(0, len(rows), 2)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optillm-python", required=True, help="python of a virtual environment with optillm")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--requests", type=int, default=24, help="chat requests per side per round")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight from the client")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "optillm_vs_service.json")
    args = parser.parse_args()

    from reasoner.engine.models import resolve_model

    model = resolve_model(args.model)  # the vLLM server knows the model by its path
    texts = arith_prompts(args.requests, seed=1)
    processes = []
    with tempfile.TemporaryDirectory(prefix="bench-optillm-") as tmp:
        folder = Path(tmp)
        try:
            vllm_process, vllm = start_vllm(model, folder)
            processes.append(vllm_process)
            reasoner_process, reasoner_url = start_reasoner(model, vllm, folder)
            processes.append(reasoner_process)
            optillm_process, optillm_url = start_optillm(args.optillm_python, vllm, folder)
            processes.append(optillm_process)
            urls = {"reasoner": reasoner_url, "optillm": optillm_url}
            for side, url in urls.items():  # warm both paths once
                measure(side, url, vllm, model, texts[:2], args.max_tokens, 2)
            rows = []
            for round_index in range(args.rounds):
                order = ("reasoner", "optillm") if round_index % 2 == 0 else ("optillm", "reasoner")
                for side in order:
                    row = measure(side, urls[side], vllm, model, texts, args.max_tokens, args.concurrency)
                    rows.append({"round": round_index, **row})
                    print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
            sample = {side: asyncio.run(send_all(url, [body(side, model, texts[0], args.max_tokens)], 1))[0][0]
                      for side, url in urls.items()}
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
    result = {"machine": "2 cores, shared with other agents' engines and tests while this ran",
              "model": args.model, "split": "arith train, seed 1 (throughput and usage only; no accuracy)",
              "samples_per_request": SAMPLES, "max_tokens": args.max_tokens, "requests_per_side_per_round":
              args.requests, "client_concurrency": args.concurrency, "rounds": args.rounds,
              "summary": summarise(rows), "rows": rows,
              "usage_as_returned": {side: reply.get("usage") for side, reply in sample.items()}}
    write_results(args.out, result)
    print(json.dumps(result["summary"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
