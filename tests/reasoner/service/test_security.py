"""Keys, caps and bad input: each refusal names the field or limit, and the server keeps serving."""

from __future__ import annotations

import json

import openai
import pytest

from tests.reasoner.service.conftest import KEY_ADMIN, KEY_B

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]


def test_health_needs_no_key(service):
    with service.http(key=None) as http:
        assert http.get("/health").json()["status"] == "ok"


@pytest.mark.parametrize("key", [None, "not-a-key", KEY_B[:-1]])
def test_every_other_endpoint_needs_a_valid_key(service, key):
    with service.http(key=key) as http:
        for method, path in [("GET", "/v1/models"), ("GET", "/metrics"), ("POST", "/v1/chat/completions"),
                             ("POST", "/v1/jobs"), ("GET", "/v1/jobs/job-x")]:
            response = http.request(method, path, json={})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["param"] == "authorization"


def test_openai_client_with_a_wrong_key_gets_an_authentication_error(service):
    with pytest.raises(openai.AuthenticationError):
        service.client(key="wrong").models.list()


def test_a_key_stored_as_its_digest_works(service):
    assert service.client(key=KEY_B).models.list().data


def _refusal(service, body, raw: bytes | None = None):
    with service.http() as http:
        if raw is not None:
            return http.post("/v1/chat/completions", content=raw, headers={"content-type": "application/json"})
        return http.post("/v1/chat/completions", json=body)


def chat(service, **fields):
    return {"model": service.model, "messages": QUESTION, "max_tokens": 4, **fields}


BAD_CHATS = [
    ("negative n", lambda s: chat(s, n=-1), 400, "n"),
    ("n over max_n", lambda s: chat(s, n=5), 400, "n"),
    ("max_tokens over cap", lambda s: chat(s, max_tokens=100000), 400, "max_tokens"),
    ("unknown strategy", lambda s: chat(s, reasoner={"strategy": "telepathy"}), 400, "reasoner.strategy"),
    ("unknown option", lambda s: chat(s, reasoner={"strategy": "self_consistency", "beams": 3}), 400,
     "reasoner.beams"),
    ("bad option value", lambda s: chat(s, reasoner={"strategy": "self_consistency", "n": 0}), 400, "reasoner.n"),
    ("strategy n over cap", lambda s: chat(s, reasoner={"strategy": "self_consistency", "n": 17}), 400,
     "reasoner.n"),
    ("budget over cap", lambda s: chat(s, reasoner={"strategy": "best_of_n", "budget": {"samples": 99}}), 400,
     "reasoner.budget.samples"),
    ("dotted strategy path", lambda s: chat(s, reasoner={"strategy": "os:system"}), 400, "reasoner.strategy"),
    ("unknown top-level field", lambda s: chat(s, tools=[]), 400, "tools"),
    ("greedy strategy given a temperature", lambda s: chat(s, temperature=0.5, reasoner={"strategy": "cot"}), 400,
     "temperature"),
    ("bad model suffix", lambda s: {**chat(s), "model": f"{s.model}@best_of_n:x"}, 400, "model"),
    ("unknown model", lambda s: {**chat(s), "model": "gpt-9"}, 404, "model"),
    ("last message not the user's", lambda s: {**chat(s), "messages": [*QUESTION, {"role": "assistant",
                                                                                     "content": "4"}]},
     400, "messages.1.role"),
    ("no messages", lambda s: {**chat(s), "messages": []}, 400, "messages"),
    ("a PRM folder on the server", lambda s: chat(s, reasoner={"strategy": "best_of_n", "scorer": "prm",
                                                               "scorer_options": {"prm": "/tmp"}}),
     400, "reasoner.scorer_options.prm"),
    ("a search's PRM folder", lambda s: chat(s, reasoner={"strategy": "beam_search", "prm": str(s.keys_file.parent)}),
     400, "reasoner.prm"),
    ("a prompt over the model's context", lambda s: {**chat(s), "messages": [{"role": "user", "content": "pens " * 3000}]},
     400, "messages"),
    ("a blank question (found by the fuzzer)", lambda s: {**chat(s), "messages": [{"role": "user", "content": " "}]},
     400, "messages.0.content"),
    ("more stop strings than max_stop", lambda s: chat(s, stop=["a", "b", "c", "d", "e"]), 400, "stop"),
]


@pytest.mark.parametrize("name,body,status,param", BAD_CHATS, ids=[b[0] for b in BAD_CHATS])
def test_bad_chat_request_is_refused_naming_the_field(service, name, body, status, param):
    response = _refusal(service, body(service))
    assert response.status_code == status, response.text
    assert response.json()["error"]["param"] == param
    assert service.client().models.list().data  # still serving


def test_limits_are_named_in_the_message(service):
    response = _refusal(service, chat(service, n=5))
    assert "max_n=4" in response.json()["error"]["message"]


def test_malformed_json_is_a_400_naming_the_body(service):
    response = _refusal(service, None, raw=b'{"model": "x", "messages": [')
    assert response.status_code == 400 and response.json()["error"]["param"] == "body"


def test_oversized_body_is_a_413_naming_the_limit(service):
    response = _refusal(service, chat(service, messages=[{"role": "user", "content": "x" * (70 << 10)}]))
    assert response.status_code == 413
    assert response.json()["error"]["param"] == "max_body_bytes"
    assert service.client().models.list().data


def test_openai_client_sees_a_bad_request_naming_the_field(service):
    with pytest.raises(openai.BadRequestError) as caught:
        service.client().chat.completions.create(model=service.model, messages=QUESTION,
                                                 extra_body={"reasoner": {"strategy": "nope"}})
    assert caught.value.body["param"] == "reasoner.strategy"


def test_metrics_count_requests_and_tokens(service):
    service.client().chat.completions.create(model=service.model, messages=QUESTION, max_tokens=3)
    with service.http(key=KEY_ADMIN) as http:
        text = http.get("/metrics").text
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
             if line and not line.startswith("#")}
    model = json.dumps(service.model)
    assert lines[f"reasoner_completion_tokens_total{{model={model}}}"] >= 3
    assert lines['reasoner_requests_total{route="/v1/chat/completions",status="200"}'] >= 1
    assert f"reasoner_cached_prompt_tokens_total{{model={model}}}" in lines
    assert lines[f"reasoner_engine_requests_in_flight{{model={model}}}"] == 0
    assert "reasoner_request_seconds_count" in text
