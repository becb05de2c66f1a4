"""Throughput and agreement of the math verifier, side by side with Math-Verify.

Two parts, in one run:

1. `results` (the figures this file always gave): `MathVerifier.verify` one
   call at a time and `verify_batch` over a templated workload, each with the
   cache disabled and warm, plus `cluster` on self-consistency-sized groups.
   Worker start-up is timed separately and excluded from the rates.
2. `comparison`: the verifier's table (`tests/verifiers/math_cases.py`, every
   kind, positive and negative, whole model outputs) graded by this verifier
   and by Math-Verify (Hugging Face's grader) on the same inputs: answers/s
   uncached, one at a time and batched (2 worker processes on each side),
   in alternating rounds, median and spread reported; and agreement of each
   with the table's labels, with every item where they disagree listed (the
   label says who is right). Math-Verify runs in its own virtual environment
   through `benchmarks/mathverify_runner.py`; skip it with --no-math-verify.

Set up Math-Verify (not a project dependency):
    python -m venv /work/venv-mathverify && /work/venv-mathverify/bin/pip install math-verify==0.9.0

Run: PYTHONPATH=. python benchmarks/bench_math_verifier.py [--items N] [--repeats R]
     [--math-verify-python /work/venv-mathverify/bin/python]
Writes benchmarks/results/math_verifier.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

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
    from reasoner.verifiers.math import MathVerifier

    items = workload(n)
    results: dict[str, dict] = {}
    with MathVerifier(cache_size=0) as uncached, MathVerifier() as cached:
        warm = (r"\boxed{\frac{\sqrt{2}}{2}}", r"\frac{1}{\sqrt{2}}")  # needs a worker: times its start
        results["startup"] = {"seconds": round(timed(lambda: uncached.verify(*warm)), 3)}
        cached.verify(*warm)
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
            "note": "since v2, 5 in 8 templates are decided without a worker (simple numbers, fractions and "
                    "x = n are compared in the calling process; before v2 it was 2 in 8), so these rates "
                    "are not comparable with the pre-v2 figures; the cluster groups are all simple numbers "
                    "now; 1 in 8 items is wrong on purpose",
            "results": results}


def compare(rounds: int, math_verify_python: str | None, workers: int = 2) -> dict:
    """Ours and Math-Verify on the table, alternating sides each round."""
    from tests.verifiers.math_cases import CASES
    from reasoner.verifiers.math import MathVerifier

    items = [(case.output, case.reference) for case in CASES]
    labels = [case.correct for case in CASES]
    times: dict[str, list[float]] = {}
    verdicts: dict[str, list[bool]] = {}
    with MathVerifier(cache_size=0, workers=workers) as ours:
        ours.verify(r"\boxed{\frac12}", "0.5")  # start the workers outside the timing
        for _ in range(rounds):
            for mode in ("single", "batch"):
                started = time.perf_counter()
                graded = [ours.verify(p, r) for p, r in items] if mode == "single" else ours.verify_batch(items)
                times.setdefault(f"ours_{mode}", []).append(time.perf_counter() - started)
                verdicts["ours"] = [v.correct for v in graded]
                if math_verify_python:
                    seconds, correct = math_verify_run(math_verify_python, items, mode, workers)
                    times.setdefault(f"math_verify_{mode}", []).append(seconds)
                    verdicts["math_verify"] = correct
    return {"items": len(items), "rounds": rounds, "workers_each_side": workers,
            "inputs": "tests/verifiers/math_cases.py (the verifier's own table; written for it, so its "
                      "agreement with the labels is 1.0 by construction and says little; Math-Verify's says "
                      "where it differs on these kinds)",
            "math_verify": math_verify_version(math_verify_python) if math_verify_python else None,
            "rates": {name: spread(len(items), values) for name, values in times.items()},
            "speedup": speedups(times),
            "agreement": {name: agreement(found, labels) for name, found in verdicts.items()},
            "disagreements": disagreements(CASES, verdicts)}


def math_verify_version(python: str) -> str:
    done = subprocess.run([python, "-c", "import importlib.metadata as m; print(m.version('math-verify'), "
                           "m.version('latex2sympy2_extended'), m.version('antlr4-python3-runtime'))"],
                          capture_output=True, text=True, timeout=120)
    names = ("math-verify", "latex2sympy2_extended", "antlr4-python3-runtime")
    return ", ".join(f"{n} {v}" for n, v in zip(names, done.stdout.split()))


def math_verify_run(python: str, items: list, mode: str, workers: int) -> tuple[float, list[bool]]:
    runner = Path(__file__).with_name("mathverify_runner.py")
    job = json.dumps({"items": [[p, str(r)] for p, r in items], "mode": mode, "workers": workers})
    done = subprocess.run([python, str(runner)], input=job, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"Math-Verify runner failed: {done.stderr[-2000:]}")
    answer = json.loads(done.stdout)
    return answer["seconds"], answer["correct"]


def spread(n: int, seconds: list[float]) -> dict[str, float]:
    rates = sorted(n / s for s in seconds)
    return {"answers_per_second_median": round(statistics.median(rates), 1),
            "answers_per_second_min": round(rates[0], 1), "answers_per_second_max": round(rates[-1], 1),
            "seconds_median": round(statistics.median(seconds), 3)}


def speedups(times: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Per-round ratios of Math-Verify's time to ours (same round, so the same machine load)."""
    out = {}
    for mode in ("single", "batch"):
        ours, theirs = times.get(f"ours_{mode}"), times.get(f"math_verify_{mode}")
        if ours and theirs:
            ratios = sorted(t / o for o, t in zip(ours, theirs))
            out[mode] = {"median": round(statistics.median(ratios), 2), "min": round(ratios[0], 2),
                         "max": round(ratios[-1], 2)}
    return out


