"""Attacks on the code sandbox: each is contained, never passes, and leaves the host unharmed.

Attacks run in two isolation modes: `namespaces` (the default on this machine:
PID, mount and network namespaces, read-only filesystem, private uid) and
`plain` (the fallback when unshare is refused: a private uid and rlimits
only). Attack programs define the function under test only after the attack,
and assert that the attack worked where they can, so an attack that gets
through turns into a passing verdict and fails the test.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path

import psutil
import pytest

from reasoner.verifiers.base import CodeTests, Status
from reasoner.verifiers.code import CodeVerifier
from reasoner.verifiers.sandbox import SANDBOX_UIDS, Payload, RunOutcome, Sandbox, SandboxConfig

ROOT = os.geteuid() == 0
TESTS = CodeTests(asserts=["assert f() == 1"])
TIMEOUT = 1.5


def _namespaces_work() -> bool:
    unshare = shutil.which("unshare")
    if unshare is None:
        return False
    command = [unshare, "--pid", "--fork", "--mount-proc", "--net", "true"]
    return subprocess.run(command, capture_output=True).returncode == 0 if ROOT else True


MODES = {"namespaces": {"namespaces": True}, "plain": {"namespaces": False}}


@pytest.fixture(scope="module", params=list(MODES))
def mode(request: pytest.FixtureRequest) -> str:
    if request.param == "namespaces" and not _namespaces_work():
        pytest.skip("unshare is not permitted here")
    return request.param


@pytest.fixture(scope="module")
def verifier(mode: str) -> CodeVerifier:
    return CodeVerifier(timeout=TIMEOUT, memory_mb=256, max_output_bytes=1 << 16, **MODES[mode])


def _leftovers() -> list[str]:
    """Live sandbox processes this test process started, and orphaned processes of sandbox uids.

    Sandbox processes of other test sessions on the machine always hang below a
    live harness, so they are not counted.
    """
    found = [p for p in psutil.Process().children(recursive=True) if _running(p) and _sandboxed(p)]
    found += [p for p in psutil.process_iter() if _running(p) and _sandbox_uid(p) and not _sandboxed(_parent(p))]
    return [f"{p.pid} {_cmdline(p)[:80]}" for p in found]


def _sandboxed(process: psutil.Process | None) -> bool:
    """A harness (unshare, the bootstrap interpreter) or anything running under a sandbox uid."""
    if process is None:
        return False
    cmdline = _cmdline(process)
    return "_child_main(" in cmdline or cmdline.startswith("/usr/bin/unshare") or _sandbox_uid(process)


def _sandbox_uid(process: psutil.Process) -> bool:
    try:
        return process.uids().real in SANDBOX_UIDS
    except psutil.NoSuchProcess:
        return False


def _parent(process: psutil.Process) -> psutil.Process | None:
    try:
        return process.parent()
    except psutil.NoSuchProcess:
        return None


def _cmdline(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return ""


def _running(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def host() -> Iterator[None]:
    """Fails the test if any process of the run survives it."""
    assert _leftovers() == []
    yield
    assert _leftovers() == []


@pytest.fixture
def unprivileged(verifier: CodeVerifier) -> None:
    """Attacks that would hurt the host if they got through run only after the sandbox is seen to drop root.

    A broken sandbox then fails here, harmlessly, instead of in the attack.
    """
    guard = "import os\ndef f():\n    return int(0 not in os.getresuid())\n"
    if ROOT and not verifier.verify(guard, TESTS).correct:
        pytest.fail("the sandbox runs programs as root; not running destructive attacks")


def _in_background(function: Callable, *args: object) -> Future:
    """Run `function(*args)` on a thread; `.result()` re-raises its exception in the test's own thread.

    An assert that fails inside a plain `threading.Thread` only prints a warning, so a
    test whose checks ran there could never fail.
    """
    future: Future = Future()

    def run() -> None:
        try:
            future.set_result(function(*args))
        except BaseException as exc:  # handed to the test's thread, which raises it
            future.set_exception(exc)

    threading.Thread(target=run, daemon=True).start()
    return future


def _attack(verifier: CodeVerifier, program: str) -> str:
    """Run an attack program; return the verdict's detail after checking it did not pass."""
    verdict = verifier.verify(program, TESTS)
    assert verdict.status is not Status.CORRECT, verdict
    assert verdict.score == 0.0
    return verdict.detail


