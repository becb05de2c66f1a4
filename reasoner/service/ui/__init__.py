"""The web console: a thin client of the JSON API, served at `/ui` by `reasoner serve` itself, fully offline.

`ui_routes` serves one HTML page and the few static files beside this module
(`static/`): nothing is fetched from elsewhere, and no path a client sends
names a file (the files are a fixed table read at start-up). Every answer
carries a strict Content-Security-Policy (scripts and styles from this
server only, no inline script, no inline event handlers, no frames), and
the script puts text from models, uploads and clients into the page as
text only (`textContent`, never HTML). The page itself needs no key: the
data it shows comes from the API, with the key (if the server has keys)
kept in the browser's sessionStorage and sent as a bearer header.

Not here: any data of its own (the read endpoints are in
`reasoner.service.read_routes`) or the static report (`reasoner.eval.html_report`).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse, Response

STATIC = Path(__file__).parent / "static"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
           "X-Frame-Options": "DENY", "Cache-Control": "no-cache"}


def static_files() -> dict[str, tuple[bytes, str]]:
    """name -> (content, media type) of every file the console serves, read once."""
    return {path.name: (path.read_bytes(), TYPES[path.suffix]) for path in sorted(STATIC.iterdir())
            if path.suffix in TYPES}


def ui_routes(keys_required: bool) -> APIRouter:
    """The console's page, its static files, and `/ui/access` (whether the API wants a key: nothing else)."""
    router = APIRouter()
    files = static_files()
    access = {"keys": keys_required}

    def send(name: str) -> Response:
        if name not in files:
            return Response("not found", status_code=404, media_type="text/plain", headers=HEADERS)
        content, media = files[name]
        return Response(content, media_type=media, headers=HEADERS)

    @router.get("/ui", include_in_schema=False)
    async def page() -> Response:
        return send("index.html")

    @router.get("/ui/", include_in_schema=False)
    async def slash() -> Response:
        return RedirectResponse("/ui", status_code=308)

    @router.get("/ui/access", include_in_schema=False)
    async def needs_key() -> JSONResponse:
        return JSONResponse(access, headers=HEADERS)

    @router.get("/ui/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        return send(name if name != "index.html" else "")

    return router
