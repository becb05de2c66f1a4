"""The generation protocol every backend implements, and prompt formatting.

A `Generator` turns one `GenerationRequest` (a user prompt, an optional
assistant prefix to continue, n and sampling settings) into candidates. It is
async so that many problems' strategies share one engine and the engine
batches them. Backends live in `reasoner.engine.backends`; this module has no
dependency on vLLM or HTTP.

A generator may also stream (`StreamingGenerator.stream`): the request's n
candidates become n traces whose tokens arrive as they are generated
(`TraceDelta`), and any trace can be aborted at once, so the engine stops
computing it. Trace i is seeded with `seed + i`, as vLLM seeds the i-th
candidate of an n-sample request, so a streamed request draws the same
candidates as the plain one. `open_stream` gives every generator a stream: one
that cannot stream is asked for the whole request and hands its candidates over
when they are done (an abort then comes too late to save anything).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reasoner.types import Candidate, SamplingConfig


class ModelInfo(BaseModel):
    """What a strategy may need to know about the model behind a generator."""

    model_config = ConfigDict(frozen=True)

    name: str
    """Model name or path, as given by the user."""
    parameters: int | None = None
    """Parameter count, for FLOPs estimates; None when unknown."""
    vocab_size: int | None = None
    """Size of the model's output vocabulary (self-certainty needs it); None when unknown."""

    def flops(self, tokens: int) -> float:
        """Estimated forward FLOPs for `tokens` tokens: 2 x parameters x tokens."""
        return 2.0 * (self.parameters or 0) * tokens


class ChatTurn(BaseModel):
    """One earlier message of a conversation, before the request's user prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    role: str
    """`system`, `user` or `assistant`."""
    content: str
    """The message text."""


class GenerationRequest(BaseModel):
    """One call to a model: n continuations of the same prompt."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt: str
    """The user message (formatted with the chat template when the model has one)."""
    history: tuple[ChatTurn, ...] = ()
    """Earlier turns of a conversation, rendered before `prompt` (chat requests to the service)."""
    prefix: str = ""
    """Assistant text already written; generation continues from its last character."""
    prefix_ids: tuple[int, ...] = ()
    """Assistant tokens already written, appended to the rendered prompt's ids as they are.
    Step-level search continues in token space this way, so nothing is re-tokenized at a step
    boundary (no whitespace lost or doubled) and the engine's prefix cache serves the shared part."""
    n: int = Field(1, ge=1)
    """Number of candidates."""
    sampling: SamplingConfig = SamplingConfig()
    """Temperature, max tokens, stop strings, seed, logprobs."""

    @model_validator(mode="after")
    def _one_prefix(self) -> GenerationRequest:
        if self.prefix and self.prefix_ids:
            raise ValueError("give the assistant prefix as text (prefix) or as token ids (prefix_ids), not both")
        return self


class Generation(BaseModel):
    """The answer to one `GenerationRequest`."""

    candidates: list[Candidate]
    """n continuations, in request order."""
    prompt_tokens: int
    """Tokens in the formatted prompt plus prefix, counted once for the call."""
    prompt_token_ids: list[int] | None = None
    """The ids of that input (template, prompt, prefix), when the backend knows them."""
    cached_tokens: int = 0
    """Of `prompt_tokens`, how many the engine served from its prefix cache instead of computing."""
    weight_version: int | None = None
    """Which weights produced it, for engines that take new weights while running."""


@runtime_checkable
class Generator(Protocol):
    """Anything that can sample continuations of a prompt."""

    @property
    def info(self) -> ModelInfo: ...

    async def generate(self, request: GenerationRequest) -> Generation: ...

    async def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class TraceDelta:
    """What one streamed trace produced since its last delta (a dataclass: one is made per token)."""

    index: int
    """Which of the request's n traces (0-based)."""
    token_ids: list[int]
    """Its new tokens."""
    text: str
    """Their text (a stop string that ended the trace is left out, as in `Candidate.text`)."""
    token_logprobs: list[float] | None
    """Their log-probabilities, when the request asked for logprobs."""
    top_logprobs: list[list[float]] | None
    """Per new token, the k most likely tokens' log-probabilities, when the request asked for them."""
    done: Candidate | None = None
    """The whole trace once it has ended (finished, or aborted with the tokens it had)."""


