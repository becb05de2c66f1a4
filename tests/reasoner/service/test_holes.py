"""The service attacked as a hostile client would: one probe per hole of issue #26, against the real server.

Each probe was written before the fix and failed on the code of its day
(docs/design/security-probes.md lists them with their results before and after).
A probe that found no hole is kept as a guard. Every probe talks real HTTP to
a real uvicorn server on 127.0.0.1 over the session's one vLLM engine; the
extra servers (`make_server`) share that engine.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import httpx
import openai
import pytest

from tests.reasoner.service.conftest import KEY_A, KEY_ADMIN, KEY_B, LIMITED_KEYS
from tests.reasoner.service.plugins import SECRET_PATH

QUESTION = [{"role": "user", "content": "What is 2 + 2?"}]


def chat(service, **reasoner) -> dict:
    """A chat body; search and router strategies take no top-level `max_tokens`, so they get none."""
    body = {"model": service.model, "messages": QUESTION}
    if reasoner.get("strategy") not in ("router", "beam_search"):
        body["max_tokens"] = 4
    return {**body, "reasoner": reasoner} if reasoner else body


def post_chat(service, body, key: str | None = KEY_A) -> httpx.Response:
    with service.http(key=key) as http:
        return http.post("/v1/chat/completions", json=body)


def assert_error(response: httpx.Response, status: int, param: str | None = None) -> dict:
    """An OpenAI-shaped error of `status` naming `param`: 4xx is the client's fault, 5xx the server's."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert error["type"] == ("server_error" if status >= 500 else "invalid_request_error"), error
    assert "Traceback" not in error["message"] and 'File "' not in error["message"], error
    if param is not None:
        assert error["param"] == param, error
    return error


def same_refusal(first: dict, second: dict, first_name: str, second_name: str) -> None:
    """Two refusals that differ only in the name the client sent: nothing tells which names exist."""
    assert first["param"] == second["param"] and first["code"] == second["code"]
    assert first["message"].replace(first_name, "NAME") == second["message"].replace(second_name, "NAME")


@pytest.fixture
def marker(tmp_path) -> Path:
    """A file a shell command would create if a client made the server run one."""
    return tmp_path / "pwned"


@pytest.fixture(scope="session")
def crash_plugin(service):
    """The operator's plug-in strategies (`probe_crash`, `slow`, `fixed_answer`): the session's server
    registers them at start-up (`ServiceConfig.plugins`, as `reasoner serve --plugin` does)."""
    from reasoner.strategies import STRATEGIES

    assert {"probe_crash", "slow", "fixed_answer"} <= set(STRATEGIES.names())


def wait_job(http: httpx.Client, job_id: str, timeout_s: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job stayed {job['status']}: {job}")
        time.sleep(0.2)


# --- code execution through importable names ---------------------------------------------------------------

def test_p01_best_of_n_scorer_path_runs_nothing(service, marker):
    body = chat(service, strategy="best_of_n", n=1, scorer="os:system",
                scorer_options={"command": f"touch {marker}"})
    assert_error(post_chat(service, body), 400, "reasoner.scorer")
    assert not marker.exists()


def test_p02_weight_scorer_path_runs_nothing(service, marker):
    body = chat(service, strategy="self_consistency", n=1, weight_scorer="os:system",
                scorer_options={"command": f"touch {marker}"})
    assert_error(post_chat(service, body), 400, "reasoner.weight_scorer")
    assert not marker.exists()


def test_p03_sweep_strategy_path_runs_nothing(service, marker):
    sweep = {"strategies": ["os:system"], "budgets": [1], "max_tokens": 4,
             "strategy_options": {"os:system": {"command": f"touch {marker}"}}}
    with service.http() as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "sweep": sweep})
        if response.status_code == 201:
            wait_job(http, response.json()["id"])
    assert not marker.exists()
    assert_error(response, 400, "sweep.strategies")


def test_p04_sweep_strategy_options_reach_no_import(service, marker):
    sweep = {"strategies": ["best_of_n"], "budgets": [1], "max_tokens": 4,
             "strategy_options": {"best_of_n": {"scorer": "os:system",
                                                "scorer_options": {"command": f"touch {marker}"}}}}
    with service.http() as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "sweep": sweep})
        if response.status_code == 201:
            wait_job(http, response.json()["id"])
    assert not marker.exists()
    assert_error(response, 400, "sweep.strategy_options.best_of_n.scorer")


