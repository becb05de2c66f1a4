"""The learned verifier: a PRM folder loads, scores steps in shared batches, and refuses bad input."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from reasoner.errors import ConfigError
from reasoner.engine.models import BUNDLED_DIR
from reasoner.steps import StepFormat
from reasoner.verifiers.prm import aggregate
from reasoner.verifiers.prm.local import PRMVerifier

SOLUTIONS = [
    ("Mia has 5 apples. Mia buys 3 more. How many apples does Mia have now?", "5 + 3 = 8\nThe answer is \\boxed{8}."),
    ("Tom has 9 cards. Tom sells 4. How many cards does Tom have now?", "9 - 4 = 5\nThe answer is \\boxed{5}."),
    ("Ana has 6 cups. Now Ana has 3 times as many. How many cups does Ana have now?",
     "6 * 3 = 18\n18 + 1 = 19\nThe answer is \\boxed{19}."),
]


def make_prm(folder: Path, init_from: str | Path, fmt: StepFormat | None = None) -> Path:
    """An untrained PRM (policy weights, fresh head) saved the way `reasoner train prm` saves one."""
    from reasoner.training.checkpoint import save_checkpoint
    from reasoner.training.prm.model import build, save_prm

    model, tokenizer = build(str(init_from), seed=0)
    save_checkpoint(model, tokenizer, folder)
    save_prm(folder, fmt or StepFormat(delimiter="\n"), tokenizer, {"kind": "prm", "labels": "exact"})
    return folder


@pytest.fixture(scope="module")
def prm_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_prm(tmp_path_factory.mktemp("prm"), BUNDLED_DIR / "tiny")


@pytest.fixture(scope="module")
def verifier(prm_folder: Path) -> PRMVerifier:
    return PRMVerifier(prm_folder)


def test_one_score_per_step_as_probabilities(verifier):
    scored = verifier.score(SOLUTIONS)
    assert [len(row) for row in scored.steps] == [2, 2, 3]
    assert all(0.0 < s < 1.0 for row in scored.steps for s in row)
    assert scored.flops == 2.0 * verifier.parameters * scored.tokens and scored.tokens == sum(scored.item_tokens)


def test_scores_do_not_depend_on_batch_company(verifier):
    together = verifier.score(SOLUTIONS).steps
    alone = [verifier.score([item]).steps[0] for item in SOLUTIONS]
    for row_together, row_alone in zip(together, alone):
        assert row_together == pytest.approx(row_alone, abs=1e-4)


def test_concurrent_problems_share_one_forward_pass(verifier):
    async def many_problems():
        return await asyncio.gather(*(verifier.ascore([item, item]) for item in SOLUTIONS))

    before = verifier.forward_calls
    results = asyncio.run(many_problems())
    assert verifier.forward_calls - before == 1
    assert [len(r.steps) for r in results] == [2, 2, 2]
    assert sum(r.tokens for r in results) == sum(verifier.score(SOLUTIONS).item_tokens) * 2
    assert results[2].steps[0] == pytest.approx(verifier.score([SOLUTIONS[2]]).steps[0], abs=1e-4)


def test_forward_batches_are_capped(prm_folder):
    small_batches = PRMVerifier(prm_folder, max_batch=2)
    small_batches.score(SOLUTIONS)
    assert small_batches.forward_calls == 2


@pytest.mark.parametrize(("how", "expected"), [("last", 0.5), ("min", 0.2), ("prod", 0.9 * 0.2 * 0.5),
                                               ("mean", (0.9 + 0.2 + 0.5) / 3)])
def test_aggregations(how, expected):
    assert aggregate([0.9, 0.2, 0.5], how) == pytest.approx(expected)


def test_a_solution_without_steps_scores_zero():
    assert aggregate([], "min") == 0.0


def test_unknown_aggregation_is_named():
    with pytest.raises(ConfigError, match="unknown PRM aggregation 'median'.*last, min, prod, mean"):
        aggregate([0.5], "median")


def test_folder_without_step_format_is_refused(prm_folder, tmp_path):
    broken = tmp_path / "no-format"
    shutil.copytree(prm_folder, broken)
    (broken / "step_format.json").unlink()
    with pytest.raises(ConfigError, match="no step_format.json"):
        PRMVerifier(broken)


def test_policy_with_another_tokenizer_is_refused(verifier, tiny_checkpoint):
    verifier.check_policy("tiny")  # the PRM was built from tiny: same tokenizer
    with pytest.raises(ConfigError, match="different tokenizer from the policy"):
        verifier.check_policy(str(tiny_checkpoint))


def test_step_format_travels_with_the_prm(tmp_path):
    folder = make_prm(tmp_path / "blank-line", BUNDLED_DIR / "tiny", StepFormat(delimiter="\n\n"))
    verifier = PRMVerifier(folder)
    scored = verifier.score([("Q", "First we add.\nStill the first step.\n\nThen the answer is \\boxed{3}.")])
    assert verifier.step_format.delimiter == "\n\n" and len(scored.steps[0]) == 2
