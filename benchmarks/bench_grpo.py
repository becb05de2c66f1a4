"""GRPO on the bundled `tiny`: accuracy before and after, training time, and step time against TRL.

Run: python benchmarks/bench_grpo.py --steps 300 --lr 2e-4 --levels 1,2,3,4 --level-weights 0.5,0.5,4.5,4.5 --threads 1 --out runs/grpo-final

1. Greedy `cot` accuracy of the starting model on the `arith` and `pyfunc` test splits.
2. `reasoner train grpo` on arith (wall time measured; resumable, so a re-run
   after an interruption finishes the same run).
3. The same evaluation of the trained checkpoint.
4. Step time against TRL's `GRPOTrainer` with the same model, prompts per
   step, group size, max tokens and one optimizer step per batch, using TRL's
   default generation path (transformers `generate`; TRL's vLLM path needs a
   GPU build). Our step includes what TRL's does not: a reference-model
   forward for the logged KL, the log-prob check and the weight push.

Writes benchmarks/results/NAME.json, NAME_metrics.jsonl and NAME_training.png (NAME: --name, default grpo).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from measure import RESULTS, write_results



def greedy_accuracy(model: str, dataset: str, runs: Path) -> dict:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks.datasets import load_dataset
    from reasoner.jobs import JobConfig, run_job
    from reasoner.jobs.pool import LocalPool
    from reasoner.engine.runtime import run_sync
    from reasoner.verifiers import VerifierSet

    generator = VLLMGenerator.shared(model)
    config = JobConfig(dataset=dataset, strategy="cot", strategy_options={"max_tokens": 160}, model=model, seed=0)
    out = runs / f"{Path(model).name}-{dataset}-greedy.jsonl"
    out.unlink(missing_ok=True)
    with VerifierSet() as verifiers:
        summary = run_sync(run_job(config, load_dataset(dataset), LocalPool(generator, verifiers), out=out)).report()
    run_sync(generator.close())
    return {"accuracy": summary["accuracy"],
            "by_level": {level: row["accuracy"] for level, row in summary["by_level"].items()}}


def main() -> None:
    from reasoner.cli_options import comma_list
    from reasoner.training.grpo import GRPOConfig, plot_metrics, read_metrics, train_grpo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--steps", type=int, default=250)
    parser.add_argument("--prompts-per-step", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--lr", type=float, default=2e-4)
    parser.add_argument("--levels", default=None, help="comma-separated arith levels to train on (default: all)")
    parser.add_argument("--level-weights", default=None, help="comma-separated weight per --levels entry")
    parser.add_argument("--beta", type=float, default=0.0, help="k3 KL weight to the starting model")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-trl", action="store_true", help="leave out the TRL step-time comparison")
    parser.add_argument("--skip-pyfunc", action="store_true", help="evaluate arith only (quicker trials)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of the trainer")
    parser.add_argument("--trl-steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("runs/grpo-tiny"))
    parser.add_argument("--name", default="grpo",
                        help="results go to benchmarks/results/NAME.json, NAME_metrics.jsonl, NAME_training.png")
    args = parser.parse_args()
    datasets = ("arith",) if args.skip_pyfunc else ("arith", "pyfunc")
    runs = Path("runs/bench_grpo") / args.name  # evaluation outputs; one folder per results name
    runs.mkdir(parents=True, exist_ok=True)
    report: dict = {"model": args.model}

    report["before"] = {d: greedy_accuracy(args.model, d, runs) for d in datasets}
    print("before:", json.dumps(report["before"]))

    config = GRPOConfig.from_flat({
        "model": args.model, "steps": args.steps, "prompts_per_step": args.prompts_per_step,
        "group_size": args.group_size, "max_tokens": args.max_tokens, "lr": args.lr, "threads": args.threads,
        "levels": comma_list(args.levels, int, "--levels", "integers"),
        "level_weights": comma_list(args.level_weights, float, "--level-weights", "numbers"),
        "beta": args.beta, "seed": args.seed})
    report["config"] = config.model_dump()
    started = time.perf_counter()
    train_grpo(config, args.out)
    metrics = read_metrics(args.out / "metrics.jsonl")
    # Wall time of this invocation; on a resumed run, the summed step times say more.
    report["training"] = {"wall_s_this_run": round(time.perf_counter() - started, 1),
                          "sum_step_s": round(sum(m["step_seconds"] for m in metrics), 1),
                          "steps": len(metrics),
                          "median_step_s": statistics.median(m["step_seconds"] for m in metrics[1:]),
                          "max_logprob_diff_mean": max(m["logprob_diff_mean"] or 0 for m in metrics),
                          "final_kl": metrics[-1]["kl"]}
    print("training:", json.dumps(report["training"]))

    report["after"] = {d: greedy_accuracy(str(args.out), d, runs) for d in datasets}
    print("after:", json.dumps(report["after"]))
    report["gain_points"] = {d: round(100 * (report["after"][d]["accuracy"] - report["before"][d]["accuracy"]), 1)
                             for d in datasets}

    if not args.skip_trl:
        import torch

        from bench_grpo_vs_trl import trl as trl_step_seconds

        # The same torch threads as our trainer; completions end where the model ends them, as in our run.
        trl = trl_step_seconds(args.model, args.trl_steps, args.prompts_per_step, args.group_size, args.max_tokens,
                               threads=args.threads or torch.get_num_threads(), out=Path("runs/trl-grpo"),
                               equal_tokens=False)
        ours = report["training"]["median_step_s"]
        report["trl"] = {"step_s": [round(s, 2) for s in trl], "median_step_s_after_first": statistics.median(trl[1:]),
                         "ours_median_step_s": ours,
                         "trl_over_ours": round(statistics.median(trl[1:]) / ours, 2)}
        print("trl:", json.dumps(report["trl"]))

    RESULTS.mkdir(parents=True, exist_ok=True)
    plot_metrics(args.out / "metrics.jsonl", RESULTS / f"{args.name}_training.png")
    shutil.copy2(args.out / "metrics.jsonl", RESULTS / f"{args.name}_metrics.jsonl")
    write_results(RESULTS / f"{args.name}.json", report)


if __name__ == "__main__":
    main()
