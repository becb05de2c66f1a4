"""Draw the policy samples that bench_prm.py scores: n per problem of one split, at the strategies' settings.

The samples are `reasoner.training.prm.data.Rollout` JSONL (text, tokens,
mean log-prob, correctness), drawn by the same `sample_rollouts` call that
`reasoner train prm` makes: T 0.8, top-p 0.95, 256 max tokens, each problem
seeded from `--seed` and its id. A file already holding the samples is kept.

Splits: `test` is the task's fixed test split (scored once, for the reported
figures); `dev` is the task's fixed dev split (level-balanced like test; where
issue #29's PRM was chosen, `benchmarks/prm_selection_rule.md`); `prm-dev` is the
PRM development split carved from the training stream
(`reasoner.training.prm.data.dev_problems`), where round 2's PRM settings were
chosen (its commands in MODEL.md said `--split dev` before the task's dev split
took that name). Training draws exclude all three.

Run (the samples behind benchmarks/results/prm_*.json):
    python benchmarks/prm_samples.py --policy tiny --split test --out runs/prm/samples/tiny-test.jsonl
    python benchmarks/prm_samples.py --policy small --split test --out runs/prm/samples/small-test.jsonl
    python benchmarks/prm_samples.py --policy tiny --split dev --problems 200 --out runs/prm/samples/tiny-dev200.jsonl
    python benchmarks/prm_samples.py --policy tiny --split prm-dev --problems 200 --out runs/prm/samples/tiny-dev.jsonl
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def split_problems(task: str, split: str, limit: int | None) -> list:
    """The first `limit` problems of the test split, the task's dev split or the PRM dev split."""
    from reasoner.tasks import load_task
    from reasoner.training.prm.data import DEV_SIZE, dev_problems

    if split == "prm-dev":
        return dev_problems(task, limit if limit is not None else DEV_SIZE)
    return load_task(task, split, limit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--policy", default="tiny", help="bundled model name or folder")
    parser.add_argument("--task", default="arith")
    parser.add_argument("--split", choices=["test", "dev", "prm-dev"], required=True)
    parser.add_argument("--problems", type=int, default=None, help="first K problems (default: the whole split)")
    parser.add_argument("--samples", type=int, default=16, help="samples per problem")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync
    from reasoner.training.prm.data import SampleSettings, sample_rollouts

    problems = split_problems(args.task, args.split, args.problems)
    settings = SampleSettings(policy=args.policy, samples=args.samples, seed=args.seed)
    load_before, started = os.getloadavg(), time.perf_counter()
    rollouts = sample_rollouts(problems, settings, cache=args.out)
    seconds = time.perf_counter() - started
    for generator in list(VLLMGenerator._shared.values()):
        run_sync(generator.close())
    correct = sum(r.correct for r in rollouts) / len(rollouts)
    print(json.dumps({"out": str(args.out), "policy": args.policy, "split": args.split, "problems": len(problems),
                      "samples": len(rollouts), "correct": round(correct, 4), "seconds": round(seconds, 1),
                      "load_average_before": load_before, "load_average_after": os.getloadavg()}))


if __name__ == "__main__":
    main()
