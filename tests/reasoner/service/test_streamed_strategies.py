"""The strategies that stream and abort, through the service: each accepted per request, its progress
streamed (each candidate's end, aborted ones counted), aborted tokens reported in the usage and matched
against what the engine delivered; every new option refused, naming it, when a client sends a bad value.
"""

from __future__ import annotations

import json

import pytest

from tests.reasoner.service.test_chat import stream, user

STRATEGIES = {
    "deepconf": {"strategy": "deepconf", "n": 4, "keep": 0.5, "window": 4},
    "deepconf_online": {"strategy": "deepconf_online", "n": 6, "warmup": 2, "window": 4, "threshold": 1e6},
    "adaptive_cancel": {"strategy": "adaptive_consistency", "mode": "cancel", "max_n": 6, "futility": 0.0},
    "early_rejection": {"strategy": "early_rejection", "n": 4, "keep": 0.25, "prm": "tiny-prm",
                        "check_tokenizer": False},
    "best_of_n_self_certainty": {"strategy": "best_of_n", "n": 3, "scorer": "self_certainty"},
}


def usage_matches_the_engine(usage, spy) -> None:
    """OpenAI's counts are the engine's, aborted candidates' tokens included and also reported on their own."""
    delivered = sum(c.completion_tokens for c in spy.calls) + sum(spy.aborted_tokens.values())
    assert usage.completion_tokens == delivered
    assert usage.model_extra["reasoner"]["aborted_tokens"] == sum(spy.aborted_tokens.values())
    assert usage.model_extra["reasoner"]["aborted_samples"] == len(spy.aborted)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_each_new_strategy_runs_per_request_with_its_usage(service, name):
    service.spy.reset()
    reply = service.client().chat.completions.create(model=service.model, messages=user(), max_tokens=24, seed=3,
                                                     extra_body={"reasoner": STRATEGIES[name]})
    info = reply.choices[0].model_extra["reasoner"]
    assert info["strategy"] == STRATEGIES[name]["strategy"] and info["error"] is None
    usage_matches_the_engine(reply.usage, service.spy)
    assert info["cost"]["aborted_tokens"] == reply.usage.model_extra["reasoner"]["aborted_tokens"]


def test_online_deepconf_streams_each_candidates_end_and_reports_its_aborted_tokens(service):
    service.spy.reset()
    chunks = stream(service, max_tokens=24, seed=4, extra_body={"reasoner": STRATEGIES["deepconf_online"]})
    finish_at = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason)
    progress = [c.model_extra["reasoner"] for c in chunks[:finish_at]
                if "done" in (c.model_extra.get("reasoner") or {})]
    ends = [p for p in progress if p["event"] == "trace"]
    assert len(ends) == 4  # the four streamed after the warm-up; each stopped below the threshold
    assert all(p["data"]["finish"] == "abort" and p["data"]["stopped"]["reason"] == "low_confidence" for p in ends)
    assert [p["done"]["aborted"] for p in ends] == [1, 2, 3, 4]
    usage = chunks[-1].usage
    assert progress[-1]["done"]["aborted_tokens"] == usage.model_extra["reasoner"]["aborted_tokens"] > 0
    assert len(service.spy.aborted) == 4
    usage_matches_the_engine(usage, service.spy)
    finish = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    assert finish.model_extra["reasoner"]["stop_reason"] == "deepconf:no_trace_above_threshold"


def chat(service, **reasoner):
    return {"model": service.model, "messages": user(), "max_tokens": 4, "reasoner": reasoner}


