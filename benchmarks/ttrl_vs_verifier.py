"""TTRL (majority-vote reward, no reference) against the verifier reward: GRPO from the same start, same steps.

Run (rule 5 of benchmarks/results/confidence_selection_rules.md):
    heavy python benchmarks/ttrl_vs_verifier.py train --steps 60      # three runs, each resumable
    heavy python benchmarks/ttrl_vs_verifier.py dev                   # chooses ttrl_min_votes on dev
    heavy python benchmarks/ttrl_vs_verifier.py test                  # once: the start, verifier, chosen TTRL
    python benchmarks/ttrl_vs_verifier.py logs                        # what the training logs say (no engine)

Every run is `reasoner train grpo --model tiny --task arith --levels 1,2,3,4 --level-weights
0.5,0.5,4.5,4.5 --lr 1e-4 --threads 1 --steps STEPS` (the README's recipe, only shorter: what this
2-core machine affords three times over), seed 0, on arith train prompts; `--reward ttrl
--ttrl-min-votes K` for K in 2, 4. Evaluation is the README's: greedy `reasoner solve --strategy cot` over
all 500 problems of the split (`grpo_dev_selection.solve`). The report gives each run's accuracy, its
training wall time (the sum of its logged step times), and for TTRL runs the mean share of groups that had
a majority label, how often that label was right and the verifier reward of its rollouts (logged, never
trained on). Writes benchmarks/results/ttrl.json ("dev" and "test" sections; `logs` writes "training": per
run, the verifier reward of its rollouts over its first and last ten steps, on train prompts at temperature
1.0, which TTRL runs log without training on it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from grpo_dev_selection import solve, training  # noqa: E402
from measure import save_section  # noqa: E402

RESULTS = Path("benchmarks/results/ttrl.json")
RUNS = Path("runs/ttrl")
RECIPE = ["--model", "tiny", "--task", "arith", "--levels", "1,2,3,4", "--level-weights", "0.5,0.5,4.5,4.5",
          "--lr", "1e-4", "--threads", "1"]
ARMS = {"verifier": [], "ttrl2": ["--reward", "ttrl", "--ttrl-min-votes", "2"],
        "ttrl4": ["--reward", "ttrl", "--ttrl-min-votes", "4"]}
NOTES = "see the docstring of benchmarks/ttrl_vs_verifier.py; rules in benchmarks/results/confidence_selection_rules.md"


def train(steps: int) -> None:
    reasoner = Path(sys.executable).with_name("reasoner")
    for arm, extra in ARMS.items():
        command = [str(reasoner), "train", "grpo", *RECIPE, "--steps", str(steps), *extra, "--out", str(RUNS / arm)]
        print(" ".join(command[1:]), flush=True)
        subprocess.run(command, check=True)


def label_stats(arm: str) -> dict:
    path = RUNS / arm / "metrics.jsonl"
    records = [json.loads(line) for line in path.open()] if path.exists() else []

    def mean(key: str) -> float | None:
        values = [r[key] for r in records if r.get(key) is not None]
        return statistics.fmean(values) if values else None

    return {"labelled_groups": mean("ttrl_labelled_groups"), "label_accuracy": mean("ttrl_label_accuracy"),
            "verifier_reward_mean": mean("verifier_reward_mean"), "reward_mean": mean("reward_mean")}


def row(model: str, arm: str | None, split: str) -> dict:
    out = solve(model, split)
    if arm is not None:
        out.update(training=training(model), rollouts=label_stats(arm))
    return out


def dev() -> None:
    rows = {arm: row(str(RUNS / arm), arm, "dev") for arm in ARMS}
    chosen = "ttrl4" if rows["ttrl4"]["accuracy"] > rows["ttrl2"]["accuracy"] else "ttrl2"
    save_section(RESULTS, "dev", {"rows": rows, "chosen_ttrl": chosen}, NOTES)
    print(json.dumps({arm: r["accuracy"] for arm, r in rows.items()}), "chosen:", chosen)


def test() -> None:
    chosen = json.loads(RESULTS.read_text())["dev"]["chosen_ttrl"]
    rows = {"tiny (start)": row("tiny", None, "test"), "verifier": row(str(RUNS / "verifier"), "verifier", "test"),
            chosen: row(str(RUNS / chosen), chosen, "test")}
    save_section(RESULTS, "test", {"rows": rows, "chosen_ttrl": chosen}, NOTES)
    print(json.dumps({arm: r["accuracy"] for arm, r in rows.items()}))


def logs() -> None:
    """The three runs' training logs side by side: no evaluation, nothing started."""
    rows = {}
    for arm in ARMS:
        steps = [json.loads(line) for line in (RUNS / arm / "metrics.jsonl").open() if line.strip()]
        key = "reward_mean" if arm == "verifier" else "verifier_reward_mean"  # the verifier's grade of rollouts
        rows[arm] = {"steps": len(steps), "train_minutes": round(sum(s["step_seconds"] for s in steps) / 60, 1),
                     "median_step_seconds": round(statistics.median(s["step_seconds"] for s in steps), 2),
                     "verifier_reward_first10": round(statistics.fmean(s[key] for s in steps[:10]), 4),
                     "verifier_reward_last10": round(statistics.fmean(s[key] for s in steps[-10:]), 4),
                     "rollouts": label_stats(arm)}
    save_section(RESULTS, "training", {"rows": rows, "split": "train prompts (rollouts)",
                                       "command": "python benchmarks/ttrl_vs_verifier.py logs"}, NOTES)
    print(json.dumps(rows, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    t = commands.add_parser("train", help="the three GRPO runs (resumable)")
    t.add_argument("--steps", type=int, default=60)
    commands.add_parser("dev", help="score the runs on dev and choose ttrl_min_votes")
    commands.add_parser("test", help="score the start, the verifier run and the chosen TTRL run on test, once")
    commands.add_parser("logs", help="the runs' training logs side by side (no engine)")
    args = parser.parse_args()
    if args.command == "train":
        train(args.steps)
    else:
        {"dev": dev, "test": test, "logs": logs}[args.command]()


if __name__ == "__main__":
    main()
