"""`reasoner serve`: the OpenAI-compatible service with per-request strategies and a jobs API.

Parsing only: settings become a `ServiceConfig`, and `reasoner.service.server.serve` runs it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from reasoner.cli_options import key_value


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
    p.add_argument("--keys", type=Path, default=None, help="API keys file: one key (or sha256:HEX) per line")
    p.add_argument("--db", type=Path, default=Path("reasoner-service.db"), help="SQLite file for jobs")
    p.add_argument("--job-concurrency", type=int, default=64, help="problems in flight per job (in-process)")
    p.set_defaults(run=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import os

    from reasoner.cli_options import check_engine_options, per_model_engine_options
    from reasoner.errors import OptionError
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import serve

    options = {"base_url": args.base_url} if args.base_url else {}
    models = tuple(args.model or ["tiny"])
    engines = per_model_engine_options(args.engine_arg, models)
    if args.engine_arg and args.backend != "vllm":
        raise OptionError(f"--engine-arg: configures vLLM engines; --backend {args.backend} serves from its own server")
    for model, given in engines.items():
        check_engine_options(model, given, flag=f"--engine-arg {model}:")
    config = ServiceConfig(models=models, host=args.host, port=args.port, engine_options=engines,
                           backend=args.backend, backend_options=options, workers=args.workers,
                           ray_address=args.ray_address or os.environ.get("RAY_ADDRESS"), keys_file=args.keys,
                           db=args.db, job_concurrency=args.job_concurrency)
    return serve(config)
