"""Fitting a router file (`reasoner.strategies.router_file.RouterFile`) from dev-split sweep folders.

`fit_router(sweep_dir)` reads what `reasoner sweep` wrote (`summary.json`
for its settings, `results.jsonl` for per-problem outcomes) and nothing else:
no dataset, no model, so the same folders always give the same file. What it
learns:

- **The probe's features, from the sweep's own samples.** At solve time the
  router first draws `probe_samples` (k) samples at the sweep's sampling
  settings and reads `probe_features` off them. A sweep's shared-samples
  record holds n >= k i.i.d. samples drawn with exactly those settings, so
  the features of its first k samples are distributed as a live probe's
  would be; the fit reads them there and never runs the model.
- **Predicted difficulty:** a logistic regression from the standardised
  features to the problem's share of correct samples (its pass rate), and
  `bins` bins cut at quantiles of that prediction over the dev problems.
- **Per bin, every (strategy, budget) the sweep measured**, the probe's cost
  included. A strategy that chooses among i.i.d. samples of the probe's
  settings (self-consistency, best-of-n) reuses the probe's k samples: at
  budget b it draws only max(0, b - k) more.
- **Choices from more sweeps:** further dev sweeps of the same problems (the
  search strategies, say, swept at fewer budgets because they cost more) add
  their (strategy, budget) rows as choices, probe paid, never reusing it; the
  first folder gives the probe and the difficulty model, and each strategy may
  come from one folder only.

Refuses a sweep on a test split, an unfinished sweep, one without shared
samples for the probe, and one missing a strategy or budget the caller requires.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from pydantic import BaseModel

from reasoner.errors import ConfigError
from reasoner.strategies.router_file import (
    FEATURES,
    Bin,
    ChoiceStats,
    Difficulty,
    ProbeSettings,
    RouterFile,
    Source,
    probe_features,
    reaching_target,
)

RIDGE = 1e-2
"""L2 weight of the difficulty regression, so separable dev data still gives finite coefficients."""
NEWTON_STEPS = 50


class Outcome(NamedTuple):
    """One choice on one problem."""

    accuracy: float
    flops: float
    tokens: float


class ProblemData(NamedTuple):
    """What the fit needs of one dev problem's shared-samples record."""

    features: list[float]
    pass_rate: float
    level: int | None
    probe: Outcome
    """The probe's expected cost (accuracy unused)."""
    sample_tokens: float
    """Mean generated tokens of one sample."""
    prompt_tokens: int
    parameters: int


def fit(folders: Sequence[Path], *, model: str | None, probe_samples: int, bins: int,
        require: tuple[str, ...]) -> RouterFile:
    from reasoner.eval.sweep import load_summary, plan

    folder, more = folders[0], list(folders[1:])
    config = load_summary(folder).config
    _refuse_test_split(config, folder)
    model = _pick_model(config.models, model)
    more_configs = [_more_config(extra, config, folder, model) for extra in more]
    _check_required([config, *more_configs], require)
    sweep_plan = plan(config)
    samples_key = f"samples@{max(config.budgets)}"
    if samples_key not in {run.key for run in sweep_plan.replayed.values()}:
        raise ConfigError(f"{folder}: the probe's features come from the sweep's shared samples, and this sweep "
                          f"has none at its sampling settings; sweep at least one of self_consistency, best_of_n "
                          f"or adaptive_consistency")
    if probe_samples > max(config.budgets):
        raise ConfigError(f"{folder}: a probe of {probe_samples} samples needs a sweep budget of at least "
                          f"{probe_samples}; its largest is {max(config.budgets)}")
    records = _records(folder, config.generation_hash, model)
    ids = sorted(pid for run, pid in records if run == samples_key)
    _check_complete(folder, records, [run.key for run in sweep_plan.runs], ids)
    data = [_problem_data(records[(samples_key, pid)], probe_samples) for pid in ids]
    outcomes = _outcomes(config, sweep_plan, records, ids, model, data, probe_samples)
    options = {name: (folder, value) for name, value in _strategy_options(config).items()}
    first = records[(samples_key, ids[0])]
    for extra, extra_config in zip(more, more_configs):
        extra_records = _more_records(extra, extra_config, model, ids, first.get("weights"), folder)
        _add_choices(outcomes, options, extra, _strategy_options(extra_config),
                     _outcomes(extra_config, plan(extra_config), extra_records, ids, model, data, probe_samples,
                               reuse=False))
    difficulty = _difficulty(data, bins)
    source = Source(sweep=str(folder), more_sweeps=[str(extra) for extra in more], dataset=config.dataset,
                    split=config.split, model=model, weights=first.get("weights"),
                    parameters=first.get("parameters"), problems=len(ids), digest=_digest([folder, *more]))
    probe = ProbeSettings(samples=probe_samples, temperature=config.temperature, top_p=config.top_p,
                          max_tokens=config.max_tokens)
    routed = _bins([str(difficulty.bin_of(d.features)) for d in data], outcomes["routed"])
    levels = [str(d.level) if d.level is not None else "none" for d in data]
    fixed = _bins(["all"] * len(data), outcomes["fixed"])[0].choices
    default = reaching_target(routed, max(c.accuracy for c in fixed), "flops")
    return RouterFile(source=source, probe=probe, strategies={name: value for name, (_, value) in options.items()},
                      difficulty=difficulty, bins=routed, oracle_bins=_bins(levels, outcomes["fixed"]), fixed=fixed,
                      probe_cost=_mean_cost([d.probe for d in data]),
                      sample_cost=_mean_cost([_one_sample(d) for d in data]), default=default)


