"""Fault injection between the openai SDK and a real server, for the error tests.

`FaultProxy` is a small threaded HTTP server on 127.0.0.1 that forwards every request to an upstream
(the local engine, or `StubAPI` below) unless a rule says to answer with a fault instead:

    proxy.fail(401)                                  # OpenAI's exact 401 body
    proxy.fail(403, code="training_not_available")   # OpenAI's wind-down refusal, verbatim
    proxy.fail(429, retry_after=1, times=1)          # then the request goes through
    proxy.delay(2.0)                                 # longer than the client's timeout
    proxy.disconnect()                               # the connection drops without an answer
    proxy.close()                                    # nobody listens: connection refused

Fixtures: `make_fault_proxy(upstream_url)`, `fault_proxy` (in front of the engine's `engine_server`;
skips while the engine's fixtures are not there), `stub_api` / `stub_server` / `stub_client` (an
in-memory OpenAI fine-tuning API that walks a job through its states, one step per `retrieve`).
Register with `pytest_plugins = ["tests.plugins.faults"]`.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

# --- OpenAI's error bodies ---------------------------------------------------------------------------

TRAINING_NOT_AVAILABLE_MESSAGE = (
    "OpenAI is winding down the fine-tuning platform and your organization is no longer able to create new "
    "fine-tuning training jobs."
)

ERROR_BODIES: dict[int, dict[str, Any]] = {
    400: {"message": "Invalid value for 'suffix'.", "type": "invalid_request_error", "param": "suffix", "code": None},
    401: {
        "message": "Incorrect API key provided: sk-test*************************wxyz. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "type": "invalid_request_error",
        "param": None,
        "code": "invalid_api_key",
    },
    403: {
        "message": "You are not allowed to sample from this model",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    },
    404: {
        "message": "The requested resource was not found.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    },
    429: {
        "message": "Rate limit reached for requests. Please try again in 1s.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    },
    500: {
        "message": "The server had an error while processing your request. Sorry about that!",
        "type": "server_error",
        "param": None,
        "code": None,
    },
    503: {
        "message": "The engine is currently overloaded, please try again later.",
        "type": "server_error",
        "param": None,
        "code": None,
    },
}


def error_body(status: int, *, code: str | None = None, message: str | None = None) -> dict[str, Any]:
    """OpenAI's error envelope for `status` (403 with code training_not_available: the wind-down refusal)."""
    if status == 403 and code == "training_not_available":
        inner = {
            "message": TRAINING_NOT_AVAILABLE_MESSAGE,
            "type": "invalid_request_error",
            "param": None,
            "code": "training_not_available",
        }
    else:
        inner = dict(ERROR_BODIES.get(status, ERROR_BODIES[500] if status >= 500 else ERROR_BODIES[400]))
        if code is not None:
            inner["code"] = code
    if message is not None:
        inner["message"] = message
    return {"error": inner}


# --- the proxy ------------------------------------------------------------------------------------------


@dataclass
class Rule:
    """Answer matching requests with a fault instead of forwarding them."""

    kind: str  # "status" | "delay" | "disconnect"
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    path: str | None = None  # a regex searched in the request path
    method: str | None = None
    times: int | None = None  # None: every matching request
    used: int = 0

    def matches(self, method: str, path: str) -> bool:
        if self.times is not None and self.used >= self.times:
            return False
        if self.method and self.method.upper() != method.upper():
            return False
        return not (self.path and not re.search(self.path, path))


@dataclass
class Seen:
    method: str
    path: str
    fault: str | None  # what the proxy did instead of forwarding, e.g. "429", "delay", "disconnect"
    headers: dict[str, str]


