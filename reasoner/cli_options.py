"""Checking `reasoner` command-line options where they enter, before anything starts.

- argparse `type=` functions for numbers that land in no options model
  (`--limit`, `--concurrency`, `--workers`, ...): a bad one is argparse's usage
  error, exit status 2.
- `--option KEY=VALUE` pairs: VALUE is read as JSON when it parses (`8`,
  `0.5`, `true`, `["a"]`), else kept as a string (`logprob`).
- `build`: fills an options model (a strategy, `SweepConfig`, `SFTConfig`, ...)
  and turns its `ValidationError` into an `OptionError` that names the flag the
  value came from, so that each range is written once, in the model.

It is not the commands (`reasoner/cli.py`) and not the models, which live with
what they configure.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from reasoner.errors import ConfigError, OptionError

T = TypeVar("T")
Pair = tuple[str, Any]


def positive_int(text: str) -> int:
    """argparse type: an integer of at least 1."""
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from exc
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number greater than 0."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from exc
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number greater than 0, got {text}")
    return value


def fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1 (a share of a GPU's memory)."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from exc
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a fraction between 0 and 1 (exclusive), got {text}")
    return value


def key_value(text: str) -> Pair:
    """argparse type of `--option KEY=VALUE`: VALUE as JSON when it parses, else as the string."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


ENGINE_ARG_HELP = ("a vLLM engine argument (a field of vLLM's AsyncEngineArgs), e.g. tensor_parallel_size=2, "
                   "max_model_len=4096, quantization=awq, kv_cache_dtype=fp8, enable_prefix_caching=false, "
                   "gpu_memory_utilization=0.6; VALUE is read as JSON when it parses (repeatable)")


def engine_options(pairs: Iterable[Pair], flag: str = "--engine-arg") -> dict[str, Any]:
    """`--engine-arg KEY=VALUE` pairs as one dict; a key given twice is an OptionError."""
    options: dict[str, Any] = {}
    for key, value in pairs:
        if key in options:
            raise OptionError(f"{_flag_key(flag, key)}: given twice")
        options[key] = value
    return options


def check_engine_options(model: str, options: Mapping[str, Any], flag: str = "--engine-arg") -> None:
    """Check `options` as the engine for `model` will take them (vLLM's `AsyncEngineArgs` fields, reasoner's engine
    settings), before anything starts; a bad one is an OptionError naming the flag and the key."""
    if not options:
        return
    from reasoner.engine.backends.vllm import EngineConfig

    try:
        EngineConfig.of(model, **options)
    except ConfigError as exc:
        raise OptionError(f"{_flag_key(flag, exc.field)}: {exc}" if exc.field else f"{flag}: {exc}") from exc


def _flag_key(flag: str, key: str) -> str:
    """`--engine-arg KEY`, or `--engine-arg MODEL:KEY` when the flag already names the model."""
    return f"{flag}{key}" if flag.endswith(":") else f"{flag} {key}"


def per_model_engine_options(pairs: Iterable[Pair], models: Iterable[str], flag: str = "--engine-arg"
                             ) -> dict[str, dict[str, Any]]:
    """`--engine-arg [MODEL:]KEY=VALUE` pairs of `reasoner serve` as each served model's engine options.

    A key without `MODEL:` applies to every model; one with it to that model only, over the shared value.
    The model is what precedes the key's last `:` (so `hub:ORG/NAME:KEY` works). A model that is not
    served, or a key given twice for one model, is an OptionError."""
    served = list(models)
    shared: list[Pair] = []
    own: dict[str, list[Pair]] = {model: [] for model in served}
    for key, value in pairs:
        model, colon, name = key.rpartition(":")
        if not colon:
            shared.append((key, value))
        elif model not in own:
            raise OptionError(f"{flag} {key}: {model!r} is not a served model ({', '.join(served)})")
        else:
            own[model].append((name, value))
    common = engine_options(shared, flag)
    return {model: {**common, **engine_options(own[model], f"{flag} {model}:")} for model in served}


