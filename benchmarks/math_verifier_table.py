"""Print the math verifier's results (benchmarks/results/math_verifier.json) as Markdown tables.

The README's "table by class" is this script's output: right/wrong counts per
kind for verifier v2 (from `math_table_by_version.py`), this verifier and
Math-Verify, precision and recall, and the speed
figures with their spread, so the prose never carries a figure the results
file does not.

Run: python benchmarks/math_verifier_table.py [--results benchmarks/results/math_verifier.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "math_verifier.json"
BEFORE = Path(__file__).parent / "results" / "math_table_v2_v3.json"
V3_KINDS = ("separators", "answer_sentence", "bare_latex", "chains", "decimals_vs_exact", "relations_vs_sets",
            "several_boxed", "labelled", "matrix_arithmetic", "units_percent_text", "slow_forms", "more_formats")


def kinds_table(comparison: dict, before: dict | None) -> list[str]:
    """Per kind: cases, right/wrong for the earlier verifier (if given), this one and Math-Verify."""
    lines = ["| kind | cases (right answers) | v2 right / wrong (ERROR) | v3 right / wrong | Math-Verify right / wrong |",
             "|---|---|---|---|---|"]
    for kind, row in comparison["by_kind"].items():
        theirs = row.get("math_verify", {})
        earlier = (before or {}).get("before", {}).get(kind)
        then = f"{earlier.get('right', 0)} / {earlier.get('wrong', 0)} ({earlier.get('errors', 0)})" if earlier else "-"
        name = f"{kind} (v3)" if kind in V3_KINDS else kind
        lines.append(f"| {name} | {row['cases']} ({row['positive']}) | {then} | {row['ours']['right']} / "
                     f"{row['ours']['wrong']} | {theirs.get('right', '-')} / {theirs.get('wrong', '-')} |")
    return lines


def agreement_table(comparison: dict) -> list[str]:
    lines = ["| grader, cases | agree with labels | precision | recall | false positives | misses |",
             "|---|---|---|---|---|---|"]
    for scope, key in (("all", "agreement"), ("v3 kinds", "agreement_v3_kinds")):
        for name, row in comparison[key].items():
            lines.append(f"| {name}, {scope} | {row['agree']}/{row['of']} ({row['rate']:.3f}) | {row['precision']:.4f} "
                         f"| {row['recall']:.4f} | {row['false_positives']} | {row['misses']} |")
    return lines


def speed_table(part: dict, label: str) -> list[str]:
    lines = [f"| {label} | ours, answers/s (min-max) | Math-Verify, answers/s (min-max) | speed-up per round, median (min-max) |",
             "|---|---|---|---|"]
    for mode in ("single", "batch"):
        ours, theirs = part["rates"].get(f"ours_{mode}"), part["rates"].get(f"math_verify_{mode}")
        ratio = part["speedup"].get(mode)
        if not (ours and theirs and ratio):
            continue
        lines.append(f"| {'one at a time' if mode == 'single' else 'batched, 2 processes each'} "
                     f"| {ours['answers_per_second_median']} ({ours['answers_per_second_min']}-"
                     f"{ours['answers_per_second_max']}) | {theirs['answers_per_second_median']} "
                     f"({theirs['answers_per_second_min']}-{theirs['answers_per_second_max']}) "
                     f"| {ratio['median']}x ({ratio['min']}-{ratio['max']}) |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--before", type=Path, default=BEFORE, help="math_table_by_version.py's results")
    args = parser.parse_args(argv)
    report = json.loads(args.results.read_text())
    before = json.loads(args.before.read_text()) if args.before.exists() else None
    comparison = report["comparison"]
    blocks = [kinds_table(comparison, before), agreement_table(comparison),
              speed_table(comparison, f"the table, {comparison['items']} cases")]
    if "real_outputs" in report:
        real = report["real_outputs"]
        blocks.append(speed_table(real, f"real outputs, {real['items']}"))
    print("\n\n".join("\n".join(block) for block in blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
