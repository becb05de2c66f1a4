"""Settings of one service process: which models, where to listen, the server-side caps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Limits(BaseModel):
    """Server-side caps; a request over one is refused with the limit's name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_n: int = Field(16, ge=1)
    """Most choices (`n`) in one chat completion."""
    max_samples: int = Field(64, ge=1)
    """Most candidates one choice may generate (a strategy's `n`, `budget.samples`)."""
    max_tokens: int = Field(2048, ge=1)
    """Most tokens per candidate (`max_tokens`)."""
    max_generated_tokens: int = Field(131072, ge=1)
    """Most generated tokens one choice may spend (`budget.generated_tokens`)."""
    max_body_bytes: int = Field(8 << 20, ge=1024)
    """Largest request body, uploads included."""
    max_jobs_per_key: int = Field(2, ge=1)
    """Most unfinished jobs one API key may have at once."""
    max_job_problems: int = Field(10000, ge=1)
    """Most problems in one job."""


class ServiceConfig(BaseModel):
    """What `reasoner serve` was asked to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[str, ...] = ("tiny",)
    """Served model names (bundled names or folders); the first is the default."""
    backend: str = "vllm"
    """Generation backend for chat requests and in-process jobs."""
    backend_options: dict[str, str] = Field(default_factory=dict)
    """Extra backend options, e.g. `base_url` for the `openai` backend."""
    engine_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Per served model, its vLLM engine arguments (`--engine-arg [MODEL:]KEY=VALUE`), e.g.
    `{"big": {"tensor_parallel_size": 2}}`; an operator's setting, never a client's."""
    host: str = "127.0.0.1"
    """Interface to bind; anything but loopback needs API keys."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port (0 picks a free one)."""
    keys_file: Path | None = None
    """File of API keys (one per line, raw or `sha256:HEX`); None disables authentication."""
    db: Path = Path("reasoner-service.db")
    """SQLite file holding jobs and their records."""
    workers: int | None = Field(None, ge=1)
    """Serve chat requests and jobs from this many Ray actors (each with its own engine)."""
    ray_address: str | None = None
    """Join this Ray cluster and serve chat requests and jobs from its actors."""
    job_concurrency: int = Field(64, ge=1)
    """Problems in flight per in-process job."""
    limits: Limits = Limits()
    """Server-side caps."""

    def engine_options_of(self, model: str) -> dict[str, Any]:
        """The engine arguments of served model `model` (none unless given)."""
        return self.engine_options.get(model, {})

    @property
    def pooled(self) -> bool:
        """Whether engines run in Ray actors rather than in this process."""
        return self.workers is not None or self.ray_address is not None

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1")
