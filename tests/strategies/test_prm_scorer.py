"""The PRM scorer: best-of-n and weighted votes by PRM score, its own cost line, and clear errors."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path

import pytest

from reasoner.budget import Meter
from reasoner.cli import main
from reasoner.errors import ConfigError
from reasoner.engine.generation import GenerationRequest
from reasoner.engine.models import BUNDLED_DIR
from reasoner.jobs.solve import solve_problem
from reasoner.types import Budget, Problem
from reasoner.strategies.best_of_n import BestOfN
from reasoner.strategies.self_consistency import SelfConsistency
from tests.scripted import ScriptedGenerator
from tests.verifiers.test_prm import make_prm
from reasoner.verifiers.prm import PRMSet, aggregate, open_prm

PRMS = PRMSet()
"""The PRMs these tests' strategies score with, loaded once for the module (as a pool holds them)."""

FIXTURES = Path(__file__).parent.parent / "fixtures"
PROBLEM = Problem(id="cups", prompt="Ana has 6 cups. Now Ana has 3 times as many. How many cups does Ana have now?",
                  answer="18")
TEXTS = ["6 * 3 = 18\nThe answer is \\boxed{18}.", "6 * 3 = 19\nThe answer is \\boxed{19}.",
         "6 + 3 = 9\n9 * 2 = 18\nThe answer is \\boxed{18}.", "The answer is \\boxed{12}."]


@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PRM on bundled tiny's tokenizer (its head untrained: these tests are about wiring, not quality)."""
    return str(make_prm(tmp_path_factory.mktemp("tiny-prm"), BUNDLED_DIR / "tiny"))


@pytest.fixture(scope="module")
def checkpoint_prm(tmp_path_factory: pytest.TempPathFactory, tiny_checkpoint: Path) -> str:
    """A PRM on the test engine's tokenizer."""
    return str(make_prm(tmp_path_factory.mktemp("checkpoint-prm"), tiny_checkpoint))


def _prm_scores(folder: str, how: str) -> list[float]:
    rows = open_prm(folder).score([(PROBLEM.prompt, text) for text in TEXTS]).steps
    return [aggregate(row, how) for row in rows]


@pytest.mark.parametrize("how", ["min", "last"])
def test_best_of_n_keeps_the_candidate_the_prm_ranks_highest(tiny_prm, how, verifiers):
    strategy = BestOfN(n=4, scorer="prm", scorer_options={"prm": tiny_prm, "aggregation": how})
    result = asyncio.run(solve_problem(PROBLEM, strategy, ScriptedGenerator(TEXTS), verifiers, prms=PRMS))
    scores = _prm_scores(tiny_prm, how)
    assert result.chosen == max(range(4), key=lambda i: scores[i])
    assert next(e.data["scores"] for e in result.trace if e.kind == "score") == pytest.approx(scores, abs=1e-5)


def test_prm_cost_is_booked_on_its_own_line(tiny_prm, verifiers):
    generator = ScriptedGenerator(TEXTS, parameters=1000)
    strategy = BestOfN(n=4, scorer="prm", scorer_options={"prm": tiny_prm})
    result = asyncio.run(solve_problem(PROBLEM, strategy, generator, verifiers, prms=PRMS))
    verifier = open_prm(tiny_prm)
    tokens = sum(verifier.score([(PROBLEM.prompt, text) for text in TEXTS]).item_tokens)
    cost = result.cost
    assert cost.prm_tokens == tokens
    assert cost.prm_flops == pytest.approx(2.0 * verifier.parameters * tokens)
    assert cost.prm_seconds > 0
    assert cost.flops == 2.0 * 1000 * (cost.prompt_tokens + cost.generated_tokens)  # generation only
    assert cost.total_flops == pytest.approx(cost.flops + cost.prm_flops)


def test_the_flops_budget_counts_prm_flops():
    generator = ScriptedGenerator(TEXTS, parameters=1000)
    meter = Meter(generator, Budget(flops=1e6))
    request = GenerationRequest(prompt="q", n=1)
    assert asyncio.run(meter.generate(request))  # 1e6 FLOPs allow about 500 tokens of this model
    meter.book_prm(tokens=100, flops=1e6, seconds=0.01)
    assert asyncio.run(meter.generate(request)) == []
    assert meter.stop_reason == "budget:tokens"


def test_self_consistency_weights_votes_by_prm_score(tiny_prm, verifiers):
    strategy = SelfConsistency(n=4, weight_scorer="prm", scorer_options={"prm": tiny_prm, "aggregation": "mean"})
    result = asyncio.run(solve_problem(PROBLEM, strategy, ScriptedGenerator(TEXTS), verifiers, prms=PRMS))
    scores = _prm_scores(tiny_prm, "mean")
    vote = next(e.data for e in result.trace if e.kind == "vote")
    by_answer = {tuple(sorted(members)): vote["weights"][label] for label, members in vote["groups"].items()}
    assert by_answer[(0, 2)] == pytest.approx(scores[0] + scores[2], abs=1e-5)
    assert by_answer[(1,)] == pytest.approx(scores[1], abs=1e-5)
    assert result.cost.prm_tokens > 0


def test_a_policy_with_another_tokenizer_is_refused(engine, tiny_checkpoint, tiny_prm, verifiers):
    strategy = BestOfN(n=2, max_tokens=4, scorer="prm", scorer_options={"prm": tiny_prm})
    with pytest.raises(ConfigError, match="different tokenizer from the policy"):
        asyncio.run(solve_problem(PROBLEM, strategy, engine, verifiers, prms=PRMS))


def test_solve_with_a_prm_from_the_command_line(engine, tiny_checkpoint, checkpoint_prm, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--model", str(tiny_checkpoint),
                 "--strategy", "best_of_n", "--n", "2", "--max-tokens", "8", "--scorer", "prm",
                 "--prm", checkpoint_prm, "--aggregation", "prod", "--out", str(out), "--json"])
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 2 and all(r["cost"]["prm_tokens"] > 0 and r["error"] is None for r in records)


@pytest.mark.parametrize(("extra", "message", "status"), [
    (["--aggregation", "median"], "unknown PRM aggregation 'median'", 2),  # a bad option value: a usage error
    (["--prm", "NO-FORMAT"], "no step_format.json", 2),
    (["--prm", "NOWHERE"], "no model folder at", 2),  # checked with the options, as a search strategy's --prm is
])
def test_bad_prm_options_fail_before_solving(extra, message, status, tiny_prm, tmp_path, capsys):
    broken = tmp_path / "no-format"
    shutil.copytree(tiny_prm, broken)
    (broken / "step_format.json").unlink()
    extra = [str(broken) if e == "NO-FORMAT" else str(tmp_path / "absent") if e == "NOWHERE" else e for e in extra]
    code = main(["solve", "--dataset", str(FIXTURES / "problems.jsonl"), "--strategy", "best_of_n",
                 "--scorer", "prm", *extra])
    assert code == status
    assert message in capsys.readouterr().err