@runtime_checkable
class TraceStream(Protocol):
    """A request's n traces in flight: iterate for deltas, `abort(i)` to stop trace i at once."""

    prompt_tokens: int
    """Tokens of the formatted prompt, once."""
    prompt_token_ids: list[int] | None
    """Their ids, when the backend knows them."""
    cached_tokens: int
    """Of `prompt_tokens`, those the engine served from its prefix cache (for the first trace)."""
    can_abort: bool
    """Whether `abort` stops the engine's work (False for a generator that cannot stream)."""

    def __aiter__(self) -> TraceStream: ...

    async def __anext__(self) -> TraceDelta: ...

    def abort(self, index: int) -> None: ...


@runtime_checkable
class StreamingGenerator(Generator, Protocol):
    """A generator that streams traces and aborts them."""

    def stream(self, request: GenerationRequest):
        """An async context manager yielding a `TraceStream`; leaving it aborts the traces still running."""
        ...


class BufferedStream:
    """The `TraceStream` of a generator that cannot stream: one `generate` call, its candidates at the end."""

    can_abort = False

    def __init__(self, generation: Generation) -> None:
        self.prompt_tokens = generation.prompt_tokens
        self.prompt_token_ids = generation.prompt_token_ids
        self.cached_tokens = generation.cached_tokens
        self._candidates = generation.candidates
        self._next = 0

    def __aiter__(self) -> BufferedStream:
        return self

    async def __anext__(self) -> TraceDelta:
        if self._next >= len(self._candidates):
            raise StopAsyncIteration
        index, self._next = self._next, self._next + 1
        candidate = self._candidates[index]
        return TraceDelta(index=index, token_ids=candidate.token_ids, text=candidate.text,
                          token_logprobs=candidate.token_logprobs,
                          top_logprobs=candidate.top_logprobs, done=candidate)

    def abort(self, index: int) -> None:
        """Nothing to stop: every trace has already ended."""


@asynccontextmanager
async def open_stream(generator: Generator, request: GenerationRequest) -> AsyncIterator[TraceStream]:
    """`generator.stream(request)` when it streams; else its whole answer, buffered."""
    if isinstance(generator, StreamingGenerator):
        async with generator.stream(request) as stream:
            yield stream
        return
    yield BufferedStream(await generator.generate(request))


class PromptFormatter:
    """Renders a user prompt (and assistant prefix) the way the model was trained.

    Uses the tokenizer's chat template when it has one, plain text otherwise.
    """

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.uses_chat_template = bool(getattr(tokenizer, "chat_template", None))

    def render(self, prompt: str, prefix: str = "", history: Sequence[ChatTurn] = ()) -> str:
        """Text of the whole model input: earlier turns, the formatted prompt, then the prefix."""
        if not self.uses_chat_template:
            return "".join(f"{turn.content}\n" for turn in history) + prompt + prefix
        messages = [{"role": turn.role, "content": turn.content} for turn in history]
        head = self.tokenizer.apply_chat_template(
            [*messages, {"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
        return head + prefix

    def token_ids(self, prompt: str, prefix: str = "", prefix_ids: Sequence[int] = (),
                  history: Sequence[ChatTurn] = ()) -> list[int]:
        """Token ids of `render(prompt, prefix, history)`, then `prefix_ids` as given; the template carries BOS."""
        text = self.render(prompt, prefix, history)
        ids = self.tokenizer(text, add_special_tokens=not self.uses_chat_template)["input_ids"]
        return [*ids, *prefix_ids]

    def request_ids(self, request: GenerationRequest) -> list[int]:
        """The model input of `request` as token ids."""
        return self.token_ids(request.prompt, request.prefix, request.prefix_ids, request.history)


def align_to_text(candidate: Candidate, tokenizer) -> Candidate:
    """`candidate` with token ids that spell exactly its text.

    When a kept stop string ends inside a token (a newline token that also
    holds the next line's indent), vLLM cuts the text after the stop string but
    keeps the whole token (in process and over HTTP alike), so a search continuing from the ids would skip the
    characters the text dropped. The last token is then re-encoded up to the
    cut. `num_tokens` and the log-probabilities still count what was generated.
    """
    ids = candidate.token_ids
    if candidate.stop_reason is None or not ids or _decode(tokenizer, ids) == candidate.text:
        return candidate
    head = ids[:-1]
    spelled = _decode(tokenizer, head)
    if not candidate.text.startswith(spelled):
        return candidate
    tail = tokenizer.encode(candidate.text[len(spelled):], add_special_tokens=False)
    return candidate.model_copy(update={"token_ids": [*head, *tail]})


def _decode(tokenizer, ids: list[int]) -> str:
    return tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False)
