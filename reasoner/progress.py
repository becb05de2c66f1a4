"""Progress for long jobs: a live bar on a terminal, plain log lines elsewhere (CI)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Tracks problems done, tokens and accuracy; renders them as a bar or log lines."""

    def __init__(self, total: int, description: str = "solving", stream: TextIO | None = None,
                 log_every_s: float = 10.0) -> None:
        self.total = total
        self.description = description
        self.stream = stream or sys.stderr
        self.done = self.correct = self.tokens = 0
        self.log_every_s = log_every_s
        self._started = self._last_log = time.perf_counter()
        self._bar = None
        self._task = None

    def __enter__(self) -> Progress:
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn,
                                       TimeElapsedColumn, TimeRemainingColumn)

            self._bar = Bar(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(file=self.stream), transient=False)
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, stats="")
        return self

    def update(self, generated_tokens: int, correct: bool | None) -> None:
        """Count one finished problem."""
        self.done += 1
        self.tokens += generated_tokens
        self.correct += bool(correct)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done, stats=self.stats())
        elif time.perf_counter() - self._last_log >= self.log_every_s or self.done == self.total:
            self._last_log = time.perf_counter()
            print(f"{self.description}: {self.done}/{self.total} {self.stats()}", file=self.stream, flush=True)

    def stats(self) -> str:
        elapsed = max(time.perf_counter() - self._started, 1e-9)
        accuracy = self.correct / self.done if self.done else 0.0
        return (f"acc {accuracy:.3f} | {self.done / elapsed:.2f} prob/s | "
                f"{self.tokens / elapsed:.0f} tok/s")

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
