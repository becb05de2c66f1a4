"""Every error the service answers, in OpenAI's shape, and what a client may see of a server fault.

`{"error": {"message", "type", "param", "code"}}`: `type` is
`invalid_request_error` for 4xx (the client's fault) and `server_error` for
5xx (ours). A server fault is logged with its traceback under an incident id;
the client gets the exception's type and that id, never a traceback, a frame
or a server path (`redact` removes the paths this process knows of from any
message that goes out, e.g. a strategy's error in a job record).

Not here: which requests are refused (the routes, `reasoner.service.guard`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import site
import sys
import sysconfig
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from reasoner.errors import ConfigError, EngineError, ReasonerError, RequestError

log = logging.getLogger("reasoner.service")

_CODES = {400: "invalid_request", 401: "invalid_api_key", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 413: "limit_exceeded", 415: "unsupported_media_type", 422: "invalid_request",
          429: "rate_limit_exceeded"}


def error_body(message: str, param: str | None, code: str, status: int) -> dict[str, Any]:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": redact(message), "type": kind, "param": param, "code": code}}


def error_response(status: int, message: str, param: str | None = None, code: str | None = None,
                   retry_after: int | None = None) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(error_body(message, param, code or _CODES.get(status, "server_error"), status),
                        status_code=status, headers=headers)


async def send_error(send, status: int, message: str, param: str | None = None, code: str | None = None) -> None:
    """An error answered from plain ASGI middleware, before any route runs."""
    body = json.dumps(error_body(message, param, code or _CODES.get(status, "server_error"), status)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def incident(what: str, exc: BaseException | None = None, detail: str | None = None) -> str:
    """Log a server fault with its details; the client-safe sentence that names its incident id."""
    ident = secrets.token_hex(6)
    if exc is not None:
        log.error("incident %s: %s", ident, what, exc_info=(type(exc), exc, exc.__traceback__))
    else:
        log.error("incident %s: %s: %s", ident, what, detail)
    kind = type(exc).__name__ if exc is not None else (detail or "").split(":", 1)[0].split("\n", 1)[0][:60]
    return f"{what} ({kind}); the server log has the details under incident {ident}"


def safe_error_text(error: str | None, what: str = "the strategy raised") -> str | None:
    """A strategy's error as stored in a record (type, message, frames) made client-safe; logged in full."""
    if not error:
        return error
    return incident(what, detail=error)


def install(app: FastAPI) -> None:
    """Answer every error in OpenAI's shape."""

    @app.exception_handler(RequestError)
    async def refused(request: Request, exc: RequestError) -> JSONResponse:
        return error_response(exc.status, str(exc), exc.param, exc.code, exc.retry_after)

    @app.exception_handler(HTTPException)
    async def routing(request: Request, exc: HTTPException) -> JSONResponse:
        message = {404: f"no route {request.url.path}", 405: f"{request.method} is not allowed on "
                   f"{request.url.path}"}.get(exc.status_code, str(exc.detail))
        return error_response(exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        param = ".".join(str(p) for p in first["loc"][1:]) or None
        return error_response(422, first["msg"], param)

    @app.exception_handler(EngineError)
    async def engine_down(request: Request, exc: EngineError) -> JSONResponse:
        return error_response(503, incident("the engine failed", exc), code="engine_error")

    @app.exception_handler(ConfigError)
    async def misuse(request: Request, exc: ConfigError) -> JSONResponse:
        return error_response(400, str(exc), getattr(exc, "field", None), type(exc).__name__)

    @app.exception_handler(ReasonerError)
    async def broken(request: Request, exc: ReasonerError) -> JSONResponse:
        return error_response(500, incident("the server failed", exc), code="server_error")

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        return error_response(500, incident("internal server error", exc), code="server_error")


def redact(text: str) -> str:
    """`text` without the server's own paths (package, interpreter, home, working directory, temp)."""
    for prefix in _server_paths():
        text = text.replace(prefix, "<server>")
    return _TRACEBACK_LINE.sub("", text)


_TRACEBACK_LINE = re.compile(r'^\s*(Traceback \(most recent call last\):|File ".*", line \d+.*)$\n?', re.MULTILINE)


@cache
def _server_paths() -> tuple[str, ...]:
    import reasoner

    found = {str(Path(reasoner.__file__).resolve().parent.parent), sys.prefix, sys.base_prefix, os.getcwd(),
             str(Path.home()), sysconfig.get_paths()["stdlib"], *site.getsitepackages()}
    found = {path for path in found if path and path not in ("/", "")}
    return tuple(sorted(found, key=len, reverse=True))
