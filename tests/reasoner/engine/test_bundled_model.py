"""The bundled `tiny` model: listed, loadable by vLLM, and able to solve easy problems greedily."""

from __future__ import annotations

import json

import pytest

from reasoner.cli import main
from reasoner.engine.models import BUNDLED_DIR, bundled_models, resolve_model
from reasoner.engine.runtime import run_sync

pytestmark = pytest.mark.skipif(not (BUNDLED_DIR / "tiny" / "config.json").is_file(),
                                reason="bundled tiny model not built")


def test_models_command_lists_both_with_their_sizes(capsys):
    assert main(["models", "--json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["tiny"]["available"] and entries["tiny"]["parameters"] > 500_000
    assert entries["small"]["available"]
    # FLOPs per token are 2 x parameters: small costs 4x to 8x what tiny does.
    assert 4 <= entries["small"]["parameters"] / entries["tiny"]["parameters"] <= 8


def test_weights_fit_the_size_limit():
    for entry in bundled_models():
        if entry.available:
            assert sum(f.stat().st_size for f in entry.path.glob("*.safetensors")) <= 20 * 2**20


@pytest.mark.parametrize("model", ["tiny", "small"])
def test_bundled_models_solve_level_one_arithmetic_greedily(model, verifiers):
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.tasks.datasets import load_dataset
    from reasoner.jobs import JobConfig, run_job
    from reasoner.jobs.pool import LocalPool

    generator = VLLMGenerator.shared(model)
    problems = [p for p in load_dataset("arith", limit=50) if p.level == 1]
    config = JobConfig(dataset="arith", strategy="cot", strategy_options={"max_tokens": 64}, model=model)
    try:
        summary = run_sync(run_job(config, problems, LocalPool(generator, verifiers),
                                   progress=False))
    finally:
        run_sync(generator.close())
    assert summary.problems == 10
    assert summary.correct >= 7


def test_default_model_is_tiny():
    assert resolve_model("tiny").endswith("tiny")
    from reasoner.jobs import JobConfig

    assert JobConfig(dataset="arith").model == "tiny"
