"""Adaptive self-consistency against SC@16 on a slice of a sweep's problems, e.g. the ones its defaults were not chosen on.

Run: python benchmarks/adaptive_heldout.py runs/sweep-tiny500 runs/sweep-small500 runs/sweep-grpo:0

Each folder is a finished `reasoner sweep` with `self_consistency` and
`adaptive_consistency` at budget 16. The rows are recomputed by the sweep's
own summary code (the current adaptive defaults, replayed on the same random
orders) over the problems after the first `--skip` (or FOLDER:K for one
folder); the defaults were chosen on the bundled models' samples of the
first 200 arith test problems. Writes
benchmarks/results/adaptive_heldout.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from measure import RESULTS, write_results



def heldout_rows(folder: Path, skip: int) -> list[dict]:
    from reasoner.tasks.datasets import load_dataset
    from reasoner.eval.sweep import SweepConfig, summarize_sweep
    from reasoner.jobs import read_records

    config = SweepConfig(**json.loads((folder / "summary.json").read_text())["config"])
    problems = load_dataset(config.dataset, limit=config.limit, fmt=config.format, split=config.split)[skip:]
    rows = summarize_sweep(config, problems, read_records(folder / "results.jsonl"))
    out = []
    for model in config.models:
        sc = next(r for r in rows if r.model == model and r.strategy == "self_consistency" and r.budget == 16)
        adaptive = next(r for r in rows if r.model == model and r.strategy == "adaptive_consistency")
        out.append({"sweep": str(folder), "split": config.split or "test", "model": model,
                    "problems": len(problems), "skipped": skip,
                    "sc16_accuracy": sc.accuracy, "adaptive_accuracy": round(adaptive.accuracy, 4),
                    "gap_points": round(100 * (adaptive.accuracy - sc.accuracy), 2),
                    "token_share": round(adaptive.mean_generated_tokens / sc.mean_generated_tokens, 4),
                    "samples": round(adaptive.metrics["samples"], 2)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="sweep folders, each optionally FOLDER:K to skip K problems")
    parser.add_argument("--skip", type=int, default=200, help="leave out the first K problems (default 200)")
    args = parser.parse_args()
    rows = []
    for spec in args.folders:
        folder, _, skip = spec.partition(":")
        rows += heldout_rows(Path(folder), int(skip) if skip else args.skip)
    for row in rows:
        print(f"{row['model']} ({row['problems']} problems after the first {row['skipped']}): "
              f"adaptive {row['adaptive_accuracy']:.3f} vs SC@16 {row['sc16_accuracy']:.3f} "
              f"({row['gap_points']:+.2f} points) with {100 * row['token_share']:.1f}% of the tokens")
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS / "adaptive_heldout.json", rows)


if __name__ == "__main__":
    main()
