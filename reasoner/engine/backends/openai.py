"""Any OpenAI-compatible HTTP server (`vllm serve`, SGLang, ...) behind `Generator`.

When the model's tokenizer is available locally, prompts are rendered here
with its chat template and sent to `/v1/completions`, which allows continuing
an assistant prefix on any server. Otherwise the chat endpoint is used, and a
prefix needs vLLM's `continue_final_message` extension.

Not here: retries with back-off beyond the client's own, or streaming.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from reasoner.errors import ConfigError, EngineError
from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo, PromptFormatter, align_to_text
from reasoner.types import Candidate, FinishReason, SamplingConfig


class ServerConfig(BaseModel):
    """How to reach the server."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """Model name the server knows (for `vllm serve PATH` that is PATH)."""
    base_url: str = "http://127.0.0.1:8000/v1"
    """Server root including `/v1`."""
    api_key: str = "EMPTY"
    """Bearer token; local servers usually ignore it."""
    tokenizer: str | None = None
    """Local tokenizer folder for prompt rendering; defaults to `model` if that is a folder."""
    parameters: int | None = None
    """Parameter count for FLOPs estimates, if known."""
    timeout_s: float = 600.0
    """Per-request timeout."""


class OpenAIGenerator:
    """A `Generator` that calls an OpenAI-compatible server."""

    def __init__(self, model: str, **options: Any) -> None:
        self.config = ServerConfig(model=model, **options)
        self._client = None
        self._formatter = _local_formatter(self.config.tokenizer or self.config.model)

    @property
    def info(self) -> ModelInfo:
        return ModelInfo(name=self.config.model, parameters=self.config.parameters)

    def client(self):
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(base_url=self.config.base_url, api_key=self.config.api_key,
                                       timeout=self.config.timeout_s)
        return self._client

    async def generate(self, request: GenerationRequest) -> Generation:
        import openai

        try:
            if self._formatter is not None:
                return await self._complete(request)
            return await self._chat(request)
        except openai.APIConnectionError as exc:
            raise EngineError(f"cannot reach {self.config.base_url}: {exc}") from exc
        except openai.APIStatusError as exc:
            raise EngineError(f"{self.config.base_url} answered {exc.status_code}: {exc.message}") from exc

    async def _complete(self, request: GenerationRequest) -> Generation:
        # Token ids when continuing token-space prefixes, so the server sees exactly those tokens.
        prompt_ids = self._formatter.request_ids(request) if request.prefix_ids else None
        prompt = prompt_ids or self._formatter.render(request.prompt, request.prefix, request.history)
        # vLLM returns the sampled token ids on request (other servers ignore the field), so a
        # step-level search can continue in token space over HTTP too.
        response = await self.client().completions.create(
            model=self.config.model, prompt=prompt, n=request.n, **_common(request.sampling),
            logprobs=0 if request.sampling.logprobs else None,
            extra_body={**_vllm_extras(request.sampling), "return_token_ids": True},
        )
        choices = sorted(response.choices, key=lambda c: c.index)
        candidates = [_with_token_ids(_candidate(c.text, c.finish_reason, c.logprobs and c.logprobs.token_logprobs,
                                                 getattr(c, "stop_reason", None)), c, self._formatter.tokenizer)
                      for c in choices]
        return Generation(candidates=_fill_counts(candidates, response.usage),
                          prompt_tokens=response.usage.prompt_tokens, prompt_token_ids=prompt_ids,
                          cached_tokens=_cached_tokens(response.usage))

    async def _chat(self, request: GenerationRequest) -> Generation:
        if request.prefix_ids:
            raise ConfigError(f"prefix_ids needs the model's tokenizer to render prompts; give --model a local "
                              f"folder (or ServerConfig.tokenizer) for {self.config.model!r}")
        messages = [*({"role": t.role, "content": t.content} for t in request.history),
                    {"role": "user", "content": request.prompt}]
        extras = _vllm_extras(request.sampling)
        if request.prefix:
            messages.append({"role": "assistant", "content": request.prefix})
            extras.update(continue_final_message=True, add_generation_prompt=False)
        response = await self.client().chat.completions.create(
            model=self.config.model, messages=messages, n=request.n, **_common(request.sampling),
            logprobs=request.sampling.logprobs or None, extra_body=extras,
        )
        choices = sorted(response.choices, key=lambda c: c.index)
        candidates = [
            _candidate(c.message.content or "", c.finish_reason,
                       [t.logprob for t in c.logprobs.content] if c.logprobs and c.logprobs.content else None,
                       getattr(c, "stop_reason", None))
            for c in choices
        ]
        return Generation(candidates=_fill_counts(candidates, response.usage),
                          prompt_tokens=response.usage.prompt_tokens, cached_tokens=_cached_tokens(response.usage))

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None


def _common(sampling: SamplingConfig) -> dict[str, Any]:
    return dict(
        temperature=sampling.temperature,
        top_p=1.0 if sampling.greedy else sampling.top_p,
        max_tokens=sampling.max_tokens,
        stop=list(sampling.stop) or None,
        seed=sampling.seed,
    )


def _vllm_extras(sampling: SamplingConfig) -> dict[str, Any]:
    """vLLM-specific fields; other servers ignore unknown fields."""
    extras: dict[str, Any] = {}
    if sampling.include_stop:
        extras["include_stop_str_in_output"] = True
    if sampling.min_tokens:
        extras["min_tokens"] = min(sampling.min_tokens, sampling.max_tokens)
    return extras


def _with_token_ids(candidate: Candidate, choice, tokenizer) -> Candidate:
    """`candidate` with the ids the server sampled (vLLM's `token_ids`), trimmed to spell its text."""
    ids = (choice.model_extra or {}).get("token_ids")
    if not ids:
        return candidate
    with_ids = candidate.model_copy(update={"token_ids": [int(i) for i in ids], "num_tokens": len(ids)})
    return align_to_text(with_ids, tokenizer)


def _candidate(text: str, finish_reason: str | None, token_logprobs, stop_reason) -> Candidate:
    reason = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}.get(finish_reason or "",
                                                                          FinishReason.ABORT)
    logprobs = [lp for lp in (token_logprobs or []) if lp is not None]
    return Candidate(
        text=text,
        num_tokens=len(token_logprobs) if token_logprobs else 0,
        finish_reason=reason,
        cumulative_logprob=sum(logprobs) if token_logprobs else None,
        stop_reason=stop_reason if isinstance(stop_reason, str) else None,
    )


def _cached_tokens(usage) -> int:
    """Prompt tokens the server served from its prefix cache, when it reports them (vLLM does with
    `--enable-prompt-tokens-details`); 0 otherwise."""
    details = getattr(usage, "prompt_tokens_details", None)
    return int(getattr(details, "cached_tokens", 0) or 0)


def _fill_counts(candidates: list[Candidate], usage) -> list[Candidate]:
    """Spread the server's completion-token total over candidates lacking per-token logprobs."""
    if all(c.num_tokens for c in candidates) or not candidates:
        return candidates
    share = usage.completion_tokens // len(candidates)
    return [c if c.num_tokens else c.model_copy(update={"num_tokens": share}) for c in candidates]


def _local_formatter(path: str) -> PromptFormatter | None:
    from pathlib import Path

    from reasoner.engine.models import BUNDLED, resolve_model

    folder = resolve_model(path) if path in BUNDLED else path
    if not (Path(folder) / "tokenizer_config.json").is_file():
        return None
    from transformers import AutoTokenizer

    return PromptFormatter(AutoTokenizer.from_pretrained(folder))