# --- resource exhaustion ----------------------------------------------------------------

RESOURCE_ATTACKS = {
    "infinite-loop": "while True:\n    pass\n",
    "sleep-forever": "import time\ntime.sleep(10**6)\n",
    "cpu-in-threads": ("import threading\n"
                       "def burn():\n    while True:\n        pass\n"
                       "for _ in range(4):\n    threading.Thread(target=burn).start()\n"
                       "burn()\n"),
    "memory-bomb-allocation": "hog = b'x' * (8 * 1024**3)\n",
    "memory-bomb-growth": "hog = []\nwhile True:\n    hog.append(b'x' * 10**7)\n",
    "fork-bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n",
    "fork-bomb-unguarded": "import os\nwhile True:\n    os.fork()\n",
    "process-bomb": ("import subprocess, sys\nwhile True:\n"
                     "    subprocess.Popen([sys.executable, '-c', 'while True: pass'])\n"),
    "huge-stdout": "while True:\n    print('x' * 10000)\n",
    "huge-stderr": "import sys\nwhile True:\n    sys.stderr.write('y' * 10000)\n",
    "huge-file": "with open('big', 'wb') as out:\n    out.write(b'x' * (200 << 20))\n",
    "stdin-read": "import sys\ndata = sys.stdin.read()\nassert data, 'stdin is empty'\n",
}


@pytest.mark.parametrize("attack", list(RESOURCE_ATTACKS))
def test_resource_attack_is_contained(verifier: CodeVerifier, host: None, attack: str) -> None:
    _attack(verifier, RESOURCE_ATTACKS[attack] + "def f():\n    return 1\n")


@pytest.mark.parametrize("program", [RESOURCE_ATTACKS["infinite-loop"], RESOURCE_ATTACKS["sleep-forever"]],
                         ids=["busy", "sleeping"])
def test_time_limit_is_a_timeout_verdict(verifier: CodeVerifier, program: str) -> None:
    verdict = verifier.verify(program, TESTS)
    assert verdict.status is Status.TIMEOUT
    assert verdict.seconds < TIMEOUT + 2.0


@pytest.mark.parametrize("attack", ["huge-stdout", "huge-stderr"])
def test_output_flood_is_reported(verifier: CodeVerifier, attack: str) -> None:
    detail = _attack(verifier, RESOURCE_ATTACKS[attack])
    assert detail == f"output limit of {1 << 16} bytes exceeded"


def test_output_kept_in_memory_is_bounded() -> None:
    cap = 1 << 16
    sandbox = Sandbox(SandboxConfig(timeout=TIMEOUT, max_output_bytes=cap))
    result = sandbox.run(Payload.from_functions(_flood), {})
    assert result.outcome is RunOutcome.OUTPUT_LIMIT
    assert len(result.stdout) + len(result.stderr) <= cap


def _flood(job: dict) -> tuple[bool, str]:
    import sys
    while True:
        sys.stdout.write("z" * 65536)
        sys.stderr.write("z" * 65536)


def test_host_stays_responsive_during_a_fork_bomb(verifier: CodeVerifier, host: None) -> None:
    bomb = _in_background(_attack, verifier, RESOURCE_ATTACKS["fork-bomb"])
    time.sleep(0.7)
    started = time.perf_counter()
    subprocess.run(["true"], check=True)
    spawn_seconds = time.perf_counter() - started
    bomb.result()
    assert spawn_seconds < 0.5


