"""Name-to-implementation registries, and the one rule for names that come from untrusted clients.

A `Registry` maps the names a process was started with (the built-ins, plus
what its operator registered, e.g. `reasoner serve --plugin mod:Class`) to
classes or import paths; listing names imports nothing heavy, a class is
imported when first asked for. The Python API and the CLI may also name any
`package.module:attr` path (`Registry.get(name)`): that is the escape hatch
for code the caller owns.

Clients of the service own no code on the server, so whatever they name is
looked up with `registered_only=True`: registered names only, and an unknown
name is refused with the same message whatever it is (a module that exists
or not, a file that exists or not). `check_names` applies that rule to a
whole option tree: every key that names something in a registry (`scorer`,
`prm`, `router`, ...) at any depth. While `registered_names_only()` is in
force, every `Registry.get` refuses paths too, so a validator that looks a
name up while a client's options are being built cannot import anything.

Not here: the registries themselves (`reasoner.strategies.STRATEGIES`,
`...scorers.SCORERS`, `reasoner.verifiers.VERIFIERS`, ...).
"""

from __future__ import annotations

import contextvars
import importlib
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from reasoner.errors import ConfigError

_REGISTERED_ONLY: contextvars.ContextVar[bool] = contextvars.ContextVar("registered_only", default=False)


class UnknownNameError(ConfigError):
    """A name that is not registered, refused under the registered-names rule; `field` is where it was given."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message, field=field)


class Registry:
    """Maps names to classes, factories or values; `module:attr` strings also resolve unless refused.

    `load=True` (the default) imports string targets (`module:attr`); `load=False` keeps them as they are
    (a registry of PRM names or router files, whose targets are names or the operator's paths)."""

    def __init__(self, kind: str, entries: Mapping[str, Any] | None = None, load: bool = True) -> None:
        self.kind = kind
        self.load = load
        self._entries: dict[str, Any] = dict(entries or {})

    def register(self, name: str, target: Any) -> None:
        """Add `target` (a class, factory, `module:attr` path or, with `load=False`, any value) under `name`."""
        if not name or not isinstance(name, str):
            raise ConfigError(f"a {self.kind} needs a name, got {name!r}")
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._entries

    def get(self, name: str, *, registered_only: bool = False) -> Any:
        """The implementation for `name`; a `module:attr` path too, unless only registered names count."""
        target = self._entries.get(name) if isinstance(name, str) else None
        if target is None:
            if registered_only or _REGISTERED_ONLY.get():
                raise self.unknown(name)
            if isinstance(name, str) and ":" in name and self.load:
                target = name
            else:
                raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())} "
                                  f"or give a 'package.module:Class' path")
        return load_object(target) if self.load and isinstance(target, str) else target

    def unknown(self, name: object, field: str | None = None) -> UnknownNameError:
        """The refusal of an unregistered name: the same words for every name that is not registered."""
        names = ", ".join(self.names()) or "none"
        return UnknownNameError(f"unknown {self.kind} {_quoted(name)}; this server offers: {names}", field)


def _quoted(name: object) -> str:
    text = name if isinstance(name, str) else repr(name)
    return repr(text[:80])


@contextmanager
def registered_names_only() -> Iterator[None]:
    """Within the block (and tasks started from it), every `Registry.get` refuses names not registered."""
    token = _REGISTERED_ONLY.set(True)
    try:
        yield
    finally:
        _REGISTERED_ONLY.reset(token)


NameTable = Mapping[str, "Registry | Collection[str]"]
"""Option key -> what its value must be registered in (a `Registry`, or a plain collection of names)."""


def check_names(options: Any, table: NameTable, where: str = "") -> None:
    """Refuse (`UnknownNameError` naming the field) any value under a key of `table`, at any depth, that is
    not a registered name. A list value is a list of names; a comma-separated string too (sweeps take both)."""
    if isinstance(options, Mapping):
        for key, value in options.items():
            field = f"{where}.{key}" if where else str(key)
            if key in table and value is not None:
                for name in _names_in(value):
                    if not _registered(name, table[key]):
                        raise _unknown(table[key], key, name, field)
            check_names(value, table, field)
    elif isinstance(options, list | tuple):
        for index, value in enumerate(options):
            check_names(value, table, f"{where}.{index}" if where else str(index))


def _names_in(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",")] if "," in value else [value]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def _registered(name: Any, names: Registry | Collection[str]) -> bool:
    return isinstance(name, str) and name in names


def _unknown(names: Registry | Collection[str], key: str, name: Any, field: str) -> UnknownNameError:
    if isinstance(names, Registry):
        return names.unknown(name, field)
    offered = ", ".join(sorted(names)) or "none"
    return UnknownNameError(f"unknown {key} {_quoted(name)}; this server offers: {offered}", field)


def load_object(path: str) -> Any:
    """Import `package.module:attr` and return the attribute."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise ConfigError(f"{path!r} is not a 'package.module:attr' path")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise ConfigError(f"cannot import {module_name!r} for {path!r}: {exc}") from exc
    try:
        return getattr(module, attr)
    except AttributeError as exc:
        raise ConfigError(f"module {module_name!r} has no attribute {attr!r}") from exc
