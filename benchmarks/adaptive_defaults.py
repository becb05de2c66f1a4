"""Adaptive self-consistency's defaults chosen on the dev split, then scored once on the test split.

Run, after the sweeps the README's "Compute against accuracy" lists
(`reasoner sweep --models M --dataset arith --split dev|test --limit 500
--strategies self_consistency,adaptive_consistency --budgets 16 --max-tokens
160 --out runs/sweep-M-dev500|test500` for M = tiny, small):

    python benchmarks/adaptive_defaults.py choose runs/sweep-tiny-dev500 runs/sweep-small-dev500
    python benchmarks/adaptive_defaults.py score runs/sweep-tiny-test500 runs/sweep-small-test500

`choose` replays a grid of stopping rules (rounds of 1 to 3 samples,
confidence 0.8, 0.85, 0.9, futility 0, 0.05, 0.1) on the dev sweeps' shared
samples with the sweep's own replay (`reasoner.eval.sweep.replayed_point`:
the same random orders for every rule) and compares each with SC@16 on the
same samples. The window: within 1 point of SC@16's accuracy with at most
50% of its generated tokens, on every sweep. Among the rules inside it, the
choice is the one whose tightest margin is widest: per sweep the margin is
the smaller of (gap + 1) in accuracy points and (50 - token share) in
percent, and a rule's tightest margin is its smallest over the sweeps. This
rule was fixed before the dev samples were drawn. If no rule is inside the
window, the one with the widest (least negative) tightest margin is named and
the output says so. It refuses sweeps not made on the dev split.

`score` reports the code's current defaults on test sweeps through the
sweep's own summary (`adaptive_heldout.heldout_rows`, nothing skipped), once
the defaults have been set from `choose`. It refuses sweeps not made on the
test split, and states whether the defaults are the ones `choose` picked.

Both write benchmarks/results/adaptive_defaults.json (keys "dev" and "test";
a run keeps the other key).
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

from adaptive_heldout import heldout_rows
from measure import save_section

RESULTS = Path("benchmarks/results/adaptive_defaults.json")
ROUNDS = (1, 2, 3)
CONFIDENCES = (0.8, 0.85, 0.9)
FUTILITIES = (0.0, 0.05, 0.1)
BUDGET = 16
WINDOW_POINTS = 1.0
WINDOW_SHARE = 0.5


def load_sweep(folder: Path, split: str):
    """(config, problems, records) of a finished sweep on `split`; a SystemExit naming the folder otherwise."""
    from reasoner.tasks.datasets import load_dataset
    from reasoner.eval.sweep import SweepConfig
    from reasoner.jobs import read_records

    config = SweepConfig(**json.loads((folder / "summary.json").read_text())["config"])
    if (config.split or "test") != split:
        raise SystemExit(f"{folder}: a sweep of the {config.split or 'test'} split; this step needs {split}")
    if BUDGET not in config.budgets or "self_consistency" not in config.strategies:
        raise SystemExit(f"{folder}: needs self_consistency at budget {BUDGET}")
    problems = load_dataset(config.dataset, limit=config.limit, fmt=config.format, split=config.split)
    return config, problems, read_records(folder / "results.jsonl")


def replay_mean(config, strategy, samples_key: str, index: dict, model: str, problems) -> tuple[float, float]:
    """Mean accuracy and generated tokens of `strategy` at BUDGET replayed on each problem's shared samples."""
    from reasoner.eval.sweep import replayed_point

    points = [replayed_point(strategy, index[(model, samples_key, p.id)], BUDGET, BUDGET, config) for p in problems]
    return (sum(p.metrics["accuracy"] for p in points) / len(points), sum(p.tokens for p in points) / len(points))


def grid_rows(folder: Path) -> list[dict]:
    """Every grid rule against SC@16 on each model of one dev sweep."""
    from reasoner.eval.sweep import plan, record_key

    config, problems, records = load_sweep(folder, "dev")
    index = {record_key(r): r for r in records if r.get("config_hash") == config.generation_hash}
    samples_key = plan(config).replayed["self_consistency"].key
    base = config.strategy("adaptive_consistency").model_copy(update={"max_n": BUDGET})
    rows = []
    for model in config.models:
        sc_accuracy, sc_tokens = replay_mean(config, config.strategy("self_consistency").at_budget(BUDGET),
                                             samples_key, index, model, problems)
        for batch, confidence, futility in itertools.product(ROUNDS, CONFIDENCES, FUTILITIES):
            rule = base.model_copy(update={"batch": batch, "confidence": confidence, "futility": futility})
            accuracy, tokens = replay_mean(config, rule, samples_key, index, model, problems)
            rows.append({"sweep": str(folder), "model": model, "problems": len(problems), "batch": batch,
                         "confidence": confidence, "futility": futility, "adaptive_accuracy": round(accuracy, 4),
                         "sc16_accuracy": round(sc_accuracy, 4), "gap_points": round(100 * (accuracy - sc_accuracy), 2),
                         "token_share": round(tokens / sc_tokens, 4)})
        print(f"{folder} {model}: SC@16 {sc_accuracy:.3f} with {sc_tokens:.0f} tokens; {len(rows)} rules so far")
    return rows


