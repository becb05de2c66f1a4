"""Choosing the defaults of issue 30's strategies on the dev split, by the rules committed beforehand.

Run:
    heavy python benchmarks/confidence_dev.py draw --model tiny --split dev --limit 500 --out runs/conf/tiny-dev.jsonl
    heavy python benchmarks/confidence_dev.py draw --model small --split dev --limit 250 --out runs/conf/small-dev.jsonl
    python benchmarks/confidence_dev.py choose runs/conf/tiny-dev.jsonl runs/conf/small-dev.jsonl \\
        --out benchmarks/results/confidence_dev.json

`draw` samples each problem n times (64) exactly as `reasoner solve`/`sweep` do at seed 0 (sample i seeded
problem_seed + i; temperature 0.8, top-p 0.95, 160 max tokens) with top-20 log-probabilities, and keeps per
sample: answer, equivalence label, verdict, token count, mean log-prob and each token's DeepConf
confidence. It resumes a half-written file. `choose` applies the rules of
benchmarks/results/confidence_selection_rules.md (written before the dev samples were drawn): the
offline DeepConf grid, the online DeepConf grid (simulated: `simulate_online`), and adaptive
self-consistency's rounds against cancel (the strategies' own `replay`). Nothing here reads the test split.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import statistics
from pathlib import Path


from reasoner.stats import GradedSample, selected_at_k
from reasoner.strategies.confidence import group_confidences, trace_confidence
from reasoner.strategies.deepconf import DeepConf, quantile, weighted_vote
from reasoner.types import Sample

from measure import write_results


SAMPLING = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 160}
OFFLINE_GRID = {"metric": ("lowest_group", "bottom_share", "tail", "mean"), "window": (8, 16, 32),
                "keep": (0.1, 0.5, 0.9, 1.0)}
ONLINE_GRID = {"warmup": (2, 4, 8), "keep": (0.1, 0.5, 0.9), "consensus": (0.9, 0.95), "window": (8, 16, 32)}
WINDOW = 0.01
"""Equal accuracy: within one point of the baseline on each model (the rules' tolerance)."""


# -- draw


async def draw_one(generator, verifier, problem, n: int, seed: int) -> dict:
    from reasoner.engine.generation import GenerationRequest
    from reasoner.jobs.solve import problem_seed
    from reasoner.strategies.confidence import token_confidences
    from reasoner.types import SamplingConfig

    sampling = SamplingConfig(**SAMPLING, seed=problem_seed(seed, problem.id), top_logprobs=20)
    generation = await generator.generate(GenerationRequest(prompt=problem.prompt, n=n, sampling=sampling))
    answers = [verifier.extract(c.text) for c in generation.candidates]
    labels = await asyncio.to_thread(verifier.group, answers)
    verdicts = {a: await asyncio.to_thread(verifier.grade, a, problem.answer) for a in set(answers) if a is not None}
    return {"problem_id": problem.id, "level": problem.level, "prompt_tokens": generation.prompt_tokens,
            "samples": [{"answer": a, "label": label, "correct": bool(a is not None and verdicts[a].correct),
                         "tokens": c.num_tokens, "mean_logprob": c.mean_logprob, "text": c.text,
                         "conf": [round(x, 4) for x in token_confidences(c.top_logprobs)]}
                        for a, label, c in zip(answers, labels, generation.candidates)]}


def draw(args) -> None:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync
    from reasoner.progress import Progress
    from reasoner.tasks import load_task
    from reasoner.verifiers.math import MathVerifier

    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = {json.loads(line)["problem_id"] for line in args.out.open()} if args.out.exists() else set()
    problems = [p for p in load_task("arith", args.split, n=args.limit) if p.id not in done]
    generator = VLLMGenerator.shared(args.model)
    with MathVerifier() as verifier, args.out.open("a") as out, Progress(len(problems), f"draw {args.model}") as bar:
        async def run_all() -> None:
            gate = asyncio.Semaphore(32)

            async def one(problem) -> None:
                async with gate:
                    record = await draw_one(generator, verifier, problem, args.n, args.seed)
                out.write(json.dumps(record) + "\n")
                out.flush()
                bar.update(sum(s["tokens"] for s in record["samples"]), None)

            await asyncio.gather(*(one(p) for p in problems))

        run_sync(run_all())
    run_sync(generator.close())


# -- choose: offline


def graded(record: dict, scores: list[float] | None = None) -> list[GradedSample]:
    return [GradedSample(label=s["label"], correct=s["correct"], logprob=s["mean_logprob"],
                         score=None if scores is None else scores[i]) for i, s in enumerate(record["samples"])]


def confidences(record: dict, metric: str, window: int) -> list[float]:
    return [trace_confidence(s["conf"], metric, window) if s["conf"] else float("-inf") for s in record["samples"]]


def offline_accuracy(records: list[dict], setting: dict, n: int, draws: int) -> float:
    strategy = DeepConf(keep=setting["keep"], window=setting["window"], metric=setting["metric"])
    total = 0.0
    for index, record in enumerate(records):
        samples = graded(record, confidences(record, setting["metric"], setting["window"]))
        total += selected_at_k(samples, n, strategy.select, draws=draws, seed=index)
    return total / len(records)


def majority_accuracy(records: list[dict], n: int, draws: int) -> float:
    from reasoner.strategies.self_consistency import SelfConsistency

    select = SelfConsistency().select
    return sum(selected_at_k(graded(r), n, select, draws=draws, seed=i) for i, r in enumerate(records)) / len(records)


def choose_offline(runs: dict[str, list[dict]], draws: int) -> dict:
    table = []
    for values in itertools.product(*OFFLINE_GRID.values()):
        setting = dict(zip(OFFLINE_GRID, values))
        cells = {f"{model}@{n}": offline_accuracy(records, setting, n, draws)
                 for model, records in runs.items() for n in (16, 64)}
        table.append({**setting, "cells": cells, "score": statistics.fmean(cells.values())})
        print(json.dumps(table[-1]), flush=True)
    best = max(table, key=lambda row: (round(row["score"], 9), -row["window"], row["keep"]))
    majority = {f"{model}@{n}": majority_accuracy(records, n, draws) for model, records in runs.items()
                for n in (16, 64)}
    return {"grid": table, "chosen": best, "majority": majority}


# -- choose: online (simulated)


def trace_end(conf: list[float], window: int, threshold: float) -> int | None:
    """Tokens a trace had when its group confidence first fell below the threshold; None if it never did."""
    total = 0.0
    for position, value in enumerate(conf):
        total += value
        if position >= window:
            total -= conf[position - window]
        if position >= window - 1 and total / window < threshold:
            return position + 1
    return None


def simulate_online(record: dict, setting: dict, n: int = 16) -> dict:
    """Online DeepConf on the first n samples of one problem (see the rules file): accuracy and tokens."""
    samples = record["samples"][:n]
    warm, rest = samples[:setting["warmup"]], samples[setting["warmup"]:]
    conf = [lowest(s, setting["window"]) for s in samples]
    threshold = quantile(conf[:len(warm)], 1.0 - setting["keep"])
    whole = list(range(len(warm)))
    tokens = sum(s["tokens"] for s in warm)
    vote = _vote(samples, conf, whole, threshold)
    if _share(vote) < setting["consensus"] and rest:
        ends = []
        for offset, sample in enumerate(rest):
            cut = trace_end(sample["conf"], setting["window"], threshold)
            ends.append((cut if cut is not None else sample["tokens"], cut is None, len(warm) + offset))
        stop_at = None
        for end, is_whole, index in sorted(ends):
            if is_whole:
                whole.append(index)
                vote = _vote(samples, conf, whole, threshold)
                if _share(vote) >= setting["consensus"]:
                    stop_at = end
                    break
        tokens += sum(min(end, stop_at) if stop_at is not None else end for end, _, _ in ends)
    if vote.winner is None:
        vote = _vote(samples, conf, whole, None)
    correct = vote.winner is not None and samples[vote.winner]["correct"]
    return {"correct": float(correct), "tokens": tokens}


def lowest(sample: dict, window: int) -> float:
    return min(group_confidences(sample["conf"], window)) if sample["conf"] else float("-inf")


def _vote(samples: list[dict], conf: list[float], whole: list[int], threshold: float | None):
    eligible = [i for i in whole if threshold is None or conf[i] >= threshold]
    pool = [Sample(label=samples[i]["label"], score=conf[i]) for i in eligible]
    vote = weighted_vote(pool, list(range(len(pool))))
    if vote.winner is None:
        return vote
    return vote.model_copy(update={"winner": eligible[vote.winner]})


def _share(vote) -> float:
    total = sum(vote.weights.values())
    return max(vote.weights.values()) / total if total > 0 else 0.0


def majority_first(records: list[dict], n: int = 16) -> tuple[float, float]:
    """Majority vote over each problem's first n samples (a direct n-sample run): accuracy, mean tokens."""
    from reasoner.strategies.self_consistency import tally

    correct = tokens = 0.0
    for record in records:
        samples = record["samples"][:n]
        winner = tally([Sample(label=s["label"], logprob=s["mean_logprob"]) for s in samples]).winner
        correct += winner is not None and samples[winner]["correct"]
        tokens += sum(s["tokens"] for s in samples)
    return correct / len(records), tokens / len(records)


def choose_online(runs: dict[str, list[dict]]) -> dict:
    base = {model: majority_first(records) for model, records in runs.items()}
    table = []
    for values in itertools.product(*ONLINE_GRID.values()):
        setting = dict(zip(ONLINE_GRID, values))
        cells = {}
        for model, records in runs.items():
            outcomes = [simulate_online(r, setting) for r in records]
            accuracy = statistics.fmean(o["correct"] for o in outcomes)
            share = statistics.fmean(o["tokens"] for o in outcomes) / base[model][1]
            cells[model] = {"accuracy": accuracy, "token_share": share,
                            "qualifies": accuracy >= base[model][0] - WINDOW}
        table.append({**setting, "cells": cells})
    qualifying = [row for row in table if all(cell["qualifies"] for cell in row["cells"].values())]
    mean = lambda row, key: statistics.fmean(cell[key] for cell in row["cells"].values())  # noqa: E731
    if qualifying:
        chosen = min(qualifying, key=lambda row: (mean(row, "token_share"), -mean(row, "accuracy")))
    else:
        chosen = max(table, key=lambda row: mean(row, "accuracy"))
    return {"grid": table, "chosen": chosen, "equal_accuracy_met_on_dev": bool(qualifying),
            "majority16": {model: {"accuracy": a, "tokens": t} for model, (a, t) in base.items()}}


# -- choose: adaptive, rounds against cancel


def choose_adaptive(runs: dict[str, list[dict]], draws: int) -> dict:
    from reasoner.strategies.adaptive_consistency import AdaptiveConsistency

    out = {}
    for model, records in runs.items():
        majority = majority_first(records)
        row = {"majority16": {"accuracy": majority[0], "tokens": majority[1]}}
        for mode in ("rounds", "cancel"):
            strategy = AdaptiveConsistency(mode=mode)
            replays = [strategy.replay(graded({"samples": r["samples"][:16]}), [s["tokens"] for s in r["samples"][:16]],
                                       16, draws=draws, seed=i) for i, r in enumerate(records)]
            accuracy = statistics.fmean(r.accuracy for r in replays)
            tokens = statistics.fmean(r.generated_tokens for r in replays)
            row[mode] = {"accuracy": accuracy, "tokens": tokens, "token_share": tokens / majority[1]}
        out[model] = row
    cancel_wins = all(row["cancel"]["accuracy"] >= row["majority16"]["accuracy"] - WINDOW
                      and row["cancel"]["token_share"] <= row["rounds"]["token_share"] for row in out.values())
    return {"models": out, "default": "cancel" if cancel_wins else "rounds"}


def choose(args) -> None:
    runs = {Path(path).stem.split("-")[0]: [json.loads(line) for line in Path(path).open()] for path in args.runs}
    report = {"rules": "benchmarks/results/confidence_selection_rules.md", "split": "dev",
              "problems": {model: len(records) for model, records in runs.items()},
              "adaptive": choose_adaptive(runs, args.draws), "online": choose_online(runs),
              "offline": choose_offline(runs, args.draws)}
    write_results(args.out, report, indent=1)
    print(json.dumps({k: report[k]["chosen"] if "chosen" in report[k] else report[k] for k in
                      ("offline", "online")}, indent=1))
    print(json.dumps(report["adaptive"], indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    d = commands.add_parser("draw", help="sample and keep every sample's confidences")
    d.add_argument("--model", required=True)
    d.add_argument("--split", default="dev", choices=["dev"])
    d.add_argument("--limit", type=int, default=250, help="the first K problems of the split (the rules: tiny 500, small 250)")
    d.add_argument("--n", type=int, default=64)
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--out", type=Path, required=True)
    c = commands.add_parser("choose", help="apply the committed rules to drawn dev samples")
    c.add_argument("runs", nargs="+", help="files written by draw, named MODEL-dev.jsonl")
    c.add_argument("--draws", type=int, default=100)
    c.add_argument("--out", type=Path, default=Path("benchmarks/results/confidence_dev.json"))
    args = parser.parse_args()
    {"draw": draw, "choose": choose}[args.command](args)


if __name__ == "__main__":
    main()
