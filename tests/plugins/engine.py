"""Fixtures for tests that need the local engine: a real server in a subprocess, driven through the
openai SDK exactly as a user drives OpenAI.

- `engine_server` (session): one engine on a free port with a temporary data folder and an API key;
  an `EngineServer` with `base_url` (ends in /v1), `api_key`, `data_dir`, `root_url`.
- `engine_client`: an `openai.OpenAI` client for it (no retries, so status codes show as they are).
- `start_engine` (function): a factory for engines of one's own (restart, limits), stopped at teardown.
- `assert_openai_error(exc, status, code=..., param=...)`: the one check of OpenAI's error envelope.
- `engine_in_process` (module): an engine in a thread of the test process (`.engine` is its `Engine`).
- `write_jsonl`, `chat_examples(n)`: training files for the tiny model.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

API_KEY = "test-engine-key"
TINY = "tiny-random-llama"
SYSTEM = "Elle is a factual chatbot that answers questions about elements in the periodic table with a limerick"
ELEMENTS = ["Hydrogen", "Helium", "Lithium", "Beryllium", "Boron", "Carbon", "Nitrogen", "Oxygen", "Fluorine",
            "Neon", "Sodium", "Magnesium"]


@dataclass
class EngineServer:
    base_url: str
    api_key: str | None
    data_dir: Path
    handle: Any = field(repr=False, default=None)

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def client(self, **kwargs):
        from openai import OpenAI

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 120)
        return OpenAI(base_url=self.base_url, api_key=kwargs.pop("api_key", self.api_key or "none"), **kwargs)

    def stop(self) -> None:
        if self.handle is not None:
            self.handle.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(data_dir: Path, *, api_key: str | None = None, prewarm: bool = True, extra_args: list[str] | None = None,
           port: int | None = None) -> EngineServer:
    from lib.engine.process import ensure_running

    handle = ensure_running(port=port or free_port(), data_dir=data_dir, api_key=api_key, timeout=90,
                            prewarm=prewarm, extra_args=extra_args)
    assert handle.started, "a free port was already serving an engine"
    return EngineServer(handle.base_url, handle.api_key, Path(data_dir), handle)


@pytest.fixture(scope="session")
def engine_server(tmp_path_factory) -> Iterator[EngineServer]:
    """One local engine for the whole test session (tiny model, API key `test-engine-key`)."""
    server = launch(tmp_path_factory.mktemp("engine-data"), api_key=API_KEY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def engine_client(engine_server):
    """An `openai.OpenAI` client for the session's engine."""
    return engine_server.client()


@pytest.fixture
def start_engine(tmp_path) -> Iterator:
    """Start engines of one's own: `start_engine(data_dir=None, api_key=None, prewarm=True, extra_args=[])`."""
    started: list[EngineServer] = []

    def start(data_dir: Path | None = None, **kwargs) -> EngineServer:
        server = launch(data_dir or tmp_path / f"engine-{len(started)}", **kwargs)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()


@dataclass
class InProcessEngine:
    """An engine served from a thread of the test process, so a test can count what it did (tokens)."""

    base_url: str
    engine: Any  # lib.engine.server.Engine

    def client(self, **kwargs):
        from openai import OpenAI

        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 120)
        return OpenAI(base_url=self.base_url, api_key="none", **kwargs)


@pytest.fixture(scope="module")
def engine_in_process(tmp_path_factory) -> Iterator[InProcessEngine]:
    """One engine (no key, no training process kept warm, at most 4 chat requests in) in this process."""
    import threading

    import uvicorn

    from lib.engine.server import Settings, create_app

    app = create_app(Settings(data_dir=tmp_path_factory.mktemp("engine-in-process"), prewarm=False,
                              max_waiting_chats=4))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-engine", daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the in-process engine did not start"
        thread.join(0.05)
    try:
        yield InProcessEngine(f"http://127.0.0.1:{port}/v1", app.state.engine)
    finally:
        server.should_exit = True
        thread.join(10)


def chat_examples(n: int = 10, *, elements: list[str] | None = None) -> list[dict]:
    names = (elements or ELEMENTS)[:n]
    return [{"messages": [{"role": "system", "content": SYSTEM},
                          {"role": "user", "content": f"Tell me about {name}"},
                          {"role": "assistant", "content": f"{name} is bright, - {name} is light, - it is small, - "
                                                           f"not at all, - {name} is right."}]}
            for name in names]


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((row if isinstance(row, str) else json.dumps(row)) + "\n" for row in rows))
    return path


def assert_openai_error(exc: Exception, status: int, *, code: str | None = None, param: str | None = None) -> dict:
    """The engine answered `status` in OpenAI's envelope: {"error": {message, type, param, code}}."""
    from openai import APIStatusError

    assert isinstance(exc, APIStatusError), f"expected an APIStatusError, got {exc!r}"
    assert exc.status_code == status, f"expected {status}, got {exc.status_code}: {exc.body}"
    body = exc.response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}, error
    assert isinstance(error["message"], str) and error["message"], error
    assert "Traceback" not in error["message"]
    assert isinstance(error["type"], str) and error["type"]
    if code is not None:
        assert error["code"] == code, error
    if param is not None:
        assert error["param"] == param, error
    return error
