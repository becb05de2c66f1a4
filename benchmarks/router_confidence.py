"""The router refitted with issue 30's strategies among its choices: fitted on dev, scored once on test.

Run (each stage resumes from its sweep folders under --work/MODEL):
    heavy python benchmarks/router_confidence.py --models tiny --options benchmarks/results/confidence_choices.json

Per model, like `bench_router.py` (whose `sweep` and `router_report` it uses), without the search strategies
(their dev sweep alone took 38 minutes for `tiny` in round 2; the round-2 figure this compares with, 0.90x,
is the router without them):

1. dev sweeps, the first `--dev` problems (40 per level at 200): the round-2 choices (cot, self-consistency,
   best-of-n by `tiny-prm`, adaptive self-consistency, revision) in one folder, and the new ones
   (`deepconf`, `adaptive_cancel`, `deepconf_online`, `early_rejection` by `tiny-prm`, with the options
   chosen on dev in `--options`) in a second, at budgets 1, 2, 4, 8, 16;
2. `reasoner router fit DEV DEV-NEW` (probe of 4 samples, 4 bins) -> results/router_MODEL_arith_confidence.json;
3. test sweeps of every fixed choice and of the router at the budgets whose dev policy differs, the first
   `--test` test problems;
4. `router_report.analyse`: the FLOPs the router needs to match the best fixed strategy on test, accuracy
   at equal FLOPs with paired intervals -> results/router_confidence{_MODEL}.json and .md.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path


import router_report as report  # noqa: E402
from bench_router import BUDGETS, FIXED, PRM, digest, distinct_budgets, suffix  # noqa: E402

from measure import write_results


RESULTS = report.RESULTS
NEW = "deepconf,adaptive_cancel,deepconf_online,early_rejection"
MAX_TOKENS = 256
"""bench_router's dev and test sweeps of the round-2 choices use the sweep default, 256."""


def sweep(out: Path, *, split: str, limit: int, strategies: str, model: str, options: dict,
          budgets: str = BUDGETS) -> dict:
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.eval.sweep import make_config, run_sweep
    from reasoner.verifiers import VerifierSet

    names = strategies.split(",")
    config = make_config(dataset="arith", split=split, limit=limit, models=model, strategies=strategies,
                         budgets=budgets, strategy_options={k: v for k, v in options.items() if k in names},
                         max_tokens=MAX_TOKENS)
    with VerifierSet() as verifiers:
        run_sweep(config, out, VLLMGenerator.shared, verifiers, progress=False)
    print(f"{out}: done", flush=True)
    return json.loads((out / "summary.json").read_text())


def strategy_options(chosen: Path) -> dict:
    options = {"best_of_n": {"scorer": "prm", "scorer_options": {"prm": PRM, "aggregation": "min"}}}
    return {**options, **json.loads(chosen.read_text())}


def run_model(args, model: str) -> dict:
    from reasoner.eval.router_fit import fit_router, write_router

    work, options = args.work / model, strategy_options(args.options)
    sweep(work / "dev", split="dev", limit=args.dev, strategies=FIXED, model=model, options=options)
    sweep(work / "dev-new", split="dev", limit=args.dev, strategies=NEW, model=model, options=options)
    router_path = RESULTS / f"router_{model}_arith_confidence.json"
    write_router(fit_router(work / "dev", more_sweeps=[work / "dev-new"], probe_samples=4, bins=4), router_path)
    rows = sweep(work / "test", split="test", limit=args.test, strategies=FIXED, model=model, options=options)["rows"]
    rows += sweep(work / "test-new", split="test", limit=args.test, strategies=NEW, model=model,
                  options=options)["rows"]
    routed_folder = work / f"test-router-{digest(router_path)}"
    rows += sweep(routed_folder, split="test", limit=args.test, strategies="router", model=model,
                  options={"router": {"router": str(router_path)}},
                  budgets=distinct_budgets(router_path, args.router_budgets))["rows"]
    result = {"machine": f"{platform.node()} (shared with other agents' jobs)", "model": model, "dataset": "arith",
              "dev_problems": args.dev, "test_problems": args.test, "probe_samples": 4, "bins": 4,
              "max_tokens": MAX_TOKENS, "search": None, "fit_split": "dev", "figures_split": "test",
              "router_file": str(router_path), "options": options, "command": "python " + " ".join(sys.argv),
              "analysis": report.analyse(rows, json.loads(router_path.read_text()), set()), "rows": rows}
    report.add_paired(result["analysis"], report.per_problem([work / "test", work / "test-new", routed_folder]))
    out = RESULTS / f"router_confidence{suffix(model, '')}.json"
    write_results(out, result, indent=1)
    out.with_suffix(".md").write_text(report.markdown(result))
    print(report.markdown(result))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny")
    parser.add_argument("--dev", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("runs/router_confidence"))
    parser.add_argument("--options", type=Path, required=True,
                        help="JSON: strategy -> options chosen on dev (benchmarks/results/confidence_choices.json)")
    parser.add_argument("--router-budgets", default="3,5,6,10,12,24,32")
    args = parser.parse_args()
    for model in args.models.split(","):
        run_model(args, model)


if __name__ == "__main__":
    main()
