"""The math verifier works wherever a user calls it, pathological inputs included.

Each context is real: a script file with no `if __name__ == "__main__":`
guard run by a fresh interpreter, the same code piped to `python -`, threads
sharing one verifier, and a Ray actor. Each grades the same items and must
get the same statuses: ordinary ones and pathological ones (huge powers and
factorials, deep nesting, megabyte outputs) that must come back as a verdict
(timeout or unparseable, score 0), never a hang or a crash.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ITEMS = [
    (r"so \boxed{\frac{1}{2}}", "0.5"),
    (r"Final Answer: The final answer is $x = 3$. I hope it is correct.", "3"),
    (r"\boxed{7}", "8"),
    (r"\boxed{2^{2^{2^{2^{2^{2^{2}}}}}}}", "1"),
    (r"\boxed{(10^{6})!}", "1"),
    (r"\boxed{(1+\sqrt{2})^{50000}}", r"5+\sqrt{3}"),
    (r"\boxed{((x+1)^{2})^{3000}}", r"(x^2+2x+1)^{3000}"),
    (r"\boxed{" + r"\frac{1}{" * 300 + "2" + "}" * 300 + "}", "1"),
    (r"\boxed{" + "(" * 1900 + "1" + ")" * 1900 + "}", "2"),
    ("The answer is " + "9" * 1_000_000, "9"),
    (r"\boxed{" * 100_000 + "3", "3"),
    ("blah " * 200_000 + r"\boxed{5}", "5"),
]
EXPECTED = ["correct", "correct", "incorrect", "timeout", "timeout", "incorrect", "timeout", "incorrect", "incorrect",
            "unparseable", "unparseable", "correct"]

SCRIPT = """
import json, sys
sys.setrecursionlimit(10000)
from reasoner.verifiers.math import MathVerifier

items = json.loads(sys.argv[1] if len(sys.argv) > 1 else open({path!r}).read())
verifier = MathVerifier(timeout=2.0, workers=1)
verdicts = [verifier.verify(p, r) for p, r in items]
print(json.dumps([[v.status.value, v.score] for v in verdicts]))
"""


def _env() -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[2])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}


@pytest.fixture(scope="module")
def items_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("items") / "items.json"
    path.write_text(json.dumps(ITEMS))
    return path


def _statuses(stdout: str) -> list[str]:
    results = json.loads(stdout.strip().splitlines()[-1])
    return [status for status, _ in results]


@pytest.fixture(scope="module")
def script_run(tmp_path_factory, items_file) -> subprocess.CompletedProcess:
    """The items graded by a script file with no main guard, in a fresh interpreter."""
    folder = tmp_path_factory.mktemp("script")
    script = folder / "grade.py"
    script.write_text(SCRIPT.format(path=str(items_file)))
    return subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=_env(),
                          cwd=folder, timeout=600)


def test_script_without_main_guard(script_run):
    assert script_run.returncode == 0, script_run.stderr[-2000:]
    assert _statuses(script_run.stdout) == EXPECTED


def test_scores_of_pathological_items_are_zero(script_run):
    scores = [score for _, score in json.loads(script_run.stdout.strip().splitlines()[-1])]
    assert scores == [1.0 if status == "correct" else 0.0 for status in EXPECTED]


def test_script_outside_the_repository_without_pythonpath(tmp_path, items_file):
    """Installed like a user's: only `reasoner` is importable (no repository folder on the path)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    script = tmp_path / "grade.py"
    script.write_text(SCRIPT.format(path=str(items_file)))
    done = subprocess.run([sys.executable, "-I", str(script)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _statuses(done.stdout) == EXPECTED


def test_code_piped_to_python_stdin(tmp_path, items_file):
    done = subprocess.run([sys.executable, "-"], input=SCRIPT.format(path=str(items_file)), capture_output=True,
                          text=True, env=_env(), cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert _statuses(done.stdout) == EXPECTED


def test_threads_share_one_verifier():
    from reasoner.verifiers.math import MathVerifier

    with MathVerifier(timeout=2.0, workers=2) as verifier, ThreadPoolExecutor(4) as threads:
        statuses = list(threads.map(lambda item: verifier.verify(*item).status.value, ITEMS * 2))
    assert statuses == EXPECTED * 2


ray = pytest.importorskip("ray")


def test_ray_actor(ray_runtime):
    @ray.remote(num_cpus=0)
    class Grader:
        def grade(self, items):
            from reasoner.verifiers.math import MathVerifier

            with MathVerifier(timeout=2.0, workers=1) as verifier:
                return [v.status.value for v in verifier.verify_batch([tuple(i) for i in items])]

    assert ray.get(Grader.remote().grade.remote(ITEMS), timeout=600) == EXPECTED


ORPHAN = r'''
import os, threading, time
from reasoner.verifiers.math import MathVerifier
verifier = MathVerifier(timeout=600, workers=1)
verifier.verify(r"\boxed{\sqrt{2}}", r"\sqrt{2}+0")
print([w.process.pid for w in verifier._pool._all], flush=True)
busy = r"\boxed{((x+1)^{2})^{3000}}"
threading.Thread(target=verifier.verify, args=(busy, r"(x^2+2x+1)^{3000}"), daemon=True).start()
time.sleep(2)
os._exit(0)  # dies while its worker is busy: the worker must not outlive it
'''


def test_workers_exit_when_their_parent_dies(tmp_path):
    import time

    import psutil

    done = subprocess.run([sys.executable, "-"], input=ORPHAN, capture_output=True, text=True, env=_env(),
                          cwd=tmp_path, timeout=600)
    pids = json.loads(done.stdout.strip().splitlines()[-1])
    deadline = time.monotonic() + 60  # a hang guard, not a speed claim
    while any(psutil.pid_exists(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert pids and not any(psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids)