def margin(row: dict) -> float:
    """How far inside the window one sweep's row is (negative: outside), in points."""
    return min(row["gap_points"] + WINDOW_POINTS, 100 * (WINDOW_SHARE - row["token_share"]))


def choose(rows: list[dict]) -> dict:
    """Per rule its tightest margin over the sweeps, and the rule with the widest."""
    rules: dict[tuple, list[dict]] = {}
    for row in rows:
        rules.setdefault((row["batch"], row["confidence"], row["futility"]), []).append(row)
    ranked = sorted(((min(map(margin, members)), rule) for rule, members in rules.items()), reverse=True)
    best_margin, (batch, confidence, futility) = ranked[0]
    return {"batch": batch, "confidence": confidence, "futility": futility, "tightest_margin": round(best_margin, 2),
            "inside_window": best_margin >= 0,
            "rules_inside_window": [dict(zip(("batch", "confidence", "futility"), rule))
                                    for m, rule in ranked if m >= 0]}


def current_defaults() -> dict:
    from reasoner.strategies.adaptive_consistency import AdaptiveConsistency

    fields = AdaptiveConsistency.model_fields
    return {name: fields[name].default for name in ("batch", "confidence", "futility")}


NOTES = ("dev: the grid replayed on dev-split samples and the rule chosen there; test: the code's "
                       "defaults on test-split samples, scored once after choosing. The machine was shared with "
                       "other work; accuracy and token counts do not depend on that.")


def save(key: str, value: dict) -> None:
    save_section(RESULTS, key, value, NOTES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("step", choices=("choose", "score"))
    parser.add_argument("folders", nargs="+", type=Path, help="finished sweep folders (dev for choose, test for score)")
    args = parser.parse_args()
    if args.step == "choose":
        rows = [row for folder in args.folders for row in grid_rows(folder)]
        chosen = choose(rows)
        chosen_rows = [r for r in rows if (r["batch"], r["confidence"], r["futility"])
                       == (chosen["batch"], chosen["confidence"], chosen["futility"])]
        save("dev", {"defaults_before": current_defaults(), "chosen": chosen, "chosen_rows": chosen_rows,
                     "grid": rows})
        print(json.dumps(chosen, indent=1))
        for row in chosen_rows:
            print(f"dev {row['model']}: adaptive {row['adaptive_accuracy']:.3f} vs SC@16 {row['sc16_accuracy']:.3f} "
                  f"({row['gap_points']:+.2f} points), {100 * row['token_share']:.1f}% of the tokens")
        return
    for folder in args.folders:
        load_sweep(folder, "test")
    rows = [row for folder in args.folders for row in heldout_rows(folder, 0)]
    report = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    chosen = report.get("dev", {}).get("chosen", {})
    defaults = current_defaults()
    for row in rows:
        row["inside_window"] = row["gap_points"] >= -WINDOW_POINTS and row["token_share"] <= WINDOW_SHARE
        print(f"test {row['model']}: adaptive {row['adaptive_accuracy']:.3f} vs SC@16 {row['sc16_accuracy']:.3f} "
              f"({row['gap_points']:+.2f} points), {100 * row['token_share']:.1f}% of the tokens, "
              f"{'inside' if row['inside_window'] else 'outside'} the window")
    before = report.get("dev", {}).get("defaults_before")
    compared = [previous_defaults_row(folder, before) for folder in args.folders] if before and before != defaults else []
    save("test", {"defaults": defaults, "defaults_are_dev_choice":
                  all(chosen.get(k) == v for k, v in defaults.items()), "rows": rows,
                  "previous_defaults_for_comparison": compared})


def previous_defaults_row(folder: Path, rule: dict) -> dict:
    """The defaults before the dev choice on the same test samples: reported beside the new ones, chosen on nothing."""
    from reasoner.eval.sweep import plan, record_key

    config, problems, records = load_sweep(folder, "test")
    index = {record_key(r): r for r in records if r.get("config_hash") == config.generation_hash}
    samples_key = plan(config).replayed["self_consistency"].key
    (model,) = config.models
    sc_accuracy, sc_tokens = replay_mean(config, config.strategy("self_consistency").at_budget(BUDGET),
                                         samples_key, index, model, problems)
    strategy = config.strategy("adaptive_consistency").model_copy(update={"max_n": BUDGET, **rule})
    accuracy, tokens = replay_mean(config, strategy, samples_key, index, model, problems)
    row = {"sweep": str(folder), "model": model, **rule, "adaptive_accuracy": round(accuracy, 4),
           "sc16_accuracy": round(sc_accuracy, 4), "gap_points": round(100 * (accuracy - sc_accuracy), 2),
           "token_share": round(tokens / sc_tokens, 4)}
    print(f"test {model}, previous defaults {rule}: {row['gap_points']:+.2f} points, "
          f"{100 * row['token_share']:.1f}% of the tokens")
    return row


if __name__ == "__main__":
    main()
