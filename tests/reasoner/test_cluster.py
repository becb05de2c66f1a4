"""A real two-node Ray cluster on this machine: `reasoner solve --ray-address` spreads problems over both nodes.

The nodes are two `ray start` processes with one CPU each and their own temp
dirs, so the two engine actors (one CPU each) must land on different nodes.
A node lost mid-job is the worker node's raylet killed while the job runs.
Teardown kills only the processes of these two nodes (found by their temp
dirs) and what they started, never other Ray clusters on the machine.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from reasoner.jobs import read_records

REPO = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).with_name("ray"))


def cluster_env() -> dict[str, str]:
    """Environment for the nodes and the driver: this checkout importable, and Ray's token auth off.

    A head node turns token auth on by itself when ~/.ray/auth_token exists (another
    cluster on the machine may have made one); a joining node does not, and is refused.
    """
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "RAY_AUTH_MODE": "disabled",
           # Ray's memory monitor kills actors when the whole machine is above 95% memory, which on a
           # machine shared with other jobs says nothing about this test; the test's own use is small.
           "RAY_memory_monitor_refresh_ms": "0"}
    env.pop("RAY_ADDRESS", None)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ray_start(*args: str, env: dict) -> None:
    run = subprocess.run([RAY, "start", "--disable-usage-stats", *args], env=env, capture_output=True, text=True,
                         timeout=180)
    if run.returncode != 0:
        raise RuntimeError(f"ray start {' '.join(args)} failed:\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")


def stop_nodes(temp_dirs: list[str]) -> None:
    """Kill the processes whose command line names one of `temp_dirs`, and all their descendants."""
    roots = [p for p in psutil.process_iter(["cmdline"]) if p.pid != os.getpid()
             and any(d in arg for arg in (p.info["cmdline"] or []) for d in temp_dirs)]
    victims = {p.pid: p for root in roots for p in [root, *_descendants(root)]}
    for process in victims.values():
        _signal(process.terminate)
    _, alive = psutil.wait_procs(list(victims.values()), timeout=15)
    for process in alive:
        _signal(process.kill)
    psutil.wait_procs(alive, timeout=15)


def _descendants(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _signal(action) -> None:
    try:
        action()
    except psutil.NoSuchProcess:
        pass


@dataclass
class Nodes:
    address: str
    """The head node's address."""
    temp_dirs: list[str]
    """Each node's temp dir (head first), which names its processes."""


@pytest.fixture
def two_nodes(tiny_checkpoint):
    """A head node and a worker node, each with one CPU."""
    temp_dirs = [tempfile.mkdtemp(prefix="rh", dir="/tmp"), tempfile.mkdtemp(prefix="rw", dir="/tmp")]
    port = free_port()
    env = cluster_env()
    try:
        ray_start("--head", "--port", str(port), "--num-cpus", "1", "--include-dashboard", "false",
                  "--temp-dir", temp_dirs[0], env=env)
        ray_start("--address", f"127.0.0.1:{port}", "--num-cpus", "1", "--resources", json.dumps({"second": 1}),
                  "--temp-dir", temp_dirs[1], env=env)
        yield Nodes(address=f"127.0.0.1:{port}", temp_dirs=temp_dirs)
    finally:
        stop_nodes(temp_dirs)
        for folder in temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)


def test_solve_spreads_problems_over_both_nodes(two_nodes, tiny_checkpoint, tmp_path):
    problems = [{"id": f"q{i:02d}", "prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(12)]
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps(p) + "\n" for p in problems))
    out = tmp_path / "out.jsonl"
    run = subprocess.run([sys.executable, "-m", "reasoner.cli", "solve", "--dataset", str(dataset),
                          "--strategy", "tests.node_strategy:OnNode", "--model", str(tiny_checkpoint),
                          "--ray-address", two_nodes.address, "--workers", "2", "--out", str(out), "--json"],
                         cwd=REPO, env=cluster_env(), capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    records = read_records(out)
    assert sorted(r["problem_id"] for r in records) == [p["id"] for p in problems]  # one record each
    assert all(r["error"] is None for r in records)
    nodes = Counter(r["stop_reason"] for r in records)
    assert len(nodes) == 2 and all(name.startswith("node:") for name in nodes), nodes


def kill_raylet(temp_dir: str) -> None:
    """kill -9 the raylet of the node whose temp dir is `temp_dir` (its workers then end too)."""
    raylets = [p for p in psutil.process_iter(["name", "cmdline"]) if "raylet" in (p.info["name"] or "")
               and any(temp_dir in arg for arg in (p.info["cmdline"] or []))]
    assert len(raylets) == 1, raylets
    raylets[0].kill()


def records_so_far(path: Path) -> list[dict]:
    return read_records(path) if path.exists() else []


def test_a_node_lost_mid_job_leaves_its_problems_to_the_node_that_remains(two_nodes, tiny_checkpoint, tmp_path):
    # All 20 problems are dispatched at once, alternately to the two actors, so each node holds the problems
    # of one parity of NN. On the worker node (the one with the resource "second") qNN first waits NN seconds,
    # so it still holds most of its problems when it is lost; on the head node nothing waits.
    problems = [{"id": f"q{i:02d}", "prompt": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(20)]
    dataset = tmp_path / "data.jsonl"
    dataset.write_text("".join(json.dumps(p) + "\n" for p in problems))
    out, log = tmp_path / "out.jsonl", tmp_path / "solve.log"
    job = subprocess.Popen([sys.executable, "-m", "reasoner.cli", "solve", "--dataset", str(dataset),
                            "--strategy", "tests.node_strategy:OnNode", "--option", "delay_s=1",
                            "--option", "delay_on=second",
                            "--model", str(tiny_checkpoint), "--ray-address", two_nodes.address, "--workers", "2",
                            "--out", str(out), "--json"], cwd=REPO, env=cluster_env(),
                           stdout=subprocess.DEVNULL, stderr=log.open("w"))
    try:
        deadline = time.monotonic() + 600  # two engines starting on a shared machine
        while len({r["stop_reason"] for r in records_so_far(out)}) < 2 and job.poll() is None:
            assert time.monotonic() < deadline, "the job never got going on both nodes"
            time.sleep(0.1)
        kill_raylet(two_nodes.temp_dirs[1])
        # Left alone, the job ends well within a minute of the loss (its retries do not wait); a pool that
        # waits for a replacement Ray cannot place never does.
        job.wait(timeout=180)
    finally:
        if job.poll() is None:
            job.kill()
    assert job.returncode == 0, log.read_text()[-3000:]
    records = read_records(out)
    assert sorted(r["problem_id"] for r in records) == [p["id"] for p in problems]  # each recorded once
    assert all(r["error"] is None for r in records)
    remaining = records[-1]["stop_reason"]
    assert len({r["stop_reason"] for r in records[-3:]}) == 1  # the last ones, only the node that remains
    # It also solved problems first sent to the lost node (the other parity): they were in flight there.
    assert {int(r["problem_id"][1:]) % 2 for r in records if r["stop_reason"] == remaining} == {0, 1}
