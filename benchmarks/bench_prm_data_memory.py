"""Does the PRM data pipeline's memory stay flat as the data grows to 200,000+ solutions?

The rollouts are synthetic so that no engine runs: for each training-stream problem,
its reference solution and seven one-slip attempts (`arith.wrong_attempt`), written
as the raw rollout files of one source. Everything after sampling is the real
pipeline: `build_data` pools, deduplicates, labels and balances every shard (1
right + 4 wrong kept per problem), then the trainer's path encodes the shards
(`encode_shard`, cached beside them), joins them (`EncodedSet.concat`) and runs a
few packed training steps. Each size runs in a fresh process; its peak RSS is
measured from outside (`measure.peak_rss_mb`).

    python benchmarks/bench_prm_data_memory.py --shards 4,44 --out benchmarks/results/prm_data_memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

from measure import write_results

SHARD = 1000
SAMPLES = 8
SOURCE = "synthetic:0.8:8"


def config(shards: int):
    from reasoner.training.prm.pipeline import DataConfig, Source

    return DataConfig(problems=shards * SHARD, shard_problems=SHARD, sources=(Source.parse(SOURCE),), keep=4,
                      keep_one_sided=2, seed=7)


def write_raw(folder: Path, shards: int) -> None:
    """Synthetic raw rollouts for every shard not written yet (reference + 7 slips per problem)."""
    from reasoner.tasks import arith
    from reasoner.training.prm.data import rollout_of, write_jsonl
    from reasoner.training.prm.pipeline import DataFolder, shard_problems

    data, cfg = DataFolder(folder), config(shards)
    (source,) = cfg.sources
    for index, problems in shard_problems(cfg):
        path = data.raw(source, index)
        if path.is_file():
            continue
        rng = random.Random(index)
        rows = []
        for problem in problems:
            texts = [problem.metadata["solution"]]
            texts += [arith.wrong_attempt(problem, rng)[0] for _ in range(SAMPLES - 1)]
            rows += [rollout_of(problem, text, len(text.split()), -0.5, source.key) for text in texts]
        write_jsonl(path, rows)


def child(folder: Path, shards: int) -> None:
    """In a fresh process: select every shard, encode and join them, and run three packed training steps."""
    import torch
    from transformers import AutoTokenizer

    from reasoner.engine.models import BUNDLED_DIR
    from reasoner.training.prm.encoded import EncodedSet, encode_shard, packed_step_logits
    from reasoner.training.prm.model import build
    from reasoner.training.prm.pipeline import DataFolder, build_data
    from reasoner.steps import StepFormat

    torch.set_num_threads(1)
    started = time.perf_counter()
    build_data(config(shards), folder, progress=False)
    selected = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(BUNDLED_DIR / "tiny")
    data = DataFolder(folder)
    joined = EncodedSet.concat([encode_shard(data.shard(i), tokenizer, StepFormat(delimiter="\n"), 384)
                                for i in range(shards)])
    encoded = time.perf_counter()
    model, _ = build(str(BUNDLED_DIR / "tiny"))
    rows = joined.rows_of()
    for step in range(3):
        batch = [(g, list(rows[g])) for g in range(step * 6, step * 6 + 6)]
        logits = packed_step_logits(model, joined, batch, tokenizer.pad_token_id)
        torch.cat(logits).sum().backward()
    write_results(folder.parent / f"child-{shards}.json", {"solutions": joined.solutions, "problems": joined.problems, "tokens": int(joined.sol_ids.size
                      + joined.prompt_ids.size), "encoded_mb": round(sum(getattr(joined, f).nbytes for f in
                      ("prompt_ids", "prompt_off", "sol_ids", "sol_off", "group", "steps", "step_off", "labels",
                       "origin")) / 2**20, 1),
                      "select_seconds": round(selected - started, 1), "encode_seconds": round(encoded - selected, 1)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", default="4,44", help="data sizes, in shards of 1000 problems")
    parser.add_argument("--work", type=Path, default=Path("runs/bench_prm_data_memory"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        child(args.work / f"data-{args.child}", args.child)
        return
    from measure import peak_rss_mb

    report = {"what": "peak RSS of selecting, encoding and joining N shards and 3 packed training steps, "
                      "in a fresh process per size (no engine: synthetic rollouts)", "rows": []}
    for shards in (int(s) for s in args.shards.split(",")):
        folder = args.work / f"data-{shards}"
        write_raw(folder, shards)
        load = os.getloadavg()[0]
        command = [sys.executable, __file__, "--child", str(shards), "--work", str(args.work), "--out", str(args.out)]
        peak, seconds = peak_rss_mb(command, interval_s=0.1)
        from reasoner.training.prm.pipeline import shard_summary

        summary = shard_summary(folder)
        inside = json.loads((args.work / f"child-{shards}.json").read_text())
        report["rows"].append({"shards": shards, "solutions": summary["right"]["all"] + summary["wrong"]["all"],
                               **inside, "peak_rss_mb": round(peak, 1), "seconds": round(seconds, 1),
                               "load_average": [round(load, 2), round(os.getloadavg()[0], 2)]})
        print(json.dumps(report["rows"][-1]), flush=True)
    rows = report["rows"]
    report["rss_ratio_largest_to_smallest"] = round(rows[-1]["peak_rss_mb"] / rows[0]["peak_rss_mb"], 3)
    report["solutions_ratio"] = round(rows[-1]["solutions"] / rows[0]["solutions"], 2)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_results(args.out, report)


if __name__ == "__main__":
    main()
