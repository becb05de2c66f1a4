"""One real uvicorn server per test session, on 127.0.0.1, over the session's tiny vLLM engine.

`EngineSpy` wraps the running engine's `generate` to read vLLM's own counts
(prompt token ids, generated token ids, cached tokens, sampling params) and
to see requests aborted mid-generation. It forwards everything to the real
engine; nothing is faked.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

KEY_A = "key-a-0123456789"
KEY_B = "key-b-9876543210"
KEY_ADMIN = "key-admin-5555555555"
LIMITED_KEYS = tuple(f"key-limited-{i}-000000" for i in range(4))
"""Keys of the `limited` server, whose per-key limits are tight."""


PLUGINS = ("tests.reasoner.service.plugins:Crash", "tests.reasoner.service.plugins:FixedAnswer",
           "tests.slow_strategy:Slow")
"""The operator's plug-ins of the test servers (`reasoner serve --plugin`): strategies clients may name."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Call:
    prompt_ids: list[int]
    completion_tokens: int
    cached_tokens: int
    params: object
    finish_reasons: list[str]
    texts: list[str]


@dataclass
class EngineSpy:
    """Records what the real engine did for each request the server sent it."""

    calls: list[Call] = field(default_factory=list)
    aborted: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.calls.clear()
        self.aborted.clear()

    def wrap(self, generate):
        spy = self

        async def spied(prompt, params, request_id, **kwargs):
            final = None
            try:
                async for output in generate(prompt, params, request_id=request_id, **kwargs):
                    final = output
                    yield output
            except (asyncio.CancelledError, GeneratorExit):
                spy.aborted.append(request_id)
                raise
            spy.calls.append(Call(prompt_ids=list(final.prompt_token_ids),
                                  completion_tokens=sum(len(o.token_ids) for o in final.outputs),
                                  cached_tokens=final.num_cached_tokens or 0, params=params,
                                  finish_reasons=[o.finish_reason for o in final.outputs],
                                  texts=[o.text for o in final.outputs]))

        return spied


@dataclass
class Service:
    url: str
    model: str
    engine: object
    spy: EngineSpy
    keys_file: Path | None
    db: Path | None = None
    app: object | None = None

    def client(self, key: str = KEY_A, **kwargs):
        from openai import OpenAI

        return OpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)

    def async_client(self, key: str = KEY_A, **kwargs):
        from openai import AsyncOpenAI

        return AsyncOpenAI(base_url=f"{self.url}/v1", api_key=key, max_retries=0, **kwargs)

    def http(self, key: str | None = KEY_A, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=120, **kwargs)

    def metrics(self) -> dict[str, float]:
        """`/metrics` as {series with labels: value} (read with the admin key)."""
        with self.http(key=KEY_ADMIN) as http:
            text = http.get("/metrics").text
        return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                if line and not line.startswith("#")}


@pytest.fixture(scope="session")
def service(engine, verifiers, tiny_checkpoint, tmp_path_factory):
    from reasoner.service.app import create_app
    from reasoner.service.config import Limits, ServiceConfig
    from reasoner.service.server import build_state

    folder = tmp_path_factory.mktemp("service")
    keys = folder / "keys.txt"
    keys.write_text(f"# test keys\n{KEY_A}\nsha256:{__import__('hashlib').sha256(KEY_B.encode()).hexdigest()}\n"
                    f"admin {KEY_ADMIN}\n")
    port = free_port()
    name = str(tiny_checkpoint)
    config = ServiceConfig(models=(name,), port=port, keys_file=keys, db=folder / "service.db",
                           limits=Limits(max_n=4, max_samples=16, max_tokens=480, max_body_bytes=64 << 10,
                                         max_jobs_per_key=1), plugins=PLUGINS)
    state = build_state(config, generators={name: engine}, verifiers=verifiers)
    spy = EngineSpy()
    llm = engine.engine()
    original = llm.generate
    llm.generate = spy.wrap(original)
    with serving(create_app(state), port):
        yield Service(url=f"http://127.0.0.1:{port}", model=name, engine=engine, spy=spy, keys_file=keys,
                      db=config.db)
    del llm.generate  # back to the class's method
    state.db.close()


def write_keys(path: Path, keys: tuple[str, ...], admins: tuple[str, ...] = ()) -> Path:
    path.write_text("".join(f"{key}\n" for key in keys) + "".join(f"admin {key}\n" for key in admins))
    return path


@pytest.fixture
def make_server(service, engine, verifiers, tiny_checkpoint, tmp_path):
    """Another server over the session's one engine, with its own settings, database and keys (a context
    manager; `keys=(...)` writes a keys file, none means key-less)."""
    from reasoner.service.app import create_app
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import build_state

    @contextmanager
    def start(keys: tuple[str, ...] = (), admins: tuple[str, ...] = (), name: str = "server", **settings):
        folder = tmp_path / name
        folder.mkdir(exist_ok=True)  # a test may have put a database there first
        keys_file = write_keys(folder / "keys.txt", keys, admins) if keys or admins else None
        port = free_port()
        model = str(tiny_checkpoint)
        config = ServiceConfig(models=(model,), port=port, keys_file=keys_file, db=folder / "service.db",
                               **settings)
        state = build_state(config, generators={model: engine}, verifiers=verifiers)
        app = create_app(state)
        try:
            with serving(app, port):
                yield Service(url=f"http://127.0.0.1:{port}", model=model, engine=engine, spy=service.spy,
                              keys_file=keys_file, db=config.db, app=app)
        finally:
            state.db.close()

    return start


@contextmanager
def serving(app, port: int, start_timeout_s: float = 60.0):
    """`app` under uvicorn on 127.0.0.1:`port` in a thread, from its started lifespan until the block ends."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(timeout=60)
