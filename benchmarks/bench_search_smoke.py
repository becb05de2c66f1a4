"""Smoke benchmark of step-level search: beam search at N=4 against majority vote over 16 samples.

On the first `--problems` problems of the `arith` TEST split (nothing was
tuned on them; the search settings are the strategies' defaults), with bundled
`tiny` as the policy, every problem in flight at once on one engine:

- `beam@4 prm`: beam search, N=4, M=2, guided by bundled `tiny-prm` (aggregation `last`, PRM-weighted vote);
- `beam@4 oracle`: the same guided by the exact step checker: an UPPER BOUND, not a real setting;
- `majority@16`: self-consistency over 16 samples;
- `best_of_n@16 prm`: best-of-16 by `tiny-prm` (min aggregation), for reference.

Reported per row: accuracy (with a 95% bootstrap interval over problems),
generated tokens and total FLOPs (generation plus PRM) per problem, the share
of prompt tokens the engine served from its prefix cache, and wall time. Wall times come from a shared 2-core machine and are indicative only.

Run: python benchmarks/bench_search_smoke.py [--problems 50] [--seed 0]
Writes benchmarks/results/search_smoke.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "search_smoke.json"
ROWS = {
    "beam@4 prm": ("beam_search", {"n": 4, "m": 2, "prm": "tiny-prm"}),
    "beam@4 oracle (upper bound)": ("beam_search", {"n": 4, "m": 2, "value": "oracle"}),
    "majority@16": ("self_consistency", {"n": 16}),
    "best_of_n@16 prm": ("best_of_n", {"n": 16, "scorer": "prm", "scorer_options": {"prm": "tiny-prm"}}),
}


def bootstrap(correct: list[bool], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(correct, k=len(correct))) / len(correct) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def run_row(reasoner, problems, strategy: str, options: dict, seed: int) -> dict:
    started = time.perf_counter()
    results = reasoner.solve_many(problems, strategy, seed=seed, **options)
    wall = time.perf_counter() - started
    correct = [bool(r.correct) for r in results]
    low, high = bootstrap(correct)
    count = len(results)
    return {"strategy": strategy, "options": options, "accuracy": sum(correct) / count, "ci95": [low, high],
            "generated_tokens_per_problem": sum(r.cost.generated_tokens for r in results) / count,
            "total_flops_per_problem": sum(r.cost.total_flops for r in results) / count,
            "prm_flops_per_problem": sum(r.cost.prm_flops for r in results) / count,
            "prompt_cache_hit_rate": sum(r.cost.cached_prompt_tokens for r in results)
            / max(1, sum(r.cost.prompt_tokens for r in results)),
            "errors": sum(r.error is not None for r in results), "wall_seconds": round(wall, 2),
            "stop_reasons": sorted({r.stop_reason for r in results})}


def main() -> None:
    from reasoner.api import Reasoner
    from reasoner.tasks import load_task

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    problems = load_task("arith", "test", n=args.problems)
    rows = {}
    with Reasoner("tiny") as reasoner:
        reasoner.solve(problems[0], "cot", max_tokens=4)  # engine start-up outside the timings
        for label, (strategy, options) in ROWS.items():
            rows[label] = run_row(reasoner, problems, strategy, options, args.seed)
            print(f"{label:30s} acc {rows[label]['accuracy']:.3f} {rows[label]['ci95']} "
                  f"tokens {rows[label]['generated_tokens_per_problem']:.0f} "
                  f"FLOPs {rows[label]['total_flops_per_problem']:.3g} "
                  f"cache {rows[label]['prompt_cache_hit_rate']:.2f} wall {rows[label]['wall_seconds']}s",
                  flush=True)
    report = {"split": "arith test", "problems": len(problems), "seed": args.seed, "policy": "tiny", "rows": rows,
              "machine": f"{platform.machine()}, shared with other jobs (wall times indicative only)"}
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
