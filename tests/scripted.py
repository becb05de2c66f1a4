"""A generator that replays fixed texts, for tests whose subject is answer *selection*.

Generation itself is tested against the real vLLM engine; this stand-in lets
selection tests control exactly which candidates a strategy sees.
"""

from __future__ import annotations

from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo
from reasoner.types import Candidate, FinishReason


class ScriptedGenerator:
    """Returns `texts` (cycling) as candidates, with the given mean logprobs."""

    def __init__(self, texts: list[str], logprobs: list[float] | None = None, parameters: int = 1000) -> None:
        self.texts = texts
        self.logprobs = logprobs or [-1.0] * len(texts)
        self.requests: list[GenerationRequest] = []
        self._info = ModelInfo(name="scripted", parameters=parameters)
        self._next = 0

    @property
    def info(self) -> ModelInfo:
        return self._info

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        candidates = []
        for _ in range(request.n):
            i = self._next % len(self.texts)
            self._next += 1
            tokens = min(request.sampling.max_tokens, max(1, len(self.texts[i].split())))
            candidates.append(Candidate(text=self.texts[i], num_tokens=tokens, finish_reason=FinishReason.STOP,
                                        cumulative_logprob=self.logprobs[i] * tokens))
        return Generation(candidates=candidates, prompt_tokens=10)

    async def close(self) -> None:
        pass