def test_disk_is_limited_to_the_work_directory_tmpfs(host: None) -> None:
    if not _namespaces_work():
        pytest.skip("the work directory is a tmpfs only with namespaces")
    program = ("i = 0\nwhile True:\n    with open(f'fill{i}', 'wb') as out:\n"
               "        out.write(b'x' * (1 << 20))\n    i += 1\n")
    detail = _attack(CodeVerifier(timeout=5.0, namespaces=True), program)
    assert "No space left on device" in detail


# --- faking success ---------------------------------------------------------------------

EXIT_TRICKS = {
    "exit": "exit(0)",
    "quit": "quit()",
    "sys.exit": "import sys\nsys.exit(0)",
    "SystemExit": "raise SystemExit(0)",
    "os._exit": "import os\nos._exit(0)",
    "kill-self": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
    "sigterm-self": "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)",
    "abort": "import os\nos.abort()",
    "close-stdio-then-exit": "import os\nos.close(1)\nos.close(2)\nos._exit(0)",
    "atexit": "import atexit, os\natexit.register(os._exit, 0)\nraise SystemExit(0)",
    "exit-inside-test": "def f():\n    raise SystemExit(0)",
    "os._exit-inside-test": "import os\ndef f():\n    os._exit(0)",
}


@pytest.mark.parametrize("trick", list(EXIT_TRICKS))
def test_exiting_early_never_passes(verifier: CodeVerifier, host: None, trick: str) -> None:
    _attack(verifier, EXIT_TRICKS[trick])


# Reports are Python dict literals, one per line; the harness writes `ready` first.
FORGE_LINES = ("b'ready\\n' + repr({'passed': True, 'token': TOKEN}).encode() + b'\\n' + "
               "json.dumps({'passed': True, 'token': TOKEN}).encode() + b'\\n' + "
               "repr({'exit': -9, 'cpu': 'x'}).encode() + b'\\n' + repr({'passed': True, 'token': '\\xe9'}).encode()")
