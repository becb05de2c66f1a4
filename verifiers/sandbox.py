"""A disposable, confined `python3 -I` process for running untrusted code.

`Sandbox.run` executes one *payload* (a function shipped to the child as
source) in a fresh interpreter and returns what happened as data: a
`RunResult` with an outcome, a short detail and the captured output. The code
verifier (`reasoner.verifiers.code`) is its only user; the payload there runs a
model-written program and its tests.

How a run works
---------------
The parent writes the job and a fresh random token into an unlinked temporary
file and starts ``[unshare ...] python3 -I -c <bootstrap> SPEC_FD RESULT_FD``
in a new session, with stdin from /dev/null (or the test's input), a minimal
environment (PATH, LANG, HOME and TMPDIR set to the work directory) and a
fresh work directory as cwd. The child reads and closes the spec, then splits:

- a *supervisor* that keeps the privileges it started with, waits for the
  worker (killing it if the parent goes away or a backstop deadline passes),
  reports the worker's exit status and CPU time, and kills every process left
  behind (orphans are re-parented to it: it is PID 1 of its namespace or a
  child subreaper);
- a *worker* that lowers its limits, drops to the run's private uid, writes
  ``ready`` to the result pipe, runs the payload, and only if the payload
  reports success writes the token back. Forks of the candidate that return
  into the harness exit silently.

The parent decides pass/fail from the result pipe alone (one Python dict
literal per line, read with `ast.literal_eval`): a run passes only if the
token it generated comes back in a success report. The exit status is used
for the failure detail, never for passing. The token is never in argv, the
environment or a named file, and the spec descriptor is closed before the
worker exists. Wall time is enforced by the parent (selectors over the pipes
and a pidfd, no signals, so it works from threads and Ray actors); on overrun
or output overflow it stops, then kills, the whole process tree (and, without
a PID namespace, every process of the run's uid).

Isolation, strongest first (probed once per `Sandbox`; see `Sandbox.isolation`)
-------------------------------------------------------------------------------
- Namespaces via util-linux ``unshare --pid --fork --kill-child --mount-proc
  [--net]`` (plus ``--user --map-root-user`` when not root). In a PID
  namespace nothing outlives the supervisor: when it exits the kernel kills
  every process in the namespace, including ``setsid`` double-forked
  grandchildren. With ``--net`` only a downed loopback exists, so no
  connection to the host or the internet is possible.
- In the mount namespace the whole filesystem is made read-only and nosuid
  (``mount_setattr(AT_RECURSIVE)``), the work directory becomes a fresh,
  size-limited tmpfs, and /dev/shm a small private tmpfs.
- When the parent is root, each concurrent run gets its own unprivileged uid
  from `SANDBOX_UIDS` (leased through an abstract Unix socket name, so
  threads and processes never share one). That makes RLIMIT_NPROC bind (it is
  not enforced for root), keeps runs from signalling or reading each other,
  and lets the parent find and kill every process of the run by uid. Without
  root the program runs as the parent's user (or as root of a user namespace).
- Always: RLIMIT_CPU, RLIMIT_AS, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_CORE=0,
  oom_score_adj=1000 (the OOM killer picks the sandbox first), nice 10,
  PR_SET_NO_NEW_PRIVS, a capped read of stdout+stderr, and a wall-clock limit.

If namespaces are refused (some containers do), the sandbox falls back to a
plain process with the remaining protections and records why in
`Isolation.fallbacks`; it logs a warning. A plain process can reach the
network, write to world-writable directories (/tmp, /var/tmp, /dev/shm) and
fill the disk one `max_file_mb` file at a time; without root it also runs as
the verifier's own user, so it could signal it or write its files. The
sandbox never falls back to running the candidate as root, and a run whose
sandbox fails to start is a `SETUP_ERROR`, never a pass or a fail. Pass
``namespaces=True`` to make namespaces mandatory.

The default interpreter is the system ``python3`` (/usr/bin/python3 here):
the sandbox uid must be able to execute it, which rules out a virtualenv
under /root.

Threat model
------------
Defends against accidental and casually adversarial model-written code:
infinite loops, memory and fork bombs, huge output, huge files, writes outside
the work directory, reading the parent's environment, network access (with
namespaces), killing the parent or other runs, processes that escape the
process group, and faking success by exiting early (``exit(0)``,
``os._exit(0)``, ``SystemExit``) or by printing pass markers.

It is not a VM or a container runtime: there is no seccomp filter, the kernel
is shared, the filesystem is readable (anything world-readable can be read,
and world-writable Unix sockets can be connected to), there is no cgroup, so
memory is bounded per process (up to `max_processes` x `memory_mb` per run,
with the OOM killer pointed at the sandbox first), and the token lives in
the worker's memory while the candidate runs: code that deliberately inspects
the harness (frames, ``gc``, /proc/self/mem) can forge a pass, just as it can
monkeypatch whatever the tests call. Do not run code from a determined
attacker with it. Linux only (needs pidfd, kernel 5.3+; mount_setattr 5.12+
for the read-only filesystem); the child interpreter needs Python 3.9+.
"""

