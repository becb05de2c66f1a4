"""`reasoner sweep` and `reasoner router fit`: accuracy against compute, and the router fitted on it.

Parsing and printing only: the sweep runs in `reasoner.eval.sweep`, the fit in
`reasoner.eval.router_fit`. `report_sweep` prints a sweep folder for `reasoner report`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reasoner.cli_options import (ENGINE_ARG_HELP, comma_list, dataset_options, key_value, positive_int,
                                  prm_gpu_option, prm_options, submit)


def add_sweep(commands) -> None:
    p = commands.add_parser("sweep", help="accuracy against compute over strategies, budgets and models")
    dataset_options(p)
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
    p.add_argument("--engine-arg", type=key_value, action="append", default=[], metavar="KEY=VALUE",
                   help=ENGINE_ARG_HELP + "; applies to every swept model")
    p.add_argument("--out", type=Path, required=True, help="sweep folder; re-running resumes it")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON line last")
    p.add_argument("--prm", default=None,
                   help="bundled or imported PRM name, or PRM folder: the PRM of every swept strategy that takes a "
                        "`prm` option and is not given one with --option, run as --prm-url/--prm-format/--prm-runner say")
    prm_options(p)
    prm_gpu_option(p)
    p.set_defaults(run=run_sweep)


def run_sweep(args: argparse.Namespace) -> int:
    from reasoner.cli_options import (build, check_engine_options, check_swept, engine_options, model_path,
                                      prm_settings, sweep_strategy_options, with_prm_gpu_share)
    from reasoner.engine.backends import open_generator
    from reasoner.engine.runtime import engine_loop
    from reasoner.eval.sweep import SweepConfig, arun_sweep, make_config
    from reasoner.verifiers import VerifierSet
    from reasoner.verifiers.prm import PRMSet

    prm = None if args.prm is None else model_path(args.prm, None)
    prms = prm_settings(args, prm)
    strategy_options = sweep_strategy_options(args.option)
    swept = strategy_options
    if prm is not None:  # before the strategies are built: a search valued by its PRM checks that it has one
        names = (comma_list(args.strategies, str.strip, "--strategies", "names")
                 or SweepConfig.model_fields["strategies"].default)
        swept = with_prm(names, strategy_options, prm)
    options = {"dataset": args.dataset, "format": args.format, "split": args.split, "strategies": args.strategies,
               "budgets": args.budgets, "models": args.models, "limit": args.limit, "seed": args.seed,
               "max_tokens": args.max_tokens, "concurrency": args.concurrency,
               "strategy_options": swept or None,  # None until a --option (or --prm) is given
               "engine_options": engine_options(args.engine_arg) or None}
    config = build(make_config, options,
                   flags={"strategy_options": "--option", "prm": "--prm", "engine_options": "--engine-arg"})
    check_swept(strategy_options, config.strategies)
    for model in config.models:
        check_engine_options(model, config.engine_options)
    prms = with_prm_gpu_share(args, prms, {model: config.engine_options for model in config.models})
    verifiers = VerifierSet()
    future = submit(arun_sweep(config, args.out, lambda model: open_generator("vllm", model, **config.engine_options),
                               verifiers, prms=PRMSet(settings=prms), close_finished_models=True), engine_loop())
    try:
        future.result()
    except KeyboardInterrupt:
        future.cancel()
        print(f"\ninterrupted. Finished records are saved in {args.out / 'results.jsonl'}; "
              f"re-run the same command to resume.", file=sys.stderr)
        return 130
    finally:
        verifiers.close()
    report_sweep(args.out, plots=False, as_json=args.json)
    print(f"wrote {args.out / 'summary.json'}, curve.png and by_level.png", file=sys.stderr)
    return 0


def with_prm(strategies, options: dict[str, dict], prm: str) -> dict[str, dict]:
    """`options` with `prm` set for every strategy that takes a `prm` option and was not given one; an
    OptionError when no swept strategy takes one."""
    from reasoner.errors import OptionError
    from reasoner.strategies import STRATEGIES, option_names

    taking = [name for name in strategies if "prm" in option_names(STRATEGIES.get(name))]
    if not taking:
        raise OptionError(f"--prm: none of the swept strategies ({', '.join(strategies)}) takes a PRM; a scorer's "
                          f"PRM is set with --option STRATEGY.scorer_options='{{\"prm\": ...}}'")
    merged = {name: dict(values) for name, values in options.items()}
    for name in taking:
        merged.setdefault(name, {}).setdefault("prm", prm)
    return merged


def report_sweep(folder: Path, plots: bool, as_json: bool) -> int:
    """Print a sweep folder's tables (and, with `plots`, draw its figures again from summary.json)."""
    from rich.console import Console

    from reasoner.eval.sweep import load_summary, redraw_plots, report_tables

    sweep = load_summary(folder)
    Console(file=sys.stdout, width=140).print(*report_tables(sweep))
    if plots:
        print("drew " + ", ".join(map(str, redraw_plots(folder))), file=sys.stderr)
    if as_json:
        print(sweep.model_dump_json(), flush=True)
    return 0


def add_router(commands) -> None:
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
    from reasoner.eval.router_fit import fit_router, write_router

    require = comma_list(args.require, str.strip, "--require", "names")
    router = fit_router(args.sweep[0], more_sweeps=args.sweep[1:], model=args.model,
                        probe_samples=args.probe_samples, bins=args.bins, require=require or ())
    write_router(router, args.out)
    policy = router.default
    choices = ", ".join(f"bin {key}: {c.strategy}@{c.budget}" for key, c in policy.choices.items())
    print(f"fitted on {router.source.problems} problems of {router.source.dataset} ({router.source.split} split); "
          f"default policy {choices}: dev accuracy {policy.accuracy:.3f} at {policy.flops:.3g} FLOPs per question "
          f"(probe {router.probe_cost['flops']:.3g})")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0