def build(factory: Callable[..., T], values: Mapping[str, Any], flags: Mapping[str, str] | None = None) -> T:
    """`factory(**values)` with None values left out; a value it refuses is an OptionError naming its flag.

    `flags` maps a field to the flag that set it; other fields are shown as
    `--field-name`. A factory that wraps its ValidationError in a ConfigError
    (as `reasoner.eval.sweep.make_config` does) is unwrapped the same way.
    """
    try:
        return factory(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        raise OptionError(describe(exc, flags or {})) from exc
    except ConfigError as exc:
        if isinstance(exc.__cause__, ValidationError):
            raise OptionError(describe(exc.__cause__, flags or {})) from exc
        raise


def describe(exc: ValidationError, flags: Mapping[str, str]) -> str:
    """One clause per error, each led by the flag of the field it is about."""
    return "; ".join(_describe_one(error, flags, exc.title) for error in exc.errors(include_url=False))


def _describe_one(error: Mapping[str, Any], flags: Mapping[str, str], model: str) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:
        return message
    # The innermost field name: a nested config's error is about its field, not its section.
    field = str([part for part in error["loc"] if isinstance(part, str)][-1])
    flag = flags.get(field, "--" + field.replace("_", "-"))
    if error["type"] == "extra_forbidden":
        return f"{flag}: not an option of {model}"
    given = error.get("input")
    if error["type"] != "value_error" and isinstance(given, str | int | float | bool):  # our validators say it
        message += f", got {given!r}"
    return f"{flag}: {message[:1].lower()}{message[1:]}"


def strategy_from_options(name: str, options: Mapping[str, Any], flags: Mapping[str, str],
                          name_flag: str = "--strategy") -> Any:
    """Build strategy `name` (a registry name or `module:Class`) with `options` (`build_strategy`).

    An unknown strategy, an unknown key or a value its options model refuses
    is an OptionError naming the flag; nothing else happens first.
    """
    from reasoner.strategies import build_strategy

    try:
        return build(lambda **given: build_strategy(name, given), options, flags)
    except OptionError:
        raise
    except ConfigError as exc:
        flag = name_flag if exc.field in (None, "strategy") else flags.get(exc.field, name_flag)
        raise OptionError(f"{flag}: {exc}") from exc


def solve_strategy(name: str, pairs: Iterable[Pair], named: Mapping[str, tuple[str, Any]]) -> tuple[Any, dict]:
    """The strategy `reasoner solve` runs, and the options given for it.

    `pairs` come from `--option`; `named` maps an option to the flag that sets
    it directly and its value (`{"n": ("--n", 8)}`, None when not given).
    Giving one option twice is an error. A flag's option the strategy does not
    take itself, but its scorer may (`--prm`, `--aggregation` for a strategy
    with `scorer_options`), goes to the scorer (see `to_scorer`).
    """
    options: dict[str, Any] = {}
    flags = {key: flag for key, (flag, _) in named.items()}
    set_by: dict[str, str] = {}
    given = [(flag, key, value) for key, (flag, value) in named.items() if value is not None]
    given += [(f"--option {key}", key, value) for key, value in pairs]
    for flag, key, value in given:
        if key in set_by:
            raise OptionError(f"{flag}: {key!r} is already set by {set_by[key]}")
        options[key], set_by[key] = value, flag
    options, set_by = to_scorer(name, options, {**flags, **set_by}, scoring=SCORER_OPTIONS)
    return strategy_from_options(name, options, set_by), options


SCORER_OPTIONS = ("prm", "aggregation")
"""Options a strategy may take itself (the searches) or pass to its scorer (best-of-n, weighted voting)."""


def to_scorer(name: str, options: dict[str, Any], flags: dict[str, str], scoring: Iterable[str]
              ) -> tuple[dict[str, Any], dict[str, str]]:
    """`options` with those of `scoring` that strategy `name` does not take, but whose `scorer_options`
    does, moved there; `flags` with `scorer_options` named by the flags that set them."""
    from reasoner.strategies import STRATEGIES, option_names

    try:
        takes = option_names(STRATEGIES.get(name))
    except ConfigError as exc:
        raise OptionError(f"--strategy: {exc}") from exc
    moving = [key for key in scoring if key in options and key not in takes and "scorer_options" in takes]
    if not moving:
        return options, flags
    if "scorer_options" in options:
        raise OptionError(f"{flags[moving[0]]}: the scorer's options are already set by {flags['scorer_options']}")
    options = dict(options)
    options["scorer_options"] = {key: options.pop(key) for key in moving}
    return options, {**flags, "scorer_options": "/".join(flags[key] for key in moving)}


def sweep_strategy_options(pairs: Iterable[Pair]) -> dict[str, dict[str, Any]]:
    """`--option STRATEGY.KEY=VALUE` pairs of a sweep grouped by strategy, each checked against its model."""
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in pairs:
        strategy, dot, field = key.rpartition(".")
        if not dot or not strategy or not field:
            raise OptionError(f"--option {key}: a sweep's options name their strategy, STRATEGY.KEY=VALUE, "
                              f"e.g. best_of_n.scorer=logprob")
        options = grouped.setdefault(strategy, {})
        if field in options:
            raise OptionError(f"--option {key}: given twice")
        options[field] = value
    for strategy, options in grouped.items():
        flags = {field: f"--option {strategy}.{field}" for field in options}
        strategy_from_options(strategy, options, flags, name_flag=f"--option {strategy}.*")
    return grouped


def check_swept(options: Mapping[str, Any], strategies: Iterable[str]) -> None:
    """Options for a strategy the sweep does not run are an OptionError, not silently unused."""
    swept = list(strategies)
    for strategy in options:
        if strategy not in swept:
            raise OptionError(f"--option {strategy}.*: {strategy!r} is not among the swept strategies "
                              f"({', '.join(swept)}); add it to --strategies")


def what_ran(strategy: Any) -> dict[str, Any]:
    """For a job summary: `n`, the value of the option `--n` sets (None if the strategy has
    none), and `options`, every option value the strategy ran with, defaults included."""
    if not isinstance(strategy, BaseModel):
        return {"n": getattr(strategy, "n", None), "options": {}}
    from reasoner.strategies import field_aliases

    n = None
    for name, field in type(strategy).model_fields.items():
        if name == "n" or "n" in field_aliases(field):
            n = getattr(strategy, name)
    return {"n": n, "options": strategy.model_dump(mode="json")}


def prm_options(p: argparse.ArgumentParser) -> None:
    """--prm-url, --prm-format and --prm-runner: how the PRM named with --prm runs."""
    p.add_argument("--prm-url", default=None,
                   help="score with the PRM at this vLLM server (`vllm serve FOLDER --runner pooling ...`, see "
                        "`reasoner verify prm`); --prm still names its folder, for the tokenizer and format")
    p.add_argument("--prm-format", default=None,
                   help="read the PRM as this format (reasoner, qwen-prm, math-shepherd, rlhflow); default: "
                        "detected from its folder")
    p.add_argument("--prm-runner", choices=["vllm", "torch"], default=None,
                   help="vllm (default): the PRM on its own vLLM pooling engine, batched and prefix-cached; "
                        "torch: in this process, for comparison")


PRM_GPU_FLAG = "--prm-gpu-memory-utilization"


def prm_gpu_option(p: argparse.ArgumentParser) -> None:
    """--prm-gpu-memory-utilization: the share of a GPU the PRM named with --prm takes."""
    p.add_argument(PRM_GPU_FLAG, type=fraction, default=None, metavar="FRACTION",
                   help="share of a GPU's memory the --prm PRM's vLLM engine takes (default 0.4), and with "
                        "--prm-actor the GPU share its Ray actor asks for (default 0.1); it shares a GPU with the "
                        "policy, so with the policy's gpu_memory_utilization (--engine-arg, default 0.85) it must "
                        "sum below 1 (checked before anything starts, on CPU too)")


def with_prm_gpu_share(args: argparse.Namespace, prms: dict[str, Any],
                       policies: Mapping[str, Mapping[str, Any]], shared_actor: bool = False) -> dict[str, Any]:
    """`prms` (of `prm_settings`) with the share `--prm-gpu-memory-utilization` gives, checked against the
    `gpu_memory_utilization` of each policy (engine options by model) it may share a GPU with: an OptionError
    naming the flag. A `shared_actor` beside a policy spanning several GPUs takes a GPU of its own (no check)."""
    share = args.prm_gpu_memory_utilization
    if share is None:
        return prms
    if not prms:
        raise OptionError(f"{PRM_GPU_FLAG}: says how the PRM given with --prm runs; give --prm NAME_OR_FOLDER")
    (prm, settings), = prms.items()
    if settings.url is not None:
        raise OptionError(f"{PRM_GPU_FLAG}: the PRM at --prm-url {settings.url} runs on its server, whose own "
                          f"settings give its GPU share")
    for model, options in policies.items():
        _check_prm_gpu_share(model, options, share, shared_actor)
    return {prm: settings.model_copy(update={"gpu_memory_utilization": share})}


def _check_prm_gpu_share(model: str, options: Mapping[str, Any], share: float, shared_actor: bool) -> None:
    from reasoner.engine.backends.vllm import EngineConfig
    from reasoner.engine.backends.vllm_args import world_size
    from reasoner.jobs.placement import check_shared_gpu

    config = EngineConfig.of(model, **options)
    if shared_actor and world_size(config.engine_args) > 1:
        return
    try:
        check_shared_gpu(config.gpu_memory_utilization, share)
    except ConfigError as exc:
        raise OptionError(f"{PRM_GPU_FLAG}: {exc} (lower it, or the policy's with --engine-arg "
                          f"gpu_memory_utilization=...)") from exc


def prm_settings(args: argparse.Namespace, prm: str | None) -> dict[str, Any]:
    """The `PRMSettings` of `--prm-url`/`--prm-format`/`--prm-runner` for the PRM `prm` (by name), its format
    checked now (a folder of no known format, a tokenizer without the format's tag): an OptionError naming the flag."""
    from reasoner.verifiers.prm import PRMSettings

    given = {"url": args.prm_url, "format": args.prm_format, "runner": args.prm_runner}
    flags = {"url": "--prm-url", "format": "--prm-format", "runner": "--prm-runner"}
    if prm is None:
        named = [flags[key] for key, value in given.items() if value is not None]
        if named:
            raise OptionError(f"{named[0]}: says how the PRM given with --prm runs; give --prm NAME_OR_FOLDER")
        return {}
    settings = build(PRMSettings, given, flags=flags)
    check_prm_folder(prm, settings)
    return {prm: settings}


def check_prm_folder(prm: str, settings: Any) -> None:
    """An OptionError unless `prm` is a folder of the format `settings` name, or of one detected."""
    from reasoner.engine.models import resolve_model
    from reasoner.errors import ModelNotFoundError
    from reasoner.verifiers.prm.formats import open_format

    try:
        open_format(resolve_model(prm), settings.format)
    except (ConfigError, ModelNotFoundError) as exc:
        raise OptionError(f"{'--prm-format' if settings.format else '--prm'}: {exc}") from exc


def pool_settings(args: argparse.Namespace, model: str, strategy: Any, env_address: str | None,
                  prms: dict[str, Any] | None = None) -> Any:
    """The `PoolSettings` of `reasoner solve`'s flags; a combination that cannot work names its flag.

    With `--prm-actor`, the shared PRM is the one the strategy declares (it must declare exactly one)."""
    from reasoner.jobs.pool import PoolSettings
    from reasoner.strategies.base import prms_of

    address = args.ray_address or env_address
    prm_actor = None
    if args.prm_actor:
        names = sorted(prms_of(strategy))
        if len(names) != 1 and (args.workers is not None or address):
            raise OptionError(f"--prm-actor: strategy {args.strategy!r} with these options scores with "
                              f"{len(names)} PRMs ({', '.join(names) or 'none'}); it shares exactly one")
        prm_actor = names[0] if names else ""
    backend_options = {"base_url": args.base_url} if args.base_url else {}
    if args.verbose:
        backend_options["verbose"] = True
    given = engine_options(args.engine_arg)
    if given and args.backend != "vllm":
        raise OptionError(f"--engine-arg: configures vLLM engines; --backend {args.backend} serves from its own server")
    check_engine_options(model, given)
    backend_options.update(given)
    policies = {model: given} if args.backend == "vllm" else {}  # a server's policy shares no GPU with the PRM
    prms = with_prm_gpu_share(args, prms or {}, policies, shared_actor=prm_actor is not None)
    return build(PoolSettings, {"model": model, "backend": args.backend, "backend_options": backend_options,
                                "concurrency": args.concurrency, "workers": args.workers, "ray_address": address,
                                "prm_actor": prm_actor, "prms": prms or None,
                                "prm_gpu_memory_utilization": args.prm_gpu_memory_utilization},
                 flags={"prm_actor": "--prm-actor", "ray_address": "--ray-address",
                        "prm_gpu_memory_utilization": PRM_GPU_FLAG})


def default_models_dir() -> Path:
    """Where imported models live: $REASONER_MODELS_DIR, else ~/.cache/reasoner/models."""
    import os

    return Path(os.environ.get("REASONER_MODELS_DIR") or "~/.cache/reasoner/models").expanduser()


def models_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--models-dir", type=Path, default=None,
                   help="folder of imported models (default: $REASONER_MODELS_DIR or ~/.cache/reasoner/models)")


