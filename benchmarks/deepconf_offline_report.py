"""Offline DeepConf against majority vote at the same N, read off one sweep's shared samples.

Run (the test split, scored once with the options chosen on dev, benchmarks/results/confidence_dev.json):
    heavy reasoner sweep --models tiny,small --dataset arith --split test --strategies self_consistency,deepconf \\
        --budgets 16,64 --max-tokens 160 --option deepconf.metric=M --option deepconf.window=W \\
        --option deepconf.keep=K --out runs/deepconf-test
    python benchmarks/deepconf_offline_report.py runs/deepconf-test --out benchmarks/results/deepconf_offline_test.json

Both strategies are replayed on the same 64 samples per problem (budget 16: the expectation over random
16-subsets, the sweep's `draws`; budget 64: all of them). Reported per model and N: each accuracy with its
95% percentile bootstrap interval over problems (the sweep's own), and the paired difference DeepConf minus
majority with its bootstrap interval (resampling problems, 2000 resamples, seed 0).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from measure import write_results
from reasoner.stats import bootstrap_ci



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    from reasoner.tasks.datasets import load_dataset
    from reasoner.eval.sweep import load_summary, row_points
    from reasoner.jobs import iter_records

    summary = load_summary(args.sweep)
    config = summary.config
    problems = load_dataset(config.dataset, limit=config.limit, fmt=config.format, split=config.split)
    ids = [p.id for p in problems]
    records = list(iter_records(args.sweep / "results.jsonl"))
    rows = {(r.model, r.strategy, r.budget): r for r in summary.rows}
    report = {"sweep": str(args.sweep), "split": config.split, "problems": len(ids),
              "options": config.strategy_options, "models": {}}
    for model in config.models:
        points = {(name, budget): [p.metrics["accuracy"] for p in pts]
                  for name, budget, _, pts in row_points(config, ids, records, model)}
        cells = {}
        for budget in config.budgets:
            ours, majority = points[("deepconf", budget)], points[("self_consistency", budget)]
            diff = [a - b for a, b in zip(ours, majority)]
            cells[str(budget)] = {
                "deepconf": {"accuracy": statistics.fmean(ours), "ci": [rows[(model, "deepconf", budget)].ci_low,
                                                                        rows[(model, "deepconf", budget)].ci_high]},
                "majority": {"accuracy": statistics.fmean(majority),
                             "ci": [rows[(model, "self_consistency", budget)].ci_low,
                                    rows[(model, "self_consistency", budget)].ci_high]},
                "difference": {"mean": statistics.fmean(diff), "ci": list(bootstrap_ci(diff, resamples=2000))}}
        report["models"][Path(model).name] = cells
    write_results(args.out, report, indent=1)
    print(json.dumps(report["models"], indent=1))


if __name__ == "__main__":
    main()
