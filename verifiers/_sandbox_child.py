"""Child side of the sandbox: the program that ``python3 -I -c`` runs for each payload.

What it is: `bootstrap(payload)` assembles that program as source text: lean
standard-library imports, the constants below as literals, the ``_child_*``
functions (through `inspect.getsource`), the payload's source, and a call to
`_child_main`, which reads the spec, prepares the filesystem, forks the
worker and supervises it (see `reasoner.verifiers.sandbox` for how a run works and the
threat model). `probe_payload` is the payload the isolation probe ships.

The code travels as text on purpose: the sandbox uid cannot read this
repository or a virtualenv under /root, and ``-I`` ignores PYTHONPATH, so the
child could not import this module. Hence the functions here use only the
standard library, reach each other by name, read only the constants that
`bootstrap` defines, and are never called in the parent.

What it is not: the parent-side runner, limits and judging
(`reasoner.verifiers.sandbox`), or watching pipes and killing processes
(`reasoner.verifiers._sandbox_processes`).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import inspect
import marshal
import os
import resource
import select
import signal
import struct
import sys
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

# Lean imports: every run pays for them (json alone would pull in `re`).
_CHILD_IMPORTS = ("import ctypes, errno, marshal, os, resource, select, signal, struct, sys, time\n"
                  "from contextlib import suppress\n")
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
SYS_MOUNT_SETATTR = 442  # the same number on x86-64 and arm64
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
MNT_DETACH = 0x2
OOM_SCORE_ADJ = 1000
NICENESS = 10
_CHILD_CONSTANTS = ("PR_SET_CHILD_SUBREAPER", "PR_SET_NO_NEW_PRIVS", "SYS_MOUNT_SETATTR", "AT_FDCWD",
                    "AT_RECURSIVE", "MOUNT_ATTR_RDONLY", "MOUNT_ATTR_NOSUID", "MS_NOSUID", "MS_NODEV",
                    "MS_NOEXEC", "MS_BIND", "MS_REC", "MS_PRIVATE", "MNT_DETACH", "OOM_SCORE_ADJ", "NICENESS")


@dataclass(frozen=True)
class Payload:
    """Child-side code: `source` defines `entry(job: dict) -> tuple[bool, str]`."""

    source: str
    entry: str

    @classmethod
    def from_functions(cls, *functions: Callable[..., Any], prelude: str = "") -> Payload:
        """Ship module-level functions as source; the first one is the entry point."""
        source = prelude + "\n\n".join(inspect.getsource(f) for f in functions)
        return cls(source=source, entry=functions[0].__name__)


@functools.lru_cache(maxsize=16)
def bootstrap(payload: Payload) -> str:
    constants = "".join(f"{name} = {globals()[name]!r}\n" for name in _CHILD_CONSTANTS)
    functions = "\n\n".join(inspect.getsource(f) for f in _CHILD_FUNCTIONS)
    return (f"from __future__ import annotations\n{_CHILD_IMPORTS}{constants}\n{functions}\n\n"
            f"{payload.source}\n\n_child_main({payload.entry})\n")


def _child_main(run_payload: Callable[[dict], tuple[bool, str]]) -> None:
    """Read the spec, prepare the filesystem, then fork the worker and supervise it."""
    spec_fd, result_fd = int(sys.argv[1]), int(sys.argv[2])
    spec = marshal.loads(_child_read_all(spec_fd))
    try:
        _child_prepare(spec["sandbox"])
    except OSError as error:
        _child_setup_failed(result_fd, error)
    worker = os.fork()
    if worker == 0:
        _child_work(spec, result_fd, run_payload)
    _child_supervise(worker, result_fd, spec["sandbox"]["supervisor_seconds"])


def _child_read_all(fd: int) -> bytes:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks)


def _child_prepare(cfg: dict) -> None:
    """As the launching user: OOM preference, subreaper, private filesystem, cwd."""
    with open("/proc/self/oom_score_adj", "w") as handle:
        handle.write(str(OOM_SCORE_ADJ))
    _child_prctl(PR_SET_CHILD_SUBREAPER, 1)
    if cfg.get("root"):
        _child_enter_root(cfg)
    elif cfg["mounts"]:
        _child_mount_private(cfg)
    os.chdir(cfg["workdir"])


def _child_mount_private(cfg: dict) -> None:
    """Read-only, nosuid view of every mount; a fresh tmpfs for the work directory and /dev/shm."""
    libc = ctypes.CDLL(None, use_errno=True)
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0), 32)
    done = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_long(AT_FDCWD), ctypes.c_char_p(b"/"),
                        ctypes.c_long(AT_RECURSIVE), attr, ctypes.c_long(32))
    if done != 0:
        raise OSError(ctypes.get_errno(), "mount_setattr(/, read-only) failed")
    owner = "" if cfg["uid"] is None else f",uid={cfg['uid']},gid={cfg['uid']}"
    _child_mount_tmpfs(libc, cfg["workdir"], f"size={cfg['disk_mb']}m,nr_inodes=4096,mode=700{owner}")
    if os.path.isdir("/dev/shm"):
        _child_mount_tmpfs(libc, "/dev/shm", "size=16m,nr_inodes=256,mode=1777")


def _child_enter_root(cfg: dict) -> None:
    """Make a scratch root (a tmpfs on the work directory's path) holding only what `cfg["root"]` lists (the
    interpreter, its standard library, the shared libraries they load, four /dev nodes, a fresh /proc),
    pivot into it, drop the old root, make it all read-only, then mount the work directory and /dev/shm."""
    libc = ctypes.CDLL(None, use_errno=True)
    layout, new = cfg["root"], cfg["workdir"]
    _child_mount(libc, None, "/", None, MS_REC | MS_PRIVATE, None)
    _child_mount(libc, "tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=755")
    for source in layout["binds"]:
        target = new + source
        if os.path.isdir(source):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o644))
        _child_mount(libc, source, target, None, MS_BIND | MS_REC, None)
    for mask in layout["masks"]:
        _child_mount(libc, "tmpfs", new + mask, "tmpfs", MS_NOSUID | MS_NODEV, "size=4k,nr_inodes=8,mode=555")
    for path, target in layout["links"].items():
        os.makedirs(os.path.dirname(new + path), exist_ok=True)
        os.symlink(target, new + path)
    for directory in ("/proc", "/dev/shm", cfg["workdir"], "/.old"):
        os.makedirs(new + directory, exist_ok=True)
    _child_mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
    os.chdir(new)
    if libc.syscall(ctypes.c_long(layout["pivot_root"]), b".", b".old") != 0:
        raise OSError(ctypes.get_errno(), "pivot_root into the scratch root failed")
    os.chdir("/")
    if libc.umount2(b"/.old", ctypes.c_int(MNT_DETACH)) != 0:
        raise OSError(ctypes.get_errno(), "detaching the old root failed")
    os.rmdir("/.old")
    _child_read_only(libc)
    owner = "" if cfg["uid"] is None else f",uid={cfg['uid']},gid={cfg['uid']}"
    _child_mount_tmpfs(libc, cfg["workdir"], f"size={cfg['disk_mb']}m,nr_inodes=4096,mode=700{owner}")
    _child_mount_tmpfs(libc, "/dev/shm", "size=16m,nr_inodes=256,mode=1777")


def _child_mount(libc: ctypes.CDLL, source, target: str, kind, flags: int, options) -> None:
    encode = (lambda text: None if text is None else text.encode())
    if libc.mount(encode(source), target.encode(), encode(kind), ctypes.c_ulong(flags), encode(options)) != 0:
        raise OSError(ctypes.get_errno(), f"mounting {source or kind} on {target} failed")


def _child_read_only(libc: ctypes.CDLL) -> None:
    attr = ctypes.create_string_buffer(struct.pack("QQQQ", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0), 32)
    done = libc.syscall(ctypes.c_long(SYS_MOUNT_SETATTR), ctypes.c_long(AT_FDCWD), ctypes.c_char_p(b"/"),
                        ctypes.c_long(AT_RECURSIVE), attr, ctypes.c_long(32))
    if done != 0:
        raise OSError(ctypes.get_errno(), "mount_setattr(/, read-only) failed")


def _child_mount_tmpfs(libc: ctypes.CDLL, target: str, options: str) -> None:
    if libc.mount(b"tmpfs", target.encode(), b"tmpfs", ctypes.c_ulong(MS_NOSUID | MS_NODEV), options.encode()) != 0:
        raise OSError(ctypes.get_errno(), f"mounting a tmpfs on {target} failed")


def _child_prctl(option: int, value: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    zero = ctypes.c_ulong(0)
    if libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), zero, zero, zero) != 0:
        raise OSError(ctypes.get_errno(), f"prctl({option}) failed")


def _child_setup_failed(result_fd: int, error: BaseException) -> None:
    os.write(result_fd, (repr({"setup_error": f"{type(error).__name__}: {error}"}) + "\n").encode())
    os._exit(3)


def _child_work(spec: dict, result_fd: int, run_payload: Callable[[dict], tuple[bool, str]]) -> None:
    """The worker: confine, announce, run the payload, report. Never returns."""
    write, exit_now, getpid, encode = os.write, os._exit, os.getpid, repr  # bound before untrusted code runs
    token = spec.pop("token")
    try:
        _child_confine(spec["sandbox"])
    except (OSError, ValueError) as error:
        _child_setup_failed(result_fd, error)
    owner = getpid()
    write(result_fd, b"ready\n")
    try:
        passed, detail = run_payload(spec["job"])
    except BaseException as error:  # the payload reports program errors itself; this is a harness fault
        passed, detail = False, f"harness error: {type(error).__name__}: {error}"
    if getpid() != owner:
        exit_now(1)  # a fork made by the program came back into the harness
    report = {"passed": True, "token": token} if passed is True else {"passed": False, "detail": str(detail)}
    write(result_fd, (encode(report) + "\n").encode())
    exit_now(0)


def _child_confine(cfg: dict) -> None:
    """Lower priority and limits, drop to the run's uid, forbid regaining privileges."""
    os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
    for name, (soft, hard) in cfg["limits"].items():
        resource_id = getattr(resource, name)
        current_hard = resource.getrlimit(resource_id)[1]
        if current_hard != resource.RLIM_INFINITY:
            hard = min(hard, current_hard)
        resource.setrlimit(resource_id, (min(soft, hard), hard))
    if cfg["uid"] is not None:
        _child_drop_privileges(cfg["uid"])
    _child_prctl(PR_SET_NO_NEW_PRIVS, 1)


