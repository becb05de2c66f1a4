"""Verifiers grade model outputs: a sympy math verifier and a sandboxed code runner.

The same objects grade solve jobs, choose answers inside strategies and give
GRPO rewards. Heavy work (sympy, subprocesses) happens in worker processes, so
every verifier is safe to call from threads, Ray actors and servers.

One `Verifier` protocol per domain; `VERIFIERS` maps a `Problem.domain` to
its implementation (a `package.module:Class` path works for your own), and a
`VerifierSet` holds one started verifier per domain for a job.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.verifiers.base import GRADED, CodeTests, IOCase, Status, Verdict, Verifier

VERIFIERS = Registry(
    "verifier domain",
    {
        "math": "reasoner.verifiers.math:MathVerifier",
        "code": "reasoner.verifiers.code:CodeVerifier",
    },
)


class VerifierSet:
    """One verifier per domain, each made on first use (from `VERIFIERS`) unless given.

    Picklable when its verifiers are, so a Ray actor can receive one; a
    context manager that closes what it holds.
    """

    def __init__(self, verifiers: Mapping[str, Verifier] | None = None,
                 options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._verifiers: dict[str, Verifier] = dict(verifiers or {})
        self._options = {domain: dict(values) for domain, values in (options or {}).items()}

    def for_domain(self, domain: str) -> Verifier:
        """The verifier of `domain`, started on first use."""
        verifier = self._verifiers.get(domain)
        if verifier is None:
            cls = VERIFIERS.get(domain)
            try:
                verifier = cls(**self._options.get(domain, {}))
            except TypeError as exc:
                raise ConfigError(f"bad options for the {domain} verifier: {exc}") from exc
            self._verifiers[domain] = verifier
        return verifier

    def __getitem__(self, domain: str) -> Verifier:
        return self.for_domain(domain)

    def started(self) -> dict[str, Verifier]:
        """The verifiers made so far."""
        return dict(self._verifiers)

    def close(self) -> None:
        for verifier in self._verifiers.values():
            verifier.close()

    def __enter__(self) -> VerifierSet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["GRADED", "VERIFIERS", "CodeTests", "IOCase", "Status", "Verdict", "Verifier", "VerifierSet"]
