"""The OpenAI-compatible endpoint, driven by the real `openai` client against a real server."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

LONG = {"strategy": "self_consistency", "n": 16}
"""About 30,000 tokens of work (4 choices x 16 x 480): far longer than it takes to hang up."""
QUESTION = "Ann has 3 pens and buys 4 more. How many pens does she have?"


def user(text: str = QUESTION) -> list[dict]:
    return [{"role": "user", "content": text}]


def assert_usage_matches_engine(usage, spy) -> None:
    assert spy.calls, "the engine saw no request"
    assert usage.prompt_tokens == sum(len(c.prompt_ids) for c in spy.calls)
    assert usage.completion_tokens == sum(c.completion_tokens for c in spy.calls)
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.prompt_tokens_details.cached_tokens == sum(c.cached_tokens for c in spy.calls)


def test_models_lists_the_served_model(service):
    models = service.client().models.list()
    assert [m.id for m in models.data] == [service.model]


def test_plain_request_returns_n_samples_with_engine_exact_usage(service):
    service.spy.reset()
    reply = service.client().chat.completions.create(model=service.model, messages=user(), n=3, max_tokens=12,
                                                     temperature=0.9, top_p=0.8, seed=7, stop=["\n\n"])
    assert len(reply.choices) == 3
    assert len(service.spy.calls) == 1  # plain sampling: one model call, n candidates
    params = service.spy.calls[0].params
    assert (params.n, params.max_tokens, params.stop) == (3, 12, ["\n\n"])
    assert params.temperature == pytest.approx(0.9) and params.top_p == pytest.approx(0.8)
    assert params.seed is not None
    assert_usage_matches_engine(reply.usage, service.spy)
    assert all(c.model_extra["reasoner"]["strategy"] == "none" for c in reply.choices)


def test_strategy_from_extra_body_runs_once_per_choice(service):
    service.spy.reset()
    reply = service.client().chat.completions.create(
        model=service.model, messages=user(), n=2, max_tokens=10,
        extra_body={"reasoner": {"strategy": "self_consistency", "n": 4}})
    assert len(reply.choices) == 2
    assert len(service.spy.calls) == 2 and all(c.params.n == 4 for c in service.spy.calls)
    for choice in reply.choices:
        info = choice.model_extra["reasoner"]
        assert info["strategy"] == "self_consistency" and info["candidates"] == 4
        assert info["cost"]["samples"] == 4
    assert_usage_matches_engine(reply.usage, service.spy)
    assert reply.model_extra["reasoner"]["cost"]["samples"] == 8


def test_model_suffix_picks_the_strategy(service):
    service.spy.reset()
    reply = service.client().chat.completions.create(model=f"{service.model}@best_of_n:3", messages=user(),
                                                     max_tokens=8)
    info = reply.choices[0].model_extra["reasoner"]
    assert info["strategy"] == "best_of_n" and info["candidates"] == 3
    assert reply.model == service.model
    assert_usage_matches_engine(reply.usage, service.spy)


def test_multi_turn_messages_are_rendered_with_the_chat_template(service):
    messages = [{"role": "user", "content": "What is 1 + 1?"}, {"role": "assistant", "content": "2"},
                {"role": "user", "content": [{"type": "text", "text": QUESTION}]}]
    service.spy.reset()
    service.client().chat.completions.create(model=service.model, messages=messages, max_tokens=4)
    tokenizer = service.engine.formatter.tokenizer
    expected = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is 1 + 1?"}, {"role": "assistant", "content": "2"},
         {"role": "user", "content": QUESTION}], tokenize=False, add_generation_prompt=True)
    assert service.spy.calls[0].prompt_ids == tokenizer(expected, add_special_tokens=False)["input_ids"]


def test_async_stream_sends_progress_then_content_then_usage(service):
    async def collect():
        client = service.async_client()
        stream = await client.chat.completions.create(
            model=service.model, messages=user(), max_tokens=12, stream=True, seed=3,
            stream_options={"include_usage": True},
            extra_body={"reasoner": {"strategy": "best_of_n", "n": 3, "scorer": "logprob"}})
        return [chunk async for chunk in stream]

    # Best-of-n always chooses a candidate, so there is content to stream whatever the random
    # checkpoint writes (a vote over answers it never finishes would choose none).
    service.spy.reset()
    chunks = asyncio.run(collect())
    kinds = [(c.model_extra.get("reasoner") or {}).get("event") for c in chunks]
    assert kinds[0] == "started" and chunks[0].choices[0].delta.role == "assistant"
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert "generate" in kinds[:first_content] and "score" in kinds[:first_content]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert_usage_matches_engine(chunks[-1].usage, service.spy)
    finish = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finish) == 1 and finish[0].model_extra["reasoner"]["candidates"] == 3


PRM_REQUEST = {"strategy": "best_of_n", "n": 3, "scorer": "prm",
               "scorer_options": {"prm": "tiny-prm", "check_tokenizer": False}}
"""Best-of-3 ranked by the real bundled PRM. `tiny-prm` was trained on bundled tiny's samples, with its tokenizer;
the test server runs a random checkpoint with another tokenizer, so the request turns the tokenizer check off
(what is tested here is what the PRM read and how it is booked, not what its scores are worth)."""


def test_prm_tokens_are_reported_apart_from_the_served_models_tokens(service):
    from reasoner.verifiers.prm import PRMSettings, open_prm

    series = f"reasoner_prm_tokens_total{{model={json.dumps(service.model)}}}"
    before = service.metrics().get(series, 0.0)
    service.spy.reset()
    reply = service.client().chat.completions.create(model=service.model, messages=user(), n=2, max_tokens=12,
                                                     seed=5, extra_body={"reasoner": PRM_REQUEST})
    booked = [choice.model_extra["reasoner"]["cost"]["prm_tokens"] for choice in reply.choices]  # each run's Cost
    prm = open_prm("tiny-prm", PRMSettings(runner="torch"))  # what the served PRM read is the same on any runner
    read = [prm.score([(QUESTION, text) for text in call.texts]).tokens for call in service.spy.calls]
    assert len(read) == 2 and all(call.params.n == 3 for call in service.spy.calls)
    assert sorted(booked) == sorted(read) and min(booked) > 0
    assert reply.usage.model_extra["reasoner"]["prm_tokens"] == sum(booked)
    assert_usage_matches_engine(reply.usage, service.spy)  # OpenAI's fields count the served model's tokens only
    assert service.metrics()[series] - before == sum(booked)


def test_a_prm_on_another_tokenizer_is_refused_unless_the_request_says_so(service):
    options = {**PRM_REQUEST, "scorer_options": {"prm": "tiny-prm"}}
    with pytest.raises(openai.BadRequestError, match="different tokenizer from the policy"):
        service.client().chat.completions.create(model=service.model, messages=user(), max_tokens=4,
                                                 extra_body={"reasoner": options})


def stream(service, **body) -> list:
    async def collect():
        client = service.async_client()
        chunks = await client.chat.completions.create(model=service.model, messages=user(), stream=True,
                                                      stream_options={"include_usage": True}, **body)
        return [chunk async for chunk in chunks]

    return asyncio.run(collect())


def progress_of(chunks: list) -> tuple[list[dict], int]:
    """The progress chunks' `reasoner` fields, and the index of the first content chunk."""
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    progress = [(i, c.model_extra["reasoner"]) for i, c in enumerate(chunks)
                if "done" in (c.model_extra.get("reasoner") or {})]
    assert progress and all(i < first_content for i, _ in progress)
    return [p for _, p in progress], first_content