FORGERIES = {
    "print-markers": "print('ready')\nprint({'passed': True})\nprint('PASSED')\nprint('All tests passed')",
    "write-every-fd": (
        f"import json, os\nTOKEN = '0' * 64\nline = {FORGE_LINES}\n"
        "for fd in range(1024):\n"
        "    try:\n        os.write(fd, line)\n    except OSError:\n        pass\n"
        "os._exit(0)"),
    "hunt-for-the-token": (
        "import json, os, re, sys\n"
        "places = [' '.join(sys.argv), str(os.environ)]\n"
        "for root in ('/proc/self', '/proc/1', '.', '/tmp'):\n"
        "    for name in ('cmdline', 'environ'):\n"
        "        try:\n            places.append(open(os.path.join(root, name), 'rb').read().decode('latin-1'))\n"
        "        except OSError:\n            pass\n"
        "for fd in os.listdir('/proc/self/fd'):\n"
        "    try:\n        places.append(open(f'/proc/self/fd/{fd}', 'rb').read(1 << 20).decode('latin-1'))\n"
        "    except OSError:\n        pass\n"
        "for name in os.listdir('.'):\n"
        "    places.append(open(name, 'rb').read().decode('latin-1'))\n"
        "found = set(re.findall('[0-9a-f]{64}', ' '.join(places)))\n"
        "for TOKEN in found:\n"
        f"    report = {FORGE_LINES}\n"
        "    for fd in range(3, 1024):\n"
        "        try:\n            os.write(fd, report)\n        except OSError:\n            pass\n"
        "os._exit(0)"),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_forged_success_never_passes(verifier: CodeVerifier, host: None, forgery: str) -> None:
    _attack(verifier, FORGERIES[forgery])


def test_a_fork_cannot_report_for_the_harness(verifier: CodeVerifier, host: None) -> None:
    program = "import os\nif os.fork() == 0:\n    def f():\n        return 1\nelse:\n    os.wait()\n    os._exit(0)\n"
    _attack(verifier, program)


# --- reaching the host ----------------------------------------------------------------------

@pytest.fixture
def secret(monkeypatch: pytest.MonkeyPatch) -> str:
    value = "s3cret-" + secrets.token_hex(8)
    monkeypatch.setenv("REASONER_TEST_SECRET", value)
    return value


def test_environment_secret_is_not_visible(verifier: CodeVerifier, host: None, secret: str) -> None:
    program = (
        "import os, sys\nfound = [v for k, v in os.environ.items() if 'SECRET' in k]\n"
        "for pid in os.listdir('/proc'):\n"
        "    try:\n        env = open(f'/proc/{pid}/environ', 'rb').read().decode('latin-1')\n"
        "    except OSError:\n        continue\n"
        "    found += [part for part in env.split('\\0') if 'REASONER_TEST_SECRET' in part]\n"
        "print(found)\nprint(found, file=sys.stderr)\n"
        "assert found, 'no secret found'\nraise RuntimeError(str(found))\n")
    detail = _attack(verifier, program)
    assert secret not in detail
    assert detail == "the program failed: AssertionError: no secret found (program line 11)"


def test_environment_is_minimal() -> None:
    sandbox = Sandbox(SandboxConfig(timeout=5.0))
    result = sandbox.run(Payload.from_functions(_describe_process), {})
    _, cwd, env = result.stdout.decode().splitlines()
    assert env == "HOME LANG LC_ALL PATH TMPDIR"
    assert cwd.startswith(tempfile.gettempdir())


def _describe_process(job: dict) -> tuple[bool, str]:
    import os
    print(os.getuid(), os.getcwd(), " ".join(sorted(os.environ)), sep="\n", flush=True)
    return True, ""


@pytest.mark.skipif(not ROOT, reason="private uids need root")
def test_runs_get_distinct_unprivileged_uids() -> None:
    sandbox = Sandbox(SandboxConfig(timeout=5.0))
    payload = Payload.from_functions(_describe_process)
    uids = [int(sandbox.run(payload, {}).stdout.split()[0]) for _ in range(2)]
    concurrent = _in_background(sandbox.run, Payload.from_functions(_sleep_payload), {})
    time.sleep(0.3)
    uids.append(int(sandbox.run(payload, {}).stdout.split()[0]))
    assert concurrent.result().outcome is RunOutcome.PASSED
    assert all(uid in SANDBOX_UIDS for uid in uids)


def _sleep_payload(job: dict) -> tuple[bool, str]:
    import time
    time.sleep(1.0)
    return True, ""


def test_work_directory_is_writable(verifier: CodeVerifier, host: None) -> None:
    program = ("import os, tempfile\nopen('out.txt', 'w').write('ok')\ntempfile.mkstemp()\n"
               "assert os.environ['HOME'] == os.environ['TMPDIR'] == os.getcwd()\n"
               "def f():\n    return len(open('out.txt').read()) - 1\n")
    assert verifier.verify(program, TESTS).correct


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "plain"])
def test_work_directory_is_removed(namespaces: bool) -> None:
    if namespaces and not _namespaces_work():
        pytest.skip("unshare is not permitted here")
    sandbox = Sandbox(SandboxConfig(timeout=5.0, namespaces=namespaces))
    result = sandbox.run(Payload.from_functions(_litter), {})
    workdir = Path(result.stdout.decode().strip())
    assert result.outcome is RunOutcome.PASSED
    assert workdir.parent == Path(tempfile.gettempdir())
    assert not workdir.exists()


def _litter(job: dict) -> tuple[bool, str]:
    import os
    os.makedirs("deep/er")
    with open("deep/er/file", "w") as handle:
        handle.write("x")
    os.chmod("deep", 0)
    print(os.getcwd(), flush=True)
    return True, ""


