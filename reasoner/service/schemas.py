"""Request bodies of the HTTP API, validated where they enter.

`ChatRequest` is OpenAI's chat completion body (the fields this service
honours; any other field is refused, not silently ignored) plus the
`reasoner` extension that picks a strategy per request.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reasoner.errors import RequestError
from reasoner.types import Budget


class TextPart(BaseModel):
    """One part of a message's content list; only text is supported."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    """Content kind; images and audio are refused."""
    text: str
    """The text."""


class Message(BaseModel):
    """One chat message."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    """Who wrote it; `developer` is treated as `system`."""
    content: str | list[TextPart]
    """Text, or a list of text parts joined together."""
    name: str | None = None
    """Accepted for compatibility; not shown to the model."""

    @property
    def text(self) -> str:
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ReasonerOptions(BaseModel):
    """The `reasoner` extension: a strategy, its options (any further keys) and a budget."""

    model_config = ConfigDict(extra="allow")

    strategy: str | None = None
    """A registered strategy name; None returns plain samples, like any OpenAI server."""
    budget: Budget | None = None
    """Per-choice caps on samples, generated tokens or FLOPs."""
    domain: Literal["math", "code"] = "math"
    """How answers are extracted: a boxed/final math answer, or a program."""

    @property
    def strategy_options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ChatRequest(BaseModel):
    """`POST /v1/chat/completions`."""

    model_config = ConfigDict(extra="forbid")

    model: str
    """A served model, optionally with a strategy suffix: `tiny@self_consistency:8`."""
    messages: list[Message] = Field(min_length=1)
    """The conversation; the last message must be the user's."""
    n: int = Field(1, ge=1)
    """Choices returned; each is one independent run of the strategy."""
    max_tokens: int | None = Field(None, ge=1)
    """Cap on each candidate's tokens."""
    max_completion_tokens: int | None = Field(None, ge=1)
    """Newer clients' name for `max_tokens`."""
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    """Sampling temperature."""
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    """Nucleus mass."""
    stop: str | list[str] | None = None
    """Strings that end generation, applied to every internal model call."""
    seed: int | None = None
    """Base seed; each choice derives its own."""
    stream: bool = False
    """Server-sent events: progress, then content, then usage."""
    stream_options: dict[str, Any] | None = None
    """`{"include_usage": true}` adds a final usage chunk."""
    user: str | None = None
    """Accepted for compatibility; not used."""
    reasoner: ReasonerOptions | None = None
    """Strategy per request (sent by clients as `extra_body={"reasoner": {...}}`)."""

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: str | list[str] | None) -> list[str] | None:
        if isinstance(value, str):
            return [value]
        return value

    @property
    def token_cap(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens

    @property
    def include_usage(self) -> bool:
        return bool((self.stream_options or {}).get("include_usage"))


def validate(model: type[BaseModel], data: Any, prefix: str = "") -> Any:
    """`model.model_validate(data)`, with a failure turned into a 400 naming the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise request_error(exc, prefix) from exc
    except (TypeError, ValueError) as exc:  # a validator that did not expect this type: still the input's fault
        raise RequestError(f"invalid value: {exc}", param=prefix.rstrip(".") or "body") from None


def request_error(exc: ValidationError, prefix: str = "") -> RequestError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "extra_forbidden":
        message = "unknown field"
    else:
        message = first["msg"]
    more = len(exc.errors()) - 1
    if more:
        message += f" (and {more} more error{'s' if more > 1 else ''})"
    return RequestError(message, param=f"{prefix}{field}")
