"""The verifier seam: one protocol, a registry by domain, and a set that starts each verifier once."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import ValidationError

from reasoner.errors import ConfigError, DataError
from reasoner.jobs.solve import solve_problem
from reasoner.types import Problem
from reasoner.strategies.self_consistency import SelfConsistency
from tests.scripted import ScriptedGenerator
from tests.word_verifier import WordVerifier
from reasoner.tasks.datasets import load_jsonl
from reasoner.verifiers import VERIFIERS, Verifier, VerifierSet


def test_the_bundled_verifiers_implement_the_protocol(math_verifier, code_verifier):
    assert isinstance(math_verifier, Verifier) and math_verifier.domain == "math"
    assert isinstance(code_verifier, Verifier) and code_verifier.domain == "code"
    assert isinstance(WordVerifier(), Verifier)


def test_a_set_starts_the_registered_verifier_of_a_domain_once():
    with VerifierSet(options={"math": {"timeout": 3.0}}) as verifiers:
        math = verifiers.for_domain("math")
        assert type(math).__name__ == "MathVerifier" and math.timeout == 3.0
        assert verifiers["math"] is math
        assert set(verifiers.started()) == {"math"}


def test_an_unknown_domain_is_a_clear_error(tmp_path):
    """Refused by the verifier set, by a problem validated against the registered domains, and by a
    dataset file at its line (loaders are given the registered domains where problems enter)."""
    with pytest.raises(ConfigError, match="unknown verifier domain 'chemistry'"):
        VerifierSet().for_domain("chemistry")
    record = {"id": "p", "prompt": "?", "domain": "chemistry", "answer": "H2O"}
    with pytest.raises(ValidationError, match="unknown domain 'chemistry'"):
        Problem.model_validate(record, context={"domains": VERIFIERS.names()})
    path = tmp_path / "chem.jsonl"
    path.write_text(json.dumps({**record, "domain": "math"}) + "\n" + json.dumps(record) + "\n")
    with pytest.raises(DataError, match=r"chem.jsonl:2: .*unknown domain 'chemistry'"):
        load_jsonl(path)


def test_grade_takes_the_extracted_answer_as_it_is(math_verifier):
    """Grading the answer a strategy chose never extracts again: `3/4` stays 3/4 (a re-extraction
    by the last-number fallback would have made it 4)."""
    assert math_verifier.grade("3/4", "0.75").correct
    assert not math_verifier.grade("3/4", "4").correct


def test_a_domain_given_by_module_path_grades_and_votes_with_its_own_verifier():
    problem = Problem(id="w", prompt="Name a colour.", domain="tests.word_verifier:WordVerifier", answer="red")
    generator = ScriptedGenerator(["It is Red.", "maybe blue", "surely RED", "green"])
    result = asyncio.run(solve_problem(problem, SelfConsistency(n=4), generator, VerifierSet()))
    assert result.answer == "red" and result.verdict.correct
    vote = next(e for e in result.trace if e.kind == "vote")
    assert sorted(len(members) for members in vote.data["groups"].values()) == [1, 1, 2]
