"""Errors in OpenAI's envelope: `{"error": {"message", "type", "param", "code"}}` with stable codes.

Handlers raise the narrow subclass; `install(app)` turns them, FastAPI's validation errors and
unknown routes into the envelope. Anything else is a bug: a 500 whose traceback goes to the log,
never into the reply.
"""

from __future__ import annotations

import logging

log = logging.getLogger("lib.engine")


class EngineError(Exception):
    status = 500
    type = "server_error"
    code = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.param = param
        if code:
            self.code = code
        self.headers = headers or {}

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class BadRequest(EngineError):
    status, type, code = 400, "invalid_request_error", "invalid_value"


class Unauthorized(EngineError):
    status, type, code = 401, "invalid_request_error", "invalid_api_key"


class NotFound(EngineError):
    status, type, code = 404, "invalid_request_error", "not_found"


class Conflict(EngineError):
    status, type, code = 409, "invalid_request_error", "conflict"


class PayloadTooLarge(EngineError):
    status, type, code = 413, "invalid_request_error", "file_too_large"


class QueueFull(EngineError):
    status, type, code = 429, "rate_limit_error", "queue_full"


def _param_from_loc(loc: tuple) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    # pydantic names union branches ("int", "literal['auto']", "function-after[...]"): not the user's words
    parts = [p for p in parts if not (p.startswith(("function-", "literal[", "union[")) or p in ("int", "float",
                                                                                                  "str", "bool"))]
    return ".".join(parts) or None


def install(app) -> None:
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(EngineError)
    async def _engine_error(request, exc: EngineError):
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        param = _param_from_loc(tuple(first.get("loc", ())))
        message = str(first.get("msg", "Invalid request."))
        message = message.removeprefix("Value error, ")
        kind = first.get("type", "")
        code = "missing_required_parameter" if kind == "missing" else "invalid_value"
        if kind == "missing":
            message = f"Missing required parameter: '{param}'."
        elif param and param not in message:
            message = f"Invalid value for '{param}': {message}"
        if kind == "json_invalid":  # its loc holds the parser's position, not a parameter
            message, code, param = "The request body is not valid JSON.", "invalid_json", None
        return JSONResponse(BadRequest(message, param=param, code=code).body(), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request, exc: StarletteHTTPException):
        if isinstance(getattr(exc, "engine_error", None), EngineError):  # raised while the body was read
            error = exc.engine_error
            return JSONResponse(error.body(), status_code=error.status, headers=error.headers)
        if exc.status_code == 404:
            error: EngineError = NotFound(f"Unknown request URL: {request.method} {request.url.path}.",
                                          code="unknown_url")
        elif exc.status_code == 405:
            error = BadRequest(f"Method {request.method} is not allowed on {request.url.path}.",
                               code="method_not_allowed")
            error.status = 405
        else:
            error = BadRequest(str(exc.detail))
            error.status = exc.status_code
        return JSONResponse(error.body(), status_code=error.status)

    @app.exception_handler(Exception)
    async def _unexpected(request, exc: Exception):
        log.exception("Unexpected error on %s %s", request.method, request.url.path)
        error = EngineError("The engine hit an internal error; the details are in its log.")
        # answered outside the guard middleware, so it adds the headers the guard gives every answer
        return JSONResponse(error.body(), status_code=500, headers=request.scope.get("fts.response_headers"))
