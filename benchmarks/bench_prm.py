"""How good are our process reward models? Step level, selection, PRM vs ORM, scoring throughput.

Inputs are policy samples already drawn (16 per problem at T 0.8, top-p 0.95,
the strategies' settings) as `reasoner.training.prm.data.Rollout` JSONL, and
PRM/ORM folders from `reasoner train prm`. Scores are cached next to the
output so a re-run only recomputes what is missing.

- Step level: the exact checker gives each sample's first wrong step (or
  none); the PRM's first wrong step is its first step scored below 0.5.
  Precision = right first-wrong-step predictions / samples the PRM flags;
  recall = right first-wrong-step predictions / samples that have a wrong
  step; F1 of the two; per level.
- Selection: accuracy against samples per problem (1, 2, 4, 8, 16) of
  best-of-n by PRM (each aggregation), PRM-weighted vote, best-of-n by ORM,
  by mean log-prob, majority vote, and pass@k. A budget b < 16 averages over
  the 16/b disjoint blocks of each problem's samples.
- Throughput: steps scored per second, all problems' candidates in shared
  forward batches against one problem at a time, alternated and repeated.

Run (the figures in benchmarks/results/prm_tiny.json):
    python benchmarks/bench_prm.py --samples runs/prm/samples/tiny-test.jsonl --split test \\
        --prm runs/prm/tiny-exact-b --orm runs/prm/tiny-orm-b --out benchmarks/results/prm_tiny.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from reasoner.training.prm.data import Rollout, read_jsonl
from reasoner.training.prm.evaluate import group_by_problem, selection, step_level
from reasoner.verifiers.prm import AGGREGATIONS
from reasoner.verifiers.prm.local import PRMVerifier


def step_scores(verifier: PRMVerifier, problems: list[list[Rollout]], cache: Path) -> list[list[list[float]]]:
    """Per problem, per sample, per step: the model's scores (cached in `cache`)."""
    if cache.is_file():
        saved = json.loads(cache.read_text())
        if len(saved) >= len(problems):
            return saved[: len(problems)]
    items = [(r.prompt, r.text) for group in problems for r in group]
    started = time.perf_counter()
    flat = verifier.score(items).steps
    print(f"scored {len(items)} samples with {verifier.folder} in {time.perf_counter() - started:.0f} s", flush=True)
    out, position = [], 0
    for group in problems:
        out.append(flat[position:position + len(group)])
        position += len(group)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(out))
    return out


def throughput(verifier: PRMVerifier, problems: list[list[Rollout]], repeats: int) -> dict:
    """Steps per second: every problem's candidates in shared batches vs one problem per call."""
    items = [[(r.prompt, r.text) for r in group] for group in problems]
    steps = sum(len(verifier.step_format.split(t)) for group in items for _, t in group)
    batched, single = [], []
    for _ in range(repeats):
        started = time.perf_counter()
        verifier.score([item for group in items for item in group])
        batched.append(steps / (time.perf_counter() - started))
        started = time.perf_counter()
        for group in items:
            verifier.score(group)
        single.append(steps / (time.perf_counter() - started))
    ratios = [b / s for b, s in zip(batched, single)]
    return {"problems": len(problems), "steps": steps, "batched_steps_per_s": [round(x, 1) for x in batched],
            "one_problem_steps_per_s": [round(x, 1) for x in single],
            "ratio_median": round(statistics.median(ratios), 3), "ratio_min": round(min(ratios), 3),
            "ratio_max": round(max(ratios), 3)}


def _cache_name(split: str, folder: Path, samples: Path) -> str:
    """The score cache of one PRM folder on one sample file: named by the folder and a digest of its
    path and weights' time, so two runs' `snapshots/step-01000` never share a cache."""
    import hashlib

    weights = folder / "model.safetensors"
    stamp = f"{folder.resolve()}:{weights.stat().st_mtime_ns if weights.is_file() else 0}"
    return f"{split}-{folder.name}-{hashlib.sha256(stamp.encode()).hexdigest()[:8]}-{samples.stem}.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, required=True, help="Rollout JSONL, the same number of samples per problem (16 in the reported runs)")
    parser.add_argument("--split", required=True, help="which split the samples are from (recorded)")
    parser.add_argument("--prm", type=Path, action="append", default=[], help="PRM folder (repeatable)")
    parser.add_argument("--orm", type=Path, default=None, help="ORM folder")
    parser.add_argument("--vote-aggregation", default=None,
                        help="aggregation for the PRM-weighted vote (default: each one, reported side by side)")
    parser.add_argument("--limit", type=int, default=None, help="first K problems")
    parser.add_argument("--throughput-problems", type=int, default=0, help="problems in the throughput check")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--policy", default=None,
                        help="the model that wrote the samples: each PRM must share its tokenizer (checked)")
    parser.add_argument("--machine", default="2 cores shared with other agents", help="recorded as is")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    votes = tuple(AGGREGATIONS) if args.vote_aggregation is None else (args.vote_aggregation,)
    torch.set_num_threads(1)  # the machine is shared; one thread measured far faster than two under load
    problems = group_by_problem(read_jsonl(args.samples, Rollout), args.limit)
    cache_dir = args.out.parent / "prm_scores"
    report: dict = {"samples": str(args.samples), "split": args.split, "problems": len(problems),
                    "samples_per_problem": len(problems[0]), "machine": args.machine, "policy": args.policy,
                    "load_average_at_start": os.getloadavg(), "models": {}}
    orm_scores = None
    if args.orm is not None:
        orm = PRMVerifier(args.orm)
        orm_scores = step_scores(orm, problems, cache_dir / _cache_name(args.split, args.orm, args.samples))
    for folder in args.prm:
        verifier = PRMVerifier(folder)
        if args.policy is not None:
            verifier.check_policy(args.policy)
        scores = step_scores(verifier, problems, cache_dir / _cache_name(args.split, folder, args.samples))
        entry = {"info": verifier.info, "step_level": step_level(problems, scores, verifier.step_format),
                 "selection": selection(problems, scores, orm_scores, votes)}
        if args.throughput_problems:
            entry["throughput"] = throughput(verifier, problems[: args.throughput_problems], args.repeats)
        report["models"][folder.name] = entry
        full = report["samples_per_problem"]
        print(json.dumps({folder.name: {"step_level_all": entry["step_level"]["all"],
                                        f"selection_{full}": {k: v.get(full) for k, v in entry["selection"].items()}}}),
              flush=True)
    if args.orm is not None:
        report["orm"] = {"info": orm.info, "step_level": step_level(problems, orm_scores, orm.step_format)}
    if not args.prm:
        report["selection"] = selection(problems, None, orm_scores, votes)
    report["load_average_at_end"] = os.getloadavg()
    from measure import write_results

    write_results(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