from __future__ import annotations

import ast
import enum
import errno
import functools
import logging
import math
import marshal
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from typing import IO, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from reasoner.errors import ConfigError
from reasoner.verifiers._sandbox_child import Payload, bootstrap, probe_payload
from reasoner.verifiers._sandbox_processes import Watcher, kill_user_processes, user_pids

log = logging.getLogger(__name__)

SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
"""PATH inside the sandbox, and where the interpreter and unshare are looked up."""
SANDBOX_UIDS = range(0x7A00_0000, 0x7A00_0000 + 4096)
"""Private uids for runs when the parent is root: above the ranges Debian, systemd
containers and subuid maps allocate, below 2**31. One uid per concurrent run."""

_DETAIL_CAP = 1000
_SUPERVISOR_GRACE = 2.0
"""Seconds past the time limit after which the supervisor kills the worker itself."""
_PROBE_SECONDS = 30.0


class SandboxConfig(BaseModel):
    """Limits and isolation for every run of one sandbox."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: float = Field(10.0, gt=0, le=3600)
    """Wall-clock seconds per run; CPU time is capped at the same figure rounded up."""
    memory_mb: int = Field(1024, ge=64)
    """Address-space limit (RLIMIT_AS) of each sandboxed process, in MiB."""
    max_processes: int = Field(32, ge=1)
    """Processes and threads the program may have at once (RLIMIT_NPROC)."""
    max_output_bytes: int = Field(1 << 20, ge=1024)
    """Bytes of stdout plus stderr kept; more ends the run as a failure."""
    max_file_mb: int = Field(16, ge=1)
    """Largest file the program may write (RLIMIT_FSIZE), in MiB."""
    disk_mb: int = Field(64, ge=1)
    """Size of the work directory's tmpfs, when the filesystem is isolated."""
    network: Literal["deny", "allow"] = "deny"
    """`deny` runs the program in an empty network namespace where the platform allows it."""
    namespaces: bool | None = None
    """None: use Linux namespaces when they work; True: require them; False: never use them."""
    private_root: bool | None = None
    """None: run in a scratch root (only the interpreter, its standard library and shared libraries; none of
    the host's other files) when the platform allows; True: require it (fail closed); False: never."""
    python: str | None = None
    """Interpreter for the program; default: `python3` on SAFE_PATH (must be usable by the sandbox uid)."""


class Isolation(BaseModel):
    """The isolation actually in effect, as found by probing the machine."""

    model_config = ConfigDict(frozen=True)

    namespaces: tuple[str, ...]
    """Linux namespaces each run gets (`pid`, `mount`, `net`, `user`); empty without unshare."""
    read_only_filesystem: bool
    """Everything except the work directory (a tmpfs) and /dev/shm is read-only."""
    private_uid: bool
    """Each run has its own unprivileged uid; False means the parent's user (or user-namespace root)."""
    network_blocked: bool
    """The program cannot open network connections."""
    private_root: bool = False
    """The program sees a scratch root: the interpreter and its libraries, no other file of the host."""
    python: str
    """The interpreter programs run with."""
    fallbacks: tuple[str, ...] = ()
    """Why stronger configurations were not used."""


