"""Test-time strategies: one module each, one `Strategy` protocol, one registry, one builder.

`build_strategy("self_consistency", {"n": 16})` builds one by name, checking
its options; a `package.module:Class` path works for strategies defined
elsewhere. The CLI, the Python API, sweeps and the service all build through
it, and map the `ConfigError.field` it names to a flag or a request param.
`make_strategy(name, **options)` is the same with keyword options.

`build_strategy(name, options, registered_only=True)` is how an untrusted
caller's strategy is built (the service's clients): every name in it, at any
depth (strategies, scorers, value sources, PRMs, routers, domains), must be
one the process registered (`client_names`; see `reasoner.registry`), nothing
is imported by path while it is built, and a router's name becomes the file
the operator registered under it.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from contextlib import nullcontext
from typing import Any

from pydantic import AliasChoices, BaseModel, ValidationError

from reasoner.errors import ConfigError
from reasoner.registry import NameTable, Registry, check_names, registered_names_only
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


def build_strategy(name: str, options: Mapping[str, Any] | None = None, *, registered_only: bool = False
                   ) -> Strategy:
    """The strategy `name` (registered, or `module:Class`) built with `options`, None values dropped.

    A `ConfigError` says what is wrong before anything runs, with `field` naming it: `strategy` for an
    unknown name, the option's key for an option the strategy does not take, the (dotted) field of the
    first value its options model refuses. `registered_only`: the rule for untrusted callers (module doc).
    """
    given = {key: value for key, value in (options or {}).items() if value is not None}
    if registered_only:
        check_names({"strategy": name, **given}, client_names())
        if given.get("router") is not None:
            given["router"] = ROUTERS.get(given["router"], registered_only=True)
    try:
        cls = STRATEGIES.get(name, registered_only=registered_only)
    except ConfigError as exc:
        raise ConfigError(str(exc), field="strategy") from exc
    known = option_names(cls)
    for key in given:
        if key not in known:
            raise ConfigError(f"strategy {name!r} has no option {key!r}; its options: "
                              f"{', '.join(sorted(known)) or 'none'}", field=key)
    with registered_names_only() if registered_only else nullcontext():
        return _validated(cls, name, given)


def _validated(cls: Any, name: str, given: dict[str, Any]) -> Strategy:
    try:
        return cls(**given)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        field = ".".join(str(part) for part in errors[0]["loc"]) or None
        message = errors[0]["msg"].removeprefix("Value error, ")
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"strategy {name!r}: {field + ': ' if field else ''}{message}{more}", field=field) from exc


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


__all__ = ["PRMS", "ROUTERS", "STRATEGIES", "SolveContext", "Strategy", "build_strategy", "client_names",
           "field_aliases", "make_strategy", "option_names", "prms_of"]
