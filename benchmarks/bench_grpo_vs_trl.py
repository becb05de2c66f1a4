"""GRPO step time against TRL's GRPOTrainer, like for like: same cores, threads, model, batch and tokens.

    python benchmarks/bench_grpo_vs_trl.py [--threads 1,2] [--steps 6] [--rounds 2]

Each side runs in its own process pinned to the same cores (`os.sched_setaffinity`, inherited by the
vLLM engine process our trainer starts). With T threads both sides get the first T cores of this
process's affinity set, torch uses T intra-op threads, and our engine uses T OpenMP threads (its
default would leave one core to the scheduler). Both generate exactly `--max-tokens` tokens per
completion (`min_tokens` in vLLM, `min_new_tokens` in TRL's transformers `generate`), for the same
prompts per step and group size, float32, beta 0, one optimizer step per batch. TRL generates with
transformers `generate` (its vLLM path needs a GPU build). Our step also runs the log-prob check
and the weight push into the engine.

The median step time over steps 2..S of each run (the first carries warm-up) is taken; the sides
alternate, `--rounds` times per thread count, and the ratio TRL / ours is reported per round and as
the median. The load average during each run is recorded: other work on the machine slows both.
Writes benchmarks/results/grpo_vs_trl.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from measure import write_results


def ours(model: str, steps: int, prompts: int, group: int, tokens: int, threads: int, out: Path) -> list[float]:
    """Seconds per step of `reasoner train grpo` (in this process, already pinned)."""
    from reasoner.training.grpo import GRPOConfig, read_metrics, train_grpo

    config = GRPOConfig.from_flat({
        "model": model, "steps": steps, "prompts_per_step": prompts, "group_size": group, "max_tokens": tokens,
        "min_tokens": tokens, "threads": threads, "cpu_threads": threads, "lr": 1e-4, "beta": 0.0, "seed": 0,
        "checkpoint_every": steps + 1})
    train_grpo(config, out)
    return [m["step_seconds"] for m in read_metrics(out / "metrics.jsonl")]


def trl(model: str, steps: int, prompts: int, group: int, tokens: int, threads: int, out: Path,
        equal_tokens: bool = True) -> list[float]:
    """Seconds per optimizer step of TRL's GRPOTrainer, one rollout batch per step (in this process).

    `equal_tokens`: every completion generates exactly `tokens` tokens (else up to `tokens`)."""
    import torch
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from reasoner.engine.models import resolve_model
    from reasoner.tasks import load_task
    from reasoner.verifiers.rewards import MathReward

    torch.set_num_threads(threads)
    problems = load_task("arith", "train", n=prompts * steps, seed=12345)
    rows = [{"prompt": [{"role": "user", "content": p.prompt}], "answer": p.answer} for p in problems]
    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

    args = GRPOConfig(output_dir=str(out), per_device_train_batch_size=prompts * group, num_generations=group,
                      steps_per_generation=1, gradient_accumulation_steps=1, max_completion_length=tokens,
                      generation_kwargs={"min_new_tokens": tokens} if equal_tokens else None, max_steps=steps, learning_rate=1e-4,
                      beta=0.0, temperature=1.0, logging_steps=1, report_to=[], save_strategy="no", use_cpu=True,
                      bf16=False, disable_tqdm=True, seed=0, shuffle_dataset=False,
                      model_init_kwargs={"dtype": "float32"})
    trainer = GRPOTrainer(model=resolve_model(model), reward_funcs=[MathReward()], args=args,
                          train_dataset=Dataset.from_list(rows), callbacks=[Clock()])
    trainer.train()
    return [marks[i + 1] - marks[i] for i in range(0, len(marks) - 1, 2)]


SIDES = {"ours": ours, "trl": trl}


def run_side(side: str, cores: list[int], settings: dict) -> dict:
    """One side in a fresh process pinned to `cores`; its step times and the load average around it."""
    threads = len(cores)
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
           "TOKENIZERS_PARALLELISM": "false"}
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, __file__, "--side", side, "--cores", ",".join(map(str, cores)),
                   "--settings", json.dumps(settings), "--run-dir", str(Path(tmp) / "run")]
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{side} failed:\n{done.stderr[-3000:]}")
    steps = json.loads(done.stdout.strip().splitlines()[-1])
    return {"step_s": [round(s, 3) for s in steps], "median_step_s": round(statistics.median(steps[1:]), 3),
            "wall_s": round(time.perf_counter() - started, 1),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


def child(side: str, cores: str, settings: str, run_dir: Path) -> None:
    """Pin this process (and so the engine it starts) to `cores`, run one side, print its step times."""
    os.sched_setaffinity(0, {int(c) for c in cores.split(",")})
    options = json.loads(settings)
    steps = SIDES[side](threads=len(cores.split(",")), out=run_dir, **options)
    print(json.dumps(steps))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="tiny")
    parser.add_argument("--threads", default="1,2", help="thread counts to compare, comma-separated")
    parser.add_argument("--steps", type=int, default=6, help="optimizer steps per run; the first is dropped")
    parser.add_argument("--prompts-per-step", type=int, default=16)
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--max-tokens", type=int, default=160, help="tokens every completion generates")
    parser.add_argument("--rounds", type=int, default=2, help="alternating repeats per thread count")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/grpo_vs_trl.json"))
    parser.add_argument("--side", choices=sorted(SIDES), help=argparse.SUPPRESS)
    parser.add_argument("--cores", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        child(args.side, args.cores, args.settings, args.run_dir)
        return
    available = sorted(os.sched_getaffinity(0))
    settings = {"model": args.model, "steps": args.steps, "prompts": args.prompts_per_step,
                "group": args.group_size, "tokens": args.max_tokens}
    report = {"machine": {"cpus": psutil.cpu_count(), "affinity": available}, "settings": settings, "runs": {}}
    for threads in [int(t) for t in args.threads.split(",")]:
        cores = available[:threads]
        rounds = []
        for index in range(args.rounds):
            order = ["ours", "trl"] if index % 2 == 0 else ["trl", "ours"]
            result = {side: run_side(side, cores, settings) for side in order}
            result["trl_over_ours"] = round(result["trl"]["median_step_s"] / result["ours"]["median_step_s"], 3)
            rounds.append(result)
            print(threads, "threads, round", index, json.dumps(result), flush=True)
        ratios = [r["trl_over_ours"] for r in rounds]
        report["runs"][str(threads)] = {"cores": cores, "rounds": rounds, "median_trl_over_ours": statistics.median(ratios),
                                        "range": [min(ratios), max(ratios)]}
        args.out.parent.mkdir(parents=True, exist_ok=True)
        write_results(args.out, report)
    print(json.dumps({t: r["median_trl_over_ours"] for t, r in report["runs"].items()}))
    shutil.rmtree("runs/trl-grpo", ignore_errors=True)


if __name__ == "__main__":
    main()
