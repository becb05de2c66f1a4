"""`reasoner` command line: parse, call the public Python API, print.

Heavy modules (vllm, torch, ray, sympy) are imported inside commands, so
`reasoner --help` is instant. Environment variables are read here only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from reasoner.errors import ReasonerError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status. Engines stay up for the caller to reuse."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except ReasonerError as exc:
        print(f"reasoner: error: {exc}", file=sys.stderr)
        return 1


def entrypoint() -> None:
    """The `reasoner` console script: engine logs to stderr, engines shut down before exit."""
    import os

    # vLLM logs to stdout by default, which would bury the --json summary line.
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        status = main()
    finally:
        if "reasoner.backends.vllm" in sys.modules:
            sys.modules["reasoner.backends.vllm"].VLLMGenerator.close_all()
    sys.exit(status)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reasoner", description="Test-time compute for reasoning.")
    commands = parser.add_subparsers(title="commands")
    _add_solve(commands)
    _add_report(commands)
    _add_sweep(commands)
    _add_verify(commands)
    _add_models(commands)
    _add_train(commands)
    _add_serve(commands)
    return parser


def _add_solve(commands) -> None:
    p = commands.add_parser("solve", help="run a strategy over a dataset and grade it")
    p.add_argument("--dataset", required=True, help="dataset name (arith, pyfunc, humaneval) or JSONL file")
    p.add_argument("--format", default=None, help="force the file format (reasoner, gsm8k, math, mbpp, humaneval)")
    p.add_argument("--strategy", default="cot", help="strategy name or module:Class (default: cot)")
    p.add_argument("--n", type=int, default=None, help="samples per problem for sampling strategies")
    p.add_argument("--limit", type=int, default=None, help="solve only the first K problems")
    p.add_argument("--model", default="tiny", help="bundled model name, HF folder, or hub:ORG/NAME")
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per candidate")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--concurrency", type=int, default=64, help="problems in flight at once (in-process)")
    p.add_argument("--workers", type=int, default=None, help="solve on N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: $RAY_ADDRESS)")
    p.add_argument("--out", type=Path, default=None, help="results JSONL; re-running resumes it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
    p.set_defaults(run=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    import os
    import time

    from reasoner.datasets import load_dataset
    from reasoner.jobs import JobConfig
    from reasoner.runtime import engine_loop

    problems = load_dataset(args.dataset, limit=args.limit, fmt=args.format)
    options = {k: v for k, v in {"n": args.n, "max_tokens": args.max_tokens}.items() if v is not None}
    config = JobConfig(dataset=args.dataset, strategy=args.strategy, strategy_options=options,
                       model=args.model, backend=args.backend, seed=args.seed)
    address = args.ray_address or os.environ.get("RAY_ADDRESS")
    started = time.perf_counter()
    future = _submit(_solve_job(args, config, problems, address), engine_loop())
    try:
        summary = future.result()
    except KeyboardInterrupt:
        future.cancel()
        _report_interrupted(args)
        return 130
    summary.update(strategy=args.strategy, n=args.n or 1, model=args.model, dataset=args.dataset,
                   wall_s=round(time.perf_counter() - started, 3))
    _print_summary(summary, as_json=args.json)
    return 0


async def _solve_job(args: argparse.Namespace, config, problems, address: str | None) -> dict[str, Any]:
    from reasoner.jobs import run_job

    pool, closers = await _make_pool(args, config, address)
    try:
        return await run_job(config, problems, pool, out=args.out)
    finally:
        await pool.close()
        for close in closers:
            close()


async def _make_pool(args: argparse.Namespace, config, address: str | None):
    """A Ray pool when --workers or a Ray address is given, else everything in-process."""
    from reasoner.errors import ConfigError
    from reasoner.pool import LocalPool, RayPool

    if args.workers is not None or address:
        if args.backend != "vllm":
            raise ConfigError("--workers runs vLLM engines in Ray actors; it needs --backend vllm")
        pool = RayPool(config, workers=args.workers or 1, address=address)
        return await pool.start(), []
    math, code = _verifiers()
    return LocalPool(config, _generator(args), math, code, concurrency=args.concurrency), [math.close, code.close]


def _report_interrupted(args: argparse.Namespace) -> None:
    from reasoner.jobs import read_records
    from reasoner.metrics import summarize

    print("\ninterrupted.", file=sys.stderr)
    if args.out is None:
        print("no --out was given, so nothing was kept.", file=sys.stderr)
        return
    records = read_records(args.out)
    if records:
        summary = summarize(records)
        summary.update(strategy=args.strategy, dataset=f"{args.dataset} (partial)")
        _print_summary(summary, as_json=False)
    print(f"{len(records)} finished problems are saved in {args.out}; "
          f"re-run the same command to resume.", file=sys.stderr)


def _generator(args: argparse.Namespace):
    from reasoner.backends import make_generator

    if args.backend == "openai":
        options = {"base_url": args.base_url} if args.base_url else {}
        return make_generator("openai", args.model, **options)
    from reasoner.backends.vllm import VLLMGenerator

    return VLLMGenerator.shared(args.model)


def _verifiers():
    from verifiers.code import CodeVerifier
    from verifiers.math import MathVerifier

    return MathVerifier(), CodeVerifier()


def _submit(coro, loop):
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, loop)


def _add_report(commands) -> None:
    p = commands.add_parser("report", help="summarise a results JSONL file")
    p.add_argument("results", type=Path, help="results.jsonl written by `reasoner solve`")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from reasoner.errors import JobError
    from reasoner.jobs import read_records
    from reasoner.metrics import summarize

    if args.results.is_dir():
        from rich.console import Console

        from reasoner.sweep import load_summary, report_tables

        sweep = load_summary(args.results)
        Console(file=sys.stdout, width=140).print(*report_tables(sweep))
        if args.json:
            print(sweep.model_dump_json(), flush=True)
        return 0
    if not args.results.is_file():
        raise JobError(f"no results file at {args.results}")
    records = read_records(args.results)
    if not records:
        raise JobError(f"{args.results} holds no records")
    summary = summarize(records)
    summary["strategy"] = ",".join(sorted({str(r.get("strategy")) for r in records}))
    _print_summary(summary, as_json=args.json)
    return 0


def _print_summary(summary: dict[str, Any], as_json: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=sys.stdout, width=100)
    table = Table(title=f"{summary.get('strategy', '')} on {summary.get('dataset', 'results')}")
    for column in ("level", "problems", "correct", "accuracy", "ungradable"):
        table.add_column(column, justify="right")
    for level, block in summary.get("by_level", {}).items():
        table.add_row(level, *_cells(block))
    table.add_row("all", *_cells(summary), style="bold")
    console.print(table)
    tokens = summary["generated_tokens"]
    line = f"generated tokens: {tokens}  mean/problem: {summary['mean_generated_tokens']:.1f}"
    if "wall_s" in summary:
        line += f"  wall: {summary['wall_s']:.1f}s  ({tokens / max(summary['wall_s'], 1e-9):.0f} tok/s)"
    console.print(line)
    if as_json:
        print(json.dumps(summary), flush=True)


def _cells(block: dict[str, Any]) -> list[str]:
    return [str(block["problems"]), str(block["correct"]), f"{block['accuracy']:.3f}", str(block["ungradable"])]


def _add_sweep(commands) -> None:
    p = commands.add_parser("sweep", help="accuracy against compute over strategies, budgets and models")
    p.add_argument("--dataset", required=True, help="dataset name (arith, pyfunc, humaneval) or JSONL file")
    p.add_argument("--format", default=None, help="force the file format (reasoner, gsm8k, math, mbpp, humaneval)")
    p.add_argument("--strategies", default=None,
                   help="comma-separated: cot, self_consistency, best_of_n, revision, adaptive_consistency "
                        "(default: the first four)")
    p.add_argument("--budgets", default=None, help="comma-separated samples per problem (default: 1,2,4,8,16)")
    p.add_argument("--models", default=None, help="comma-separated model names or folders (default: tiny)")
    p.add_argument("--limit", type=int, default=None, help="use only the first K problems")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per candidate")
    p.add_argument("--concurrency", type=int, default=None, help="problems in flight at once (default 64)")
    p.add_argument("--out", type=Path, required=True, help="sweep folder; re-running resumes it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
    p.set_defaults(run=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from rich.console import Console

    from reasoner.backends.vllm import VLLMGenerator
    from reasoner.runtime import engine_loop
    from reasoner.sweep import arun_sweep, load_summary, make_config, report_tables

    config = make_config(dataset=args.dataset, format=args.format, strategies=args.strategies,
                         budgets=args.budgets, models=args.models, limit=args.limit, seed=args.seed,
                         max_tokens=args.max_tokens, concurrency=args.concurrency)
    math, code = _verifiers()
    future = _submit(arun_sweep(config, args.out, VLLMGenerator.shared, math, code, close_finished_models=True),
                     engine_loop())
    try:
        future.result()
    except KeyboardInterrupt:
        future.cancel()
        print(f"\ninterrupted. Finished records are saved in {args.out / 'results.jsonl'}; "
              f"re-run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        math.close()
        code.close()
    summary = load_summary(args.out)
    Console(file=sys.stdout, width=140).print(*report_tables(summary))
    print(f"wrote {args.out / 'summary.json'}, curve.png and by_level.png", file=sys.stderr)
    if args.json:
        print(summary.model_dump_json(), flush=True)
    return 0


def _add_verify(commands) -> None:
    p = commands.add_parser("verify", help="grade one answer or program")
    kinds = p.add_subparsers(title="kinds")
    m = kinds.add_parser("math", help="compare a predicted answer with a reference")
    m.add_argument("--pred", required=True, help="prediction text (boxed, '#### n', or plain)")
    m.add_argument("--ref", required=True, help="reference answer")
    m.add_argument("--timeout", type=float, default=5.0, help="seconds before `timeout`")
    m.add_argument("--json", action="store_true", help="print the verdict as JSON")
    m.set_defaults(run=run_verify_math)
    c = kinds.add_parser("code", help="run a program against tests in the sandbox")
    c.add_argument("--program", type=Path, required=True, help="file holding the program or model output")
    c.add_argument("--tests", type=Path, required=True, help=".json CodeTests or .py file of asserts")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds before `timeout`")
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    c.set_defaults(run=run_verify_code)


def run_verify_math(args: argparse.Namespace) -> int:
    from verifiers.math import MathVerifier

    with MathVerifier(timeout=args.timeout) as verifier:
        verdict = verifier.verify(args.pred, args.ref)
    return _print_verdict(verdict, args.json)


def run_verify_code(args: argparse.Namespace) -> int:
    from reasoner.errors import DataError
    from verifiers.code import CodeVerifier, load_tests

    if not args.program.is_file():
        raise DataError("no such program file", path=args.program)
    tests = load_tests(args.tests)
    with CodeVerifier(timeout=args.timeout) as verifier:
        verdict = verifier.verify(args.program.read_text(encoding="utf-8"), tests)
    return _print_verdict(verdict, args.json)


def _print_verdict(verdict, as_json: bool) -> int:
    if as_json:
        print(verdict.model_dump_json())
    else:
        print(f"{verdict.status.value} (score {verdict.score}) {verdict.detail}".rstrip())
    return 0


def _add_models(commands) -> None:
    p = commands.add_parser("models", help="list the bundled models")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(run=run_models)


def run_models(args: argparse.Namespace) -> int:
    from reasoner.models import bundled_models

    entries = bundled_models()
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in entries]))
        return 0
    for entry in entries:
        state = f"{entry.parameters:,} params" if entry.available else "not built"
        print(f"{entry.name:8} {state:>18}  {entry.path}")
    return 0


def _add_train(commands) -> None:
    from typing import get_args

    from reasoner.tasks import SolutionPaths

    p = commands.add_parser("train", help="train models")
    kinds = p.add_subparsers(title="kinds")
    s = kinds.add_parser("sft", help="train a bundled-size model from scratch on the task families")
    s.add_argument("--task", action="append", default=None, help="task family (repeatable; default arith and pyfunc)")
    s.add_argument("--weights", default=None, help="comma-separated sampling weight per task, e.g. 0.6,0.4")
    s.add_argument("--size", default="tiny", help="model size: tiny or small")
    s.add_argument("--steps", type=int, default=None, help="optimizer steps")
    s.add_argument("--batch-size", type=int, default=None, help="sequences per step")
    s.add_argument("--lr", type=float, default=None, help="peak learning rate")
    s.add_argument("--seed", type=int, default=0, help="seed for data and initialisation")
    s.add_argument("--init-from", default=None, help="continue from this HF checkpoint instead of a fresh model")
    s.add_argument("--grow-from", default=None,
                   help="start from this trained model widened and deepened to --size (Net2Net)")
    s.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default 100)")
    s.add_argument("--solution-paths", choices=get_args(SolutionPaths), default=None,
                   help="targets: the reference solution (default) or correct solutions along random paths")
    s.add_argument("--direct-fraction", type=float, default=None,
                   help="share of solve targets at --direct-from-level and up that are the bare answer (default 0)")
    s.add_argument("--direct-from-level", type=int, default=None,
                   help="lowest level given bare-answer targets (default 3)")
    s.add_argument("--threads", type=int, default=None,
                   help="torch threads (default: torch's choice; 1 when two runs share 2 cores)")
    s.add_argument("--stop-at", type=int, default=None,
                   help="pause after this step (checkpointed; --export exports it); re-run without it to go on")
    s.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    s.add_argument("--export", type=Path, default=None, help="also copy the final model here (bf16)")
    s.set_defaults(run=run_train_sft)
    g = kinds.add_parser("grpo", help="improve a model with GRPO on verifier rewards (rollouts on vLLM)")
    g.add_argument("--model", default="tiny", help="starting model: bundled name or HF folder (default tiny)")
    g.add_argument("--task", action="append", default=None, help="task family (repeatable; default arith)")
    g.add_argument("--levels", default=None, help="comma-separated difficulty levels to train on (default: all)")
    g.add_argument("--level-weights", default=None,
                   help="comma-separated sampling weight per --levels entry (default: uniform)")
    g.add_argument("--steps", type=int, default=None, help="rollout-and-update steps")
    g.add_argument("--prompts-per-step", type=int, default=None, help="problems per step (P)")
    g.add_argument("--group-size", type=int, default=None, help="completions per problem (G)")
    g.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per completion")
    g.add_argument("--lr", type=float, default=None, help="learning rate")
    g.add_argument("--beta", type=float, default=None, help="k3 KL weight to the starting model (0 drops it)")
    g.add_argument("--epsilon", type=float, default=None, help="clip range of the policy ratio")
    g.add_argument("--epsilon-high", type=float, default=None, help="separate upper clip range")
    g.add_argument("--advantage", choices=["grpo", "dr_grpo"], default=None,
                   help="grpo: (r - mean)/std; dr_grpo: r - mean")
    g.add_argument("--aggregation", choices=["token", "sequence"], default=None,
                   help="average the loss over tokens or per sequence")
    g.add_argument("--updates-per-step", type=int, default=None, help="optimizer steps per rollout batch")
    g.add_argument("--workers", type=int, default=None, help="Ray rollout workers (default: in-process engine)")
    g.add_argument("--ray-address", default=None, help="Ray cluster to join with --workers")
    g.add_argument("--seed", type=int, default=None, help="seed for prompts and sampling")
    g.add_argument("--threads", type=int, default=None, help="torch threads for the trainer")
    g.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    g.set_defaults(run=run_train_grpo)


def run_train_sft(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from reasoner.errors import ConfigError
    from reasoner.training.sft import SIZES, SFTConfig, export_model, train_sft

    if args.size not in SIZES:
        raise ConfigError(f"unknown --size {args.size!r}; choose one of {', '.join(SIZES)}")
    weights = comma_list(args.weights, float, "--weights", "numbers")
    options = {"tasks": args.task, "task_weights": weights, "size": args.size, "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "init_from": args.init_from,
               "grow_from": args.grow_from, "warmup_steps": args.warmup_steps, "threads": args.threads,
               "solution_paths": args.solution_paths, "direct_fraction": args.direct_fraction,
               "direct_from_level": args.direct_from_level}
    try:
        config = SFTConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"bad training options: {exc}") from exc
    stats = train_sft(config, args.out, stop_at=args.stop_at)
    print(json.dumps({"out": str(args.out), **stats}))
    if args.export is not None:
        print(f"exported to {export_model(args.out, args.export)}")
    return 0


def comma_list(value: str | None, cast: Callable[[str], Any], flag: str, kind: str) -> list | None:
    """A comma-separated option as a list (None when not given); a bad entry is a ConfigError naming the flag."""
    from reasoner.errors import ConfigError

    if not value:
        return None
    try:
        return [cast(item) for item in value.split(",")]
    except ValueError as exc:
        raise ConfigError(f"{flag} must be comma-separated {kind}, got {value!r}") from exc


def run_train_grpo(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from reasoner.errors import ConfigError
    from reasoner.training.grpo import GRPOConfig, train_grpo

    levels = comma_list(args.levels, int, "--levels", "integers")
    level_weights = comma_list(args.level_weights, float, "--level-weights", "numbers")
    options = {"model": args.model, "tasks": args.task, "levels": levels, "level_weights": level_weights,
               "steps": args.steps,
               "prompts_per_step": args.prompts_per_step, "group_size": args.group_size,
               "max_tokens": args.max_tokens, "lr": args.lr, "beta": args.beta, "epsilon": args.epsilon,
               "epsilon_high": args.epsilon_high, "advantage": args.advantage, "aggregation": args.aggregation,
               "updates_per_step": args.updates_per_step, "workers": args.workers,
               "ray_address": args.ray_address, "seed": args.seed, "threads": args.threads}
    try:
        config = GRPOConfig(**{k: v for k, v in options.items() if v is not None})
    except ValidationError as exc:
        raise ConfigError(f"bad training options: {exc}") from exc
    for task in config.tasks:
        from reasoner.tasks import resolve_family

        resolve_family(task)  # an unknown task fails here, before an engine starts
    stats = train_grpo(config, args.out)
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    entrypoint()


def _add_serve(commands) -> None:
    p = commands.add_parser("serve", help="an OpenAI-compatible server with per-request strategies and a jobs API")
    p.add_argument("--model", action="append", default=None, help="served model (repeatable; default tiny)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; others need --keys)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--workers", type=int, default=None, help="run jobs on N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None, help="run jobs on this Ray cluster (default: $RAY_ADDRESS)")
    p.add_argument("--keys", type=Path, default=None, help="API keys file: one key (or sha256:HEX) per line")
    p.add_argument("--db", type=Path, default=Path("reasoner-service.db"), help="SQLite file for jobs")
    p.add_argument("--job-concurrency", type=int, default=64, help="problems in flight per job (in-process)")
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import os

    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import serve

    options = {"base_url": args.base_url} if args.base_url else {}
    config = ServiceConfig(models=tuple(args.model or ["tiny"]), host=args.host, port=args.port,
                           backend=args.backend, backend_options=options, workers=args.workers,
                           ray_address=args.ray_address or os.environ.get("RAY_ADDRESS"), keys_file=args.keys,
                           db=args.db, job_concurrency=args.job_concurrency)
    return serve(config)