def test_p05_job_options_scorer_path_runs_nothing(service, marker):
    body = {"dataset": "arith", "limit": 1, "strategy": "best_of_n",
            "options": {"n": 1, "max_tokens": 4, "scorer": "os:system",
                        "scorer_options": {"command": f"touch {marker}"}}}
    with service.http() as http:
        response = http.post("/v1/jobs", json=body)
        if response.status_code == 201:
            wait_job(http, response.json()["id"])
    assert not marker.exists()
    assert_error(response, 400, "options.scorer")


def test_p06_an_importable_name_is_refused_like_any_unknown_name(service):
    importable = assert_error(post_chat(service, chat(service, strategy="best_of_n", n=1, scorer="json:loads")),
                              400, "reasoner.scorer")
    missing = assert_error(post_chat(service, chat(service, strategy="best_of_n", n=1, scorer="nosuchmod:x")),
                           400, "reasoner.scorer")
    same_refusal(importable, missing, "json:loads", "nosuchmod:x")


# --- reading server files ------------------------------------------------------------------------------------

def test_p07_router_option_is_a_registered_name_not_a_path(service, tmp_path):
    existing = assert_error(post_chat(service, chat(service, strategy="router", router="/etc/passwd")),
                            400, "reasoner.router")
    missing = assert_error(post_chat(service, chat(service, strategy="router", router=str(tmp_path / "no.json"))),
                           400, "reasoner.router")
    same_refusal(existing, missing, "/etc/passwd", str(tmp_path / "no.json"))
    assert "root:" not in existing["message"]


def test_p08_prm_folder_gives_no_existence_oracle(service, tmp_path):
    existing = assert_error(post_chat(service, chat(service, strategy="beam_search", prm="/etc")), 400,
                            "reasoner.prm")
    missing = assert_error(post_chat(service, chat(service, strategy="beam_search", prm=str(tmp_path / "nope"))),
                           400, "reasoner.prm")
    same_refusal(existing, missing, "/etc", str(tmp_path / "nope"))


def test_p09_value_source_path_is_refused(service):
    assert_error(post_chat(service, chat(service, strategy="beam_search", value="os:system")), 400,
                 "reasoner.value")


def test_p10_model_path_is_refused_like_an_unknown_model(service):
    existing = assert_error(post_chat(service, {**chat(service), "model": "/etc"}), 404, "model")
    missing = assert_error(post_chat(service, {**chat(service), "model": "/no/such/model"}), 404, "model")
    same_refusal(existing, missing, "/etc", "/no/such/model")


# --- cross-site requests against a key-less server ----------------------------------------------------------

def test_p11_keyless_server_refuses_a_non_json_body(make_server):
    with make_server() as server, server.http(key=None) as http:
        response = http.post("/v1/chat/completions", content=json.dumps(chat(server)),
                             headers={"content-type": "text/plain"})
    assert_error(response, 415)


def test_p12_keyless_server_refuses_a_foreign_host(make_server):
    with make_server() as server, server.http(key=None) as http:
        foreign = http.get("/v1/models", headers={"host": "attacker.example"})
        local = http.get("/v1/models", headers={"host": f"localhost:{server.url.rsplit(':', 1)[1]}"})
    assert_error(foreign, 400, "host")
    assert local.status_code == 200


def test_p13_keyless_server_refuses_a_cross_site_origin(make_server):
    with make_server() as server, server.http(key=None) as http:
        response = http.post("/v1/chat/completions", json=chat(server), headers={"origin": "https://evil.example"})
    assert_error(response, 403, "origin")


def test_p14_binding_beyond_loopback_still_needs_keys(tmp_path):
    from reasoner.errors import ConfigError
    from reasoner.service.config import ServiceConfig
    from reasoner.service.server import build_state

    with pytest.raises(ConfigError, match="--keys"):
        build_state(ServiceConfig(host="0.0.0.0", db=tmp_path / "x.db"), generators={"tiny": None}, verifiers=None)


# --- caps that could be bypassed ----------------------------------------------------------------------------

def test_p15_strategy_max_tokens_is_capped(service):
    assert_error(post_chat(service, chat(service, strategy="cot", max_tokens=10**9)), 400, "reasoner.max_tokens")


