"""A stand-in for whatever answers where the local engine should be: an impostor, or an engine that
holds a proof secret. It records every request's Authorization header, so tests can assert that a key
never reached it.

    with FakeEngine() as impostor:               # answers /health like an engine, cannot prove anything
        ...; assert impostor.authorizations() == []
    FakeEngine(secret="s")                       # answers /health?challenge=... with the HMAC proof

Fixture: `fake_engine` (an impostor, closed after the test). Register with
`pytest_plugins = ["tests.plugins.fake_engine"]`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


class FakeEngine:
    """A threaded HTTP server on 127.0.0.1 and a free port (see module doc)."""

    def __init__(self, secret: str | None = None, port: int = 0) -> None:
        self.secret = secret
        self.seen: list[tuple[str, str, str | None]] = []  # (method, path, Authorization header)
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _answer(self, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                fake.seen.append(("GET", self.path, self.headers.get("Authorization")))
                url = urlsplit(self.path)
                if url.path == "/health":
                    body = {"status": "ok", "version": "9.9-fake"}
                    challenge = parse_qs(url.query).get("challenge", [""])[0]
                    if fake.secret and challenge:
                        body["proof"] = hmac.new(fake.secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()
                    self._answer(body)
                elif url.path == "/v1/models":
                    self._answer({"object": "list", "data": [{"id": "fake-model", "object": "model", "created": 0,
                                                              "owned_by": "fake"}]})
                else:
                    self.send_error(404)

            def do_POST(self) -> None:  # noqa: N802
                fake.seen.append(("POST", self.path, self.headers.get("Authorization")))
                self.send_error(404)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def authorizations(self) -> list[str]:
        """Every Authorization header it received (none, when no key reached it)."""
        return [auth for _, _, auth in self.seen if auth]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> FakeEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@pytest.fixture
def fake_engine() -> Iterator[FakeEngine]:
    """Something that answers /health like an engine on a free port but cannot prove it is the studio's."""
    server = FakeEngine()
    try:
        yield server
    finally:
        server.close()