class RunOutcome(str, enum.Enum):
    """How one sandboxed run ended."""

    PASSED = "passed"
    """The payload reported success with this run's token."""
    FAILED = "failed"
    """The payload reported a failure (a failing test, an exception)."""
    CRASHED = "crashed"
    """The program ended the process before the payload reported (exit, signal, limit)."""
    TIMEOUT = "timeout"
    """The wall-clock or CPU time limit was exceeded."""
    OUTPUT_LIMIT = "output_limit"
    """stdout plus stderr exceeded `max_output_bytes`."""
    SETUP_ERROR = "setup_error"
    """The sandbox itself failed before the program ran; nothing can be concluded."""


@dataclass(frozen=True)
class RunResult:
    """What one sandboxed run produced."""

    outcome: RunOutcome
    detail: str
    stdout: bytes
    stderr: bytes
    seconds: float


@dataclass(frozen=True)
class _Plan:
    """One way of launching runs, tried by the probe."""

    name: str
    launcher: tuple[str, ...]
    namespaces: tuple[str, ...]
    mounts: bool
    private_uid: bool
    root: bool = False
    """A scratch root (implies `mounts`)."""


class Sandbox:
    """Runs payloads in confined child interpreters. Thread-safe; probes isolation on first use."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.config = config or SandboxConfig()
        self._python = _find_python(self.config.python)
        self._lock = threading.Lock()
        self._chosen: tuple[_Plan, Isolation] | None = None

    @property
    def isolation(self) -> Isolation:
        """The isolation in effect on this machine (probes on first access)."""
        return self._plan_and_isolation()[1]

    def run(self, payload: Payload, job: dict[str, Any], stdin: bytes | None = None) -> RunResult:
        """Run `payload` on `job` once, with `stdin` as standard input (else /dev/null)."""
        plan = self._plan_and_isolation()[0]
        return self._run(plan, payload, job, stdin)

    def _plan_and_isolation(self) -> tuple[_Plan, Isolation]:
        with self._lock:
            if self._chosen is None:
                self._chosen = self._probe()
            return self._chosen

    def _probe(self) -> tuple[_Plan, Isolation]:
        failures: list[str] = []
        probe = Payload.from_functions(probe_payload)
        for plan in _candidate_plans(self.config, os.geteuid() == 0):
            result = self._run(plan, probe, {"read_only": plan.mounts, "private_root": plan.root}, None,
                               timeout=_PROBE_SECONDS)
            if result.outcome is RunOutcome.PASSED:
                if failures:
                    log.warning("sandbox isolation reduced: %s", "; ".join(failures))
                return plan, self._describe(plan, failures)
            failures.append(f"{plan.name}: {result.detail}")
        raise ConfigError("the code sandbox cannot run on this machine: " + "; ".join(failures))

    def _describe(self, plan: _Plan, failures: list[str]) -> Isolation:
        return Isolation(namespaces=plan.namespaces, read_only_filesystem=plan.mounts,
                         private_uid=plan.private_uid, network_blocked="net" in plan.namespaces,
                         private_root=plan.root, python=self._python, fallbacks=tuple(failures))

    def _run(self, plan: _Plan, payload: Payload, job: dict[str, Any], stdin: bytes | None,
             timeout: float | None = None) -> RunResult:
        started = time.monotonic()
        timeout = timeout or self.config.timeout
        token = secrets.token_hex(32)
        with ExitStack() as stack:
            uid = stack.enter_context(_UidLease()) if plan.private_uid else None
            workdir = stack.enter_context(_workdir(None if plan.mounts else uid))
            if uid is not None and "pid" not in plan.namespaces:  # a PID namespace leaves nothing behind
                kill_user_processes(uid)  # leftovers of a holder that crashed
                stack.callback(kill_user_processes, uid)
            spec = self._spec(plan, workdir, uid, job, token, timeout)
            try:
                watcher = stack.enter_context(self._start(plan, payload, spec, stdin, workdir))
            except OSError as error:
                return RunResult(RunOutcome.SETUP_ERROR, f"could not start the sandbox: {error}", b"", b"",
                                 time.monotonic() - started)
            watcher.watch(started + timeout)
            watcher.finish()
        return _result(watcher, token, self.config, timeout, time.monotonic() - started)

    def _spec(self, plan: _Plan, workdir: str, uid: int | None, job: dict[str, Any], token: str,
              timeout: float) -> dict[str, Any]:
        sandbox = {"workdir": workdir, "mounts": plan.mounts, "uid": uid, "disk_mb": self.config.disk_mb,
                   "limits": _rlimits(self.config, plan, timeout),
                   "supervisor_seconds": timeout + _SUPERVISOR_GRACE,
                   "root": scratch_layout(self._python) if plan.root else None}
        return {"token": token, "sandbox": sandbox, "job": job}

    @contextmanager
    def _start(self, plan: _Plan, payload: Payload, spec: dict[str, Any], stdin: bytes | None,
               workdir: str) -> Iterator[Watcher]:
        argv = [*plan.launcher, self._python, "-I", "-c", bootstrap(payload)]
        env = {"PATH": SAFE_PATH, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": workdir, "TMPDIR": workdir}
        with _spec_file(spec) as spec_fd, _stdin_file(stdin) as stdin_file:
            result_r, result_w = os.pipe()
            try:
                proc = subprocess.Popen([*argv, str(spec_fd), str(result_w)], stdin=stdin_file,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=workdir,
                                        pass_fds=(spec_fd, result_w), start_new_session=True)
            except OSError:
                os.close(result_r)
                raise
            finally:
                os.close(result_w)
        watcher = Watcher(proc, result_r, self.config.max_output_bytes)
        try:
            yield watcher
        finally:
            watcher.close()


def _inside(path: str, folders: list[str]) -> bool:
    return any(path != folder and path.startswith(folder.rstrip("/") + "/") for folder in folders)


def _outermost(paths: set[str]) -> list[str]:
    """`paths` without those inside another of them."""
    return sorted(path for path in paths if not _inside(path, list(paths)))


def _find_python(python: str | None) -> str:
    found = shutil.which(python or "python3", path=SAFE_PATH)
    if found is None:
        raise ConfigError(f"no Python interpreter {python or 'python3'!r} found on {SAFE_PATH}")
    return found


def _candidate_plans(config: SandboxConfig, root: bool) -> list[_Plan]:
    """Launch configurations, strongest first, allowed by `config.namespaces` and `config.private_root`."""
    plans = []
    unshare = shutil.which("unshare", path=SAFE_PATH)
    if config.private_root and (config.namespaces is False or unshare is None):
        raise ConfigError(f"private_root=True needs Linux namespaces (`unshare` on {SAFE_PATH}, namespaces not "
                          f"disabled)")
    if config.namespaces is not False and unshare is not None:
        net = ("--net",) if config.network == "deny" else ()
        user = () if root else ("--user", "--map-root-user")
        launcher = (unshare, *user, "--pid", "--fork", "--kill-child", "--mount-proc", *net, "--")
        kinds = ("pid", "mount") + (("net",) if net else ()) + (() if root else ("user",))
        if config.private_root is not False:
            plans.append(_Plan("namespaces, scratch root", launcher, kinds, True, root, root=True))
        if config.private_root is not True:
            plans.append(_Plan("namespaces, read-only filesystem", launcher, kinds, True, root))
            plans.append(_Plan("namespaces", launcher, kinds, False, root))
    elif config.namespaces:
        raise ConfigError(f"namespaces=True but no `unshare` on {SAFE_PATH}")
    if config.namespaces is not True and config.private_root is not True:
        plans.append(_Plan("plain process", (), (), False, root))
    return plans


_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41}
"""pivot_root(2)'s system call number per machine."""
_LAYOUT_PROGRAM = (
    "import json, os, sys, sysconfig, importlib\n"
    "dynload = os.path.join(sysconfig.get_paths()['platstdlib'], 'lib-dynload')\n"
    "for name in sorted(os.listdir(dynload)) if os.path.isdir(dynload) else []:\n"
    "    try:\n        importlib.import_module(name.split('.', 1)[0])\n"
    "    except BaseException:\n        pass\n"
    "maps = [line.split()[-1] for line in open('/proc/self/maps') if '.so' in line.split()[-1]]\n"
    "print(json.dumps({'stdlib': sorted({sysconfig.get_paths()['stdlib'], sysconfig.get_paths()['platstdlib']}),"
    " 'libraries': sorted(set(maps))}))\n")


