"""How often a model answers an `arith` problem bare, without working, by level.

Run: python benchmarks/direct_branch.py [--model tiny] [--limit 500]

For each test problem it reads the model's next-token distribution after the
prompt. A bare answer starts with the token `The` (`The answer is
\\boxed{N}.`); a worked one starts with the first operand. Reported per
level: the mean probability of the bare branch (what sampling follows) and
the share of problems where it is the single most likely first token (what
greedy decoding follows). Writes benchmarks/results/direct_branch_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def branch_stats(model_path: str, limit: int) -> dict[str, dict[str, float]]:
    import torch
    from transformers import AutoTokenizer, LlamaForCausalLM

    from reasoner.checkpoint import render_prompt
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--limit", type=int, default=500)
    args = parser.parse_args()
    from reasoner.models import resolve_model

    stats = branch_stats(str(resolve_model(args.model)), args.limit)
    out = Path("benchmarks/results") / f"direct_branch_{Path(args.model).name}.json"
    out.write_text(json.dumps({"model": args.model, "limit": args.limit, "by_level": stats}, indent=2) + "\n")
    for level, row in stats.items():
        print(f"level {level}: P(bare first token) {row['mean_p_bare']:.2f}, greedy answers bare on "
              f"{row['greedy_bare_share']:.0%} of {row['problems']} problems")


if __name__ == "__main__":
    main()