@pytest.fixture
def outside(mode: str) -> Iterator[Path]:
    """A directory outside the work directory with a sentinel file; world-writable when the mode claims to cope."""
    directory = Path(tempfile.mkdtemp(prefix="reasoner-test-outside-"))
    sentinel = directory / "sentinel.txt"
    sentinel.write_text("untouched")
    if mode == "namespaces":  # the read-only filesystem must hold even where permissions allow writing
        directory.chmod(0o777)
        sentinel.chmod(0o666)
    else:
        directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory)


WRITES = {
    "overwrite-sentinel": "open('{dir}/sentinel.txt', 'w').write('pwned')",
    "append-sentinel": "open('{dir}/sentinel.txt', 'a').write('pwned')",
    "new-file-beside-sentinel": "open('{dir}/new.txt', 'w').write('pwned')",
    "delete-sentinel": "import os\nos.remove('{dir}/sentinel.txt')",
    "rename-sentinel": "import os\nos.rename('{dir}/sentinel.txt', '{dir}/moved.txt')",
    "symlink-from-workdir": "import os\nos.symlink('{dir}/sentinel.txt', 'link')\nopen('link', 'w').write('pwned')",
    "chmod-sentinel": "import os\nos.chmod('{dir}/sentinel.txt', 0o777)",
}


@pytest.mark.skipif(not ROOT, reason="without root the program runs as the same user")
@pytest.mark.parametrize("write", list(WRITES))
def test_writes_outside_the_work_directory_fail(verifier: CodeVerifier, host: None, unprivileged: None,
                                                outside: Path, write: str) -> None:
    mode_before = (outside / "sentinel.txt").stat().st_mode
    _attack(verifier, WRITES[write].format(dir=outside) + "\ndef f():\n    return 1\n")
    assert sorted(p.name for p in outside.iterdir()) == ["sentinel.txt"]
    assert (outside / "sentinel.txt").read_text() == "untouched"
    assert (outside / "sentinel.txt").stat().st_mode == mode_before


@pytest.mark.parametrize("path", ["/tmp", "/var/tmp"])
def test_world_writable_directories_are_read_only(host: None, path: str) -> None:
    if not _namespaces_work():
        pytest.skip("only the mount namespace makes world-writable directories read-only")
    target = f"{path}/reasoner-pwned-{secrets.token_hex(4)}"
    try:
        _attack(CodeVerifier(timeout=5.0, namespaces=True),
                f"open('{target}', 'w').write('x')\ndef f():\n    return 1\n")
        assert not os.path.exists(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)


def test_shared_memory_is_private_to_the_run(host: None) -> None:
    if not _namespaces_work():
        pytest.skip("only the mount namespace gives each run its own /dev/shm")
    target = f"/dev/shm/reasoner-pwned-{secrets.token_hex(4)}"
    program = f"open('{target}', 'w').write('x')\ndef f():\n    return len(open('{target}').read())\n"
    try:
        assert CodeVerifier(timeout=5.0, namespaces=True).verify(program, TESTS).correct
        assert not os.path.exists(target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(target)


@pytest.mark.skipif(not ROOT, reason="without root the program runs as the same user")
@pytest.mark.parametrize("attempt", ["import os\nos.setuid(0)", "open('/etc/shadow').read()",
                                     "import os\nos.listdir('/root')"],
                         ids=["setuid-root", "read-shadow", "list-root-home"])
def test_privileged_operations_fail(verifier: CodeVerifier, host: None, unprivileged: None, attempt: str) -> None:
    detail = _attack(verifier, attempt + "\ndef f():\n    return 1\n")
    # Refused as the private uid, or (in the default scratch root) not there at all.
    assert "PermissionError" in detail or ("FileNotFoundError" in detail and verifier.isolation.private_root)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    yield server
    server.close()


def _connect_program(server: socket.socket) -> str:
    port = server.getsockname()[1]
    return (f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1).sendall(b'hi')\n"
            "def f():\n    return 1\n")


def _accepted(server: socket.socket) -> bool:
    try:
        connection, _ = server.accept()
    except TimeoutError:
        return False
    connection.close()
    return True


