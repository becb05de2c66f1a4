"""The HTTP service: an OpenAI-compatible chat endpoint with per-request strategies, and a jobs API.

- `app.create_app(state)` builds the FastAPI app over engines that are already chosen;
- `chat` plans and runs one chat completion (strategy from `extra_body` or a model suffix);
- `jobs` runs solve and sweep jobs with the same runner as `reasoner solve`, records in `store` (SQLite);
  `job_routes` are its HTTP face;
- `keys` checks bearer tokens (stored hashed) and roles; `limiter` keeps per-key rates and concurrency;
  `caps` checks every size knob; `guard` refuses non-JSON bodies, foreign hosts and cross-site origins;
  `config.Limits` holds every limit; `http_errors` answers every error in OpenAI's shape;
- `metrics` keeps Prometheus counters per app; `openapi` publishes the routes' schema.

What a client may name is decided by one rule (`reasoner.registry`, `reasoner.strategies.build_strategy(...,
registered_only=True)`); docs/design/security.md has the threat model. Not here: the strategies, engines and
the runner themselves; the service only calls them. Nothing is imported from this package by `reasoner`
itself, so the CLI stays fast.
"""

from __future__ import annotations
