"""Choosing the router's probe size and bin count on the dev split alone, by cross-validation.

Run: python benchmarks/router_cv.py [--dev-sweep runs/bench_router/tiny/dev] [--folds 5]

The dev sweep of `benchmarks/bench_router.py` is split into folds of
problems; for each (probe samples k, bins), a router is fitted on the other
folds' records and its policy at each compute budget (b sampled solutions per
question) is applied to the held-out problems: their probe features pick the
bin, and the bin's choice's outcome on that problem (from the sweep, with the
probe paid and reused as the router does) is scored. No test problem is read.

Writes benchmarks/results/router_cv.json: per setting and budget, held-out
mean accuracy and FLOPs, and the setting with the best mean held-out accuracy
over the budgets.

It reads the first (non-search) dev sweep only: choices from a second sweep
(the search strategies of `bench_router.py`) are not in its folds, so the
setting it chose (probe 2, 4 bins) was chosen without them.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from measure import RESULTS, write_results

SETTINGS = [(k, bins) for k in (2, 4) for bins in (2, 3, 4, 6)]
BUDGETS = (2, 3, 4, 6, 8, 12, 16)


def subset_folder(dev: Path, keep: set[str], out: Path) -> Path:
    """A copy of the sweep holding only the records of problems in `keep`."""
    out.mkdir(parents=True)
    shutil.copy(dev / "summary.json", out / "summary.json")
    lines = [line for line in (dev / "results.jsonl").read_text().splitlines()
             if json.loads(line)["problem_id"] in keep]
    (out / "results.jsonl").write_text("\n".join(lines) + "\n")
    return out


def held_out(dev: Path, k: int, bins: int, folds: int, work: Path) -> dict[int, dict[str, float]]:
    from reasoner.errors import ConfigError
    from reasoner.eval import router_fit
    from reasoner.eval.router_fit import fit_router
    from reasoner.eval.sweep import load_summary, plan

    config = load_summary(dev).config
    records = router_fit._records(dev, config.generation_hash, config.models[0])
    samples_key = f"samples@{max(config.budgets)}"
    ids = sorted(pid for run, pid in records if run == samples_key)
    totals = {b: {"accuracy": 0.0, "flops": 0.0, "problems": 0} for b in BUDGETS}
    for fold in range(folds):
        test_ids = ids[fold::folds]
        train = subset_folder(dev, set(ids) - set(test_ids), work / f"k{k}-b{bins}-f{fold}")
        router = fit_router(train, probe_samples=k, bins=bins)
        data = [router_fit._problem_data(records[(samples_key, pid)], k) for pid in test_ids]
        routed = router_fit._outcomes(config, plan(config), records, test_ids, config.models[0], data, k)["routed"]
        for budget in BUDGETS:
            try:
                policy = router.policy(compute_budget=budget * router.sample_cost["flops"])
            except ConfigError:
                continue
            for i, d in enumerate(data):
                choice = policy.choices[str(router.difficulty.bin_of(d.features))]
                outcome = routed[(choice.strategy, choice.budget, choice.reuses_probe)][i]
                totals[budget]["accuracy"] += outcome.accuracy
                totals[budget]["flops"] += outcome.flops
                totals[budget]["problems"] += 1
    return {b: {"accuracy": t["accuracy"] / t["problems"], "flops": t["flops"] / t["problems"],
                "problems": t["problems"]} for b, t in totals.items() if t["problems"] == len(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev-sweep", type=Path, default=Path("runs/bench_router/tiny/dev"))
    parser.add_argument("--folds", type=int, default=5)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for k, bins in SETTINGS:
            results[f"k{k}-bins{bins}"] = held_out(args.dev_sweep, k, bins, args.folds, Path(tmp))
            print(k, bins, json.dumps(results[f"k{k}-bins{bins}"]), flush=True)
    common = [b for b in BUDGETS if all(str(b) in {str(x) for x in r} for r in results.values())]
    score = {name: sum(r[b]["accuracy"] for b in common) / len(common) for name, r in results.items()}
    best = max(score, key=score.get)
    out = {"split": "dev (cross-validated; no test problem read)", "folds": args.folds, "budgets_compared": common,
           "mean_held_out_accuracy": score, "chosen": best, "per_setting": results}
    write_results(RESULTS / "router_cv.json", out, indent=1)
    print(json.dumps({"chosen": best, "scores": score}, indent=1))


if __name__ == "__main__":
    main()
