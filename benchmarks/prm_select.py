"""Apply the PRM selection rule (benchmarks/prm_selection_rule.md) to the dev curves of candidate runs.

Each run folder of `reasoner train prm --dev-samples ...` has a `dev_log.jsonl`:
at every evaluation step, per dev sample set (`tiny-dev200`, `small-dev200`),
first-wrong-step F1 and best-of-16 / weighted-vote accuracy per aggregation
and majority vote. This script, for every evaluation point of every run:

1. gain per aggregation G(a) = mean over the sample sets of (best-of-16 by PRM with a - majority@16);
   a* = argmax G (ties: min, last, mean, prod); score = G(a*); the weighted vote's aggregation likewise;
2. the run's checkpoint: the highest score; within 0.01, the higher mean F1; then the later step;
3. between runs (`--compare A B --tie simpler|larger|smaller`): the higher score; within 0.01, the higher
   F1; F1s within 0.005 as well: the tie rule the question names (A is the simpler / smaller / larger one).

Only dev figures are read; nothing here touches the test split.

    python benchmarks/prm_select.py --runs runs/prm/A runs/prm/B --compare A B --tie simpler \\
        --out benchmarks/results/prm_selection_dev.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from measure import write_results

ORDER = ("min", "last", "mean", "prod")
SCORE_TIE = 0.01
F1_TIE = 0.005


def point_figures(record: dict) -> dict:
    """One evaluation point: gain per aggregation, a*, score, the vote's aggregation, mean F1."""
    sets = record["sets"]
    gain = {how: _mean([s[f"prm_bon_{how}"] - s["majority"] for s in sets.values()]) for how in ORDER}
    vote = {how: _mean([s[f"prm_vote_{how}"] for s in sets.values()]) for how in ORDER}
    best = max(ORDER, key=lambda how: (round(gain[how], 4), -ORDER.index(how)))
    best_vote = max(ORDER, key=lambda how: (round(vote[how], 4), -ORDER.index(how)))
    return {"step": record["step"], "epoch": record.get("epoch"), "gain": gain, "aggregation": best,
            "score": round(gain[best], 4), "f1": round(_mean([s["f1"] for s in sets.values()]), 4),
            "vote_aggregation": best_vote, "vote": round(vote[best_vote], 4),
            "per_set": {name: {"f1": s["f1"], "majority": s["majority"], f"bo_{best}": s[f"prm_bon_{best}"],
                               "pass@k": s["pass@k"], "logprob_bon": s["logprob_bon"]}
                        for name, s in sets.items()}}


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def better(a: dict, b: dict) -> bool:
    """Whether point `a` beats `b` by the rule's first two keys (score, then F1); None-like ties return False."""
    if abs(a["score"] - b["score"]) >= SCORE_TIE - 1e-9:
        return a["score"] > b["score"]
    if abs(a["f1"] - b["f1"]) >= F1_TIE - 1e-9:
        return a["f1"] > b["f1"]
    return False


def run_choice(folder: Path) -> dict:
    """The run's curve and its chosen point (ties within a run: the later step)."""
    records = [json.loads(line) for line in (folder / "dev_log.jsonl").read_text().splitlines() if line.strip()]
    points = [point_figures(r) for r in records]
    chosen = points[0]
    for point in points[1:]:
        if better(point, chosen) or not better(chosen, point):
            chosen = point
    return {"run": str(folder), "config": json.loads((folder / "prm_train_config.json").read_text()),
            "time": run_time(folder, records), "curve": points, "chosen": chosen}


def run_time(folder: Path, dev_records: list[dict]) -> dict:
    """Wall time the run spent, from its own logs: training steps (each step's seconds) and dev evaluations."""
    steps = [json.loads(line) for line in (folder / "train_log.jsonl").read_text().splitlines() if line.strip()]
    train = sum(step.get("seconds", 0.0) for step in steps)
    evaluate = sum(record.get("seconds", 0.0) for record in dev_records)
    return {"steps": len(steps), "train_seconds": round(train, 1), "eval_seconds": round(evaluate, 1),
            "seconds_per_step_median": sorted(s["seconds"] for s in steps)[len(steps) // 2] if steps else None}


def compare(a: dict, b: dict) -> str:
    """The winner's name between runs a and b (tie rule when neither beats the other; a is the tie's pick)."""
    if better(a["chosen"], b["chosen"]):
        return a["run"]
    if better(b["chosen"], a["chosen"]):
        return b["run"]
    return a["run"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=Path, nargs="+", required=True, help="run folders with dev_log.jsonl")
    parser.add_argument("--compare", nargs=2, action="append", default=[], metavar=("A", "B"),
                        help="run names (folder names) to compare; A wins a full tie (name the tie rule)")
    parser.add_argument("--tie", action="append", default=[],
                        help="for each --compare, why A wins a full tie: simpler, larger data, fewer parameters")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    runs = {folder.name: run_choice(folder) for folder in args.runs}
    report = {"split": "dev (arith dev split, first 200 problems x 16 samples of tiny and of small)",
              "rule": "benchmarks/prm_selection_rule.md", "runs": runs, "comparisons": []}
    for index, (a, b) in enumerate(args.compare):
        winner = compare(runs[a], runs[b])
        report["comparisons"].append({"a": a, "b": b, "tie_rule": args.tie[index] if index < len(args.tie) else None,
                                      "winner": Path(winner).name})
    for name, run in runs.items():
        chosen = run["chosen"]
        print(f"{name}: step {chosen['step']} a*={chosen['aggregation']} score {chosen['score']:+.4f} "
              f"F1 {chosen['f1']:.4f} vote({chosen['vote_aggregation']}) {chosen['vote']:.4f}")
    for row in report["comparisons"]:
        print(f"{row['a']} vs {row['b']}: {row['winner']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)


if __name__ == "__main__":
    main()
