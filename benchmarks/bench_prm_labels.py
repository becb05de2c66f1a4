"""How noisy are Monte Carlo step labels? Each one against the exact step checker, on the same solutions.

Input: a `reasoner train prm --labels mc` run folder, whose `data/` holds the
policy's rollouts and the soft Monte Carlo labels (per step, the fraction of
k completions from that step's prefix that reach the reference answer). The
exact checker labels the same steps (`exact_labels`: a step is right while
every step up to it checks). Per step, and per level:

- hard disagreement: the hard label (any completion reached the reference)
  differs from the checker's; split into false right (the prefix was already
  wrong, yet a completion reached the answer) and false wrong (the prefix was
  right, yet no completion did);
- soft disagreement: the soft label thresholded at 0.5 differs;
- mean absolute gap between the soft label and the checker's 0/1;
- per solution: whether the first step labelled wrong is the checker's.

The last step's Monte Carlo label is the solution's own outcome, not a
completion, so the figures are given for all steps and for the steps before
the last ("inner"), where only the completions speak.

Run (benchmarks/results/prm_mc_labels.json):
    python benchmarks/bench_prm_labels.py --run runs/prm/cmp-mc --out benchmarks/results/prm_mc_labels.json
"""

from __future__ import annotations

import argparse
import json
import os
from collections import defaultdict
from pathlib import Path

from reasoner.steps import StepFormat
from reasoner.training.prm.data import Labelled, Rollout, exact_labels, first_wrong, read_jsonl, step_checker

from measure import write_results


def compare(rollouts: list[Rollout], mc: list[Labelled], fmt: StepFormat) -> dict:
    """Agreement counts overall and per level (see the module docstring)."""
    soft_of = {(row.problem_id, row.text): row.labels for row in mc}
    check = step_checker("arith")
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for rollout in rollouts:
        soft = soft_of.get((rollout.problem_id, rollout.text))
        if not soft:
            continue
        exact = exact_labels(rollout, fmt, check)
        hard = [float(v > 0) for v in soft]
        for key in ("all", f"level {rollout.level}"):
            _count_solution(counts[key], exact, soft, hard)
    return {key: _rates(block) for key, block in sorted(counts.items())}


def _count_solution(block: dict[str, float], exact: list[float], soft: list[float], hard: list[float]) -> None:
    block["solutions"] += 1
    block["first_wrong_same_hard"] += first_wrong(hard) == first_wrong(exact)
    block["first_wrong_same_soft"] += first_wrong(soft) == first_wrong(exact)
    for index, (truth, fraction, any_reached) in enumerate(zip(exact, soft, hard)):
        for scope in ("all", "inner") if index < len(exact) - 1 else ("all",):
            block[f"{scope}_steps"] += 1
            block[f"{scope}_right"] += truth
            block[f"{scope}_false_right"] += truth == 0.0 and any_reached == 1.0
            block[f"{scope}_false_wrong"] += truth == 1.0 and any_reached == 0.0
            block[f"{scope}_soft_disagree"] += (fraction >= 0.5) != (truth == 1.0)
            block[f"{scope}_abs_gap"] += abs(fraction - truth)


def _rates(block: dict[str, float]) -> dict:
    out: dict = {"solutions": int(block["solutions"]),
                 "first_wrong_same_hard": _ratio(block["first_wrong_same_hard"], block["solutions"]),
                 "first_wrong_same_soft": _ratio(block["first_wrong_same_soft"], block["solutions"])}
    for scope in ("all", "inner"):
        steps, right = block[f"{scope}_steps"], block[f"{scope}_right"]
        false_right, false_wrong = block[f"{scope}_false_right"], block[f"{scope}_false_wrong"]
        out[scope] = {"steps": int(steps), "checker_right": _ratio(right, steps),
                      "hard_disagree": _ratio(false_right + false_wrong, steps),
                      "hard_false_right_of_wrong_steps": _ratio(false_right, steps - right),
                      "hard_false_wrong_of_right_steps": _ratio(false_wrong, right),
                      "soft_disagree": _ratio(block[f"{scope}_soft_disagree"], steps),
                      "soft_mean_abs_gap": _ratio(block[f"{scope}_abs_gap"], steps)}
    return out


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="a `reasoner train prm --labels mc` run folder")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    from reasoner.training.prm.train import PRMConfig

    config = PRMConfig.model_validate_json((args.run / "prm_train_config.json").read_text())
    labels = args.run / "data" / f"labels-mc-k{config.mc.k}-soft.jsonl"
    rollouts = read_jsonl(args.run / "data" / "rollouts.jsonl", Rollout)
    report = {"run": str(args.run), "labels": str(labels), "k": config.mc.k, "mc_policy": config.mc.policy,
              "rollouts": len(rollouts), "split": "train (the PRM training stream)",
              "load_average": os.getloadavg(),
              "agreement": compare(rollouts, read_jsonl(labels, Labelled), config.step_format())}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    print(json.dumps(report["agreement"]["all"], indent=1))


if __name__ == "__main__":
    main()
