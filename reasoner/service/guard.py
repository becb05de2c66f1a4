"""What every request must be before a route sees it: JSON, from an allowed host and origin, bounded.

`RequestGuard` (plain ASGI, so request bodies stream past it untouched):

- a body (POST, PUT, PATCH) must be `application/json` (415 otherwise): a web page can send
  `text/plain` cross-site without a CORS preflight, never JSON;
- a key-less server answers only Host names that are loopback ones or listed
  by the operator (`--allowed-host`), which defeats DNS rebinding (400);
- a request whose `Origin` is another site is refused (403) unless the
  operator listed it (`--cors-origin`, which also answers CORS preflights);
- a body over `max_body_bytes` is refused (413) before the route reads it.

`parse_json` reads a body with the nesting depth and integer size capped, and
no NaN or infinity. Not here: per-key rates (`reasoner.service.limiter`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from reasoner.errors import RequestError
from reasoner.service.config import LOOPBACK_HOSTS, Limits
from reasoner.service.http_errors import send_error

_JSON_TYPES = ("application/json",)
_BODY_METHODS = (b"POST", b"PUT", b"PATCH")


class RequestGuard:
    """Content type, Host, Origin and body size, checked before any route runs."""

    def __init__(self, app, limits: Limits, keyless: bool, allowed_hosts: tuple[str, ...],
                 cors_origins: tuple[str, ...]) -> None:
        self.app = app
        self.max_bytes = limits.max_body_bytes
        self.keyless = keyless
        self.hosts = {host.lower() for host in (*LOOPBACK_HOSTS, *allowed_hosts)}
        self.origins = set(cors_origins)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1").lower(): value.decode("latin-1")
                   for name, value in scope.get("headers") or []}
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            return await send_error(send, *refusal)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                raise RequestError(f"request body is over the server's limit max_body_bytes={self.max_bytes}",
                                   param="max_body_bytes", status=413, code="limit_exceeded")
            return message

        await self.app(scope, counted, send)

    def _refusal(self, scope, headers: dict[str, str]) -> tuple[int, str, str, str] | None:
        host = _hostname(headers.get("host", ""))
        if self.keyless and host not in self.hosts:
            return 400, (f"this server answers only {', '.join(sorted(self.hosts))} as Host; list more with "
                         f"--allowed-host"), "host", "invalid_host"
        origin = headers.get("origin")
        if origin is not None and origin not in self.origins and not _same_origin(origin, headers.get("host", "")):
            return 403, "cross-site requests are refused; the operator may allow an origin with --cors-origin", \
                "origin", "cross_origin"
        has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
        if scope["method"].encode() in _BODY_METHODS and has_body:
            kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if kind not in _JSON_TYPES:
                return 415, f"request bodies must be application/json, not {kind or 'untyped'}", \
                    "content-type", "unsupported_media_type"
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            return 413, f"request body is over the server's limit max_body_bytes={self.max_bytes}", \
                "max_body_bytes", "limit_exceeded"
        return None


def _hostname(host: str) -> str:
    """The name in a Host header, without its port (`[::1]:80` -> `::1`)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.strip().lower()


def parse_json(raw: bytes, limits: Limits) -> Any:
    """The body as JSON; a 400 naming `body` when it is not JSON, nests too deep or holds a huge number."""
    def bounded_int(digits: str) -> int:
        if len(digits.lstrip("-")) > limits.max_int_digits:
            raise ValueError(f"an integer has more than max_int_digits={limits.max_int_digits} digits")
        return int(digits)

    def finite(text: str) -> float:
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise ValueError(f"the number {text[:20]} is too large")
        return value

    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        data = json.loads(raw, parse_int=bounded_int, parse_float=finite, parse_constant=refuse_constant)
    except RecursionError:
        raise RequestError(f"the body nests deeper than max_json_depth={limits.max_json_depth}", param="body",
                           code="limit_exceeded") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RequestError(f"the body is not valid JSON: {exc}", param="body") from None
    if _depth(data) > limits.max_json_depth:
        raise RequestError(f"the body nests deeper than max_json_depth={limits.max_json_depth}", param="body",
                           code="limit_exceeded")
    return data


def _depth(data: Any) -> int:
    """Nesting depth of parsed JSON, without recursion."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            stack.extend((child, depth + 1) for child in (value.values() if isinstance(value, dict) else value))
    return deepest
