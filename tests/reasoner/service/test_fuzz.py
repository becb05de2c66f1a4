"""Property-based fuzzing of the real server from its own OpenAPI schema (schemathesis over hypothesis).

Every operation the app publishes at `/openapi.json` gets `EXAMPLES` generated
requests (valid and invalid bodies, path and query values), sent over real
HTTP with an admin key to a server over the session's engine whose limits are
tight, so a valid request stays cheap and an expensive one is refused. Each
answer must be no 5xx, and every error must be OpenAI-shaped (4xx typed
`invalid_request_error`) with no traceback. Bounded: a fixed example count, no
shrinking-time surprises (`deadline=None`, a derandomized seed), about a minute
or two on 2 cores.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.reasoner.service.conftest import KEY_ADMIN

EXAMPLES = 200
"""Generated requests per operation."""
TIGHT = {"max_n": 2, "max_samples": 2, "max_tokens": 8, "max_steps": 2, "max_generated_tokens": 32,
         "max_job_problems": 3, "max_jobs_per_key": 1, "max_queued_jobs": 2, "request_timeout_s": 20,
         "requests_per_minute": 100000, "max_concurrent_requests": 64, "max_body_bytes": 64 << 10}


@pytest.fixture(scope="module")
def fuzzed_server(request, tmp_path_factory):
    """A server with tight limits, for the whole module (`make_server` is per test, so built here by hand)."""
    from tests.reasoner.service.conftest import free_port, serving, write_keys, Service
    from reasoner.service.app import create_app
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import build_state

    service = request.getfixturevalue("service")
    folder = tmp_path_factory.mktemp("fuzz")
    port = free_port()
    config = ServiceConfig(models=(service.model,), port=port, db=folder / "service.db", limits=TIGHT,
                           keys_file=write_keys(folder / "keys.txt", (), (KEY_ADMIN,)))
    state = build_state(config, generators={service.model: service.engine},
                        verifiers=request.getfixturevalue("verifiers"))
    with serving(create_app(state), port):
        yield Service(url=f"http://127.0.0.1:{port}", model=service.model, engine=service.engine, spy=service.spy,
                      keys_file=config.keys_file, db=config.db)
    state.db.close()


@pytest.fixture(scope="module")
def api_schema(fuzzed_server):
    return schemathesis.openapi.from_url(f"{fuzzed_server.url}/openapi.json")


def openai_shaped(response) -> None:
    """No 5xx; every error is `{"error": {message, type, param, code}}` without a traceback."""
    assert response.status_code < 500, response.text[:500]
    if response.status_code < 400:
        return
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == "invalid_request_error", error
    assert "Traceback" not in error["message"] and 'File "' not in error["message"], error


def test_no_request_gets_a_5xx_or_an_error_of_another_shape(api_schema, fuzzed_server):
    """EXAMPLES generated requests per operation; half of the bodies name the served model (or a named
    dataset), so generated requests also get past the first check and reach strategies and caps."""
    seen: dict[str, list[int]] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), served=st.booleans())
        def check(case, served: bool) -> None:
            if served and isinstance(case.body, dict):
                case.body.update({"model": fuzzed_server.model} if "messages" in case.body else
                                 {"dataset": "arith"} if "dataset" in case.body else {})
            response = case.call(headers={"Authorization": f"Bearer {KEY_ADMIN}"}, timeout=60)
            seen.setdefault(operation.label, []).append(response.status_code)
            openai_shaped(response)

        check()
    assert {"POST /v1/chat/completions", "POST /v1/jobs", "GET /v1/jobs/{job_id}"} <= set(seen)
    chats = seen["POST /v1/chat/completions"]
    assert len(chats) >= EXAMPLES // 2 and 200 in chats, sorted(set(chats))  # some generated chats were served


def test_the_schema_describes_the_request_bodies(api_schema, fuzzed_server):
    """The fuzzer generates real bodies only if the schema has them: the chat and job bodies are described."""
    import httpx

    document = httpx.get(f"{fuzzed_server.url}/openapi.json").json()
    chat = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert chat["schema"] == {"$ref": "#/components/schemas/ChatRequest"}
    assert "messages" in document["components"]["schemas"]["ChatRequest"]["properties"]
    assert {"/v1/jobs", "/v1/jobs/{job_id}", "/v1/models", "/health", "/metrics"} <= set(document["paths"])
