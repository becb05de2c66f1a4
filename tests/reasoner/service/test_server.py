"""`reasoner serve` takes its port before the engines start, and refuses a taken one at once."""

from __future__ import annotations

import socket

import pytest

from reasoner.errors import ConfigError
from reasoner.service.config import ServiceConfig
from reasoner.service.server import base_url, bind_port, serve


def test_port_zero_binds_a_free_port_and_holds_it():
    sock = bind_port("127.0.0.1", 0)
    try:
        port = sock.getsockname()[1]
        assert port > 0 and base_url(sock) == f"http://127.0.0.1:{port}/v1"
        with socket.socket() as other, pytest.raises(OSError):
            other.bind(("127.0.0.1", port))  # nothing else can take it while the engines start
    finally:
        sock.close()


def test_a_taken_port_is_refused_before_any_engine_starts(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = ServiceConfig(models=("no-such-model",), port=port, db=tmp_path / "service.db")
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            serve(config)
    assert not (tmp_path / "service.db").exists()  # refused before anything was opened


def test_workers_with_the_openai_backend_are_refused(tmp_path):
    from reasoner.service.server import build_state

    config = ServiceConfig(backend="openai", workers=1, db=tmp_path / "service.db")
    with pytest.raises(ConfigError, match="--workers: runs vLLM engines in Ray actors; it needs backend vllm, "
                                          "not 'openai'") as refused:
        build_state(config, verifiers=object())
    assert refused.value.field == "workers"
    assert not (tmp_path / "service.db").exists()  # refused before the jobs database was opened
