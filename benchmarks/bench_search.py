"""Step-level search on one engine: batching across problems, wall time against best-of-n, prefix cache, memory.

    python benchmarks/bench_search.py [--parts batching,walltime,memory] [--model tiny] [--prm tiny-prm]

Parts (bundled `tiny` policy and `tiny-prm` on the `arith` test split's first problems; no setting is
chosen here, every strategy runs at its defaults plus what is named):

- `batching`: beam search (N=4, M=2) over `--batch-problems` problems at once, against the same problems
  one at a time (the runner's concurrency 1), generated tokens per second, valued by the PRM and, to
  separate generation from the PRM's compute, by the oracle step checker. Target: at least 10x.
- `walltime`: beam search at N=16 (M=4) over `--wall-problems` problems against best-of-16 scored by the
  same PRM, wall time of the whole job; the sides alternate, `--rounds` times, medians reported. Target:
  within 2x. The beam runs also give the prefix cache's share of prompt tokens (vLLM's own count of
  cached tokens over prompt tokens, summed over every call). Target: at least 80%.
- `memory`: peak RSS of the driver process (`reasoner solve` with the PRM in process; the engine's own
  process is not counted) for a beam-search job of 500 problems against one of 50.

Accuracy figures come from `reasoner sweep` (see the README's search section), not from here.
Writes benchmarks/results/search.json (each part as it finishes) with the load average around each run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from measure import peak_rss_mb, write_results

RESULTS = Path(__file__).parent / "results" / "search.json"


def run(model: str, strategy: str, options: dict, problems: list, concurrency: int) -> dict:
    """One job on the shared engine: wall time, tokens and the prefix cache's share."""
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync
    from reasoner.jobs import JobConfig, MemoryStore, run_job
    from reasoner.jobs.pool import LocalPool
    from reasoner.verifiers import VerifierSet

    config = JobConfig(dataset="arith", strategy=strategy, strategy_options=options, model=model, seed=0)
    store = MemoryStore()
    with VerifierSet() as verifiers:
        load = os.getloadavg()[0]
        started = time.perf_counter()
        summary = run_sync(run_job(config, problems, LocalPool(VLLMGenerator.shared(model), verifiers,
                                                                concurrency=concurrency), store=store, progress=False))
        seconds = time.perf_counter() - started
    records = list(store.records())
    prompt = sum(r["cost"]["prompt_tokens"] for r in records)
    cached = sum(r["cost"]["cached_prompt_tokens"] for r in records)
    generated = sum(r["cost"]["generated_tokens"] for r in records)
    return {"strategy": strategy, "options": options, "problems": len(records), "seconds": round(seconds, 2),
            "generated_tokens": generated, "tok_s": round(generated / seconds, 1),
            "accuracy": summary.report()["accuracy"], "prompt_tokens": prompt, "cached_prompt_tokens": cached,
            "cache_share": round(cached / prompt, 4) if prompt else None,
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)]}


def batching(args, problems) -> dict:
    """Beam search valued by the PRM (the real setting), and by the oracle step checker, which costs no
    model: the second isolates what batching does for generation from the PRM's own compute."""
    subset = problems[: args.batch_problems]
    out = {"target": 10}
    for label, value in (("prm", {"prm": args.prm}), ("oracle", {"value": "oracle"})):
        beam = {"n": 4, "width": 2, **value}
        run(args.model, "beam_search", beam, subset[:4], 4)  # warm the engine (and the PRM)
        together = run(args.model, "beam_search", beam, subset, len(subset))
        alone = run(args.model, "beam_search", beam, subset, 1)
        out[label] = {"all_at_once": together, "one_at_a_time": alone,
                      "ratio": round(together["tok_s"] / alone["tok_s"], 2)}
    return out


def walltime(args, problems) -> dict:
    subset = problems[: args.wall_problems]
    sides = {"beam_search": {"n": 16, "width": 4, "prm": args.prm},
             "best_of_n": {"n": 16, "scorer": "prm", "scorer_options": {"prm": args.prm}}}
    run(args.model, "beam_search", sides["beam_search"], subset[:8], 8)
    rounds = []
    for index in range(args.rounds):
        order = list(sides) if index % 2 == 0 else list(reversed(sides))
        result = {name: run(args.model, name, sides[name], subset, 64) for name in order}
        result["beam_over_best_of_n"] = round(result["beam_search"]["seconds"] / result["best_of_n"]["seconds"], 3)
        rounds.append(result)
        print("walltime round", index, json.dumps({k: v if not isinstance(v, dict) else v["seconds"]
                                                     for k, v in result.items()}), flush=True)
    ratios = [r["beam_over_best_of_n"] for r in rounds]
    shares = [r["beam_search"]["cache_share"] for r in rounds]
    return {"rounds": rounds, "median_beam_over_best_of_n": statistics.median(ratios),
            "range": [min(ratios), max(ratios)], "target": 2.0,
            "beam_cache_share": statistics.median(shares), "cache_target": 0.8}


def memory(args) -> dict:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for count in (50, 500):
            command = [sys.executable, "-m", "reasoner.cli", "solve", "--dataset", "arith", "--limit", str(count),
                       "--strategy", "beam_search", "--n", "4", "--option", "width=2", "--prm", args.prm,
                       "--model", args.model, "--out", str(Path(tmp) / f"beam{count}.jsonl")]
            out[f"beam_{count}_peak_rss_mb"] = round(peak_rss_mb(command, interval_s=0.05)[0], 1)
    out["ratio_500_to_50"] = round(out["beam_500_peak_rss_mb"] / out["beam_50_peak_rss_mb"], 3)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="batching,walltime,memory")
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prm", default="tiny-prm")
    parser.add_argument("--batch-problems", type=int, default=64)
    parser.add_argument("--wall-problems", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from reasoner.tasks import load_task

    problems = load_task("arith", "test", n=max(args.batch_problems, args.wall_problems))
    report = json.loads(args.out.read_text()) if args.out.is_file() else {}
    report["machine"] = {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 2**30, 1)}
    report["split"] = "arith test, first problems (no setting is chosen here)"
    for part in args.parts.split(","):
        if part == "batching":
            report["batching"] = batching(args, problems)
        elif part == "walltime":
            report["walltime"] = walltime(args, problems)
        elif part == "memory":
            report["memory"] = memory(args)
        else:
            raise SystemExit(f"unknown part {part!r}; choose from batching, walltime, memory")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_results(args.out, report)
        print(part, json.dumps(report[part])[:2000], flush=True)
    from reasoner.engine.backends.vllm import VLLMGenerator
    VLLMGenerator.close_all()


if __name__ == "__main__":
    main()
