"""A bounded load test on loopback: 200 concurrent chat requests from 4 keys against a server with limits set.

The burst's requests all arrive at once; each key may have `CONCURRENT` in flight and `PER_MINUTE` per minute.
Then every key sends requests that stay within its limits. What must hold: no 5xx; every refusal is a 429
naming the limit, with Retry-After; no key ever had more than `CONCURRENT` requests in flight (read from the
server's own limiter); the requests within limits all succeed; and the server process's memory grows by less
than `MEMORY_MB`. It stops by itself: a fixed number of requests, each with a timeout.
"""

from __future__ import annotations

import asyncio

import httpx
import psutil

from tests.reasoner.service.conftest import LIMITED_KEYS

BURST = 200
CONCURRENT = 4
PER_MINUTE = 90
WITHIN = 8
"""Requests each key sends after the burst, never more than CONCURRENT at once."""
MEMORY_MB = 300


async def _post(client: httpx.AsyncClient, key: str, body: dict) -> httpx.Response:
    return await client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


async def _burst(url: str, body: dict) -> list[tuple[str, httpx.Response]]:
    keys = [LIMITED_KEYS[i % len(LIMITED_KEYS)] for i in range(BURST)]
    limits = httpx.Limits(max_connections=BURST)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        answers = await asyncio.gather(*(_post(client, key, body) for key in keys))
    return list(zip(keys, answers))


async def _within_limits(url: str, body: dict) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=120) as client:
        async def one_key(key: str) -> list[httpx.Response]:
            gate = asyncio.Semaphore(CONCURRENT)

            async def send() -> httpx.Response:
                async with gate:
                    return await _post(client, key, body)

            return list(await asyncio.gather(*(send() for _ in range(WITHIN))))

        per_key = await asyncio.gather(*(one_key(key) for key in LIMITED_KEYS))
    return [answer for answers in per_key for answer in answers]


def test_two_hundred_concurrent_requests_from_four_keys(make_server):
    limits = {"max_concurrent_requests": CONCURRENT, "requests_per_minute": PER_MINUTE, "max_tokens": 16,
              "max_connections": 512}
    process = psutil.Process()
    with make_server(keys=LIMITED_KEYS, limits=limits) as server:
        body = {"model": server.model, "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 8}
        before = process.memory_info().rss
        burst = asyncio.run(_burst(server.url, body))
        gentle = asyncio.run(_within_limits(server.url, body))
        grown_mb = (process.memory_info().rss - before) / 2**20
        peaks = dict(server.app.state.limiter.peak)
    statuses = [answer.status_code for _, answer in burst] + [answer.status_code for answer in gentle]
    assert not [s for s in statuses if s >= 500], statuses
    refused = [answer for _, answer in burst if answer.status_code != 200]
    assert refused and {a.status_code for a in refused} == {429}
    assert {a.json()["error"]["param"] for a in refused} <= {"max_concurrent_requests", "requests_per_minute"}
    assert all(int(a.headers["retry-after"]) >= 1 for a in refused)
    assert len(peaks) == len(LIMITED_KEYS) and max(peaks.values()) <= CONCURRENT, peaks
    for key in LIMITED_KEYS:
        assert sum(1 for k, a in burst if k == key and a.status_code == 200) <= PER_MINUTE
    assert [a.status_code for a in gentle] == [200] * (WITHIN * len(LIMITED_KEYS)), [a.text for a in gentle
                                                                                       if a.status_code != 200]
    assert grown_mb < MEMORY_MB, grown_mb
