"""The exceptions `reasoner` raises, in one tree.

Expected failures (a wrong answer, a program that crashes, a candidate that
runs out of tokens) are data: a `Verdict` status or a `Result` error field.
Exceptions are for misuse and broken infrastructure::

    ReasonerError
    ├── ConfigError            bad option, unknown strategy or model name
    │   └── OptionError           a command-line option out of range (the CLI exits 2)
    ├── DataError              a dataset record or file that does not validate
    ├── ModelNotFoundError     a model path or name that does not exist
    ├── EngineError            the generation engine died or misbehaved
    │   └── WeightSyncError       a training engine that does not hold the trainer's weights
    ├── VerifierError          a verifier's own machinery (worker processes) cannot run
    ├── JobError               a solve job that cannot start or resume
    │   └── ResumeMismatchError   resuming with a different configuration
    └── RequestError           an HTTP request the service refuses (status code and field)
"""

from __future__ import annotations

from pathlib import Path


class ReasonerError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(ReasonerError, ValueError):
    """An option, name or combination of settings that cannot work.

    `field` names the setting at fault when one does (a strategy option's key, dotted when nested;
    `strategy` for an unknown strategy name), so the CLI can name its flag and the service its param."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class OptionError(ConfigError):
    """A command-line option or `--option KEY=VALUE` that does not validate; the message names the flag."""


class DataError(ReasonerError, ValueError):
    """A dataset record that does not validate. Names the file, line and field."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 record_id: str | None = None) -> None:
        self.path = str(path) if path is not None else None
        self.line = line
        self.record_id = record_id
        where = ":".join(str(p) for p in (self.path, self.line) if p is not None)
        prefix = f"{where}: " if where else ""
        if record_id is not None:
            prefix += f"record {record_id!r}: "
        super().__init__(prefix + message)


class ModelNotFoundError(ReasonerError, FileNotFoundError):
    """A model name or path that resolves to nothing loadable."""


class EngineError(ReasonerError, RuntimeError):
    """The generation engine is dead, unreachable or returned something invalid."""


class WeightSyncError(EngineError):
    """A rollout engine that does not hold the weights the trainer thinks it does (GRPO)."""
class VerifierError(ReasonerError, RuntimeError):
    """A verifier's own machinery cannot run: its worker processes do not start."""


class JobError(ReasonerError, RuntimeError):
    """A solve job that cannot start, write its output, or resume."""


class ResumeMismatchError(JobError):
    """An output file written by a job with a different configuration."""


class RequestError(ReasonerError):
    """A request the service refuses: carries the HTTP status and the field (or limit) at fault."""

    def __init__(self, message: str, *, param: str | None = None, status: int = 400,
                 code: str = "invalid_request", retry_after: int | None = None) -> None:
        self.param = param
        self.status = status
        self.code = code
        self.retry_after = retry_after
        """Seconds a refused client should wait (a 429's `Retry-After`)."""
        super().__init__(f"{param}: {message}" if param else message)
