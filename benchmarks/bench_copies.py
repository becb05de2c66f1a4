"""How often do the children of one search node spell the same step, before and after merging them?

Each search strategy runs on the same problems three ways, same seeds:

- `before`: every sample is its own child and is scored (`merge_copies=false`), as in round 2;
- `merged`: children that spell the same step are one node, scored once, its count kept for the vote
  (`distinct_retries=0`);
- `merged+top-up`: merged, and an expansion that merged copies asks once more for the distinct
  children it lacks (`distinct_retries=1`, the default).

From every result's tree event (`expansion`): the share of a first request's samples that repeat a sibling's
step, children scored that were copies, distinct children per expansion, top-up samples, and the
job's generated tokens, PRM tokens and accuracy. Nothing is chosen here.

    python benchmarks/bench_copies.py --split dev --limit 100 --prm tiny-prm --out benchmarks/results/search_copies.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from measure import write_results

SETTINGS = {"before": {"merge_copies": False}, "merged": {"distinct_retries": 0},
            "merged+top-up": {"distinct_retries": 1}}
STRATEGIES = {"beam_search@4": ("beam_search", {"n": 4, "width": 4}),
              "beam_search@16": ("beam_search", {"n": 16, "width": 4}),
              "dvts@16": ("dvts", {"n": 16, "width": 4}),
              "particle_filter@8": ("particle_filter", {"n": 8})}


def run(model: str, strategy: str, options: dict, problems: list, prms) -> dict:
    from reasoner.engine.runtime import run_sync
    from reasoner.jobs import JobConfig, MemoryStore, run_job
    from reasoner.jobs.pool import PoolSettings, make_pool

    config = JobConfig(dataset="arith", strategy=strategy, strategy_options=options, model=model, seed=0)
    store = MemoryStore()
    started, load = time.perf_counter(), os.getloadavg()[0]
    pool = make_pool(PoolSettings(model=model, concurrency=64), prms=prms)
    try:
        summary = run_sync(run_job(config, problems, pool, store=store, progress=False))
    finally:
        run_sync(pool.close())
    records = list(store.records())
    stats = [e["data"]["expansion"] for r in records for e in r["trace"] if e["kind"] == "tree"]
    total = {key: sum(s[key] for s in stats) for key in stats[0]}
    return {"strategy": strategy, "options": options, "problems": len(records),
            "accuracy": summary.report()["accuracy"], **total,
            "first_copy_share": round(total["first_copies"] / max(1, total["first_samples"]), 4),
            "scored_copy_share": round(total["scored_copies"] / max(1, total["children"]), 4),
            "children_per_expansion": round(total["children"] / max(1, total["expansions"]), 3),
            "generated_tokens": sum(r["cost"]["generated_tokens"] for r in records),
            "prm_tokens": sum(r["cost"]["prm_tokens"] for r in records),
            "seconds": round(time.perf_counter() - started, 1),
            "load_average": [round(load, 2), round(os.getloadavg()[0], 2)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--prm", default="tiny-prm")
    parser.add_argument("--split", default="dev", choices=["dev", "test"])
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--aggregation", default="last", help="the searches' aggregation (default: theirs)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks import load_task
    from reasoner.verifiers.prm import PRMSet

    problems = load_task("arith", args.split, args.limit)
    prms = PRMSet()  # the PRM loads once and serves every run
    report = {"split": f"arith {args.split}, first {args.limit} problems", "model": args.model, "prm": args.prm,
              "sampling": "temperature 0.8, top_p 0.95 (the sweep's), seed 0", "rows": {}}
    for label, (strategy, base) in STRATEGIES.items():
        for setting, extra in SETTINGS.items():
            options = {**base, **extra, "prm": args.prm, "aggregation": args.aggregation, "top_p": 0.95}
            row = run(args.model, strategy, options, problems, prms)
            report["rows"][f"{label} {setting}"] = row
            print(label, setting, json.dumps({k: row[k] for k in ("accuracy", "first_copy_share",
                                                                 "scored_copy_share", "children_per_expansion",
                                                                 "top_up_samples", "generated_tokens",
                                                                 "prm_tokens")}), flush=True)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            write_results(args.out, report)
    VLLMGenerator.close_all()


if __name__ == "__main__":
    main()