def test_network_is_denied(host: None, listener: socket.socket) -> None:
    if not _namespaces_work():
        pytest.skip("network isolation needs a network namespace")
    verifier = CodeVerifier(timeout=5.0, network="deny", namespaces=True)
    detail = _attack(verifier, _connect_program(listener))
    assert "Network is unreachable" in detail
    assert not _accepted(listener)


def test_network_allow_reaches_the_host(listener: socket.socket) -> None:
    verifier = CodeVerifier(timeout=5.0, network="allow")
    assert verifier.verify(_connect_program(listener), TESTS).correct
    assert _accepted(listener)


KILLS = {
    "parent": "import os\nos.kill(os.getppid(), 9)",
    "own-process-group": "import os\nos.killpg(os.getpgid(0), 9)",
    "pid-zero": "import os\nos.kill(0, 9)",
    "everything": "import os\nos.kill(-1, 9)",
    "verifier-by-pid": "import os\nos.kill({pid}, 9)",
    "verifier-group-by-pid": "import os\nos.killpg({pid}, 9)",
    "every-pid-in-proc": ("import os\nfor pid in os.listdir('/proc'):\n"
                          "    if pid.isdigit() and int(pid) != os.getpid():\n"
                          "        try:\n            os.kill(int(pid), 9)\n        except OSError:\n            pass\n"
                          "raise RuntimeError('still here')"),
}


@pytest.mark.parametrize("kill", list(KILLS))
def test_killing_the_verifier_fails(verifier: CodeVerifier, host: None, unprivileged: None, kill: str) -> None:
    """Reaching this test's end at all means the verifier survived; a host process must survive too."""
    survivor = subprocess.Popen(["sleep", "30"])
    try:
        _attack(verifier, KILLS[kill].format(pid=os.getpid()) + "\ndef f():\n    return 2\n")
        assert survivor.poll() is None
    finally:
        survivor.kill()
        survivor.wait()


# --- escaping the process tree -------------------------------------------------------------

GRANDCHILD = (
    "import os, sys, time\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        sleeper = 'import time\\nwhile True: time.sleep(0.05)'\n"
    "        os.execv(sys.executable, [sys.executable, '-c', sleeper, '{marker}'])\n"
    "    os._exit(0)\n"
    "time.sleep(0.6)\n"
)


def _marked(marker: str) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or []) and _running(p)]


@pytest.mark.parametrize("then", ["def f():\n    return 2\n", "while True:\n    pass\n"],
                         ids=["returns", "loops-until-timeout"])
def test_escaped_grandchild_dies_with_the_run(verifier: CodeVerifier, host: None, then: str) -> None:
    marker = "reasoner-grandchild-" + secrets.token_hex(6)
    seen: list[int] = []
    run = _in_background(_attack, verifier, GRANDCHILD.format(marker=marker) + then)
    while not run.done():
        seen += [p.pid for p in _marked(marker)]
        time.sleep(0.02)
    run.result()
    assert seen, "the grandchild never started, so this test proves nothing"
    time.sleep(0.2)
    assert _marked(marker) == []


def test_only_introspection_can_forge_a_pass() -> None:
    """The documented limit of the threat model, and proof that the forgeries above use the real format.

    Code that walks the harness's frames finds the token and can report success
    without passing; everything short of that (the forgeries above) cannot.
    """
    sandbox = Sandbox(SandboxConfig(timeout=5.0))
    assert sandbox.run(Payload.from_functions(_steal_token), {}).outcome is RunOutcome.PASSED


def _steal_token(job: dict) -> tuple[bool, str]:
    import os
    import sys
    token = sys._getframe(1).f_locals["token"]
    os.write(int(sys.argv[2]), (repr({"passed": True, "token": token}) + "\n").encode())
    os._exit(0)


# --- a scratch root: the server's files are not there ---------------------------------------------------------

