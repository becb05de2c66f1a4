"""The compute-against-accuracy sweep of the bundled models, and what a sweep costs.

Run: python benchmarks/bench_sweep.py [--limit 200] [--models tiny,small] [--cost-only]

1. `reasoner sweep` on the first `--limit` arith test problems: cot,
   self-consistency, best-of-n, adaptive self-consistency and revision at
   budgets 1, 2, 4, 8, 16, for every model. Self-consistency, best-of-n and
   adaptive self-consistency share one n=16 generation; revision runs once
   per budget. Its `summary.json`, `curve.png` and `by_level.png` are
   copied to benchmarks/results/sweep/.
2. Cost: on the first model, the wall time of a sweep over budgets 1-16 for
   self-consistency and best-of-n against one `self_consistency` n=16 solve
   of the same problems, in one process on one warm engine. The sweep runs
   first, with fresh verifiers for each, so any warm-cache advantage goes to
   the solve.

Writes benchmarks/results/sweep_cost.json. `--cost-only` skips step 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from measure import RESULTS, write_results

BUDGETS = "1,2,4,8,16"


def compute_matched(rows: list[dict], small_model: str, large_model: str) -> dict:
    """Per level: the larger model's greedy row against the smaller model's best row at no more FLOPs.

    FLOPs are the sweep's per-problem estimates at that level; "no more"
    allows 10% slack.
    """
    def level_rows(model: str, level: str) -> list[dict]:
        return [{"strategy": r["strategy"], "budget": r["budget"], "accuracy": r["by_level"][level]["accuracy"],
                 "flops": r["by_level"][level]["mean_flops"]} for r in rows if r["model"] == model and level in r["by_level"]]

    levels = sorted({level for r in rows for level in r["by_level"]})
    out = {}
    for level in levels:
        greedy = next(r for r in level_rows(large_model, level) if r["strategy"] == "cot")
        cheaper = [r for r in level_rows(small_model, level) if r["flops"] <= 1.1 * greedy["flops"]]
        best = max(cheaper, key=lambda r: r["accuracy"])
        out[level] = {"large_greedy": greedy, "small_best_at_matched_flops": best,
                      "winner": "small+TTC" if best["accuracy"] > greedy["accuracy"]
                      else "large greedy" if best["accuracy"] < greedy["accuracy"] else "tie"}
    return out


def main() -> None:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks.datasets import load_dataset
    from reasoner.jobs import JobConfig, run_job
    from reasoner.jobs.pool import LocalPool
    from reasoner.engine.runtime import run_sync
    from reasoner.eval.sweep import make_config, run_sweep
    from reasoner.verifiers import VerifierSet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--models", default="tiny,small")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_sweep"))
    parser.add_argument("--cost-only", action="store_true", help="measure only the sweep's cost (step 2)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    (RESULTS / "sweep").mkdir(parents=True, exist_ok=True)

    full = make_config(dataset="arith", limit=args.limit, models=args.models, budgets=BUDGETS,
                       strategies="cot,self_consistency,best_of_n,adaptive_consistency,revision",
                       max_tokens=args.max_tokens)
    if not args.cost_only:
        with VerifierSet() as verifiers:
            run_sweep(full, args.out / "full", VLLMGenerator.shared, verifiers, close_finished_models=True)
        for name in ("summary.json", "curve.png", "by_level.png"):
            shutil.copy2(args.out / "full" / name, RESULTS / "sweep" / name)
        rows = json.loads((args.out / "full" / "summary.json").read_text())["rows"]
        if len(full.models) > 1:
            matched = compute_matched(rows, full.models[0], full.models[1])
            write_results(RESULTS / "sweep_compute_matched.json", matched)
            print(json.dumps(matched, indent=1))

    model = full.models[0]
    generator = VLLMGenerator.shared(model)
    generator.engine()
    cost = make_config(dataset="arith", limit=args.limit, models=model, budgets=BUDGETS,
                       strategies="self_consistency,best_of_n", max_tokens=args.max_tokens, seed=1)
    shutil.rmtree(args.out / "cost", ignore_errors=True)
    with VerifierSet() as verifiers:
        started = time.perf_counter()
        run_sweep(cost, args.out / "cost", lambda _: generator, verifiers, progress=False)
        sweep_s = time.perf_counter() - started
    solve = JobConfig(dataset="arith", strategy="self_consistency",
                      strategy_options={"n": 16, "max_tokens": args.max_tokens}, model=model, seed=1)
    out = args.out / "solve-n16.jsonl"
    out.unlink(missing_ok=True)
    with VerifierSet() as verifiers:
        started = time.perf_counter()
        run_sync(run_job(solve, load_dataset("arith", limit=args.limit), LocalPool(generator, verifiers),
                         out=out))
        solve_s = time.perf_counter() - started
    report = {"model": model, "problems": args.limit, "budgets": BUDGETS,
              "sweep_sc_bon_s": round(sweep_s, 1), "solve_sc_n16_s": round(solve_s, 1),
              "ratio": round(sweep_s / solve_s, 3)}
    write_results(RESULTS / "sweep_cost.json", report)
    print(json.dumps(report))
    run_sync(generator.close())


if __name__ == "__main__":
    main()
