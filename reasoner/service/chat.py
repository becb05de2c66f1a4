"""One chat completion: plan it from the request, run the strategy per choice, shape the answer.

A request's strategy, options, budget and stop strings live in its `ChatPlan`
and in a per-request generator view (`ConversationView`) over the shared
engine; nothing the request sets outlives it or touches other requests.
Each of the `n` choices is one independent run of the strategy with its own
seed; the message content is the chosen candidate's full text.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError

from reasoner.engine.generation import ChatTurn, Generation, GenerationRequest, Generator, ModelInfo
from reasoner.errors import ConfigError, RequestError
from reasoner.jobs.solve import solve_problem
from reasoner.service.caps import check_caps, over
from reasoner.service.config import Limits
from reasoner.service.http_errors import safe_error_text
from reasoner.service.schemas import ChatRequest, ReasonerOptions, request_error
from reasoner.strategies import build_strategy
from reasoner.strategies.base import SolveContext, Strategy, make_result
from reasoner.types import Budget, Cost, Problem, Result, SamplingConfig, TraceEvent
from reasoner.verifiers.prm import PRMSet

DIRECT = "none"
"""Strategy name of a plain request: the n choices are n samples of one model call."""


class DirectSampling(BaseModel):
    """No test-time strategy: sample n continuations in one call, as any OpenAI server would."""

    model_config = ConfigDict(extra="forbid")
    name: ClassVar[str] = DIRECT

    n: int = 1
    """Continuations, one per choice."""
    temperature: float = 1.0
    """OpenAI's default."""
    top_p: float = 1.0
    """OpenAI's default."""
    max_tokens: int = 256
    """Cap on each continuation."""

    async def solve(self, problem: Problem, ctx: SolveContext) -> Result:
        sampling = SamplingConfig(temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens,
                                  seed=ctx.seed)
        candidates = await ctx.meter.generate(GenerationRequest(prompt=problem.prompt, n=self.n, sampling=sampling))
        answers = [ctx.extract(problem, c.text) for c in candidates]
        ctx.meter.record("answers", answers=answers)  # each choice's extracted answer, for its `reasoner` field
        return make_result(self.name, problem, ctx, candidates, 0 if candidates else None,
                           answers[0] if candidates else None)


class ConversationView:
    """The shared engine as one request sees it: its earlier turns and stop strings added to every call."""

    def __init__(self, inner: Generator, history: tuple[ChatTurn, ...], stop: tuple[str, ...]) -> None:
        self.inner = inner
        self.history = history
        self.stop = stop

    @property
    def info(self) -> ModelInfo:
        return self.inner.info

    async def generate(self, request: GenerationRequest) -> Generation:
        sampling = request.sampling
        if self.stop:
            sampling = sampling.model_copy(update={"stop": tuple(dict.fromkeys((*sampling.stop, *self.stop)))})
        try:
            return await self.inner.generate(request.model_copy(update={"history": self.history,
                                                                        "sampling": sampling}))
        except Exception as exc:
            if _client_fault(exc):  # e.g. a conversation longer than the model's context: the request's fault
                raise RequestError(f"the model cannot take this request: {exc}", param="messages",
                                   code="context_length_exceeded") from None
            raise

    async def close(self) -> None:
        """The engine is shared; closing a view leaves it running."""


def _client_fault(exc: BaseException) -> bool:
    """Whether the engine refused the request itself (vLLM's `VLLMClientError`, a 4xx in its own server)."""
    return any(cls.__name__ == "VLLMClientError" for cls in type(exc).__mro__)


@dataclass
class ChatPlan:
    """Everything one chat completion will do, checked against the caps."""

    model: str
    strategy: Strategy
    prompt: str
    history: tuple[ChatTurn, ...]
    domain: str
    runs: int
    """Independent strategy runs (n choices; 1 for direct sampling, whose one call returns n)."""
    choices: int
    budget: Budget
    seed: int | None
    stop: tuple[str, ...]
    include_usage: bool = False
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex[:24]}")
    created: int = field(default_factory=lambda: int(time.time()))

    @property
    def strategy_name(self) -> str:
        return self.strategy.name


