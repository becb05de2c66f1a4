"""Figures of `benchmarks/bench_router.py` from its sweeps' rows: the analysis, router*.md and the frontier plot.

Pure functions of rows (the `summary.json` rows of the test sweeps, plus the
committed test rows of the search strategies) and of per-problem outcomes;
nothing here runs a model. `python benchmarks/bench_router.py --report-only`
rewrites every file from the router*.json results.
"""

from __future__ import annotations

import json
from pathlib import Path

from measure import RESULTS
ROUTERS = ("router", "oracle_router")
FRONTIER_PNG = RESULTS / "router_frontier.png"


def row(r: dict, level: str | None = None) -> dict:
    stats = r if level is None else r["by_level"][level]
    return {"strategy": r["strategy"], "budget": r["budget"], "accuracy": stats["accuracy"],
            "ci": [stats["ci_low"], stats["ci_high"]], "flops": stats["mean_flops"],
            "tokens": stats["mean_generated_tokens"]}


def per_problem(folders: list[Path]) -> dict[tuple[str, int], list[float]]:
    """Per (strategy, budget), each test problem's (expected) correctness, problems in id order."""
    from reasoner.eval.sweep import load_summary, row_points
    from reasoner.jobs import iter_records

    out: dict[tuple[str, int], list[float]] = {}
    for folder in folders:
        config = load_summary(folder).config
        records = list(iter_records(folder / "results.jsonl"))
        ids = sorted({r["problem_id"] for r in records})
        for name, budget, _, points in row_points(config, ids, records, config.models[0]):
            out[(name, budget)] = [p.metrics["accuracy"] for p in points]
    return out


def paired_gain(outcomes: dict, router: tuple[str, int], fixed: tuple[str, int], seed: int = 0) -> dict | None:
    """Mean per-problem accuracy difference of two rows on the same problems, with a 95% paired bootstrap;
    None when either row has no per-problem outcomes here (a row read from another sweep's summary)."""
    from reasoner.stats import bootstrap_ci

    if router not in outcomes or fixed not in outcomes:
        return None
    diffs = [a - b for a, b in zip(outcomes[router], outcomes[fixed], strict=True)]
    low, high = bootstrap_ci(diffs, resamples=2000, seed=seed)
    return {"gain": sum(diffs) / len(diffs), "ci": [low, high]}


def best_at_most(rows: list[dict], flops: float) -> dict | None:
    """The most accurate row costing no more than `flops` (then the cheaper)."""
    within = [r for r in rows if r["flops"] <= flops * (1 + 1e-9)]
    return max(within, key=lambda r: (r["accuracy"], -r["flops"])) if within else None


def _match(routed: list[dict], best: dict) -> dict:
    """The cheapest router row reaching `best`'s accuracy (and its interval's low end), as FLOPs ratios."""
    match = min((r for r in routed if r["accuracy"] >= best["accuracy"]), key=lambda r: r["flops"], default=None)
    within = min((r for r in routed if r["accuracy"] >= best["ci"][0]), key=lambda r: r["flops"], default=None)
    return {"best_fixed": best, "router_matching": match,
            "flops_ratio_to_match": None if match is None else match["flops"] / best["flops"],
            "router_within_ci": within,
            "flops_ratio_within_ci": None if within is None else within["flops"] / best["flops"]}


def analyse(test_rows: list[dict], dev_router: dict, search: set[str]) -> dict:
    """Every figure of the router table from the test rows (fixed, search, router, oracle router)."""
    fixed = [row(r) for r in test_rows if r["strategy"] not in ROUTERS]
    routed = sorted((row(r) for r in test_rows if r["strategy"] == "router"), key=lambda r: r["flops"])
    oracle = {r["budget"]: row(r) for r in test_rows if r["strategy"] == "oracle_router"}
    best = max(fixed, key=lambda r: (r["accuracy"], -r["flops"]))
    sampling = [r for r in fixed if r["strategy"] not in search]
    equal = []
    for r in sorted(routed, key=lambda r: r["budget"]):
        base, o = best_at_most(fixed, r["flops"]), oracle.get(r["budget"])
        gain = None if base is None else r["accuracy"] - base["accuracy"]
        oracle_gain = None if o is None or base is None else o["accuracy"] - base["accuracy"]
        equal.append({"router": r, "best_fixed_at_no_more_flops": base, "gain": gain, "oracle": o,
                      "oracle_gain": oracle_gain,
                      "share_of_oracle_gain_kept": gain / oracle_gain if gain is not None and oracle_gain
                      and oracle_gain > 0 else None,
                      "dev_prediction": dev_prediction(dev_router, r["budget"])})
    match = _match(routed, best)
    return {**match, "without_search": _match(routed, max(sampling, key=lambda r: (r["accuracy"], -r["flops"]))),
            "at_equal_flops": equal, "search_strategies": sorted(search),
            "frontier": sorted(fixed + routed + list(oracle.values()), key=lambda r: r["flops"]),
            "dev_policy_default": dev_router["default"]}


