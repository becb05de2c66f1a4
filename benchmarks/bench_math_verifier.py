"""Throughput and agreement of the math verifier, side by side with Math-Verify.

Three parts, in one run:

1. `results` (the figures this file always gave): `MathVerifier.verify` one
   call at a time and `verify_batch` over a templated workload, each with the
   cache disabled and warm, plus `cluster` on self-consistency-sized groups.
   Worker start-up is timed separately and excluded from the rates.
2. `comparison`: the verifier's table (`tests/verifiers/math_cases.py`, every
   kind, positive and negative, whole model outputs) graded by this verifier
   and by Math-Verify (Hugging Face's grader) on the same inputs: answers/s
   uncached, one at a time and batched (2 worker processes on each side),
   in alternating rounds, median and spread reported; agreement of each with
   the table's labels, precision and recall, and the same counts per kind
   (the v3 kinds are issue #31's classes); the seconds of each `slow_forms`
   item graded alone; and every item where they disagree (the label says who
   is right).
3. `real_outputs`: the same speed comparison on real model outputs
   (`benchmarks/data/math_outputs.jsonl.gz`, built by
   `benchmarks/make_math_outputs.py` from the bundled models', SmolLM2's and
   the GSM8K-format reference solutions), with how often the two graders
   agree and every output where they do not (these have no labels).

Math-Verify runs in its own virtual environment through
`benchmarks/mathverify_runner.py`; skip it with --no-math-verify.

Set up Math-Verify (not a project dependency):
    python -m venv /work/venv-mathverify && /work/venv-mathverify/bin/pip install math-verify==0.9.0

Run (figures for the README: alone on the machine):
    heavy --alone .venv/bin/python benchmarks/bench_math_verifier.py [--items N] [--repeats R] [--rounds K]
        [--math-verify-python /work/venv-mathverify/bin/python] [--outputs FILE.jsonl.gz]
Writes benchmarks/results/math_verifier.json and prints a table.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from measure import machine, math_cases, write_results

RESULTS = Path(__file__).parent / "results" / "math_verifier.json"
OUTPUTS = Path(__file__).parent / "data" / "math_outputs.jsonl.gz"


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
    return {"machine": machine_now(), "workers": workers, "items": n, "repeats": repeats, "statuses": statuses,
            "note": "since v2, 5 in 8 templates are decided without a worker (simple numbers, fractions and "
                    "x = n are compared in the calling process; before v2 it was 2 in 8), so these rates "
                    "are not comparable with the pre-v2 figures; the cluster groups are all simple numbers "
                    "now; 1 in 8 items is wrong on purpose",
            "results": results}


def compare(rounds: int, math_verify_python: str | None, workers: int = 2) -> dict:
    """Ours and Math-Verify on the table, alternating sides each round."""
    table = math_cases()
    cases, v3_kinds = table.cases, table.v3_kinds

    items = [(case.output, case.reference) for case in cases]
    labels = [case.correct for case in cases]
    times, verdicts = race(items, rounds, math_verify_python, workers)
    return {"items": len(items), "rounds": rounds, "workers_each_side": workers,
            "inputs": "tests/verifiers/math_cases.py (the verifier's own table, v2's 390 cases written with the "
                      "verifier and v3's cases written for issue #31 before the fixes; Math-Verify's agreement "
                      "says where it differs on these kinds)",
            "math_verify": math_verify_version(math_verify_python) if math_verify_python else None,
            "rates": {name: spread(len(items), values) for name, values in times.items()},
            "speedup": speedups(times),
            "agreement": {name: agreement(found, labels) for name, found in verdicts.items()},
            "agreement_v3_kinds": {name: agreement(*zip(*[(f, c.correct) for f, c in zip(found, cases)
                                                          if c.kind in v3_kinds])) for name, found in verdicts.items()},
            "by_kind": by_kind(cases, verdicts),
            "ours_statuses": dict(Counter(statuses_of(items, workers))),
            "slow_forms_seconds": slow_forms_seconds(cases),
            "disagreements": disagreements(cases, verdicts)}


def race(items: list, rounds: int, math_verify_python: str | None, workers: int) -> tuple[dict, dict]:
    """Per-round wall times and last verdicts of both graders, one at a time and batched, sides alternating.

    Each round and mode starts fresh on both sides (Math-Verify: a new process or pool; ours: a new
    verifier with new workers), warmed by one item outside the timing, so neither keeps what sympy
    cached from the round before."""
    times: dict[str, list[float]] = {}
    verdicts: dict[str, list[bool]] = {}
    for _ in range(rounds):
        for mode in ("single", "batch"):
            seconds, verdicts["ours"] = ours_run(items, mode, workers)
            times.setdefault(f"ours_{mode}", []).append(seconds)
            if math_verify_python:
                seconds, verdicts["math_verify"] = math_verify_run(math_verify_python, items, mode, workers)
                times.setdefault(f"math_verify_{mode}", []).append(seconds)
    return times, verdicts


def ours_run(items: list, mode: str, workers: int) -> tuple[float, list[bool]]:
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(cache_size=0, workers=workers) as ours:
        ours.verify(r"\boxed{\sqrt{2}}", r"\sqrt{2}+0")  # starts every worker, outside the timing
        started = time.perf_counter()
        graded = [ours.verify(p, r) for p, r in items] if mode == "single" else ours.verify_batch(items)
        return time.perf_counter() - started, [v.correct for v in graded]


def statuses_of(items: list, workers: int) -> list[str]:
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(cache_size=0, workers=workers) as ours:
        return [v.status.value for v in ours.verify_batch(items)]


def slow_forms_seconds(cases) -> dict[str, float]:
    """Each `slow_forms` case graded alone (uncached, warm workers, default 5 s limit): its wall seconds."""
    from reasoner.verifiers.math import MathVerifier

    slow = [c for c in cases if c.kind == "slow_forms"]
    with MathVerifier(cache_size=0, workers=1) as ours:
        ours.verify(r"\boxed{\sqrt2}", r"\sqrt{2}+0")
        seconds = sorted(timed(lambda c=c: ours.verify(c.output, c.reference)) for c in slow)
    return {"cases": len(slow), "median": round(statistics.median(seconds), 3), "max": round(seconds[-1], 3),
            "time_limit": 5.0}


def by_kind(cases, verdicts: dict[str, list[bool]]) -> dict[str, dict]:
    """Per kind: cases, positives, and each grader's right/wrong counts, false positives and misses."""
    table: dict[str, dict] = {}
    for index, case in enumerate(cases):
        row = table.setdefault(case.kind, {"cases": 0, "positive": 0})
        row["cases"] += 1
        row["positive"] += case.correct
        for name, found in verdicts.items():
            counts = row.setdefault(name, {"right": 0, "wrong": 0, "false_positives": 0, "misses": 0})
            right = found[index] == case.correct
            counts["right" if right else "wrong"] += 1
            counts["false_positives"] += found[index] and not case.correct
            counts["misses"] += case.correct and not found[index]
    return table