def plan_chat(request: ChatRequest, served: tuple[str, ...], limits: Limits, code_allowed: bool = True
              ) -> ChatPlan:
    """Check `request` against the served models, names and caps; 400 naming the field when it does not fit."""
    model, options = _split_model(request.model, request.reasoner)
    if model not in served:
        raise RequestError(f"model {model[:80]!r} is not served here; served: {', '.join(served)}", param="model",
                           status=404, code="model_not_found")
    last = len(request.messages) - 1
    if request.messages[-1].role != "user":
        raise RequestError("the last message must be the user's", param=f"messages.{last}.role")
    if not request.messages[-1].text.strip():  # found by the fuzzer: a blank question was a 500
        raise RequestError("the user's message must not be empty", param=f"messages.{last}.content")
    if options.domain == "code" and not code_allowed:
        raise RequestError("this server cannot isolate code from its own files, so it does not grade code; the "
                           "operator may allow it with --allow-unsandboxed-code", param="reasoner.domain",
                           code="code_disabled")
    _check_caps(request, options, limits)
    strategy = _build_strategy(request, options)
    history = tuple(ChatTurn(role="system" if m.role == "developer" else m.role, content=m.text)
                    for m in request.messages[:-1])
    direct = strategy.name == DIRECT
    budget = options.budget or Budget()
    budget = budget.model_copy(update={
        "samples": min(budget.samples or limits.max_samples * (request.n if direct else 1),
                       limits.max_samples * (request.n if direct else 1)),
        "generated_tokens": budget.generated_tokens or limits.max_generated_tokens})
    return ChatPlan(model=model, strategy=strategy, prompt=request.messages[-1].text, history=history,
                    domain=options.domain, runs=1 if direct else request.n, choices=request.n, budget=budget,
                    seed=request.seed, stop=tuple(request.stop or ()), include_usage=request.include_usage)


def _split_model(name: str, options: ReasonerOptions | None) -> tuple[str, ReasonerOptions]:
    """`tiny@best_of_n:8` -> ("tiny", strategy best_of_n, n=8); `extra_body` keys win over the suffix."""
    model, _, suffix = name.partition("@")
    given = options.model_dump(exclude_unset=True) if options is not None else {}
    if suffix:
        strategy, _, count = suffix.partition(":")
        from_suffix: dict[str, Any] = {"strategy": strategy}
        if count:
            if not count.isdigit():
                raise RequestError(f"suffix '@{suffix}' must be '@STRATEGY' or '@STRATEGY:N'", param="model")
            from_suffix["n"] = int(count)
        given = {**from_suffix, **given}
    try:
        return model, ReasonerOptions.model_validate(given)
    except ValidationError as exc:
        raise request_error(exc, "reasoner.") from exc


def _check_caps(request: ChatRequest, options: ReasonerOptions, limits: Limits) -> None:
    if request.n > limits.max_n:
        raise over("n", request.n, "max_n", limits.max_n)
    if request.token_cap is not None and request.token_cap > limits.max_tokens:
        raise over("max_tokens", request.token_cap, "max_tokens", limits.max_tokens)
    if len(request.stop or ()) > limits.max_stop:
        raise over("stop", f"{len(request.stop or ())} stop strings", "max_stop", limits.max_stop)
    budget = options.budget.model_dump(exclude_none=True) if options.budget is not None else {}
    check_caps({**options.strategy_options, "budget": budget}, limits, "reasoner")


def _build_strategy(request: ChatRequest, options: ReasonerOptions) -> Strategy:
    """The request's strategy, by the one rule for client names (`build_strategy(registered_only=True)`)."""
    name = options.strategy or DIRECT
    top = {key: value for key, value in {"temperature": request.temperature, "top_p": request.top_p,
                                           "max_tokens": request.token_cap}.items() if value is not None}
    if name == DIRECT:
        return _direct(request, options, top)
    given = options.strategy_options  # wins over the top level; both are capped (`_check_caps`)
    try:
        return build_strategy(name, {**top, **given}, registered_only=True)
    except ConfigError as exc:
        field = exc.field or "strategy"
        param = field if field.split(".", 1)[0] in top else f"reasoner.{field}"
        if field.split(".", 1)[0] in top and field.split(".", 1)[0] not in _fields(name):
            raise RequestError(f"strategy {name!r} does not take {field!r}", param=field) from None
        raise RequestError(str(exc), param=param) from None


def _fields(name: str) -> set[str]:
    from reasoner.strategies import STRATEGIES

    return set(getattr(STRATEGIES.get(name, registered_only=True), "model_fields", {}))


