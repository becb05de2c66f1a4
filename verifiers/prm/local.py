"""A PRM run with torch in this process: `PRMVerifier` loads a PRM folder and scores solutions step by step.

The reference runner (`PRMSettings(runner="torch")`): the folder's format
(`reasoner.verifiers.prm.formats`) encodes each solution and gives the
transformers network; this module pads, runs forward passes and reads the
outputs at the format's positions. Scoring is batched twice over: `score`
runs many solutions in few forward passes, and `ascore` is an async
micro-batcher that gathers the requests of every problem in flight for a few
milliseconds, so the candidates of many problems share one forward batch.
Every token is computed every time (no cache): the vLLM runner
(`reasoner.verifiers.prm.served`) is the one that caches.

Not here: which PRMs a job holds (`reasoner.verifiers.prm.PRMSet`), or a PRM
shared between Ray workers (`reasoner.verifiers.prm.actor`).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from reasoner.verifiers.prm import PRMSettings, Scored
from reasoner.verifiers.prm.formats import Encoded
from reasoner.verifiers.prm.reading import Reading, scored_from


@dataclass
class _Waiting:
    items: list[tuple[str, str]]
    future: asyncio.Future


@dataclass
class _LoopQueue:
    waiting: list[_Waiting] = field(default_factory=list)
    flusher: asyncio.Task | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class PRMVerifier:
    """A loaded PRM. Thread-safe; one forward pass runs at a time."""

    def __init__(self, folder: str | Path, max_batch: int = 64, window_seconds: float = 0.005,
                 settings: PRMSettings | None = None, delimiter: str | None = None) -> None:
        self.reading = Reading(folder, settings, delimiter=delimiter)
        self.folder = self.reading.folder
        self.step_format = self.reading.step_format
        self.tokenizer = self.reading.tokenizer
        self.info = getattr(self.reading.format, "info", {})
        self.network = self.reading.format.torch_model()
        self.parameters = self.reading.parameters
        self.max_len = self.reading.max_len
        self.max_batch = max_batch
        self.window_seconds = window_seconds
        self.forward_calls = 0
        """Forward passes run so far (tests count them to show batching)."""
        self._forward_lock = threading.Lock()
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()

    def score(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores of each (prompt, solution), in forward batches of up to `max_batch` solutions."""
        import torch

        encoded = [self.reading.encode(p, t) for p, t in items]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i].ids))
        rows: list[list[list[float]]] = [[] for _ in items]
        started = time.perf_counter()
        with self._forward_lock, torch.inference_mode():
            for start in range(0, len(order), self.max_batch):
                chunk = [i for i in order[start:start + self.max_batch] if encoded[i].positions]
                if chunk:
                    for index, item_rows in zip(chunk, self._forward([encoded[i] for i in chunk])):
                        rows[index] = item_rows
        return scored_from(self.reading, encoded, rows, [0] * len(encoded), time.perf_counter() - started)

    def _forward(self, batch: list[Encoded]) -> list[list[list[float]]]:
        """One padded forward pass; each item's raw outputs at its read positions."""
        import torch

        width = max(len(item.ids) for item in batch)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for row, item in enumerate(batch):
            ids[row, : len(item.ids)] = torch.tensor(item.ids)
            mask[row, : len(item.ids)] = 1
        outputs = self.network(ids, mask).float()
        self.forward_calls += 1
        return [outputs[row, list(item.positions)].tolist() for row, item in enumerate(batch)]

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        return self.reading.count_tokens(items)

    async def ascore(self, items: list[tuple[str, str]]) -> Scored:
        """`score`, gathered with every other call made within `window_seconds` into shared forward batches."""
        loop = asyncio.get_running_loop()
        queue = self._queues.setdefault(loop, _LoopQueue())
        waiting = _Waiting(items=items, future=loop.create_future())
        queue.waiting.append(waiting)
        if queue.flusher is None:
            queue.flusher = loop.create_task(self._flush(queue))
        return await waiting.future

    async def _flush(self, queue: _LoopQueue) -> None:
        await asyncio.sleep(self.window_seconds)
        async with queue.lock:
            batch, queue.waiting, queue.flusher = queue.waiting, [], None
            items = [item for waiting in batch for item in waiting.items]
            try:
                scored = await asyncio.to_thread(self.score, items)
            except Exception as exc:  # noqa: BLE001 - passed on to every caller in the batch, never swallowed
                for waiting in batch:
                    waiting.future.set_exception(exc)
                return
        _share_out(batch, scored)

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM where it matters."""
        self.reading.check_policy(policy)


def _share_out(batch: list[_Waiting], scored: Scored) -> None:
    """Give each waiting caller its solutions' scores and its share of the cost, by tokens read."""
    position = 0
    for waiting in batch:
        end = position + len(waiting.items)
        tokens = sum(scored.item_tokens[position:end])
        share = tokens / max(1, scored.tokens)
        waiting.future.set_result(Scored(steps=scored.steps[position:end], tokens=tokens,
                                         item_tokens=scored.item_tokens[position:end],
                                         flops=scored.flops * share, seconds=scored.seconds * share,
                                         cached_tokens=sum(scored.item_cached[position:end]),
                                         item_cached=scored.item_cached[position:end],
                                         item_ids=scored.item_ids[position:end]))
        position = end
