"""The verifier against its table (`math_cases.py`): one case per test, every kind.

Correct outputs must score 1.0; wrong, empty or unparseable ones 0.0 (never None).
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.verifiers.math_cases import CASES
from verifiers.math import MathVerifier


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


def test_table_is_large_and_balanced():
    kinds = Counter(case.kind for case in CASES)
    assert len(CASES) >= 300 and len(kinds) >= 15
    assert all(Counter(c.correct for c in CASES if c.kind == kind)[False] >= 1 for kind in kinds)
