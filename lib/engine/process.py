"""Find a running engine, or start one in the background: what the app calls when the local
provider is chosen. `EngineHandle.stop()` stops only an engine this call started.

Trust: the app sends its data (and the engine's key) only to an engine it can prove it started. It
generates a random secret for each engine it starts, passes it in the child's environment as
FTS_ENGINE_SECRET, keeps it in memory, and checks `GET /health?challenge=<random hex>` answers
`proof == hmac_sha256(secret, challenge)`. Anything else answering on the port raises
`EngineNotProven`, which says what answered; an engine the user names by URL is trusted by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lib import paths

REPO_ROOT = Path(__file__).resolve().parents[2]


SECRET_ENV = "FTS_ENGINE_SECRET"  # the child engine's proof secret: in its environment, never on its command line


class EngineStartError(RuntimeError):
    """The engine did not come up; the message says why and where its log is."""


class EngineNotProven(EngineStartError):
    """Something answers on the engine's address but cannot prove it is an engine this app started.

    `root_url` is where, `what` a few plain words on what answered. Nothing (no key, no data) was sent.
    """

    def __init__(self, root_url: str, what: str):
        where = root_url.removeprefix("http://")
        super().__init__(f"Something else is answering on {where} and could not prove it is the studio's engine "
                         f"({what}). Nothing was sent to it.")
        self.root_url = root_url
        self.what = what


@dataclass
class EngineHandle:
    base_url: str  # ends in /v1, ready for OpenAI(base_url=...)
    started: bool  # True when this process started the engine (and so may stop it)
    api_key: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None
    secret: str | None = field(default=None, repr=False)  # what proves the engine is the one started here

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def client(self, **kwargs):
        """An `openai.OpenAI` client for this engine."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.api_key or "local", **kwargs)

    def alive(self) -> bool:
        """True while the engine answers (and, for one started here, still proves it is that engine)."""
        if self.secret:
            return proves(self.root_url, self.secret)
        return health(self.root_url) is not None

    def running(self) -> bool:
        """True while the engine this handle started is still running (it holds the port, so it is trusted)."""
        return self.started and self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the engine if this handle started it; an engine someone else started is left alone."""
        if not self.started or self.process is None:
            return
        for address, handle in list(_STARTED.items()):
            if handle is self:
                del _STARTED[address]
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def health(root_url: str, timeout: float = 1.0, *, challenge: str | None = None) -> dict | None:
    """The engine's /health answer, or None when nothing (or something else) answers there. No key is sent."""
    query = f"?challenge={challenge}" if challenge else ""
    try:
        with urllib.request.urlopen(root_url.rstrip("/") + "/health" + query, timeout=timeout) as response:
            body = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return body if isinstance(body, dict) and body.get("status") == "ok" else None


def proof(secret: str, challenge: str) -> str:
    """What an engine holding `secret` answers to `challenge`: the hex HMAC-SHA256 of the challenge text."""
    return hmac.new(secret.encode(), challenge.encode(), hashlib.sha256).hexdigest()


def proves(root_url: str, secret: str, timeout: float = 1.0) -> bool:
    """True when the engine at `root_url` answers a fresh challenge with the proof only `secret` gives."""
    challenge = secrets.token_hex(16)
    body = health(root_url, timeout, challenge=challenge)
    answer = body.get("proof") if body else None
    return isinstance(answer, str) and hmac.compare_digest(answer, proof(secret, challenge))


