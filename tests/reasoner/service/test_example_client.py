"""examples/openai_client.py against the session's real server, through the real `openai` client."""

from __future__ import annotations

import runpy
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "openai_client.py"


def test_openai_client_example_asks_with_and_without_a_strategy(service):
    example = runpy.run_path(str(EXAMPLE))
    client = service.client()
    plain = example["ask"](client, service.model, None)
    voted = example["ask"](client, service.model, {"strategy": "self_consistency", "n": 4})
    assert isinstance(plain["text"], str) and plain["completion_tokens"] > 0
    # Four samples behind one reply: the usage counts every internal call.
    assert voted["completion_tokens"] > plain["completion_tokens"]