def dev_prediction(dev_router: dict, budget: int) -> dict | None:
    """What the fitted policy at this budget did on the dev problems (the numbers it was chosen by)."""
    from reasoner.errors import ConfigError
    from reasoner.strategies.router_file import RouterFile

    router = RouterFile.model_validate(dev_router)
    try:
        policy = router.policy(compute_budget=budget * router.sample_cost["flops"])
    except ConfigError:
        return None
    return {"accuracy": policy.accuracy, "flops": policy.flops,
            "choices": {key: f"{c.strategy}@{c.budget}" for key, c in policy.choices.items()}}


def add_paired(analysis: dict, outcomes: dict) -> None:
    """Each equal-FLOPs comparison gets its paired 95% interval (same test problems on both sides)."""
    for entry in analysis["at_equal_flops"]:
        base = entry["best_fixed_at_no_more_flops"]
        entry["paired"] = None if base is None else paired_gain(
            outcomes, ("router", entry["router"]["budget"]), (base["strategy"], base["budget"]))


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


# router*.md


def _fmt(value: float | None, spec: str = ".3f") -> str:
    return "-" if value is None else format(value, spec)


def _gain(entry: dict) -> str:
    if entry["gain"] is None:
        return "-"
    paired = entry.get("paired")
    if paired is None:
        return f"{entry['gain']:+.3f} (unpaired)"
    return f"{entry['gain']:+.3f} ({paired['ci'][0]:+.3f} to {paired['ci'][1]:+.3f})"


def _short_policy(prediction: dict | None) -> str:
    if prediction is None:
        return "-"
    return " ".join(f"{key}:{choice}" for key, choice in prediction["choices"].items())


