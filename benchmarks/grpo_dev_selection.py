"""GRPO settings chosen on the dev split; the chosen run and the bundled `tiny` then scored once on test.

Train the candidates first (each command resumes its folder when re-run):

    reasoner train grpo --model tiny --task arith --steps 300 --levels 1,2,3,4 --level-weights 0.5,0.5,4.5,4.5 --threads 1 --out runs/grpo
    reasoner train grpo --model tiny --task arith --steps 300 --levels 3,4 --threads 1 --out runs/grpo-l34
    reasoner train grpo --model tiny --task arith --steps 300 --levels 1,2,3,4 --level-weights 0.5,0.5,4.5,4.5 --lr 1e-4 --threads 1 --out runs/grpo-lr1e-4

Then:

    python benchmarks/grpo_dev_selection.py dev tiny runs/grpo runs/grpo-l34 runs/grpo-lr1e-4
    python benchmarks/grpo_dev_selection.py test tiny runs/grpo

`dev` scores each model with `reasoner solve --model M --dataset arith --split
dev --strategy cot --json` (greedy, the solve command's default max tokens,
all 500 dev problems) and chooses the trained run with the highest dev
accuracy (a tie goes to the one scored first). Models scored by an earlier
`dev` run are kept, so runs can be scored as they finish. `test` runs the README's
evaluation command, `reasoner solve --model M --dataset arith --strategy cot
--json` (the test split), for the models named; it is meant to be run once,
for the dev choice and the starting model. Each trained run's settings
(`grpo_config.json`) and training time (the sum of its logged step times) go
into the record too.

Writes benchmarks/results/grpo_dev_selection.json (keys "dev" and "test"; a
run keeps the other key).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from measure import save_section

RESULTS = Path("benchmarks/results/grpo_dev_selection.json")
OUTPUTS = Path("runs/grpo_dev_selection")


def solve(model: str, split: str) -> dict:
    """The summary `reasoner solve` prints for greedy cot over the arith split, run as a user runs it."""
    out = OUTPUTS / f"{Path(model).name}-{split}.jsonl"
    out.unlink(missing_ok=True)  # a fresh evaluation, never a resume of another run's records
    command = ["reasoner", "solve", "--model", model, "--dataset", "arith", "--strategy", "cot"]
    command += ["--split", "dev"] if split == "dev" else []
    reasoner = Path(sys.executable).with_name("reasoner")
    finished = subprocess.run([str(reasoner), *command[1:], "--out", str(out), "--json"], check=False,
                              capture_output=True, text=True)
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    return {"command": " ".join(command), "accuracy": report["accuracy"], "problems": report["problems"],
            "mean_generated_tokens": report["mean_generated_tokens"],
            "by_level": {level: row["accuracy"] for level, row in report["by_level"].items()}}


def training(model: str) -> dict | None:
    """A trained run's settings and logged training time; None for a bundled model."""
    folder = Path(model)
    if not (folder / "grpo_config.json").exists():
        return None
    steps = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return {"config": json.loads((folder / "grpo_config.json").read_text()), "steps": len(steps),
            "train_minutes": round(sum(s["step_seconds"] for s in steps) / 60, 1)}


NOTES = ("dev: greedy cot on the 500 arith dev problems, the choice made there; test: the README's "
                       "command on the 500 test problems, run once after choosing. Training ran two at a time "
                       "on a shared 2-core machine, so train_minutes are slower than on an idle one.")


def save(key: str, value: dict) -> None:
    save_section(RESULTS, key, value, NOTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", choices=("dev", "test"))
    parser.add_argument("models", nargs="+", help="bundled names or trained run folders")
    args = parser.parse_args()
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    earlier = json.loads(RESULTS.read_text()).get(args.split, {}) if RESULTS.exists() else {}
    rows = earlier.get("rows", {})  # models scored by an earlier run of this step stay, in their order
    for model in args.models:
        rows[model] = {**solve(model, args.split), "training": training(model)}
        print(f"{args.split} {model}: {rows[model]['accuracy']:.3f} {rows[model]['by_level']}", flush=True)
        save(args.split, {"rows": rows})
    trained = [model for model in rows if rows[model]["training"] is not None]
    if args.split == "dev" and trained:
        chosen = max(trained, key=lambda model: (rows[model]["accuracy"], -trained.index(model)))
        save(args.split, {"rows": rows, "chosen": chosen})
        print("chosen on dev so far:", chosen)


if __name__ == "__main__":
    main()
