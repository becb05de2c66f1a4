"""Session fixtures: one tiny random Llama checkpoint and one vLLM engine per test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reasoner.training.checkpoint import ModelShape, init_checkpoint, train_tokenizer

TINY_SHAPE = ModelShape(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                        num_attention_heads=2, max_position_embeddings=512)


def _corpus() -> list[str]:
    lines = []
    for i in range(400):
        a, b = i % 97, (i * 7) % 89
        lines.append(f"Ann has {a} pens and buys {b} more. How many pens does she have?\n"
                     f"{a} + {b} = {a + b}\nThe answer is \\boxed{{{a + b}}}.")
        lines.append(f"Write a Python function `f(x)` that returns x times {b}.\n"
                     f"```python\ndef f(x):\n    return x * {b}\n```")
    return lines


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised 2-layer Llama with a project-trained tokenizer."""
    out = tmp_path_factory.mktemp("tiny-checkpoint")
    tokenizer = train_tokenizer(_corpus(), vocab_size=384)
    return init_checkpoint(out, tokenizer, TINY_SHAPE, seed=0)


@pytest.fixture(scope="session")
def engine(tiny_checkpoint: Path):
    """The session's one in-process vLLM generator on the tiny checkpoint."""
    from reasoner.engine.backends.vllm import VLLMGenerator
    from reasoner.engine.runtime import run_sync

    # Default engine options, so CLI calls in the same process share this engine.
    generator = VLLMGenerator.shared(str(tiny_checkpoint))
    generator.engine()
    yield generator
    run_sync(generator.close())


@pytest.fixture(scope="session")
def math_verifier():
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(timeout=5.0) as verifier:
        yield verifier


@pytest.fixture(scope="session")
def code_verifier():
    from reasoner.verifiers.code import CodeVerifier

    with CodeVerifier(timeout=10.0) as verifier:
        yield verifier


@pytest.fixture(scope="session")
def verifiers(math_verifier, code_verifier):
    """The session's verifiers as the set strategies and jobs take."""
    from reasoner.verifiers import VerifierSet

    return VerifierSet({"math": math_verifier, "code": code_verifier})


@pytest.fixture(scope="session")
def dev_sweep(engine, tiny_checkpoint, verifiers, tmp_path_factory) -> Path:
    """A finished sweep of 6 arith dev problems at budgets 1, 2, 4, for fitting routers; a search
    strategy (beam search by logprob) among the choices."""
    from reasoner.eval.sweep import make_config, run_sweep

    out = tmp_path_factory.mktemp("dev-sweep")
    config = make_config(dataset="arith", split="dev", limit=6, models=str(tiny_checkpoint),
                         strategies="cot,self_consistency,best_of_n,adaptive_consistency,beam_search",
                         budgets="1,2,4", max_tokens=16, scorer="logprob",
                         strategy_options={"beam_search": {"value": "logprob", "max_steps": 2, "step_tokens": 8}})
    run_sweep(config, out, lambda model: engine, verifiers, progress=False)
    return out


RAY_TEST_RUNTIME = {"num_cpus": 4, "include_dashboard": False, "log_to_driver": False}
"""`ray.init` options of the session's Ray runtime (a test that needs another runtime restores this one)."""


@pytest.fixture(scope="session")
def ray_runtime():
    """A local Ray runtime for the session; logical CPUs let two engine actors plus tasks fit."""
    import ray

    ray.init(**RAY_TEST_RUNTIME)
    yield ray
    ray.shutdown()


@pytest.fixture(autouse=True, scope="module")
def _close_prm_engines():
    """PRM engines (one vLLM process each) are closed with the test module that started them, so that a
    session never holds more than a module's worth of them."""
    import sys

    yield
    pooling = sys.modules.get("reasoner.engine.backends.pooling")
    if pooling is not None:
        pooling.VLLMPooler.close_all()


@pytest.fixture(autouse=True, scope="session")
def _quiet_vllm() -> None:
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
