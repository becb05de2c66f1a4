"""Settings of one service process: which models, where to listen, what clients may name, and the limits.

`Limits` is the one place every server-side cap lives (sizes, rates, queues,
time); `reasoner serve --limits FILE` reads it from TOML or JSON and
`--limit NAME=VALUE` overrides single fields. Docs: docs/design/security.md.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reasoner.errors import ConfigError

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class Limits(BaseModel):
    """Server-side caps; a request over one is refused with the limit's name (400, or 429 with Retry-After)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # sizes of one request
    max_n: int = Field(16, ge=1)
    """Most choices (`n`) in one chat completion."""
    max_samples: int = Field(64, ge=1)
    """Most candidates one choice or problem may generate: a strategy's `n`/width/chains, `budget.samples`,
    a sweep's budgets."""
    max_tokens: int = Field(2048, ge=1)
    """Most tokens per candidate: `max_tokens` wherever it is given, a search's `step_tokens`/`rollout_tokens`."""
    max_steps: int = Field(64, ge=1)
    """Most steps (or tree depth) of a step-level search, and revision rounds."""
    max_generated_tokens: int = Field(131072, ge=1)
    """Most generated tokens one choice or problem may spend (`budget.generated_tokens`; also its default)."""
    max_option_value: int = Field(65536, ge=1)
    """Cap on any other integer among a strategy's options (knobs the tables above do not name)."""
    max_stop: int = Field(4, ge=0)
    """Most stop strings in one chat request (OpenAI's limit)."""
    max_body_bytes: int = Field(8 << 20, ge=1024)
    """Largest request body, uploads included."""
    max_json_depth: int = Field(32, ge=4)
    """Deepest nesting of arrays and objects in a request body."""
    max_int_digits: int = Field(18, ge=4)
    """Most digits of any integer in a request body (2**53 has 16)."""
    # rates and concurrency, per API key
    max_concurrent_requests: int = Field(16, ge=1)
    """Chat completions one key may have in flight at once (429 beyond)."""
    requests_per_minute: int = Field(600, ge=1)
    """Requests (chat completions and job submissions) one key may make per minute."""
    tokens_per_minute: int = Field(1_000_000, ge=1)
    """Prompt plus generated tokens of one key's chat completions per minute; the request that crosses it
    completes, the next is refused until the window moves on."""
    # jobs
    max_jobs_per_key: int = Field(2, ge=1)
    """Most unfinished (queued or running) jobs one API key may have at once."""
    max_queued_jobs: int = Field(16, ge=1)
    """Most unfinished jobs of all keys together."""
    max_job_problems: int = Field(10000, ge=1)
    """Most problems in one job."""
    max_job_concurrency: int = Field(64, ge=1)
    """Most problems in flight in one job (a sweep's `concurrency`)."""
    max_sweep_draws: int = Field(1000, ge=1)
    """Most random subsets per problem and budget in a sweep job (`draws`)."""
    max_sweep_resamples: int = Field(5000, ge=10)
    """Most bootstrap resamples in a sweep job (`resamples`)."""
    job_retention_s: float = Field(7 * 86400, gt=0)
    """Finished jobs (records and artifacts too) are deleted this long after they finished."""
    # time and connections
    request_timeout_s: float = Field(600.0, gt=0)
    """A chat completion still running after this long is cancelled and answered 504."""
    max_connections: int = Field(256, ge=1)
    """Open connections uvicorn accepts at once (`limit_concurrency`); it answers 503 beyond."""

    @classmethod
    def from_file(cls, path: Path, overrides: dict[str, Any] | None = None) -> Limits:
        """Limits from a TOML or JSON file (a table of the fields above; a TOML file may nest them under
        `[limits]`), with `overrides` on top; a `ConfigError` naming the file and field."""
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except OSError as exc:
            raise ConfigError(f"--limits {path}: {exc.strerror}") from exc
        except (ValueError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"--limits {path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: "
                              f"{exc}") from exc
        data = data.get("limits", data) if isinstance(data, dict) else data
        return cls.checked({**data, **(overrides or {})}, str(path))

    @classmethod
    def checked(cls, data: Any, where: str = "--limit") -> Limits:
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            message = "not a limit" if first["type"] == "extra_forbidden" else first["msg"]
            raise ConfigError(f"{where}: {field}: {message}") from None


class ServiceConfig(BaseModel):
    """What `reasoner serve` was asked to run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: tuple[str, ...] = ("tiny",)
    """Served model names (bundled names or folders); the first is the default."""
    backend: str = "vllm"
    """Generation backend for chat requests and in-process jobs."""
    backend_options: dict[str, str] = Field(default_factory=dict)
    """Extra backend options, e.g. `base_url` for the `openai` backend."""
    host: str = "127.0.0.1"
    """Interface to bind; anything but loopback needs API keys."""
    port: int = Field(8000, ge=0, le=65535)
    """TCP port (0 picks a free one)."""
    keys_file: Path | None = None
    """File of API keys (one per line, raw or `sha256:HEX`, `admin ` before admin keys); None: no keys."""
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
    plugins: tuple[str, ...] = ()
    """`module:Class` strategies and scorers the operator registers at start-up (`--plugin`)."""
    routers: dict[str, Path] = Field(default_factory=dict)
    """Router files clients may name, by name (`--router NAME=FILE`)."""
    prms: tuple[str, ...] = ()
    """PRMs clients may name besides the bundled ones: names or folders (`--prm`)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names a key-less server answers besides loopback ones (`--allowed-host`)."""
    cors_origins: tuple[str, ...] = ()
    """Web origins allowed to call the API from a browser (`--cors-origin`)."""
    allow_unsandboxed_code: bool = False
    """Run code jobs and code-domain chat even when the sandbox cannot hide the server's files."""

    @property
    def pooled(self) -> bool:
        """Whether engines run in Ray actors rather than in this process."""
        return self.workers is not None or self.ray_address is not None

    @property
    def loopback(self) -> bool:
        return self.host in LOOPBACK_HOSTS