def model_path(name: str, models_dir: Path | None) -> str:
    """`name` itself, or the folder of the imported model of that name."""
    from reasoner.engine.models import locate_model

    return locate_model(name, models_dir or default_models_dir())


def unescape(text: str | None) -> str | None:
    """A delimiter typed on a command line: `\\n` and `\\t` become a newline and a tab."""
    return None if text is None else text.replace("\\n", "\n").replace("\\t", "\t")


def stage(message: str) -> None:
    """One line on stderr per stage of a command, so stdout stays for results."""
    import sys

    print(f"reasoner: {message}", file=sys.stderr, flush=True)


def comma_list(value: str | None, cast: Callable[[str], Any], flag: str, kind: str) -> list | None:
    """A comma-separated option as a list (None when not given); a bad entry is an OptionError naming the flag."""
    if not value:
        return None
    try:
        return [cast(item) for item in value.split(",")]
    except ValueError as exc:
        raise OptionError(f"{flag} must be comma-separated {kind}, got {value!r}") from exc


def dataset_options(p: argparse.ArgumentParser) -> None:
    """--dataset, --format and --split, as solve and sweep take them."""
    p.add_argument("--dataset", required=True, help="dataset name (arith, pyfunc, humaneval) or JSONL file")
    p.add_argument("--format", default=None, help="force the file format (reasoner, gsm8k, math, mbpp, humaneval)")
    p.add_argument("--split", choices=["train", "dev", "test"], default=None,
                   help="split of a bundled task (arith, pyfunc): test (default), dev for choosing settings, "
                        "train (with --limit)")


def submit(coro, loop):
    """Run `coro` on the engine loop (another thread); the future's result blocks until it is done."""
    import asyncio

    return asyncio.run_coroutine_threadsafe(coro, loop)
