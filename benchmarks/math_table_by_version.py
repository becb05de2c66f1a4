"""The math verifier's table graded by another installed version of the verifier (before/after counts).

Grades every case of this tree's `tests/verifiers/math_cases.py` with the
`reasoner` that a given interpreter imports (for example the main branch's
venv, i.e. verifier v2), and with this tree's, and writes per-kind right/wrong
counts of both, so the v3 kinds show what the earlier verifier got wrong.
Accuracy only: no timing.

Run: python benchmarks/math_table_by_version.py --before-python /work/main/.venv/bin/python
     [--before-cwd /work/main] [--out benchmarks/results/math_table_v2_v3.json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from measure import REPO, math_cases, write_results

OUT = Path(__file__).parent / "results" / "math_table_v2_v3.json"
GRADER = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("math_cases", sys.argv[1])
cases = importlib.util.module_from_spec(spec); spec.loader.exec_module(cases)
from reasoner.verifiers.math import MathVerifier
with MathVerifier(timeout=30.0, workers=2) as verifier:
    verdicts = [verifier.verify(c.output, c.reference) for c in cases.CASES]
print(json.dumps([[v.status.value, v.correct] for v in verdicts]))
"""


def grade(python: str, cwd: Path) -> list[list]:
    done = subprocess.run([python, "-c", GRADER, str(REPO / "tests" / "verifiers" / "math_cases.py")], cwd=cwd,
                          capture_output=True, text=True, timeout=7200)
    if done.returncode != 0:
        raise SystemExit(f"grading with {python} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def counts(cases, graded: list[list]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter] = {}
    for case, (status, correct) in zip(cases, graded):
        row = table.setdefault(case.kind, Counter())
        row["right" if correct == case.correct else "wrong"] += 1
        row["false_positives"] += correct and not case.correct
        row["errors"] += status == "error"
    return {kind: dict(row) for kind, row in table.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before-python", required=True, help="interpreter whose `reasoner` is the earlier version")
    parser.add_argument("--before-cwd", type=Path, default=None, help="working directory for it (its repository)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    table = math_cases()
    cases, v3_kinds = table.cases, table.v3_kinds

    before = grade(args.before_python, args.before_cwd or REPO)
    after = grade(sys.executable, REPO)
    report = {"cases": len(cases), "before_python": args.before_python, "after_python": sys.executable,
              "before": counts(cases, before), "after": counts(cases, after), "v3_kinds": list(v3_kinds)}
    for name in ("before", "after"):
        graded = before if name == "before" else after
        in_v3 = [(c, g) for c, g in zip(cases, graded) if c.kind in v3_kinds]
        report[f"{name}_v3_right"] = sum(g[1] == c.correct for c, g in in_v3)
        report[f"{name}_v3_errors"] = sum(g[0] == "error" for _, g in in_v3)
        report[f"{name}_right"] = sum(g[1] == c.correct for c, g in zip(cases, graded))
    report["v3_cases"] = sum(c.kind in v3_kinds for c in cases)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    print(f"before: {report['before_right']}/{len(cases)} (v3 kinds {report['before_v3_right']}/{report['v3_cases']}, "
          f"{report['before_v3_errors']} errors); after: {report['after_right']}/{len(cases)} "
          f"(v3 kinds {report['after_v3_right']}/{report['v3_cases']}, {report['after_v3_errors']} errors)")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
