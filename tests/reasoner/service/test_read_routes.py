"""The console's read endpoints and pages over HTTP: same key rules as the jobs API, every query value
bounded or whitelisted, static files from a fixed table, a strict CSP, and `detail` in chat."""

from __future__ import annotations

import pytest

from tests.reasoner.service.conftest import KEY_A, KEY_ADMIN, KEY_B
from tests.reasoner.service.test_jobs import wait_for


@pytest.fixture(scope="module")
def solved(service):
    """A finished solve job of KEY_A's: 3 arith problems by self-consistency."""
    with service.http() as http:
        created = http.post("/v1/jobs", json={"dataset": "arith", "limit": 3, "strategy": "self_consistency",
                                              "options": {"n": 2, "max_tokens": 16}})
        assert created.status_code == 201, created.text
        job = wait_for(http, created.json()["id"], {"succeeded", "failed"})
    assert job["status"] == "succeeded", job
    return job


def paths(job_id: str, problem_id: str = "x") -> list[str]:
    return [f"/v1/jobs/{job_id}/problems", f"/v1/jobs/{job_id}/problems/{problem_id}", f"/v1/jobs/{job_id}/stats",
            f"/v1/jobs/{job_id}/compare/{job_id}"]


def test_problems_are_paged_filtered_and_sorted_in_the_database(service, solved):
    with service.http() as http:
        every = http.get(f"/v1/jobs/{solved['id']}/problems").json()
        right = http.get(f"/v1/jobs/{solved['id']}/problems?verdict=right").json()
        wrong = http.get(f"/v1/jobs/{solved['id']}/problems?verdict=wrong").json()
        page = http.get(f"/v1/jobs/{solved['id']}/problems?offset=1&limit=1").json()
        costly = http.get(f"/v1/jobs/{solved['id']}/problems?order=tokens").json()
        records = [__import__("json").loads(line) for line in http.get(f"/v1/jobs/{solved['id']}/results").text.splitlines()]
    assert every["total"] == 3 and [r["problem_id"] for r in every["data"]] == [r["problem_id"] for r in records]
    assert right["total"] == sum(r["correct"] for r in records)
    assert wrong["total"] == sum(not r["correct"] and r["score"] is not None for r in records)
    assert page["total"] == 3 and page["data"] == every["data"][1:2]
    tokens = [r["generated_tokens"] for r in costly["data"]]
    assert tokens == sorted(tokens, reverse=True) and all(r["candidates"] == 2 for r in every["data"])


def test_a_problem_has_its_prompt_and_graded_candidates(service, solved):
    with service.http() as http:
        row = http.get(f"/v1/jobs/{solved['id']}/problems?limit=1").json()["data"][0]
        view = http.get(f"/v1/jobs/{solved['id']}/problems/{row['problem_id']}").json()
    assert view["prompt"] and view["problem_id"] == row["problem_id"] and len(view["candidates"]) == 2
    assert all(c["verdict"] in ("correct", "incorrect", "unparseable") for c in view["candidates"])
    assert view["tree"] is None and any(event["kind"] == "vote" for event in view["trace"])


def test_stats_match_the_jobs_summary(service, solved):
    with service.http() as http:
        stats = http.get(f"/v1/jobs/{solved['id']}/stats").json()
    summary = solved["summary"]
    assert stats["overall"]["problems"] == summary["problems"] and stats["overall"]["correct"] == summary["correct"]
    assert stats["overall"]["generated_tokens"] == summary["generated_tokens"]
    low, high = stats["overall"]["ci_low"], stats["overall"]["ci_high"]
    assert 0 <= low <= stats["overall"]["accuracy"] <= high <= 1 and high - low > 0.2  # 3 problems: a wide interval


def test_another_keys_job_looks_missing_on_every_read_endpoint(service, solved):
    with service.http(key=KEY_B) as other:
        for path in paths(solved["id"]):
            response = other.get(path)
            assert response.status_code == 404 and response.json()["error"]["param"] == "job_id", path
        with service.http() as owner:  # comparing with another key's job is refused the same way
            own = owner.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "options": {"max_tokens": 4}}).json()
            wait_for(owner, own["id"], {"succeeded", "failed"})
            response = other.get(f"/v1/jobs/{own['id']}/compare/{solved['id']}")
    assert response.status_code == 404
    with service.http(key=None) as anonymous:
        for path in [*paths(solved["id"]), "/v1/strategies"]:
            assert anonymous.get(path).status_code == 401, path
    with service.http(key=KEY_ADMIN) as admin:
        assert admin.get(f"/v1/jobs/{solved['id']}/stats").status_code == 200