def _child_drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getresuid() != (uid, uid, uid) or os.getresgid() != (uid, uid, uid) or os.getgroups():
        raise PermissionError(f"could not drop privileges to uid {uid}")


def _child_supervise(worker: int, result_fd: int, seconds: float) -> None:
    """Wait for the worker, stopping early if the parent disappears; report; clean up. Never returns."""
    worker_fd = os.pidfd_open(worker)
    poller = select.poll()
    poller.register(worker_fd, select.POLLIN)
    poller.register(result_fd, 0)  # POLLERR once the parent closes its end
    deadline = time.monotonic() + seconds
    while not poller.poll(max(deadline - time.monotonic(), 0) * 1000) and time.monotonic() < deadline:
        pass
    os.kill(worker, signal.SIGKILL)  # a no-op if it already exited: it is our unreaped child
    _, status, usage = os.wait4(worker, 0)
    exit_report = {"exit": os.waitstatus_to_exitcode(status), "cpu": usage.ru_utime + usage.ru_stime}
    with suppress(BrokenPipeError):  # the parent is gone; there is no one to tell
        os.write(result_fd, (repr(exit_report) + "\n").encode())
    _child_kill_children()
    os._exit(0)


def _child_kill_children() -> None:
    """Kill our children until none is left; orphans of the program are re-parented to us."""
    for _ in range(1000):
        children = _child_children()
        if not children:
            return
        for pid in children:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in children:
            with suppress(ChildProcessError):
                os.waitpid(pid, 0)


def _child_children() -> list[int]:
    with open(f"/proc/self/task/{os.getpid()}/children") as handle:
        return [int(pid) for pid in handle.read().split()]


def probe_payload(job: dict) -> tuple[bool, str]:
    """Probe: the work directory is writable and, when promised, the rest is not (and, in a scratch root,
    not even there)."""
    with open("probe.txt", "w") as handle:
        handle.write("ok")
    if job.get("private_root") and (os.path.exists("/etc/passwd") or os.path.exists("/root")):
        return False, "the host's files are visible in the scratch root"
    if job["read_only"]:
        try:
            open("/probe-must-fail", "w").close()
        except OSError as error:
            return error.errno == errno.EROFS, f"writing to / failed with {error}, not EROFS"
        return False, "the root filesystem is writable"
    return True, ""


_CHILD_FUNCTIONS = (_child_main, _child_read_all, _child_prepare, _child_mount_private, _child_enter_root,
                    _child_mount, _child_read_only, _child_mount_tmpfs,
                    _child_prctl, _child_setup_failed, _child_work, _child_confine, _child_drop_privileges,
                    _child_supervise, _child_kill_children, _child_children)
