"""Test-time strategies: one module each, one `Strategy` protocol, one registry, one builder.

`build_strategy("self_consistency", {"n": 16})` builds one by name, checking
its options; a `package.module:Class` path works for strategies defined
elsewhere. The CLI, the Python API, sweeps and the service all build through
it, and map the `ConfigError.field` it names to a flag or a request param.
`make_strategy(name, **options)` is the same with keyword options.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from reasoner.errors import ConfigError
from reasoner.registry import Registry
from reasoner.strategies.base import SolveContext, Strategy, prms_of

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


def build_strategy(name: str, options: Mapping[str, Any] | None = None) -> Strategy:
    """The strategy `name` (registered, or `module:Class`) built with `options`, None values dropped.

    A `ConfigError` says what is wrong before anything runs, with `field` naming it: `strategy` for an
    unknown name, the option's key for an option the strategy does not take, the (dotted) field of the
    first value its options model refuses.
    """
    try:
        cls = STRATEGIES.get(name)
    except ConfigError as exc:
        raise ConfigError(str(exc), field="strategy") from exc
    given = {key: value for key, value in (options or {}).items() if value is not None}
    known = option_names(cls)
    for key in given:
        if key not in known:
            raise ConfigError(f"strategy {name!r} has no option {key!r}; its options: "
                              f"{', '.join(sorted(known)) or 'none'}", field=key)
    try:
        return cls(**given)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise ConfigError(f"bad options for strategy {name!r}: {exc}", field=field) from exc


def make_strategy(name: str, **options: Any) -> Strategy:
    """`build_strategy(name, options)` with the options as keyword arguments."""
    return build_strategy(name, options)


def option_names(cls: Any) -> set[str]:
    """The keyword options `cls` accepts: a pydantic model's fields and their aliases, or its parameters."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return {key for name, field in cls.model_fields.items() for key in (name, *field_aliases(field))}
    parameters = inspect.signature(cls).parameters.values()
    return {p.name for p in parameters if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}


def field_aliases(field: Any) -> set[str]:
    """The names a pydantic field also accepts (its validation aliases)."""
    alias = field.validation_alias
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias, field.alias]
    return {choice for choice in choices if isinstance(choice, str)}


__all__ = ["STRATEGIES", "SolveContext", "Strategy", "build_strategy", "field_aliases", "make_strategy",
           "option_names", "prms_of"]
