"""Test-time strategies: one module each, one `Strategy` protocol, one registry.

`make_strategy("self_consistency", n=16)` builds one by name; a
`package.module:Class` path works for strategies defined elsewhere.
`build_strategy(name, options, registered_only=True)` is how an untrusted
caller's strategy is built: every name in it, at any depth, must be one the
process registered (`CLIENT_NAMES`; see `reasoner.registry`).
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from reasoner.errors import ConfigError
from reasoner.registry import FieldError, NameTable, Registry, check_names, registered_names_only
from reasoner.strategies.base import SolveContext, Strategy

STRATEGIES = Registry(
    "strategy",
    {
        "cot": "reasoner.strategies.cot:ChainOfThought",
        "self_consistency": "reasoner.strategies.self_consistency:SelfConsistency",
        "best_of_n": "reasoner.strategies.best_of_n:BestOfN",
        "adaptive_consistency": "reasoner.strategies.adaptive_consistency:AdaptiveConsistency",
        "revision": "reasoner.strategies.revision:Revision",
        "beam_search": "reasoner.strategies.beam_search:BeamSearch",
        "dvts": "reasoner.strategies.dvts:DVTS",
        "mcts": "reasoner.strategies.mcts:MCTS",
        "particle_filter": "reasoner.strategies.particle_filter:ParticleFilter",
        "router": "reasoner.strategies.router:Router",
        "oracle_router": "reasoner.strategies.router:OracleRouter",
    },
)


PRMS = Registry("PRM", {}, load=False)
"""PRM names an untrusted caller may give (the bundled ones, plus what the operator registers); the
target is what the strategy receives (the same name, or the operator's folder)."""
ROUTERS = Registry("router", {}, load=False)
"""Router files by name, registered by the operator (`reasoner serve --router NAME=FILE`); empty by default."""


def client_names() -> NameTable:
    """Option key -> where its value must be registered, for options from an untrusted caller."""
    from reasoner.engine.models import PRM_MODELS
    from reasoner.strategies.scorers import SCORERS
    from reasoner.strategies.values import VALUE_SOURCES
    from reasoner.verifiers import VERIFIERS

    for name in PRM_MODELS:
        if name not in PRMS:
            PRMS.register(name, name)
    values = Registry("value source", {name: name for name in VALUE_SOURCES}, load=False)
    return {"strategy": STRATEGIES, "strategies": STRATEGIES, "scorer": SCORERS, "weight_scorer": SCORERS,
            "value": values, "prm": PRMS, "router": ROUTERS, "domain": VERIFIERS}


def build_strategy(name: str, options: Mapping[str, Any], *, registered_only: bool = False) -> Strategy:
    """The strategy `name` built with `options`; a `FieldError` naming the option when it cannot be.

    `registered_only=True` is the rule for untrusted callers (the service): `name` and every name in
    `options` (scorers, PRMs, routers, value sources, at any depth) must be registered, nothing is
    imported by path while it is built, and a router name becomes the operator's file."""
    if registered_only:
        check_names({"strategy": name, **options}, client_names())
        options = _resolve_routers(options)
    cls = STRATEGIES.get(name, registered_only=registered_only)
    fields = getattr(cls, "model_fields", None)
    if fields is not None:
        known = {key for field_name, field in fields.items() for key in (field_name, *_aliases(field))}
        for key in options:
            if key not in known:
                raise FieldError(f"unknown option for strategy {name!r}; it takes {', '.join(sorted(fields))}",
                                 key)
    with registered_names_only() if registered_only else nullcontext():
        return _validate(cls, name, options)


def _validate(cls: Any, name: str, options: Mapping[str, Any]) -> Strategy:
    from pydantic import ValidationError

    try:
        return cls.model_validate(dict(options)) if hasattr(cls, "model_validate") else cls(**options)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        message = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
        raise FieldError(message.removeprefix("Value error, "), field) from None
    except FieldError:
        raise
    except ConfigError as exc:
        raise FieldError(str(exc)) from None


def _resolve_routers(options: Mapping[str, Any]) -> dict[str, Any]:
    router = options.get("router")
    return {**options, "router": ROUTERS.get(router, registered_only=True)} if router is not None else dict(options)


def _aliases(field: Any) -> tuple[str, ...]:
    alias = getattr(field, "validation_alias", None)
    choices = getattr(alias, "choices", None)
    return tuple(c for c in choices if isinstance(c, str)) if choices else ()


def make_strategy(name: str, **options: Any) -> Strategy:
    """Build the strategy `name` with `options`, dropping None values."""
    from pydantic import ValidationError

    cls = STRATEGIES.get(name)
    options = {k: v for k, v in options.items() if v is not None}
    try:
        return cls(**options)
    except ValidationError as exc:
        raise ConfigError(f"bad options for strategy {name!r}: {exc}") from exc


__all__ = ["PRMS", "ROUTERS", "STRATEGIES", "SolveContext", "Strategy", "build_strategy", "client_names",
           "make_strategy"]
