"""Throughput of the math verifier: answers verified per second.

Measures `MathVerifier.verify` one call at a time and `verify_batch` over the
whole workload, each with an empty cache (cache disabled) and a warm cache
(second pass over the same items), plus `cluster` on self-consistency-sized
groups. Worker start-up is timed separately and excluded from the rates.

Run: python benchmarks/bench_math_verifier.py [--items N] [--repeats R]
Writes benchmarks/results/math_verifier.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).parent / "results" / "math_verifier.json"


def workload(n: int) -> list[tuple[str, str]]:
    """Mixed items; two templates in eight are decided without sympy, one is wrong."""
    templates: list[Callable[[int], tuple[str, str]]] = [
        lambda k: (f"so she pays {k} dollars.\n#### {k:,}", f"#### {k}"),
        lambda k: (rf"We get $\boxed{{\frac{{{k}}}{{{k + 1}}}}}$.", f"{k / (k + 1):.8f}"),
        lambda k: (rf"Hence \boxed{{2(x+{k})}}", f"2x+{2 * k}"),
        lambda k: (rf"The answer is ${k}\sqrt{{2}}$.", rf"\sqrt{{{2 * k * k}}}"),
        lambda k: (rf"\boxed{{({k}, {k + 2}]}}", rf"\left({k},{k + 2}\right]"),
        lambda k: (rf"\boxed{{y = {k}x + 1}}", rf"{k}x - y + 1 = 0"),
        lambda k: (rf"\boxed{{{k}\%}}", f"{k / 100}"),
        lambda k: (rf"\boxed{{\frac{{{k}}}{{3}}}}", rf"\frac{{{k + 1}}}{{3}}"),  # wrong on purpose
    ]
    return [templates[i % len(templates)](i // len(templates) + 2) for i in range(n)]


def rate(n: int, seconds: float) -> dict[str, float]:
    return {"seconds": round(seconds, 4), "answers_per_second": round(n / seconds, 1)}


def timed(action: Callable[[], object], repeats: int = 1) -> float:
    """Median wall time of `repeats` runs: the machine may be shared."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def run(n: int, repeats: int) -> dict:
    from verifiers.math import MathVerifier

    items = workload(n)
    results: dict[str, dict] = {}
    with MathVerifier(cache_size=0) as uncached, MathVerifier() as cached:
        results["startup"] = {"seconds": round(timed(lambda: uncached.verify(r"\boxed{\frac12}", "0.5")), 3)}
        cached.verify(r"\boxed{\frac12}", "0.5")
        results["single_uncached"] = rate(n, timed(lambda: [uncached.verify(p, r) for p, r in items], repeats))
        results["batch_uncached"] = rate(n, timed(lambda: uncached.verify_batch(items), repeats))
        statuses = Counter(v.status.value for v in uncached.verify_batch(items))
        cached.verify_batch(items)  # fill the cache
        results["single_cached"] = rate(n, timed(lambda: [cached.verify(p, r) for p, r in items], repeats))
        results["batch_cached"] = rate(n, timed(lambda: cached.verify_batch(items), repeats))
        results["cluster_64_uncached"] = cluster_rate(uncached, repeats)
        results["cache"] = cached.cache_info()._asdict()
        workers = cached.workers
    return {"machine": machine(), "workers": workers, "items": n, "repeats": repeats, "statuses": statuses,
            "note": "2 in 8 items are decided without a worker (plain integers; strings equal after "
                    "normalisation); 1 in 8 is wrong on purpose",
            "results": results}


def cluster_rate(verifier, repeats: int) -> dict[str, float]:
    """`cluster` over groups of 64 answers: 6 distinct values, each spelled 4 ways."""
    def spelling(value: int, j: int) -> str:
        return [f"{value}", rf"\frac{{{2 * value}}}{{2}}", f"{value}.0", f"x={value}"][j % 4]

    groups = [[spelling(k + j % 6, j // 6) for j in range(64)] for k in range(5)]
    seconds = timed(lambda: [verifier.cluster(g) for g in groups], repeats)
    return {"groups": len(groups), **rate(64 * len(groups), seconds)}


def machine() -> dict[str, object]:
    import sympy

    return {"cpus": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
            "python": platform.python_version(), "sympy": sympy.__version__, "platform": platform.platform()}


def print_table(report: dict) -> None:
    print(f"{report['items']} items, {report['workers']} workers, {report['machine']['cpus']} CPUs, "
          f"load {report['machine']['load_average_1min']}, median of {report['repeats']}")
    print(f"{'mode':<22}{'seconds':>10}{'answers/s':>12}")
    for mode, row in report["results"].items():
        if "answers_per_second" in row:
            print(f"{mode:<22}{row['seconds']:>10.3f}{row['answers_per_second']:>12.1f}")
    print(f"{'startup':<22}{report['results']['startup']['seconds']:>10.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400, help="number of (prediction, reference) pairs")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode; the median is kept")
    args = parser.parse_args(argv)
    report = run(args.items, args.repeats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
