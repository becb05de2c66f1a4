"""`reasoner serve --workers 1`: chat requests and jobs served by a one-actor Ray pool on the tiny checkpoint.

An actor-side spy (installed with Ray's `__ray_call__`) wraps the actor's own
generator to record every call its engine finished or had cancelled; the
service process has no engine for the model at all.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
import pytest

from tests.reasoner.service.conftest import free_port, serving
from tests.reasoner.service.test_chat import _wait_until, user

LONG = {"strategy": "self_consistency", "n": 16}


def spy_on_generator(actor) -> None:
    """Runs inside the actor: record (prompt tokens, generated tokens) per finished call, and cancellations."""
    inner = actor.__dict__.setdefault("unspied_generate", actor.generator.generate)  # wrap once, however often reset
    actor.finished, actor.cancelled = [], 0

    async def spied(request):
        try:
            generation = await inner(request)
        except asyncio.CancelledError:
            actor.cancelled += 1
            raise
        actor.finished.append((generation.prompt_tokens, sum(c.num_tokens for c in generation.candidates)))
        return generation

    actor.generator.generate = spied


@dataclass
class PooledService:
    url: str
    model: str
    generator: object
    """The service's `PoolGenerator`."""

    def client(self):
        from openai import OpenAI

        return OpenAI(base_url=f"{self.url}/v1", api_key="unused", max_retries=0)

    def actor(self, read):
        """`read(actor)` evaluated inside the pool's one actor."""
        import ray

        (actor,) = self.generator.pool.actors
        return ray.get(actor.__ray_call__.remote(read), timeout=60)

    def reset(self) -> None:
        self.actor(spy_on_generator)

    def finished(self) -> list[tuple[int, int]]:
        return self.actor(lambda a: list(a.finished))


@pytest.fixture(scope="module")
def pooled(ray_runtime, verifiers, tiny_checkpoint, tmp_path_factory):
    from reasoner.service.app import create_app
    from reasoner.service.config import Limits, ServiceConfig
    from reasoner.service.pooled import PoolGenerator
    from reasoner.service.server import build_state

    name, port = str(tiny_checkpoint), free_port()
    config = ServiceConfig(models=(name,), port=port, db=tmp_path_factory.mktemp("pooled") / "service.db", workers=1,
                           limits=Limits(max_n=4, max_samples=16, max_tokens=480))
    state = build_state(config, verifiers=verifiers)
    (generator,) = state.generators.values()
    assert isinstance(generator, PoolGenerator)  # no engine in this process: the pool's actor has it
    with serving(create_app(state), port, start_timeout_s=900):  # the app starts the actor's engine
        service = PooledService(url=f"http://127.0.0.1:{port}", model=name, generator=generator)
        service.reset()
        yield service
    state.db.close()


def test_a_chat_request_is_served_by_the_pools_actor(pooled):
    pooled.reset()
    reply = pooled.client().chat.completions.create(
        model=pooled.model, messages=user(), n=2, max_tokens=10, seed=1,
        extra_body={"reasoner": {"strategy": "self_consistency", "n": 3}})
    finished = pooled.finished()
    assert len(finished) == 2 == reply.model_extra["reasoner"]["cost"]["model_calls"]
    assert reply.usage.prompt_tokens == sum(prompt for prompt, _ in finished)
    assert reply.usage.completion_tokens == sum(generated for _, generated in finished) > 0
    assert all(choice.model_extra["reasoner"]["candidates"] == 3 for choice in reply.choices)


