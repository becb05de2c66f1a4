"""Self-consistency n=16 against sampling temperature, for one model on the `arith` test split.

Run: python benchmarks/sc_temperature.py [--model tiny] [--limit 200] [--temperatures 0.3,0.5,0.65,0.8,1.0]

Greedy `cot` first, then `self_consistency` n=16 at each temperature (top-p
0.95, 160 max tokens, seed 0), all on one engine. Answers whether a colder
or hotter sampler lets the vote beat greedy decoding. Writes
benchmarks/results/sc_temperature_<model>.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from measure import RESULTS, write_results



def main() -> None:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks.datasets import load_dataset
    from reasoner.jobs import JobConfig, run_job
    from reasoner.jobs.pool import LocalPool
    from reasoner.engine.runtime import run_sync
    from reasoner.verifiers import VerifierSet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--limit", type=int, default=200)
    parser.add_argument("--temperatures", default="0.3,0.5,0.65,0.8,1.0")
    args = parser.parse_args()
    runs = Path("runs/sc_temperature")
    runs.mkdir(parents=True, exist_ok=True)
    generator = VLLMGenerator.shared(args.model)
    problems = load_dataset("arith", limit=args.limit)
    report: dict = {"model": args.model, "problems": len(problems), "n": 16, "top_p": 0.95, "rows": []}
    settings = [("cot", None)] + [("self_consistency", float(t)) for t in args.temperatures.split(",")]
    with VerifierSet() as verifiers:
        for strategy, temperature in settings:
            options = {"max_tokens": 160} if temperature is None else \
                {"n": 16, "max_tokens": 160, "temperature": temperature, "top_p": 0.95}
            config = JobConfig(dataset="arith", strategy=strategy, strategy_options=options, model=args.model, seed=0)
            out = runs / f"{Path(args.model).name}-{strategy}-{temperature}.jsonl"
            out.unlink(missing_ok=True)
            summary = run_sync(run_job(config, problems, LocalPool(generator, verifiers), out=out)).report()
            row = {"strategy": strategy, "temperature": temperature, "accuracy": summary["accuracy"],
                   "by_level": {level: block["accuracy"] for level, block in summary["by_level"].items()}}
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
    run_sync(generator.close())
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_results(RESULTS / f"sc_temperature_{Path(args.model).name}.json", report)


if __name__ == "__main__":
    main()
