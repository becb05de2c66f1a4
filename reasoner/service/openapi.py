"""The app's OpenAPI schema at `/openapi.json`: every route, with the request bodies the routes really parse.

The routes read their bodies themselves (to cap nesting and numbers before
pydantic sees them), so FastAPI cannot see the bodies; this adds them from
the same pydantic models (`ChatRequest`, `JobRequest`), the bearer key, and
the OpenAI-shaped error every route can answer. Clients and the fuzzer
(`tests/reasoner/service/test_fuzz.py`) read it.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

BODIES = {"/v1/chat/completions": "ChatRequest", "/v1/jobs": "JobRequest"}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["message", "type", "param", "code"],
    "properties": {"message": {"type": "string"}, "type": {"type": "string", "enum": ["invalid_request_error",
                                                                                        "server_error"]},
                   "param": {"type": ["string", "null"]}, "code": {"type": ["string", "null"]}}}}}


def schema(app: FastAPI) -> dict[str, Any]:
    from reasoner.service.job_manager import JobRequest
    from reasoner.service.schemas import ChatRequest

    document = get_openapi(title="reasoner", version="1", routes=app.routes)
    components = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ChatRequest, JobRequest):
        body = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components[model.__name__] = body
    components["Error"] = ERROR
    document["components"]["securitySchemes"] = {"key": {"type": "http", "scheme": "bearer"}}
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            _describe(path, method, operation)
    return document


def _describe(path: str, method: str, operation: dict[str, Any]) -> None:
    if method == "post" and path in BODIES:
        operation["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{BODIES[path]}"}}}}
    if path != "/health":
        operation["security"] = [{"key": []}]
    error = {"description": "an OpenAI-shaped error", "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
    operation.setdefault("responses", {}).update({"4XX": error, "5XX": error})


def publish_schema(app: FastAPI) -> None:
    document: dict[str, Any] = {}

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        if not document:
            document.update(schema(app))
        return JSONResponse(document)
