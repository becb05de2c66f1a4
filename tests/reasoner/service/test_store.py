"""The SQLite record store and the key file, without a server."""

from __future__ import annotations

import hashlib

import pytest

from reasoner.errors import ConfigError, RequestError, ResumeMismatchError
from reasoner.service.keys import KeyRing
from reasoner.service.store import JobRecords, ServiceDB


@pytest.fixture
def db(tmp_path):
    store = ServiceDB(tmp_path / "jobs.db")
    store.create_job("job-1", "owner-a", "{}", "hash-1", "[]", 3)
    yield store
    store.close()


def record(problem_id: str, config_hash: str = "hash-1") -> dict:
    return {"problem_id": problem_id, "config_hash": config_hash}


def test_a_problem_is_stored_once_across_reopened_stores(db, tmp_path):
    first = JobRecords(db, "job-1", "hash-1")
    first.write(record("a"))
    first.write(record("a"))
    reopened = JobRecords(ServiceDB(tmp_path / "jobs.db"), "job-1", "hash-1")
    assert reopened.done() == {"a"}
    reopened.write(record("a"))
    reopened.write(record("b"))
    assert [r["problem_id"] for r in JobRecords(db, "job-1", "hash-1").records()] == ["a", "b"]
    assert db.add_record("job-1", "b", "{}") is False  # the key itself refuses a second copy


def test_records_of_another_configuration_are_refused(db):
    JobRecords(db, "job-1", "hash-1").write(record("a"))
    with pytest.raises(ResumeMismatchError, match="hash-1"):
        JobRecords(db, "job-1", "hash-2")


def test_a_job_is_invisible_to_other_owners(db):
    assert db.job("job-1", "owner-a").total == 3
    assert db.job("job-1", "owner-b") is None


def test_keys_file_takes_raw_keys_and_digests(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# comment\nsecret-one\n\nsha256:{hashlib.sha256(b'secret-two').hexdigest()}  # two\n")
    ring = KeyRing.from_file(path)
    assert ring.owner("Bearer secret-one") != ring.owner("Bearer secret-two")
    with pytest.raises(RequestError) as caught:
        ring.owner("Bearer secret-three")
    assert caught.value.status == 401 and caught.value.param == "authorization"


def test_keys_file_marks_admin_keys(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"user plain-key\nadmin boss-key\nadmin sha256:{hashlib.sha256(b'boss-two').hexdigest()}\n")
    ring = KeyRing.from_file(path)
    assert [ring.caller(f"Bearer {key}").admin for key in ("plain-key", "boss-key", "boss-two")] == [False, True, True]
    assert KeyRing().caller(None).admin  # key-less (loopback only): the one local user


@pytest.mark.parametrize("text,message", [("", "holds no keys"), ("sha256:abc\n", "keys.txt:1"),
                                          ("admin two words\n", "keys.txt:1"), ("root key\n", "keys.txt:1")])
def test_bad_keys_file_is_a_config_error(tmp_path, text, message):
    path = tmp_path / "keys.txt"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        KeyRing.from_file(path)


def test_binding_beyond_loopback_needs_keys(tmp_path):
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import build_state

    with pytest.raises(ConfigError, match="--keys"):
        build_state(ServiceConfig(host="0.0.0.0", db=tmp_path / "x.db"), generators={}, verifiers=object())


def test_serve_refuses_a_port_in_use_before_starting_engines(tmp_path):
    import socket

    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import serve

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=f"127.0.0.1:{port}"):
            serve(ServiceConfig(port=port, db=tmp_path / "x.db"))
