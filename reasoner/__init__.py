"""reasoner: spend test-time compute wisely, and measure what it buys.

The public API is what this module exports; everything else may change.
"""

from reasoner.budget import Meter
from reasoner.errors import (ConfigError, DataError, EngineError, JobError, ModelNotFoundError,
                             ReasonerError, ResumeMismatchError)
from reasoner.engine.generation import Generation, GenerationRequest, Generator, ModelInfo
from reasoner.types import Budget, Candidate, Cost, FinishReason, Problem, Result, SamplingConfig

__all__ = [
    "Budget", "Candidate", "ConfigError", "Cost", "DataError", "EngineError", "FinishReason",
    "Generation", "GenerationRequest", "Generator", "JobError", "Meter", "ModelInfo",
    "ModelNotFoundError", "Problem", "Reasoner", "ReasonerError", "ResumeMismatchError", "Result",
    "SamplingConfig",
]


def __getattr__(name: str):
    # `Reasoner` pulls in `strategies`, whose modules import `reasoner` submodules: loading it
    # on first use lets `import strategies` (or `verifiers`) come first without a cycle.
    if name == "Reasoner":
        from reasoner.api import Reasoner

        return Reasoner
    raise AttributeError(f"module 'reasoner' has no attribute {name!r}")