def test_stream_progress_counts_every_event_of_every_run_before_the_content(service):
    # Adaptive consistency one sample a round, settling only at 0.99 (six agreeing answers at least):
    # six or more model calls, so six or more events, per run, three runs interleaved.
    options = {"strategy": "adaptive_consistency", "max_n": 12, "batch": 1, "confidence": 0.99, "futility": 0.0}
    service.spy.reset()
    chunks = stream(service, n=3, max_tokens=6, seed=2, extra_body={"reasoner": options})
    progress, _ = progress_of(chunks)
    finish = {c.choices[0].index: c.model_extra["reasoner"] for c in chunks if c.choices and c.choices[0].finish_reason}
    assert sorted(finish) == [0, 1, 2]
    for run in range(3):
        totals = [p["done"] for p in progress if p["run"] == run]
        assert [t["events"] for t in totals] == list(range(1, len(totals) + 1))  # none lost, none reordered
        calls = [t["model_calls"] for t in totals]
        assert calls == sorted(calls) and calls[-1] >= 6
        cost = finish[run]["cost"]
        assert (calls[-1], totals[-1]["candidates"], totals[-1]["generated_tokens"]) == (
            cost["model_calls"], cost["samples"], cost["generated_tokens"])
    last = [[p["done"] for p in progress if p["run"] == run][-1] for run in range(3)]
    assert sum(t["model_calls"] for t in last) == len(service.spy.calls)
    assert sum(t["generated_tokens"] for t in last) == sum(c.completion_tokens for c in service.spy.calls)
    assert sum(t["generated_tokens"] for t in last) == chunks[-1].usage.completion_tokens


def test_stream_progress_reports_scoring_and_the_prms_tokens(service):
    chunks = stream(service, max_tokens=12, seed=4, extra_body={"reasoner": PRM_REQUEST})
    progress, _ = progress_of(chunks)
    assert [p["event"] for p in progress] == ["generate", "prm", "score"]
    assert [p["done"]["candidates"] for p in progress] == [3, 3, 3]
    assert [p["done"]["scored"] for p in progress] == [0, 0, 3]
    assert progress[-1]["done"]["prm_tokens"] == chunks[-1].usage.model_extra["reasoner"]["prm_tokens"] > 0


