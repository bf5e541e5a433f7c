"""A stub of Together AI's fine-tuning API, following its documented shapes (docs.together.ai/reference:
"Create job" POST /v1/fine-tunes, "List job" GET /v1/fine-tunes/{id}, "List job events", "Cancel job";
files uploaded to POST /v1/files/upload with purpose fine-tune; the Python SDK's `types/finetune.py`).

Each retrieve moves a job on one status: pending → queued → running → compressing → uploading → completed
(`output_name` set), or, with `user_error`, pending → user_error. Cancel answers `cancel_requested`, and the
next retrieve `cancelled`. Times are ISO strings, as Together sends them. Fixtures: `together_api` and
`together_client` (a `lib.services.together.TogetherClient` wired to it in memory, retries off).
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from typing import Any

import pytest

WALK = ["pending", "queued", "running", "compressing", "uploading", "completed"]
KEY = "together-test-key-0123456789"


class TogetherStub:
    def __init__(self, *, user_error: str | None = None) -> None:
        self.user_error = user_error
        self.files: dict[str, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.bodies: list[dict[str, Any]] = []
        self.hosts: set[str] = set()
        self._ids = itertools.count(1)
        self._minute = itertools.count(0)
        self._lock = threading.Lock()

    def _time(self) -> str:
        return f"2026-11-28T10:{next(self._minute) % 60:02d}:00.000Z"

    def _event(self, job_id: str, message: str, kind: str, level: str = "Info") -> None:
        self.events[job_id].append({"object": "fine-tune-event", "created_at": self._time(), "level": level,
                                    "message": message, "type": kind})

    def handler(self, request: Any) -> Any:
        import httpx2

        with self._lock:
            self.hosts.add(request.url.host)
            if request.headers.get("authorization") != f"Bearer {KEY}":
                return httpx2.Response(401, json={"error": {"message": "Invalid API key provided",
                                                            "type": "invalid_request_error", "code": "invalid_api_key"}})
            status, payload = self._route(request.method, request.url.path.removeprefix("/v1"), request)
            return httpx2.Response(status, json=payload)

    def _route(self, method: str, path: str, request: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/files/upload":
            body = request.read()
            purpose = re.search(rb'name="purpose"\r\n\r\n([^\r]*)', body)
            if not purpose or purpose.group(1) != b"fine-tune":
                return 400, {"error": {"message": "purpose must be fine-tune", "type": "invalid_request_error"}}
            file_id = f"file-{next(self._ids):04d}"
            self.files[file_id] = {"id": file_id, "object": "file", "created_at": 1764324000, "filename": "x.jsonl",
                                   "bytes": len(body), "purpose": "fine-tune", "Processed": True, "FileType": "jsonl"}
            return 200, self.files[file_id]
        match = re.fullmatch(r"/files/([^/]+)", path)
        if method == "GET" and match:
            return (200, self.files[match.group(1)]) if match.group(1) in self.files else (404, _missing("file"))
        if path == "/fine-tunes" and method == "POST":
            body = json.loads(request.read())
            self.bodies.append(body)
            if body.get("training_file") not in self.files:
                return 400, {"error": {"message": f"Training file {body.get('training_file')} not found",
                                       "type": "invalid_request_error"}}
            job_id = f"ft-{next(self._ids):08d}"
            job = {"id": job_id, "status": "pending", "model": body["model"], "training_file": body["training_file"],
                   "validation_file": body.get("validation_file"), "n_epochs": body.get("n_epochs", 1),
                   "batch_size": body.get("batch_size", 32), "learning_rate": body.get("learning_rate", 1e-5),
                   "suffix": body.get("suffix"), "training_type": body.get("training_type"),
                   "created_at": self._time(), "updated_at": self._time(), "output_name": None,
                   "token_count": None}
            self.jobs[job_id] = job
            self.events[job_id] = []
            self._event(job_id, "Fine tune request created", "JOB_PENDING")
            return 200, job
        if path == "/fine-tunes" and method == "GET":
            return 200, {"object": "list", "data": list(self.jobs.values())}
        match = re.fullmatch(r"/fine-tunes/([^/]+)(?:/(events|cancel))?", path)
        if match:
            job = self.jobs.get(match.group(1))
            if job is None:
                return 404, _missing("fine-tune job")
            if match.group(2) == "events":
                return 200, {"object": "list", "data": self.events[job["id"]]}
            if match.group(2) == "cancel" and method == "POST":
                if job["status"] in ("completed", "cancelled", "error", "user_error"):
                    return 400, {"error": {"message": "Job is already finished", "type": "invalid_request_error"}}
                job["status"] = "cancel_requested"
                self._event(job["id"], "Cancel requested", "CANCEL_REQUESTED")
                return 200, job
            self._tick(job)
            return 200, job
        return 404, _missing(f"route {method} {path}")

    def _tick(self, job: dict[str, Any]) -> None:
        status = job["status"]
        job["updated_at"] = self._time()
        if status == "cancel_requested":
            job["status"] = "cancelled"
            self._event(job["id"], "Job cancelled", "JOB_STOPPED")
        elif status == "pending" and self.user_error:
            job["status"] = "user_error"
            job["message"] = self.user_error
            self._event(job["id"], self.user_error, "JOB_ERROR", "Error")
        elif status in WALK[:-1]:
            job["status"] = WALK[WALK.index(status) + 1]
            words = {"queued": ("Job queued", "JOB_PENDING"), "running": ("Training started", "TRAINING_START"),
                     "compressing": ("Training completed", "TRAINING_COMPLETE"),
                     "uploading": ("Compressing model", "COMPRESSING_MODEL"),
                     "completed": ("Job finished", "JOB_COMPLETE")}
            self._event(job["id"], *words[job["status"]])
            if job["status"] == "completed":
                job["output_name"] = f"stub-user/{job['model'].split('/')[-1]}-{job.get('suffix') or 'ft'}-{job['id'][-4:]}"
                job["token_count"] = 1234


def _missing(what: str) -> dict[str, Any]:
    return {"error": {"message": f"No such {what}", "type": "invalid_request_error"}}


def together_client_for(api: TogetherStub, key: str = KEY) -> Any:
    import httpx2

    from lib.services.together import TogetherClient

    return TogetherClient(base_url="https://api.together.xyz/v1", api_key=key, max_retries=0,
                          http_client=httpx2.Client(transport=httpx2.MockTransport(api.handler)))


@pytest.fixture
def together_api() -> TogetherStub:
    return TogetherStub()


@pytest.fixture
def together_client(together_api):
    return together_client_for(together_api)
