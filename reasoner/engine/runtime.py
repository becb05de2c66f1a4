"""One background event loop per process, for calling async code from sync code.

vLLM's async engine belongs to the loop it was first used on. Every engine
call in this process therefore runs on one long-lived loop in a daemon
thread; sync callers block on it and async callers on other loops await it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None


def engine_loop() -> asyncio.AbstractEventLoop:
    """The process's engine loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None or _loop.is_closed():
            _loop = asyncio.new_event_loop()
            thread = threading.Thread(target=_loop.run_forever, name="reasoner-engine-loop", daemon=True)
            thread.start()
        return _loop


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the engine loop and wait for its result."""
    loop = engine_loop()
    if _running_loop() is loop:
        raise RuntimeError("run_sync called from the engine loop itself; await the coroutine instead")
    return asyncio.run_coroutine_threadsafe(coro, loop).result()


async def run_on_engine_loop(coro: Coroutine[Any, Any, T]) -> T:
    """Await `coro` on the engine loop from any loop (a no-op hop when already there)."""
    loop = engine_loop()
    if _running_loop() is loop:
        return await coro
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, loop))


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
