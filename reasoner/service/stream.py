"""Server-sent events for a streamed chat completion, in OpenAI's chunk format.

Order: a first chunk with the assistant role (sent at once), one progress
chunk per trace event the strategy records (model calls, scores, PRM scorings,
votes, search steps), each with its run's running totals
(`reasoner.service.chat_progress`) in a `reasoner` field that standard clients
ignore (they see an empty delta), then the chosen text as content deltas, a
finish chunk per choice, and the usage chunk when asked for.
The strategy runs in its own task; if the client goes away, the task is
cancelled, which aborts its requests in the engine.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from reasoner.errors import ConfigError, EngineError, RequestError
from reasoner.service.http_errors import error_body, incident
from reasoner.service.chat import ChatPlan, chosen_texts, total_cost, usage
from reasoner.service.chat_progress import RunProgress, event_data
from reasoner.types import Result, TraceEvent

WORDS_PER_DELTA = 4


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def chunk(plan: ChatPlan, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": plan.id, "object": "chat.completion.chunk", "created": plan.created, "model": plan.model,
            "choices": choices, **extra}


async def stream_chat(plan: ChatPlan, run: Callable[[Callable[[int, TraceEvent], None]], Coroutine[Any, Any, list[Result]]],
                      on_done: Callable[[list[Result] | None], None]) -> AsyncIterator[bytes]:
    """SSE bytes for `plan`; `run(listener)` solves it, `on_done` gets the results (None if cancelled)."""
    events: asyncio.Queue[tuple[int, TraceEvent]] = asyncio.Queue()
    task = asyncio.ensure_future(run(lambda index, event: events.put_nowait((index, event))))
    results: list[Result] | None = None
    done = [RunProgress() for _ in range(plan.runs)]
    try:
        role = [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                for i in range(plan.choices)]
        yield sse(chunk(plan, role, reasoner={"event": "started", "strategy": plan.strategy_name}))
        while True:
            while not events.empty():  # events come in bursts (a search's parallel expansions): send them all
                index, event = events.get_nowait()
                yield sse(_progress(plan, index, event, done[index]))
            if task.done():  # events are queued by the task itself, so none can follow its end
                break
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            index, event = getter.result()
            yield sse(_progress(plan, index, event, done[index]))
        try:
            results = task.result()
        except Exception as exc:  # the stream has begun: the error is its last event, OpenAI-shaped
            yield sse(_stream_error(exc))
            return
        failed = [r.error for r in results if r.error]
        if failed:
            yield sse(error_body(incident("the strategy failed", detail=failed[0]), None, "strategy_error", 500))
            return
        for payload in _answer_chunks(plan, results):
            yield sse(payload)
        yield sse("[DONE]")
    finally:
        if not task.done():
            task.cancel()
        on_done(results)


def _stream_error(exc: Exception) -> dict[str, Any]:
    if isinstance(exc, RequestError):  # e.g. the request ran past request_timeout_s
        return error_body(str(exc), exc.param, exc.code, exc.status)
    if isinstance(exc, ConfigError):  # misuse found while solving, e.g. a PRM on another tokenizer
        return error_body(str(exc), getattr(exc, "field", None), type(exc).__name__, 400)
    if isinstance(exc, EngineError):
        return error_body(incident("the engine failed", exc), None, "engine_error", 503)
    return error_body(incident("internal server error", exc), None, "server_error", 500)


def _progress(plan: ChatPlan, index: int, event: TraceEvent, done: RunProgress) -> dict[str, Any]:
    """The chunk of one trace event of run `index`: an empty delta, our `reasoner` field with the run's totals."""
    choice = min(index, plan.choices - 1)  # plain sampling is one run whatever n is
    return chunk(plan, [{"index": choice, "delta": {}, "finish_reason": None}],
                 reasoner={"event": event.kind, "run": index, "done": done.update(event).model_dump(),
                           "data": event_data(event)})


def _answer_chunks(plan: ChatPlan, results: list[Result]) -> list[dict[str, Any]]:
    out = []
    texts = chosen_texts(plan, results)
    for index, (text, _, _) in enumerate(texts):
        for piece in _pieces(text):
            out.append(chunk(plan, [{"index": index, "delta": {"content": piece}, "finish_reason": None}]))
    for index, (_, finish, info) in enumerate(texts):
        out.append(chunk(plan, [{"index": index, "delta": {}, "finish_reason": finish}], reasoner=info))
    if plan.include_usage:
        out.append(chunk(plan, [], usage=usage(total_cost(results))))
    return out


def _pieces(text: str) -> list[str]:
    words = re.findall(r"\s*\S+\s*|\s+", text)
    return ["".join(words[i:i + WORDS_PER_DELTA]) for i in range(0, len(words), WORDS_PER_DELTA)]
