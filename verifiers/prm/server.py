"""A PRM scored at a vLLM server's pooling endpoint (`--prm-url`): how a 7B PRM runs beside a 1B policy.

The operator serves the PRM folder with `vllm serve FOLDER --runner pooling ...` (the flags the folder's
format needs: `serve_command` prints them) on a machine of its own; `ServerPRM` reads the same folder
here for its tokenizer and format (not its weights), sends each call's solutions as token ids to
`POST {url}/pooling` (task `token_classify`, activation off) in one request, and reads the outputs at the
format's positions. The server batches the requests of every client in its scheduler.

The prefix cache: a server's token-level pooling requests never read it (vLLM 0.32 sets
`skip_reading_prefix_cache` for them and its HTTP API does not let a client change that), so every token
of a request is computed there; `PrefixMemo` keeps what was read, so a solution whose positions were all
read before is not sent again.

A server that cannot be reached or answers wrongly raises `PRMServerError`: the problem being solved
records it and the job goes on (`reasoner.jobs.solve`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from reasoner.errors import PRMServerError
from reasoner.verifiers.prm import PRMSettings, Scored
from reasoner.verifiers.prm.formats import Encoded, PRMFormat
from reasoner.verifiers.prm.reading import PrefixMemo, Reading, copy_cached, first_copies, scored_from

TIMEOUT_SECONDS = 300.0
"""How long one scoring request may take at the server before it counts as failed."""


class ServerPRM:
    """A PRM whose weights run at a vLLM server; the folder here gives its tokenizer and format."""

    def __init__(self, folder: str | Path, settings: PRMSettings, delimiter: str | None = None) -> None:
        if settings.url is None:
            raise ValueError("ServerPRM needs settings.url")
        self.settings = settings
        self.url = settings.url
        self.reading = Reading(folder, settings, delimiter=delimiter)
        self.folder = self.reading.folder
        self.tokenizer = self.reading.tokenizer
        self.step_format = self.reading.step_format
        self.parameters = self.reading.parameters
        self.max_len = self.reading.max_len
        self.memo = PrefixMemo()
        self.requests = 0
        self._clients: dict[int, Any] = {}

    async def ascore(self, items: list[tuple[str, str]]) -> Scored:
        """Step scores of each (prompt, solution), read at the server (or from the memo)."""
        started = time.perf_counter()
        encoded = [self.reading.encode(prompt, solution) for prompt, solution in items]
        first = first_copies(encoded)
        keys = [PrefixMemo.keys(e.ids, e.positions) for e in encoded]
        rows: list[list[Any]] = [[self.memo.get(key) for key in item_keys] for item_keys in keys]
        asked = [i for i, item in enumerate(encoded)
                 if first[i] == i and item.positions and any(row is None for row in rows[i])]
        if asked:
            answered = await self._pool([list(encoded[i].ids) for i in asked])
            for i, outputs in zip(asked, answered):
                rows[i] = self._read(encoded[i], outputs, keys[i])
        rows = [rows[first[i]] for i in range(len(encoded))]
        cached = [0 if i in asked else copy_cached(item) for i, item in enumerate(encoded)]
        return scored_from(self.reading, encoded, rows, cached, time.perf_counter() - started)

    async def _pool(self, inputs: list[list[int]]) -> list[list[list[float]]]:
        """Every input's per-token outputs from the server, in order."""
        import httpx

        body = {"model": await self._model_name(), "input": inputs, "task": "token_classify", "use_activation": False}
        self.requests += 1
        try:
            reply = await self._client().post(f"{self.url}/pooling", json=body)
        except httpx.HTTPError as exc:
            raise PRMServerError(f"the PRM server at {self.url} cannot be reached: {exc!r}") from exc
        if reply.status_code != 200:
            raise PRMServerError(f"the PRM server at {self.url} refused a scoring request "
                                 f"(HTTP {reply.status_code}): {reply.text[:500]}")
        data = sorted(reply.json().get("data", []), key=lambda item: item["index"])
        if len(data) != len(inputs):
            raise PRMServerError(f"the PRM server at {self.url} answered {len(data)} of {len(inputs)} inputs")
        return [item["data"] for item in data]

    def _read(self, item: Encoded, outputs: list[Any], keys: list[bytes]) -> list[list[float]]:
        """The outputs at the item's positions: the server gives every token's (ALL pooling) or, served with
        a step tag (STEP pooling), only the tagged tokens'."""
        rows = outputs if outputs and isinstance(outputs[0], list) else [[value] for value in outputs]
        if len(rows) == len(item.ids):
            picked = [rows[p] for p in item.positions]
        elif len(rows) == len(item.positions):
            picked = rows
        else:
            raise PRMServerError(f"the PRM server at {self.url} gave {len(rows)} outputs for {len(item.ids)} tokens "
                                 f"with {len(item.positions)} steps; serve it with: "
                                 f"{serve_command(self.folder, self.reading.format)}")
        for key, row in zip(keys, picked):
            self.memo.put(key, row)
        return picked

    async def _model_name(self) -> str:
        """The model name the server serves (its first), asked once per event loop."""
        import httpx

        if getattr(self, "_served_name", None) is None:
            try:
                reply = await self._client().get(f"{self.url}/v1/models")
                reply.raise_for_status()
                self._served_name = reply.json()["data"][0]["id"]
            except (httpx.HTTPError, KeyError, IndexError, ValueError) as exc:
                raise PRMServerError(f"the PRM server at {self.url} cannot be reached or lists no model: "
                                     f"{exc!r}") from exc
        return self._served_name

    def _client(self):
        """One HTTP client per event loop (an httpx client belongs to the loop it was first used on)."""
        import asyncio

        import httpx

        loop = id(asyncio.get_running_loop())
        if loop not in self._clients:
            self._clients[loop] = httpx.AsyncClient(timeout=TIMEOUT_SECONDS)
        return self._clients[loop]

    def count_tokens(self, items: list[tuple[str, str]]) -> int:
        return self.reading.count_tokens(items)

    def check_policy(self, policy: str) -> None:
        self.reading.check_policy(policy)

    def stats(self) -> dict[str, int]:
        """Requests sent, memo hits and misses."""
        return {"requests": self.requests, "memo_hits": self.memo.hits, "memo_misses": self.memo.misses}


def serve_command(folder: str | Path, fmt: PRMFormat) -> str:
    """The `vllm serve` command that serves the PRM at `folder` the way this format reads it."""
    options = fmt.engine_options()
    flags = [f"--runner {options.pop('runner', 'pooling')}"]
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        flags.append(f"{flag} {value}" if isinstance(value, str) else f"{flag} '{json.dumps(value)}'")
    return f"vllm serve {folder} " + " ".join(flags)