def _digest(folders: list[Path]) -> str:
    """The first folder's digest alone, or one digest over every folder's."""
    if len(folders) == 1:
        return sweep_digest(folders[0])
    return hashlib.sha256("".join(sweep_digest(folder) for folder in folders).encode()).hexdigest()


def _more_config(extra: Path, first: Any, first_folder: Path, model: str) -> Any:
    """A further sweep's config, refused unless it is a dev sweep of the same dataset and split with `model`."""
    from reasoner.eval.sweep import load_summary

    config = load_summary(extra).config
    _refuse_test_split(config, extra)
    if (config.dataset, config.split) != (first.dataset, first.split):
        raise ConfigError(f"{extra}: a sweep of {config.dataset} ({config.split} split), but {first_folder} is of "
                          f"{first.dataset} ({first.split} split); every sweep of a router holds the same problems")
    if model not in config.models:
        raise ConfigError(f"{extra}: the sweep has no model {model!r}; it has {', '.join(config.models)}")
    return config


def _more_records(extra: Path, config: Any, model: str, ids: list[str], weights: str | None,
                  first_folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """A further sweep's records of `model`, refused unless finished on every problem of the first sweep with
    the same weights."""
    from reasoner.eval.sweep import plan

    records = _records(extra, config.generation_hash, model)
    _check_complete(extra, records, [run.key for run in plan(config).runs], ids)
    other = sorted({str(r.get("weights")) for (_, pid), r in records.items() if pid in set(ids)} - {str(weights)})
    if other:
        raise ConfigError(f"{extra}: made with other weights of {model} ({', '.join(other)}) than {first_folder} "
                          f"({weights}); sweep both with the same model")
    return records


def _add_choices(outcomes: dict, options: dict[str, tuple[Path, Any]], extra: Path, extra_options: dict[str, Any],
                 extra_outcomes: dict) -> None:
    """Merge a further sweep's choices in; a strategy already swept in another folder is refused."""
    for name, value in extra_options.items():
        if name in options:
            raise ConfigError(f"strategy {name!r} is swept in both {options[name][0]} and {extra}; sweep each "
                              f"strategy in one folder only, so each choice has one set of options")
        options[name] = (extra, value)
    for kind in ("fixed", "routed"):
        outcomes[kind].update(extra_outcomes[kind])


def _refuse_test_split(config: Any, folder: Path) -> None:
    from reasoner.tasks.datasets import SPLIT_DATASETS

    split = config.split or ("test" if config.dataset in SPLIT_DATASETS else None)
    if split == "test":
        raise ConfigError(f"{folder}: this sweep ran on the test split of {config.dataset}; a router is fitted on "
                          f"the dev split (`reasoner sweep --split dev ...`), so the test split stays unseen")


def _pick_model(models: Sequence[str], model: str | None) -> str:
    if model is None:
        if len(models) > 1:
            raise ConfigError(f"the sweep has several models ({', '.join(models)}); choose one with --model")
        return models[0]
    if model not in models:
        raise ConfigError(f"the sweep has no model {model!r}; it has {', '.join(models)}")
    return model


def _check_required(configs: Sequence[Any], require: tuple[str, ...]) -> None:
    """Each `STRATEGY` or `STRATEGY@BUDGET` in `require` must have been swept (in the sweep holding it)."""
    for item in require:
        name, _, budget = item.partition("@")
        if budget and not budget.isdigit():
            raise ConfigError(f"required {item!r}: write STRATEGY or STRATEGY@BUDGET, e.g. best_of_n@16")
        holding = next((config for config in configs if name in config.strategies), None)
        if holding is None:
            swept = [n for config in configs for n in config.strategies]
            raise ConfigError(f"the sweep has no strategy {name!r} (required); it swept {', '.join(swept)}")
        if budget and int(budget) not in holding.budgets:
            raise ConfigError(f"the sweep has no budget {budget} (required by {item}); its budgets are "
                              f"{', '.join(map(str, holding.budgets))}")


def _records(folder: Path, config_hash: str, model: str) -> dict[tuple[str, str], dict[str, Any]]:
    from reasoner.jobs import iter_records

    return {(r["run"], r["problem_id"]): r for r in iter_records(folder / "results.jsonl")
            if r.get("config_hash") == config_hash and r.get("model") == model}


def _check_complete(folder: Path, records: dict, runs: list[str], ids: list[str]) -> None:
    missing = [(run, pid) for run in runs for pid in ids if (run, pid) not in records]
    if not ids or missing:
        example = f" (e.g. {missing[0][0]} on {missing[0][1]})" if missing else ""
        raise ConfigError(f"{folder}: the sweep is unfinished, {len(missing) if ids else 'all'} records are "
                          f"missing{example}; re-run the same `reasoner sweep` command to finish it")


def _problem_data(record: dict[str, Any], k: int) -> ProblemData:
    candidates = record["candidates"]
    probe = candidates[:k]
    prompt = int(record["cost"]["prompt_tokens"])
    params = int(record.get("parameters") or 0)
    mean_tokens = sum(c["num_tokens"] for c in candidates) / len(candidates)
    features = probe_features([c["label"] for c in probe], [c["mean_logprob"] for c in probe], prompt)
    tokens = k * mean_tokens
    return ProblemData(features=features, pass_rate=sum(c["correct"] for c in candidates) / len(candidates),
                       level=record.get("level"), probe=Outcome(0.0, 2.0 * params * (prompt + tokens), tokens),
                       sample_tokens=mean_tokens, prompt_tokens=prompt, parameters=params)


def _one_sample(d: ProblemData) -> Outcome:
    return Outcome(0.0, 2.0 * d.parameters * (d.prompt_tokens + d.sample_tokens), d.sample_tokens)


def reuses_probe(strategy: Any, replayed: bool) -> bool:
    """A replayable strategy that picks by `select` over samples of the probe's settings can start from them."""
    return replayed and hasattr(strategy, "select")


def _outcomes(config: Any, sweep_plan: Any, records: dict, ids: list[str], model: str, data: list[ProblemData],
              k: int, reuse: bool = True) -> dict[str, dict[tuple[str, int, bool], list[Outcome]]]:
    """Per choice and problem: `fixed` (no probe) and `routed` (probe paid, its samples reused where they can be,
    and only if `reuse`: the probe's samples are this sweep's)."""
    from reasoner.eval.sweep import row_points

    flat = list(records.values())
    fixed, routed = {}, {}
    for name, budget, replayed, points in row_points(config, ids, flat, model):
        samples_key = sweep_plan.replayed[name].key if replayed else None
        reused = reuse and reuses_probe(config.strategy(name), replayed) and \
            samples_key == f"samples@{max(config.budgets)}"
        fixed[(name, budget, False)] = [Outcome(p.metrics["accuracy"], p.flops, p.tokens) for p in points]
        routed[(name, budget, reused)] = [
            _with_reuse(p, d, budget, k, records[(samples_key, pid)] if reused else None, config.strategy(name))
            for p, d, pid in zip(points, data, ids)]
    return {"fixed": fixed, "routed": routed}


def _with_reuse(point: Any, d: ProblemData, budget: int, k: int, record: dict | None, strategy: Any) -> Outcome:
    accuracy = point.metrics["accuracy"]
    if record is None:
        return Outcome(accuracy, d.probe.flops + point.flops, d.probe.tokens + point.tokens)
    extra = max(0, budget - k)
    extra_tokens = extra * d.sample_tokens
    computed = extra_tokens + (d.prompt_tokens if extra else 0)
    scorer = strategy.replay_scorer
    n = len(record["candidates"])
    scoring = record.get("scorer_flops", {}).get(scorer.key, 0.0) * budget / n if scorer else 0.0
    return Outcome(accuracy, d.probe.flops + 2.0 * d.parameters * computed + scoring, d.probe.tokens + extra_tokens)


def _bins(keys: list[str], outcomes: dict[tuple[str, int, bool], list[Outcome]]) -> list[Bin]:
    members: dict[str, list[int]] = defaultdict(list)
    for index, key in enumerate(keys):
        members[key].append(index)
    order = sorted(members, key=lambda key: (key == "none", int(key) if key.isdigit() else 0, key))
    return [Bin(key=key, problems=len(members[key]), weight=len(members[key]) / len(keys),
                choices=[_stats(name, budget, reuse, [rows[i] for i in members[key]])
                         for (name, budget, reuse), rows in outcomes.items()])
            for key in order]


def _stats(name: str, budget: int, reuse: bool, rows: list[Outcome]) -> ChoiceStats:
    count = len(rows)
    return ChoiceStats(strategy=name, budget=budget, accuracy=sum(r.accuracy for r in rows) / count,
                       flops=sum(r.flops for r in rows) / count, tokens=sum(r.tokens for r in rows) / count,
                       reuses_probe=reuse)


def _mean_cost(rows: list[Outcome]) -> dict[str, float]:
    return {"flops": sum(r.flops for r in rows) / len(rows), "tokens": sum(r.tokens for r in rows) / len(rows)}


def _strategy_options(config: Any) -> dict[str, dict[str, Any]]:
    options = {}
    for name in config.strategies:
        strategy = config.strategy(name)
        options[name] = strategy.model_dump(mode="json") if isinstance(strategy, BaseModel) else \
            dict(config.strategy_options.get(name, {}))
    return options


# Predicted difficulty


def _difficulty(data: list[ProblemData], bins: int) -> Difficulty:
    """Logistic regression (ridge, Newton steps) of each problem's pass rate on its standardised features."""
    x = np.asarray([d.features for d in data], dtype=float)
    y = np.asarray([d.pass_rate for d in data], dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-12] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    weights = np.zeros(z.shape[1])
    penalty = np.diag([RIDGE] * (z.shape[1] - 1) + [0.0])
    for _ in range(NEWTON_STEPS):
        p = 1.0 / (1.0 + np.exp(-(z @ weights)))
        gradient = z.T @ (p - y) / len(y) + penalty @ weights
        hessian = (z.T * (p * (1 - p))) @ z / len(y) + penalty + 1e-9 * np.eye(z.shape[1])
        weights = weights - np.linalg.solve(hessian, gradient)
    model = Difficulty(features=FEATURES, mean=mean.tolist(), scale=scale.tolist(), coef=weights[:-1].tolist(),
                       intercept=float(weights[-1]), edges=[])
    scores = np.asarray([model.predict(d.features) for d in data])
    return model.model_copy(update={"edges": _edges(scores, bins)})


def _edges(scores: np.ndarray, bins: int) -> list[float]:
    """Descending cut points at quantiles of the scores, dropping any that would leave a bin empty."""
    cuts = sorted({float(np.quantile(scores, q)) for q in np.arange(1, bins) / bins}, reverse=True)
    while True:
        counts = np.bincount([next((i for i, e in enumerate(cuts) if s >= e), len(cuts)) for s in scores],
                             minlength=len(cuts) + 1)
        empty = [i for i, c in enumerate(counts) if c == 0]
        if not empty:
            return cuts
        del cuts[min(empty[0], len(cuts) - 1)]


def write_router(router: RouterFile, path: str | Path) -> None:
    Path(path).write_text(router.model_dump_json(indent=1) + "\n", encoding="utf-8")


def fit_router(sweep_dir: str | Path, *, more_sweeps: Sequence[str | Path] = (), model: str | None = None,
               probe_samples: int = 4, bins: int = 4, require: Sequence[str] = ()) -> RouterFile:
    """Fit a router on the sweep in `sweep_dir` (see the module docstring); a pure function of its files.

    `more_sweeps`: further dev sweeps of the same problems and model whose strategies are choices too
    (e.g. the search strategies at fewer budgets); the probe and the difficulty model come from `sweep_dir`.
    """
    return fit([Path(sweep_dir), *map(Path, more_sweeps)], model=model, probe_samples=probe_samples, bins=bins,
               require=tuple(require))


def sweep_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for name in ("summary.json", "results.jsonl"):
        digest.update(name.encode())
        digest.update((folder / name).read_bytes())
    return digest.hexdigest()
