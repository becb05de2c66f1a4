"""A PRM run with torch in this process: `PRMVerifier` loads a PRM folder and scores solutions step by step.

It splits each solution with the folder's own step format and returns the
probability that the solution is still right after each step. Scoring is
batched twice over: `score` runs many solutions in few forward passes, and
`ascore` is an async micro-batcher that gathers the requests of every problem
in flight for a few milliseconds, so the candidates of many problems share one
forward batch.

Not here: which PRMs a job holds (`reasoner.verifiers.prm.PRMSet`), or a PRM
shared between Ray workers (`reasoner.verifiers.prm.actor`).
"""

from __future__ import annotations

import asyncio
import functools
import threading
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

from reasoner.errors import ConfigError
from reasoner.verifiers.prm import Scored


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

    def __init__(self, folder: str | Path, max_batch: int = 64, window_seconds: float = 0.005) -> None:
        import torch
        from transformers import AutoTokenizer, LlamaForTokenClassification

        from reasoner.steps import load_step_format
        from reasoner.verifiers.prm.encoding import read_prm_config

        self.folder = Path(folder)
        self.step_format = load_step_format(self.folder)
        self.info = read_prm_config(self.folder)
        self.tokenizer = AutoTokenizer.from_pretrained(self.folder)
        self.model = LlamaForTokenClassification.from_pretrained(self.folder, torch_dtype=torch.float32).eval()
        self.parameters = sum(p.numel() for p in self.model.parameters())
        self.max_len = int(self.model.config.max_position_embeddings)
        self.max_batch = max_batch
        self.window_seconds = window_seconds
        self.forward_calls = 0
        """Forward passes run so far (tests count them to show batching)."""
        self._forward_lock = threading.Lock()
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopQueue] = weakref.WeakKeyDictionary()

    def score(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores of each (prompt, solution), in forward batches of up to `max_batch` solutions."""
        import torch

        from reasoner.verifiers.prm.encoding import encode, step_logits

        encoded = [encode(self.tokenizer, self.step_format, p, t, self.max_len) for p, t in items]
        order = sorted(range(len(encoded)), key=lambda i: len(encoded[i][0]))
        steps: list[list[float]] = [[] for _ in items]
        started = time.perf_counter()
        with self._forward_lock, torch.inference_mode():
            for start in range(0, len(order), self.max_batch):
                chunk = order[start:start + self.max_batch]
                logits = step_logits(self.model, [encoded[i] for i in chunk], self.tokenizer.pad_token_id)
                self.forward_calls += 1
                for index, row in zip(chunk, logits):
                    steps[index] = torch.sigmoid(row.float()).tolist()
        item_tokens = [len(ids) for ids, _ in encoded]
        tokens = sum(item_tokens)
        return Scored(steps=steps, tokens=tokens, item_tokens=item_tokens, flops=2.0 * self.parameters * tokens,
                      seconds=time.perf_counter() - started)

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
        """A `ConfigError` if the local model `policy` tokenizes differently from this PRM."""
        check_policy_tokenizer(self.folder, self.info, policy)


def check_policy_tokenizer(folder: Path, info: dict, policy: str) -> None:
    """A `ConfigError` if the local model `policy` tokenizes differently from the PRM at `folder` (`info`)."""
    mine = info.get("tokenizer_fingerprint")
    theirs = _policy_fingerprint(policy)
    if mine is not None and theirs is not None and mine != theirs:
        raise ConfigError(f"the PRM at {folder} uses a different tokenizer from the policy {policy!r} "
                          f"(vocabulary digest {mine} against {theirs}); train a PRM on this policy's "
                          f"samples (`reasoner train prm --policy {policy}`)")


def _share_out(batch: list[_Waiting], scored: Scored) -> None:
    """Give each waiting caller its solutions' scores and its share of the cost, by tokens read."""
    position = 0
    for waiting in batch:
        end = position + len(waiting.items)
        tokens = sum(scored.item_tokens[position:end])
        share = tokens / max(1, scored.tokens)
        waiting.future.set_result(Scored(steps=scored.steps[position:end], tokens=tokens,
                                         item_tokens=scored.item_tokens[position:end],
                                         flops=scored.flops * share, seconds=scored.seconds * share))
        position = end


def _policy_fingerprint(policy: str) -> str | None:
    """The tokenizer digest of a local policy; None for a model only a server knows (nothing to compare)."""
    from reasoner.errors import ModelNotFoundError
    from reasoner.engine.models import resolve_model

    try:
        path = resolve_model(policy)
    except ModelNotFoundError:
        return None
    return _folder_fingerprint(path)


@functools.lru_cache(maxsize=16)
def _folder_fingerprint(path: str) -> str | None:
    from transformers import AutoTokenizer

    from reasoner.verifiers.prm.encoding import tokenizer_fingerprint

    if not (Path(path) / "tokenizer.json").is_file() and not (Path(path) / "tokenizer_config.json").is_file():
        return None
    return tokenizer_fingerprint(AutoTokenizer.from_pretrained(path))