def agreement(found: list[bool], labels: list[bool]) -> dict[str, float]:
    right = sum(f == label for f, label in zip(found, labels))
    false_positives = sum(f and not label for f, label in zip(found, labels))
    return {"agree": right, "of": len(labels), "rate": round(right / len(labels), 4),
            "false_positives": false_positives, "misses": sum(label and not f for f, label in zip(found, labels))}


def disagreements(cases, verdicts: dict[str, list[bool]]) -> list[dict]:
    """Every item where a grader differs from the label (or the two graders differ)."""
    rows = []
    for index, case in enumerate(cases):
        found = {name: values[index] for name, values in verdicts.items()}
        if any(value != case.correct for value in found.values()):
            right = [name for name, value in found.items() if value == case.correct]
            rows.append({"index": index, "kind": case.kind, "reference": str(case.reference),
                         "output_tail": case.output[-160:], "label": case.correct, **found,
                         "right": right or ["neither"]})
    return rows


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
    comparison = report.get("comparison")
    if comparison:
        print(f"\ntable of {comparison['items']} cases, {comparison['rounds']} alternating rounds")
        for name, row in comparison["rates"].items():
            print(f"{name:<22}{row['answers_per_second_median']:>10.1f} answers/s "
                  f"({row['answers_per_second_min']}-{row['answers_per_second_max']})")
        for mode, row in comparison["speedup"].items():
            print(f"speed-up {mode:<13}{row['median']:>10.2f}x ({row['min']}-{row['max']})")
        for name, row in comparison["agreement"].items():
            print(f"agreement {name:<12}{row['agree']:>6}/{row['of']} = {row['rate']:.3f}, "
                  f"false positives {row['false_positives']}, misses {row['misses']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400, help="number of (prediction, reference) pairs")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode; the median is kept")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the side-by-side comparison")
    parser.add_argument("--math-verify-python", default="/work/venv-mathverify/bin/python",
                        help="interpreter with math-verify installed")
    parser.add_argument("--no-math-verify", action="store_true", help="grade the table with this verifier only")
    args = parser.parse_args(argv)
    report = run(args.items, args.repeats)
    python = None if args.no_math_verify else args.math_verify_python
    report["comparison"] = compare(args.rounds, python)
    report["machine_after"] = machine()
    report["shared_machine_note"] = ("the machine was shared with other agents' vLLM engines and tests; compare "
                                     "sides by the per-round ratios in comparison.speedup, not by absolute rates")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print_table(report)
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