@pytest.mark.parametrize("option", ["step_tokens", "max_steps"])
def test_p16_search_sizes_are_capped(service, option):
    body = chat(service, strategy="beam_search", value="logprob", n=2, width=2, budget={"generated_tokens": 16},
                **{option: 10**6})
    assert_error(post_chat(service, body), 400, f"reasoner.{option}")


def test_p17_job_budget_is_capped(service):
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "options": {"max_tokens": 4},
                                               "budget": {"samples": 10**9}})
        if response.status_code == 201:
            http.delete(f"/v1/jobs/{response.json()['id']}")
    assert_error(response, 400, "budget.samples")


@pytest.mark.parametrize("option", ["concurrency", "draws", "resamples"])
def test_p18_sweep_sizes_are_capped(service, option):
    sweep = {"strategies": ["cot"], "budgets": [1], "max_tokens": 4, option: 10**6}
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "sweep": sweep})
        if response.status_code == 201:
            http.delete(f"/v1/jobs/{response.json()['id']}")
    assert_error(response, 400, f"sweep.{option}")


def test_p19_sweep_strategy_options_cannot_lift_max_tokens(service):
    sweep = {"strategies": ["cot"], "budgets": [1], "max_tokens": 4, "strategy_options": {"cot": {"max_tokens": 10**9}}}
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "sweep": sweep})
        if response.status_code == 201:
            http.delete(f"/v1/jobs/{response.json()['id']}")
    assert_error(response, 400, "sweep.strategy_options.cot.max_tokens")


def test_p20_per_key_concurrency_is_limited(make_server, crash_plugin):
    import concurrent.futures

    with make_server(keys=LIMITED_KEYS, limits={"max_concurrent_requests": 1}) as server:
        slow = chat(server, strategy="slow", delay_s=2.0, max_tokens=2)
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(post_chat, server, slow, LIMITED_KEYS[0])
            time.sleep(0.5)
            second = post_chat(server, chat(server), LIMITED_KEYS[0])
            other_key = post_chat(server, chat(server), LIMITED_KEYS[1])
            assert first.result().status_code == 200
    assert_error(second, 429, "max_concurrent_requests")
    assert int(second.headers["retry-after"]) >= 1
    assert other_key.status_code == 200


def test_p21_requests_per_minute_are_limited(make_server):
    with make_server(keys=LIMITED_KEYS, limits={"requests_per_minute": 2}) as server:
        answers = [post_chat(server, chat(server), LIMITED_KEYS[0]) for _ in range(3)]
        other_key = post_chat(server, chat(server), LIMITED_KEYS[1])
    assert [a.status_code for a in answers[:2]] == [200, 200]
    assert_error(answers[2], 429, "requests_per_minute")
    assert 1 <= int(answers[2].headers["retry-after"]) <= 60
    assert other_key.status_code == 200


def test_p22_tokens_per_minute_are_limited(make_server):
    with make_server(keys=LIMITED_KEYS, limits={"tokens_per_minute": 20}) as server:
        first = post_chat(server, {**chat(server), "max_tokens": 16}, LIMITED_KEYS[0])
        second = post_chat(server, chat(server), LIMITED_KEYS[0])
    assert first.status_code == 200 and first.json()["usage"]["total_tokens"] > 20
    assert_error(second, 429, "tokens_per_minute")
    assert int(second.headers["retry-after"]) >= 1


def test_p23_queued_jobs_are_bounded_overall(make_server):
    body = {"dataset": "arith", "limit": 50, "strategy": "self_consistency", "options": {"n": 4, "max_tokens": 64}}
    with make_server(keys=LIMITED_KEYS, limits={"max_queued_jobs": 2, "max_jobs_per_key": 2}) as server:
        made = []
        for key in LIMITED_KEYS[:3]:
            with server.http(key=key) as http:
                made.append((key, http.post("/v1/jobs", json=body)))
        for key, response in made:
            if response.status_code == 201:
                with server.http(key=key) as http:
                    http.delete(f"/v1/jobs/{response.json()['id']}")
    assert [r.status_code for _, r in made[:2]] == [201, 201]
    assert_error(made[2][1], 429, "max_queued_jobs")


def test_p24_a_request_over_the_time_limit_is_cut_off(make_server, crash_plugin):
    with make_server(keys=LIMITED_KEYS, limits={"request_timeout_s": 1}) as server:
        started = time.monotonic()
        response = post_chat(server, chat(server, strategy="slow", delay_s=20.0, max_tokens=2), LIMITED_KEYS[0])
        took = time.monotonic() - started
    assert_error(response, 504, "request_timeout_s")
    assert took < 15