def test_stream_progress_follows_a_step_level_search_to_its_tree(service):
    search = {"strategy": "beam_search", "n": 4, "width": 2, "value": "logprob", "answer": "score",
              "max_steps": 3, "step_tokens": 6}
    service.spy.reset()
    chunks = stream(service, seed=6, extra_body={"reasoner": search})
    progress, _ = progress_of(chunks)
    kinds = [p["event"] for p in progress]
    assert kinds[-1] == "tree" and kinds.count("generate") >= 2  # the root's expansion, then each kept beam's
    assert [p["done"]["events"] for p in progress] == list(range(1, len(progress) + 1))
    final = progress[-1]["done"]
    depth = max(p["done"]["steps"] for p in progress)
    assert final["steps"] == depth and 1 <= depth <= 3  # the tree's depth, once the tree is recorded
    cost = next(c for c in chunks if c.choices and c.choices[0].finish_reason).model_extra["reasoner"]["cost"]
    assert (final["model_calls"], final["candidates"], final["generated_tokens"]) == (
        cost["model_calls"], cost["samples"], cost["generated_tokens"]) == (
        len(service.spy.calls), sum(c.params.n for c in service.spy.calls),
        sum(c.completion_tokens for c in service.spy.calls))


def test_streamed_content_is_the_chosen_candidates_full_text(service):
    body = dict(model=service.model, messages=user(), max_tokens=16, seed=11,
                extra_body={"reasoner": {"strategy": "best_of_n", "n": 2, "scorer": "logprob"}})
    whole = service.client().chat.completions.create(**body).choices[0].message.content
    streamed = "".join(c.choices[0].delta.content or "" for c in
                       service.client().chat.completions.create(stream=True, **body) if c.choices)
    assert whole and streamed == whole


def test_a_client_that_disconnects_mid_stream_aborts_its_engine_requests(service):
    hang_up_once_running(service, {"model": service.model, "messages": user(), "max_tokens": 480, "n": 4,
                                   "stream": True, "reasoner": LONG})
    assert_aborted(service)


def test_a_client_that_disconnects_aborts_a_non_streamed_request(service):
    hang_up_once_running(service, {"model": service.model, "messages": user(), "max_tokens": 480, "n": 4,
                                   "reasoner": LONG})
    assert_aborted(service)


def hang_up_once_running(service, body: dict) -> None:
    """Send `body` on a raw socket and close it once the engine is working on it."""
    import json
    import socket
    from urllib.parse import urlparse

    from tests.reasoner.service.conftest import KEY_A

    service.spy.reset()
    payload = json.dumps(body).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {KEY_A}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", urlparse(service.url).port)) as sock:
        sock.sendall(head + payload)
        _wait_until(lambda: service.engine.engine().get_num_unfinished_requests() > 0,
                    "the request never reached the engine")


def assert_aborted(service) -> None:
    _wait_until(lambda: service.spy.aborted, "the engine request was not aborted")
    _wait_until(lambda: service.engine.engine().get_num_unfinished_requests() == 0, "engine still busy")
    assert service.spy.calls == []  # none of its engine requests ran to the end


def _wait_until(condition, message: str, timeout_s: float = 60.0) -> None:
    """Polls a condition the server reaches on its own (not a timing assertion: the bound is generous)."""
    import time

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(message)
        time.sleep(0.05)


SEARCHES = {"beam_search": {"n": 4, "width": 2}, "dvts": {"n": 4, "width": 2}, "mcts": {"n": 3, "width": 2, "depth": 2,
            "rollout_tokens": 8}, "particle_filter": {"n": 3}}


@pytest.mark.parametrize("name", list(SEARCHES))
def test_a_search_streams_its_tree_as_it_grows(service, name):
    """Every node of the final tree was streamed in a `nodes` event before the answer, under its parent, with its
    step text (capped) and, where the search never revisits a score, that score; the events stay out of the trace."""
    from reasoner.strategies.search_tree import LIVE_TEXT_CHARS

    options = {"strategy": name, "value": "logprob", "max_steps": 2, "step_tokens": 8, "detail": True, **SEARCHES[name]}
    chunks = stream(service, seed=5, extra_body={"reasoner": options})
    finish_at = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].finish_reason)
    progress = [c.model_extra["reasoner"] for c in chunks[:finish_at]
                if "done" in (c.model_extra.get("reasoner") or {})]
    kinds = [p["event"] for p in progress]
    assert "nodes" in kinds and kinds.index("nodes") < kinds.index("tree")
    live = [node for p in progress if p["event"] == "nodes" for node in p["data"]["nodes"]]
    detail = chunks[finish_at].model_extra["reasoner"]["detail"]
    final = {node["id"]: node for node in detail["tree"]["nodes"]}
    ids = [node["id"] for node in live]
    assert sorted(ids) == sorted(set(final) - {0}) and len(ids) == len(set(ids))  # each node once
    for node in live:
        assert node["parent"] == final[node["id"]]["parent"] and node["depth"] == final[node["id"]]["depth"]
        assert node["text"] == final[node["id"]]["text"][:LIVE_TEXT_CHARS]
        if name != "mcts":  # MCTS backs values up; the others score a node once
            assert node["score"] == final[node["id"]]["score"]
    assert progress[-1]["done"]["nodes"] == len(live)
    assert all(event["kind"] != "nodes" for event in detail["trace"])