def test_a_streamed_request_over_the_pool_sends_progress_then_content(pooled):
    async def collect():
        from openai import AsyncOpenAI

        client = AsyncOpenAI(base_url=f"{pooled.url}/v1", api_key="unused", max_retries=0)
        stream = await client.chat.completions.create(
            model=pooled.model, messages=user(), max_tokens=12, seed=3, stream=True,
            stream_options={"include_usage": True},
            extra_body={"reasoner": {"strategy": "best_of_n", "n": 2, "scorer": "logprob"}})
        return [chunk async for chunk in stream]

    pooled.reset()
    chunks = asyncio.run(collect())
    kinds = [(c.model_extra.get("reasoner") or {}).get("event") for c in chunks]
    first_content = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    assert kinds[:first_content] == ["started", "generate", "score"]
    assert chunks[-1].usage.completion_tokens == sum(generated for _, generated in pooled.finished()) > 0


def test_a_job_is_solved_by_the_same_actor(pooled):
    pooled.reset()
    view, records = finished_job(pooled, {"dataset": "arith", "limit": 3, "strategy": "self_consistency",
                                          "options": {"n": 2, "max_tokens": 8}})
    assert view["status"] == "succeeded", view
    assert sorted(r["problem_id"] for r in records) == sorted({r["problem_id"] for r in records}) and len(records) == 3
    finished = pooled.finished()
    assert len(finished) == sum(r["cost"]["model_calls"] for r in records) == 3
    assert sum(generated for _, generated in finished) == sum(r["cost"]["generated_tokens"] for r in records)
    assert len(pooled.generator.pool.actors) == 1  # the job borrowed the service's pool, it did not start one


def test_a_client_that_hangs_up_cancels_the_actors_engine_work(pooled):
    pooled.reset()
    body = json.dumps({"model": pooled.model, "messages": user(), "max_tokens": 480, "n": 4,
                       "reasoner": LONG}).encode()
    head = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    unfinished = lambda a: a.generator.engine().get_num_unfinished_requests()  # noqa: E731
    with socket.create_connection(("127.0.0.1", urlparse(pooled.url).port)) as sock:
        sock.sendall(head + body)
        _wait_until(lambda: pooled.actor(unfinished) > 0, "the request never reached the actor's engine")
    _wait_until(lambda: pooled.actor(lambda a: a.cancelled) > 0, "the actor's calls were not cancelled")
    _wait_until(lambda: pooled.actor(unfinished) == 0, "the actor's engine is still busy")
    _wait_until(lambda: pooled.generator.pool.in_flight == 0, "the pool still counts calls in flight")
    assert pooled.finished() == []  # about 30,000 tokens of work, none of it run to the end


def test_a_search_job_runs_inside_the_pools_actor(pooled):
    """`--workers`: the strategy itself runs in the actor, step by step on the actor's engine."""
    pooled.reset()
    options = {"n": 2, "width": 2, "value": "logprob", "max_steps": 3, "step_tokens": 8}
    view, records = finished_job(pooled, {"dataset": "arith", "limit": 2, "strategy": "beam_search",
                                          "options": options})
    assert view["status"] == "succeeded", view
    assert sorted(r["problem_id"] for r in records) == ["arith-test-00000", "arith-test-00001"]
    for record in records:
        assert record["error"] is None
        tree = [event for event in record["trace"] if event["kind"] == "tree"]
        assert len(tree) == 1 and tree[0]["data"]["value_source"] == "logprob"
    # Every step of both searches ran on the actor's engine, one call per expansion.
    assert len(pooled.finished()) == sum(r["cost"]["model_calls"] for r in records) > 2


def finished_job(pooled, body: dict) -> tuple[dict, list[dict]]:
    """Submit a job, wait (up to 10 minutes) until it leaves the queue, and return its view and records."""
    with httpx.Client(base_url=pooled.url, timeout=60) as http:
        job = http.post("/v1/jobs", json=body).json()
        deadline = time.monotonic() + 600
        while (view := http.get(f"/v1/jobs/{job['id']}").json())["status"] in ("queued", "running"):
            if time.monotonic() > deadline:
                raise AssertionError(f"the job did not finish: {view}")
            time.sleep(0.2)
        return view, [json.loads(line) for line in http.get(f"/v1/jobs/{job['id']}/results").text.splitlines()]
