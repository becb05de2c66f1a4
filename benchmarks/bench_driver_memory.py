"""Driver memory of a solve job as it grows, with records the size of a real self-consistency job.

    python benchmarks/bench_driver_memory.py [--sizes 500,5000] [--out benchmarks/results/driver_memory.json]

The subject is the driver: the one runner (`reasoner.jobs.runner.run_job`), its JSONL record store
and the streaming job summary. Each record is the size of self-consistency with n=16 and 160-token
candidates (16 candidates of 160 token ids and about 600 characters each, plus votes and grading by the
real math verifier). The candidates come from `RealisticGenerator`, a stand-in for the engine that
returns such candidates at once: the engine's memory is not the driver's, and generating 5,000 x 16 x
160 tokens on this CPU would take hours. Each size runs in its own process; peak RSS is sampled every
20 ms. The result file names the settings and the machine.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

import psutil
from measure import machine, peak_rss_mb, write_results

N = 16
TOKENS = 160


class RealisticGenerator:
    """Returns n candidates of `TOKENS` tokens each: arith-style solution text ending in a boxed answer."""

    def __init__(self) -> None:
        from reasoner.engine.generation import ModelInfo

        self._info = ModelInfo(name="tiny", parameters=3_000_000)
        self._random = random.Random(0)

    @property
    def info(self):
        return self._info

    async def generate(self, request):
        from reasoner.engine.generation import Generation
        from reasoner.types import Candidate, FinishReason

        candidates = []
        for _ in range(request.n):
            answer = self._random.randint(10, 14)
            lines = [f"{self._random.randint(10, 99)} + {self._random.randint(10, 99)} = {self._random.randint(20, 198)}"
                     for _ in range(30)]
            text = "\n".join(lines) + f"\nThe answer is \\boxed{{{answer}}}."
            ids = [self._random.randrange(384) for _ in range(request.sampling.max_tokens)]
            candidates.append(Candidate(text=text, token_ids=ids, num_tokens=len(ids), finish_reason=FinishReason.STOP,
                                        cumulative_logprob=-0.5 * len(ids)))
        return Generation(candidates=candidates, prompt_tokens=60)

    async def close(self) -> None:
        pass


def run_one(size: int, out: Path) -> None:
    """The driver under test: a self-consistency job over `size` problems, records streamed to `out`."""
    from reasoner.engine.runtime import run_sync
    from reasoner.jobs import JobConfig, run_job
    from reasoner.jobs.pool import LocalPool
    from reasoner.tasks import load_task
    from reasoner.verifiers import VerifierSet

    problems = load_task("arith", "train", n=size, seed=7)
    config = JobConfig(dataset="arith-train", strategy="self_consistency", strategy_options={"n": N},
                       model="tiny", seed=0)
    verifiers = VerifierSet()
    pool = LocalPool(RealisticGenerator(), verifiers, concurrency=64)
    config_with_tokens = config.model_copy(update={"strategy_options": {"n": N, "max_tokens": TOKENS}})
    summary = run_sync(run_job(config_with_tokens, problems, pool, out=out, progress=False))
    verifiers.close()
    print(json.dumps({"problems": summary.problems}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,5000", help="job sizes in problems, comma-separated")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/driver_memory.json"))
    parser.add_argument("--run-one", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--records", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_one is not None:
        run_one(args.run_one, args.records)
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    report = {"machine": {**machine(), "load_average_at_start": psutil.getloadavg()},
              "settings": {"strategy": "self_consistency", "n": N, "tokens_per_candidate": TOKENS,
                           "split": "arith train draw (seed 7); the split does not matter for memory"},
              "sizes": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            records = Path(tmp) / f"records-{size}.jsonl"
            command = [sys.executable, __file__, "--run-one", str(size), "--records", str(records)]
            peak, seconds = peak_rss_mb(command)
            lines = sum(1 for _ in records.open())
            report["sizes"][str(size)] = {"peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1),
                                          "records": lines, "records_file_mb": round(records.stat().st_size / 2**20, 1)}
            print(size, report["sizes"][str(size)], flush=True)
    first, last = str(sizes[0]), str(sizes[-1])
    report[f"ratio_{last}_to_{first}"] = round(report["sizes"][last]["peak_rss_mb"] / report["sizes"][first]["peak_rss_mb"], 3)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
