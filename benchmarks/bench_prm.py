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
from collections import defaultdict
from pathlib import Path

from reasoner.steps import StepFormat
from reasoner.training.prm.data import Rollout, exact_labels, first_wrong, read_jsonl, step_checker
from reasoner.types import Candidate, FinishReason
from reasoner.strategies.base import samples_of
from reasoner.strategies.self_consistency import tally
from reasoner.verifiers.prm import AGGREGATIONS, aggregate
from reasoner.verifiers.prm.local import PRMVerifier

BUDGETS = (1, 2, 4, 8, 16)


def group_by_problem(rollouts: list[Rollout], limit: int | None) -> list[list[Rollout]]:
    groups: dict[str, list[Rollout]] = {}
    for rollout in rollouts:
        groups.setdefault(rollout.problem_id, []).append(rollout)
    problems = list(groups.values())
    return problems[:limit] if limit else problems


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


def step_level(problems: list[list[Rollout]], scores: list[list[list[float]]], fmt: StepFormat) -> dict:
    """Precision, recall and F1 of the first wrong step, overall and per level."""
    check = step_checker("arith")
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group, group_scores in zip(problems, scores):
        for rollout, row in zip(group, group_scores):
            truth = first_wrong(exact_labels(rollout, fmt, check))
            guess = first_wrong(row)
            for key in ("all", f"level {rollout.level}"):
                block = counts[key]
                block["samples"] += 1
                block["with_error"] += truth is not None
                block["flagged"] += guess is not None
                block["hit"] += truth is not None and guess == truth
                block["clean_kept"] += truth is None and guess is None
    return {key: _prf(block) for key, block in sorted(counts.items())}


def _prf(block: dict[str, int]) -> dict:
    precision = block["hit"] / block["flagged"] if block["flagged"] else 0.0
    recall = block["hit"] / block["with_error"] if block["with_error"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    clean = block["samples"] - block["with_error"]
    return {**block, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "clean_kept_rate": round(block["clean_kept"] / clean, 4) if clean else None}


def _candidate(rollout: Rollout) -> Candidate:
    mean = rollout.mean_logprob
    return Candidate(text=rollout.text, num_tokens=rollout.num_tokens, finish_reason=FinishReason.STOP,
                     cumulative_logprob=None if mean is None else mean * rollout.num_tokens)


def _answer_label(rollout: Rollout) -> int | None:
    from reasoner.verifiers.math import extract_answer

    found = extract_answer(rollout.text)
    try:
        return int(found) if found is not None else None
    except ValueError:
        return None


def _pick_best(block: list[Rollout], values: list[float]) -> bool:
    return block[max(range(len(block)), key=lambda i: values[i])].correct


def _pick_vote(block: list[Rollout], weights: list[float] | None) -> bool:
    samples = samples_of([_candidate(r) for r in block], [_answer_label(r) for r in block], weights)
    vote = tally(samples, by_score=weights is not None)
    return vote.winner is not None and block[vote.winner].correct


def selection(problems: list[list[Rollout]], prm: list | None, orm: list | None, vote_aggregation: str) -> dict:
    """Accuracy per method per budget (mean over problems and disjoint sample blocks)."""
    table: dict[str, dict[int, float]] = defaultdict(dict)
    for budget in BUDGETS:
        hits: dict[str, list[float]] = defaultdict(list)
        for index, group in enumerate(problems):
            per_block: dict[str, list[bool]] = defaultdict(list)
            for start in range(0, len(group) - budget + 1, budget):
                block = group[start:start + budget]
                picks = _methods(block, start, budget, prm and prm[index], orm and orm[index], vote_aggregation)
                for name, hit in picks.items():
                    per_block[name].append(hit)
            for name, values in per_block.items():
                hits[name].append(sum(values) / len(values))
        for name, values in hits.items():
            table[name][budget] = round(sum(values) / len(values), 4)
    return dict(table)


def _methods(block, start, budget, prm_rows, orm_rows, vote_aggregation) -> dict[str, bool]:
    picks = {"pass@k": any(r.correct for r in block),
             "majority": _pick_vote(block, None),
             "logprob_bon": _pick_best(block, [r.mean_logprob if r.mean_logprob is not None else -1e9 for r in block])}
    if prm_rows is not None:
        rows = prm_rows[start:start + budget]
        for how in AGGREGATIONS:
            picks[f"prm_bon_{how}"] = _pick_best(block, [aggregate(row, how) for row in rows])
        picks[f"prm_vote_{vote_aggregation}"] = _pick_vote(block, [aggregate(row, vote_aggregation) for row in rows])
    if orm_rows is not None:
        rows = orm_rows[start:start + budget]
        picks["orm_bon"] = _pick_best(block, [aggregate(row, "last") for row in rows])
    return picks


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, required=True, help="Rollout JSONL, 16 per problem")
    parser.add_argument("--split", required=True, help="which split the samples are from (recorded)")
    parser.add_argument("--prm", type=Path, action="append", default=[], help="PRM folder (repeatable)")
    parser.add_argument("--orm", type=Path, default=None, help="ORM folder")
    parser.add_argument("--vote-aggregation", default="min", help="aggregation for the PRM-weighted vote")
    parser.add_argument("--limit", type=int, default=None, help="first K problems")
    parser.add_argument("--throughput-problems", type=int, default=0, help="problems in the throughput check")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--policy", default=None,
                        help="the model that wrote the samples: each PRM must share its tokenizer (checked)")
    parser.add_argument("--machine", default="2 cores shared with other agents", help="recorded as is")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)  # the machine is shared; one thread measured far faster than two under load
    problems = group_by_problem(read_jsonl(args.samples, Rollout), args.limit)
    cache_dir = args.out.parent / "prm_scores"
    report: dict = {"samples": str(args.samples), "split": args.split, "problems": len(problems),
                    "samples_per_problem": len(problems[0]), "machine": args.machine, "policy": args.policy,
                    "load_average_at_start": os.getloadavg(), "models": {}}
    orm_scores = None
    if args.orm is not None:
        orm = PRMVerifier(args.orm)
        orm_scores = step_scores(orm, problems, cache_dir / f"{args.split}-{args.orm.name}-{args.samples.stem}.json")
    for folder in args.prm:
        verifier = PRMVerifier(folder)
        if args.policy is not None:
            verifier.check_policy(args.policy)
        scores = step_scores(verifier, problems, cache_dir / f"{args.split}-{folder.name}-{args.samples.stem}.json")
        entry = {"info": verifier.info, "step_level": step_level(problems, scores, verifier.step_format),
                 "selection": selection(problems, scores, orm_scores, args.vote_aggregation)}
        if args.throughput_problems:
            entry["throughput"] = throughput(verifier, problems[: args.throughput_problems], args.repeats)
        report["models"][folder.name] = entry
        print(json.dumps({folder.name: {"step_level_all": entry["step_level"]["all"],
                                        "selection_16": {k: v[16] for k, v in entry["selection"].items()}}}),
              flush=True)
    if args.orm is not None:
        report["orm"] = {"info": orm.info, "step_level": step_level(problems, orm_scores, orm.step_format)}
    if not args.prm:
        report["selection"] = selection(problems, None, orm_scores, args.vote_aggregation)
    report["load_average_at_end"] = os.getloadavg()
    from measure import write_results

    write_results(args.out, report)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
