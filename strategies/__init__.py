"""Test-time strategies: one module each, one `Strategy` protocol, one registry.

`make_strategy("self_consistency", n=16)` builds one by name; a
`package.module:Class` path works for strategies defined elsewhere.
"""

from __future__ import annotations

from typing import Any

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.strategies.base import SolveContext, Strategy

STRATEGIES = Registry(
    "strategy",
    {
        "cot": "reasoner.strategies.cot:ChainOfThought",
        "self_consistency": "reasoner.strategies.self_consistency:SelfConsistency",
        "best_of_n": "reasoner.strategies.best_of_n:BestOfN",
        "adaptive_consistency": "reasoner.strategies.adaptive_consistency:AdaptiveConsistency",
        "adaptive_cancel": "reasoner.strategies.adaptive_consistency:AdaptiveCancel",
        "deepconf": "reasoner.strategies.deepconf:DeepConf",
        "deepconf_online": "reasoner.strategies.deepconf:DeepConfOnline",
        "early_rejection": "reasoner.strategies.early_rejection:EarlyRejection",
        "revision": "reasoner.strategies.revision:Revision",
        "beam_search": "reasoner.strategies.beam_search:BeamSearch",
        "dvts": "reasoner.strategies.dvts:DVTS",
        "mcts": "reasoner.strategies.mcts:MCTS",
        "particle_filter": "reasoner.strategies.particle_filter:ParticleFilter",
        "router": "reasoner.strategies.router:Router",
        "oracle_router": "reasoner.strategies.router:OracleRouter",
    },
)


def make_strategy(name: str, **options: Any) -> Strategy:
    """Build the strategy `name` with `options`, dropping None values."""
    from pydantic import ValidationError

    cls = STRATEGIES.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    try:
        return cls(**options)
    except ValidationError as exc:
        raise ConfigError(f"bad options for strategy {name!r}: {exc}") from exc


__all__ = ["STRATEGIES", "SolveContext", "Strategy", "make_strategy"]
