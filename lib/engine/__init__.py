"""The local engine: an OpenAI-compatible fine-tuning and chat server that really trains open models.

Public API:
    ensure_running(host, port, data_dir, api_key, timeout) -> EngineHandle   (lib.engine.process)
    GET /v1/engine/estimate (lib.engine.speed.training_time): how long a job would take on this engine
    create_app(settings) / Settings                                           (lib.engine.server)
    DEFAULT_MODEL, TINY_MODEL

Importing this package is cheap: FastAPI, torch and transformers load only when used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lib.engine.models import DEFAULT_MODEL, TINY_MODEL
from lib.engine.process import EngineHandle, EngineStartError, ensure_running

if TYPE_CHECKING:
    from lib.engine.server import Settings, create_app

__all__ = ["DEFAULT_MODEL", "TINY_MODEL", "EngineHandle", "EngineStartError", "Settings", "create_app",
           "ensure_running"]


def __getattr__(name: str):
    if name in ("Settings", "create_app"):
        from lib.engine import server

        return getattr(server, name)
    raise AttributeError(name)
