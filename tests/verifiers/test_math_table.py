"""The verifier against its table (`math_cases.py`): one case per test, every kind.

Correct outputs must score 1.0; wrong, empty or unparseable ones 0.0 (never None).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.verifiers.math_cases import CASES
from reasoner.verifiers.math import MathVerifier


@pytest.fixture(scope="module")
def verifier():
    with MathVerifier(timeout=30.0, workers=2) as v:
        yield v


def _id(index: int) -> str:
    case = CASES[index]
    return f"{case.kind}-{index}-{'right' if case.correct else 'wrong'}"


@pytest.mark.parametrize("index", range(len(CASES)), ids=_id)
def test_case(verifier, index):
    case = CASES[index]
    verdict = verifier.verify(case.output, case.reference)
    assert verdict.score == (1.0 if case.correct else 0.0), (verdict.extracted, verdict.detail)
    assert "sympy failed" not in verdict.detail  # a comparison that crashed is a bug even when the score is right


def test_table_is_large_and_balanced():
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 300 and len(kinds) >= 15
    assert all(Counter(c.correct for c in CASES if c.kind == kind)[False] >= 1 for kind in kinds)


def test_a_stated_precision_lets_decimals_match_exact_values():
    with MathVerifier(timeout=30.0, workers=1, rel_tol=1e-3) as stated:
        verdicts = [stated.verify(r"\boxed{(0.4, 1.3333]}", r"(\frac25, \frac43]"),
                    stated.verify(r"\boxed{0.3333}", r"\frac13"), stated.verify(r"\boxed{0.33}", r"\frac13")]
    assert [v.score for v in verdicts] == [1.0, 1.0, 0.0]
