"""Fixtures of the strategy tests: bundled `tiny` on one vLLM engine for the whole package."""

from __future__ import annotations

import pytest

from reasoner.engine.runtime import run_sync


@pytest.fixture(scope="package")
def tiny_engine():
    """Bundled `tiny` on vLLM, started once for every strategy test that asks for it (an engine start is
    most of such a test module's time) and closed after the package's last test."""
    from reasoner.engine.backends.vllm import VLLMGenerator

    generator = VLLMGenerator.shared("tiny")
    generator.engine()
    yield generator
    run_sync(generator.close())
