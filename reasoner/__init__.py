"""reasoner: spend test-time compute wisely, and measure what it buys.

The public API is what this module exports; everything else may change. The
records (`Problem`, `Result`, ...) and errors load with the package; every
other name loads on first use, so `import reasoner` starts no engine, imports
no strategy or verifier, and stays fast.
"""

from importlib import import_module

from reasoner.errors import (ConfigError, DataError, EngineError, JobError, ModelNotFoundError, ReasonerError,
                             ResumeMismatchError)
from reasoner.types import Budget, Candidate, Cost, FinishReason, Problem, Result, SamplingConfig

_LAZY = {
    "Reasoner": "reasoner.api", "Meter": "reasoner.budget", "Generation": "reasoner.engine.generation",
    "GenerationRequest": "reasoner.engine.generation", "Generator": "reasoner.engine.generation",
    "ModelInfo": "reasoner.engine.generation", "build_strategy": "reasoner.strategies",
    "make_pool": "reasoner.jobs.pool", "PoolSettings": "reasoner.jobs.pool",
    "open_generator": "reasoner.engine.backends",
}
"""Public names that load on first use, and the module each comes from."""

__all__ = [
    "Budget", "Candidate", "ConfigError", "Cost", "DataError", "EngineError", "FinishReason", "JobError",
    "ModelNotFoundError", "Problem", "ReasonerError", "ResumeMismatchError", "Result", "SamplingConfig",
    *sorted(_LAZY),
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'reasoner' has no attribute {name!r}")
