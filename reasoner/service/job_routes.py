"""The jobs API's routes: submit, list, read, results, artifacts, cancel and delete.

- `POST /v1/jobs` submits a solve or sweep job (`reasoner.service.job_manager.JobRequest`);
- `GET /v1/jobs` lists the key's own jobs, newest first; `?all=true` lists every key's (admin keys only);
- `GET /v1/jobs/{id}` (and `/results`, `/artifacts/{name}`): another key's job looks exactly like a
  missing one, except to an admin key;
- `DELETE /v1/jobs/{id}`: an unfinished job is cancelled (its record stays, status `cancelled`, and the
  answer is the job); a finished one (succeeded, failed or cancelled) is deleted with its records and
  artifacts, and the answer is `{"id", "object": "job.deleted", "deleted": true}`.

Records go out client-safe: a strategy's error is its type and an incident id
(`reasoner.service.http_errors`), never its traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse

from reasoner.errors import RequestError
from reasoner.service.guard import parse_json
from reasoner.service.job_manager import ARTIFACTS, JobManager, JobRequest
from reasoner.service.keys import Caller
from reasoner.service.limiter import KeyLimiter
from reasoner.service.schemas import validate
from reasoner.service.store import UNFINISHED, JobRow, ServiceDB


def job_routes(db: ServiceDB, jobs: JobManager, limiter: KeyLimiter, caller) -> APIRouter:
    router = APIRouter()
    limits = jobs.config.limits

    @router.post("/v1/jobs")
    async def create_job(request: Request, who: Caller = Depends(caller)) -> JSONResponse:
        limiter.request(who.owner)
        job_request = validate(JobRequest, parse_json(await request.body(), limits))
        row = jobs.submit(who.owner, job_request)
        return JSONResponse(jobs.view(row), status_code=201)

    @router.get("/v1/jobs")
    async def list_jobs(all: bool = False, who: Caller = Depends(caller)) -> dict[str, Any]:
        if all and not who.admin:
            raise RequestError("listing every key's jobs needs an admin key", param="all", status=403,
                               code="forbidden")
        rows = db.jobs(None if all else who.owner)
        return {"object": "list", "data": [jobs.view(row) for row in rows]}

    @router.get("/v1/jobs/{job_id}")
    async def get_job(job_id: str, who: Caller = Depends(caller)) -> dict[str, Any]:
        return jobs.view(_own_job(db, job_id, who))

    @router.get("/v1/jobs/{job_id}/results")
    async def job_results(job_id: str, who: Caller = Depends(caller)) -> Response:
        row = _own_job(db, job_id, who)
        if row.kind == "sweep":
            path = jobs.artifacts(job_id) / "results.jsonl"
            lines = _file_lines(path) if path.is_file() else iter(())
        else:
            lines = db.records(job_id)
        return StreamingResponse((safe_record(text) + "\n" for text in lines), media_type="application/x-ndjson")

    @router.get("/v1/jobs/{job_id}/artifacts/{name}")
    async def job_artifact(job_id: str, name: str, who: Caller = Depends(caller)) -> FileResponse:
        row = _own_job(db, job_id, who)
        path = jobs.artifacts(job_id) / name
        if row.kind != "sweep" or name not in ARTIFACTS or not path.is_file():
            raise RequestError(f"job {job_id[:40]!r} has no artifact {name[:40]!r} (yet); sweeps have "
                               f"{', '.join(ARTIFACTS)} once they finish", param="name", status=404, code="not_found")
        return FileResponse(path)

    @router.delete("/v1/jobs/{job_id}")
    async def cancel_or_delete(job_id: str, who: Caller = Depends(caller)) -> dict[str, Any]:
        row = _own_job(db, job_id, who)
        if row.status in UNFINISHED:
            await jobs.cancel(job_id)
            return jobs.view(db.job(job_id))
        jobs.delete(job_id)
        return {"id": job_id, "object": "job.deleted", "deleted": True}

    return router


def _own_job(db: ServiceDB, job_id: str, who: Caller) -> JobRow:
    row = db.job(job_id, None if who.admin else who.owner)
    if row is None:  # another key's job looks exactly like a missing one
        raise RequestError(f"no job {job_id[:40]!r}", param="job_id", status=404, code="not_found")
    return row


def _file_lines(path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.endswith("\n"):
                yield line.rstrip("\n")


def safe_record(text: str) -> str:
    """A stored record as a client may see it: a strategy's error without its traceback or paths (solve
    jobs store it so already; a sweep's records are its own files, kept whole on the server)."""
    record = json.loads(text)
    if isinstance(record, dict) and record.get("error") and "incident" not in str(record["error"]):
        kind = str(record["error"]).split(":", 1)[0].split("\n", 1)[0][:60]
        record["error"] = f"the strategy raised ({kind}); the server's copy of the results has the details"
    return json.dumps(record)