def markdown(result: dict) -> str:
    a = result["analysis"]
    setting = f"probe {result.get('probe_samples', 4)} samples, {result.get('bins', 4)} bins"
    lines = [(f"# Router on bundled {result['model']}, arith ({setting}; fit: dev split {result['dev_problems']} "
             f"problems; figures: test split {result['test_problems']} problems)"), "",
             ("Machine shared with other agents' jobs; FLOPs are estimates (2 x parameters x tokens, plus PRM "
             "FLOPs), not timings."), "", *_sources(result), "",
             "| strategy | budget | test accuracy | 95% CI | FLOPs/question | gen tokens |", "|---|---|---|---|---|---|"]
    for r in a["frontier"]:
        name = r["strategy"] + (" (ORACLE upper bound)" if r["strategy"] == "oracle_router" else "")
        lines.append(f"| {name} | {r['budget']} | {r['accuracy']:.3f} | {r['ci'][0]:.3f}-{r['ci'][1]:.3f} | "
                     f"{r['flops']:.3g} | {r['tokens']:.1f} |")
    lines += ["", *_match_lines(a, "Best fixed strategy on test"),
              *_match_lines(a["without_search"], "Best fixed strategy on test without the search strategies")]
    default = a["dev_policy_default"]
    lines += ["", "Fitted default policy (dev): " + ", ".join(f"bin {k}: {c['strategy']}@{c['budget']}"
                                                           for k, c in default["choices"].items())
              + f"; dev accuracy {default['accuracy']:.3f} at {default['flops']:.3g} FLOPs.",
              "", ("Router budget b = a mean compute of b sampled solutions per question. Dev columns: what the "
              "policy for that budget did on the dev problems it was fitted on (bin 0 the easiest)."), "",
              ("| router budget | dev policy per bin | dev acc | dev FLOPs | test acc | test FLOPs | best fixed at <= "
              "FLOPs | its acc | gain (paired 95% CI) | oracle acc | oracle gain | share of oracle gain kept |"),
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in a["at_equal_flops"]:
        r, b, o, d = e["router"], e["best_fixed_at_no_more_flops"], e["oracle"], e["dev_prediction"]
        lines.append(f"| {r['budget']} | {_short_policy(d)} | {_fmt(d and d['accuracy'])} | "
                     f"{_fmt(d and d['flops'], '.3g')} | {r['accuracy']:.3f} | {r['flops']:.3g} | "
                     f"{'-' if b is None else b['strategy'] + '@' + str(b['budget'])} | {_fmt(b and b['accuracy'])} | "
                     f"{_gain(e)} | {_fmt(o and o['accuracy'])} | {_fmt(e['oracle_gain'], '+.3f')} | "
                     f"{_fmt(e['share_of_oracle_gain_kept'], '.2f')} |")
    lines += _small_lines(result)
    lines += ["", "## Against the issue's targets (test split)", ""] + verdicts(a)
    lines += ["", (f"Command: `{result.get('command', 'python benchmarks/bench_router.py --dev 200 --test 200')}` "
              "(see its docstring); `--report-only` rewrites this file from its .json.")]
    return "\n".join(lines) + "\n"


def _sources(result: dict) -> list[str]:
    search = result.get("search") or {}
    if not search:
        return [("Choices: cot, self-consistency, best-of-n by `tiny-prm` (min over steps), adaptive "
                "self-consistency and revision at budgets 1-16; no search strategies.")]
    return [(f"Choices: cot, self-consistency, best-of-n by `tiny-prm` (min over steps), adaptive self-consistency "
            f"and revision at budgets 1-16 (max_tokens {result.get('max_tokens', 256)}), and "
            f"{', '.join(search['strategies'])} guided by `tiny-prm` at budgets "
            f"{', '.join(map(str, search['budgets']))} (max_tokens {search['max_tokens']}, the step-level search "
            f"sweep's settings). Test rows of the search strategies: {search['test_rows']}.")]


def _match_lines(m: dict, title: str) -> list[str]:
    best = m["best_fixed"]
    lines = [(f"{title}: {best['strategy']}@{best['budget']}, accuracy {best['accuracy']:.3f} at "
             f"{best['flops']:.3g} FLOPs.")]
    if m["router_matching"]:
        r = m["router_matching"]
        lines.append(f"Cheapest router reaching it: budget {r['budget']}, accuracy {r['accuracy']:.3f} at "
                     f"{r['flops']:.3g} FLOPs = {m['flops_ratio_to_match']:.2f}x its FLOPs (target: at most 0.5x; "
                     f"goal 0.25x).")
    else:
        lines.append("The router did not reach its accuracy at any measured budget (target missed).")
    if m["router_within_ci"]:
        w = m["router_within_ci"]
        lines.append(f"Within its 95% interval: router budget {w['budget']} at {m['flops_ratio_within_ci']:.2f}x "
                     f"its FLOPs.")
    return lines


def _small_lines(result: dict) -> list[str]:
    if not result.get("small_vs_tiny_router"):
        return []
    lines = ["", "`small` greedy against `tiny` + this router at no more than 1.1x its FLOPs, per level:", "",
             "| level | small greedy acc | its FLOPs | tiny+router acc at <= 1.1x FLOPs | budget | winner |",
             "|---|---|---|---|---|---|"]
    for level, e in result["small_vs_tiny_router"].items():
        t = e["tiny_router_at_matched_flops"]
        lines.append(f"| {level} | {e['small_greedy']['accuracy']:.3f} | {e['small_greedy']['flops']:.3g} | "
                     f"{_fmt(t and t['accuracy'])} | {'-' if t is None else t['budget']} | {e['winner']} |")
    return lines


def _ratio_verdict(m: dict, what: str) -> str:
    ratio = m["flops_ratio_to_match"]
    best = m["best_fixed"]
    name = f"{best['strategy']}@{best['budget']}, {best['accuracy']:.3f}"
    if ratio is None:
        return f"- FLOPs to match {what} ({name}): not reached (missed)"
    return (f"- FLOPs to match {what} ({name}): {ratio:.2f}x; target at most 0.5x "
            f"{'met' if ratio <= 0.5 else 'missed'}, goal 0.25x {'met' if ratio <= 0.25 else 'missed'}")


def verdicts(a: dict) -> list[str]:
    """Plain statements of which targets were met, from the analysis."""
    lines = [_ratio_verdict(a, "the best fixed strategy"),
             _ratio_verdict(a["without_search"], "the best fixed strategy without search")]
    gains = [(e["router"]["budget"], e["gain"]) for e in a["at_equal_flops"] if e["gain"] is not None]
    above = [str(b) for b, g in gains if g > 0]
    below = [str(b) for b, g in gains if g <= 0]
    significant = [str(e["router"]["budget"]) for e in a["at_equal_flops"]
                   if e.get("paired") and (e["paired"]["ci"][0] > 0 or e["paired"]["ci"][1] < 0)]
    if gains:
        lines.append(f"- Accuracy at equal mean FLOPs above the best fixed row at no more FLOPs: at router budgets "
                     f"{', '.join(above) or 'none'}; not at {', '.join(below) or 'none'}; gains range "
                     f"{min(g for _, g in gains):+.3f} to {max(g for _, g in gains):+.3f}; paired 95% intervals "
                     f"exclude zero at budgets: {', '.join(significant) or 'none'}")
    kept = [e["share_of_oracle_gain_kept"] for e in a["at_equal_flops"] if e["share_of_oracle_gain_kept"] is not None]
    if kept:
        lines.append(f"- Share of the oracle router's gain the learned difficulty keeps, where the oracle gains: "
                     f"{', '.join(format(k, '.2f') for k in kept)}")
    lines.append("- The oracle router is an upper bound only in its difficulty labels: its per-level choices are "
                 "fitted on 40 dev problems per level")
    return lines


# The frontier plot


def plot_frontier(results: list[dict], path: Path = FRONTIER_PNG) -> Path:
    """Accuracy against generated tokens and against FLOPs per question (probe and PRM included) of every fixed
    setting and the router, one row of panels per model; drawn by the project's sweep plots. The oracle router
    is left out (it is in the tables): an upper bound on the frontier would fade every deployable series."""
    from reasoner.eval.frontier import SweepRow
    from reasoner.eval.plots import plot_curves

    rows = [SweepRow.model_validate({**r, "model": result["model"]}) for result in results for r in result["rows"]
            if r["strategy"] != "oracle_router"]
    return plot_curves(rows, path, costs=("tokens", "flops"))


def load_results(paths: list[Path]) -> list[dict]:
    return [json.loads(path.read_text()) for path in paths if path.is_file()]
