"""`kill -9` a real `reasoner serve` process with a solve job and a sweep job running, start it again: each job
resumes, each problem (each sweep run) recorded once. One server pair serves both jobs: a server start-up is
most of this test's time.

Each server is started with `--port 0`: it binds a free port before its engine starts, holds it, and
prints its URL, which the test reads from that server's own log. A port chosen by the test and bound by
the server a minute later (after engine start-up) could be taken by any process on a shared machine in
between, and an answer from some other server then looks like readiness; readiness here is checked to
come from a server of this model (`/v1/models`).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

PROBLEMS = 24
REPO = Path(__file__).resolve().parents[3]
SERVING = re.compile(r"reasoner: serving .* on (http://\S+)/v1")


def start_server(checkpoint: Path, db: Path, log: Path) -> subprocess.Popen:
    # 1 GiB of KV cache is plenty for the tiny checkpoint and spares a shared machine's memory.
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", **os.environ,
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-c", "from reasoner.cli import entrypoint; entrypoint()", "serve",
               "--model", str(checkpoint), "--port", "0", "--db", str(db), "--job-concurrency", "2"]
    return subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_serving(process: subprocess.Popen, checkpoint: Path, log: Path, timeout_s: float = 900.0) -> str:
    """The server's URL once it says it serves this model (engine start-up can take minutes)."""
    deadline = time.monotonic() + timeout_s
    url = None
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        url = url or next(iter(SERVING.findall(log.read_text(errors="replace"))), None)
        if url is not None and _served(url) == [str(checkpoint)]:
            return url
        if time.monotonic() > deadline:
            raise AssertionError(f"server not healthy:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _served(url: str) -> list[str] | None:
    """The models a key-less server on loopback serves; None while it does not answer."""
    try:
        response = httpx.get(f"{url}/v1/models", timeout=5)
    except httpx.TransportError:
        return None
    return [model["id"] for model in response.json()["data"]] if response.status_code == 200 else None


def poll(url: str, job_id: str, until, timeout_s: float = 900.0) -> dict:
    """The job's view once `until(view)`; a reply slow under load is waited for, not taken as a failure."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=30).json()
        except httpx.TimeoutException:
            job = None
        if job is not None and until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {job}")
        time.sleep(0.1)


def stored_records(db: Path, job_id: str) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT COUNT(*) FROM records WHERE job_id = ?", (job_id,)).fetchone()[0]


def kill(server: subprocess.Popen) -> None:
    """SIGKILL the server's whole process group (its engine processes too), once."""
    try:
        os.killpg(server.pid, signal.SIGKILL)
    except ProcessLookupError:  # killed already, mid-test; the failure that got us here is the one to see
        pass
    server.wait()


def results_lines(path: Path) -> int:
    return sum(1 for line in path.read_bytes().splitlines(keepends=True) if line.endswith(b"\n")) \
        if path.is_file() else 0


def job_records(url: str, job_id: str) -> list[dict]:
    response = httpx.get(f"{url}/v1/jobs/{job_id}/results", timeout=120)
    return [json.loads(line) for line in response.text.splitlines()]


def test_killed_server_resumes_its_solve_and_sweep_jobs_and_records_each_problem_and_run_once(
        tiny_checkpoint, tmp_path):
    """One kill with a solve job and a sweep job both running: each resumes from its own store (the solve
    job's SQLite records, the sweep's results file), and neither writes a record twice."""
    db = tmp_path / "jobs.db"
    server = start_server(tiny_checkpoint, db, tmp_path / "first.log")
    try:
        url = wait_serving(server, tiny_checkpoint, tmp_path / "first.log")
        solve = httpx.post(f"{url}/v1/jobs", timeout=120, json={
            "dataset": "arith", "limit": PROBLEMS, "strategy": "self_consistency",
            "options": {"n": 2, "max_tokens": 48}}).json()
        sweep = httpx.post(f"{url}/v1/jobs", timeout=120, json={
            "dataset": "arith", "limit": PROBLEMS,
            "sweep": {"strategies": ["cot", "self_consistency"], "budgets": [1, 2], "max_tokens": 48,
                      "concurrency": 2}}).json()
        assert sweep["kind"] == "sweep", sweep
        results = tmp_path / "jobs-artifacts" / sweep["id"] / "results.jsonl"
        before = {job["id"]: poll(url, job["id"], lambda j: j["progress"]["done"] >= 2) for job in (solve, sweep)}
        kill(server)
        solved_at_kill, swept_at_kill = stored_records(db, solve["id"]), results_lines(results)
        # Both jobs were cut off with work left to do, so the restart has something to resume in each.
        assert before[solve["id"]]["status"] == "running" and 2 <= solved_at_kill < PROBLEMS
        assert before[sweep["id"]]["status"] == "running"
        assert 2 <= swept_at_kill < before[sweep["id"]]["progress"]["total"]
        server = start_server(tiny_checkpoint, db, tmp_path / "second.log")
        url = wait_serving(server, tiny_checkpoint, tmp_path / "second.log")
        done = {job["id"]: poll(url, job["id"], lambda j: j["status"] != "running") for job in (solve, sweep)}
        assert [view["status"] for view in done.values()] == ["succeeded", "succeeded"], done
        solved, swept = job_records(url, solve["id"]), job_records(url, sweep["id"])
    finally:
        kill(server)
    ids = [r["problem_id"] for r in solved]
    assert len(ids) == PROBLEMS and len(set(ids)) == PROBLEMS
    assert done[solve["id"]]["progress"] == {"done": PROBLEMS, "total": PROBLEMS}
    assert done[solve["id"]]["summary"]["problems"] == PROBLEMS
    keys = [(r["model"], r["run"], r["problem_id"]) for r in swept]
    assert len(keys) == len(set(keys)) == done[sweep["id"]]["progress"]["total"]
    assert len({r["problem_id"] for r in swept}) == PROBLEMS
