"""Who may use the engine and how much they may send: Host and Origin checks, the key before the body,
body limits that stop reading, identity proof on /health, and what a crash or a delete leaves behind.

Most tests drive the ASGI app in this process with a hand-written `receive`, so they can count exactly
how many body bytes the engine pulled before it answered.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

from lib.engine.process import REPO_ROOT
from lib.engine.server import Settings, create_app
from tests.plugins.engine import API_KEY, TINY, free_port

MB = 1024 * 1024
CHUNK = 64 * 1024


class Reply:
    def __init__(self, status: int, headers: dict[str, str], body: bytes, pulled: int):
        self.status, self.headers, self.body, self.pulled = status, headers, body, pulled

    def json(self):
        return json.loads(self.body)


def call(app, method: str, path: str, *, headers: dict[str, str] | None = None,
         body: Iterable[bytes] = (), query: str = "") -> Reply:
    """One request through the ASGI app; `pulled` counts the body bytes the app asked for."""
    chunks: Iterator[bytes] = iter(body)
    pulled = 0
    messages: list[dict] = []
    headers = {"host": "127.0.0.1:8765", **(headers or {})}

    async def receive():
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message):
        messages.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
             "server": ("127.0.0.1", 8765), "client": ("127.0.0.1", 50000)}
    # On a thread of its own: the browser tests' Playwright keeps an event loop running on the main thread.
    runner = threading.Thread(target=asyncio.run, args=(app(scope, receive, send),))
    runner.start()
    runner.join()
    start = messages[0]
    return Reply(start["status"], {k.decode(): v.decode() for k, v in start["headers"]},
                 b"".join(m.get("body", b"") for m in messages[1:]), pulled)


def multipart(size: int, boundary: str = "b0undary") -> Iterator[bytes]:
    """A fine-tune upload of `size` bytes of file content, produced lazily in 64 kB pieces."""
    yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nfine-tune\r\n"
           f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.jsonl\"\r\n"
           "Content-Type: application/octet-stream\r\n\r\n").encode()
    line = b'{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ho"}]}\n'
    sent = 0
    while sent < size:
        piece = (line * (CHUNK // len(line) + 1))[:min(CHUNK, size - sent)]
        sent += len(piece)
        yield piece
    yield f"\r\n--{boundary}--\r\n".encode()


MULTIPART = {"content-type": "multipart/form-data; boundary=b0undary"}
KEY = {"authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def app(tmp_path):
    return create_app(Settings(data_dir=tmp_path / "engine", api_key=API_KEY, secret="s3cret",
                               max_upload_bytes=5 * MB, prewarm=False))


@pytest.fixture
def open_app(tmp_path):
    """An engine without a key, as the app starts it by default."""
    return create_app(Settings(data_dir=tmp_path / "open-engine", prewarm=False))


def uploads_on_disk(app) -> list[Path]:
    return sorted(app.state.engine.store.files_dir.iterdir())


# -- who may ask ------------------------------------------------------------------------------------
@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8765", "192.168.1.20:8765"])
def test_a_request_for_another_host_name_is_refused_dns_rebinding(open_app, host):
    reply = call(open_app, "GET", "/v1/files", headers={"host": host})
    assert reply.status == 421
    assert reply.json()["error"]["code"] == "host_not_allowed"
    assert "--allowed-host" in reply.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:8765", "LOCALHOST", "[::1]:8765"])
def test_the_engines_own_names_are_served(open_app, host):
    assert call(open_app, "GET", "/v1/files", headers={"host": host}).status == 200


def test_allowed_host_adds_a_name_and_the_listening_address_counts(tmp_path):
    app = create_app(Settings(data_dir=tmp_path / "e", host="10.1.2.3", allowed_hosts=("studio.lan",),
                              api_key=API_KEY, prewarm=False))
    for host in ("studio.lan:8765", "10.1.2.3:8765", "127.0.0.1:8765"):
        assert call(app, "GET", "/v1/files", headers={"host": host, **KEY}).status == 200
    assert call(app, "GET", "/v1/files", headers={"host": "other.lan", **KEY}).status == 421


def test_a_cross_origin_browser_upload_is_refused_and_nothing_is_stored(open_app):
    reply = call(open_app, "POST", "/v1/files", body=multipart(1000),
                 headers={**MULTIPART, "origin": "https://evil.example"})
    assert reply.status == 403
    assert reply.json()["error"]["code"] == "cross_origin_request"
    assert reply.pulled == 0
    assert open_app.state.engine.store.list_files() == []
    assert uploads_on_disk(open_app) == []


def test_cross_origin_writes_are_refused_but_same_origin_and_plain_clients_pass(open_app):
    evil = {"origin": "http://evil.example", "content-type": "application/json"}
    assert call(open_app, "DELETE", "/v1/models/ft:x", headers=evil).status == 403
    assert call(open_app, "POST", "/v1/fine_tuning/jobs", headers=evil, body=[b"{}"]).status == 403
    assert call(open_app, "POST", "/v1/files", headers={**MULTIPART, "origin": "null"},
                body=multipart(10)).status == 403
    own = {"origin": "http://127.0.0.1:8765"}
    assert call(open_app, "POST", "/v1/files", headers={**MULTIPART, **own}, body=multipart(100)).status == 200
    assert call(open_app, "POST", "/v1/files", headers=MULTIPART, body=multipart(100)).status == 200  # SDK: no Origin


def test_an_unauthenticated_upload_is_refused_before_its_body_is_read(app):
    reply = call(app, "POST", "/v1/files", headers=MULTIPART, body=multipart(20 * MB))
    assert reply.status == 401
    assert reply.json()["error"]["code"] == "invalid_api_key"
    assert reply.pulled == 0
    assert uploads_on_disk(app) == []


# -- how much they may send -----------------------------------------------------------------------------
def test_a_chunked_upload_over_the_limit_stops_at_the_limit_and_leaves_nothing_spooled(app):
    reply = call(app, "POST", "/v1/files", headers={**MULTIPART, **KEY}, body=multipart(50 * MB))
    assert reply.status == 413
    assert reply.json()["error"]["code"] == "file_too_large"
    assert reply.pulled <= 5 * MB + 64 * 1024 + CHUNK  # the limit, the form's overhead and one piece: not 50 MB
    assert uploads_on_disk(app) == []


def test_an_upload_under_the_limit_without_content_length_is_stored(app):
    reply = call(app, "POST", "/v1/files", headers={**MULTIPART, **KEY}, body=multipart(MB))
    assert reply.status == 200, reply.body
    assert reply.json()["bytes"] == MB


def test_a_json_body_over_the_limit_is_413_before_it_is_read_or_parsed(app):
    declared = call(app, "POST", "/v1/chat/completions", body=[b"{" * CHUNK] * 500,
                    headers={**KEY, "content-type": "application/json", "content-length": str(30 * MB)})
    assert declared.status == 413 and declared.pulled == 0
    assert declared.json()["error"]["code"] == "request_too_large"
    chunked = call(app, "POST", "/v1/chat/completions", body=(b" " * CHUNK for _ in range(500)),
                   headers={**KEY, "content-type": "application/json"})
    assert chunked.status == 413
    assert chunked.pulled <= 2 * MB + CHUNK


# -- /health ------------------------------------------------------------------------------------------
def test_health_shows_no_pid_or_job_and_proves_identity_with_the_secret(app):
    challenge = "00ff" * 8
    body = call(app, "GET", "/health", query=f"challenge={challenge}").json()
    assert "pid" not in body and "running_job" not in body
    assert body["proof"] == hmac.new(b"s3cret", challenge.encode(), hashlib.sha256).hexdigest()
    assert "proof" not in call(app, "GET", "/health").json()
    assert call(app, "GET", "/health", query="challenge=not-hex").status == 400
    assert call(app, "GET", "/health", query="challenge=" + "a" * 129).status == 400


def test_health_gives_no_proof_without_a_secret(open_app):
    body = call(open_app, "GET", "/health", query="challenge=abcd").json()
    assert body["status"] == "ok" and "proof" not in body


def test_no_documentation_page_loads_scripts_from_a_cdn_but_the_openapi_document_stays(open_app):
    assert call(open_app, "GET", "/docs").status == 404
    assert call(open_app, "GET", "/redoc").status == 404
    assert "/v1/files" in call(open_app, "GET", "/openapi.json").json()["paths"]


# -- what crashes and deletes leave ---------------------------------------------------------------------
def test_a_half_written_upload_from_a_killed_engine_is_removed_at_start(tmp_path):
    files = tmp_path / "engine" / "files"
    files.mkdir(parents=True)
    (files / ".upload-k1ll3d").write_bytes(b"x" * 1000)
    (files / "file-kept").write_bytes(b"{}\n")
    create_app(Settings(data_dir=tmp_path / "engine", prewarm=False))
    assert sorted(p.name for p in files.iterdir()) == ["file-kept"]


def test_deleting_a_fine_tuned_model_removes_its_adapter_unless_a_checkpoint_shares_it(app):
    store = app.state.engine.store
    final = store.jobs_dir / "ftjob-a" / "model"
    older = store.jobs_dir / "ftjob-a" / "checkpoints" / "step-3"
    for folder in (final, older):
        folder.mkdir(parents=True)
        (folder / "adapter_model.safetensors").write_bytes(b"weights")
    store.add_model("ft:tiny:local:a:ftjob-a", TINY, "ftjob-a", "lora", str(final), None)
    store.add_model("ft:tiny:local:a:ftjob-a:ckpt-step-6", TINY, "ftjob-a", "lora", str(final), 6)
    store.add_model("ft:tiny:local:a:ftjob-a:ckpt-step-3", TINY, "ftjob-a", "lora", str(older), 3)

    assert call(app, "DELETE", "/v1/models/ft:tiny:local:a:ftjob-a:ckpt-step-3", headers=KEY).status == 200
    assert not older.exists()
    assert call(app, "DELETE", "/v1/models/ft:tiny:local:a:ftjob-a", headers=KEY).status == 200
    assert final.exists()  # the last checkpoint still serves from it
    assert call(app, "DELETE", "/v1/models/ft:tiny:local:a:ftjob-a:ckpt-step-6", headers=KEY).status == 200
    assert not final.exists()


def test_a_server_folder_with_a_config_is_not_a_model_id(app, tmp_path):
    folder = tmp_path / "somewhere"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    retrieve = call(app, "GET", f"/v1/models/{folder}", headers=KEY)
    assert retrieve.status == 404 and retrieve.json()["error"]["code"] == "model_not_found"
    chat = call(app, "POST", "/v1/chat/completions", headers={**KEY, "content-type": "application/json"},
                body=[json.dumps({"model": str(folder), "messages": [{"role": "user", "content": "hi"}]}).encode()])
    assert chat.status == 404
    job = call(app, "POST", "/v1/fine_tuning/jobs", headers={**KEY, "content-type": "application/json"},
               body=[json.dumps({"model": str(folder), "training_file": "file-x"}).encode()])
    assert job.status == 400 and job.json()["error"]["code"] == "model_not_available"


def test_a_cancel_refusal_names_the_status_the_job_has_now(app, monkeypatch):
    engine = app.state.engine
    engine.store.add_job({"id": "ftjob-race", "created_at": 1, "model": TINY, "training_file": "file-x",
                          "method_json": "{}", "hyperparameters_json": "{}", "status": "running"})

    def finishes_first(job_id):  # the job succeeds between the request and the cancel
        engine.store.update_job(job_id, status="succeeded")
        return False

    monkeypatch.setattr(engine.scheduler, "cancel", finishes_first)
    reply = call(app, "POST", "/v1/fine_tuning/jobs/ftjob-race/cancel", headers=KEY)
    assert reply.status == 409
    assert "has already succeeded" in reply.json()["error"]["message"]


# -- the command line -------------------------------------------------------------------------------------
def engine_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("FTS_ENGINE_")}
    return subprocess.run([sys.executable, "-m", "lib", "engine", *args], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60, env={**environment, **(env or {})})


def test_listening_on_every_address_without_a_key_refuses_to_start_and_says_how(tmp_path):
    result = engine_command("--host", "0.0.0.0", "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "without a key" in lines[0]
    assert "FTS_ENGINE_API_KEY" in lines[0] and "--api-key-file" in lines[0]
    assert not (tmp_path / "engine.sqlite3").exists()


def test_an_empty_key_file_is_refused_in_one_line(tmp_path):
    empty = tmp_path / "key"
    empty.write_text("\n")
    result = engine_command("--api-key-file", str(empty), "--port", str(free_port()), "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"Cannot start the engine: the key file {empty} is empty"]


def test_the_key_can_come_from_a_file(start_engine, tmp_path):
    key_file = tmp_path / "engine.key"
    key_file.write_text("from-a-file\n")
    server = start_engine(prewarm=False, extra_args=["--api-key-file", str(key_file)])
    import openai

    with pytest.raises(openai.AuthenticationError):
        server.client(api_key="wrong").models.list()
    assert server.client(api_key="from-a-file").models.list().data
