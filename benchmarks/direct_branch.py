"""How often a model answers an `arith` problem bare, without working, by level.

Run: python benchmarks/direct_branch.py [--model tiny] [--limit 500] [--samples RESULTS.jsonl]

For each test problem it reads the model's next-token distribution after the
prompt. A bare answer starts with the token `The` (`The answer is
\\boxed{N}.`); a worked one starts with the first operand. Reported per
level: the mean probability of the bare branch (what sampling follows) and
the share of problems where it is the single most likely first token (what
greedy decoding follows). With `--samples`, a solve job's results file
(e.g. the self-consistency run of `benchmarks/eval_bundled.py`), it also
reports per level the share of sampled candidates that are bare and how often
bare and worked candidates are right. Writes
benchmarks/results/direct_branch_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from measure import write_results


def branch_stats(model_path: str, limit: int) -> dict[str, dict[str, float]]:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from reasoner.training.checkpoint import render_prompt
    from reasoner.tasks import load_task

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = LlamaForCausalLM.from_pretrained(model_path, torch_dtype=torch.float32).eval()
    bare = tokenizer("The", add_special_tokens=False)["input_ids"][0]
    rows: dict[int, list[tuple[float, bool]]] = {}
    with torch.no_grad():
        for problem in load_task("arith", "test", limit):
            ids = tokenizer(render_prompt(problem.prompt), add_special_tokens=False, return_tensors="pt")["input_ids"]
            probs = model(ids).logits[0, -1].softmax(-1)
            rows.setdefault(problem.level or 0, []).append((float(probs[bare]), int(probs.argmax()) == bare))
    return {str(level): {"problems": len(pairs),
                         "mean_p_bare": round(sum(p for p, _ in pairs) / len(pairs), 3),
                         "greedy_bare_share": round(sum(g for _, g in pairs) / len(pairs), 3)}
            for level, pairs in sorted(rows.items())}


def sample_stats(results: Path) -> dict[str, dict[str, float | None]]:
    """Per level: share of bare candidates, and the accuracy of bare and of worked ones."""
    from reasoner.tasks.arith import boxed_answer

    counts: dict[str, dict[str, int]] = {}
    for line in results.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        row = counts.setdefault(str(record["level"]), {"bare": 0, "bare_right": 0, "worked": 0, "worked_right": 0})
        for candidate in record["candidates"]:
            kind = "bare" if candidate["text"].lstrip().startswith("The answer") else "worked"
            row[kind] += 1
            row[f"{kind}_right"] += boxed_answer(candidate["text"]) == record["reference"]

    def share(part: int, whole: int) -> float | None:
        return round(part / whole, 3) if whole else None

    return {level: {"bare_share": share(row["bare"], row["bare"] + row["worked"]),
                    "bare_accuracy": share(row["bare_right"], row["bare"]),
                    "worked_accuracy": share(row["worked_right"], row["worked"])}
            for level, row in sorted(counts.items())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--samples", type=Path, default=None, help="a solve job's results JSONL to break down")
    args = parser.parse_args()
    from reasoner.engine.models import resolve_model

    stats = branch_stats(str(resolve_model(args.model)), args.limit)
    report: dict = {"model": args.model, "limit": args.limit, "by_level": stats}
    for level, row in stats.items():
        print(f"level {level}: P(bare first token) {row['mean_p_bare']:.2f}, greedy answers bare on "
              f"{row['greedy_bare_share']:.0%} of {row['problems']} problems")
    if args.samples is not None:
        report["samples"] = {"file": str(args.samples), "by_level": sample_stats(args.samples)}
        for level, row in report["samples"]["by_level"].items():
            print(f"level {level} samples: {row['bare_share']} bare; right: bare {row['bare_accuracy']}, "
                  f"worked {row['worked_accuracy']}")
    out = Path("benchmarks/results") / f"direct_branch_{Path(args.model).name}.json"
    write_results(out, report)


if __name__ == "__main__":
    main()
