"""What every PRM runner shares: reading a folder, encoding solutions, the memo of scored prefixes, the cost.

- `Reading` is a PRM folder opened for scoring without its weights: the format adapter
  (`reasoner.verifiers.prm.formats`), the policy's step format, the context length, the parameter
  count, and `encode(prompt, solution)` (cut at the context length, memoised).
- `PrefixMemo` remembers the raw outputs at positions already read, keyed by the token prefix that
  produced them (a causal model's output at a position depends on nothing after it), so no prefix is
  scored twice, and a position that the engine's prefix cache served without an output is found here.
- `scored_from` turns per-solution outputs into a `Scored` with its cost.

Not here: running a model (`local` with torch, `served` on vLLM, `server` at a vLLM server).
"""

from __future__ import annotations

import functools
import hashlib
import threading
from array import array
from collections import OrderedDict
from pathlib import Path
from typing import Any

from reasoner.errors import ConfigError
from reasoner.steps import StepFormat
from reasoner.verifiers.prm import PRMSettings, Scored
from reasoner.verifiers.prm.formats import Encoded, PRMFormat


class Reading:
    """A PRM folder opened for scoring: format, step format, context length, size; no weights."""

    def __init__(self, folder: str | Path, settings: PRMSettings | None = None, parameters: int | None = None,
                 delimiter: str | None = None) -> None:
        """`delimiter` splits solutions into steps instead of the folder's step format (`prm_step_format`)."""
        from reasoner.engine.models import count_parameters
        from reasoner.verifiers.prm import prm_step_format
        from reasoner.verifiers.prm.formats import load_tokenizer, open_format

        settings = settings or PRMSettings()
        self.folder = Path(folder)
        self.tokenizer = load_tokenizer(self.folder)
        self.format: PRMFormat = open_format(self.folder, settings.format, tokenizer=self.tokenizer)
        self.step_format: StepFormat = prm_step_format(self.folder, delimiter)
        self.max_len = self.format.max_len
        self.parameters = parameters if parameters is not None else count_parameters(self.folder)
        self.encode = functools.lru_cache(maxsize=8192)(self._encode)

    def _encode(self, prompt: str, solution: str) -> Encoded:
        """The PRM's input for one solution, cut at the context length (steps past it are not scored)."""
        encoded = self.format.encode(prompt, solution, self.step_format)
        if len(encoded.ids) <= self.max_len:
            return encoded
        return Encoded(ids=encoded.ids[: self.max_len], positions=tuple(p for p in encoded.positions
                                                                         if p < self.max_len))

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        """Tokens the PRM reads for `items` (what a scoring costs at most, before any cache)."""
        return sum(len(self.encode(prompt, solution).ids) for prompt, solution in items)

    def check_policy(self, policy: str) -> None:
        """A `ConfigError` if the format reads the policy's own tokens and `policy` tokenizes differently."""
        if self.format.same_tokenizer:
            check_policy_tokenizer(self.folder, getattr(self.format, "info", {}), policy)

    def describe(self) -> dict[str, Any]:
        """The format's name and the folder, for records and `reasoner verify prm`."""
        return {"folder": str(self.folder), "format": self.format.name, "delimiter": self.step_format.delimiter}


class PrefixMemo:
    """Raw outputs at read positions, keyed by the token prefix through the position; least recently used
    entries go first when it is full. Thread-safe."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._entries: OrderedDict[bytes, list[float]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def keys(ids: tuple[int, ...], positions: tuple[int, ...]) -> list[bytes]:
        """One key per position: a digest of the ids through it (computed in one pass over the ids)."""
        hasher, done, keys = hashlib.blake2b(digest_size=16), 0, []
        for position in positions:
            hasher.update(array("q", ids[done:position + 1]).tobytes())
            done = position + 1
            keys.append(hasher.copy().digest())
        return keys

    def get(self, key: bytes) -> list[float] | None:
        with self._lock:
            row = self._entries.get(key)
            if row is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return row

    def put(self, key: bytes, row: list[float]) -> None:
        with self._lock:
            self._entries[key] = row
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)


def first_copies(encoded: list[Encoded]) -> list[int]:
    """For each solution, the index of the first one read exactly alike (itself when it is the first)."""
    first: dict[tuple[int, ...], int] = {}
    return [first.setdefault(item.ids, index) for index, item in enumerate(encoded)]


def copy_cached(item: Encoded) -> int:
    """Tokens of a copy of a solution read in the same call: all of them, served by the first copy's reading."""
    return len(item.ids) if item.positions else 0


def scored_from(reading: Reading, encoded: list[Encoded], rows: list[list[list[float]]], cached: list[int],
                seconds: float) -> Scored:
    """The `Scored` of solutions read as `encoded`, their raw outputs at the read positions, and how many
    leading tokens of each were served from a cache (the engine's or the memo). A solution without a step
    to score is not read (0 tokens)."""
    item_tokens = [len(e.ids) if e.positions else 0 for e in encoded]
    tokens, cached_tokens = sum(item_tokens), sum(cached)
    return Scored(steps=[[reading.format.probability(row) for row in item] for item in rows], tokens=tokens,
                  item_tokens=item_tokens, flops=2.0 * reading.parameters * (tokens - cached_tokens), seconds=seconds,
                  cached_tokens=cached_tokens, item_cached=list(cached), item_ids=[list(e.ids) for e in encoded])


def check_policy_tokenizer(folder: Path, info: dict, policy: str) -> None:
    """A `ConfigError` if the local model `policy` tokenizes differently from the PRM at `folder` (`info`)."""
    mine = info.get("tokenizer_fingerprint")
    theirs = _policy_fingerprint(policy)
    if mine is not None and theirs is not None and mine != theirs:
        raise ConfigError(f"the PRM at {folder} uses a different tokenizer from the policy {policy!r} "
                          f"(vocabulary digest {mine} against {theirs}); train a PRM on this policy's "
                          f"samples (`reasoner train prm --policy {policy}`)")


def _policy_fingerprint(policy: str) -> str | None:
    """The tokenizer digest of a local policy; None for a model only a server knows (nothing to compare)."""
    from reasoner.engine.models import resolve_model
    from reasoner.errors import ModelNotFoundError

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
