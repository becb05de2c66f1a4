"""Killable worker processes for the math verifier's sympy comparisons.

What it is: a small pool of plain subprocesses (``python -c`` running
`serve`), each fed length-prefixed pickles over its stdin and answering on
its stdout. A comparison that overruns its time limit gets its worker
SIGKILLed (a C-level bigint power cannot be interrupted any other way) and a
fresh worker takes its place.

Why not `multiprocessing`/pebble: spawn and forkserver children re-run the
caller's main module, so a plain script without an ``if __name__ ==
"__main__":`` guard (or ``python -`` reading stdin) that calls the verifier at
top level died with BrokenProcessPool. These workers import only
`reasoner.verifiers._math_compare`, with the parent's ``sys.path``, so they work the
same from a script, stdin, a notebook, threads or a Ray actor.

What it is not: a sandbox. Workers run trusted code (ours) on untrusted
strings that are parsed, never evaluated.
"""

from __future__ import annotations

import os
import pickle
import queue
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from typing import Any

from reasoner.errors import VerifierError

_HEADER = struct.Struct("!Q")
_START_SECONDS = 120.0
_BOOT = ("import pickle, sys, struct\n"
         "n = struct.unpack('!Q', sys.stdin.buffer.read(8))[0]\n"
         "sys.path[:] = pickle.loads(sys.stdin.buffer.read(n))\n"
         "from reasoner.verifiers._math_workers import serve\n"
         "serve()\n")


class WorkerTimeout(Exception):
    """The comparison did not finish in time; its worker was killed."""


class WorkerDied(Exception):
    """The worker process exited without answering."""


def serve() -> None:
    """Worker main loop: read (function name, args) frames, write result frames, until EOF."""
    from reasoner.verifiers import _math_compare

    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # stray prints must not corrupt the frame stream
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    settings = _read_frame(stdin)
    if settings is None:
        return
    _math_compare.init_worker(settings)
    _write_frame(stdout, "ready")
    while (request := _read_frame(stdin)) is not None:
        name, args = request
        result = getattr(_math_compare, name)(*args)
        _write_frame(stdout, result)


def _exit_with_parent(parent: int) -> None:
    """A worker busy in a long computation would not see its stdin close: poll the parent instead."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _read_frame(stream: Any) -> Any:
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    return pickle.loads(stream.read(_HEADER.unpack(header)[0]))


def _write_frame(stream: Any, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


class _Worker:
    """One subprocess; used by one thread at a time."""

    def __init__(self, memory_mb: int | None) -> None:
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        except OSError as exc:
            raise VerifierError(f"cannot start a math verifier worker ({sys.executable}): {exc}") from exc
        self._buffer = b""
        paths = pickle.dumps([p for p in sys.path if isinstance(p, str)])
        self._send_raw(_HEADER.pack(len(paths)) + paths)
        self._send(memory_mb)
        try:
            ready = self._receive(time.monotonic() + _START_SECONDS)
        except (WorkerTimeout, WorkerDied) as exc:
            self.kill()
            raise VerifierError(f"a math verifier worker did not start within {_START_SECONDS} s "
                                f"({type(exc).__name__}: {exc}); is sympy installed for {sys.executable}?") from None
        if ready != "ready":
            self.kill()
            raise VerifierError(f"a math verifier worker answered {ready!r} instead of starting")

    def call(self, name: str, args: tuple, timeout: float) -> Any:
        """Run `name(*args)` in the worker; WorkerTimeout after `timeout` seconds."""
        self._send((name, args))
        return self._receive(time.monotonic() + timeout)

    def _send(self, value: Any) -> None:
        data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        self._send_raw(_HEADER.pack(len(data)) + data)

    def _send_raw(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(f"worker stdin closed: {exc}") from None

    def _receive(self, deadline: float) -> Any:
        fd = self.process.stdout.fileno()
        while True:
            if len(self._buffer) >= _HEADER.size:
                size = _HEADER.unpack(self._buffer[:_HEADER.size])[0]
                if len(self._buffer) >= _HEADER.size + size:
                    frame = self._buffer[_HEADER.size:_HEADER.size + size]
                    self._buffer = self._buffer[_HEADER.size + size:]
                    return pickle.loads(frame)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise WorkerTimeout()
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    code = self.process.wait()
                    raise WorkerDied(f"worker exited with code {code}")
                self._buffer += chunk

    def kill(self) -> None:
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass


class WorkerPool:
    """Up to `size` workers; thread-safe.

    Workers start in background threads: all of them at the first call, and a
    replacement as soon as one is killed, so a timeout does not make the next
    comparison wait for a fresh interpreter (seconds on a loaded machine).
    """

    def __init__(self, size: int, memory_mb: int | None) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self._idle: queue.Queue[_Worker | BaseException] = queue.Queue()
        self._slots = threading.BoundedSemaphore(size)
        self._all: set[_Worker] = set()
        self._starting = 0
        self._lock = threading.Lock()
        self._closed = False

    def call(self, name: str, args: tuple, timeout: float) -> Any:
        """Run one task; WorkerTimeout or WorkerDied when it does not answer."""
        with self._slots:
            worker = self._take()
            try:
                result = worker.call(name, args, timeout)
            except BaseException:
                self._discard(worker)  # timed out, died, or interrupted mid-frame: never reuse it
                raise
            self._idle.put(worker)
            return result

    def _take(self) -> _Worker:
        with self._lock:
            if self._closed:
                raise VerifierError("the math verifier's workers were closed")
            missing = self.size - len(self._all) - self._starting
            self._starting += max(missing, 0)
        for _ in range(max(missing, 0)):
            threading.Thread(target=self._start_one, name="math-verifier-start", daemon=True).start()
        try:
            found = self._idle.get(timeout=_START_SECONDS * 2)
        except queue.Empty:
            raise VerifierError(f"no math verifier worker became free within {_START_SECONDS * 2:g} s") from None
        if isinstance(found, BaseException):
            raise found
        return found

    def _start_one(self) -> None:
        try:
            worker: _Worker | BaseException = _Worker(self.memory_mb)
        except BaseException as exc:  # handed to the caller waiting for this worker
            worker = exc
        with self._lock:
            self._starting -= 1
            if isinstance(worker, _Worker):
                if self._closed:
                    worker.kill()
                    return
                self._all.add(worker)
        self._idle.put(worker)

    def _discard(self, worker: _Worker) -> None:
        worker.kill()
        with self._lock:
            self._all.discard(worker)
            replace = not self._closed
            if replace:
                self._starting += 1
        if replace:
            threading.Thread(target=self._start_one, name="math-verifier-start", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._all = list(self._all), set()
        for worker in workers:
            worker.kill()
