"""Generation backends: an in-process vLLM engine and any OpenAI-compatible server.

`make_generator(backend, model, ...)` picks one by name; a `module:Class` path
also works for third-party backends.
"""

from __future__ import annotations

from typing import Any

from reasoner.engine.generation import Generator
from reasoner.registry import Registry

BACKENDS: Registry = Registry(
    "backend",
    {
        "vllm": "reasoner.engine.backends.vllm:VLLMGenerator",
        "openai": "reasoner.engine.backends.openai:OpenAIGenerator",
    },
)


def make_generator(backend: str, model: str, **options: Any) -> Generator:
    """Build the generator named `backend` for `model`."""
    return BACKENDS.get(backend)(model, **options)
