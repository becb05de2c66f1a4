"""A PRM served by vLLM: a pooling engine in its own process, every caller's requests batched, prefixes cached.

`ServedPRM` reads each solution through the folder's format and sends its token ids to a shared
`VLLMPooler` (`reasoner.engine.backends.pooling`), one request per solution, all in flight at once, so
vLLM's scheduler batches the requests of every problem being solved. The engine returns each computed
token's raw outputs (activation off); the format turns the outputs at its read positions into step
probabilities.

Cached along the tree: the engine is asked to read its prefix cache, so a search scoring a child pays
only for the tokens past the blocks its parent (or a sibling) left cached; whole cached blocks yield no
outputs, so positions inside them come from `PrefixMemo`, filled with every position read. A solution
whose every position is in the memo is not sent at all; a position the cache served and the memo does not
hold (computed by a request that did not read it, e.g. another process) is read again without the cache.
Every format here reads token outputs of a causal model with token-level `ALL` pooling, which vLLM 0.32
allows to cache (it refuses STEP pooling, so the Qwen PRM is asked for `ALL` and its separators are read
here); an engine that turned the cache off still works, computing every token, with the memo alone.

Not here: the format adapters, the engine itself, or the PRM shared by Ray workers (`actor`).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from reasoner.verifiers.prm import PRMSettings, Scored
from reasoner.verifiers.prm.formats import Encoded
from reasoner.verifiers.prm.reading import PrefixMemo, Reading, copy_cached, first_copies, scored_from


class ServedPRM:
    """A PRM on a vLLM pooling engine (shared in the process per folder and settings)."""

    def __init__(self, folder: str | Path, settings: PRMSettings | None = None, delimiter: str | None = None) -> None:
        from reasoner.engine.backends.pooling import PoolingEngineConfig, VLLMPooler

        self.settings = settings or PRMSettings()
        self.reading = Reading(folder, self.settings, delimiter=delimiter)
        self.folder = self.reading.folder
        self.tokenizer = self.reading.tokenizer
        self.step_format = self.reading.step_format
        self.parameters = self.reading.parameters
        self.max_len = self.reading.max_len
        self.pooler = VLLMPooler.shared(PoolingEngineConfig(
            model=str(self.folder), model_options=json.dumps(self.reading.format.engine_options(), sort_keys=True),
            kv_cache_gib=self.settings.kv_cache_gib, gpu_memory_utilization=self.settings.gpu_memory_utilization,
            prefix_caching=self.settings.prefix_caching, verbose=self.settings.verbose))
        self.memo = PrefixMemo()
        self.requests = 0
        """Requests sent to the engine (tests count them)."""
        self.rereads = 0
        """Requests sent again without the cache, for a position it served that the memo did not hold."""

    def start(self) -> ServedPRM:
        """Bring the engine up now (else on the first scoring)."""
        self.pooler.engine()
        return self

    async def ascore(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores of each (prompt, solution); the engine batches them with every other caller's."""
        started, computed_before = time.perf_counter(), self.pooler.computed_tokens
        encoded = [self.reading.encode(prompt, solution) for prompt, solution in items]
        first = first_copies(encoded)
        unique = sorted(set(first))
        read = dict(zip(unique, await asyncio.gather(*(self._read(encoded[i]) for i in unique))))
        rows = [read[first[i]][0] for i in range(len(encoded))]
        cached = [read[i][1] if first[i] == i else copy_cached(item) for i, item in enumerate(encoded)]
        mine = sum(len(e.ids) for e in encoded if e.positions) - sum(cached)
        engine_total = self.pooler.computed_tokens - computed_before
        share = mine / engine_total if engine_total > 0 else 0.0
        return scored_from(self.reading, encoded, rows, cached, (time.perf_counter() - started) * min(1.0, share))

    async def _read(self, item: Encoded) -> tuple[list[list[float]], int]:
        """The raw outputs at the item's positions, and its tokens served from a cache."""
        if not item.positions:
            return [], 0
        keys = PrefixMemo.keys(item.ids, item.positions)
        remembered = [self.memo.get(key) for key in keys]
        if all(row is not None for row in remembered):
            return remembered, len(item.ids)
        self.requests += 1
        pooled = await self.pooler.encode(list(item.ids), read_cache=True)
        rows = [self._row(pooled, p, key, old) for p, key, old in zip(item.positions, keys, remembered)]
        if any(row is None for row in rows):
            self.rereads += 1
            pooled = await self.pooler.encode(list(item.ids), read_cache=False)
            rows = [self._row(pooled, p, key, None) for p, key in zip(item.positions, keys)]
        return rows, pooled.cached

    def _row(self, pooled, position: int, key: bytes, remembered: list[float] | None) -> list[float] | None:
        """The outputs at `position`: computed in `pooled` (and remembered), else the memo's (None if it has none)."""
        if position < pooled.cached:
            return remembered
        row = pooled.rows[position - pooled.cached].float().tolist()
        self.memo.put(key, row)
        return row

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        return self.reading.count_tokens(items)

    def check_policy(self, policy: str) -> None:
        self.reading.check_policy(policy)

    def stats(self) -> dict[str, int]:
        """Requests sent, requests read again without the cache, memo hits and misses."""
        return {"requests": self.requests, "rereads": self.rereads, "memo_hits": self.memo.hits,
                "memo_misses": self.memo.misses}
