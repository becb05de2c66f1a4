"""Generation backends: an in-process vLLM engine and any OpenAI-compatible server.

`open_generator(backend, model, ...)` is the one way to get a generator: for
`vllm` it is the process's shared engine for that model and settings (one
engine serves every problem, job and request that asks for the same thing;
`VLLMGenerator.close_all` shuts them down), for `openai` a new client. A
`module:Class` path also names third-party backends.
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


def open_generator(backend: str, model: str, **options: Any) -> Generator:
    """The generator for `model` on `backend`.

    A backend whose instances are expensive (an engine) offers `shared(model, **options)`, which returns the
    one instance per configuration in this process; any other backend is built anew."""
    cls = BACKENDS.get(backend)
    return getattr(cls, "shared", cls)(model, **options)
