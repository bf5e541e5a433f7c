"""Who may talk to the engine, and how much they may send: checked before any request body is read.

A pure ASGI middleware, outermost in the app, so that a refusal costs nothing:
- the Host header must name this engine (127.0.0.1, localhost, [::1], the address it listens on, or a name
  given with --allowed-host), so a web page that re-points its own domain at 127.0.0.1 (DNS rebinding)
  cannot read the engine's datasets;
- a browser write from another site (an `Origin` header that is not the engine's own) is refused;
- /v1 requests must carry the API key when the engine has one, checked before the body is received;
- a body may not pass its limit: a too-large Content-Length is refused unread, and a body without one
  (chunked) is cut off as soon as it passes the limit, so nothing over the limit is spooled to disk.
Every answer carries `x-request-id` (OpenAI's header; the SDK shows it as `_request_id`) and the engine header.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lib.engine import errors

LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "[::1]"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
UPLOAD_PATH = "/v1/files"
MULTIPART_OVERHEAD = 64 * 1024  # form boundaries and the other fields around an upload's bytes
RESPONSE_HEADERS_KEY = "fts.response_headers"  # in the ASGI scope, for answers built outside this middleware


def host_name(value: str) -> str:
    """The name part of a Host header or an address, lower-cased: 'Example:80' -> 'example', '::1' -> '[::1]'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value.split("]", 1)[0] + "]"
    if value.count(":") > 1:  # a bare IPv6 address, as given to --host
        return f"[{value}]"
    return value.split(":", 1)[0]


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this computer only."""
    name = host_name(host).strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def allowed_hosts(bind_host: str, extra: Iterable[str] = ()) -> frozenset[str] | None:
    """The Host names the engine answers to; None means any (listening on every address, no names given)."""
    extra = [host_name(h) for h in extra if h.strip()]
    if "*" in extra:
        return None
    wildcard = host_name(bind_host).strip("[]") in ("0.0.0.0", "::", "")
    if wildcard and not extra:
        return None  # reached by names we cannot know; the key (required off loopback) protects it
    names = set(LOOPBACK_NAMES) | set(extra)
    if not wildcard:
        names.add(host_name(bind_host))
    return frozenset(names)


class Guard:
    """The checks above, in that order, then the app with a receive that stops at the body limit."""

    def __init__(self, app: ASGIApp, *, api_key: str | None, hosts: frozenset[str] | None, upload_limit: int,
                 json_limit: int, headers: dict[str, str]):
        self.app = app
        self.api_key = api_key
        self.hosts = hosts
        self.upload_limit = upload_limit
        self.json_limit = json_limit
        self.headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [(b"x-request-id", ("req_" + secrets.token_hex(16)).encode()), *self.headers]
        scope[RESPONSE_HEADERS_KEY] = {k.decode(): v.decode() for k, v in extra}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        upload = scope["method"] == "POST" and path.rstrip("/") == UPLOAD_PATH
        limit = self.upload_limit + MULTIPART_OVERHEAD if upload else self.json_limit
        refusal = self._refusal(scope["method"], path, headers, limit, upload)
        if refusal is not None:
            await _answer(refusal, send_with_headers)
            return
        await self.app(scope, _limited(receive, limit, self._too_large(limit, upload)), send_with_headers)

    def _refusal(self, method: str, path: str, headers: dict[str, str], limit: int,
                 upload: bool) -> errors.EngineError | None:
        host = headers.get("host")
        if self.hosts is not None and host is not None and host_name(host) not in self.hosts:
            error = errors.BadRequest(
                f"This engine does not answer to the name '{host_name(host)}'. Reach it as 127.0.0.1 or localhost, "
                "or start it with --allowed-host NAME.", code="host_not_allowed")
            error.status = 421
            return error
        origin = headers.get("origin")
        if method not in READ_METHODS and origin is not None and host is not None \
                and origin.lower() not in (f"http://{host}".lower(), f"https://{host}".lower()):
            error = errors.BadRequest(f"Requests from the web page at {origin} may not change this engine.",
                                      code="cross_origin_request")
            error.status = 403
            return error
        if self.api_key and path.startswith("/v1/"):
            header = headers.get("authorization", "")
            given = header[7:].strip() if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(given.encode(), self.api_key.encode()):
                return errors.Unauthorized("Incorrect API key provided. Use the key the engine was started with "
                                           "(--api-key-file, FTS_ENGINE_API_KEY or --api-key).")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return self._too_large(limit, upload)
        return None

    def _too_large(self, limit: int, upload: bool) -> errors.PayloadTooLarge:
        if upload:
            return errors.PayloadTooLarge(too_large_message(self.upload_limit), param="file")
        return errors.PayloadTooLarge(f"The request body is larger than this engine's limit of {_size(limit)}.",
                                      code="request_too_large")


def too_large_message(limit: int) -> str:
    return f"The file is larger than this engine's upload limit of {_size(limit)}."


def _size(limit: int) -> str:
    mb = limit / (1024 * 1024)
    return f"{mb:.0f} MB" if mb >= 1 else f"{limit} bytes"


def _limited(receive: Receive, limit: int, error: errors.PayloadTooLarge) -> Receive:
    """`receive`, raising 413 as soon as the body passes `limit` bytes (FastAPI lets an HTTPException through)."""
    received = 0

    async def wrapped() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                stop = HTTPException(413, detail=error.message)
                stop.engine_error = error  # errors.install answers with it, in OpenAI's envelope
                raise stop
        return message

    return wrapped


async def _answer(error: errors.EngineError, send: Send) -> None:
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               *[(k.lower().encode(), v.encode()) for k, v in error.headers.items()]]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
