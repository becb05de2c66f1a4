"""`reasoner serve`: its flags, and the `ServiceConfig` they make.

The flags that matter for security: `--keys` (and `admin` keys in it), `--plugin mod:Class`
(repeatable: strategies and scorers clients may name), `--router NAME=FILE` and `--prm NAME`
(router files and PRMs clients may name; `--prm-url`, `--prm-format`, `--prm-runner` say how the
operator's PRM runs, which no client can change), `--allowed-host`, `--cors-origin`,
`--allow-unsandboxed-code`, and the limits: `--limits FILE` (TOML or JSON) with
`--limit NAME=VALUE` on top. docs/design/security.md says what each allows.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reasoner.cli_options import key_value, prm_gpu_option, prm_options, prm_settings, with_prm_gpu_share
from reasoner.errors import ConfigError, OptionError


def add_serve(commands) -> None:
    p = commands.add_parser("serve", help="an OpenAI-compatible server with per-request strategies and a jobs API")
    p.add_argument("--model", action="append", default=None, help="served model (repeatable; default tiny)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1; others need --keys)")
    p.add_argument("--port", type=int, default=8000, help="TCP port (default 8000; 0 picks a free one, printed)")
    p.add_argument("--backend", default="vllm", choices=["vllm", "openai"], help="generation backend")
    p.add_argument("--base-url", default=None, help="server URL for --backend openai")
    p.add_argument("--workers", type=int, default=None,
                   help="serve chat requests and jobs from N Ray actors, each with its own engine")
    p.add_argument("--ray-address", default=None,
                   help="serve chat requests and jobs from this Ray cluster (default: $RAY_ADDRESS)")
    p.add_argument("--engine-arg", type=key_value, action="append", default=[], metavar="[MODEL:]KEY=VALUE",
                   help="a vLLM engine argument of one served model (MODEL:KEY=VALUE, e.g. big:tensor_parallel_size=2) "
                        "or of every model (KEY=VALUE), checked against vLLM's AsyncEngineArgs before anything "
                        "starts; VALUE is read as JSON when it parses (repeatable)")
    p.add_argument("--keys", type=Path, default=None,
                   help="API keys file: one key (or sha256:HEX) per line, 'admin KEY' for admin keys")
    p.add_argument("--db", type=Path, default=Path("reasoner-service.db"), help="SQLite file for jobs")
    p.add_argument("--job-concurrency", type=int, default=64, help="problems in flight per job (in-process)")
    p.add_argument("--plugin", action="append", default=[], metavar="MODULE:CLASS",
                   help="register a strategy or scorer clients may name, by its `name` (repeatable)")
    p.add_argument("--router", action="append", default=[], type=key_value, metavar="NAME=FILE",
                   help="a router file clients may name as NAME (repeatable)")
    p.add_argument("--prm", action="append", default=[], metavar="NAME_OR_FOLDER",
                   help="a PRM clients may name besides the bundled ones (repeatable)")
    prm_options(p)
    prm_gpu_option(p)
    p.add_argument("--allowed-host", action="append", default=[], metavar="HOST",
                   help="a Host name a key-less server answers besides loopback ones (repeatable)")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="a web origin allowed to call the API from a browser (repeatable)")
    p.add_argument("--allow-unsandboxed-code", action="store_true",
                   help="grade code even where the sandbox cannot hide this server's files (not recommended)")
    p.add_argument("--limits", type=Path, default=None, metavar="FILE",
                   help="server-side limits from a TOML or JSON file (see docs/design/security.md)")
    p.add_argument("--limit", action="append", default=[], type=key_value, metavar="NAME=VALUE",
                   help="one limit, over --limits (repeatable), e.g. requests_per_minute=120")
    p.set_defaults(run=run_serve)


def serve_config(args: argparse.Namespace):
    from reasoner.cli_options import check_engine_options, per_model_engine_options
    from reasoner.service.config import Limits, ServiceConfig

    overrides = dict(args.limit)
    limits = Limits.from_file(args.limits, overrides) if args.limits else Limits.checked(overrides)
    options = {"base_url": args.base_url} if args.base_url else {}
    models = tuple(args.model or ["tiny"])
    engines = per_model_engine_options(args.engine_arg, models)
    if args.engine_arg and args.backend != "vllm":
        raise ConfigError(f"--engine-arg: configures vLLM engines; --backend {args.backend} serves from its own server",
                          field="engine_arg")
    for model, given in engines.items():
        check_engine_options(model, given, flag=f"--engine-arg {model}:")
    routers = {}
    for name, file in args.router:
        if not Path(str(file)).is_file():
            raise ConfigError(f"--router {name}={file}: no such file")
        routers[name] = Path(str(file))
    return ServiceConfig(models=models, host=args.host, port=args.port, engine_options=engines,
                         backend=args.backend, backend_options=options, workers=args.workers,
                         ray_address=args.ray_address or os.environ.get("RAY_ADDRESS"), keys_file=args.keys,
                         db=args.db, job_concurrency=args.job_concurrency, limits=limits,
                         plugins=tuple(args.plugin), routers=routers, prms=tuple(args.prm),
                         prm_settings=serve_prm_settings(args, engines if args.backend == "vllm" else {}),
                         allowed_hosts=tuple(args.allowed_host), cors_origins=tuple(args.cors_origin),
                         allow_unsandboxed_code=args.allow_unsandboxed_code)


def serve_prm_settings(args: argparse.Namespace, engines: dict[str, dict]) -> dict:
    """How the operator's PRM runs: `--prm-url`/`--prm-format`/`--prm-runner`/`--prm-gpu-memory-utilization`
    apply to the one `--prm` given (with several, each would need its own server or format, so the flags are
    refused); its GPU share is checked against each served model's (`engines`: engine options by model)."""
    given = (args.prm_url, args.prm_format, args.prm_runner, args.prm_gpu_memory_utilization)
    if all(value is None for value in given):
        return {}
    if len(args.prm) > 1:
        raise OptionError("--prm-url/--prm-format/--prm-runner/--prm-gpu-memory-utilization: say how one PRM runs; "
                          "give a single --prm with them")
    return with_prm_gpu_share(args, prm_settings(args, args.prm[0] if args.prm else None), engines)


def run_serve(args: argparse.Namespace) -> int:
    from reasoner.service.server import serve

    return serve(serve_config(args))
