"""SQLite persistence for the jobs API: jobs, their problems, and one row per finished problem.

Every record is committed as soon as it is written, and a record's key is
(job, problem id), so a job resumed after `kill -9` skips what is stored and
can never store a problem twice. `JobRecords` has the methods of
`reasoner.jobs.RecordStore` (`done`, `records`, `write`, `close`) and plugs
into the same runner as `reasoner solve`.

Not here: HTTP, or running jobs (see `reasoner.service.job_manager`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from reasoner.errors import ResumeMismatchError

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    kind TEXT NOT NULL DEFAULT 'solve',
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    problems TEXT NOT NULL,
    total INTEGER NOT NULL,
    summary TEXT,
    error TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    job_id TEXT NOT NULL REFERENCES jobs(id),
    problem_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (job_id, problem_id)
);
"""
UNFINISHED = ("queued", "running")


class JobRow(BaseModel):
    """One job as stored."""

    id: str
    owner: str
    """Digest prefix of the API key that made it."""
    kind: str = "solve"
    """`solve` (records in this database) or `sweep` (records and plots in its artifacts folder)."""
    status: str
    """queued, running, succeeded, failed or cancelled."""
    config: dict[str, Any]
    """The `JobConfig`, as JSON."""
    config_hash: str
    total: int
    """Problems in the job."""
    summary: dict[str, Any] | None = None
    error: str | None = None
    created: float
    updated: float


class ServiceDB:
    """One SQLite file, shared by the app's request handlers and its running jobs."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process, not a power cut
        self._db.executescript(SCHEMA)

    def _run(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def create_job(self, job_id: str, owner: str, config_json: str, config_hash: str, problems_json: str,
                   total: int, kind: str = "solve") -> None:
        now = time.time()
        self._run("INSERT INTO jobs (id, owner, kind, status, config, config_hash, problems, total, created, "
                  "updated) VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)",
                  (job_id, owner, kind, config_json, config_hash, problems_json, total, now, now))

    def job(self, job_id: str, owner: str | None = None) -> JobRow | None:
        """The job, or None if it does not exist or belongs to another owner."""
        rows = self._run("SELECT id, owner, status, config, config_hash, total, summary, error, created, updated, "
                         "kind FROM jobs WHERE id = ?", (job_id,))
        if not rows or (owner is not None and rows[0][1] != owner):
            return None
        row = rows[0]
        return JobRow(id=row[0], owner=row[1], status=row[2], config=json.loads(row[3]), config_hash=row[4],
                      total=row[5], summary=json.loads(row[6]) if row[6] else None, error=row[7],
                      created=row[8], updated=row[9], kind=row[10])

    def problems_json(self, job_id: str) -> str:
        return self._run("SELECT problems FROM jobs WHERE id = ?", (job_id,))[0][0]

    def set_status(self, job_id: str, status: str, *, summary: dict[str, Any] | None = None,
                   error: str | None = None) -> None:
        self._run("UPDATE jobs SET status = ?, summary = COALESCE(?, summary), error = ?, updated = ? WHERE id = ?",
                  (status, json.dumps(summary) if summary is not None else None, error, time.time(), job_id))

    def jobs(self, owner: str | None) -> list[JobRow]:
        """Every job of `owner` (None: of every owner), newest first."""
        where, args = ("WHERE owner = ?", (owner,)) if owner is not None else ("", ())
        ids = [row[0] for row in self._run(f"SELECT id FROM jobs {where} ORDER BY created DESC", args)]
        return [row for row in (self.job(job_id) for job_id in ids) if row is not None]

    def delete(self, job_id: str) -> None:
        """Remove the job and its records."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute("DELETE FROM records WHERE job_id = ?", (job_id,))
            self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            self._db.execute("COMMIT")

    def finished_before(self, cutoff: float) -> list[str]:
        """Jobs that finished (succeeded, failed or cancelled) before `cutoff` (a Unix time)."""
        rows = self._run(f"SELECT id FROM jobs WHERE status NOT IN {UNFINISHED} AND updated < ?", (cutoff,))
        return [row[0] for row in rows]

    def unfinished(self) -> list[str]:
        rows = self._run(f"SELECT id FROM jobs WHERE status IN {UNFINISHED} ORDER BY created")
        return [row[0] for row in rows]

    def active_jobs(self, owner: str | None) -> int:
        """Unfinished jobs of `owner` (None: of every owner)."""
        if owner is None:
            return self._run(f"SELECT COUNT(*) FROM jobs WHERE status IN {UNFINISHED}")[0][0]
        return self._run(f"SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN {UNFINISHED}", (owner,))[0][0]

    def done_count(self, job_id: str) -> int:
        return self._run("SELECT COUNT(*) FROM records WHERE job_id = ?", (job_id,))[0][0]

    def records(self, job_id: str, batch: int = 256) -> Iterator[str]:
        """The job's records as JSON text, in the order they were written, read in batches."""
        last = -1
        while True:
            rows = self._run("SELECT seq, record FROM records WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                             (job_id, last, batch))
            if not rows:
                return
            for seq, record in rows:
                yield record
            last = rows[-1][0]

    def add_record(self, job_id: str, problem_id: str, record_json: str) -> bool:
        """Store one record; False (and nothing written) if the problem already has one."""
        with self._lock:
            seq = self._db.execute("SELECT COALESCE(MAX(seq), -1) + 1 FROM records WHERE job_id = ?",
                                   (job_id,)).fetchone()[0]
            cursor = self._db.execute("INSERT OR IGNORE INTO records (job_id, problem_id, seq, record) "
                                      "VALUES (?, ?, ?, ?)", (job_id, problem_id, seq, record_json))
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._db.close()


class JobRecords:
    """A job's `reasoner.jobs.RecordStore` over SQLite, keyed by problem: what `run_job` writes to.

    Opening reads the job's records once for their keys and configuration
    hashes (not keeping them), and refuses records of another configuration.
    """

    def __init__(self, db: ServiceDB, job_id: str, config_hash: str) -> None:
        self.db = db
        self.job_id = job_id
        self.config_hash = config_hash
        self._done: set[str] = set()
        others: set[str] = set()
        for record in self.records():
            self._done.add(record["problem_id"])
            if record.get("config_hash") != config_hash:
                others.add(str(record.get("config_hash")))
        if others:
            raise ResumeMismatchError(f"job {job_id} holds records of configuration {sorted(others)[0]}, "
                                      f"not {config_hash}; the model's weights or the code changed")

    def done(self) -> set[str]:
        return set(self._done)

    def records(self) -> Iterator[dict[str, Any]]:
        return (json.loads(text) for text in self.db.records(self.job_id))

    def write(self, record: dict[str, Any]) -> None:
        if record["problem_id"] in self._done:
            return
        if record.get("error"):  # the traceback goes to the server log; the record keeps its type and incident id
            from reasoner.service.http_errors import safe_error_text

            record = {**record, "error": safe_error_text(record["error"], f"job {self.job_id}: the strategy raised")}
        self.db.add_record(self.job_id, record["problem_id"], json.dumps(record))
        self._done.add(record["problem_id"])

    def close(self) -> None:
        """Records are committed one by one; nothing is buffered."""