def _direct(request: ChatRequest, options: ReasonerOptions, top: dict[str, Any]) -> Strategy:
    for key in options.strategy_options:
        if key == "n":
            raise RequestError("plain sampling takes the top-level 'n'", param="reasoner.n")
        if key not in DirectSampling.model_fields:
            raise RequestError(f"unknown option for plain sampling; it takes "
                               f"{', '.join(sorted(DirectSampling.model_fields))}", param=f"reasoner.{key}")
    try:
        return DirectSampling.model_validate({**top, **options.strategy_options, "n": request.n})
    except ValidationError as exc:
        raise request_error(exc, "reasoner.") from exc


Listener = Callable[[int, TraceEvent], None]


async def run_chat(plan: ChatPlan, generator: Generator, verifiers, listener: Listener | None = None,
                   prms: PRMSet | None = None) -> list[Result]:
    """One strategy run per choice, concurrently on the shared engine."""
    view = ConversationView(generator, plan.history, plan.stop)

    def tell(index: int) -> Callable[[TraceEvent], None] | None:
        return None if listener is None else (lambda event: listener(index, event))

    problems = [Problem(id=f"choice-{i}", prompt=plan.prompt, domain=plan.domain) for i in range(plan.runs)]
    return list(await asyncio.gather(*(
        solve_problem(problem, plan.strategy, view, verifiers, plan.budget, plan.seed, listener=tell(i),
                      prms=prms)
        for i, problem in enumerate(problems))))


def chosen_texts(plan: ChatPlan, results: list[Result]) -> list[tuple[str, str, dict[str, Any]]]:
    """(content, finish_reason, reasoner field) per choice."""
    out = []
    if plan.strategy_name == DIRECT:
        result = results[0]
        answers = next((e.data["answers"] for e in result.trace if e.kind == "answers"), [None] * len(result.candidates))
        for candidate, answer in zip(result.candidates, answers):
            out.append((candidate.text, candidate.finish_reason.value, _choice_info(plan, result, answer)))
        return out
    for result in results:
        if result.chosen is None:
            out.append(("", "stop", _choice_info(plan, result, None)))
            continue
        candidate = result.candidates[result.chosen]
        out.append((candidate.text, candidate.finish_reason.value, _choice_info(plan, result, result.answer)))
    return out


def _choice_info(plan: ChatPlan, result: Result, answer: str | None) -> dict[str, Any]:
    return {"answer": answer, "strategy": plan.strategy_name, "candidates": len(result.candidates),
            "stop_reason": result.stop_reason, "error": safe_error_text(result.error),
            "cost": result.cost.model_dump(exclude={"wall_seconds"})}


def total_cost(results: list[Result]) -> Cost:
    total = Cost()
    for result in results:
        total = total + result.cost
    return total


def usage(cost: Cost) -> dict[str, Any]:
    """OpenAI `usage`: every internal model call counted, cached prompt tokens from the engine.

    The PRM's tokens are another model's, so they stay out of OpenAI's fields (which count the
    served model's tokens) and go in our `reasoner` extension, which standard clients ignore."""
    return {"prompt_tokens": cost.prompt_tokens, "completion_tokens": cost.generated_tokens,
            "total_tokens": cost.prompt_tokens + cost.generated_tokens,
            "prompt_tokens_details": {"cached_tokens": cost.cached_prompt_tokens},
            "reasoner": {"model_calls": cost.model_calls, "samples": cost.samples, "flops": cost.flops,
                         "verifier_seconds": cost.verifier_seconds, "prm_tokens": cost.prm_tokens,
                         "prm_flops": cost.prm_flops, "prm_seconds": cost.prm_seconds}}


def completion_body(plan: ChatPlan, results: list[Result]) -> dict[str, Any]:
    """The non-streamed `chat.completion` object."""
    choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                "logprobs": None, "reasoner": info}
               for i, (text, finish, info) in enumerate(chosen_texts(plan, results))]
    cost = total_cost(results)
    return {"id": plan.id, "object": "chat.completion", "created": plan.created, "model": plan.model,
            "choices": choices, "usage": usage(cost),
            "reasoner": {"strategy": plan.strategy_name, "runs": plan.runs,
                         "cost": cost.model_dump()}}
