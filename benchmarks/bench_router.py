"""The compute-optimal router on the bundled models and `arith`: fitted on the dev split, scored once on test.

Run: python benchmarks/bench_router.py [--models tiny,small] [--dev 200] [--test 200] [--work runs/bench_router]
     python benchmarks/bench_router.py --report-only     (router*.md and the frontier plot from router*.json)
     python benchmarks/bench_router.py --models tiny --probe-samples K --bins B --tag TAG   (another setting, e.g.
     the one benchmarks/router_cv.py chose on dev; writes router_TAG.json/.md)

Every stage resumes (the sweeps from their folders under --work/MODEL; the
fit is a pure function of the dev sweeps), so a killed run picks up where it
stopped. Per model:

1. **Dev sweeps** (`--split dev`, the first `--dev` problems, 40 per level at
   200): cot, self-consistency, best-of-n scored by the bundled PRM
   (`tiny-prm`, min over steps), adaptive self-consistency and revision at
   budgets 1, 2, 4, 8, 16; and, for models in `--search-models`, the search
   strategies (beam search, DVTS, MCTS, particle filtering, each guided by
   `tiny-prm`) at `--search-budgets` (4, 8, 16: the PRM's forward passes make
   them 4-15x dearer than sampling) in a second folder, with the settings of
   the README's step-level search sweep (max_tokens 160, temperature 0.8,
   top_p 0.95, seed 0), so its test rows are comparable.
2. **Fit** `reasoner router fit DEV DEV-SEARCH` (probe of 4 samples, 4 bins)
   -> benchmarks/results/router_MODEL_arith.json, also bundled as
   reasoner/data/routers/MODEL-arith.json (`--router tiny-arith`).
3. **Test sweeps** (`--split test`, the first `--test` problems), once: the
   non-search strategies and budgets; then `router` and `oracle_router` (the
   oracle-difficulty upper bound), whose budget b means a mean compute of b
   sampled solutions per question, at budgets 1-16 and `--router-budgets`
   (only those whose dev policy is new), in a folder named by the router
   file's digest (a refitted router is scored afresh). The search
   strategies' test rows are read from benchmarks/results/sweep_search/ (the
   README's step-level search sweep: same settings, same 200 test problems)
   for `tiny`; `--rescore-search` (and any other model) sweeps them on test.

Figures (benchmarks/results/router.json and router.md for `tiny`,
router_small.json/.md for `small`; router_frontier.png for both), all on the
test split unless said otherwise; FLOPs per question include the probe and
the PRM's scoring:
- the frontier: every fixed (strategy, budget), the router and the oracle router;
- FLOPs the router needs to match the best fixed strategy's accuracy (with and
  without the search strategies among the fixed ones);
- accuracy at equal mean FLOPs against the best fixed row at no more FLOPs,
  with a paired 95% interval where both rows have per-problem outcomes;
- how much of the oracle router's gain over fixed strategies the learned
  difficulty keeps;
- `tiny` + router against `small` greedy per level at matched FLOPs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import time
from pathlib import Path

import router_report as report
from measure import write_results, write_text_results

RESULTS = report.RESULTS
FIXED = "cot,self_consistency,best_of_n,adaptive_consistency,revision"
BUDGETS = "1,2,4,8,16"
SEARCH = "beam_search,dvts,mcts,particle_filter"
SEARCH_BUDGETS = "4,8,16"
SEARCH_MAX_TOKENS = 160
"""The step-level search sweep's (README), so its committed test rows compare with this dev sweep's."""
ROUTER_BUDGETS = "3,5,6,10,12,24,32,48,64,96"
SWEEP_SEARCH = RESULTS / "sweep_search" / "summary.json"
PRM = "tiny-prm"
PRM_OPTIONS = {"best_of_n": {"scorer": "prm", "scorer_options": {"prm": PRM, "aggregation": "min"}},
               **{name: {"prm": PRM} for name in SEARCH.split(",")}}


def sweep(out: Path, *, split: str, limit: int, strategies: str, budgets: str, model: str,
          router: Path | None = None, max_tokens: int | None = None) -> dict:
    """Run (or resume) one sweep; its summary as a dict."""
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.eval.sweep import make_config, run_sweep
    from reasoner.verifiers import VerifierSet

    options = {name: dict(value) for name, value in PRM_OPTIONS.items() if name in strategies.split(",")}
    for name in report.ROUTERS:
        if name in strategies.split(","):
            options[name] = {"router": str(router)}
    config = make_config(dataset="arith", split=split, limit=limit, models=model, strategies=strategies,
                         budgets=budgets, strategy_options=options, max_tokens=max_tokens)
    started = time.perf_counter()
    with VerifierSet() as verifiers:
        run_sweep(config, out, VLLMGenerator.shared, verifiers, progress=False)
    print(f"{out}: done in {time.perf_counter() - started:.0f}s", flush=True)
    return json.loads((out / "summary.json").read_text())


def suffix(model: str, tag: str) -> str:
    return ("" if model == "tiny" else f"_{model}") + (f"_{tag}" if tag else "")


def fit(args: argparse.Namespace, model: str, work: Path, search: list[str]) -> Path:
    """The dev sweeps and the router fitted on them; the router file's path."""
    from reasoner.strategies.router_file import BUNDLED_ROUTERS
    from reasoner.eval.router_fit import fit_router, write_router

    sweep(work / "dev", split="dev", limit=args.dev, strategies=FIXED, budgets=BUDGETS, model=model)
    more = []
    if search:
        sweep(work / "dev-search", split="dev", limit=args.dev, strategies=",".join(search),
              budgets=args.search_budgets, model=model, max_tokens=SEARCH_MAX_TOKENS)
        more.append(work / "dev-search")
    router_path = RESULTS / f"router_{model}_arith{f'_{args.tag}' if args.tag else ''}.json"
    router = fit_router(work / "dev", more_sweeps=more, probe_samples=args.probe_samples, bins=args.bins)
    write_router(router, router_path)
    if not args.tag:
        BUNDLED_ROUTERS.mkdir(parents=True, exist_ok=True)
        write_router(router, BUNDLED_ROUTERS / f"{model}-arith.json")
    print(f"fitted {router_path}: default policy {router.default.model_dump_json()}", flush=True)
    return router_path