def what_answers(root_url: str, timeout: float = 1.0) -> str | None:
    """A few plain words on what answers at `root_url` (None: nothing listens there). No key is sent."""
    try:
        with urllib.request.urlopen(root_url.rstrip("/") + "/health", timeout=timeout) as response:
            status, raw = response.status, response.read(4096)
    except urllib.error.HTTPError as exc:
        return f"a web server that answered HTTP {exc.code} to /health"
    except (http.client.HTTPException, ConnectionResetError):
        return "a program that accepted the connection but does not speak HTTP"
    except (urllib.error.URLError, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        if isinstance(reason, TimeoutError):
            return f"a program that accepted the connection but did not answer within {timeout:g} s"
        if isinstance(reason, http.client.HTTPException | ConnectionResetError):
            return "a program that accepted the connection but does not speak HTTP"
        return None  # refused: nothing listens there
    try:
        body = json.loads(raw.decode())
    except ValueError:
        return f"a web server that answered HTTP {status} with something other than an engine's health report"
    if isinstance(body, dict) and body.get("status") == "ok":
        version = body.get("version")
        named = f", version {str(version)[:40]}" if version else ""
        return f"a server that calls itself an engine{named}, started outside this app"
    return f"a web server that answered HTTP {status} with something other than an engine's health report"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now (for the studio's own engine when the default one is taken)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


# Engines this process started, by address: reused while they run.
_STARTED: dict[tuple[str, int], EngineHandle] = {}
SECRET_FILE = "engine.secret"
"""Beside the engine's data, readable by this user only: lets the app after a restart, and a command run
in another terminal, prove the engine is the one this user started (as Jupyter's runtime files do)."""


def engine_key(secret: str) -> str:
    """The API key of an engine started with `secret`: whoever can prove the engine can also call it."""
    return hmac.new(secret.encode(), b"fine-tune-studio engine api key", hashlib.sha256).hexdigest()[:40]


def write_secret(data_dir: Path, secret: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / SECRET_FILE
    temp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret)
    os.replace(temp, path)


def read_secret(data_dir: Path) -> str | None:
    """The secret of the engine last started on `data_dir`, if the file is this user's own and private."""
    path = data_dir / SECRET_FILE
    try:
        info = path.stat()
        if info.st_uid != os.getuid() or info.st_mode & 0o077:
            return None
        return path.read_text().strip() or None
    except OSError:
        return None


def ensure_running(host: str = "127.0.0.1", port: int = 8765, data_dir: str | Path | None = None,
                   api_key: str | None = None, timeout: float = 60.0, *, prewarm: bool = True,
                   extra_args: list[str] | None = None) -> EngineHandle:
    """The engine this process started on host:port, or a new one started there (`python -m lib engine`,
    with a fresh secret and `api_key` in its environment) once /health proves it is that one.

    Raises `EngineNotProven` when something else answers there: nothing is sent to it, not even `api_key`.
    """
    root = f"http://{host}:{port}"
    own = _STARTED.get((host, port))
    if own is not None and own.running():
        return own
    data_dir = Path(data_dir) if data_dir else paths.engine_dir()
    what = what_answers(root)
    if what is not None:
        known = read_secret(data_dir)
        if known and proves(root, known):  # started by another process of this user (the app, a command)
            return EngineHandle(f"{root}/v1", started=False, api_key=api_key or engine_key(known), secret=known)
        raise EngineNotProven(root, what)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_dir = data_dir / "logs"
    log_dir.mkdir(exist_ok=True)
    log_path = log_dir / "engine.log"
    command = [sys.executable, "-m", "lib", "engine", "--host", host, "--port", str(port),
               "--data-dir", str(data_dir)]
    if not prewarm:
        command.append("--no-prewarm")
    command += extra_args or []
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("FTS_ENGINE_API_KEY", None)  # the engine's key is the one given here, never one inherited
    secret = secrets.token_hex(32)
    write_secret(data_dir, secret)
    env[SECRET_ENV] = secret
    api_key = api_key or engine_key(secret)
    env["FTS_ENGINE_API_KEY"] = api_key  # not on the command line, where `ps` would show it
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT), env=env,
                                   start_new_session=True)
    handle = EngineHandle(f"{root}/v1", started=True, api_key=api_key, process=process, log_path=log_path,
                          secret=secret)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineStartError(f"The engine exited with code {process.returncode} before it was ready; "
                                   f"see {log_path}.")
        if proves(root, secret, timeout=0.5):
            _STARTED[(host, port)] = handle
            return handle
        time.sleep(0.2)
    handle.stop()
    raise EngineStartError(f"The engine did not answer on {root} within {timeout:.0f} s; see {log_path}.")
