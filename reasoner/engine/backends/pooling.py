"""An in-process vLLM pooling engine: every computed token's raw outputs, for reading a PRM's step scores.

`VLLMPooler` runs one `AsyncLLM` with the pooling runner (its own engine-core process, beside the
policy's) and answers `encode(ids)` with the outputs of each token it computed, activation off. Requests
from every caller in flight batch in vLLM's scheduler; one engine per configuration is shared in the
process (`VLLMPooler.shared`).

The prefix cache: vLLM 0.32 allows it for pooling models with causal attention unless they pool with
MEAN/CLS over the sequence or with STEP over tokens (`ModelConfig.is_prefix_caching_supported`), and by
default a token-level request skips reading it (`PoolingParams.skip_reading_prefix_cache`), because a
cached token yields no output. `encode(ids, read_cache=True)` turns the read on: the engine then computes
only the tokens past the cached blocks, and the answer says how many were served from the cache
(`Pooled.cached`); outputs start at that position. The caller keeps what it read before
(`reasoner.verifiers.prm.served`).

Not here: what the outputs mean (the PRM formats) or text; a dead engine raises `EngineError`.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from reasoner.engine.logs import configure_engine_logs, engine_load_options
from reasoner.engine.runtime import run_on_engine_loop
from reasoner.errors import EngineError


class PoolingEngineConfig(BaseModel):
    """Settings of one vLLM pooling engine."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    """The model folder."""
    model_options: str = "{}"
    """JSON of the engine arguments that say how the folder is served: `runner`, `convert`, `hf_overrides`,
    `pooler_config` (a string, so that configurations can key the shared engines)."""
    dtype: str = "auto"
    """Weight dtype; `auto` takes the checkpoint's."""
    max_model_len: int | None = None
    """Context length; None uses the model's."""
    max_num_seqs: int = Field(256, ge=1)
    """Most requests in one scheduler step."""
    max_num_batched_tokens: int = Field(16384, ge=256)
    """Tokens per scheduler step (chunked prefill is off on CPU, as for generation)."""
    block_size: int | None = Field(None, ge=1)
    """KV-cache block size; the prefix cache reuses whole blocks only. None: 32 on CPU, vLLM's default on GPU."""
    kv_cache_gib: float = Field(1.0, gt=0)
    """KV-cache size on CPU; ignored on GPU."""
    gpu_memory_utilization: float = Field(0.4, gt=0, le=1)
    """Share of GPU memory this engine may take (the policy's engine takes its own); ignored on CPU."""
    prefix_caching: bool = True
    """Keep computed blocks for later requests that share their prefix."""
    cpu_threads: int | None = Field(None, ge=1)
    """OpenMP threads on CPU; None: every usable core but one."""
    verbose: bool = False
    """Show vLLM's own logs."""


@dataclass(frozen=True)
class Pooled:
    """One request's outputs."""

    rows: Any
    """Tensor [computed tokens, outputs]: the raw outputs of tokens `cached` .. end."""
    cached: int
    """Leading tokens served from the prefix cache (no outputs for them)."""