def real_outputs(path: Path, rounds: int, math_verify_python: str | None, workers: int = 2) -> dict:
    """Speed and agreement of both graders on real model outputs (no labels)."""
    rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
    items = [(row["output"], row["reference"]) for row in rows]
    times, verdicts = race(items, rounds, math_verify_python, workers)
    report = {"file": str(path), "items": len(items), "rounds": rounds, "workers_each_side": workers,
              "sources": dict(Counter(row["source"] for row in rows)),
              "rates": {name: spread(len(items), values) for name, values in times.items()},
              "speedup": speedups(times),
              "ours_correct": sum(verdicts["ours"]),
              "ours_statuses": dict(Counter(statuses_of(items, workers)))}
    if "math_verify" in verdicts:
        pairs = list(zip(verdicts["ours"], verdicts["math_verify"]))
        report["math_verify_correct"] = sum(verdicts["math_verify"])
        report["agree"] = sum(a == b for a, b in pairs)
        report["disagreements"] = [{"source": row["source"], "problem_id": row["problem_id"],
                                    "reference": row["reference"], "output_tail": row["output"][-200:],
                                    "ours": a, "math_verify": b}
                                   for row, (a, b) in zip(rows, pairs) if a != b]
    return report


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


def agreement(found, labels) -> dict[str, float]:
    """Agreement with the labels, with precision and recall (a positive is an answer graded right)."""
    right = sum(f == label for f, label in zip(found, labels))
    true_positives = sum(f and label for f, label in zip(found, labels))
    false_positives = sum(f and not label for f, label in zip(found, labels))
    misses = sum(label and not f for f, label in zip(found, labels))
    return {"agree": right, "of": len(labels), "rate": round(right / len(labels), 4),
            "false_positives": false_positives, "misses": misses,
            "precision": round(true_positives / max(true_positives + false_positives, 1), 4),
            "recall": round(true_positives / max(true_positives + misses, 1), 4)}


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


