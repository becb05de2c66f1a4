"""Server-sent events for a streamed chat completion, in OpenAI's chunk format.

Order: a first chunk with the assistant role (sent at once), progress chunks
as the strategy's model calls and votes complete (their `reasoner` field is
ours; standard clients see an empty delta), then the chosen text as content
deltas, a finish chunk per choice, and the usage chunk when asked for.
The strategy runs in its own task; if the client goes away, the task is
cancelled, which aborts its requests in the engine.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from reasoner.errors import ReasonerError
from reasoner.service.chat import ChatPlan, chosen_texts, total_cost, usage
from reasoner.types import Result, TraceEvent

WORDS_PER_DELTA = 4


def sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload)
    return f"data: {data}\n\n".encode()


def chunk(plan: ChatPlan, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"id": plan.id, "object": "chat.completion.chunk", "created": plan.created, "model": plan.model,
            "choices": choices, **extra}


def progress_data(event: TraceEvent) -> dict[str, Any]:
    """The parts of a trace event worth streaming (vote tallies, token counts), JSON-safe."""
    return json.loads(json.dumps(event.data, default=str))


async def stream_chat(plan: ChatPlan, run: Callable[[Callable[[int, TraceEvent], None]], Coroutine[Any, Any, list[Result]]],
                      on_done: Callable[[list[Result] | None], None]) -> AsyncIterator[bytes]:
    """SSE bytes for `plan`; `run(listener)` solves it, `on_done` gets the results (None if cancelled)."""
    events: asyncio.Queue[tuple[int, TraceEvent]] = asyncio.Queue()
    task = asyncio.ensure_future(run(lambda index, event: events.put_nowait((index, event))))
    results: list[Result] | None = None
    try:
        role = [{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
                for i in range(plan.choices)]
        yield sse(chunk(plan, role, reasoner={"event": "started", "strategy": plan.strategy_name}))
        while not (task.done() and events.empty()):
            getter = asyncio.ensure_future(events.get())
            await asyncio.wait({task, getter}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                continue
            index, event = getter.result()
            choice = min(index, plan.choices - 1)
            yield sse(chunk(plan, [{"index": choice, "delta": {}, "finish_reason": None}],
                            reasoner={"event": event.kind, "run": index, "data": progress_data(event)}))
        try:
            results = task.result()
        except ReasonerError as exc:  # a dead engine: say so in the stream, which has already begun
            yield sse({"error": {"message": str(exc), "type": "server_error", "param": None, "code": "engine_error"}})
            return
        failed = [r.error for r in results if r.error]
        if failed:
            yield sse({"error": {"message": f"the strategy failed: {failed[0].splitlines()[0]}",
                                 "type": "server_error", "param": None, "code": "strategy_error"}})
            return
        for payload in _answer_chunks(plan, results):
            yield sse(payload)
        yield sse("[DONE]")
    finally:
        if not task.done():
            task.cancel()
        on_done(results)


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