def test_rows(args: argparse.Namespace, model: str, work: Path, router_path: Path,
              search: list[str]) -> tuple[list[dict], list[Path], str]:
    """The test split's rows (fixed, search, oracle router, this router, each scored once), the folders with
    per-problem outcomes, and where the search rows came from. The routers' folders are named by the router
    file's digest, so a refitted router is scored afresh and never read from a stale folder."""
    default = RESULTS / f"router_{model}_arith.json"
    test = sweep(work / "test", split="test", limit=args.test, strategies=FIXED, budgets=BUDGETS, model=model)
    routed_folder = work / f"test-router-{digest(default)}"
    routed = sweep(routed_folder, split="test", limit=args.test, strategies="router,oracle_router",
                   budgets=distinct_budgets(default, args.router_budgets), router=default, model=model)
    rows, folders = test["rows"] + routed["rows"], [work / "test", routed_folder]
    searched, source, folder = search_rows(args, model, work, search)
    folders += [folder] if folder else []
    if args.tag:
        ours_folder = work / f"test-router-{args.tag}-{digest(router_path)}"
        ours = sweep(ours_folder, split="test", limit=args.test, strategies="router",
                     budgets=distinct_budgets(router_path, args.router_budgets), router=router_path, model=model)
        rows = [r for r in rows if r["strategy"] != "router"] + ours["rows"]
        folders.append(ours_folder)
    return rows + searched, folders, source


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:8]


def distinct_budgets(router_path: Path, extra: str) -> str:
    """Router budgets (`BUDGETS` and `extra`) whose dev policy differs from that of every smaller one: no
    test compute is spent on a policy already scored. Budgets below the probe's cost give no row."""
    from reasoner.errors import ConfigError
    from reasoner.strategies.router_file import load_router

    router = load_router(router_path)
    seen, kept = [], []
    for budget in sorted({*map(int, BUDGETS.split(",")), *map(int, extra.split(","))}):
        try:
            policy = router.policy(compute_budget=budget * router.sample_cost["flops"])
        except ConfigError:  # below the probe's cost: no row, as Router.at_budget
            continue
        if policy not in seen:
            seen.append(policy)
            kept.append(budget)
    return ",".join(map(str, kept))


