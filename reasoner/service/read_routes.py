"""Read endpoints the web console needs, part of the same API: a job's problems paged and filtered, one
problem's record (candidates graded, search tree marked), a job's totals, two jobs compared, and the
strategies the server accepts.

- `GET /v1/jobs/{id}/problems?verdict=&level=&order=&offset=&limit=`: rows of a solve job's problems,
  paged inside SQLite (`limit` at most `PAGE_MAX`);
- `GET /v1/jobs/{id}/problems/{problem_id}`: the record as a client may see it, each candidate's
  extracted answer and verdict, the strategy's trace without its tree, and the search tree with its
  chosen path and the first wrong step (where the task can check steps);
- `GET /v1/jobs/{id}/stats`: accuracy per level with 95% Wilson intervals, cost, tokens per second,
  ungradable ids;
- `GET /v1/jobs/{a}/compare/{b}?only=differ|all&level=&offset=&limit=`: the problems both solved;
- `GET /v1/strategies`: the registered strategies with their simple options, and the registered PRMs.

Every job path is checked like the jobs API's (`own_job`: another key's job looks missing); every query
value is a whitelisted word or a bounded integer, never put into SQL. Not here: writing anything.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query

from reasoner.errors import RequestError
from reasoner.service.job_manager import JobManager
from reasoner.service.job_routes import own_job, safe_record
from reasoner.service.keys import Caller
from reasoner.service.views import problem_view
from reasoner.service.store import ORDERS, VERDICTS, ServiceDB, compare_levels, compare_page, job_totals, \
    one_record, problem_of, problem_page, ungradable_ids

PAGE_MAX = 200
"""Most rows one page of problems (or of a comparison) holds."""
LISTED_IDS = 20
MAX_ID_CHARS = 200
"""Longest problem id a path may name."""
Z95 = 1.959963984540054


def wilson(correct: int, total: int) -> tuple[float, float]:
    """The 95% Wilson score interval of `correct` out of `total` (0, 0 when empty)."""
    if total == 0:
        return 0.0, 0.0
    p = correct / total
    centre = (p + Z95 ** 2 / (2 * total)) / (1 + Z95 ** 2 / total)
    half = Z95 * math.sqrt(p * (1 - p) / total + Z95 ** 2 / (4 * total ** 2)) / (1 + Z95 ** 2 / total)
    low = 0.0 if correct == 0 else max(0.0, centre - half)  # exact ends: no rounding error past the data
    return low, 1.0 if correct == total else min(1.0, centre + half)


def read_routes(db: ServiceDB, jobs: JobManager, caller, verifiers) -> APIRouter:
    router = APIRouter()

    @router.get("/v1/strategies")
    async def strategies(_: Caller = Depends(caller)) -> dict[str, Any]:
        return strategy_table()

    @router.get("/v1/jobs/{job_id}/problems")
    async def problems(job_id: str, verdict: Literal["all", "right", "wrong", "ungradable"] = "all",
                       level: int | None = Query(None, ge=0, le=1000),
                       order: Literal["seq", "tokens", "wall", "flops"] = "seq",
                       offset: int = Query(0, ge=0, le=10**7), limit: int = Query(50, ge=1, le=PAGE_MAX),
                       who: Caller = Depends(caller)) -> dict[str, Any]:
        row = _solve_job(db, job_id, who)
        total, rows = problem_page(db, row.id, verdict, level, order, offset, limit)
        return {"object": "list", "total": total, "offset": offset, "data": rows}

    @router.get("/v1/jobs/{job_id}/problems/{problem_id}")
    async def problem(job_id: str, problem_id: str, who: Caller = Depends(caller)) -> dict[str, Any]:
        row = _solve_job(db, job_id, who)
        text = one_record(db, row.id, problem_id[:MAX_ID_CHARS])
        if text is None:
            raise RequestError(f"job {job_id[:40]!r} has no record of problem {problem_id[:40]!r} (yet)",
                               param="problem_id", status=404, code="not_found")
        record = json.loads(safe_record(text))
        record["prompt"] = (problem_of(db, row.id, record["problem_id"]) or {}).get("prompt")
        return await asyncio.to_thread(problem_view, record, verifiers)

    @router.get("/v1/jobs/{job_id}/stats")
    async def stats(job_id: str, who: Caller = Depends(caller)) -> dict[str, Any]:
        row = _solve_job(db, job_id, who)
        return job_stats(db, row, jobs)

    @router.get("/v1/jobs/{job_id}/compare/{other_id}")
    async def compare(job_id: str, other_id: str, only: Literal["differ", "all"] = "differ",
                      level: int | None = Query(None, ge=0, le=1000), offset: int = Query(0, ge=0, le=10**7),
                      limit: int = Query(50, ge=1, le=PAGE_MAX), who: Caller = Depends(caller)) -> dict[str, Any]:
        first, second = _solve_job(db, job_id, who), _solve_job(db, other_id, who, param="other_id")
        total, rows = compare_page(db, first.id, second.id, only == "differ", level, offset, limit)
        levels = [{"level": lv, "problems": n, "both": both or 0, "only_a": a or 0, "only_b": b or 0}
                  for lv, n, both, a, b in compare_levels(db, first.id, second.id)]
        return {"object": "comparison", "a": jobs.view(first), "b": jobs.view(second), "by_level": levels,
                "total": total, "offset": offset, "data": rows}

    return router


def _solve_job(db: ServiceDB, job_id: str, who: Caller, param: str = "job_id"):
    row = own_job(db, job_id, who, param)
    if row.kind != "solve":
        raise RequestError(f"job {job_id[:40]!r} is a sweep: its rows are in /v1/jobs/{{id}}/artifacts/summary.json",
                           param=param, code="wrong_kind")
    return row


def strategy_table() -> dict[str, Any]:
    """Registered strategies with their options of simple types and defaults; registered PRM names."""
    from reasoner.strategies import STRATEGIES, client_names

    table = {}
    for name in STRATEGIES.names():
        target = STRATEGIES.get(name)
        fields = getattr(target, "model_fields", {})
        table[name] = {key: {"type": _kind(field.annotation), "default": _plain(field.default)}
                       for key, field in fields.items() if _kind(field.annotation) is not None}
    return {"object": "strategies", "strategies": table, "prms": client_names()["prm"].names()}


def _kind(annotation: Any) -> str | None:
    text = str(annotation)
    for kind in ("bool", "int", "float", "str"):
        if text in (f"<class '{kind}'>", f"{kind} | None"):
            return kind
    return "choice" if text.startswith("typing.Literal") else None


def _plain(value: Any) -> Any:
    return value if isinstance(value, (bool, int, float, str, type(None))) else None


def job_stats(db: ServiceDB, row, jobs: JobManager) -> dict[str, Any]:
    """Accuracy per level and overall with Wilson intervals, cost, tokens per second, ungradable ids."""
    levels, total = {}, {"problems": 0, "correct": 0, "ungradable": 0, "generated_tokens": 0,
                         "cached_prompt_tokens": 0, "prm_tokens": 0, "flops": 0.0, "wall_seconds": 0.0,
                         "prompt_tokens": 0}
    for level, problems, correct, ungradable, tokens, cached, prm, flops, wall, prompt in job_totals(db, row.id):
        block = {"problems": problems, "correct": correct or 0, "ungradable": ungradable or 0}
        block["accuracy"] = block["correct"] / problems if problems else 0.0
        block["ci_low"], block["ci_high"] = wilson(block["correct"], problems)
        if level is not None:
            levels[str(level)] = block
        for key, value in zip(total, (problems, correct, ungradable, tokens, cached, prm, flops, wall, prompt)):
            total[key] += value or 0
    total["accuracy"] = total["correct"] / total["problems"] if total["problems"] else 0.0
    total["ci_low"], total["ci_high"] = wilson(total["correct"], total["problems"])
    elapsed = (row.updated if row.status not in ("queued", "running") else time.time()) - row.created
    return {"object": "job.stats", "id": row.id, "status": row.status, "progress": jobs.view(row)["progress"],
            "overall": total, "by_level": levels, "elapsed_s": elapsed,
            "tokens_per_s": total["generated_tokens"] / elapsed if elapsed > 0 else 0.0,
            "ungradable_ids": ungradable_ids(db, row.id, LISTED_IDS)}