@pytest.fixture(scope="module")
def scratch() -> CodeVerifier:
    """The sandbox the service requires for client code: a private root with only the interpreter."""
    if not _namespaces_work():
        pytest.skip("a scratch root needs a mount namespace")
    return CodeVerifier(timeout=5.0, memory_mb=256, private_root=True)


@pytest.fixture
def server_files(tmp_path: Path) -> dict[str, Path]:
    """World-readable files like the service's own: a jobs database, a keys file, a config."""
    files = {"jobs-db": tmp_path / "service.db", "keys": tmp_path / "keys.txt", "config": tmp_path / "limits.toml"}
    for name, path in files.items():
        path.write_text(f"secret-{name}-{secrets.token_hex(4)}")
        path.chmod(0o644)
    tmp_path.chmod(0o755)
    return files


READS = {
    "jobs-db": "open({path!r}).read()",
    "keys": "open({path!r}).read()",
    "config": "open({path!r}).read()",
    "etc-passwd": "open('/etc/passwd').read()",
    "proc-1-environ": "open('/proc/1/environ', 'rb').read()",
    "list-root": "import os\nassert 'etc' in os.listdir('/') or 'root' in os.listdir('/') or 'work' in os.listdir('/')",
    "site-packages": "import pydantic",
    "repository": f"open({str(Path(__file__).resolve())!r}).read()",
}


@pytest.mark.parametrize("read", list(READS))
def test_scratch_root_hides_the_servers_files(scratch: CodeVerifier, host: None, server_files: dict[str, Path],
                                              read: str) -> None:
    path = server_files.get(read, "")
    program = READS[read].format(path=str(path)) + "\ndef f():\n    return 1\n"
    detail = _attack(scratch, program)
    for file in server_files.values():
        assert file.read_text() not in detail


def test_scratch_root_still_runs_the_standard_library(scratch: CodeVerifier, host: None) -> None:
    program = ("import json, math, re, collections, itertools, functools, subprocess, sys\n"
               "import sqlite3, decimal, fractions, ctypes, hashlib\n"
               "out = subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout\n"
               "def f():\n    return int(out) // 42\n")
    verdict = scratch.verify(program, TESTS)
    assert verdict.correct, verdict


def test_scratch_root_is_reported_as_isolation(scratch: CodeVerifier) -> None:
    isolation = scratch.isolation
    assert isolation.private_root and isolation.network_blocked and isolation.read_only_filesystem


@pytest.mark.parametrize("attack", ["fork-bomb", "process-bomb", "memory-bomb-growth", "huge-file"])
def test_scratch_root_contains_resource_attacks(scratch: CodeVerifier, host: None, attack: str) -> None:
    _attack(scratch, RESOURCE_ATTACKS[attack] + "\ndef f():\n    return 1\n")


def test_scratch_root_network_is_denied(scratch: CodeVerifier, host: None, listener: socket.socket) -> None:
    detail = _attack(scratch, _connect_program(listener))
    assert "Network is unreachable" in detail
    assert not _accepted(listener)


def test_scratch_root_cannot_write_outside(scratch: CodeVerifier, host: None, tmp_path: Path) -> None:
    target = tmp_path / "written"
    _attack(scratch, f"open({str(target)!r}, 'w').write('x')\ndef f():\n    return 1\n")
    assert not target.exists()


def test_scratch_root_sees_no_parent_environment(scratch: CodeVerifier, host: None, monkeypatch) -> None:
    monkeypatch.setenv("REASONER_TEST_SECRET", "hunter2")
    detail = _attack(scratch, "import os\nassert False, dict(os.environ)\ndef f():\n    return 1\n")
    assert "hunter2" not in detail and "REASONER_TEST_SECRET" not in detail


def test_private_root_required_fails_closed_without_namespaces() -> None:
    from reasoner.errors import ConfigError

    with pytest.raises(ConfigError, match="private_root"):
        CodeVerifier(timeout=5.0, private_root=True, namespaces=False).isolation
