"""Accuracy, cost and pass@k over result records.

Records are the dicts a solve job writes, one per problem. A record is
correct when its verdict status is `correct`; records whose verdict could not
be graded (score None) are counted separately and never as wrong answers
silently: `accuracy` divides by all problems, `graded_accuracy` by the
graded ones only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from math import comb
from typing import Any


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c correct (Chen et al., 2021): 1 - C(n-c, k) / C(n, k)."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= c <= n and 1 <= k <= n, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def summarize(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Overall and per-level accuracy, token and time totals."""
    records = list(records)
    summary = _totals(records)
    levels: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        if record.get("level") is not None:
            levels[int(record["level"])].append(record)
    if levels:
        summary["by_level"] = {str(level): _accuracy_block(levels[level]) for level in sorted(levels)}
    return summary


def _totals(records: list[dict[str, Any]]) -> dict[str, Any]:
    block = _accuracy_block(records)
    costs = [r.get("cost", {}) for r in records]
    generated = sum(c.get("generated_tokens", 0) for c in costs)
    block.update(
        errors=sum(1 for r in records if r.get("error")),
        prompt_tokens=sum(c.get("prompt_tokens", 0) for c in costs),
        generated_tokens=generated,
        mean_generated_tokens=generated / len(records) if records else 0.0,
        flops=sum(c.get("flops", 0.0) for c in costs),
        verifier_s=sum(c.get("verifier_seconds", 0.0) for c in costs),
    )
    return block


def _accuracy_block(records: list[dict[str, Any]]) -> dict[str, Any]:
    correct = sum(1 for r in records if r.get("status") == "correct")
    graded = sum(1 for r in records if r.get("score") is not None)
    return {
        "problems": len(records),
        "correct": correct,
        "accuracy": correct / len(records) if records else 0.0,
        "ungradable": len(records) - graded,
        "graded_accuracy": correct / graded if graded else None,
    }
