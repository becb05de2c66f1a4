"""`kill -9` a real `reasoner serve` process mid-job, start it again: the job resumes, each problem once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.reasoner.service.conftest import free_port

PROBLEMS = 24
REPO = Path(__file__).resolve().parents[3]


def start_server(checkpoint: Path, db: Path, port: int, log: Path) -> subprocess.Popen:
    # 1 GiB of KV cache is plenty for the tiny checkpoint and spares a shared machine's memory.
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", **os.environ,
           "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    command = [sys.executable, "-c", "from reasoner.cli import entrypoint; entrypoint()", "serve",
               "--model", str(checkpoint), "--port", str(port), "--db", str(db), "--job-concurrency", "2"]
    return subprocess.Popen(command, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_healthy(process: subprocess.Popen, url: str, log: Path, timeout_s: float = 600.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"server not healthy:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def poll(url: str, job_id: str, until, timeout_s: float = 600.0) -> dict:
    deadline = time.monotonic() + timeout_s
    while True:
        job = httpx.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        if until(job):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {job}")
        time.sleep(0.1)


def test_killed_server_resumes_its_job_and_records_each_problem_once(tiny_checkpoint, tmp_path):
    db, log, port = tmp_path / "jobs.db", tmp_path / "server.log", free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(tiny_checkpoint, db, port, log)
    try:
        wait_healthy(server, url, log)
        job = httpx.post(f"{url}/v1/jobs", timeout=30, json={
            "dataset": "arith", "limit": PROBLEMS, "strategy": "self_consistency",
            "options": {"n": 2, "max_tokens": 48}}).json()
        before = poll(url, job["id"], lambda j: j["progress"]["done"] >= 2)
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        assert before["status"] == "running" and before["progress"]["done"] < PROBLEMS
        server = start_server(tiny_checkpoint, db, port, log)
        wait_healthy(server, url, log)
        done = poll(url, job["id"], lambda j: j["status"] != "running")
        assert done["status"] == "succeeded", done
        records = [json.loads(line) for line in
                   httpx.get(f"{url}/v1/jobs/{job['id']}/results", timeout=30).text.splitlines()]
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
    ids = [r["problem_id"] for r in records]
    assert len(ids) == PROBLEMS and len(set(ids)) == PROBLEMS
    assert done["progress"] == {"done": PROBLEMS, "total": PROBLEMS}
    assert done["summary"]["problems"] == PROBLEMS
