"""Cold start: seconds from the command to the first answer of `reasoner solve --limit 1`.

Run: python benchmarks/bench_startup.py [--runs 5] [--model tiny] [--code LABEL=PATH ...]
         [--out benchmarks/results/startup.json]

Each run is a new process (`python -m reasoner.cli solve --dataset arith
--limit 1 --json`, first problem of the arith test split) with each `--code`
checkout first on PYTHONPATH, so one run times an older checkout (the
"before" figure, e.g. `git archive <commit> | tar -x -C /tmp/before`) and
this one (default: `after=.`), alternating between them run by run. The clock starts just before the process is
created and stops when the summary line (printed once the one problem is
solved and graded) arrives on stdout; the process's exit is timed too. Runs
are one after another, never overlapping; the median of `--runs` per
checkout is kept, with every run listed.

The machine is shared with other agents' engines: compare figures measured
close together, and read the spread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import write_results


def one_run(code_root: Path, model: str) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(code_root.resolve())}
    command = [sys.executable, "-m", "reasoner.cli", "solve", "--dataset", "arith", "--limit", "1",
               "--model", model, "--json"]
    load = os.getloadavg()[0]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=code_root, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    answered = None
    for line in process.stdout:
        if line.startswith("{") and answered is None:
            answered = time.perf_counter() - started
            summary = json.loads(line)
    process.wait()
    exited = time.perf_counter() - started
    if process.returncode != 0 or answered is None:
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode} and no summary")
    return {"first_answer_s": round(answered, 2), "exit_s": round(exited, 2), "solved": summary.get("problems"),
            "load_1min": round(load, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--code", action="append", default=[], help="LABEL=PATH of a checkout to time")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/startup.json"))
    parser.add_argument("--note", default="2-core machine", help="what else the machine was doing")
    args = parser.parse_args()
    roots = dict(item.split("=", 1) for item in args.code) or {"after": "."}
    runs: dict[str, list] = {label: [] for label in roots}
    for index in range(args.runs):
        for label, root in roots.items():
            runs[label].append(one_run(Path(root), args.model))
            print(f"run {index + 1} {label}: {runs[label][-1]}", flush=True)
            write_report(args, roots, runs)  # after every run: a slow machine may not allow all of them
    print(args.out.read_text())


def write_report(args: argparse.Namespace, roots: dict[str, str], runs: dict[str, list]) -> None:
    report = {"command": "python -m reasoner.cli solve --dataset arith --limit 1 --json (first arith test problem)",
              "model": args.model,
              "note": f"cold processes one after another, checkouts alternating; {args.note}; each run lists the "
                      "1-minute load average at its start"}
    for label, root in roots.items():
        if not runs[label]:
            continue
        report[label] = {"code_root": root, "runs": runs[label],
                         "median_first_answer_s": statistics.median(r["first_answer_s"] for r in runs[label]),
                         "median_exit_s": statistics.median(r["exit_s"] for r in runs[label])}
    write_results(args.out, report)


if __name__ == "__main__":
    main()
