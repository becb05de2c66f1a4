"""Compare chain of thought with self-consistency on bundled arith problems, from Python.

    python examples/solve_from_python.py --model tiny --limit 32

Prints accuracy and generated tokens per strategy: what the extra samples bought.
"""

from __future__ import annotations

import argparse

from reasoner import Budget, Reasoner
from reasoner.tasks.datasets import load_dataset

STRATEGIES = {"cot": {}, "self_consistency": {"n": 8}}
"""Each strategy with its options; any registered strategy name works here."""


def compare(r: Reasoner, limit: int) -> dict[str, dict[str, float]]:
    """Accuracy and mean generated tokens of each strategy on the first `limit` arith test problems."""
    problems = load_dataset("arith", limit=limit)
    table = {}
    for name, options in STRATEGIES.items():
        results = r.solve_many(problems, strategy=name, budget=Budget(generated_tokens=4096), **options)
        correct = sum(bool(result.verdict and result.verdict.correct) for result in results)
        tokens = sum(result.cost.generated_tokens for result in results)
        table[name] = {"accuracy": correct / len(results), "tokens_per_problem": tokens / len(results)}
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny", help="bundled model name or checkpoint folder")
    parser.add_argument("--limit", type=int, default=32, help="number of arith test problems")
    args = parser.parse_args()
    with Reasoner(model=args.model) as r:
        for name, row in compare(r, args.limit).items():
            print(f"{name:>18}: accuracy {row['accuracy']:.3f}, {row['tokens_per_problem']:.0f} tokens per problem")


if __name__ == "__main__":
    main()
