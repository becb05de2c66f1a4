"""Math-Verify's side of `bench_math_verifier.py`, run in Math-Verify's own virtual environment.

Reads a JSON job on stdin: {"items": [[output, reference], ...], "mode":
"single" | "batch", "workers": N} and prints {"seconds": ..., "correct":
[bool, ...]}. `single` grades one item at a time in this process; `batch`
spreads the items over N worker processes (Math-Verify has no batch API, and
its time limits use signals, which work in a process's main thread only).
Each reference is read with `parse(reference)`, or `parse("$reference$")`
when that finds nothing; each output with `parse(output)`; then
`verify(gold, answer)` with Math-Verify's defaults. Timing covers grading
only, after one warm-up item.

Set up (not a project dependency):
    python -m venv /work/venv-mathverify
    /work/venv-mathverify/bin/pip install math-verify==0.9.0
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def grade(item: list) -> bool:
    from math_verify import parse, verify

    output, reference = item
    gold = parse(str(reference))
    if not gold:
        gold = parse(f"${reference}$")
    return bool(verify(gold, parse(output)))


def grade_chunk(items: list) -> list[bool]:
    return [grade(item) for item in items]


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__.splitlines()[0],
                            epilog="The job comes on stdin and the answer goes to stdout.").parse_args(argv)
    job = json.load(sys.stdin)
    items, workers = job["items"], job.get("workers", 2)
    grade([r"\boxed{1}", "1"])
    if job["mode"] == "single":
        started = time.perf_counter()
        correct = [grade(item) for item in items]
        seconds = time.perf_counter() - started
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(grade_chunk, [[[r"\boxed{1}", "1"]]] * workers))  # start and warm the workers
            chunks = [items[i::workers] for i in range(workers)]
            started = time.perf_counter()
            graded = list(pool.map(grade_chunk, chunks))
            seconds = time.perf_counter() - started
        correct = [None] * len(items)
        for offset, chunk in enumerate(graded):
            correct[offset::workers] = chunk
    json.dump({"seconds": seconds, "correct": correct}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
