"""A stub OpenAI chat model for the generator's tests: it answers `/v1/chat/completions` with queued replies.

    writer = StubWriter(["Little Lithium ...", "", "not json"])   # one reply per call, in order
    server = StubServer(writer)                                     # real HTTP (tests.plugins.faults)
    client = openai.OpenAI(base_url=server.url, api_key="x", max_retries=0)

A reply may be a string or a function of the request's messages. When the queue runs out the last
reply repeats. `writer.requests` keeps every request body, so tests can read the prompts sent. Put a
`FaultProxy` in front (`make_fault_proxy(server.url)`) for 401/429/5xx/timeouts, as the Train tests do.
Fixtures: `stub_writer` (the writer, empty queue), `writer_server` (it over HTTP).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.plugins.faults import StubServer, error_body

Reply = str | Callable[[list[dict[str, Any]]], str]

# Replies the generator tests need, one per way a draft can go wrong.
GOOD_LITHIUM = ("Lithium, element three, is so light - It will float on some oil, what a sight! - "
                "In a battery cell - It will serve you quite well - As a metal it's silvery bright.")
GOOD_BERYLLIUM = ("Beryllium, number four, is quite rare - It is light and it's strong, I declare; - "
                  "In an emerald green - Its bright atoms are seen - And it's used in the windows of air.")
WRONG_STRONTIUM = ("Strontium, number forty, what fun, - Makes the fireworks red, every one! - In a flare it will "
                   "glow, - Putting on a good show, - Till the night and the party are done.")
FOUR_LINES = ("Boron is element five, - It keeps many plants alive; - In glass it is found, - "
              "In the cleaning ground.")
SIX_LINES = ("Nitrogen, number seven, is air - It is found in the sky everywhere; - It is cold as a gas, - "
             "It will not let you pass, - And it fills up the tyres with care. - And a sixth line that should not be there.")
PROSE = ("Fluorine is a pale yellow gas and the most reactive of all the elements. It is used in toothpaste "
         "and in the making of Teflon.")


class StubWriter:
    """An in-memory chat model: `handle` is the `StubServer` interface (method, path, query, headers, body)."""

    def __init__(self, replies: list[Reply] | None = None, *, model: str = "stub-writer") -> None:
        self.replies: list[Reply] = list(replies or [])
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def queue(self, *replies: Reply) -> StubWriter:
        self.replies.extend(replies)
        return self

    def handle(self, method: str, path: str, query: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        path = path.removeprefix("/v1")
        if method == "GET" and path == "/models":
            return self._json(200, {"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "stub"}]})
        if method != "POST" or path != "/chat/completions":
            return self._json(404, error_body(404, message=f"Unknown route {method} {path}"))
        request = json.loads(body or b"{}")
        with self._lock:
            self.requests.append(request)
            index = len(self.requests) - 1
            reply = self.replies[min(index, len(self.replies) - 1)] if self.replies else ""
        text = reply(request.get("messages") or []) if callable(reply) else reply
        return self._json(200, {
            "id": f"chatcmpl-{index}", "object": "chat.completion", "created": 1_760_000_000,
            "model": request.get("model") or self.model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 100, "completion_tokens": max(1, len(text) // 4),
                      "total_tokens": 100 + max(1, len(text) // 4)},
        })

    @staticmethod
    def _json(status: int, payload: Any) -> tuple[int, dict[str, str], bytes]:
        return status, {"content-type": "application/json"}, json.dumps(payload).encode()


@pytest.fixture
def stub_writer() -> StubWriter:
    return StubWriter()


@pytest.fixture
def writer_server(stub_writer):
    """`stub_writer` over real HTTP on 127.0.0.1; `.url` ends in /v1."""
    server = StubServer(stub_writer)  # type: ignore[arg-type]  # same handle() interface as StubAPI
    yield server
    server.close()