def search_rows(args: argparse.Namespace, model: str, work: Path,
                search: list[str]) -> tuple[list[dict], str, Path | None]:
    """Test rows of the search strategies: the committed step-level search sweep's for `tiny` (no per-problem
    outcomes), else swept here; where they came from, and the folder with per-problem outcomes if any."""
    if not search:
        return [], "none", None
    if model == "tiny" and not args.rescore_search:
        summary = json.loads(SWEEP_SEARCH.read_text())
        config = summary["config"]
        if (config["max_tokens"], config["limit"], config["seed"]) != (SEARCH_MAX_TOKENS, args.test, 0):
            raise SystemExit(f"{SWEEP_SEARCH} was swept with other settings or problems; use --rescore-search")
        rows = [r for r in summary["rows"] if r["strategy"] in search]
        return rows, "benchmarks/results/sweep_search/summary.json (the README's step-level search sweep)", None
    summary = sweep(work / "test-search", split="test", limit=args.test, strategies=",".join(search),
                    budgets=args.search_budgets, model=model, max_tokens=SEARCH_MAX_TOKENS)
    return summary["rows"], f"swept here ({work / 'test-search'})", work / "test-search"


def run_model(args: argparse.Namespace, model: str) -> dict:
    """Every stage for one model; its result dict (also written as router{suffix}.json)."""
    work = args.work / model
    search = SEARCH.split(",") if model in args.search_models.split(",") else []
    search = [name for name in search if name in args.search.split(",")]
    router_path = fit(args, model, work, search)
    rows, folders, source = test_rows(args, model, work, router_path, search)
    result = {"machine": f"{platform.node()} (shared with other agents' jobs)", "model": model,
              "dataset": "arith", "dev_problems": args.dev, "test_problems": args.test,
              "probe_samples": args.probe_samples, "bins": args.bins, "max_tokens": 256,
              "search": {"strategies": search, "budgets": [int(b) for b in args.search_budgets.split(",")],
                         "max_tokens": SEARCH_MAX_TOKENS, "test_rows": source} if search else None,
              "fit_split": "dev", "figures_split": "test", "router_file": str(router_path),
              "command": "python " + " ".join(sys.argv),
              "analysis": report.analyse(rows, json.loads(router_path.read_text()), set(search)), "rows": rows}
    report.add_paired(result["analysis"], report.per_problem(folders))
    write_results(RESULTS / f"router{suffix(model, args.tag)}.json", result, indent=1)
    return result


def write_reports(tag: str) -> None:
    """router*.md for every model's results, `tiny` against `small` greedy, and the frontier plot."""
    paths = {model: RESULTS / f"router{suffix(model, tag)}.json" for model in ("tiny", "small")}
    results = {model: json.loads(path.read_text()) for model, path in paths.items() if path.is_file()}
    if "tiny" in results and "small" in results:
        results["tiny"]["small_vs_tiny_router"] = report.matched_per_level(results["tiny"]["rows"],
                                                                           results["small"]["rows"])
        write_results(paths["tiny"], results["tiny"], indent=1)
    for model, result in results.items():
        write_text_results(RESULTS / f"router{suffix(model, tag)}.md", report.markdown(result))
        print(report.markdown(result))
    if results and not tag:
        print(report.plot_frontier(list(results.values())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="tiny,small", help="policies, each fitted and scored on its own")
    parser.add_argument("--dev", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("runs/bench_router"))
    parser.add_argument("--search-models", default="tiny", help="models whose choices include the search strategies")
    parser.add_argument("--search", default=SEARCH, help="which search strategies (a subset of the default)")
    parser.add_argument("--search-budgets", default=SEARCH_BUDGETS)
    parser.add_argument("--rescore-search", action="store_true",
                        help="sweep the search strategies on test for tiny too, instead of reading sweep_search/")
    parser.add_argument("--router-budgets", default=ROUTER_BUDGETS,
                        help=f"router budgets scored beside {BUDGETS} on test")
    parser.add_argument("--probe-samples", type=int, default=4)
    parser.add_argument("--bins", type=int, default=4)
    parser.add_argument("--tag", default="", help="another (probe, bins) setting, e.g. chosen by router_cv.py: "
                                                  "its router runs alone on test; fixed and oracle rows are reused")
    parser.add_argument("--report-only", action="store_true", help="rewrite router*.md and the plot from router*.json")
    args = parser.parse_args()
    if not args.report_only:
        for model in args.models.split(","):
            run_model(args, model)
    write_reports(args.tag)


if __name__ == "__main__":
    main()