def test_p25_uvicorn_caps_open_connections():
    from reasoner.service.config import Limits, ServiceConfig
    from reasoner.service.server import uvicorn_config

    config = ServiceConfig(limits=Limits(max_connections=7))
    assert uvicorn_config(object(), config).limit_concurrency == 7


# --- jobs that never end, files left behind ------------------------------------------------------------------

def test_p26_sweep_models_as_a_string_is_checked(service):
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1,
                                               "sweep": {"strategies": ["cot"], "budgets": [1], "models": "gpt-9"}})
        if response.status_code == 201:
            job = wait_job(http, response.json()["id"], timeout_s=30)
            assert job["status"] == "failed", job
    assert_error(response, 400, "sweep.models")


def test_p27_a_job_the_restart_cannot_resume_fails_with_the_reason(make_server, tmp_path):
    from reasoner.service.store import ServiceDB

    folder = tmp_path / "server"
    folder.mkdir()
    db = ServiceDB(folder / "service.db")
    config = {"dataset": "arith", "strategy": "cot", "strategy_options": {}, "model": "a-model-no-longer-served",
              "backend": "vllm", "seed": 0, "budget": {}}
    db.create_job("job-orphan", "anonymous", json.dumps(config), "hash", "[]", 0)
    db.set_status("job-orphan", "running")
    db.close()
    with make_server() as server, server.http(key=None) as http:
        job = wait_job(http, "job-orphan", timeout_s=30)
    assert job["status"] == "failed"
    assert "a-model-no-longer-served" in job["error"] and "not served" in job["error"]


def test_p28_a_refused_upload_leaves_no_file(service):
    artifacts = service.db.parent / f"{service.db.stem}-artifacts"
    before = set(artifacts.iterdir()) if artifacts.is_dir() else set()
    upload = Path(__file__).parents[2].joinpath("fixtures", "problems.jsonl").read_text()
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"data": upload, "sweep": {"strategies": ["cot"], "budgets": [99]}})
    assert_error(response, 400, "sweep.budgets")
    after = set(artifacts.iterdir()) if artifacts.is_dir() else set()
    assert after == before


def test_p28b_a_sweep_upload_shows_no_server_path(service):
    upload = Path(__file__).parents[2].joinpath("fixtures", "problems.jsonl").read_text()
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"data": upload.splitlines()[0] + "\n",
                                               "sweep": {"strategies": ["cot"], "budgets": [1], "max_tokens": 4}})
        assert response.status_code == 201, response.text
        job = wait_job(http, response.json()["id"])
        http.delete(f"/v1/jobs/{job['id']}")
    assert job["config"]["dataset"] == "upload"
    assert str(service.db.parent) not in json.dumps(job)


def test_p29_jobs_can_be_listed_and_deleted(service):
    with service.http(key=KEY_B) as http:
        job = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "options": {"max_tokens": 4}}).json()
        wait_job(http, job["id"])
        listed = http.get("/v1/jobs")
        deleted = http.delete(f"/v1/jobs/{job['id']}")
        gone = http.get(f"/v1/jobs/{job['id']}")
    with service.http(key=KEY_A) as other:
        theirs = other.get("/v1/jobs").json()
    assert listed.status_code == 200 and job["id"] in [j["id"] for j in listed.json()["data"]]
    assert deleted.status_code == 200 and deleted.json() == {"id": job["id"], "object": "job.deleted", "deleted": True}
    assert_error(gone, 404, "job_id")
    assert job["id"] not in [j["id"] for j in theirs["data"]]


def test_p30_finished_jobs_past_retention_are_removed(make_server, tmp_path):
    from reasoner.service.store import ServiceDB

    folder = tmp_path / "server"
    folder.mkdir()
    db = ServiceDB(folder / "service.db")
    db.create_job("job-old", "anonymous", "{}", "hash", "[]", 0)
    db.set_status("job-old", "succeeded", summary={})
    with db._lock:
        db._db.execute("UPDATE jobs SET updated = updated - 86400 * 30 WHERE id = 'job-old'")
    db.close()
    with make_server(limits={"job_retention_s": 86400}) as server, server.http(key=None) as http:
        response = http.get("/v1/jobs/job-old")
    assert_error(response, 404, "job_id")
    with sqlite3.connect(folder / "service.db") as connection:
        assert connection.execute("SELECT COUNT(*) FROM jobs").fetchone()[0] == 0


