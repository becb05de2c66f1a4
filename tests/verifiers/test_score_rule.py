"""The one score rule of `reasoner.verifiers.base`, for every verifier and for the summaries built on it."""

from __future__ import annotations

import pytest

from reasoner.jobs.summary import summarize
from reasoner.verifiers.base import CodeTests, Status, score_for


@pytest.mark.parametrize(("status", "score"), [
    (Status.CORRECT, 1.0), (Status.INCORRECT, 0.0), (Status.UNPARSEABLE, 0.0), (Status.TIMEOUT, 0.0),
    (Status.ERROR, None),
])
def test_score_for_each_status(status, score):
    assert score_for(status) == score


def test_code_verifier_follows_the_rule(code_verifier):
    tests = CodeTests(asserts=["assert f(1) == 2"])
    scores = [code_verifier.verify(text, tests).score for text in
              ("no program here, sorry", "")]
    assert scores == [0.0, 0.0]


def test_math_timeout_scores_zero(math_verifier):
    verdict = math_verifier.verify(r"\boxed{100000!}", "5")
    assert (verdict.status, verdict.score) == (Status.TIMEOUT, 0.0)


def test_summary_counts_and_names_ungradable_problems(math_verifier):
    cases = [("a", r"\boxed{2}", "2"), ("b", "no idea", "2"), ("c", r"\boxed{2}", r"\frac{")]
    records = []
    for problem_id, output, reference in cases:
        verdict = math_verifier.verify(output, reference)
        records.append({"problem_id": problem_id, "status": verdict.status.value, "score": verdict.score,
                        "correct": verdict.correct})
    block = summarize(records)
    assert (block.correct, block.ungradable, block.ungradable_ids) == (1, 1, ["c"])
