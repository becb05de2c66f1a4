"""Where a decoding step's time goes: py-spy over every process of a running engine.

Run: python benchmarks/profile_engine.py [--model tiny] [--seconds 30] [--label before]
         [--out benchmarks/results/engine_profile.json]

Starts the project's engine (`VLLMGenerator` with its defaults), warms it,
then loops the pool benchmark's workload (64 `arith` test prompts x n=8 x 64
tokens, seed 0, straight into the engine) while `py-spy record
--subprocesses` samples this process and the engine's child processes. Each
sampled stack is put in one part by its innermost recognised frame (see
PARTS); the shares are of all samples, so a process that spins counts.
The collapsed stacks are written next to the summary for a closer look
(committed gzipped).

Not a throughput benchmark: py-spy slows what it samples a little; see
bench_engine.py for speed figures.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from measure import write_results

# (part, pattern on a frame "function (file:line)"), tried from the innermost frame outwards.
PARTS: list[tuple[str, str]] = [
    ("our layers", r"/(reasoner|strategies|verifiers)/"),
    ("waiting for the other process (spin, shm queue)", r"SpinCondition|sched_yield|acquire_read|acquire_write"),
    ("attention", r"attention/backends/cpu|cpu_attn|paged_attention|attention/layer"),
    ("sampler", r"v1/sample/"),
    ("model layers", r"model_executor/(models|layers)/|torch/nn/modules|torch/nn/functional"),
    ("model runner (input prep, state)", r"v1/worker/"),
    ("scheduler and KV blocks", r"v1/core/"),
    ("inter-process messaging", (r"zmq|serial_utils|shm_broadcast|msgspec|multiproc_executor|core_client"
                                 r"|v1/engine/core\.py.*(process_input|process_output|_send|_recv)")),
    ("output processing and detokenizing", (r"output_processor|detokenizer|logprobs|v1/engine/async_llm"
                                            r"|tokenizers|transformers/tokenization")),
    ("engine core loop", r"v1/engine/core\.py|v1/executor/"),
    ("asyncio and threads", r"asyncio/|threading\.py|concurrent/futures"),
]


def classify(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for part, pattern in PARTS:
            if re.search(pattern, frame):
                return part
    return "other"


def process_of(stack: str) -> str:
    """Which process a stack is from: py-spy's innermost 'process 123:"command"' frame."""
    roots = [frame for frame in stack.split(";") if re.match(r'process \d+:"', frame)]
    if not roots:
        return "unknown"
    command = roots[-1].split(":", 1)[1]
    if "VLLM::EngineCore" in command or "EngineCore" in command:
        return "engine core"
    if "VLLM::Worker" in command or "Worker" in command:
        return "worker"
    if "multiprocessing" in command or "spawn" in command:
        return "spawned child"
    return "driver"


def summarize(collapsed: Path) -> dict:
    parts: Counter[str] = Counter()
    processes: Counter[str] = Counter()
    by_process: dict[str, Counter[str]] = {}
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        part, process = classify(stack), process_of(stack)
        parts[part] += samples
        processes[process] += samples
        by_process.setdefault(process, Counter())[part] += samples
    total = sum(parts.values()) or 1

    def shares(counter: Counter[str]) -> dict[str, float]:
        return {k: round(v / total, 3) for k, v in counter.most_common()}

    return {"samples": total, "share_by_part": shares(parts), "share_by_process": shares(processes),
            "share_by_process_and_part": {p: shares(c) for p, c in by_process.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--label", default="current")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine_profile.json"))
    args = parser.parse_args()

    from bench_pool import problems, raw_generate

    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync

    generator = VLLMGenerator.shared(args.model)
    items = problems(64)
    raw_generate(generator, items)  # start and warm
    collapsed = args.out.with_name(f"{args.out.stem}_{args.label}.collapsed.txt")
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(os.getpid()),
                            "--subprocesses", "--format", "raw", "--rate", "200", "--nonblocking",
                            "--duration", str(args.seconds), "--output", str(collapsed)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tokens, seconds, deadline = 0, 0.0, time.monotonic() + args.seconds
    while time.monotonic() < deadline and spy.poll() is None:
        t, s = raw_generate(generator, items)
        tokens, seconds = tokens + t, seconds + s
    spy.wait()
    run_sync(generator.close())
    record(args.out, args.label, {"engine_args": {k: str(v) for k, v in generator.engine_args().items()},
                                  "tok_s_while_sampled": round(tokens / seconds, 1)}, collapsed)


def record(out: Path, label: str, facts: dict, collapsed: Path) -> None:
    report = json.loads(out.read_text()) if out.exists() else {}
    report[label] = {**facts, **summarize(collapsed)}
    report["note"] = ("py-spy --subprocesses at 200 Hz over the pool workload (64 arith test prompts x n=8 x 64 "
                      "tokens) on a 2-core machine shared with other agents; shares are of all samples.")
    write_results(out, report)
    print(json.dumps(report[label], indent=2))


if __name__ == "__main__":
    main()
