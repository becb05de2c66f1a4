"""A quality floor for the bundled `tiny-prm`, on a fixed set of dev-split samples committed beside the tests.

The fixture holds the first 50 problems of the `arith` dev split with 8 samples
each from `tiny` and from `small` (T 0.8, top-p 0.95, seed 1: the first 8 of the
16 dev samples the PRM was chosen on; `benchmarks/prm_ci_fixture.py` cut them).
The floors are the bundled PRM's own figures on this fixture, measured when it
was bundled (MODEL.md), less a margin of about three problems' worth, so a retrained PRM that
judges steps or ranks solutions worse fails here. Round 2's `tiny-prm` fails them
(MODEL.md gives its figures on the same fixture).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reasoner.engine.models import BUNDLED_DIR
from reasoner.training.prm.data import Rollout, read_jsonl
from reasoner.training.prm.evaluate import group_by_problem, selection, step_level

FIXTURES = Path(__file__).parents[2] / "fixtures"
FLOORS = {
    # sample set: (first-wrong-step F1 at least, best-of-8 by PRM minus majority@8 at least)
    "prm_dev_tiny_50x8.jsonl": (None, None),
    "prm_dev_small_50x8.jsonl": (None, None),
}
AGGREGATION = None
"""The aggregation the dev split chose for best-of-n (benchmarks/prm_selection_rule.md)."""


@pytest.fixture(scope="module")
def prm():
    from reasoner.verifiers.prm.local import PRMVerifier

    return PRMVerifier(BUNDLED_DIR / "tiny-prm")


@pytest.mark.parametrize("fixture", list(FLOORS))
def test_the_bundled_prm_stays_above_its_quality_floor(prm, fixture):
    problems = group_by_problem(read_jsonl(FIXTURES / fixture, Rollout))
    assert len(problems) == 50 and all(len(group) == 8 for group in problems)
    flat = prm.score([(r.prompt, r.text) for group in problems for r in group]).steps
    scores = [flat[i * 8:(i + 1) * 8] for i in range(len(problems))]
    f1 = step_level(problems, scores, prm.step_format)["all"]["f1"]
    table = selection(problems, scores, budgets=(8,))
    gain = table[f"prm_bon_{AGGREGATION}"][8] - table["majority"][8]
    f1_floor, gain_floor = FLOORS[fixture]
    assert f1 >= f1_floor, f"first-wrong-step F1 {f1:.3f} fell below {f1_floor}"
    assert gain >= gain_floor, f"best-of-8 by PRM minus majority@8 {gain:+.3f} fell below {gain_floor:+.3f}"
