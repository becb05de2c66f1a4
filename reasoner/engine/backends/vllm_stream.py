"""Streamed traces on the in-process vLLM engine: tokens as they come, and aborts that stop the engine.

`VLLMGenerator.stream(request)` sends the request's n candidates as n
single-sample engine requests (trace i seeded with `seed + i`, as vLLM seeds
the children of an n-sample request), each streaming its new tokens (vLLM's
DELTA outputs, merged by vLLM when the consumer falls behind). The traces run
as tasks on the engine loop (`reasoner.engine.runtime`); their deltas cross to
the loop that opened the stream through a queue. `abort(i)` cancels trace i's
task: vLLM's `generate` answers a cancelled caller by aborting the request in
the engine core, which drops it from the running batch before its next step.
The aborted trace then ends with the tokens it had delivered.

What an abort cannot recover: tokens the engine computed in the steps that were
in flight when the abort was sent never reach the consumer, so they are not in
the aborted trace (at most a few per trace; the model's running batch no longer
holds the request once the abort has been handled).

Not here: budgets and booking (`reasoner.budget.Meter.traces`), or deciding what to abort (strategies).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from reasoner.engine.generation import GenerationRequest, TraceDelta, align_to_text
from reasoner.errors import EngineError
from reasoner.types import Candidate, FinishReason

if TYPE_CHECKING:
    from reasoner.engine.backends.vllm import VLLMGenerator


class _Failure:
    """An exception raised by a trace's task, carried to the consumer."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


class TraceParts:
    """What one trace has produced so far, and its deltas made from vLLM's outputs."""

    def __init__(self, index: int, top_k: int, logprobs: bool) -> None:
        self.index = index
        self.top_k = top_k
        self.logprobs = logprobs
        self.token_ids: list[int] = []
        self.token_logprobs: list[float] = []
        self.top_logprobs: list[list[float]] = []
        self.text: list[str] = []

    def add(self, output) -> TraceDelta:
        """The delta of one vLLM `CompletionOutput` in DELTA mode, kept for the final candidate."""
        ids = list(output.token_ids)
        sampled, tops = position_logprobs(output.logprobs, ids, self.top_k)
        self.token_ids += ids
        self.text.append(output.text)
        if sampled is not None:
            self.token_logprobs += sampled
        if tops is not None:
            self.top_logprobs += tops
        return TraceDelta(index=self.index, token_ids=ids, text=output.text, token_logprobs=sampled, top_logprobs=tops)

    def candidate(self, finish: FinishReason, stop_reason: Any = None) -> Candidate:
        """The trace as a `Candidate`: finished, or cut short by an abort."""
        logprobs = self.token_logprobs if self.logprobs and len(self.token_logprobs) == len(self.token_ids) else None
        return Candidate(
            text="".join(self.text), token_ids=self.token_ids, num_tokens=len(self.token_ids), finish_reason=finish,
            cumulative_logprob=sum(logprobs) if logprobs is not None else None, token_logprobs=logprobs,
            top_logprobs=self.top_logprobs if self.top_k else None,
            stop_reason=stop_reason if isinstance(stop_reason, str) else None,
        )


