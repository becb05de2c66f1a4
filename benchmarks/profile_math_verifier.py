"""Where the math verifier's time goes on ordinary answers: cProfile of `verify`, one call at a time.

Grades the real-output corpus (`benchmarks/data/math_outputs.jsonl.gz`: the
bundled models' and SmolLM2's outputs, mostly boxed numbers) with the
equivalence cache off, once to time it and once under cProfile, and writes the
rate and the functions with the most cumulative time. Run it with another
interpreter to profile another installed version (the main branch's venv is
verifier v2): the figures of both are what the fast path was built from.

Run: python benchmarks/profile_math_verifier.py [--outputs FILE] [--limit N] [--top 25]
     [--out benchmarks/results/math_verifier_profile.json]
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import io
import json
import os
import pstats
import sys
import time
from pathlib import Path

OUTPUTS = Path(__file__).parent / "data" / "math_outputs.jsonl.gz"
OUT = Path(__file__).parent / "results" / "math_verifier_profile.json"


def top_functions(profile: cProfile.Profile, top: int) -> list[dict]:
    stats = pstats.Stats(profile, stream=io.StringIO())
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.stats.items():
        rows.append({"function": f"{Path(path).name}:{line}({name})", "calls": calls,
                     "own_seconds": round(own, 4), "cumulative_seconds": round(cumulative, 4)})
    return sorted(rows, key=lambda r: -r["cumulative_seconds"])[:top]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outputs", type=Path, default=OUTPUTS)
    parser.add_argument("--limit", type=int, default=None, help="grade only the first N outputs")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--label", default="this tree", help="what is profiled, for the results file")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from reasoner.verifiers.math import MathVerifier

    rows = [json.loads(line) for line in gzip.open(args.outputs, "rt", encoding="utf-8")][:args.limit]
    items = [(row["output"], row["reference"]) for row in rows]
    with MathVerifier(cache_size=0) as verifier:
        verifier.verify(r"\boxed{\sqrt{2}}", r"\sqrt{2}+0")  # start the workers outside the timing
        started = time.perf_counter()
        for prediction, reference in items:
            verifier.verify(prediction, reference)
        seconds = time.perf_counter() - started
        profile = cProfile.Profile()
        profile.enable()
        for prediction, reference in items:
            verifier.verify(prediction, reference)
        profile.disable()
    report = {"label": args.label, "python": sys.executable, "items": len(items), "seconds": round(seconds, 3),
              "answers_per_second": round(len(items) / seconds, 1), "load_average_1min": round(os.getloadavg()[0], 2),
              "top_cumulative": top_functions(profile, args.top)}
    results = json.loads(args.out.read_text()) if args.out.exists() else {}
    results[args.label] = report
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"{args.label}: {report['answers_per_second']} answers/s one at a time over {len(items)} outputs")
    for row in report["top_cumulative"][:12]:
        print(f"{row['cumulative_seconds']:>8.3f}s {row['calls']:>8} {row['function']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