@functools.cache
def scratch_layout(python: str) -> dict[str, Any]:
    """What a scratch root holds for `python`: its binary, its standard library (site-packages masked), the
    folders of every shared library its extension modules load, the host's top-level symlinks into /usr
    (/lib, /lib64, /bin), four device nodes; and the pivot_root(2) number of this machine."""
    import json
    import platform

    found = subprocess.run([python, "-I", "-c", _LAYOUT_PROGRAM], capture_output=True, text=True, timeout=60,
                           env={"PATH": SAFE_PATH})
    if found.returncode != 0:
        raise ConfigError(f"the code sandbox cannot run {python!r}: it exited with {found.returncode} "
                          f"when asked for its library layout ({found.stderr.strip()[-200:] or 'no message'})")
    info = json.loads(found.stdout)
    links, binary = {}, python
    while os.path.islink(binary):
        links[binary] = os.readlink(binary)
        binary = os.path.join(os.path.dirname(binary), links[binary])
    folders = {os.path.dirname(os.path.realpath(lib)) for lib in info["libraries"]}
    if os.path.isdir("/usr/lib64") and not os.path.islink("/usr/lib64"):
        folders.add("/usr/lib64")
    links.update({f"/{name}": os.readlink(f"/{name}") for name in os.listdir("/")
                  if os.path.islink(f"/{name}") and os.readlink(f"/{name}").lstrip("/").startswith("usr/")})
    masks = [os.path.join(lib, sub) for lib in info["stdlib"] for sub in ("site-packages", "dist-packages")
             if os.path.isdir(os.path.join(lib, sub))]
    binds = _outermost({os.path.realpath(binary), *info["stdlib"], *folders})
    # Nothing may be created inside a bound host folder (it would be created on the host).
    links = {path: target for path, target in links.items() if not _inside(path, binds)}
    binds += [f"/dev/{node}" for node in ("null", "zero", "random", "urandom")]
    machine = platform.machine()
    if machine not in _PIVOT_ROOT:
        raise ConfigError(f"no scratch root on {machine}: its pivot_root number is not known here")
    return {"binds": binds, "links": links, "masks": masks, "pivot_root": _PIVOT_ROOT[machine]}