class VLLMTraceStream:
    """A request's n traces running on the engine; see the module docstring."""

    can_abort = True

    def __init__(self, generator: VLLMGenerator, request: GenerationRequest) -> None:
        self._generator = generator
        self._request = request
        self._consumer = asyncio.get_running_loop()
        self._queue: asyncio.Queue[TraceDelta | _Failure] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._open = request.n
        self._engine_loop: asyncio.AbstractEventLoop | None = None
        self.request_ids = [f"{uuid.uuid4().hex}-{i}" for i in range(request.n)]
        """The engine's id of each trace's request."""
        self.prompt_token_ids: list[int] | None = None
        self.prompt_tokens = 0
        self.cached_tokens = 0

    async def start(self) -> None:
        """Send the n requests (run on the engine loop)."""
        from vllm.inputs import TokensPrompt

        from reasoner.engine.backends.vllm import sampling_params

        engine = self._generator.engine()
        self._engine_loop = asyncio.get_running_loop()
        prompt_ids = self._generator.formatter.request_ids(self._request)
        self.prompt_token_ids, self.prompt_tokens = prompt_ids, len(prompt_ids)
        sampling = self._request.sampling
        for index, request_id in enumerate(self.request_ids):
            seeded = sampling if sampling.seed is None else sampling.model_copy(update={"seed": sampling.seed + index})
            params = sampling_params(seeded, 1, stream=True)
            prompt = TokensPrompt(prompt_token_ids=prompt_ids)
            self._tasks.append(asyncio.create_task(self._trace(engine, index, request_id, prompt, params)))

    async def _trace(self, engine, index: int, request_id: str, prompt, params) -> None:
        sampling = self._request.sampling
        parts = TraceParts(index, sampling.top_logprobs, sampling.logprobs)
        finished = False
        try:
            # Read to the generator's own end: leaving it early would close it, which vLLM takes for an abort.
            async for output in engine.generate(prompt, params, request_id=request_id):
                if index == 0 and not parts.token_ids:
                    self.cached_tokens = output.num_cached_tokens or 0
                out = output.outputs[0]
                delta = parts.add(out)
                if output.finished:
                    finished = True
                    delta = replace(delta, done=self._finished(parts, out))
                self._put(delta)
            if not finished:
                self._put(_Failure(EngineError(f"vLLM ended request {request_id} without finishing it")))
        except asyncio.CancelledError:  # our abort: vLLM has aborted the request in the engine
            self._put(TraceDelta(index=index, token_ids=[], text="", token_logprobs=None, top_logprobs=None,
                                 done=parts.candidate(FinishReason.ABORT)))
        except Exception as exc:  # carried to the consumer, which raises it
            self._put(_Failure(self._generator.engine_error(exc)))

    def _finished(self, parts: TraceParts, output) -> Candidate:
        reason = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}.get(output.finish_reason,
                                                                              FinishReason.ABORT)
        candidate = parts.candidate(reason, output.stop_reason)
        if self._request.sampling.include_stop:
            candidate = align_to_text(candidate, self._generator.formatter.tokenizer)
        return candidate

    def _put(self, item: TraceDelta | _Failure) -> None:
        if _running_loop() is self._consumer:
            self._queue.put_nowait(item)
        else:
            self._consumer.call_soon_threadsafe(self._queue.put_nowait, item)

    def __aiter__(self) -> VLLMTraceStream:
        return self

    async def __anext__(self) -> TraceDelta:
        if self._open == 0:
            raise StopAsyncIteration
        item = await self._queue.get()
        if isinstance(item, _Failure):
            self._open = 0
            raise item.error
        if item.done is not None:
            self._open -= 1
        return item

    def abort(self, index: int) -> None:
        """Stop trace `index` now; its last delta (with `done`) still arrives. A finished trace is left alone."""
        task = self._tasks[index]
        if _running_loop() is self._engine_loop:
            task.cancel()
        elif self._engine_loop is not None:
            self._engine_loop.call_soon_threadsafe(task.cancel)

    async def close(self) -> None:
        """Abort every trace still running and wait until the engine has let them go."""
        from reasoner.engine.runtime import run_on_engine_loop

        async def stop_all() -> None:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

        if self._tasks:
            await run_on_engine_loop(stop_all())


def position_logprobs(logprobs, token_ids: list[int], top_k: int
                      ) -> tuple[list[float] | None, list[list[float]] | None]:
    """From vLLM's per-position logprobs: each sampled token's log-probability, and (with `top_k`) the
    k most likely tokens' log-probabilities, most likely first. (None, None) without logprobs."""
    if logprobs is None:
        return None, None
    if not top_k and not hasattr(logprobs, "start_indices"):  # the default path: one dict entry per position
        return [float(position[token].logprob) for token, position in zip(token_ids, logprobs)], None
    if hasattr(logprobs, "start_indices"):  # vLLM's FlatLogprobs: lists, not a dict per position
        rows = [(logprobs.token_ids[a:b], logprobs.logprobs[a:b], logprobs.ranks[a:b])
                for a, b in zip(logprobs.start_indices, logprobs.end_indices)]
    else:
        rows = [(list(position), [lp.logprob for lp in position.values()], [lp.rank for lp in position.values()])
                for position in logprobs]
    sampled = [float(values[ids.index(token)]) for (ids, values, _), token in zip(rows, token_ids)]
    if not top_k:
        return sampled, None
    return sampled, [_top(ids, values, ranks, top_k) for ids, values, ranks in rows]


def _top(ids: list[int], values: list[float], ranks: list[int | None], k: int) -> list[float]:
    """The log-probabilities of ranks 1..k, once per token (the sampled token may come twice)."""
    best = {token: value for token, value, rank in zip(ids, values, ranks) if rank is not None and rank <= k}
    return sorted(map(float, best.values()), reverse=True)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