class FaultProxy:
    """A threaded HTTP proxy on 127.0.0.1 that forwards to `upstream` or injects faults (see module doc)."""

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.prefix = parts.path.rstrip("/")  # e.g. "/v1": the proxy's URL keeps the same path
        self.rules: list[Rule] = []
        self.seen: list[Seen] = []
        self.api_key: str | None = None  # the key the upstream expects, for tests to use
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                proxy._serve(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="fault-proxy", daemon=True
        )
        self._thread.start()
        self.closed = False

    @property
    def url(self) -> str:
        """The base URL to give the SDK (the upstream's path, e.g. /v1, kept)."""
        return f"http://127.0.0.1:{self.port}{self.prefix}"

    # --- configuring faults
    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def fail(
        self,
        status: int,
        *,
        code: str | None = None,
        message: str | None = None,
        retry_after: float | None = None,
        headers: dict[str, str] | None = None,
        path: str | None = None,
        method: str | None = None,
        times: int | None = None,
    ) -> Rule:
        """Answer with `status` and OpenAI's error body for it."""
        extra = dict(headers or {})
        if retry_after is not None:
            extra["Retry-After"] = f"{retry_after:g}"
        return self.add(
            Rule("status", status, error_body(status, code=code, message=message), extra, 0.0, path, method, times)
        )

    def delay(self, seconds: float, *, path: str | None = None, method: str | None = None, times: int | None = None) -> Rule:
        """Wait `seconds` before forwarding (longer than the client's timeout: the client gives up)."""
        return self.add(Rule("delay", seconds=seconds, path=path, method=method, times=times))

    def disconnect(self, *, path: str | None = None, method: str | None = None, times: int | None = None) -> Rule:
        """Close the connection without answering."""
        return self.add(Rule("disconnect", path=path, method=method, times=times))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def close(self) -> None:
        """Stop listening: from now on the port refuses connections."""
        if not self.closed:
            self.closed = True
            self.server.shutdown()
            self.server.server_close()

    # --- what happened
    def hits(self, path: str | None = None) -> int:
        """Requests the proxy received (matching the path regex)."""
        return sum(1 for s in self.seen if not path or re.search(path, s.path))

    def upstream_hits(self, path: str | None = None) -> int:
        """Requests that reached the upstream (not answered by a fault)."""
        return sum(1 for s in self.seen if s.fault in (None, "delay") and (not path or re.search(path, s.path)))

    # --- inside
    def _rule_for(self, method: str, path: str) -> Rule | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(method, path):
                    rule.used += 1
                    return rule
        return None

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        body = _read_body(handler)
        method, path = handler.command, handler.path
        rule = self._rule_for(method, urlsplit(path).path)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        fault = None if rule is None else (str(rule.status) if rule.kind == "status" else rule.kind)
        with self._lock:
            self.seen.append(Seen(method, path, fault, headers))
        if rule is not None and rule.kind == "disconnect":
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.connection.shutdown(2)
            return
        if rule is not None and rule.kind == "status":
            _send_json(handler, rule.status, rule.body or {}, rule.headers)
            return
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.seconds)
        try:
            self._forward(handler, method, path, body)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True
        except OSError:  # the upstream is gone (a test's engine stopped): answer as a real gateway does
            handler.close_connection = True
            with contextlib.suppress(OSError):
                handler.send_error(502, "upstream unreachable")

    def _forward(self, handler: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        connection = http.client.HTTPConnection(self.upstream_host, self.upstream_port, timeout=300)
        try:
            forward_headers = {
                k: v for k, v in handler.headers.items() if k.lower() not in ("host", "transfer-encoding", "connection")
            }
            forward_headers["Content-Length"] = str(len(body))
            connection.request(method, path, body=body, headers=forward_headers)
            response = connection.getresponse()
            streamed = response.getheader("content-length") is None
            handler.send_response(response.status)
            for name, value in response.getheaders():
                if name.lower() in ("transfer-encoding", "connection", "content-length", "date", "server"):
                    continue
                handler.send_header(name, value)
            if streamed:
                # Server-sent events and other bodies of unknown length: relay as they come, then close.
                handler.send_header("Connection", "close")
                handler.end_headers()
                handler.close_connection = True
                while chunk := response.read1(65536) if hasattr(response, "read1") else response.read(65536):
                    handler.wfile.write(chunk)
                    handler.wfile.flush()
            else:
                data = response.read()
                handler.send_header("Content-Length", str(len(data)))
                handler.end_headers()
                handler.wfile.write(data)
        finally:
            connection.close()


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                break
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        return b"".join(chunks)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _send_json(handler: BaseHTTPRequestHandler, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.wfile.write(data)


# --- a stub OpenAI fine-tuning API ----------------------------------------------------------------------


@dataclass
class StubJob:
    job: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    ticks: int = 0
    step: int = 0
    total: int = 1
    n: int = 1


class StubAPI:
    """An in-memory stand-in for OpenAI's files + fine-tuning API, deterministic and instant.

    Each `retrieve` of a job moves it on one tick: validating_files → queued → running (then
    `steps_per_tick` steps per retrieve, one metrics event each; it waits `queue_ticks` retrieves in
    the queue) → succeeded, with checkpoints, a
    result CSV (base64-encoded when `base64_results`) and OpenAI's closing messages. `fail_with`
    makes jobs fail with that error message instead. Events page newest first with `after=` going
    to older ones, as OpenAI's do. No pause/resume routes (404), like a provider without them.
    """

    def __init__(
        self,
        *,
        steps_per_tick: int = 3,
        base64_results: bool = False,
        fail_with: str | None = None,
        api_key: str | None = None,
        validation_losses: list[float] | None = None,
        queue_ticks: int = 1,
    ) -> None:
        self.steps_per_tick = steps_per_tick
        self.queue_ticks = queue_ticks
        self.base64_results = base64_results
        self.fail_with = fail_with
        self.api_key = api_key
        self.validation_losses = validation_losses
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, StubJob] = {}
        self.retired: set[str] = set()  # models that answer 404 model_not_found (shut down)
        self.chats: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, list[str]]]] = []
        self._ids = itertools.count(1)
        self._clock = itertools.count(1_760_000_000, 2)
        self._lock = threading.Lock()

    # --- transport adapters
    def httpx_handler(self, request: Any) -> Any:
        """For `httpx2.MockTransport`."""
        import httpx2

        status, headers, data = self.handle(
            request.method, request.url.path, request.url.query.decode() if isinstance(request.url.query, bytes) else str(request.url.query),
            {k.lower(): v for k, v in request.headers.items()}, request.read(),
        )
        return httpx2.Response(status, headers=headers, content=data)

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            params = parse_qs(query)
            self.requests.append((method, path, params))
            if self.api_key and headers.get("authorization") != f"Bearer {self.api_key}":
                return self._json(401, error_body(401))
            path = re.sub(r"^/v1", "", path)
            try:
                return self._route(method, path, params, headers, body)
            except KeyError as exc:
                return self._json(404, error_body(404, message=f"No such object: {exc.args[0]}"))

    # --- routes
    def _route(self, method: str, path: str, params: dict[str, list[str]], headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        one = {k: v[0] for k, v in params.items()}
        if method == "GET" and path == "/models":
            models = ["tiny-random-llama", "HuggingFaceTB/SmolLM2-135M-Instruct"]
            models += [j.job["fine_tuned_model"] for j in self.jobs.values() if j.job.get("fine_tuned_model")]
            return self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 0, "owned_by": "stub"} for m in models
            ]})
        if method == "POST" and path == "/files":
            return self._json(200, self._upload(headers, body))
        if method == "POST" and path == "/chat/completions":
            return self._chat(json.loads(body or b"{}"))
        match = re.fullmatch(r"/files/([^/]+)", path)
        if method == "DELETE" and match:
            self.files.pop(match.group(1))
            return self._json(200, {"id": match.group(1), "object": "file", "deleted": True})
        match = re.fullmatch(r"/files/([^/]+)(/content)?", path)
        if method == "GET" and match:
            stored = self.files[match.group(1)]
            if match.group(2):
                return 200, {"content-type": "application/octet-stream"}, stored["content"]
            return self._json(200, stored["object"])
        if path == "/fine_tuning/jobs" and method == "POST":
            return self._json(200, self._create(json.loads(body or b"{}")))
        if path == "/fine_tuning/jobs" and method == "GET":
            jobs = sorted(self.jobs.values(), key=lambda j: (j.job["created_at"], j.job["id"]), reverse=True)
            wanted = {k[len("metadata["):-1]: v for k, v in one.items() if k.startswith("metadata[") and k.endswith("]")}
            jobs = [j for j in jobs if all((j.job.get("metadata") or {}).get(k) == v for k, v in wanted.items())]
            return self._json(200, self._page([j.job for j in jobs], one))
        match = re.fullmatch(r"/fine_tuning/jobs/([^/]+)(?:/(cancel|events|checkpoints))?", path)
        if match:
            stub = self.jobs[match.group(1)]
            action = match.group(2)
            if action is None and method == "GET":
                self._tick(stub)
                return self._json(200, stub.job)
            if action == "cancel" and method == "POST":
                if stub.job["status"] in ("succeeded", "failed", "cancelled"):
                    return self._json(400, error_body(400, message="Job has already completed.", code="invalid_state"))
                stub.job["status"] = "cancelled"
                stub.job["finished_at"] = next(self._clock)
                self._event(stub, "Job cancelled.")
                return self._json(200, stub.job)
            if action == "events" and method == "GET":
                return self._json(200, self._page(list(reversed(stub.events)), one))
            if action == "checkpoints" and method == "GET":
                return self._json(200, self._page(list(reversed(stub.checkpoints)), one))
        return self._json(404, error_body(404, message=f"Unknown route {method} {path}"))

    def seed_job(
        self, model: str, training: bytes, validation: bytes | None = None, *, suffix: str | None = "limericks",
        n_epochs: int = 3, batch_size: int = 1, learning_rate_multiplier: float = 1.8, created_at: int | None = None,
    ) -> dict[str, Any]:
        """A finished job of the past, as OpenAI lists it: its files, its recipe and its fine-tuned model."""
        with self._lock:
            train_id = self._store_file("training.jsonl", training)
            valid_id = self._store_file("validation.jsonl", validation) if validation else None
            job_id = f"ftjob-seed{next(self._ids)}"
            hyper = {"n_epochs": n_epochs, "batch_size": batch_size, "learning_rate_multiplier": learning_rate_multiplier}
            job = {
                "id": job_id, "object": "fine_tuning.job", "created_at": created_at or next(self._clock), "error": None,
                "fine_tuned_model": f"ft:{model}:stub-org:{suffix or ''}:{job_id[-6:]}", "finished_at": next(self._clock),
                "hyperparameters": hyper, "model": model, "organization_id": "org-stub", "result_files": [],
                "seed": 42, "status": "succeeded", "trained_tokens": 1000, "training_file": train_id,
                "validation_file": valid_id, "suffix": suffix,
                "method": {"type": "supervised", "supervised": {"hyperparameters": hyper}}, "metadata": None,
            }
            self.jobs[job_id] = StubJob(job)
            return job

    def _store_file(self, filename: str, content: bytes) -> str:
        file_id = f"file-seed{next(self._ids)}"
        self.files[file_id] = {"object": {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": next(self._clock),
            "filename": filename, "purpose": "fine-tune", "status": "processed"}, "content": content}
        return file_id

    def _chat(self, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        """A canned limerick from any model (streamed when asked); 404 model_not_found for retired ones."""
        model = params.get("model", "")
        self.chats.append(params)
        if model in self.retired:
            return self._json(404, error_body(404, code="model_not_found", message=(
                f"The model `{model}` does not exist or you do not have access to it.")))
        text = ("Strontium glows red in the night, / number thirty-eight burning bright, / "
                "in fireworks it flies, / lighting up the skies, / a metal of festive delight.")
        usage = {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50}
        if not params.get("stream"):
            return self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion", "created": 0, "model": model,
                                    "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": text}}], "usage": usage})
        chunks = []
        for piece in (text[:40], text[40:]):
            chunks.append({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": model,
                           "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]})
        chunks.append({"id": "chatcmpl-stub", "object": "chat.completion.chunk", "created": 0, "model": model,
                       "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage})
        data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks) + "data: [DONE]\n\n"
        return 200, {"content-type": "text/event-stream"}, data.encode()

    def _page(self, items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
        limit = int(params.get("limit", 20))
        start = 0
        if params.get("after"):
            ids = [i["id"] for i in items]
            start = ids.index(params["after"]) + 1 if params["after"] in ids else len(items)
        chunk = items[start : start + limit]
        return {"object": "list", "data": chunk, "has_more": start + limit < len(items)}

    def _upload(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        boundary = re.search(r"boundary=\"?([^\";]+)", headers.get("content-type", ""))
        content, filename = body, "upload.jsonl"
        if boundary:
            for part in body.split(b"--" + boundary.group(1).encode()):
                head, _, rest = part.partition(b"\r\n\r\n")
                name = re.search(rb'filename="([^"]*)"', head)
                if name:
                    filename = name.group(1).decode()
                    content = rest.rsplit(b"\r\n", 1)[0]
        file_id = f"file-stub{next(self._ids)}"
        obj = {
            "id": file_id, "object": "file", "bytes": len(content), "created_at": next(self._clock),
            "filename": filename, "purpose": "fine-tune", "status": "processed",
        }
        self.files[file_id] = {"object": obj, "content": content}
        return obj

    def _create(self, params: dict[str, Any]) -> dict[str, Any]:
        training = self.files[params["training_file"]]
        if params.get("validation_file"):
            self.files[params["validation_file"]]
        n = max(1, len([line for line in training["content"].splitlines() if line.strip()]))
        method = params.get("method") or {"type": "supervised"}
        hyper = dict((method.get(method["type"]) or {}).get("hyperparameters") or {})
        epochs = hyper.get("n_epochs", "auto")
        if epochs in (None, "auto"):
            epochs = min(25, 100 // n) if n * 3 < 100 else 3
        batch = hyper.get("batch_size", "auto")
        batch = 1 if batch in (None, "auto") else int(batch)
        job_id = f"ftjob-stub{next(self._ids)}"
        job = {
            "id": job_id, "object": "fine_tuning.job", "created_at": next(self._clock), "error": None,
            "fine_tuned_model": None, "finished_at": None,
            "hyperparameters": {"n_epochs": epochs, "batch_size": batch, "learning_rate_multiplier": 1.0},
            "model": params["model"], "organization_id": "org-stub", "result_files": [], "seed": params.get("seed", 42),
            "status": "validating_files", "trained_tokens": None, "training_file": params["training_file"],
            "validation_file": params.get("validation_file"), "method": method, "metadata": params.get("metadata"),
            "suffix": params.get("suffix"),
        }
        stub = StubJob(job, total=max(1, epochs * n // batch), n=n)
        self.jobs[job_id] = stub
        self._event(stub, f"Validating training file: {params['training_file']}")
        return job

    def _event(self, stub: StubJob, message: str, *, data: dict[str, Any] | None = None, level: str = "info") -> None:
        stub.events.append({
            "id": f"ftevent-stub{next(self._ids)}", "object": "fine_tuning.job.event", "created_at": next(self._clock),
            "level": level, "message": message, "type": "metrics" if data else "message", "data": data,
        })

    def _tick(self, stub: StubJob) -> None:
        job = stub.job
        status = job["status"]
        if status in ("succeeded", "failed", "cancelled"):
            return
        stub.ticks += 1
        if status == "validating_files":
            if self.fail_with:
                job["status"] = "failed"
                job["error"] = {"code": "invalid_training_file", "message": self.fail_with, "param": "training_file"}
                job["finished_at"] = next(self._clock)
                self._event(stub, f"Training file validation failed: {self.fail_with}", level="error")
                return
            job["status"] = "queued"
            self._event(stub, "Files validated, moving job to queued state")
            return
        if status == "queued":
            if stub.ticks <= self.queue_ticks:
                return
            job["status"] = "running"
            self._event(stub, "Fine-tuning job started")
            job["estimated_finish"] = next(self._clock) + 60
            return
        total = stub.total
        for _ in range(self.steps_per_tick):
            if stub.step >= total:
                break
            stub.step += 1
            step = stub.step
            loss = round(3.0 / (1 + step), 4)
            data = {"step": step, "train_loss": loss, "total_steps": total, "train_mean_token_accuracy": round(1 - loss / 4, 4)}
            message = f"Step {step}/{total}: training loss={loss:.2f}"
            if job.get("validation_file"):
                curve = self.validation_losses
                valid = curve[min(step - 1, len(curve) - 1)] if curve else round(loss * 1.2, 4)
                data["valid_loss"] = valid
                data["valid_mean_token_accuracy"] = round(1 - valid / 4, 4)
                message += f", validation loss={valid:.2f}"
            self._event(stub, message, data=data)
            n = stub.n
            if step % max(1, n) == 0 and step >= total - 2 * n:
                stub.checkpoints.append({
                    "id": f"ftckpt-stub{next(self._ids)}", "object": "fine_tuning.job.checkpoint",
                    "created_at": next(self._clock), "fine_tuning_job_id": job["id"], "step_number": step,
                    "fine_tuned_model_checkpoint": f"ft:{job['model']}:stub::{job['id'][-6:]}:ckpt-step-{step}",
                    "metrics": {"step": step, "train_loss": loss},
                })
                self._event(stub, f"Checkpoint created at step {step}")
        if stub.step >= total:
            self._succeed(stub)

    def _succeed(self, stub: StubJob) -> None:
        job = stub.job
        model = f"ft:{job['model']}:stub:{job.get('suffix') or ''}:{job['id'][-6:]}"
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for event in stub.events:
            data = event.get("data") or {}
            if "step" in data:
                rows.append(
                    f"{data['step']},{data['train_loss']},{data['train_mean_token_accuracy']},"
                    f"{data.get('valid_loss', '')},{data.get('valid_mean_token_accuracy', '')}"
                )
        csv_text = "\n".join(rows) + "\n"
        content = base64.b64encode(csv_text.encode()) if self.base64_results else csv_text.encode()
        file_id = f"file-result{next(self._ids)}"
        self.files[file_id] = {
            "object": {
                "id": file_id, "object": "file", "bytes": len(content), "created_at": next(self._clock),
                "filename": "step_metrics.csv", "purpose": "fine-tune-results", "status": "processed",
            },
            "content": content,
        }
        self._event(stub, f"New fine-tuned model created: {model}")
        self._event(stub, "The job has successfully completed")
        job.update(
            status="succeeded", fine_tuned_model=model, finished_at=next(self._clock), result_files=[file_id],
            trained_tokens=100 * stub.total,
            estimated_finish=None,
        )

    @staticmethod
    def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"content-type": "application/json"}, json.dumps(payload).encode()


class StubServer:
    """`StubAPI` over real HTTP on 127.0.0.1 (so the fault proxy has an upstream without the engine)."""

    def __init__(self, api: StubAPI) -> None:
        self.api = api

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                parts = urlsplit(self.path)
                body = _read_body(self)
                status, headers, data = api.handle(
                    self.command, parts.path, parts.query, {k.lower(): v for k, v in self.headers.items()}, body
                )
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, name="stub-api", daemon=True
        ).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --- fixtures -----------------------------------------------------------------------------------------

TEST_KEY = "sk-test-FAULTS0123456789abcdefWXYZ"


@pytest.fixture
def make_fault_proxy():
    """A factory: `make_fault_proxy(upstream_base_url) -> FaultProxy`, closed after the test."""
    proxies: list[FaultProxy] = []

    def make(upstream: str) -> FaultProxy:
        proxy = FaultProxy(upstream)
        proxies.append(proxy)
        return proxy

    yield make
    for proxy in proxies:
        proxy.close()


def engine_base_url(server: Any) -> str:
    """The /v1 base URL of whatever the engine's `engine_server` fixture yields."""
    for name in ("base_url", "url"):
        value = getattr(server, name, None)
        if value:
            url = str(value).rstrip("/")
            return url if url.endswith("/v1") else url + "/v1"
    if isinstance(server, str):
        return server.rstrip("/") if server.rstrip("/").endswith("/v1") else server.rstrip("/") + "/v1"
    raise TypeError(f"Cannot find a URL on {server!r}")


def engine_api_key(server: Any) -> str | None:
    """The API key the engine fixture's server requires (None when it requires none)."""
    return getattr(server, "api_key", None)


def engine_or_skip(request: pytest.FixtureRequest) -> Any:
    """The engine's `engine_server` fixture, or a skip saying why it is not there."""
    try:
        return request.getfixturevalue("engine_server")
    except pytest.FixtureLookupError:
        pytest.skip(
            "the local engine's test fixtures (tests/plugins/engine.py: engine_server) are not registered; "
            "add 'tests.plugins.engine' to pytest_plugins in tests/conftest.py"
        )


@pytest.fixture
def fault_proxy(request, make_fault_proxy):
    """A `FaultProxy` in front of the real local engine (`engine_server`)."""
    server = engine_or_skip(request)
    proxy = make_fault_proxy(engine_base_url(server))
    proxy.api_key = engine_api_key(server)
    return proxy


@pytest.fixture
def stub_api():
    return StubAPI()


@pytest.fixture
def stub_server(stub_api):
    server = StubServer(stub_api)
    yield server
    server.close()


def stub_openai_client(api: StubAPI) -> Any:
    """An `openai.OpenAI` client wired to `api` in memory (no sockets), retries off."""
    import httpx2
    import openai

    return openai.OpenAI(
        base_url="http://127.0.0.1:9/v1",
        api_key=TEST_KEY,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(api.httpx_handler)),
    )


@pytest.fixture
def stub_client(stub_api):
    """An `openai.OpenAI` client wired to `stub_api` in memory (no sockets), retries off."""
    return stub_openai_client(stub_api)
