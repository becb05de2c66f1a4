"""Start the service: engines first (once, shared by every request), then uvicorn.

`build_state` is where settings turn into running things (a Ray pool's
actors start with the app, on its event loop); `serve` blocks until the
server stops and then shuts the engines and verifiers down.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from reasoner.errors import ConfigError
from reasoner.service.app import ServiceState, create_app
from reasoner.service.config import ServiceConfig
from reasoner.service.keys import KeyRing
from reasoner.service.store import ServiceDB


def start_generators(config: ServiceConfig) -> dict[str, Any]:
    """One generator per served model: engines started here in parallel, or (with workers or a Ray
    address) a Ray pool per model, which the app starts on its own event loop."""
    from reasoner.engine.backends import open_generator

    if config.pooled:
        from reasoner.jobs.pool import RayPool
        from reasoner.service.pooled import PoolGenerator

        return {name: PoolGenerator(RayPool(name, workers=config.workers, address=config.ray_address,
                                            engine_options=config.engine_options_of(name)))
                for name in config.models}
    generators = {name: open_generator(config.backend, name, **config.backend_options, **config.engine_options_of(name))
                  for name in config.models}
    engines = [g.engine for g in generators.values() if hasattr(g, "engine")]
    if engines:
        with ThreadPoolExecutor(max_workers=len(engines)) as pool:
            list(pool.map(lambda start: start(), engines))
    return generators


def build_state(config: ServiceConfig, generators: dict[str, Any] | None = None, verifiers=None) -> ServiceState:
    """Check the settings, then open keys, the job store, verifiers and (unless given) engines."""
    keys = KeyRing.from_file(config.keys_file) if config.keys_file is not None else KeyRing()
    if not config.loopback and not keys.enabled:
        raise ConfigError(f"binding {config.host} exposes the service beyond this machine; give --keys FILE")
    if len(set(config.models)) != len(config.models):
        raise ConfigError(f"--model given twice: {', '.join(config.models)}")
    unknown = sorted(set(config.engine_options) - set(config.models))
    if unknown:
        raise ConfigError(f"engine options for {unknown[0]!r}, which is not served ({', '.join(config.models)})")
    if config.pooled and config.backend != "vllm":
        raise ConfigError(f"--workers and --ray-address run vLLM engines in Ray actors; --backend {config.backend} "
                          f"serves from its own server, so give one or the other")
    if verifiers is None:
        from reasoner.verifiers import VerifierSet

        verifiers = VerifierSet()
    db = ServiceDB(config.db)
    generators = generators if generators is not None else start_generators(config)
    return ServiceState(config=config, generators=generators, verifiers=verifiers, keys=keys, db=db)


def serve(config: ServiceConfig) -> int:
    """Run the service until interrupted."""
    import uvicorn

    # The port is bound now and held through minutes of engine start-up: a port checked free and bound only
    # later can be handed to another process meanwhile (any bind to port 0 on the machine). `--port 0`
    # picks a free one; the line below prints it.
    sock = bind_port(config.host, config.port)
    try:
        state = build_state(config)
        try:
            app = create_app(state)
            server = uvicorn.Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="warning",
                                                   timeout_graceful_shutdown=5))
            print(f"reasoner: serving {', '.join(config.models)} on {base_url(sock)}", file=sys.stderr, flush=True)
            server.run(sockets=[sock])
        finally:
            state.db.close()
            state.verifiers.close()
    finally:
        sock.close()
    return 0


def bind_port(host: str, port: int):
    """A socket bound to (host, port), not yet listening (connections are refused until the app is up)."""
    import socket

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a restart need not wait
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; is another server running there?") \
            from exc
    return sock


def base_url(sock) -> str:
    """The API's URL on the socket's real address (the chosen port when asked for port 0)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}/v1" if ":" in host else f"http://{host}:{port}/v1"