BAD = [
    ("deepconf", {"n": 17}, "reasoner.n"),
    ("deepconf", {"n": 0}, "reasoner.n"),
    ("deepconf", {"top_logprobs": 21}, "reasoner.top_logprobs"),
    ("deepconf", {"top_logprobs": -1}, "reasoner.top_logprobs"),
    ("deepconf", {"window": 0}, "reasoner.window"),
    ("deepconf", {"window": 10**9}, "reasoner.window"),
    ("deepconf", {"keep": 0}, "reasoner.keep"),
    ("deepconf", {"keep": 1.5}, "reasoner.keep"),
    ("deepconf", {"metric": "os.system"}, "reasoner.metric"),
    ("deepconf", {"window": "16; rm -rf /"}, "reasoner.window"),
    ("deepconf_online", {"warmup": 0}, "reasoner.warmup"),
    ("deepconf_online", {"n": 4, "warmup": 5}, "reasoner.warmup"),
    ("deepconf_online", {"consensus": 0.5}, "reasoner.consensus"),
    ("deepconf_online", {"consensus": 2}, "reasoner.consensus"),
    ("deepconf_online", {"threshold": "high"}, "reasoner.threshold"),
    ("early_rejection", {"n": 99}, "reasoner.n"),
    ("early_rejection", {"steps": 0}, "reasoner.steps"),
    ("early_rejection", {"steps": 10**6}, "reasoner.steps"),
    ("early_rejection", {"keep": 0}, "reasoner.keep"),
    ("early_rejection", {"prm": "/etc"}, "reasoner.prm"),
    ("early_rejection", {"aggregation": "__import__"}, "reasoner.aggregation"),
    ("adaptive_consistency", {"mode": "telepathy"}, "reasoner.mode"),
    ("best_of_n", {"scorer": "self_certainty", "scorer_options": {"top_logprobs": 1000}},
     "reasoner.scorer_options.top_logprobs"),
    ("best_of_n", {"scorer": "confidence", "scorer_options": {"window": 10**9}},
     "reasoner.scorer_options.window"),
    ("best_of_n", {"scorer": "confidence", "scorer_options": {"tail": 10**9}}, "reasoner.scorer_options.tail"),
    ("deepconf_online", {"warmup": 10**6}, "reasoner.warmup"),
    ("self_consistency", {"weight_scorer": "confidence", "scorer_options": {"metric": "x"}},
     "reasoner.scorer_options.metric"),
]


@pytest.mark.parametrize(("strategy", "options", "param"), BAD,
                         ids=[f"{s}-{'-'.join(map(str, o))}" for s, o, _ in BAD])
def test_a_bad_value_of_a_new_option_is_refused_naming_it(service, strategy, options, param):
    with service.http() as http:
        response = http.post("/v1/chat/completions", json=chat(service, strategy=strategy, **options))
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert service.client().models.list().data  # still serving


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_a_threshold_that_is_not_a_finite_number_is_refused(service, value):
    """Bare NaN and Infinity are not JSON, so the body is refused; as strings, the threshold is."""
    with service.http() as http:
        for raw, param in [(value, "body"), (f'"{value}"', "reasoner.threshold")]:
            body = ('{"model": "%s", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, '
                    '"reasoner": {"strategy": "deepconf_online", "threshold": %s}}' % (service.model, raw))
            response = http.post("/v1/chat/completions", content=body.encode(),
                                 headers={"content-type": "application/json"})
            assert response.status_code == 400 and response.json()["error"]["param"] == param, response.text


def test_a_job_runs_online_deepconf_and_its_records_book_the_aborted_tokens(service):
    from tests.reasoner.service.test_jobs import wait_for

    options = {key: value for key, value in STRATEGIES["deepconf_online"].items() if key != "strategy"}
    with service.http() as http:
        created = http.post("/v1/jobs", json={"dataset": "arith", "limit": 2, "strategy": "deepconf_online",
                                              "options": {**options, "max_tokens": 24}})
        assert created.status_code == 201, created.text
        job = wait_for(http, created.json()["id"], {"succeeded", "failed"})
        assert job["status"] == "succeeded", job
        records = [json.loads(line) for line in http.get(f"/v1/jobs/{job['id']}/results").text.splitlines()]
    assert len(records) == 2
    for record in records:
        aborted = [c for c in record["candidates"] if c["aborted"]]
        assert record["stop_reason"] == "deepconf:no_trace_above_threshold" and len(aborted) == 4
        assert record["cost"]["aborted_tokens"] == sum(c["num_tokens"] for c in aborted) > 0
        assert record["cost"]["generated_tokens"] == sum(c["num_tokens"] for c in record["candidates"])
