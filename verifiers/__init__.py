"""Verifiers grade model outputs: a sympy math verifier and a sandboxed code runner.

The same objects grade solve jobs, choose answers inside strategies and give
GRPO rewards. Heavy work (sympy, subprocesses) happens in worker processes, so
every verifier is safe to call from threads, Ray actors and servers.
"""

from verifiers.base import GRADED, CodeTests, IOCase, Status, Verdict, Verifier

__all__ = ["GRADED", "CodeTests", "IOCase", "Status", "Verdict", "Verifier"]
