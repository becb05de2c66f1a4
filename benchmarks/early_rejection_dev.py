"""Choosing `early_rejection`'s defaults on the dev split (rule 4 of benchmarks/results/confidence_selection_rules.md).

Run (after `confidence_dev.py draw` wrote the dev samples):
    heavy python benchmarks/early_rejection_dev.py runs/conf/tiny-dev.jsonl runs/conf/small-dev.jsonl \\
        --out benchmarks/results/early_rejection_dev.json

On each dev problem's first 16 samples (exactly what a direct n = 16 run draws), `tiny-prm` scores every
sample's text through step k and its whole text (min over steps). Simulated, as the strategy runs with
every candidate decoding one token per step: the early scoring happens when the slowest candidate has
begun step k + 1 (or ended); the best ceil(keep x 16) go on and the rest stop there; the kept one with
the best whole-text score is the answer. Against best-of-16 by the same PRM on the same samples. FLOPs:
2 x policy parameters x (prompt once + tokens generated) + 2 x PRM parameters x tokens the PRM read.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import statistics
from pathlib import Path

from measure import write_results


GRID = {"steps": (1, 2), "keep": (0.125, 0.25, 0.5)}
N = 16
WINDOW = 0.01


def prm_table(records: list[dict], prm, tokenizer) -> list[dict]:
    """Per problem and sample: whole-text and step-k PRM scores (min), PRM tokens, and policy tokens to step k."""
    from reasoner.verifiers.prm import aggregate

    out = []
    for record in records:
        prompt = record["prompt"]
        samples = record["samples"][:N]
        texts = [s["text"] for s in samples]
        rows = {"whole": texts, **{k: [_cut(prm.step_format, t, k) for t in texts] for k in GRID["steps"]}}
        scored = {key: prm.score([(prompt, t if t is not None else "") for t in values]) for key, values in rows.items()}
        entry = {"samples": []}
        for i, sample in enumerate(samples):
            item = {"correct": sample["correct"], "tokens": sample["tokens"],
                    "whole": aggregate(scored["whole"].steps[i], "min"), "whole_prm": scored["whole"].item_tokens[i]}
            for k in GRID["steps"]:
                cut = rows[k][i]
                item[f"early{k}"] = aggregate(scored[k].steps[i], "min") if cut is not None else item["whole"]
                item[f"early{k}_prm"] = scored[k].item_tokens[i] if cut is not None else item["whole_prm"]
                item[f"reach{k}"] = len(tokenizer.encode(cut, add_special_tokens=False)) + 1 if cut is not None else None
            entry["samples"].append(item)
        entry["prompt_tokens"] = record["prompt_tokens"]
        out.append(entry)
    return out


def _cut(step_format, text: str, k: int) -> str | None:
    """The text through step k when the sample went on past it; None when it ended within k steps."""
    return step_format.prefix(text, k) if len(step_format.split(text)) > k else None


def simulate(entry: dict, steps: int, keep: float, params: int, prm_params: int) -> dict:
    samples = entry["samples"]
    reach = [s[f"reach{steps}"] for s in samples]
    cut_at = max((r for r in reach if r is not None), default=None)
    kept = sorted(range(N), key=lambda i: (-samples[i][f"early{steps}"], i))[:max(1, math.ceil(keep * N))]
    spent = sum(s["tokens"] if i in kept or cut_at is None else min(s["tokens"], cut_at) for i, s in enumerate(samples))
    prm_tokens = sum(s[f"early{steps}_prm"] for s in samples)
    prm_tokens += sum(samples[i]["whole_prm"] for i in kept if reach[i] is not None)  # ended ones: scored once
    best = max(kept, key=lambda i: (samples[i]["whole"], -i))
    flops = 2.0 * params * (entry["prompt_tokens"] + spent) + 2.0 * prm_params * prm_tokens
    return {"correct": float(samples[best]["correct"]), "flops": flops, "tokens": spent}


def best_of_n(entry: dict, params: int, prm_params: int) -> dict:
    samples = entry["samples"]
    best = max(range(N), key=lambda i: (samples[i]["whole"], -i))
    flops = 2.0 * params * (entry["prompt_tokens"] + sum(s["tokens"] for s in samples)) + \
        2.0 * prm_params * sum(s["whole_prm"] for s in samples)
    return {"correct": float(samples[best]["correct"]), "flops": flops, "tokens": sum(s["tokens"] for s in samples)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="confidence_dev.py draw files, named MODEL-dev.jsonl")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/early_rejection_dev.json"))
    args = parser.parse_args()
    from transformers import AutoTokenizer

    from reasoner.engine.models import resolve_model
    from reasoner.tasks import load_task
    from reasoner.engine.models import count_parameters
    from reasoner.verifiers.prm import PRMSettings, open_prm

    # The driver-side runner scores synchronously and reads every prefix in full: its token counts are the
    # uncached PRM reads the FLOPs formula above charges (the vLLM runner's scores agree within 1e-4).
    prm = open_prm("tiny-prm", PRMSettings(runner="torch"))
    prompts = {p.id: p.prompt for p in load_task("arith", "dev")}
    cells, base = {}, {}
    for path in args.runs:
        model = Path(path).stem.split("-")[0]
        records = [json.loads(line) for line in Path(path).open()]
        for record in records:
            record["prompt"] = prompts[record["problem_id"]]
        tokenizer = AutoTokenizer.from_pretrained(resolve_model(model))
        table = prm_table(records, prm, tokenizer)
        params = count_parameters(resolve_model(model))
        reference = [best_of_n(e, params, prm.parameters) for e in table]
        base[model] = {"accuracy": statistics.fmean(r["correct"] for r in reference),
                       "flops": statistics.fmean(r["flops"] for r in reference),
                       "tokens": statistics.fmean(r["tokens"] for r in reference)}
        for steps, keep in itertools.product(*GRID.values()):
            outcomes = [simulate(e, steps, keep, params, prm.parameters) for e in table]
            accuracy = statistics.fmean(o["correct"] for o in outcomes)
            flops = statistics.fmean(o["flops"] for o in outcomes)
            cells.setdefault((steps, keep), {})[model] = {
                "accuracy": accuracy, "flops_ratio": flops / base[model]["flops"],
                "tokens": statistics.fmean(o["tokens"] for o in outcomes),
                "qualifies": accuracy >= base[model]["accuracy"] - WINDOW}
    rows = [{"steps": s, "keep": k, "cells": c} for (s, k), c in cells.items()]
    qualifying = [r for r in rows if all(c["qualifies"] for c in r["cells"].values())]
    mean = lambda row, key: statistics.fmean(c[key] for c in row["cells"].values())  # noqa: E731
    chosen = min(qualifying, key=lambda r: (mean(r, "flops_ratio"), -mean(r, "accuracy"))) if qualifying else \
        max(rows, key=lambda r: mean(r, "accuracy"))
    report = {"rules": "benchmarks/results/confidence_selection_rules.md (rule 4)", "split": "dev",
              "best_of_16_prm": base, "grid": rows, "chosen": chosen, "equal_accuracy_met_on_dev": bool(qualifying)}
    write_results(args.out, report, indent=1)
    print(json.dumps({"chosen": chosen, "base": base}, indent=1))


if __name__ == "__main__":
    main()
