"""The HTTP service: an OpenAI-compatible chat endpoint with per-request strategies, and a jobs API.

- `app.create_app(state)` builds the FastAPI app over engines that are already chosen;
- `chat` plans and runs one chat completion (strategy from `extra_body` or a model suffix);
- `jobs` runs solve jobs with the same runner as `reasoner solve`, records in `store` (SQLite);
- `keys` checks bearer tokens (stored hashed), `metrics` keeps Prometheus counters per app.

Not here: the strategies, engines and the runner themselves; the service only calls them.
Nothing is imported from this package by `reasoner` itself, so the CLI stays fast.
"""

from __future__ import annotations