def machine_now() -> dict[str, object]:
    """The shared machine description, with the keys this report has always had (1-min load, sympy)."""
    now = machine()
    return {**now, "load_average_1min": now["load_average"][0], "sympy": now["versions"].get("sympy")}


def print_table(report: dict) -> None:
    print(f"{report['items']} items, {report['workers']} workers, {report['machine']['cpus']} CPUs, "
          f"load {report['machine']['load_average_1min']}, median of {report['repeats']}")
    print(f"{'mode':<22}{'seconds':>10}{'answers/s':>12}")
    for mode, row in report["results"].items():
        if "answers_per_second" in row:
            print(f"{mode:<22}{row['seconds']:>10.3f}{row['answers_per_second']:>12.1f}")
    print(f"{'startup':<22}{report['results']['startup']['seconds']:>10.3f}")
    for part in ("comparison", "real_outputs"):
        found = report.get(part)
        if not found:
            continue
        print(f"\n{part}: {found['items']} items, {found['rounds']} alternating rounds")
        for name, row in found["rates"].items():
            print(f"{name:<22}{row['answers_per_second_median']:>10.1f} answers/s "
                  f"({row['answers_per_second_min']}-{row['answers_per_second_max']})")
        for mode, row in found["speedup"].items():
            print(f"speed-up {mode:<13}{row['median']:>10.2f}x ({row['min']}-{row['max']})")
        for name, row in found.get("agreement", {}).items():
            print(f"agreement {name:<12}{row['agree']:>6}/{row['of']} = {row['rate']:.3f}, "
                  f"precision {row['precision']:.4f}, recall {row['recall']:.4f}, "
                  f"false positives {row['false_positives']}, misses {row['misses']}")
    comparison = report.get("comparison")
    if comparison:
        print(f"\n{'kind':<22}{'cases':>6}{'pos':>5}  ours right/wrong  Math-Verify right/wrong")
        for kind, row in comparison["by_kind"].items():
            theirs = row.get("math_verify", {})
            print(f"{kind:<22}{row['cases']:>6}{row['positive']:>5}  {row['ours']['right']:>5}/{row['ours']['wrong']:<5}"
                  f"       {theirs.get('right', '-'):>5}/{theirs.get('wrong', '-')}")
        print(f"slow_forms seconds each: {comparison['slow_forms_seconds']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=400, help="number of (prediction, reference) pairs")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per mode; the median is kept")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of the side-by-side comparisons")
    parser.add_argument("--math-verify-python", default="/work/venv-mathverify/bin/python",
                        help="interpreter with math-verify installed")
    parser.add_argument("--no-math-verify", action="store_true", help="grade with this verifier only")
    parser.add_argument("--outputs", type=Path, default=OUTPUTS, help="real-output corpus (gzip JSONL)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    report = run(args.items, args.repeats)
    python = None if args.no_math_verify else args.math_verify_python
    report["comparison"] = compare(args.rounds, python)
    if args.outputs.exists():
        report["real_outputs"] = real_outputs(args.outputs, args.rounds, python)
    report["machine_after"] = machine_now()
    report["command"] = "heavy --alone .venv/bin/python benchmarks/bench_math_verifier.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    print_table(report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