def _rlimits(config: SandboxConfig, plan: _Plan, timeout: float) -> dict[str, list[int]]:
    cpu = math.ceil(timeout)
    memory = config.memory_mb << 20
    file_size = config.max_file_mb << 20
    processes = config.max_processes
    if not plan.private_uid:  # RLIMIT_NPROC counts every process of the user
        processes += len(user_pids(os.getuid()))
    return {"RLIMIT_CPU": [cpu, cpu + 1], "RLIMIT_AS": [memory, memory],
            "RLIMIT_FSIZE": [file_size, file_size], "RLIMIT_NPROC": [processes, processes],
            "RLIMIT_CORE": [0, 0]}


class _UidLease:
    """Exclusive use of one uid from SANDBOX_UIDS across threads and processes.

    The lease is an abstract Unix socket name: binding is atomic, and the kernel
    frees the name when the holder closes it or dies.
    """

    def __enter__(self) -> int:
        offset = secrets.randbelow(len(SANDBOX_UIDS))
        for i in range(len(SANDBOX_UIDS)):
            uid = SANDBOX_UIDS[(offset + i) % len(SANDBOX_UIDS)]
            if not _has_account(uid) and self._bind(uid):
                return uid
        raise RuntimeError(f"all {len(SANDBOX_UIDS)} sandbox uids are in use")

    def _bind(self, uid: int) -> bool:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(f"\0reasoner-sandbox-uid-{uid}")
        except OSError as error:
            sock.close()
            if error.errno == errno.EADDRINUSE:
                return False
            raise
        self._socket = sock
        return True

    def __exit__(self, *exc: object) -> None:
        self._socket.close()


