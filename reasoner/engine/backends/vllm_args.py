"""vLLM engine arguments a user passes through (`--engine-arg KEY=VALUE`, the API's `engine_options`).

`check_engine_args` checks them against vLLM's own `AsyncEngineArgs` dataclass
before any engine starts: a key that is not one of its fields is a
`ConfigError` naming the key and the closest field names; a value of a plain
type (bool, int, float, str, a `Literal`, optional or lists of those) is
checked against the field's type and converted (`"512"` becomes 512); values
of vLLM's nested config types (`compilation_config`, `speculative_config`, ...)
are left to vLLM, which checks them when the engine is configured. Keys the
engine sets itself are refused with the reason (`REFUSED`).

Not here: the engine settings reasoner has fields for (`EngineConfig` in
`reasoner.engine.backends.vllm`, which routes a key of one of its fields there
rather than here), the arguments reasoner sets itself (`VLLMGenerator.engine_args`),
or parsing flags (`reasoner.cli_options`). Importing vLLM's argument class
takes seconds, so it happens on first check, never at import.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import sys
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal, Union

from reasoner.errors import ConfigError

REFUSED: dict[str, str] = {
    "model": "the engine serves the model given as --model (the API's `model`)",
    "tokenizer": "prompts are formatted with the model folder's own tokenizer, so another one would not match",
    "skip_tokenizer_init": "prompts are formatted and continued in token ids, which needs the tokenizer",
    "worker_cls": "reasoner chooses the worker (on CPU, one that sets the OpenMP threads; see cpu_threads)",
    "worker_extension_cls": "reasoner adds its weight-sync extension itself when weight_sync is on",
    "distributed_executor_backend": "reasoner chooses the executor: one process on CPU, vLLM's default on one "
                                    "GPU, worker processes inside the engine's process (or Ray actor, which "
                                    "holds that many GPUs) when tensor x pipeline parallel size is above 1",
    "additional_config": "it carries reasoner's CPU thread count; set cpu_threads instead",
}
"""`AsyncEngineArgs` fields the engine sets itself, and why a user may not."""

PLAIN = (bool, int, float, str, type(None))


def check_engine_args(args: Mapping[str, Any], also: Iterable[str] = ()) -> dict[str, Any]:
    """`args` checked against vLLM's `AsyncEngineArgs`, plain values converted to their field's type.

    `also` are other names the caller accepts (offered as close matches too). Raises `ConfigError`
    with `field` set to the bad key."""
    fields = vllm_fields()
    checked: dict[str, Any] = {}
    for key, value in args.items():
        if key in REFUSED:
            raise ConfigError(f"engine argument {key!r} is set by reasoner itself: {REFUSED[key]}", field=key)
        if key not in fields:
            raise ConfigError(unknown_key_message(key, [*fields, *also]), field=key)
        checked[key] = _convert(key, value, fields[key])
    return checked


def world_size(args: Mapping[str, Any]) -> int:
    """GPUs one engine with these arguments spans: tensor x pipeline parallel size (1 unless given)."""
    return int(args.get("tensor_parallel_size", 1)) * int(args.get("pipeline_parallel_size", 1))


def unknown_key_message(key: str, names: Iterable[str]) -> str:
    """The error for a key that is no engine argument, with the closest names when there are some."""
    close = difflib.get_close_matches(key, sorted(set(names)), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `vllm serve --help` for them"
    return f"{key!r} is not an argument of vLLM's AsyncEngineArgs{hint}"


@functools.cache
def vllm_fields() -> dict[str, Any]:
    """Field name to type hint (None where vLLM's own annotation does not resolve) of `AsyncEngineArgs`."""
    from vllm.engine.arg_utils import AsyncEngineArgs

    module = vars(sys.modules[AsyncEngineArgs.__module__])
    hints: dict[str, Any] = {}
    for field in dataclasses.fields(AsyncEngineArgs):
        if field.name.startswith("_"):
            continue
        hints[field.name] = _resolve(field, module)
    return hints


def _resolve(field: dataclasses.Field, module: dict[str, Any]) -> Any:
    hint = field.type
    if isinstance(hint, str):
        try:
            hint = eval(hint, module)  # noqa: S307 - vLLM's own annotation string, evaluated in its module
        except (NameError, TypeError, SyntaxError):
            return None  # an annotation vLLM leaves unresolvable at run time: vLLM checks the value itself
    if field.default is None and not _allows_none(hint):
        hint = Union[hint, None]  # noqa: UP007 - built at run time from a type object
    return hint


def _allows_none(hint: Any) -> bool:
    return hint is type(None) or (_is_union(hint) and type(None) in typing.get_args(hint))


def _is_union(hint: Any) -> bool:
    return typing.get_origin(hint) in (Union, types.UnionType)


def is_plain(hint: Any) -> bool:
    """Whether `hint` is built only of bool, int, float, str, None, `Literal`s, unions and lists of them."""
    if hint in PLAIN:
        return True
    origin = typing.get_origin(hint)
    if origin is Literal:
        return True
    if _is_union(hint) or origin is list:
        return all(is_plain(arg) for arg in typing.get_args(hint))
    return False


def _convert(key: str, value: Any, hint: Any) -> Any:
    if hint is None or not is_plain(hint):
        return value
    from pydantic import ValidationError

    try:
        return _adapter(hint).validate_python(value)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"]
        raise ConfigError(f"engine argument {key}={value!r}: {reason[:1].lower()}{reason[1:]}", field=key) from exc


@functools.cache
def _adapter(hint: Any):
    from pydantic import TypeAdapter

    return TypeAdapter(hint)
