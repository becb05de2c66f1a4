"""The jobs API: uploads validated before the job starts, results per key, cancel, and the per-key cap."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.reasoner.service.conftest import KEY_B

FIXTURES = Path(__file__).parent.parent.parent / "fixtures"


def wait_for(http, job_id: str, statuses: set[str], timeout_s: float = 240.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = http.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job stayed {job['status']}: {job}")
        time.sleep(0.2)


def test_uploaded_job_runs_and_streams_each_record_once(service):
    upload = (FIXTURES / "problems.jsonl").read_text()
    with service.http() as http:
        created = http.post("/v1/jobs", json={"data": upload, "strategy": "self_consistency",
                                              "options": {"n": 2, "max_tokens": 8}})
        assert created.status_code == 201, created.text
        job = wait_for(http, created.json()["id"], {"succeeded", "failed"})
        assert job["status"] == "succeeded", job
        assert job["progress"] == {"done": 2, "total": 2} and job["summary"]["problems"] == 2
        lines = http.get(f"/v1/jobs/{job['id']}/results").text.splitlines()
    records = [json.loads(line) for line in lines]
    assert sorted(r["problem_id"] for r in records) == ["p1", "p2"]
    assert all(len(r["candidates"]) == 2 for r in records)


def test_another_keys_job_is_not_found(service):
    with service.http() as http:
        job = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "options": {"max_tokens": 4}}).json()
        wait_for(http, job["id"], {"succeeded", "failed"})
    with service.http(key=KEY_B) as other:
        for method, path in [("GET", f"/v1/jobs/{job['id']}"), ("GET", f"/v1/jobs/{job['id']}/results"),
                             ("DELETE", f"/v1/jobs/{job['id']}")]:
            response = other.request(method, path)
            assert response.status_code == 404, (method, path)


def test_bad_upload_is_refused_with_line_and_field_before_the_job_starts(service):
    upload = (FIXTURES / "bad_field.jsonl").read_text()
    with service.http() as http:
        response = http.post("/v1/jobs", json={"data": upload})
        error = response.json()["error"]
    assert response.status_code == 400 and error["param"] == "data"
    assert error["message"].startswith("data: line 2: ") and "field" in error["message"]


def test_bad_job_fields_are_named(service):
    cases = [({"dataset": "/etc/passwd"}, "dataset"), ({"dataset": "arith", "strategy": "x"}, "strategy"),
             ({"dataset": "arith", "options": {"beams": 2}}, "options.beams"),
             ({"dataset": "arith", "options": {"n": 99}, "strategy": "best_of_n"}, "options.n"),
             ({}, "body"), ({"dataset": "arith", "limit": 0}, "limit"),
             ({"dataset": "arith", "strategy": "beam_search", "options": {"prm": "/tmp"}}, "options.prm")]
    with service.http() as http:
        for body, param in cases:
            response = http.post("/v1/jobs", json=body)
            assert response.status_code == 400, (body, response.text)
            assert response.json()["error"]["param"] == param, body


def test_cancel_and_the_per_key_job_cap(service):
    with service.http(key=KEY_B) as http:
        body = {"dataset": "arith", "limit": 200, "strategy": "self_consistency",
                "options": {"n": 4, "max_tokens": 200}}
        job = http.post("/v1/jobs", json=body).json()
        second = http.post("/v1/jobs", json=body)
        assert second.status_code == 429 and second.json()["error"]["param"] == "max_jobs_per_key"
        cancelled = http.delete(f"/v1/jobs/{job['id']}").json()
        assert cancelled["status"] == "cancelled"
        assert cancelled["progress"]["done"] < 200
        again = http.post("/v1/jobs", json=body)
        assert again.status_code == 201
        http.delete(f"/v1/jobs/{again.json()['id']}")


def test_sweep_job_serves_its_curve(service):
    body = {"dataset": "arith", "limit": 3,
            "sweep": {"strategies": ["cot", "self_consistency"], "budgets": [1, 2], "max_tokens": 8}}
    with service.http() as http:
        created = http.post("/v1/jobs", json=body)
        assert created.status_code == 201, created.text
        job = wait_for(http, created.json()["id"], {"succeeded", "failed"})
        assert job["status"] == "succeeded", job
        assert job["kind"] == "sweep" and job["progress"]["done"] == job["progress"]["total"] > 0
        curve = http.get(f"/v1/jobs/{job['id']}/artifacts/curve.png")
        records = http.get(f"/v1/jobs/{job['id']}/results").text.splitlines()
        missing = http.get(f"/v1/jobs/{job['id']}/artifacts/dataset.jsonl")
    assert curve.status_code == 200 and curve.content.startswith(b"\x89PNG")
    assert len(records) == job["progress"]["total"]
    assert missing.status_code == 404


def test_bad_sweep_options_are_named(service):
    cases = [({"strategies": ["telepathy"]}, "sweep.strategies"), ({"budgets": [1, 99]}, "sweep.budgets"),
             ({"scorer": "os:system"}, "sweep.scorer"), ({"models": ["gpt-9"]}, "sweep.models"),
             ({"limit": 3}, "sweep.limit"), ({"scorer_options": {"prm": "/tmp"}}, "sweep.scorer_options.prm")]
    with service.http() as http:
        for sweep, param in cases:
            response = http.post("/v1/jobs", json={"dataset": "arith", "sweep": sweep})
            assert response.status_code == 400, (sweep, response.text)
            assert response.json()["error"]["param"] == param, sweep
