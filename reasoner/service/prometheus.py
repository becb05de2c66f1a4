"""Prometheus metrics of one app: requests, tokens (PRM tokens apart), prefix-cache hits, latency, queue depth.

Each app has its own `CollectorRegistry`, so two apps in one process (tests)
never share counters. Engine-side queue depth is read from the engines when
scraped.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reasoner.types import Cost

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class ServiceMetrics:
    """The counters the app updates as it serves."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("reasoner_requests", "HTTP requests by route and status code",
                                ["route", "status"], registry=r)
        self.prompt_tokens = Counter("reasoner_prompt_tokens", "Prompt tokens over every model call",
                                     ["model"], registry=r)
        self.completion_tokens = Counter("reasoner_completion_tokens", "Generated tokens", ["model"], registry=r)
        self.cached_tokens = Counter("reasoner_cached_prompt_tokens",
                                     "Prompt tokens served by the engine's prefix cache", ["model"], registry=r)
        self.prm_tokens = Counter("reasoner_prm_tokens", "Tokens process reward models read to score candidates "
                                  "(not in the served model's prompt or completion tokens)", ["model"], registry=r)
        self.latency = Histogram("reasoner_request_seconds", "Chat completion latency", ["model", "stream"],
                                 registry=r, buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.in_flight = Gauge("reasoner_requests_in_flight", "Chat completions being served", registry=r)
        self.cancelled = Counter("reasoner_requests_cancelled", "Chat completions cancelled by a client disconnect",
                                 registry=r)
        self.jobs_running = Gauge("reasoner_jobs_running", "Jobs being run", registry=r)
        self.engine_queue = Gauge("reasoner_engine_requests_in_flight",
                                  "Requests inside the engine (running or waiting)", ["model"], registry=r)

    def watch_engine(self, model: str, unfinished: Callable[[], int]) -> None:
        """Report `unfinished()` as the engine's queue depth whenever metrics are scraped."""
        self.engine_queue.labels(model=model).set_function(unfinished)

    def book(self, model: str, cost: Cost) -> None:
        self.prompt_tokens.labels(model=model).inc(cost.prompt_tokens)
        self.completion_tokens.labels(model=model).inc(cost.generated_tokens)
        self.cached_tokens.labels(model=model).inc(cost.cached_prompt_tokens)
        self.prm_tokens.labels(model=model).inc(cost.prm_tokens)

    def render(self) -> bytes:
        return generate_latest(self.registry)
