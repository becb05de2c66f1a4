"""Parent-side process plumbing for `reasoner.verifiers.sandbox`: watch a run, then kill what it left.

What it is: `Watcher`, which reads a run's stdout, stderr and result pipe with
bounded memory until the root process exits, a deadline passes or output
overflows, and then stops and kills the whole process tree; and
`kill_user_processes`/`user_pids`, which find and kill every process of a
run's private uid straight from /proc. Signals are never used for timing
(selectors over the pipes and a pidfd), so all of it works from threads and
Ray actors.

What it is not: the policy (limits, isolation plans, judging a run; all in
`reasoner.verifiers.sandbox`) or anything that runs inside the sandbox
(`reasoner.verifiers._sandbox_child`).
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import time
from contextlib import suppress
from typing import IO

import psutil

_OUTPUT_CHUNK = 1 << 16
_RESULT_CAP = 1 << 16
_DRAIN_SECONDS = 1.0
_KILL_ROUNDS = 100


class Watcher:
    """Reads a run's pipes with bounded memory until it exits, overruns or floods."""

    def __init__(self, proc: subprocess.Popen[bytes], result_fd: int, output_cap: int) -> None:
        self.proc = proc
        self.output_cap = output_cap
        self.pidfd = os.pidfd_open(proc.pid)
        self.stdout_fd, self.stderr_fd, self.result_fd = _fileno(proc.stdout), _fileno(proc.stderr), result_fd
        self.streams = {fd: bytearray() for fd in (self.stdout_fd, self.stderr_fd, result_fd)}
        self.output_bytes = 0
        self.exited = self.timed_out = self.overflowed = False
        self.selector = selectors.DefaultSelector()
        for fd in (*self.streams, self.pidfd):
            self.selector.register(fd, selectors.EVENT_READ)

    @property
    def stdout(self) -> bytes:
        return bytes(self.streams[self.stdout_fd])

    @property
    def stderr(self) -> bytes:
        return bytes(self.streams[self.stderr_fd])

    @property
    def report(self) -> bytes:
        return bytes(self.streams[self.result_fd])

    def watch(self, deadline: float) -> None:
        """Read until the root process exits, the deadline passes or output overflows."""
        self._pump(deadline, stop_on_overflow=True)
        self.timed_out = not (self.exited or self.overflowed)

    def finish(self) -> None:
        """Kill what is left of the run, reap the root, then read the pipes to the end.

        The root (unshare, or the supervisor) is spared unless it hangs: the
        supervisor reaps everything below it before exiting, and when a PID
        namespace's init dies the kernel kills the namespace before unshare can
        reap it, so no zombie or survivor is left once the root is reaped.
        """
        for attempt in range(3):
            if not self.exited:
                _kill_tree(self.proc.pid, include_root=attempt == 2)
            self._pump(time.monotonic() + 5, stop_on_overflow=False)  # keep pipes flowing so nothing blocks
        self.proc.wait()
        self._drain(time.monotonic() + _DRAIN_SECONDS)

    def close(self) -> None:
        self.selector.close()
        os.close(self.pidfd)
        os.close(self.result_fd)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def _pump(self, deadline: float, stop_on_overflow: bool) -> None:
        """Read (past the caps, discarding) until the root exits or the deadline passes."""
        while not self.exited and not (stop_on_overflow and self.overflowed):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            for key, _ in self.selector.select(remaining):
                self._on_ready(key.fd)

    def _drain(self, deadline: float) -> None:
        with suppress(KeyError):
            self.selector.unregister(self.pidfd)
        while self.selector.get_map() and (remaining := deadline - time.monotonic()) > 0:
            for key, _ in self.selector.select(remaining):
                self._on_ready(key.fd)

    def _on_ready(self, fd: int) -> None:
        if fd == self.pidfd:
            self.exited = True
            self.selector.unregister(fd)
            return
        chunk = os.read(fd, _OUTPUT_CHUNK)
        if not chunk:
            self.selector.unregister(fd)
        elif fd == self.result_fd:
            self._keep(fd, chunk, _RESULT_CAP - len(self.streams[fd]))
        else:
            self._keep(fd, chunk, self.output_cap - self.output_bytes)
            self.output_bytes += len(chunk)
            self.overflowed = self.overflowed or self.output_bytes > self.output_cap

    def _keep(self, fd: int, chunk: bytes, room: int) -> None:
        self.streams[fd] += chunk[:max(room, 0)]


def _fileno(stream: IO[bytes] | None) -> int:
    if stream is None:
        raise RuntimeError("the sandbox process was started without a pipe")
    return stream.fileno()


def _kill_tree(root: int, include_root: bool) -> None:
    """Stop, then kill, every descendant of `root`: stopped processes cannot fork meanwhile."""
    stopped: dict[int, psutil.Process] = {}
    for _ in range(_KILL_ROUNDS):
        fresh = [p for p in _tree(root, include_root) if p.pid not in stopped]
        if not fresh:
            break
        for process in fresh:
            with suppress(psutil.NoSuchProcess):
                process.suspend()
            stopped[process.pid] = process
    for process in stopped.values():
        with suppress(psutil.NoSuchProcess):
            process.kill()
    _wait_dead(list(stopped.values()), timeout=5)


def _wait_dead(processes: list[psutil.Process], timeout: float) -> None:
    """Wait until none of `processes` runs; zombies count as dead (whoever adopted them reaps them)."""
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in processes) and time.monotonic() < deadline:
        time.sleep(0.005)


def _tree(root: int, include_root: bool) -> list[psutil.Process]:
    try:
        process = psutil.Process(root)
        found = process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    found = [p for p in found if _alive(p)]
    return [process, *found] if include_root and _alive(process) else found


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def kill_user_processes(uid: int) -> None:
    """SIGKILL every live process of `uid` until none is left; they may be forking meanwhile."""
    for _ in range(_KILL_ROUNDS):
        pids = user_pids(uid)
        if not pids:
            return
        for pid in pids:
            _kill_if_owned(pid, uid)
        deadline = time.monotonic() + 1
        while user_pids(uid) and time.monotonic() < deadline:
            time.sleep(0.005)
    raise RuntimeError(f"could not kill the processes of sandbox uid {uid}")


def user_pids(uid: int) -> list[int]:
    """Live (non-zombie) processes whose real uid is `uid`, read straight from /proc (psutil is 10x slower)."""
    return [int(entry.name) for entry in os.scandir("/proc")
            if entry.name.isdigit() and _real_uid(entry.name, live_only=True) == uid]


def _real_uid(pid: str, live_only: bool) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            status = handle.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    if live_only and b"\nState:\tZ" in status:
        return None
    start = status.find(b"\nUid:\t")
    return int(status[start + 6:].split(None, 1)[0]) if start >= 0 else None


def _kill_if_owned(pid: int, uid: int) -> None:
    """Kill `pid` if it still belongs to `uid`; the pidfd pins the process between check and kill."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        if _real_uid(str(pid), live_only=False) == uid:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it exited meanwhile
    finally:
        os.close(pidfd)
