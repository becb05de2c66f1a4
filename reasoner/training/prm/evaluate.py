"""How well a PRM judges steps and ranks solutions of one problem, on policy samples with known answers.

Inputs are samples grouped by problem (`Rollout`s, e.g. 16 per problem) and
the PRM's step scores for each. Two families of figures:

- **step level**: the exact checker gives each sample's first wrong step (or
  none); the PRM's first wrong step is its first step scored below 0.5.
  Precision = right first-wrong-step calls / samples the PRM flags; recall =
  right calls / samples with a wrong step; F1 of the two; overall and per level.
- **selection**: accuracy against samples per problem of best-of-n by PRM
  (each aggregation), the PRM-weighted vote, best-of-n by ORM, by mean
  log-prob, majority vote and pass@k. A budget b below the samples per
  problem averages over the disjoint blocks of b samples.

`score_groups` scores samples with a PRM network in memory (the trainer's
dev curve); `benchmarks/bench_prm.py` scores saved PRM folders. Both report
through `dev_figures` / `step_level` / `selection`. Not here: sampling.
"""

from __future__ import annotations

from collections import defaultdict

from reasoner.steps import StepFormat
from reasoner.training.prm.data import Rollout, exact_labels, first_wrong, step_checker

BUDGETS = (1, 2, 4, 8, 16)


def group_by_problem(rollouts: list[Rollout], limit: int | None = None) -> list[list[Rollout]]:
    """Samples grouped by problem, in first-seen order; the first `limit` problems."""
    groups: dict[str, list[Rollout]] = {}
    for rollout in rollouts:
        groups.setdefault(rollout.problem_id, []).append(rollout)
    problems = list(groups.values())
    return problems[:limit] if limit else problems


def step_level(problems: list[list[Rollout]], scores: list[list[list[float]]], fmt: StepFormat,
               task: str = "arith") -> dict:
    """Precision, recall and F1 of the first wrong step, overall (`all`) and per level."""
    check = step_checker(task)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for group, group_scores in zip(problems, scores):
        for rollout, row in zip(group, group_scores):
            truth = first_wrong(exact_labels(rollout, fmt, check))
            guess = first_wrong(row)
            for key in ("all", f"level {rollout.level}"):
                block = counts[key]
                block["samples"] += 1
                block["with_error"] += truth is not None
                block["flagged"] += guess is not None
                block["hit"] += truth is not None and guess == truth
                block["clean_kept"] += truth is None and guess is None
    return {key: _prf(block) for key, block in sorted(counts.items())}


