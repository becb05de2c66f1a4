"""Streamed strategies against their baselines, as direct runs on the engine: accuracy, tokens, FLOPs, wall time.

Run (figures reported: alone on the machine, test split scored once per setting):
    heavy --alone python benchmarks/bench_streamed.py --model tiny --split test --out benchmarks/results/streamed_tiny.json
    heavy --alone python benchmarks/bench_streamed.py --model small --split test --out benchmarks/results/streamed_small.json

Each side is one solve job over the same problems (`arith`, the first `--limit` of the split) on one
engine, `--concurrency` problems in flight (the jobs path `reasoner solve` uses: `LocalPool`,
`run_job`), seed 0, so every side sees the same prompts and per-problem seeds. Sides (options from the
dev choice, benchmarks/results/confidence_dev.json and early_rejection_dev.json, given by `--options`):

- majority16: self_consistency n=16 (the baseline of online DeepConf and adaptive);
- deepconf_online: online DeepConf at n=16;
- adaptive_rounds, adaptive_cancel: adaptive self-consistency at most 16, both modes;
- best_of_16_prm: best_of_n n=16 by `tiny-prm` (min), the baseline of early rejection;
- early_rejection: n=16, by the same PRM.

Per side: accuracy with a 95% bootstrap interval over problems, the paired difference to its baseline
with its interval, mean generated and aborted tokens, mean FLOPs (PRM included), the job's wall time,
and the load average before and after. Each side runs once (`--repeats` more times for the wall time:
the job is re-run into a fresh store; accuracy and tokens are those of the first run, which the others
must reproduce exactly or the script says so).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path


from measure import write_results
from reasoner.stats import bootstrap_ci


SIDES = {
    "majority16": ("self_consistency", {"n": 16}),
    "deepconf_online": ("deepconf_online", {"n": 16}),
    "adaptive_rounds": ("adaptive_consistency", {"max_n": 16, "mode": "rounds"}),
    "adaptive_cancel": ("adaptive_consistency", {"max_n": 16, "mode": "cancel"}),
    "best_of_16_prm": ("best_of_n", {"n": 16, "scorer": "prm", "scorer_options": {"prm": "tiny-prm",
                                                                                   "aggregation": "min"}}),
    "early_rejection": ("early_rejection", {"n": 16, "prm": "tiny-prm", "aggregation": "min"}),
}
BASELINE = {"deepconf_online": "majority16", "adaptive_rounds": "majority16", "adaptive_cancel": "majority16",
            "early_rejection": "best_of_16_prm"}
SAMPLING = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 160}


def run_side(name: str, options: dict, problems, pool, model: str, split: str) -> dict:
    from reasoner.engine.runtime import run_sync
    from reasoner.jobs import JobConfig, MemoryStore, run_job

    strategy, defaults = SIDES[name]
    config = JobConfig(dataset=f"arith:{split}", strategy=strategy, model=model, seed=0,
                       strategy_options={**SAMPLING, **defaults, **options.get(name, {})})
    store = MemoryStore()
    load_before = os.getloadavg()
    started = time.perf_counter()
    run_sync(run_job(config, problems, pool, progress=False, store=store))
    wall = time.perf_counter() - started
    records = sorted(store.records(), key=lambda r: r["problem_id"])
    costs = [r["cost"] for r in records]
    return {"strategy": strategy, "options": config.strategy_options, "wall_s": round(wall, 3),
            "load_before": load_before, "load_after": os.getloadavg(),
            "correct": [float(bool(r["correct"])) for r in records],
            "mean_generated_tokens": statistics.fmean(c["generated_tokens"] for c in costs),
            "mean_aborted_tokens": statistics.fmean(c.get("aborted_tokens", 0) for c in costs),
            "mean_flops": statistics.fmean(c["flops"] + c.get("prm_flops", 0.0) for c in costs),
            "mean_problem_wall_s": statistics.fmean(c["wall_seconds"] for c in costs),
            "errors": sum(bool(r.get("error")) for r in records)}


def summarize(sides: dict) -> dict:
    out = {}
    for name, side in sides.items():
        accuracy = statistics.fmean(side["correct"])
        row = {"accuracy": accuracy, "ci": list(bootstrap_ci(side["correct"], resamples=2000)), **{k: v for k, v in side.items()
                                                                           if k != "correct"}}
        base = BASELINE.get(name)
        if base in sides:
            diff = [a - b for a, b in zip(side["correct"], sides[base]["correct"])]
            row["vs"] = {"baseline": base, "accuracy_difference": statistics.fmean(diff), "ci": list(bootstrap_ci(diff, resamples=2000)),
                         "token_share": side["mean_generated_tokens"] / sides[base]["mean_generated_tokens"],
                         "flops_ratio": side["mean_flops"] / sides[base]["mean_flops"],
                         "wall_ratio": side["wall_s"] / sides[base]["wall_s"]}
        out[name] = row
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--split", default="test", choices=["dev", "test"])
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--options", type=json.loads, default={},
                        help='JSON: side -> strategy options, e.g. {"deepconf_online": {"warmup": 4}}')
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.jobs.pool import LocalPool
    from reasoner.tasks import load_task
    from reasoner.verifiers import VerifierSet

    problems = load_task("arith", args.split, n=args.limit)
    generator = VLLMGenerator.shared(args.model)
    generator.engine()
    verifiers = VerifierSet()
    pool = LocalPool(generator, verifiers, concurrency=args.concurrency)
    report = json.loads(args.out.read_text()) if args.out.exists() else {"sides": {}}
    for name in args.sides.split(","):
        if name in report["sides"]:
            continue  # each side is scored once; delete it from the file to run it again
        report["sides"][name] = run_side(name, args.options, problems, pool, args.model, args.split)
        report.update(model=args.model, split=args.split, problems=len(problems), concurrency=args.concurrency,
                      command=f"heavy --alone python benchmarks/bench_streamed.py --model {args.model} "
                              f"--split {args.split} --limit {args.limit} --options '{json.dumps(args.options)}'")
        report["summary"] = summarize(report["sides"])
        write_results(args.out, report, indent=1)
        print(name, json.dumps(report["summary"][name])[:400], flush=True)
    verifiers.close()


if __name__ == "__main__":
    main()
