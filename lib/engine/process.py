"""Find a running engine, or start one in the background: what the app calls when the local
provider is chosen. `EngineHandle.stop()` stops only an engine this call started.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lib import paths

REPO_ROOT = Path(__file__).resolve().parents[2]


class EngineStartError(RuntimeError):
    """The engine did not come up; the message says why and where its log is."""


@dataclass
class EngineHandle:
    base_url: str  # ends in /v1, ready for OpenAI(base_url=...)
    started: bool  # True when this process started the engine (and so may stop it)
    api_key: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)
    log_path: Path | None = None

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    def client(self, **kwargs):
        """An `openai.OpenAI` client for this engine."""
        from openai import OpenAI

        return OpenAI(base_url=self.base_url, api_key=self.api_key or "local", **kwargs)

    def alive(self) -> bool:
        return health(self.root_url) is not None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the engine if this handle started it; an engine someone else started is left alone."""
        if not self.started or self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None


def health(root_url: str, timeout: float = 1.0) -> dict | None:
    """The engine's /health answer, or None when nothing (or something else) answers there."""
    try:
        with urllib.request.urlopen(root_url.rstrip("/") + "/health", timeout=timeout) as response:
            body = json.loads(response.read().decode())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return body if isinstance(body, dict) and body.get("status") == "ok" else None


def ensure_running(host: str = "127.0.0.1", port: int = 8765, data_dir: str | Path | None = None,
                   api_key: str | None = None, timeout: float = 60.0, *, prewarm: bool = True,
                   extra_args: list[str] | None = None) -> EngineHandle:
    """Use the engine answering on host:port, or start `python -m lib engine` there and wait for /health."""
    root = f"http://{host}:{port}"
    if health(root) is not None:
        return EngineHandle(f"{root}/v1", started=False, api_key=api_key)
    data_dir = Path(data_dir) if data_dir else paths.engine_dir()
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
    if api_key:
        env["FTS_ENGINE_API_KEY"] = api_key  # not on the command line, where `ps` would show it
    with open(log_path, "ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=str(REPO_ROOT), env=env,
                                   start_new_session=True)
    handle = EngineHandle(f"{root}/v1", started=True, api_key=api_key, process=process, log_path=log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EngineStartError(f"The engine exited with code {process.returncode} before it was ready; "
                                   f"see {log_path}.")
        if health(root, timeout=0.5) is not None:
            return handle
        time.sleep(0.2)
    handle.stop()
    raise EngineStartError(f"The engine did not answer on {root} within {timeout:.0f} s; see {log_path}.")