def _prf(block: dict[str, int]) -> dict:
    precision = block["hit"] / block["flagged"] if block["flagged"] else 0.0
    recall = block["hit"] / block["with_error"] if block["with_error"] else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    clean = block["samples"] - block["with_error"]
    return {**block, "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "clean_kept_rate": round(block["clean_kept"] / clean, 4) if clean else None}


def _candidate(rollout: Rollout):
    from reasoner.types import Candidate, FinishReason

    mean = rollout.mean_logprob
    return Candidate(text=rollout.text, num_tokens=rollout.num_tokens, finish_reason=FinishReason.STOP,
                     cumulative_logprob=None if mean is None else mean * rollout.num_tokens)


def _answer_label(rollout: Rollout) -> int | None:
    from reasoner.verifiers.math import extract_answer

    found = extract_answer(rollout.text)
    try:
        return int(found) if found is not None else None
    except ValueError:
        return None


def _pick_best(block: list[Rollout], values: list[float]) -> bool:
    return block[max(range(len(block)), key=lambda i: values[i])].correct


def _pick_vote(block: list[Rollout], weights: list[float] | None) -> bool:
    from reasoner.strategies.base import samples_of
    from reasoner.strategies.self_consistency import tally

    samples = samples_of([_candidate(r) for r in block], [_answer_label(r) for r in block], weights)
    vote = tally(samples, by_score=weights is not None)
    return vote.winner is not None and block[vote.winner].correct


def selection(problems: list[list[Rollout]], prm: list | None, orm: list | None = None,
              vote_aggregations: tuple[str, ...] = ("min",), budgets: tuple[int, ...] = BUDGETS) -> dict:
    """Accuracy per method per budget (mean over problems and disjoint sample blocks)."""
    table: dict[str, dict[int, float]] = defaultdict(dict)
    for budget in budgets:
        hits: dict[str, list[float]] = defaultdict(list)
        for index, group in enumerate(problems):
            per_block: dict[str, list[bool]] = defaultdict(list)
            for start in range(0, len(group) - budget + 1, budget):
                block = group[start:start + budget]
                picks = _methods(block, start, budget, prm and prm[index], orm and orm[index], vote_aggregations)
                for name, hit in picks.items():
                    per_block[name].append(hit)
            for name, values in per_block.items():
                hits[name].append(sum(values) / len(values))
        for name, values in hits.items():
            table[name][budget] = round(sum(values) / len(values), 4)
    return dict(table)


def _methods(block, start, budget, prm_rows, orm_rows, vote_aggregations) -> dict[str, bool]:
    from reasoner.verifiers.prm import AGGREGATIONS, aggregate

    picks = {"pass@k": any(r.correct for r in block),
             "majority": _pick_vote(block, None),
             "logprob_bon": _pick_best(block, [r.mean_logprob if r.mean_logprob is not None else -1e9 for r in block])}
    if prm_rows is not None:
        rows = prm_rows[start:start + budget]
        for how in AGGREGATIONS:
            picks[f"prm_bon_{how}"] = _pick_best(block, [aggregate(row, how) for row in rows])
        for how in vote_aggregations:
            picks[f"prm_vote_{how}"] = _pick_vote(block, [aggregate(row, how) for row in rows])
    if orm_rows is not None:
        rows = orm_rows[start:start + budget]
        picks["orm_bon"] = _pick_best(block, [aggregate(row, "last") for row in rows])
    return picks


def dev_figures(problems: list[list[Rollout]], scores: list[list[list[float]]], fmt: StepFormat) -> dict:
    """The selection rule's figures on one sample set: F1, and at the full budget best-of-n by PRM per
    aggregation, the PRM-weighted vote per aggregation, majority vote, log-prob best-of-n and pass@k."""
    from reasoner.verifiers.prm import AGGREGATIONS

    budget = min(len(group) for group in problems)
    table = selection(problems, scores, vote_aggregations=tuple(AGGREGATIONS), budgets=(budget,))
    figures = {name: row[budget] for name, row in table.items()}
    return {"f1": step_level(problems, scores, fmt)["all"]["f1"], "budget": budget, **figures}


def score_groups(model, tokenizer, fmt: StepFormat, problems: list[list[Rollout]], max_len: int,
                 batch_problems: int = 4) -> list[list[list[float]]]:
    """Per problem, per sample, per step: the network's probability that the solution is still right.

    Each problem's samples are read in one packed row (`reasoner.training.prm.encoded`);
    a step past `max_len` tokens gets no score.
    """
    import torch

    from reasoner.training.prm.data import Labelled
    from reasoner.training.prm.encoded import encode_examples, packed_step_logits

    examples = [Labelled(problem_id=r.problem_id, prompt=r.prompt, text=r.text,
                         labels=[1.0] * len(fmt.split(r.text))) for group in problems for r in group]
    positions = [(g, i) for g, group in enumerate(problems) for i in range(len(group))]
    data = encode_examples(tokenizer, fmt, examples, max_len)
    out: list[list[list[float]]] = [[[] for _ in group] for group in problems]
    rows = data.rows_of()
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for start in range(0, data.problems, batch_problems):
            batch = [(g, list(rows[g])) for g in range(start, min(start + batch_problems, data.problems))]
            logits = packed_step_logits(model, data, batch, tokenizer.pad_token_id)
            flat = [row for _, solutions in batch for row in solutions]
            for row, values in zip(flat, logits):
                g, i = positions[int(data.origin[row])]
                out[g][i] = torch.sigmoid(values.float()).tolist()
    model.train(was_training)
    return out

