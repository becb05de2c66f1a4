"""The compute-optimal router on bundled `tiny` and `arith`: fitted on the dev split, scored once on test.

Run: python benchmarks/bench_router.py [--dev 200] [--test 200] [--work runs/bench_router]

Every stage resumes (the sweeps from their folders; the fit is a pure
function of the dev sweep), so a killed run picks up where it stopped.

1. **Dev sweep** (`--split dev`, the first `--dev` problems, 100 per level at
   most): cot, self-consistency, best-of-n scored by the bundled PRM
   (`tiny-prm`, min over steps), adaptive self-consistency and revision at
   budgets 1, 2, 4, 8, 16.
2. **Fit** `reasoner router fit` on it (probe of 4 samples, 4 bins) ->
   benchmarks/results/router_tiny_arith.json.
3. **Test sweep** (`--split test`, the first `--test` problems), once: the
   same strategies and budgets, plus `router` and `oracle_router` (the
   oracle-difficulty upper bound) whose budget b means a mean compute of b
   sampled solutions per question. A second test sweep of the router and the
   oracle alone at budgets 3, 5, 6, 10, 12 fills in their frontier.
4. `small` greedy (cot) on the same test problems, for the matched-FLOPs
   comparison per level.

Figures (benchmarks/results/router.json and router.md), all on the test
split unless said otherwise; FLOPs per question include the probe and the
PRM's scoring:
- the frontier: every fixed (strategy, budget), the router and the oracle router;
- FLOPs the router needs to match the best fixed strategy's accuracy;
- accuracy at equal mean FLOPs against the best fixed row at no more FLOPs;
- how much of the oracle router's gain over fixed strategies the learned
  difficulty keeps;
- `tiny` + router against `small` greedy per level at matched FLOPs.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
FIXED = "cot,self_consistency,best_of_n,adaptive_consistency,revision"
BUDGETS = "1,2,4,8,16"
EXTRA_ROUTER_BUDGETS = "3,5,6,10,12"
PRM_OPTIONS = {"best_of_n": {"scorer": "prm", "scorer_options": {"prm": "tiny-prm", "aggregation": "min"}}}


def sweep(out: Path, *, split: str, limit: int, strategies: str, budgets: str, models: str = "tiny",
          router: Path | None = None) -> dict:
    """Run (or resume) one sweep; its summary as a dict."""
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.eval.sweep import make_config, run_sweep
    from verifiers import VerifierSet

    options = {name: dict(value) for name, value in PRM_OPTIONS.items() if name in strategies.split(",")}
    for name in ("router", "oracle_router"):
        if name in strategies.split(","):
            options[name] = {"router": str(router)}
    config = make_config(dataset="arith", split=split, limit=limit, models=models, strategies=strategies,
                         budgets=budgets, strategy_options=options)
    started = time.perf_counter()
    with VerifierSet() as verifiers:
        run_sweep(config, out, VLLMGenerator.shared, verifiers, progress=False)
    print(f"{out}: done in {time.perf_counter() - started:.0f}s", flush=True)
    return json.loads((out / "summary.json").read_text())


def row(r: dict, level: str | None = None) -> dict:
    stats = r if level is None else r["by_level"][level]
    return {"strategy": r["strategy"], "budget": r["budget"], "accuracy": stats["accuracy"],
            "ci": [stats["ci_low"], stats["ci_high"]], "flops": stats["mean_flops"],
            "tokens": stats["mean_generated_tokens"]}


def best_at_most(rows: list[dict], flops: float) -> dict | None:
    """The most accurate row costing no more than `flops` (then the cheaper)."""
    within = [r for r in rows if r["flops"] <= flops * (1 + 1e-9)]
    return max(within, key=lambda r: (r["accuracy"], -r["flops"])) if within else None


def analyse(test_rows: list[dict], dev_router: dict) -> dict:
    fixed = [row(r) for r in test_rows if r["strategy"] not in ("router", "oracle_router")]
    routed = sorted((row(r) for r in test_rows if r["strategy"] == "router"), key=lambda r: r["flops"])
    oracle = sorted((row(r) for r in test_rows if r["strategy"] == "oracle_router"), key=lambda r: r["flops"])
    best = max(fixed, key=lambda r: (r["accuracy"], -r["flops"]))
    match = next((r for r in routed if r["accuracy"] >= best["accuracy"]), None)
    within_ci = next((r for r in routed if r["accuracy"] >= best["ci"][0]), None)
    equal = []
    for r, o in sorted(zip(routed, _paired(routed, oracle)), key=lambda pair: pair[0]["budget"]):
        base = best_at_most(fixed, r["flops"])
        gain = None if base is None else r["accuracy"] - base["accuracy"]
        oracle_gain = None if o is None or base is None else o["accuracy"] - base["accuracy"]
        equal.append({"router": r, "best_fixed_at_no_more_flops": base, "gain": gain, "oracle": o,
                      "oracle_gain": oracle_gain,
                      "share_of_oracle_gain_kept": gain / oracle_gain if gain is not None and oracle_gain
                      and oracle_gain > 0 else None,
                      "dev_prediction": _dev_prediction(dev_router, r["budget"])})
    return {
        "best_fixed": best,
        "router_matching_best_fixed": match,
        "flops_ratio_to_match": None if match is None else match["flops"] / best["flops"],
        "router_within_best_fixed_ci": within_ci,
        "flops_ratio_within_ci": None if within_ci is None else within_ci["flops"] / best["flops"],
        "at_equal_flops": equal,
        "frontier": sorted(fixed + routed + oracle, key=lambda r: r["flops"]),
        "dev_policy_default": dev_router["default"],
    }


def _dev_prediction(dev_router: dict, budget: int) -> dict | None:
    """What the fitted policy at this budget did on the dev problems (the numbers it was chosen by)."""
    from reasoner.errors import ConfigError
    from reasoner.eval.router import RouterFile

    router = RouterFile.model_validate(dev_router)
    try:
        policy = router.policy(compute_budget=budget * router.sample_cost["flops"])
    except ConfigError:
        return None
    return {"accuracy": policy.accuracy, "flops": policy.flops,
            "choices": {key: f"{c.strategy}@{c.budget}" for key, c in policy.choices.items()}}


def _paired(routed: list[dict], oracle: list[dict]) -> list[dict | None]:
    by_budget = {r["budget"]: r for r in oracle}
    return [by_budget.get(r["budget"]) for r in routed]


def matched_per_level(test_rows: list[dict], small_rows: list[dict]) -> dict:
    """Per level: `small` greedy against `tiny` + router at no more FLOPs (10% slack, as bench_sweep)."""
    out = {}
    greedy = next(r for r in small_rows if r["strategy"] == "cot")
    for level in sorted(greedy["by_level"], key=int):
        large = row(greedy, level)
        candidates = [row(r, level) for r in test_rows if r["strategy"] == "router" and level in r["by_level"]]
        cheaper = [r for r in candidates if r["flops"] <= 1.1 * large["flops"]]
        best = max(cheaper, key=lambda r: r["accuracy"]) if cheaper else None
        out[level] = {"small_greedy": large, "tiny_router_at_matched_flops": best,
                      "winner": None if best is None else "tiny+router" if best["accuracy"] > large["accuracy"]
                      else "small greedy" if best["accuracy"] < large["accuracy"] else "tie"}
    return out


def markdown(result: dict) -> str:
    a = result["analysis"]
    lines = [f"# Router on bundled tiny, arith (fit: dev split {result['dev_problems']} problems; "
             f"figures: test split {result['test_problems']} problems)", "",
             "Machine shared with other agents' jobs; FLOPs are estimates (2 x parameters x tokens, plus PRM "
             "FLOPs), not timings.", "",
             "| strategy | budget | test accuracy | 95% CI | FLOPs/question | gen tokens |", "|---|---|---|---|---|---|"]
    for r in a["frontier"]:
        name = r["strategy"] + (" (ORACLE upper bound)" if r["strategy"] == "oracle_router" else "")
        lines.append(f"| {name} | {r['budget']} | {r['accuracy']:.3f} | {r['ci'][0]:.3f}-{r['ci'][1]:.3f} | "
                     f"{r['flops']:.3g} | {r['tokens']:.1f} |")
    best = a["best_fixed"]
    lines += ["", f"Best fixed strategy on test: {best['strategy']}@{best['budget']}, accuracy "
              f"{best['accuracy']:.3f} at {best['flops']:.3g} FLOPs."]
    if a["router_matching_best_fixed"]:
        m = a["router_matching_best_fixed"]
        lines.append(f"Router reaching it: budget {m['budget']}, accuracy {m['accuracy']:.3f} at {m['flops']:.3g} "
                     f"FLOPs = {a['flops_ratio_to_match']:.2f}x the best fixed strategy's FLOPs "
                     f"(target: at most 0.5x; goal 0.25x).")
    else:
        lines.append("The router did not reach the best fixed strategy's test accuracy at any measured budget "
                     "(target missed).")
    if a["router_within_best_fixed_ci"]:
        w = a["router_within_best_fixed_ci"]
        lines.append(f"Within that row's 95% interval: router budget {w['budget']} at "
                     f"{a['flops_ratio_within_ci']:.2f}x its FLOPs.")
    default = a["dev_policy_default"]
    lines += ["", "Fitted default policy (dev): " + ", ".join(f"bin {k}: {c['strategy']}@{c['budget']}"
                                                           for k, c in default["choices"].items())
              + f"; dev accuracy {default['accuracy']:.3f} at {default['flops']:.3g} FLOPs.",
              "", "Router budget b = a mean compute of b sampled solutions per question. Dev columns: what the "
              "policy for that budget did on the dev problems it was fitted on.", "",
              "| router budget | dev acc | dev FLOPs | test acc | test FLOPs | best fixed at <= FLOPs | its acc | "
              "gain | oracle acc | oracle gain | share of oracle gain kept |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in a["at_equal_flops"]:
        r, b, o = e["router"], e["best_fixed_at_no_more_flops"], e["oracle"]
        d = e["dev_prediction"]
        lines.append(f"| {r['budget']} | {'-' if d is None else format(d['accuracy'], '.3f')} | "
                     f"{'-' if d is None else format(d['flops'], '.3g')} | {r['accuracy']:.3f} | {r['flops']:.3g} | "
                     f"{'-' if b is None else b['strategy'] + '@' + str(b['budget'])} | "
                     f"{'-' if b is None else format(b['accuracy'], '.3f')} | "
                     f"{'-' if e['gain'] is None else format(e['gain'], '+.3f')} | "
                     f"{'-' if o is None else format(o['accuracy'], '.3f')} | "
                     f"{'-' if e['oracle_gain'] is None else format(e['oracle_gain'], '+.3f')} | "
                     f"{'-' if e['share_of_oracle_gain_kept'] is None else format(e['share_of_oracle_gain_kept'], '.2f')} |")
    if result.get("small_vs_tiny_router"):
        lines += ["", "| level | small greedy acc | its FLOPs | tiny+router acc at <= 1.1x FLOPs | budget | winner |",
                  "|---|---|---|---|---|---|"]
        for level, e in result["small_vs_tiny_router"].items():
            t = e["tiny_router_at_matched_flops"]
            lines.append(f"| {level} | {e['small_greedy']['accuracy']:.3f} | {e['small_greedy']['flops']:.3g} | "
                         f"{'-' if t is None else format(t['accuracy'], '.3f')} | "
                         f"{'-' if t is None else t['budget']} | {e['winner']} |")
    lines += ["", "Commands: see the module docstring of benchmarks/bench_router.py."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dev", type=int, default=200)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path("runs/bench_router"))
    parser.add_argument("--no-small", action="store_true", help="skip the small-model greedy comparison")
    args = parser.parse_args()
    from reasoner.eval.router import fit_router, write_router

    dev = args.work / "dev"
    sweep(dev, split="dev", limit=args.dev, strategies=FIXED, budgets=BUDGETS)
    router_path = RESULTS / "router_tiny_arith.json"
    router = fit_router(dev, probe_samples=4, bins=4)
    write_router(router, router_path)
    print(f"fitted {router_path}: default policy {router.default.model_dump_json()}", flush=True)
    test = sweep(args.work / "test", split="test", limit=args.test, strategies=f"{FIXED},router,oracle_router",
                 budgets=BUDGETS, router=router_path)
    extra = sweep(args.work / "test-router", split="test", limit=args.test, strategies="router,oracle_router",
                  budgets=EXTRA_ROUTER_BUDGETS, router=router_path)
    rows = test["rows"] + extra["rows"]
    result = {"machine": f"{platform.node()} (shared with other agents' jobs)", "model": "tiny",
              "dataset": "arith", "dev_problems": args.dev, "test_problems": args.test,
              "fit_split": "dev", "figures_split": "test", "router_file": str(router_path),
              "analysis": analyse(rows, json.loads(router_path.read_text())), "rows": rows}
    if not args.no_small:
        small = sweep(args.work / "test-small", split="test", limit=args.test, strategies="cot", budgets="1",
                      models="small")
        result["small_vs_tiny_router"] = matched_per_level(rows, small["rows"])
    (RESULTS / "router.json").write_text(json.dumps(result, indent=1) + "\n")
    (RESULTS / "router.md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
