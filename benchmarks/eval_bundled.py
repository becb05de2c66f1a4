"""Quality of the bundled models on the task families' test splits, per difficulty level.

Run: python benchmarks/eval_bundled.py [--models tiny,small] [--limit 500] [--sc-models tiny] [--split dev]

Writes benchmarks/results/bundled_models.json (or --out) with, per model:
greedy `cot` on `arith`, `self_consistency` n=16 on `arith` (for
`--sc-models`), and greedy `cot` on `pyfunc` graded by the code verifier, all
on the chosen split (default test). These are the figures MODEL.md quotes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from reasoner.tasks.datasets import load_dataset
from reasoner.engine.runtime import run_sync
from reasoner.jobs import JobConfig, run_job
from reasoner.jobs.pool import LocalPool

from measure import write_results

RUNS = [
    ("arith", "cot", {"max_tokens": 160}),
    ("arith", "self_consistency", {"n": 16, "max_tokens": 160}),
    ("pyfunc", "cot", {"max_tokens": 160}),
]


def evaluate(model: str, limit: int, out_dir: Path, with_sc: bool = True, split: str = "test") -> dict:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.verifiers import VerifierSet

    generator = VLLMGenerator.shared(model)
    results = {"parameters": generator.info.parameters, "split": split}
    with VerifierSet() as verifiers:
        for dataset, strategy, options in RUNS:
            if strategy == "self_consistency" and not with_sc:
                continue
            config = JobConfig(dataset=dataset, strategy=strategy, strategy_options=options, model=model, seed=0)
            out = out_dir / f"{Path(model).name}-{dataset}-{strategy}{'' if split == 'test' else '-' + split}.jsonl"
            out.unlink(missing_ok=True)  # a fresh evaluation, never a resume of older weights
            started = time.perf_counter()
            summary = run_sync(run_job(config, load_dataset(dataset, limit=limit, split=split), LocalPool(generator, verifiers),
                                       out=out)).report()
            summary["wall_s"] = round(time.perf_counter() - started, 1)
            results[f"{dataset}/{strategy}" + (f"@{options['n']}" if "n" in options else "")] = summary
    run_sync(generator.close())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny")
    parser.add_argument("--limit", type=int, default=500)
    parser.add_argument("--sc-models", default="tiny", help="models that also get self-consistency n=16")
    parser.add_argument("--split", choices=("test", "dev"), default="test", help="split of both task families")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bundled_models.json"))
    args = parser.parse_args()
    runs = Path("runs/eval_bundled")
    runs.mkdir(parents=True, exist_ok=True)
    sc_models = set(args.sc_models.split(","))
    report = {model: evaluate(model, args.limit, runs, model in sc_models, args.split)
              for model in args.models.split(",")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)
    for model, results in report.items():
        for name, summary in results.items():
            if isinstance(summary, dict):
                levels = " ".join(f"L{k}={v['accuracy']:.2f}" for k, v in summary.get("by_level", {}).items())
                print(f"{model:6} {name:28} acc={summary['accuracy']:.3f}  {levels}  ({summary['wall_s']}s)")


if __name__ == "__main__":
    main()