def _has_account(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


@contextmanager
def _workdir(owner: int | None) -> Iterator[str]:
    path = tempfile.mkdtemp(prefix="reasoner-sandbox-")
    try:
        if owner is not None:
            os.chown(path, owner, owner)
        yield path
    finally:
        _make_removable(path)
        shutil.rmtree(path)


def _make_removable(path: str) -> None:
    """Without root, a program can chmod its own directories so its owner cannot delete them."""
    if os.geteuid() == 0:
        return
    for directory, _, _ in os.walk(path):
        with suppress(PermissionError):
            os.chmod(directory, 0o700)


@contextmanager
def _spec_file(spec: dict[str, Any]) -> Iterator[int]:
    """The spec in an unlinked file: the child reads it once, then nothing names it."""
    with tempfile.TemporaryFile() as handle:
        handle.write(marshal.dumps(spec))
        handle.flush()
        yield handle.fileno()


@contextmanager
def _stdin_file(data: bytes | None) -> Iterator[IO[bytes] | int]:
    """/dev/null, or `data` in an unlinked file the program can read but not write."""
    if data is None:
        yield subprocess.DEVNULL
        return
    with tempfile.TemporaryFile() as handle:
        handle.write(data)
        handle.flush()
        with open(f"/proc/self/fd/{handle.fileno()}", "rb") as read_only:
            yield read_only


def _result(watcher: Watcher, token: str, config: SandboxConfig, timeout: float, seconds: float) -> RunResult:
    outcome, detail = _judge(watcher, token, config, timeout)
    return RunResult(outcome, _shorten(detail, _DETAIL_CAP), watcher.stdout, watcher.stderr, seconds)


def _judge(watcher: Watcher, token: str, config: SandboxConfig, timeout: float) -> tuple[RunOutcome, str]:
    """Outcome and detail of a finished run, from the result pipe; exit codes never pass a run."""
    lines = watcher.report.split(b"\n")
    if lines[0] != b"ready":
        return RunOutcome.SETUP_ERROR, _setup_failure(lines[0], watcher, timeout)
    reports = [r for r in (_parse(line) for line in lines[1:]) if r is not None]
    if watcher.overflowed:
        return RunOutcome.OUTPUT_LIMIT, f"output limit of {config.max_output_bytes} bytes exceeded"
    if any(r.get("passed") is True and secrets.compare_digest(str(r.get("token")).encode(), token.encode())
           for r in reports):
        return RunOutcome.PASSED, ""
    failure = next((r for r in reports if r.get("passed") is False), None)
    if failure is not None:
        return RunOutcome.FAILED, str(failure.get("detail", ""))
    if watcher.timed_out:
        return RunOutcome.TIMEOUT, f"time limit {timeout:g}s exceeded"
    exit_report = next((r for r in reversed(reports) if "exit" in r), {})
    return _crash(exit_report, watcher.stderr, timeout)


def _crash(exit_report: dict[str, Any], stderr: bytes, timeout: float) -> tuple[RunOutcome, str]:
    code, cpu = exit_report.get("exit"), exit_report.get("cpu")
    cpu = cpu if isinstance(cpu, (int, float)) else 0.0
    cpu_limit = math.ceil(timeout)
    if code == -signal.SIGXCPU or (code == -signal.SIGKILL and cpu >= cpu_limit - 0.1):
        return RunOutcome.TIMEOUT, f"CPU time limit {cpu_limit}s exceeded"
    if isinstance(code, int) and code < 0:
        why = f"the program was killed by {_signal_name(-code)}"
    elif isinstance(code, int):
        why = f"the program exited with status {code} before the tests finished"
    else:
        why = "the program ended without a result"
    tail = _last_line(stderr)
    return RunOutcome.CRASHED, f"{why}; stderr: {tail}" if tail else why


def _setup_failure(first_line: bytes, watcher: Watcher, timeout: float) -> str:
    report = _parse(first_line) or {}
    if "setup_error" in report:
        return f"sandbox setup failed: {report['setup_error']}"
    if watcher.timed_out:
        return f"the sandbox did not start within the time limit of {timeout:g}s"
    return f"the sandbox exited before starting (status {watcher.proc.returncode}): {_last_line(watcher.stderr)}"


def _parse(line: bytes) -> dict[str, Any] | None:
    """A report line (a dict literal); None for anything else the program may have written."""
    try:
        value = ast.literal_eval(line.decode("utf-8", "replace"))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _last_line(data: bytes) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()]
    return _shorten(lines[-1], 200) if lines else ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
