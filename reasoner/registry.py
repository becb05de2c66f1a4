"""Name-to-implementation registries with a `package.module:Class` escape hatch.

Registries hold import paths as strings, so listing names imports nothing
heavy; the class is imported when it is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from reasoner.errors import ConfigError


class Registry:
    """Maps names to classes (or import paths); `module:attr` strings also resolve."""

    def __init__(self, kind: str, entries: Mapping[str, Any] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Any] = dict(entries or {})

    def register(self, name: str, target: Any) -> None:
        """Add `target` (a class, factory or `module:attr` path) under `name`."""
        self._entries[name] = target

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        """The implementation for `name`, or for a `module:attr` path."""
        target = self._entries.get(name)
        if target is None and ":" in name:
            target = name
        if target is None:
            raise ConfigError(f"unknown {self.kind} {name!r}; choose one of {', '.join(self.names())} "
                              f"or give a 'package.module:Class' path")
        return load_object(target) if isinstance(target, str) else target


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