class VLLMPooler:
    """A vLLM pooling engine in its own process, answering token-level requests."""

    _shared: ClassVar[dict[PoolingEngineConfig, VLLMPooler]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, config: PoolingEngineConfig) -> None:
        self.config = config
        self._engine = None
        self._start_lock = threading.Lock()
        self.computed_tokens = 0
        """Tokens computed so far (not served from the cache), over every request: callers share time by it."""

    @classmethod
    def shared(cls, config: PoolingEngineConfig) -> VLLMPooler:
        """The process's engine for `config`, created (not started) on first use."""
        with cls._shared_lock:
            if config not in cls._shared:
                cls._shared[config] = cls(config)
            return cls._shared[config]

    @classmethod
    def close_all(cls) -> None:
        """Shut down every shared pooling engine."""
        from reasoner.engine.runtime import run_sync

        with cls._shared_lock:
            poolers = list(cls._shared.values())
        for pooler in poolers:
            run_sync(pooler.close())

    async def encode(self, ids: list[int], read_cache: bool) -> Pooled:
        """Raw outputs of the tokens of `ids` the engine computes; with `read_cache`, past its cached prefix."""
        return await run_on_engine_loop(self._encode(ids, read_cache))

    async def _encode(self, ids: list[int], read_cache: bool) -> Pooled:
        from vllm import PoolingParams
        from vllm.inputs import TokensPrompt

        engine = self.engine()
        params = PoolingParams(task="token_classify", use_activation=False,
                               skip_reading_prefix_cache=not (read_cache and self.config.prefix_caching))
        final = None
        try:
            async for output in engine.encode(TokensPrompt(prompt_token_ids=list(ids)), params,
                                              request_id=uuid.uuid4().hex):
                final = output
        except Exception as exc:
            if _is_engine_dead(exc):
                raise EngineError(f"vLLM pooling engine for {self.config.model} died: {exc}") from exc
            raise
        if final is None:
            raise EngineError(f"vLLM pooling engine for {self.config.model} returned nothing")
        rows = final.outputs.data
        cached = int(final.num_cached_tokens or 0)
        if rows.ndim != 2 or rows.shape[0] != len(ids) - cached:
            raise EngineError(f"vLLM pooling engine for {self.config.model} returned {tuple(rows.shape)} outputs "
                              f"for {len(ids)} tokens of which {cached} cached")
        self.computed_tokens += len(ids) - cached
        return Pooled(rows=rows, cached=cached)

    def engine(self):
        """The running engine, started on first call (about 20 s on CPU for a small model)."""
        with self._start_lock:
            if self._engine is None:
                self._engine = self._start()
            return self._engine

    def engine_args(self) -> dict[str, Any]:
        """Keyword arguments of `AsyncEngineArgs` for this engine."""
        from reasoner.engine.backends.vllm import context_length, cpu_engine_args
        from reasoner.engine.hardware import on_cpu

        config = self.config
        args: dict[str, Any] = dict(
            model=config.model, dtype=config.dtype, max_model_len=config.max_model_len,
            max_num_seqs=config.max_num_seqs, enforce_eager=True, disable_log_stats=True,
            enable_prefix_caching=config.prefix_caching, **engine_load_options(config.verbose),
            **model_options(config.model_options),
        )
        if on_cpu():
            budget = max(config.max_num_batched_tokens, config.max_model_len or context_length(config.model))
            args.update(cpu_engine_args(budget, kv_cache_gib=config.kv_cache_gib, block_size=config.block_size,
                                        cpu_threads=config.cpu_threads))
        else:
            args["gpu_memory_utilization"] = config.gpu_memory_utilization
            if config.block_size is not None:
                args["block_size"] = config.block_size
        return args

    def _start(self):
        configure_engine_logs(self.config.verbose)
        from vllm import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        try:
            return AsyncLLM.from_engine_args(AsyncEngineArgs(**self.engine_args()))
        except Exception as exc:
            raise EngineError(f"could not start a vLLM pooling engine for {self.config.model}: {exc}") from exc

    @property
    def prefix_caching(self) -> bool:
        """Whether the running engine keeps and serves cached prefixes (vLLM may turn it off for the model)."""
        return bool(self.engine().vllm_config.cache_config.enable_prefix_caching)

    async def close(self) -> None:
        """Shut the engine down; a later call starts a new one."""
        with self._start_lock:
            engine, self._engine = self._engine, None
        if engine is not None:
            engine.shutdown()
            engine.shutdown = lambda *args, **kwargs: None  # see VLLMGenerator.close
        with self._shared_lock:
            for key, value in list(self._shared.items()):
                if value is self:
                    del self._shared[key]


def model_options(encoded: str) -> dict[str, Any]:
    """The JSON engine arguments of `PoolingEngineConfig.model_options`, `pooler_config` as vLLM's own type."""
    options = json.loads(encoded)
    if isinstance(options.get("pooler_config"), dict):
        from vllm.config import PoolerConfig

        options["pooler_config"] = PoolerConfig(**options["pooler_config"])
    return options


def _is_engine_dead(exc: BaseException) -> bool:
    from vllm.v1.engine.exceptions import EngineDeadError

    return isinstance(exc, EngineDeadError)