@pytest.mark.parametrize("query, param", [
    ("limit=100000", "limit"), ("limit=0", "limit"), ("offset=-1", "offset"), ("offset=99999999999", "offset"),
    ("verdict=1%20OR%201", "verdict"), ("order=seq;DROP%20TABLE%20records", "order"), ("level=-1", "level"),
    ("level=10000000000000000000000", "level"), ("limit=abc", "limit")])
def test_hostile_query_values_are_refused_naming_the_field(service, solved, query, param):
    with service.http() as http:
        response = http.get(f"/v1/jobs/{solved['id']}/problems?{query}")
    assert response.status_code == 422 and response.json()["error"]["param"] == param, response.text


def test_hostile_problem_ids_are_missing_problems(service, solved):
    with service.http() as http:
        for problem_id in ("../../etc/passwd", "x" * 5000, "' OR 1=1 --", "%00"):
            response = http.get(f"/v1/jobs/{solved['id']}/problems/{problem_id}")
            assert response.status_code == 404, problem_id
        assert http.get(f"/v1/jobs/{solved['id']}/compare/{solved['id']}?only=both").status_code == 422


def test_a_sweep_job_has_no_problem_rows(service):
    with service.http() as http:
        created = http.post("/v1/jobs", json={"dataset": "arith", "limit": 1, "sweep": {
            "strategies": ["self_consistency"], "budgets": [1], "max_tokens": 4}})
        assert created.status_code == 201, created.text
        job = wait_for(http, created.json()["id"], {"succeeded", "failed"})
        response = http.get(f"/v1/jobs/{job['id']}/problems")
    assert response.status_code == 400 and response.json()["error"]["code"] == "wrong_kind"


def test_strategies_lists_registered_names_and_simple_options(service):
    with service.http() as http:
        table = http.get("/v1/strategies").json()
    assert table["strategies"]["self_consistency"]["n"] == {"type": "int", "default": 8}
    assert "slow" in table["strategies"] and "tiny-prm" in table["prms"]


def test_pages_come_from_a_fixed_table_with_a_strict_csp(service):
    with service.http(key=None) as http:
        page = http.get("/ui")
        script = http.get("/ui/static/app.js")
        for path in ("/ui/static/..%2f__init__.py", "/ui/static/../__init__.py", "/ui/static/nope.js",
                     "/ui/static/index.html"):
            assert http.get(path).status_code == 404, path
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert script.headers["x-content-type-options"] == "nosniff" and ".innerHTML" not in script.text
    assert "<script>" not in page.text.replace('<script src="/ui/static/app.js" defer></script>', "")


def test_chat_detail_brings_candidates_and_is_checked(service):
    body = {"model": service.model, "messages": [{"role": "user", "content": "What is 2 + 2?"}], "max_tokens": 12,
            "reasoner": {"strategy": "self_consistency", "n": 3, "detail": True}}
    with service.http() as http:
        answer = http.post("/v1/chat/completions", json=body)
        refused = http.post("/v1/chat/completions", json={**body, "reasoner": {**body["reasoner"], "detail": "yes please"}})
    assert answer.status_code == 200, answer.text
    detail = answer.json()["choices"][0]["reasoner"]["detail"]
    assert len(detail["candidates"]) == 3 and {"text", "extracted", "num_tokens"} <= set(detail["candidates"][0])
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "reasoner.detail"


def test_ui_access_says_only_whether_keys_are_on_the_same_to_everyone(service, make_server):
    """`/ui/access` needs no key and reads nothing from the request: every caller, whatever it sends, gets the
    same one-field answer, which names no key, owner or job."""
    answers = []
    with service.http(key=None) as http:
        for headers in ({}, {"Authorization": f"Bearer {KEY_A}"}, {"Authorization": f"Bearer {KEY_ADMIN}"},
                        {"Authorization": "Bearer not-a-key"}, {"Authorization": "Bearer " + "x" * 4000},
                        {"Authorization": "Basic Zm9vOmJhcg=="}):
            answers.append(http.get("/ui/access", headers=headers))
        query = http.get("/ui/access?keys=false&path=../../keys.txt&owner=" + "y" * 2000)
        posted = http.post("/ui/access", json={"keys": False})
        for path in ("/ui/access.json", "/ui/access/keys", "/ui/accessx"):
            assert http.get(path).status_code == 404, path
    for response in (*answers, query):
        assert response.status_code == 200 and response.content == answers[0].content
        assert response.json() == {"keys": True}
        assert "nosniff" == response.headers["x-content-type-options"] and "default-src 'none'" in \
            response.headers["content-security-policy"]
        assert all(secret not in response.text for secret in (KEY_A, KEY_B, KEY_ADMIN))
    assert posted.status_code == 405
    with make_server(name="keyless-access") as keyless, keyless.http(key=None) as http:
        assert http.get("/ui/access").json() == {"keys": False}
