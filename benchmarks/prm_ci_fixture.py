"""Cut the CI fixture of the bundled PRM's quality floor from the dev samples (tests/reasoner/training/test_bundled_prm.py).

The first `--problems` problems of a dev sample file, the first `--samples` samples of each, written to
tests/fixtures. Dev split only: the floor never reads test problems.

    python benchmarks/prm_ci_fixture.py --samples runs/prm/samples/tiny-dev200.jsonl --out tests/fixtures/prm_dev_tiny_50x8.jsonl
    python benchmarks/prm_ci_fixture.py --samples runs/prm/samples/small-dev200.jsonl --out tests/fixtures/prm_dev_small_50x8.jsonl
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoner.training.prm.data import Rollout, read_jsonl, write_jsonl
from reasoner.training.prm.evaluate import group_by_problem


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=Path, required=True, help="dev samples (prm_samples.py --split dev)")
    parser.add_argument("--problems", type=int, default=50)
    parser.add_argument("--per-problem", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    rollouts = read_jsonl(args.samples, Rollout)
    if any("-dev-" not in r.problem_id for r in rollouts):
        raise SystemExit(f"{args.samples} holds problems outside the dev split")
    groups = group_by_problem(rollouts, args.problems)
    write_jsonl(args.out, [r for group in groups for r in group[: args.per_problem]])
    print(f"wrote {args.out}: {len(groups)} problems x {args.per_problem}")


if __name__ == "__main__":
    main()