# --- errors ---------------------------------------------------------------------------------------------------

def test_p31_deeply_nested_json_is_a_400(service):
    body = json.dumps(chat(service))[:-1] + ', "user": ' + "[" * 5000 + "]" * 5000 + "}"
    with service.http() as http:
        response = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400, "body")


def test_p32_a_huge_integer_is_a_400(service):
    body = json.dumps(chat(service)).replace('"max_tokens": 4', '"max_tokens": ' + "9" * 5000)
    with service.http() as http:
        response = http.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert_error(response, 400)


@pytest.mark.parametrize("method,path,status", [("GET", "/v1/no-such-route", 404), ("PUT", "/v1/chat/completions", 405),
                                                ("GET", "/v1/chat/completions", 405)])
def test_p33_unknown_routes_and_methods_are_openai_shaped(service, method, path, status):
    with service.http() as http:
        assert_error(http.request(method, path), status)


def test_p34_a_server_fault_is_a_5xx_server_error_without_paths(service, crash_plugin):
    error = assert_error(post_chat(service, chat(service, strategy="probe_crash")), 500)
    assert SECRET_PATH not in error["message"]
    with pytest.raises(openai.InternalServerError):
        service.client().chat.completions.create(model=service.model, messages=QUESTION,
                                                 extra_body={"reasoner": {"strategy": "probe_crash"}})


def test_p35_job_records_carry_no_traceback_or_server_path(service, crash_plugin):
    import reasoner

    with service.http(key=KEY_B) as http:
        job = http.post("/v1/jobs", json={"dataset": "arith", "limit": 2, "strategy": "probe_crash"}).json()
        job = wait_job(http, job["id"])
        results = http.get(f"/v1/jobs/{job['id']}/results").text
        http.delete(f"/v1/jobs/{job['id']}")
    records = [json.loads(line) for line in results.splitlines()]
    assert len(records) == 2 and all(r["error"] for r in records)
    for text in (results, json.dumps(job)):
        assert "Traceback" not in text and SECRET_PATH not in text
        assert str(Path(reasoner.__file__).parent) not in text


# --- roles ----------------------------------------------------------------------------------------------------

def test_p36_health_says_only_ok(service):
    with service.http(key=None) as http:
        assert http.get("/health").json() == {"status": "ok"}


def test_p37_metrics_need_an_admin_key(service):
    with service.http(key=KEY_A) as http:
        refused = http.get("/metrics")
    with service.http(key=KEY_ADMIN) as http:
        allowed = http.get("/metrics")
    assert_error(refused, 403)
    assert allowed.status_code == 200 and "reasoner_requests_total" in allowed.text


def test_p38_cross_key_job_views_need_an_admin_key(service):
    with service.http(key=KEY_A) as http:
        refused = http.get("/v1/jobs", params={"all": "true"})
    with service.http(key=KEY_ADMIN) as http:
        allowed = http.get("/v1/jobs", params={"all": "true"})
    assert_error(refused, 403, "all")
    assert allowed.status_code == 200 and allowed.json()["object"] == "list"


# --- client test code ------------------------------------------------------------------------------------------

def test_p39_uploaded_test_code_cannot_read_server_files(service, crash_plugin):
    """An MBPP upload whose tests try to carry the keys file and the jobs database out in the verdict."""
    steal = ("assert False, open({path!r}, 'rb').read()[:200]")
    tests = [steal.format(path=str(service.keys_file)), steal.format(path=str(service.db)),
             steal.format(path="/etc/passwd")]
    upload = json.dumps({"task_id": 1, "text": "Write a function f() that returns 1.", "code": "def f():\n    return 1",
                         "test_list": tests, "test_setup_code": ""}) + "\n"
    with service.http(key=KEY_B) as http:
        response = http.post("/v1/jobs", json={"data": upload, "format": "mbpp", "strategy": "fixed_answer"})
        if response.status_code != 201:  # refused: no sandbox strong enough on this machine
            assert_error(response, 400, "data")
            return
        job = wait_job(http, response.json()["id"])
        results = http.get(f"/v1/jobs/{job['id']}/results").text
        http.delete(f"/v1/jobs/{job['id']}")
    assert json.loads(results)["status"] == "incorrect", results  # the tests ran (and failed)
    for leaked in (KEY_A, "SQLite format", "root:x:"):
        assert leaked not in results
