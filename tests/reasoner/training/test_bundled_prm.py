"""A quality floor for the bundled `tiny-prm`, on a fixed set of dev-split samples committed beside the tests.

The fixtures hold the first 50 problems of the `arith` dev split (10 per level)
with 8 samples each from `tiny` and from `small` (T 0.8, top-p 0.95, 256 max
tokens, seed 1: `benchmarks/prm_samples.py --split dev --problems 50 --samples 8`,
cut by `benchmarks/prm_ci_fixture.py`, which refuses any problem outside the dev
split). The test split is never read here.

The floors come from one dev measurement of the bundled `tiny-prm` (round 2's,
still the bundled one: issue #29's retrained PRM is not trained yet) on these
fixtures: `benchmarks/bench_prm.py --samples tests/fixtures/prm_dev_POLICY_50x8.jsonl
--split dev --prm reasoner/data/models/tiny-prm --policy POLICY`, written to
`benchmarks/results/prm_ci_floor_POLICY.json`. Each floor is that figure less a
margin: 0.03 of F1, and 0.06 of accuracy (three problems in 50) for best-of-8 by
the PRM against majority@8. Scoring is deterministic, so the margin is only
room for bf16 kernels that differ between machines; a PRM that judges steps or
ranks solutions worse than today's fails here. When a retrained PRM is bundled,
re-measure and raise the floors (MODEL.md says how).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner.engine.models import BUNDLED_DIR
from reasoner.training.prm.data import Rollout, read_jsonl
from reasoner.training.prm.evaluate import group_by_problem, selection, step_level

FIXTURES = Path(__file__).parents[2] / "fixtures"
PROBLEMS, SAMPLES = 50, 8
FLOORS = {
    # sample set: (first-wrong-step F1 at least, best-of-8 by PRM minus majority@8 at least)
    "prm_dev_tiny_50x8.jsonl": (None, None),
    "prm_dev_small_50x8.jsonl": (None, None),
}
AGGREGATION = "min"
"""Best-of-n's aggregation for `tiny-prm`, chosen on the dev split in round 2 (MODEL.md, `tiny-prm`)."""


def _fixture(name: str) -> list[list[Rollout]]:
    problems = group_by_problem(read_jsonl(FIXTURES / name, Rollout))
    assert len(problems) == PROBLEMS and all(len(group) == SAMPLES for group in problems)
    assert all("-dev-" in r.problem_id for group in problems for r in group)
    return problems


def _figures(problems: list[list[Rollout]], scores: list[list[list[float]]], fmt) -> tuple[float, float]:
    """First-wrong-step F1, and best-of-8 by the PRM minus majority@8."""
    f1 = step_level(problems, scores, fmt)["all"]["f1"]
    table = selection(problems, scores, budgets=(SAMPLES,))
    return f1, table[f"prm_bon_{AGGREGATION}"][SAMPLES] - table["majority"][SAMPLES]


@pytest.fixture(scope="module")
def prm():
    from reasoner.verifiers.prm.local import PRMVerifier

    return PRMVerifier(BUNDLED_DIR / "tiny-prm")


@pytest.mark.parametrize("fixture", list(FLOORS))
def test_the_bundled_prm_stays_above_its_quality_floor(prm, fixture):
    problems = _fixture(fixture)
    flat = prm.score([(r.prompt, r.text) for group in problems for r in group]).steps
    scores = [flat[i * SAMPLES:(i + 1) * SAMPLES] for i in range(PROBLEMS)]
    f1, gain = _figures(problems, scores, prm.step_format)
    f1_floor, gain_floor = FLOORS[fixture]
    assert f1 >= f1_floor, f"first-wrong-step F1 {f1:.3f} fell below {f1_floor}"
    assert gain >= gain_floor, f"best-of-8 by PRM minus majority@8 {gain:+.3f} fell below {gain_floor:+.3f}"


@pytest.mark.parametrize("fixture", list(FLOORS))
@pytest.mark.parametrize("score", [0.9, 0.1])
def test_a_prm_that_cannot_tell_steps_apart_falls_below_the_floors(fixture, score):
    """The floors have teeth: scoring every step alike (never or always flagging) fails both."""
    from reasoner.steps import StepFormat

    fmt = StepFormat(delimiter="\n")
    problems = _fixture(fixture)
    scores = [[[score] * len(fmt.split(r.text)) for r in group] for group in problems]
    f1, gain = _figures(problems, scores, fmt)
    f1_floor, gain_floor = FLOORS[fixture]
    assert f1 < f1_floor and gain < gain_floor, (f1, gain)
