"""Start the service: names and plug-ins, engines (once, shared by every request), then uvicorn.

`build_state` is where settings turn into running things: it registers the
operator's plug-ins, router files and PRMs (the names clients may use),
checks that the code sandbox hides the server's files (or that the operator
allowed code without it), opens keys and the job store, and starts engines (a
Ray pool's actors start with the app, on its event loop). `serve` blocks until
the server stops and then shuts the engines and verifiers down.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from reasoner.errors import ConfigError
from reasoner.jobs.pool import PoolSettings, WorkerPool
from reasoner.service.app import ServiceState, create_app
from reasoner.service.config import ServiceConfig
from reasoner.service.keys import KeyRing
from reasoner.service.store import ServiceDB
from reasoner.verifiers.prm import PRMSet


def pool_settings(config: ServiceConfig) -> dict[str, PoolSettings]:
    """Each served model's `PoolSettings`; a combination that cannot work is a ConfigError naming the flag."""
    from pydantic import ValidationError

    try:
        return {name: PoolSettings(model=name, backend=config.backend, backend_options=config.backend_options,
                                   workers=config.workers, ray_address=config.ray_address,
                                   concurrency=config.job_concurrency) for name in config.models}
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "--model"
        raise ConfigError(f"{flag}: {error['msg'].removeprefix('Value error, ')}", field=str(error["loc"][0])) \
            from exc


def start_pools(settings: dict[str, PoolSettings], verifiers, prms: PRMSet) -> dict[str, WorkerPool]:
    """One pool per served model (`make_pool`): in-process engines started here, in parallel; a Ray pool's
    actors start with the app, on its event loop. In-process pools share the service's verifiers and PRMs."""
    from reasoner.engine.runtime import run_sync
    from reasoner.jobs.pool import LocalPool, make_pool

    pools = {name: make_pool(each, verifiers=verifiers, prms=prms) for name, each in settings.items()}
    local = [pool for pool in pools.values() if isinstance(pool, LocalPool)]

    async def start_all() -> None:
        await asyncio.gather(*(pool.start() for pool in local))

    run_sync(start_all())
    return pools


def build_state(config: ServiceConfig, generators: dict[str, Any] | None = None, verifiers=None) -> ServiceState:
    """Check the settings, then register names and open keys, the job store, verifiers, PRMs and one pool per
    model (over `generators` when given: running engines by model name)."""
    keys = KeyRing.from_file(config.keys_file) if config.keys_file is not None else KeyRing()
    if not config.loopback and not keys.enabled:
        raise ConfigError(f"binding {config.host} exposes the service beyond this machine; give --keys FILE")
    register_names(config)
    if len(set(config.models)) != len(config.models):
        raise ConfigError(f"--model given twice: {', '.join(config.models)}")
    settings = pool_settings(config)
    if verifiers is None:
        from reasoner.verifiers import VerifierSet

        verifiers = VerifierSet()
    code_allowed = config.allow_unsandboxed_code or code_is_isolated(verifiers)
    prms = PRMSet(opener=open_registered_prm)
    if generators is None:
        pools = start_pools(settings, verifiers, prms)
    else:
        from reasoner.jobs.pool import LocalPool

        pools = {name: LocalPool(generator, verifiers, concurrency=config.job_concurrency, prms=prms)
                 for name, generator in generators.items()}
    db = ServiceDB(config.db)
    return ServiceState(config=config, pools=pools, verifiers=verifiers, keys=keys, db=db,
                        code_allowed=code_allowed, prms=prms)


def open_registered_prm(name: str):
    """A PRM for the service: only a name the server registered opens (the bundled PRMs, `--prm`)."""
    from reasoner.strategies import PRMS
    from reasoner.verifiers.prm import open_prm

    return open_prm(PRMS.get(name, registered_only=True))


def register_names(config: ServiceConfig) -> None:
    """Register the operator's plug-ins, router files and PRMs: what clients may name besides the built-ins."""
    from reasoner.registry import load_object
    from reasoner.strategies import PRMS, ROUTERS, STRATEGIES, client_names
    from reasoner.strategies.scorers import SCORERS

    client_names()  # the bundled PRMs
    for path in config.plugins:
        target = load_object(path)
        name = getattr(target, "name", None)
        if not isinstance(name, str) or not name:
            raise ConfigError(f"--plugin {path}: a plug-in needs a `name` (the name clients will use)")
        registry = STRATEGIES if callable(getattr(target, "solve", None)) else \
            SCORERS if callable(getattr(target, "score", None)) else None
        if registry is None:
            raise ConfigError(f"--plugin {path}: neither a strategy (solve) nor a scorer (score)")
        registry.register(name, target)
    for name, file in config.routers.items():
        from reasoner.strategies.router_file import load_router

        load_router(str(file))  # a bad file fails at start-up, naming it, not in a client's request
        ROUTERS.register(name, str(file))
    for prm in config.prms:
        PRMS.register(prm, prm)


def code_is_isolated(verifiers) -> bool:
    """Whether the code verifier's sandbox runs programs in a scratch root with no network, where the
    server's files are not there to read (probed now, once)."""
    import logging

    code = verifiers.for_domain("code")
    try:
        isolation = getattr(code, "isolation", None)
    except ConfigError as exc:  # no sandbox at all on this machine
        logging.getLogger("reasoner.service").warning("the code sandbox cannot run here: %s", exc)
        return False
    if isolation is None:
        return False
    isolated = isolation.private_root and isolation.network_blocked
    if not isolated:
        logging.getLogger("reasoner.service").warning(
            "the code sandbox cannot hide this server's files (%s); code jobs and code chat are refused unless "
            "--allow-unsandboxed-code", "; ".join(isolation.fallbacks) or "no scratch root")
    return isolated


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
            server = uvicorn.Server(uvicorn_config(app, config))
            print(f"reasoner: serving {', '.join(config.models)} on {base_url(sock)}", file=sys.stderr, flush=True)
            server.run(sockets=[sock])
        finally:
            state.db.close()
            state.verifiers.close()
    finally:
        sock.close()
    return 0


def uvicorn_config(app, config: ServiceConfig):
    """How uvicorn serves the app: the connection cap from the limits (503 beyond it), quiet logs."""
    import uvicorn

    return uvicorn.Config(app, host=config.host, port=config.port, log_level="warning", timeout_graceful_shutdown=5,
                          limit_concurrency=config.limits.max_connections)


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
